// Helpers shared by the partitioner tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "evlog/bytes.h"
#include "evlog/partition/partitioner.h"

namespace evlog::testing {

inline PartitionRequest KeyedRequest(std::string_view topic, std::string_view key,
                                     int32_t partition_count, size_t record_bytes = 100) {
  PartitionRequest request;
  request.topic = topic;
  request.key = AsBytes(key);
  request.record_bytes = record_bytes;
  request.partition_count = partition_count;
  return request;
}

inline PartitionRequest NullKeyRequest(std::string_view topic, int32_t partition_count,
                                       size_t record_bytes = 100) {
  PartitionRequest request;
  request.topic = topic;
  request.key = std::nullopt;
  request.record_bytes = record_bytes;
  request.partition_count = partition_count;
  return request;
}

// Pearson's chi-square statistic of `counts` against a uniform expectation.
inline double ChiSquareUniform(const std::vector<int64_t>& counts) {
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  const double expected = static_cast<double>(total) / static_cast<double>(counts.size());
  double chi2 = 0;
  for (int64_t c : counts) {
    const double d = static_cast<double>(c) - expected;
    chi2 += d * d / expected;
  }
  return chi2;
}

// Upper critical values of the chi-square distribution at significance
// 0.001 (a fair spread exceeds it once in a thousand seeds), by degrees of
// freedom; from the standard tables.
inline constexpr double kChiSquare999Df7 = 24.322;
inline constexpr double kChiSquare999Df11 = 31.264;
inline constexpr double kChiSquare999Df15 = 37.697;

}  // namespace evlog::testing
