// Helpers for tests that need encoded record batches and want to read them
// back as plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "evlog/bytes.h"
#include "evlog/types.h"

namespace evlog::testing {

struct TestRecord {
  Offset offset;
  int64_t timestamp_ms = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;

  friend bool operator==(const TestRecord&, const TestRecord&) = default;
};

// An encoded, uncompressed batch of `values` (keys "k<i>") whose records
// carry timestamps timestamp_ms, timestamp_ms + 1, ...
std::vector<std::byte> MakeBatch(const std::vector<std::string>& values,
                                 int64_t timestamp_ms = 1000);

// `count` records of `value_bytes` bytes each, the values derived from
// `seed` so that batches differ.
std::vector<std::byte> MakeSizedBatch(int count, size_t value_bytes, uint64_t seed,
                                      int64_t timestamp_ms = 1000);

// Every record of every batch in `batches` (which must all be valid; the
// test fails through an exception otherwise).
std::vector<TestRecord> DecodeAll(ByteView batches);

}  // namespace evlog::testing
