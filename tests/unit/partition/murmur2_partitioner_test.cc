#include "evlog/partition/murmur2_partitioner.h"

#include <string>
#include <vector>

#include "partition_test_util.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::KeyedRequest;
using testing::NullKeyRequest;

TEST_CASE("murmur2 matches Kafka's published test vectors") {
  // Kafka's UtilsTest.testMurmur2.
  CHECK(Murmur2(AsBytes("21")) == -973932308);
  CHECK(Murmur2(AsBytes("foobar")) == -790332482);
  CHECK(Murmur2(AsBytes("a-little-bit-long-string")) == -985981536);
  CHECK(Murmur2(AsBytes("a-little-bit-longer-string")) == -1486304829);
  CHECK(Murmur2(AsBytes("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")) == -58897971);
  CHECK(Murmur2(AsBytes("abc")) == 479470107);
}

TEST_CASE("murmur2 partition is toPositive of the hash modulo the partition count") {
  Murmur2Partitioner partitioner;
  for (const char* key : {"21", "foobar", "a-little-bit-long-string", "abc"}) {
    for (int32_t n : {1, 2, 3, 7, 12, 100, 1000}) {
      const int32_t expected = (Murmur2(AsBytes(key)) & 0x7fffffff) % n;
      CHECK(partitioner.Partition(KeyedRequest("t", key, n)).value() == expected);
    }
  }
  // Worked by hand: -790332482 & 0x7fffffff = 1357151166, and
  // 1357151166 % 12 = 6 (abs() would give 790332482 % 12 = 2).
  CHECK(partitioner.Partition(KeyedRequest("t", "foobar", 12)) == PartitionId(6));
}

TEST_CASE("murmur2 reads every tail length and the empty key") {
  // Lengths 0..7 cover no block, one block and every 1/2/3-byte tail; each
  // hash must differ from the others (a tail byte that is skipped would
  // make a prefix collide with its extension).
  const std::string text = "abcdefg";
  std::vector<int32_t> hashes;
  for (size_t len = 0; len <= text.size(); ++len) {
    hashes.push_back(Murmur2(AsBytes(std::string_view(text).substr(0, len))));
  }
  for (size_t i = 0; i < hashes.size(); ++i) {
    for (size_t j = i + 1; j < hashes.size(); ++j) CHECK(hashes[i] != hashes[j]);
  }
  // An empty key is a key: hashed, not sticky.
  Murmur2Partitioner partitioner;
  const int32_t expected = (Murmur2(ByteView{}) & 0x7fffffff) % 10;
  PartitionRequest empty = KeyedRequest("t", "", 10);
  for (int i = 0; i < 100; ++i) CHECK(partitioner.Partition(empty).value() == expected);
}

TEST_CASE("murmur2 sends null keys through the sticky policy") {
  Murmur2Partitioner murmur2(/*batch_size_bytes=*/1000, /*seed=*/5);
  StickyPartitioner sticky(/*batch_size_bytes=*/1000, /*seed=*/5);
  for (int i = 0; i < 1000; ++i) {
    CHECK(murmur2.Partition(NullKeyRequest("t", 6)) == sticky.Partition(NullKeyRequest("t", 6)));
  }
}

}  // namespace
}  // namespace evlog
