#include "evlog/partition/partitioner.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "evlog/partition/crc32_partitioner.h"
#include "evlog/partition/default_partitioner.h"
#include "evlog/partition/murmur2_partitioner.h"
#include "evlog/partition/round_robin_partitioner.h"
#include "evlog/partition/sticky_partitioner.h"
#include "evlog/partition/xxhash_partitioner.h"
#include "evlog/status.h"
#include "partition_test_util.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::KeyedRequest;
using testing::NullKeyRequest;

// A user's policy: everything to the last partition, counting calls.
struct LastPartition {
  std::atomic<int> calls{0};
  PartitionId Partition(const PartitionRequest& request) {
    ++calls;
    return PartitionId(request.partition_count - 1);
  }
};

template <typename P>
void CheckSameKeySamePartitionAcrossInstances() {
  // Different seeds: only null keys may depend on them.
  P first(16384, 1);
  P second(4096, 999);
  for (int32_t n : {1, 2, 3, 12, 64, 1000}) {
    for (int i = 0; i < 500; ++i) {
      const std::string key = "key-" + std::to_string(i * 7919);
      const PartitionId p = first.Partition(KeyedRequest("t", key, n));
      CHECK(p.value() >= 0);
      CHECK(p.value() < n);
      CHECK(second.Partition(KeyedRequest("t", key, n)) == p);
      CHECK(first.Partition(KeyedRequest("other-topic", key, n)) == p);
      CHECK(first.Partition(KeyedRequest("t", key, n, /*record_bytes=*/99999)) == p);
    }
  }
}

TEST_CASE("every keyed policy puts a key on the same partition across instances") {
  CheckSameKeySamePartitionAcrossInstances<DefaultPartitioner>();
  CheckSameKeySamePartitionAcrossInstances<Murmur2Partitioner>();
  CheckSameKeySamePartitionAcrossInstances<XxHashPartitioner>();
  Crc32Partitioner crc_a(1);
  Crc32Partitioner crc_b(2);
  for (int i = 0; i < 500; ++i) {
    const std::string key = "key-" + std::to_string(i);
    CHECK(crc_a.Partition(KeyedRequest("t", key, 12)) ==
          crc_b.Partition(KeyedRequest("t", key, 12)));
  }
}

TEST_CASE("keyed policies spread random keys evenly") {
  // Chi-square at significance 0.001, 15 degrees of freedom.
  constexpr int32_t kPartitions = 16;
  DefaultPartitioner murmur2;
  XxHashPartitioner xxhash;
  Crc32Partitioner crc32;
  std::vector<int64_t> m(kPartitions), x(kPartitions), c(kPartitions);
  for (int i = 0; i < 160'000; ++i) {
    const std::string key = "user-" + std::to_string(i);
    ++m[static_cast<size_t>(murmur2.Partition(KeyedRequest("t", key, kPartitions)).value())];
    ++x[static_cast<size_t>(xxhash.Partition(KeyedRequest("t", key, kPartitions)).value())];
    ++c[static_cast<size_t>(crc32.Partition(KeyedRequest("t", key, kPartitions)).value())];
  }
  CHECK(testing::ChiSquareUniform(m) < testing::kChiSquare999Df15);
  CHECK(testing::ChiSquareUniform(x) < testing::kChiSquare999Df15);
  CHECK(testing::ChiSquareUniform(c) < testing::kChiSquare999Df15);
}

TEST_CASE("xxhash and default policies send null keys through the sticky policy") {
  XxHashPartitioner xxhash(2000, 3);
  DefaultPartitioner by_default(2000, 3);
  StickyPartitioner sticky(2000, 3);
  for (int i = 0; i < 1000; ++i) {
    const PartitionId expected = sticky.Partition(NullKeyRequest("t", 9));
    CHECK(xxhash.Partition(NullKeyRequest("t", 9)) == expected);
    CHECK(by_default.Partition(NullKeyRequest("t", 9)) == expected);
  }
}

TEST_CASE("a default-constructed AnyPartitioner behaves as a DefaultPartitioner") {
  AnyPartitioner any;
  DefaultPartitioner reference;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = std::to_string(i);
    CHECK(any.Partition(KeyedRequest("t", key, 10)) ==
          reference.Partition(KeyedRequest("t", key, 10)));
    CHECK(any.Partition(NullKeyRequest("t", 10, 333)) ==
          reference.Partition(NullKeyRequest("t", 10, 333)));
  }
}

