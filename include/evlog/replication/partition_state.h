// evlog/replication/partition_state.h — what the controller and the
// replicas say to each other about one partition: its state as decided
// (PartitionState) and a leader's proposal to change its ISR (IsrChange).
//
// Both sides of replication use these types: the Controller records and
// answers with PartitionState, a ReplicaSet applies it (Update) and proposes
// IsrChange (Kafka's AlterPartition).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <vector>

#include "evlog/partition/topic_partition.h"
#include "evlog/types.h"

namespace evlog {

// Kafka's "no leader" (LeaderConstants.NO_LEADER).
inline constexpr BrokerId kNoLeader{-1};

// One partition's replication state as the controller decided it.
struct PartitionState {
  // In preference order: replicas[0] is the preferred leader.
  std::vector<BrokerId> replicas;
  std::vector<BrokerId> isr;
  // kNoLeader while the partition is offline (every ISR member is down and
  // unclean election is off).
  BrokerId leader = kNoLeader;
  LeaderEpoch leader_epoch{0};
  // Bumped by the controller on every change of this partition's state.
  int32_t partition_epoch = 0;

  friend bool operator==(const PartitionState&, const PartitionState&) = default;
};

// A partition leader's request to change its ISR (Kafka AlterPartition).
struct IsrChange {
  TopicPartition topic_partition;
  // The sender, which must be the leader.
  BrokerId leader{0};
  // The leader and partition epochs of the state the sender based the
  // change on: the controller refuses a stale one (FENCED_LEADER_EPOCH,
  // INVALID_UPDATE_VERSION).
  LeaderEpoch leader_epoch{0};
  int32_t partition_epoch = 0;
  std::vector<BrokerId> new_isr;
  // The sender's broker epoch (Kafka's AlterPartition BrokerEpoch); -1
  // skips the check.
  int64_t leader_broker_epoch = -1;
};

}  // namespace evlog
