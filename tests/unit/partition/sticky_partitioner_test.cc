#include "evlog/partition/sticky_partitioner.h"

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "partition_test_util.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::KeyedRequest;
using testing::NullKeyRequest;

TEST_CASE("sticky stays on one partition until batch_size bytes went there, then switches") {
  // The worked example of sticky_partitioner.h: 6000-byte records, 16384-byte
  // batches: three records per partition, the third crossing the size.
  StickyPartitioner partitioner(16384, /*seed=*/1);
  std::vector<PartitionId> got;
  for (int i = 0; i < 30; ++i) got.push_back(partitioner.Partition(NullKeyRequest("t", 4, 6000)));
  for (size_t i = 0; i < got.size(); i += 3) {
    INFO("record " << i);
    CHECK(got[i + 1] == got[i]);
    CHECK(got[i + 2] == got[i]);
    if (i + 3 < got.size()) CHECK(got[i + 3] != got[i]);
  }
}

TEST_CASE("sticky switches exactly after the record that reaches batch_size bytes") {
  // Records of random sizes: a model that counts bytes must agree with the
  // partitioner on every record about whether it starts a new partition.
  constexpr size_t kBatchBytes = 5000;
  StickyPartitioner partitioner(kBatchBytes, /*seed=*/9);
  std::mt19937_64 rng(3);
  size_t bytes_on_current = 0;
  PartitionId current = partitioner.Partition(NullKeyRequest("t", 8, 700));
  bytes_on_current = 700;
  for (int i = 0; i < 20'000; ++i) {
    const size_t size = 1 + rng() % 3000;
    const PartitionId p = partitioner.Partition(NullKeyRequest("t", 8, size));
    if (bytes_on_current >= kBatchBytes) {
      REQUIRE(p != current);
      bytes_on_current = 0;
      current = p;
    } else {
      REQUIRE(p == current);
    }
    bytes_on_current += size;
  }
}

TEST_CASE("sticky spreads null keys evenly over many batches") {
  // 8 partitions, 10 records per batch, 8000 batches: a chi-square test of
  // the batch counts per partition at significance 0.001 (7 degrees of
  // freedom), for several seeds. Each run is deterministic.
  constexpr int32_t kPartitions = 8;
  constexpr int kBatches = 8000;
  for (uint64_t seed : {0, 1, 2, 3, 12345}) {
    StickyPartitioner partitioner(/*batch_size_bytes=*/1000, seed);
    std::vector<int64_t> batches(kPartitions, 0);
    for (int b = 0; b < kBatches; ++b) {
      const PartitionId first = partitioner.Partition(NullKeyRequest("t", kPartitions, 100));
      for (int r = 1; r < 10; ++r) {
        REQUIRE(partitioner.Partition(NullKeyRequest("t", kPartitions, 100)) == first);
      }
      ++batches[static_cast<size_t>(first.value())];
    }
    INFO("seed " << seed);
    CHECK(testing::ChiSquareUniform(batches) < testing::kChiSquare999Df7);
  }
}

TEST_CASE("sticky with a fixed seed replays the same sequence") {
  StickyPartitioner a(1000, 77);
  StickyPartitioner b(1000, 77);
  StickyPartitioner other_seed(1000, 78);
  int differ = 0;
  for (int i = 0; i < 10'000; ++i) {
    const PartitionId pa = a.Partition(NullKeyRequest("t", 16, 100));
    CHECK(pa == b.Partition(NullKeyRequest("t", 16, 100)));
    differ += pa != other_seed.Partition(NullKeyRequest("t", 16, 100)) ? 1 : 0;
  }
  CHECK(differ > 5000);
}

TEST_CASE("sticky sequence of a topic does not depend on requests for other topics") {
  StickyPartitioner alone(1000, 5);
  StickyPartitioner mixed(1000, 5);
  for (int i = 0; i < 5000; ++i) {
    const PartitionId expected = alone.Partition(NullKeyRequest("orders", 16, 100));
    (void)mixed.Partition(NullKeyRequest("payments", 16, 300));
    CHECK(mixed.Partition(NullKeyRequest("orders", 16, 100)) == expected);
  }
}

TEST_CASE("sticky ignores the key") {
  StickyPartitioner keyed(1000, 5);
  StickyPartitioner unkeyed(1000, 5);
  for (int i = 0; i < 1000; ++i) {
    CHECK(keyed.Partition(KeyedRequest("t", std::to_string(i), 8)) ==
          unkeyed.Partition(NullKeyRequest("t", 8)));
  }
}

TEST_CASE("sticky with one partition always answers zero") {
  StickyPartitioner partitioner(100, 5);
  for (int i = 0; i < 1000; ++i)
    CHECK(partitioner.Partition(NullKeyRequest("t", 1, 60)).value() == 0);
}

TEST_CASE("sticky counts a record of zero bytes as one byte") {
  StickyPartitioner partitioner(/*batch_size_bytes=*/4, /*seed=*/5);
  std::vector<PartitionId> got;
  for (int i = 0; i < 40; ++i) got.push_back(partitioner.Partition(NullKeyRequest("t", 3, 0)));
  for (size_t i = 0; i < got.size(); i += 4) {
    CHECK(got[i + 1] == got[i]);
    CHECK(got[i + 3] == got[i]);
    if (i + 4 < got.size()) CHECK(got[i + 4] != got[i]);
  }
}

TEST_CASE("sticky with batch size zero switches after every record") {
  StickyPartitioner partitioner(/*batch_size_bytes=*/0, /*seed=*/5);
  PartitionId previous = partitioner.Partition(NullKeyRequest("t", 5));
  for (int i = 0; i < 1000; ++i) {
    const PartitionId p = partitioner.Partition(NullKeyRequest("t", 5));
    CHECK(p != previous);
    previous = p;
  }
}

TEST_CASE("sticky draws a new partition when the partition count shrinks below it") {
  StickyPartitioner partitioner(1'000'000, 5);
  PartitionId p;
  // Find a seed-determined topic whose first partition is beyond 2 of 100.
  std::string topic;
  for (int i = 0;; ++i) {
    topic = "t" + std::to_string(i);
    p = partitioner.Partition(NullKeyRequest(topic, 100));
    if (p.value() >= 2) break;
  }
  for (int i = 0; i < 100; ++i) {
    const int32_t q = partitioner.Partition(NullKeyRequest(topic, 2)).value();
    CHECK(q >= 0);
    CHECK(q < 2);
  }
}

TEST_CASE("sticky accounting stays exact under concurrent callers") {
  // 100-byte records and 1000-byte batches: every run on a partition is
  // exactly 10 records, whatever the interleaving, so with a total that is
  // a multiple of 10 every partition's count is one too.
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20'000;
  constexpr int32_t kPartitions = 6;
  StickyPartitioner partitioner(1000, 11);
  std::vector<std::atomic<int64_t>> counts(kPartitions);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        const int32_t p = partitioner.Partition(NullKeyRequest("t", kPartitions, 100)).value();
        counts[static_cast<size_t>(p)].fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  int64_t total = 0;
  for (auto& c : counts) {
    CHECK(c.load() % 10 == 0);
    total += c.load();
  }
  CHECK(total == int64_t{kThreads} * kPerThread);
}

}  // namespace
}  // namespace evlog
