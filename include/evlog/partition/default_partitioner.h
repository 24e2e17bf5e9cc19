// evlog/partition/default_partitioner.h — what a producer uses unless told
// otherwise: Kafka's Java producer behaviour.
//
// Keyed records: murmur2, bit for bit as Kafka's Java client places them
// (see murmur2_partitioner.h), so evlog and Java producers writing the same
// topic agree on where a key lives. Null keys: sticky (KIP-794, see
// sticky_partitioner.h). librdkafka-based producers place keys differently
// by default; for a topic shared with them use Crc32Partitioner.
//
//   evlog::DefaultPartitioner partitioner(/*batch_size_bytes=*/16384, /*seed=*/client_seed);
//
// Thread-safety: Partition() is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "evlog/partition/murmur2_partitioner.h"
#include "evlog/partition/partitioner.h"
#include "evlog/partition/sticky_partitioner.h"
#include "evlog/types.h"

namespace evlog {

class DefaultPartitioner {
 public:
  // Both arguments configure the sticky policy used for null keys.
  explicit DefaultPartitioner(size_t batch_size_bytes = StickyPartitioner::kDefaultBatchSizeBytes,
                              uint64_t seed = StickyPartitioner::kDefaultSeed)
      : murmur2_(batch_size_bytes, seed) {}

  // Keyed: toPositive(Murmur2(key)) % partition_count. Null key: sticky.
  // REQUIRES: request.partition_count > 0.
  PartitionId Partition(const PartitionRequest& request) { return murmur2_.Partition(request); }

 private:
  Murmur2Partitioner murmur2_;
};

static_assert(Partitioner<DefaultPartitioner>);

}  // namespace evlog
