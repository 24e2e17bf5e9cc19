#include "evlog/partition/crc32_partitioner.h"

#include <array>

#include "evlog/check.h"
#include "random.h"

namespace evlog {
namespace {

constexpr uint32_t kReflectedPolynomial = 0xEDB88320;

// Byte-at-a-time table: partition keys are short, so slicing by 8 would
// only add 7 KiB of cache footprint for no gain.
constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ kReflectedPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

}  // namespace

uint32_t Crc32(ByteView data) {
  uint32_t crc = 0xFFFFFFFF;
  for (std::byte b : data) crc = kTable[(crc ^ static_cast<uint32_t>(b)) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFF;
}

PartitionId Crc32Partitioner::Partition(const PartitionRequest& request) {
  EVLOG_DCHECK(request.partition_count > 0);
  const auto n = static_cast<uint32_t>(request.partition_count);
  if (!request.key.has_value() || request.key->empty()) {
    const uint64_t counter = draws_.fetch_add(internal::kSplitMixGamma, std::memory_order_relaxed) +
                             internal::kSplitMixGamma;
    return PartitionId(
        static_cast<int32_t>(internal::DrawBelow(internal::SplitMixMix(counter), n)));
  }
  return PartitionId(static_cast<int32_t>(Crc32(*request.key) % n));
}

}  // namespace evlog
