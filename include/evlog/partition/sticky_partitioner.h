// evlog/partition/sticky_partitioner.h — one partition per batch for
// records without a key (KIP-480, as revised by KIP-794).
//
// Spreading unkeyed records one by one over all partitions makes many tiny
// batches. Sticking to one partition until a batch's worth of bytes went
// there fills one batch at a time, then moving on spreads the load over
// time. Kafka's Java producer does this for null keys since 2.4 (KIP-480)
// and switches by bytes rather than by batch since 3.3 (KIP-794).
//
// Per topic: the first record goes to a partition drawn from the seed; each
// record's `record_bytes` is added to the current partition's count; the
// record that brings the count to `batch_size_bytes` or beyond still goes to
// the current partition, and the next one starts a new partition, drawn at
// random among the *other* partitions (when there is more than one).
//
// Worked example, batch_size_bytes = 16384, 4 partitions, 6000-byte records:
//
//   record  partition  bytes counted there after it
//   1       2          6000
//   2       2          12000
//   3       2          18000   >= 16384: the batch is complete
//   4       0          6000    a partition other than 2, drawn from the seed
//   5       0          12000
//
// If the topic's partition_count shrinks below the current partition (a
// caller's mistake, topics only grow) or the topic is new, a partition is
// drawn among all of them.
//
// A record counts as at least one byte, so a caller that leaves
// record_bytes at 0 still moves on after batch_size_bytes records instead of
// sending everything to one partition forever.
//
// Kafka's adaptive weighting by queue size and its exclusion of unavailable
// partitions (KIP-794) need producer queue state that a partitioner does not
// see; the producer may layer them on top later.
//
// Randomness: the partition sequence of a topic is a function of the seed
// and the topic name only, so a fixed seed replays the same sequence
// (records of other topics, or other threads, do not disturb it). Two
// producers built with the same seed therefore stick to the same partitions
// at the same time: give each producer its own seed (for example its client
// id's hash) when several of them write the same topic.
//
// Thread-safety: Partition() is thread-safe; the accounting is exact under
// concurrent calls (each record is counted once, on the partition it got).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "evlog/partition/partitioner.h"
#include "evlog/types.h"

namespace evlog {

class StickyPartitioner {
 public:
  // Kafka's batch.size default.
  static constexpr size_t kDefaultBatchSizeBytes = 16384;
  static constexpr uint64_t kDefaultSeed = 0;

  // `batch_size_bytes`: bytes that go to one partition before the next
  // record switches (0 switches after every record). `seed`: the source of
  // every random choice.
  explicit StickyPartitioner(size_t batch_size_bytes = kDefaultBatchSizeBytes,
                             uint64_t seed = kDefaultSeed);
  ~StickyPartitioner();
  // Moving leaves the source unusable (only destruction and assignment).
  StickyPartitioner(StickyPartitioner&&) noexcept;
  StickyPartitioner& operator=(StickyPartitioner&&) noexcept;

  // Returns the sticky partition of request.topic and counts
  // request.record_bytes against it. Ignores the key.
  // REQUIRES: request.partition_count > 0.
  PartitionId Partition(const PartitionRequest& request);

  size_t batch_size_bytes() const { return batch_size_bytes_; }

 private:
  struct State;

  size_t batch_size_bytes_;
  std::unique_ptr<State> state_;
};

static_assert(Partitioner<StickyPartitioner>);

}  // namespace evlog
