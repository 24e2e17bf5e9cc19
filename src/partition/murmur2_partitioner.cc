#include "evlog/partition/murmur2_partitioner.h"

#include <cstring>

#include "evlog/check.h"

namespace evlog {
namespace {

inline uint32_t LoadLittleEndian32(const std::byte* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

int32_t Murmur2(ByteView data) {
  // Java does this in signed int with >>>; two's-complement multiplication
  // and xor give the same bits in uint32_t, where overflow is defined.
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const size_t length = data.size();
  uint32_t h = kSeed ^ static_cast<uint32_t>(length);
  const std::byte* p = data.data();
  const size_t blocks = length / 4;
  for (size_t i = 0; i < blocks; ++i, p += 4) {
    uint32_t k = LoadLittleEndian32(p);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  switch (length % 4) {
    case 3:
      h ^= static_cast<uint32_t>(p[2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(p[1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= static_cast<uint32_t>(p[0]);
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

PartitionId Murmur2Partitioner::Partition(const PartitionRequest& request) {
  EVLOG_DCHECK(request.partition_count > 0);
  if (!request.key.has_value()) return null_key_.Partition(request);
  // The hash could only pick partition 0 (and the division costs ~10 ns).
  if (request.partition_count == 1) return PartitionId(0);
  const int32_t positive = Murmur2(*request.key) & 0x7fffffff;
  return PartitionId(positive % request.partition_count);
}

}  // namespace evlog
