#include "evlog/partition/crc32_partitioner.h"

#include <vector>

#include "partition_test_util.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::KeyedRequest;
using testing::NullKeyRequest;

TEST_CASE("crc32 matches the standard check values") {
  CHECK(Crc32(AsBytes("")) == 0u);
  CHECK(Crc32(AsBytes("123456789")) == 0xCBF43926u);
  CHECK(Crc32(AsBytes("a")) == 0xE8B7BE43u);
  CHECK(Crc32(AsBytes("The quick brown fox jumps over the lazy dog")) == 0x414FA339u);
}

TEST_CASE("crc32 partition is the unsigned crc modulo the partition count") {
  Crc32Partitioner partitioner;
  // 0xCBF43926 = 3421780262: above INT32_MAX, so a signed modulo would
  // differ. 3421780262 % 10 = 2 and % 7 = 5.
  CHECK(partitioner.Partition(KeyedRequest("t", "123456789", 10)) == PartitionId(2));
  CHECK(partitioner.Partition(KeyedRequest("t", "123456789", 7)) == PartitionId(5));
  for (const char* key : {"a", "foobar", "customer-42"}) {
    for (int32_t n : {1, 3, 12, 1000}) {
      const auto expected = static_cast<int32_t>(Crc32(AsBytes(key)) % static_cast<uint32_t>(n));
      CHECK(partitioner.Partition(KeyedRequest("t", key, n)).value() == expected);
    }
  }
}

TEST_CASE("crc32 sends null and empty keys to seeded random partitions") {
  constexpr int32_t kPartitions = 12;
  constexpr int kRecords = 120'000;
  for (uint64_t seed : {0, 1, 2}) {
    Crc32Partitioner partitioner(seed);
    std::vector<int64_t> counts(kPartitions, 0);
    for (int i = 0; i < kRecords; ++i) {
      const PartitionRequest request =
          i % 2 == 0 ? NullKeyRequest("t", kPartitions) : KeyedRequest("t", "", kPartitions);
      const int32_t p = partitioner.Partition(request).value();
      REQUIRE(p >= 0);
      REQUIRE(p < kPartitions);
      ++counts[static_cast<size_t>(p)];
    }
    INFO("seed " << seed);
    CHECK(testing::ChiSquareUniform(counts) < testing::kChiSquare999Df11);
  }
}

TEST_CASE("crc32 random draws replay with the same seed") {
  Crc32Partitioner a(42);
  Crc32Partitioner b(42);
  Crc32Partitioner c(43);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    const PartitionId pa = a.Partition(NullKeyRequest("t", 100));
    CHECK(pa == b.Partition(NullKeyRequest("t", 100)));
    differ += pa != c.Partition(NullKeyRequest("t", 100)) ? 1 : 0;
  }
  CHECK(differ > 900);
}

}  // namespace
}  // namespace evlog
