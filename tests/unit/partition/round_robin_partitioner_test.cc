#include "evlog/partition/round_robin_partitioner.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "partition_test_util.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::KeyedRequest;
using testing::NullKeyRequest;

TEST_CASE("round robin visits every partition in order") {
  RoundRobinPartitioner partitioner;
  for (int i = 0; i < 50; ++i) {
    CHECK(partitioner.Partition(NullKeyRequest("t", 7)).value() == i % 7);
  }
}

TEST_CASE("round robin is exactly even and ignores keys") {
  // KAFKA-9965: Kafka's RoundRobinPartitioner skips partitions when a new
  // batch makes the producer call it twice. One call, one step here.
  constexpr int32_t kPartitions = 7;
  RoundRobinPartitioner partitioner;
  std::vector<int64_t> counts(kPartitions, 0);
  for (int i = 0; i < kPartitions * 1000; ++i) {
    const PartitionRequest request =
        i % 3 == 0 ? NullKeyRequest("t", kPartitions) : KeyedRequest("t", "same-key", kPartitions);
    ++counts[static_cast<size_t>(partitioner.Partition(request).value())];
  }
  for (int64_t c : counts) CHECK(c == 1000);
}

TEST_CASE("round robin counts each topic on its own") {
  RoundRobinPartitioner partitioner;
  for (int i = 0; i < 20; ++i) {
    CHECK(partitioner.Partition(NullKeyRequest("a", 4)).value() == i % 4);
    CHECK(partitioner.Partition(NullKeyRequest("b", 3)).value() == (i * 2) % 3);
    CHECK(partitioner.Partition(NullKeyRequest("b", 3)).value() == (i * 2 + 1) % 3);
  }
}

TEST_CASE("round robin stays exactly even under concurrent callers") {
  constexpr int kThreads = 4;
  constexpr int32_t kPartitions = 5;
  constexpr int kPerThread = kPartitions * 4000;
  RoundRobinPartitioner partitioner;
  std::vector<std::atomic<int64_t>> counts(kPartitions);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads also create topics of their own, so the topic
      // table grows while others read it.
      for (int i = 0; i < kPerThread; ++i) {
        const int32_t p = partitioner.Partition(NullKeyRequest("shared", kPartitions)).value();
        counts[static_cast<size_t>(p)].fetch_add(1, std::memory_order_relaxed);
        if (t % 2 == 0 && i % 100 == 0) {
          (void)partitioner.Partition(NullKeyRequest("own-" + std::to_string(t * 1000 + i), 3));
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (auto& c : counts) CHECK(c.load() == int64_t{kThreads} * kPerThread / kPartitions);
}

}  // namespace
}  // namespace evlog
