// evlog/group/group_admin.h — what kafka-consumer-groups.sh does, for the
// consumer groups of one broker: list, describe with lag, reset offsets,
// delete.
//
//   EVLOG_ASSIGN_OR_RETURN(evlog::ConsumerGroupDescription d,
//                          evlog::DescribeConsumerGroup(*broker, "billing"));
//   for (const auto& p : d.partitions) print(p.topic_partition, p.committed, p.lag);
//   // With every member stopped:
//   evlog::OffsetReset reset;
//   reset.to = evlog::OffsetReset::To::kEarliest;
//   reset.topics = {"orders"};
//   EVLOG_RETURN_IF_ERROR(evlog::ResetConsumerGroupOffsets(*broker, "billing", reset).status());
//
// Each call uses the broker's GroupCoordinator (started with defaults when
// nothing started it before).
//
// Thread-safety: the functions may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/broker/broker.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/types.h"

namespace evlog {

// A partition as the group sees it.
struct ConsumerGroupPartition {
  TopicPartition topic_partition;
  // The member that owns it in the current assignment, if any.
  std::optional<std::string> member_id;
  // The committed offset, if any.
  std::optional<Offset> committed;
  // The partition's high watermark (what a consumer can read up to).
  Offset log_end{0};
  // log_end - committed, when there is a committed offset.
  std::optional<int64_t> lag;
};

struct ConsumerGroupDescription {
  // State, generation, protocol, members with their raw metadata.
  GroupDescription group;
  // Member id -> its partitions (decoded when the protocol type is
  // "consumer"; empty otherwise).
  std::map<std::string, std::vector<TopicPartition>> assignments;
  // Every partition the group owns or has an offset for, sorted. Offsets of
  // partitions whose topic was deleted have log_end 0 and no lag.
  std::vector<ConsumerGroupPartition> partitions;
};

// The groups with members or committed offsets, by id.
[[nodiscard]] absl::StatusOr<std::vector<GroupListing>> ListConsumerGroups(Broker& broker);

// Errors: GROUP_ID_NOT_FOUND; the coordinator's.
[[nodiscard]] absl::StatusOr<ConsumerGroupDescription> DescribeConsumerGroup(
    Broker& broker, std::string_view group_id);

// Where ResetConsumerGroupOffsets moves a group's offsets.
struct OffsetReset {
  enum class To : int8_t {
    kEarliest,   // each partition's log start offset
    kLatest,     // each partition's high watermark
    kTimestamp,  // the first offset at or after timestamp_ms (else the high watermark)
    kExplicit,   // `offsets`
  };
  To to = To::kEarliest;
  int64_t timestamp_ms = 0;
  // For kEarliest/kLatest/kTimestamp: every partition of these topics...
  std::vector<std::string> topics;
  // ...and these partitions. Both empty: the partitions the group has
  // committed offsets for.
  std::vector<TopicPartition> partitions;
  // For kExplicit: the offsets, each within its partition's log.
  std::map<TopicPartition, Offset> offsets;
};

// Commits the offsets `reset` asks for, as one batch, and returns them.
// Only while the group has no members (as Kafka's tool requires): running
// consumers would overwrite them. Errors: NON_EMPTY_GROUP;
// UNKNOWN_TOPIC_OR_PARTITION; OFFSET_OUT_OF_RANGE (an explicit offset
// outside the log); INVALID_REQUEST (nothing to reset); the coordinator's.
// Nothing is committed on error.
[[nodiscard]] absl::StatusOr<std::map<TopicPartition, Offset>> ResetConsumerGroupOffsets(
    Broker& broker, std::string_view group_id, const OffsetReset& reset);

// Deletes a group without members and its offsets. Errors:
// NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND; the coordinator's.
[[nodiscard]] absl::Status DeleteConsumerGroup(Broker& broker, std::string_view group_id);

}  // namespace evlog
