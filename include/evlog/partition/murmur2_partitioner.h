// evlog/partition/murmur2_partitioner.h — Kafka's Java client placement of
// keyed records.
//
// A keyed record goes to toPositive(murmur2(key)) % partition_count, with
// toPositive(x) = x & 0x7fffffff (not abs), exactly as the Java producer's
// built-in partitioner computes it; so a key lands on the same partition
// number here as when a Kafka Java producer sends it to a topic with the
// same number of partitions. An empty key is a key like any other.
//
// A null key (request.key == std::nullopt) goes through a StickyPartitioner
// built from the same batch size and seed (see sticky_partitioner.h), as
// in the Java producer since KIP-794.
//
//   evlog::Murmur2(evlog::AsBytes("foobar"));   // -790332482, as in Kafka
//
// Thread-safety: Murmur2() is pure; Partition() is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "evlog/bytes.h"
#include "evlog/partition/partitioner.h"
#include "evlog/partition/sticky_partitioner.h"
#include "evlog/types.h"

namespace evlog {

// Kafka's Utils.murmur2 of `data` (MurmurHash2, 32-bit, seed 0x9747b28c),
// as the signed int Java returns.
[[nodiscard]] int32_t Murmur2(ByteView data);

class Murmur2Partitioner {
 public:
  // Both arguments configure the sticky policy used for null keys.
  explicit Murmur2Partitioner(size_t batch_size_bytes = StickyPartitioner::kDefaultBatchSizeBytes,
                              uint64_t seed = StickyPartitioner::kDefaultSeed)
      : null_key_(batch_size_bytes, seed) {}

  // Keyed: toPositive(Murmur2(key)) % partition_count. Null key: sticky.
  // REQUIRES: request.partition_count > 0.
  PartitionId Partition(const PartitionRequest& request);

 private:
  StickyPartitioner null_key_;
};

static_assert(Partitioner<Murmur2Partitioner>);

}  // namespace evlog
