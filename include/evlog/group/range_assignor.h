// evlog/group/range_assignor.h — Kafka's "range" assignor.
//
// Topic by topic: the members subscribed to the topic are sorted (static
// members first, by group.instance.id, then dynamic members by member id),
// the topic's partitions are cut into as many contiguous ranges as there are
// such members, and when they do not divide evenly the first
// (partitions % members) members get one partition more. Two topics with
// as many partitions and the same subscribers are thus co-partitioned:
// partition i of both goes to the same member.
//
// With two members C0, C1 and topics t0, t1 of 3 partitions each:
//
//   C0: [t0-0, t0-1, t1-0, t1-1]
//   C1: [t0-2, t1-2]
//
// The extra partitions always land on the first members, so with many
// topics the first members carry more than the rest. The assignment ignores
// what members own now. Eager protocol only (as Kafka).
//
// Kafka's rack-aware variant is not reproduced: members here have no rack.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/group/assignor.h"

namespace evlog {

class RangeAssignor {
 public:
  static constexpr std::string_view kName = "range";

  std::string_view name() const { return kName; }
  std::vector<RebalanceProtocol> supported_protocols() const { return {RebalanceProtocol::kEager}; }

  // The assignment for `request` as described above. Errors: see the
  // Assignor concept in assignor.h. Thread-safe.
  [[nodiscard]] absl::StatusOr<GroupAssignment> Assign(const AssignmentRequest& request) const;
};

static_assert(Assignor<RangeAssignor>);

}  // namespace evlog
