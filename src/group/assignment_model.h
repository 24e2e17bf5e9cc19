// The validated, indexed form of an AssignmentRequest that every assignor
// works on: topics and members as dense indices, partitions as one global
// index, so the algorithms touch vectors of ints instead of strings.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "evlog/group/assignor.h"

namespace evlog::internal {

inline constexpr int32_t kNoMember = -1;

struct AssignmentModel {
  // Topics that some member subscribes to and the metadata lists with at
  // least one partition, sorted by name. Views into the request.
  std::vector<std::string_view> topic_names;
  // Every distinct subscribed topic name -> its index in topic_names, or -1
  // when the metadata does not list it with partitions.
  absl::flat_hash_map<absl::string_view, int32_t> topic_index;
  std::vector<int32_t> partition_counts;
  // Global index of partition 0 of each topic; partitions of topic t are
  // [first_partition[t], first_partition[t] + partition_counts[t]), so the
  // global order is (topic, partition) order.
  std::vector<int32_t> first_partition;
  int32_t total_partitions = 0;
  // The topic of each global partition index.
  std::vector<int32_t> partition_topic;

  // Members sorted by member id.
  std::vector<const MemberSubscription*> members;
  // Per member, the indices of its subscribed topics that are in
  // topic_names, ascending, without duplicates.
  std::vector<std::vector<int32_t>> member_topics;
  // Per topic, the members subscribed to it, ascending.
  std::vector<std::vector<int32_t>> topic_members;

  int32_t member_count() const { return static_cast<int32_t>(members.size()); }
  int32_t topic_count() const { return static_cast<int32_t>(topic_names.size()); }
  // The index of `topic` in topic_names, or -1.
  int32_t TopicIndex(std::string_view topic) const;
  // The global index of `tp`, or -1 when its topic is not in the model or
  // its partition is out of range.
  int32_t PartitionIndex(const TopicPartition& tp) const;
  bool IsSubscribed(int32_t member, int32_t topic) const;
  // True when every member subscribes to every topic of the model.
  bool AllSubscriptionsEqual() const;
  // An entry for every member, with the partitions in `owner_of` (a member
  // index or kNoMember per global partition) in (topic, partition) order.
  GroupAssignment ToAssignment(const std::vector<int32_t>& owner_of) const;
};

// Validates `request` (see the Assignor concept for the errors) and indexes
// it. The model holds views into `request`, which must outlive it.
absl::StatusOr<AssignmentModel> BuildAssignmentModel(const AssignmentRequest& request);

// Kafka's member order for range and roundrobin: static members first, by
// group.instance.id, then dynamic members by member id.
bool KafkaMemberOrder(const MemberSubscription& a, const MemberSubscription& b);
// Each member's position in that order.
std::vector<int32_t> KafkaMemberRanks(const AssignmentModel& model);

}  // namespace evlog::internal
