// evlog/partition/crc32_partitioner.h — librdkafka's default placement
// (`partitioner=consistent_random`).
//
// A key of at least one byte goes to Crc32(key) % partition_count, computed
// in unsigned 32-bit arithmetic. This matches librdkafka's
// rd_kafka_msg_partitioner_consistent_random (src/rdkafka_msg.c), whose
// rd_crc32 is the same CRC-32 as zlib's crc32(); so a key lands on the same
// partition number here as when a producer built on librdkafka (C/C++, and
// the confluent-kafka clients that wrap it) sends it with the default
// `partitioner` setting to a topic with the same number of partitions.
//
// A null key and an empty key both go to a random partition, drawn per
// record: librdkafka cannot tell them apart (it looks only at the key
// length) and treats both this way. Unlike the sticky policy this makes
// small batches for unkeyed records, as librdkafka does by default.
//
//   evlog::Crc32(evlog::AsBytes("123456789"));   // 0xCBF43926
//
// Thread-safety: Crc32() is pure; Partition() is thread-safe (the random
// draws are lock-free).
#pragma once

#include <atomic>
#include <cstdint>

#include "evlog/bytes.h"
#include "evlog/partition/partitioner.h"
#include "evlog/types.h"

namespace evlog {

// CRC-32 of `data` as zlib, gzip, PNG and Ethernet compute it: reflected
// polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF. Not the
// CRC-32C (Castagnoli) that record batches carry; see record/crc32c.h.
[[nodiscard]] uint32_t Crc32(ByteView data);

class Crc32Partitioner {
 public:
  static constexpr uint64_t kDefaultSeed = 0;

  // `seed` drives the random partitions of null and empty keys; a fixed
  // seed replays the same sequence of draws (in call order, over all
  // topics).
  explicit Crc32Partitioner(uint64_t seed = kDefaultSeed) : draws_(seed) {}
  // Copies and moves start from the source's current position in the
  // random sequence.
  Crc32Partitioner(const Crc32Partitioner& other) : draws_(other.draws_.load()) {}
  Crc32Partitioner& operator=(const Crc32Partitioner& other) {
    draws_.store(other.draws_.load());
    return *this;
  }

  // Key of one byte or more: Crc32(key) % partition_count. Null or empty
  // key: a random partition. REQUIRES: request.partition_count > 0.
  PartitionId Partition(const PartitionRequest& request);

 private:
  // Position in a SplitMix64 sequence; each draw advances it atomically.
  std::atomic<uint64_t> draws_;
};

static_assert(Partitioner<Crc32Partitioner>);

}  // namespace evlog
