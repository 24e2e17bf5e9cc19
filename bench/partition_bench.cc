// Partitioner micro-benchmarks: ns per Partition() call for each policy,
// with 16-byte keys and with null keys, beside a baseline of hashing the
// same keys with XXH3 and nothing else.
//
//   build/<dir>/bench/evlog_partition_bench
//   build/<dir>/bench/evlog_partition_bench --benchmark_filter=Sticky --benchmark_threads=2
//
// Every row reports items/s (Partition calls, or hashes for the baseline).
// Keys cycle through 1024 distinct 16-byte strings, so the hash sees varied
// input but every key stays in L1. Calls go through the concrete policy
// type; BM_AnyPartitioner adds the type-erased call a producer makes.

#include <benchmark/benchmark.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <string>
#include <utility>
#include <vector>

#include "evlog/partition/crc32_partitioner.h"
#include "evlog/partition/default_partitioner.h"
#include "evlog/partition/murmur2_partitioner.h"
#include "evlog/partition/partitioner.h"
#include "evlog/partition/round_robin_partitioner.h"
#include "evlog/partition/sticky_partitioner.h"
#include "evlog/partition/xxhash_partitioner.h"

namespace evlog {
namespace {

constexpr int32_t kPartitions = 12;
constexpr size_t kKeyCount = 1024;  // a power of two: the index is a mask
constexpr size_t kRecordBytes = 100;

// Every key is this long (Keys() pads them); the bytes of a row are the
// key bytes hashed.
constexpr int64_t kKeyBytes = 16;

const std::vector<std::string>& Keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (size_t i = 0; i < kKeyCount; ++i) {
      std::string key = "key-" + std::to_string(i * 2654435761u);
      key.resize(kKeyBytes, '.');
      k.push_back(std::move(key));
    }
    return k;
  }();
  return keys;
}

PartitionRequest Request(const std::string* key) {
  PartitionRequest request;
  request.topic = "orders";
  if (key != nullptr) request.key = AsBytes(*key);
  request.record_bytes = kRecordBytes;
  request.partition_count = kPartitions;
  return request;
}

// One policy instance per benchmark, shared by its threads
// (--benchmark_threads) as producers share one.
template <typename P>
P& Shared() {
  static P policy;
  return policy;
}

template <typename P>
void BM_Keyed(benchmark::State& state) {
  P& policy = Shared<P>();
  const auto& keys = Keys();
  std::vector<PartitionRequest> requests;
  for (const auto& key : keys) requests.push_back(Request(&key));
  size_t i = static_cast<size_t>(state.thread_index()) * 101;
  for (auto _ : state) {
    benchmark::DoNotOptimize(policy.Partition(requests[i++ & (kKeyCount - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kKeyBytes);
}

template <typename P>
void BM_NullKey(benchmark::State& state) {
  P& policy = Shared<P>();
  const PartitionRequest request = Request(nullptr);
  for (auto _ : state) benchmark::DoNotOptimize(policy.Partition(request));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(0);  // no key: nothing hashed
}

BENCHMARK_TEMPLATE(BM_Keyed, DefaultPartitioner)->ThreadRange(1, 2);
BENCHMARK_TEMPLATE(BM_Keyed, Murmur2Partitioner)->ThreadRange(1, 2);
BENCHMARK_TEMPLATE(BM_Keyed, Crc32Partitioner)->ThreadRange(1, 2);
BENCHMARK_TEMPLATE(BM_Keyed, XxHashPartitioner)->ThreadRange(1, 2);
BENCHMARK_TEMPLATE(BM_Keyed, RoundRobinPartitioner)->ThreadRange(1, 2);
BENCHMARK_TEMPLATE(BM_Keyed, StickyPartitioner)->ThreadRange(1, 2);
BENCHMARK_TEMPLATE(BM_Keyed, AnyPartitioner)->ThreadRange(1, 2);

BENCHMARK_TEMPLATE(BM_NullKey, DefaultPartitioner)->ThreadRange(1, 2);
BENCHMARK_TEMPLATE(BM_NullKey, Crc32Partitioner)->ThreadRange(1, 2);
BENCHMARK_TEMPLATE(BM_NullKey, RoundRobinPartitioner)->ThreadRange(1, 2);
BENCHMARK_TEMPLATE(BM_NullKey, StickyPartitioner)->ThreadRange(1, 2);
BENCHMARK_TEMPLATE(BM_NullKey, AnyPartitioner)->ThreadRange(1, 2);

// Baseline: XXH3 of the same keys, modulo, no policy around it.
void BM_BaselineXxh3(benchmark::State& state) {
  const auto& keys = Keys();
  size_t i = 0;
  for (auto _ : state) {
    const std::string& key = keys[i++ & (kKeyCount - 1)];
    benchmark::DoNotOptimize(XXH3_64bits(key.data(), key.size()) % kPartitions);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kKeyBytes);
}
BENCHMARK(BM_BaselineXxh3);

}  // namespace
}  // namespace evlog
