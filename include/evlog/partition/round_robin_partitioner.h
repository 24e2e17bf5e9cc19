// evlog/partition/round_robin_partitioner.h — every partition in turn.
//
// Ignores the key. Per topic, the records go to partitions 0, 1, ...,
// partition_count - 1, 0, 1, ... in the order the Partition() calls happen,
// so any run of k * partition_count consecutive calls for a topic puts
// exactly k records on each partition. Topics count independently.
//
// Kafka's Java RoundRobinPartitioner skips partitions (KAFKA-9965) because
// the producer calls it twice for a record that starts a new batch; here
// every call is one record and advances the topic's counter exactly once,
// and the producer must call it once per record.
//
// If partition_count changes, the rotation continues from the counter
// (counter % new count), with no reset.
//
// Thread-safety: Partition() is thread-safe; concurrent calls for a topic
// each get a distinct position in the rotation (an atomic increment).
#pragma once

#include <memory>

#include "evlog/partition/partitioner.h"
#include "evlog/types.h"

namespace evlog {

class RoundRobinPartitioner {
 public:
  RoundRobinPartitioner();
  ~RoundRobinPartitioner();
  // Moving leaves the source unusable (only destruction and assignment).
  RoundRobinPartitioner(RoundRobinPartitioner&&) noexcept;
  RoundRobinPartitioner& operator=(RoundRobinPartitioner&&) noexcept;

  // The topic's next partition in rotation. Ignores the key.
  // REQUIRES: request.partition_count > 0.
  PartitionId Partition(const PartitionRequest& request);

 private:
  struct State;

  std::unique_ptr<State> state_;
};

static_assert(Partitioner<RoundRobinPartitioner>);

}  // namespace evlog