TEST_CASE("copies of an AnyPartitioner share the policy and its state") {
  AnyPartitioner first = RoundRobinPartitioner();
  AnyPartitioner copy = first;
  for (int i = 0; i < 12; ++i) {
    const AnyPartitioner& caller = i % 2 == 0 ? first : copy;
    CHECK(caller.Partition(NullKeyRequest("t", 4)).value() == i % 4);
  }
}

TEST_CASE("an AnyPartitioner built from a shared_ptr shares the policy with its caller") {
  auto policy = std::make_shared<LastPartition>();
  AnyPartitioner any(policy);
  CHECK(any.Partition(NullKeyRequest("t", 5)) == PartitionId(4));
  CHECK(policy->Partition(NullKeyRequest("t", 3)) == PartitionId(2));
  CHECK(policy->calls.load() == 2);
}

TEST_CASE("ChoosePartition uses the partitioner when no partition is given") {
  auto policy = std::make_shared<LastPartition>();
  AnyPartitioner any(policy);
  absl::StatusOr<PartitionId> p = ChoosePartition(any, KeyedRequest("t", "k", 8), std::nullopt);
  REQUIRE(p.ok());
  CHECK(*p == PartitionId(7));
  CHECK(policy->calls.load() == 1);
}

TEST_CASE("an explicit partition overrides the partitioner") {
  auto policy = std::make_shared<LastPartition>();
  AnyPartitioner any(policy);
  for (int32_t explicit_partition : {0, 3, 7}) {
    absl::StatusOr<PartitionId> p =
        ChoosePartition(any, KeyedRequest("t", "k", 8), PartitionId(explicit_partition));
    REQUIRE(p.ok());
    CHECK(p->value() == explicit_partition);
  }
  CHECK(policy->calls.load() == 0);
}

TEST_CASE("an explicit partition out of range is UNKNOWN_TOPIC_OR_PARTITION") {
  auto policy = std::make_shared<LastPartition>();
  AnyPartitioner any(policy);
  for (int32_t explicit_partition : {-1, 8, 9, 1 << 30}) {
    absl::StatusOr<PartitionId> p =
        ChoosePartition(any, KeyedRequest("orders", "k", 8), PartitionId(explicit_partition));
    REQUIRE_FALSE(p.ok());
    CHECK(HasErrorCode(p.status(), ErrorCode::kUnknownTopicOrPartition));
    CHECK(p.status().code() == absl::StatusCode::kNotFound);
    CHECK(std::string(p.status().message()).find("orders") != std::string::npos);
  }
  CHECK(policy->calls.load() == 0);
}

TEST_CASE("a partition count below one is InvalidArgument") {
  auto policy = std::make_shared<LastPartition>();
  AnyPartitioner any(policy);
  for (int32_t n : {0, -1}) {
    CHECK(ChoosePartition(any, KeyedRequest("t", "k", n), std::nullopt).status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(ChoosePartition(any, NullKeyRequest("t", n), PartitionId(0)).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
  CHECK(policy->calls.load() == 0);
}

TEST_CASE("every policy answers in range from many threads at once") {
  // Run under TSan: the policies' shared state (topic tables, sticky
  // accounting, random draws) is exercised from several threads, with
  // topics created while others are looked up.
  std::vector<AnyPartitioner> policies = {
      AnyPartitioner(),
      AnyPartitioner(Murmur2Partitioner(500, 1)),
      AnyPartitioner(Crc32Partitioner(2)),
      AnyPartitioner(XxHashPartitioner(500, 3)),
      AnyPartitioner(RoundRobinPartitioner()),
      AnyPartitioner(StickyPartitioner(500, 4)),
  };
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::atomic<int> out_of_range{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string topic = "topic-" + std::to_string((i + t) % 7);
        const std::string key = std::to_string(i);
        const int32_t n = 1 + (i % 13);
        for (const AnyPartitioner& policy : policies) {
          const PartitionRequest request =
              i % 3 == 0 ? NullKeyRequest(topic, n, 50) : KeyedRequest(topic, key, n, 50);
          const int32_t p = policy.Partition(request).value();
          if (p < 0 || p >= n) out_of_range.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(out_of_range.load() == 0);
}

}  // namespace
}  // namespace evlog
