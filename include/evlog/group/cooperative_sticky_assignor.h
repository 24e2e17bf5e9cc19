// evlog/group/cooperative_sticky_assignor.h — Kafka's "cooperative-sticky"
// assignor (KIP-429).
//
// Computes StickyAssignor's assignment (the target), then leaves out of it
// every partition that would go to a member other than its current owner
// while another member still claims it. That member sees the partition
// missing from its assignment and revokes it; nobody receives it in this
// rebalance, so it is never read by two members at once. The revocation
// triggers a follow-up rebalance, in which nobody claims it any more and it
// goes to its new owner. Everything else is kept by its owner throughout and
// keeps being consumed.
//
// Worked example (same as sticky_assignor.h): t0 has 6 partitions, C0 owns
// [0, 1, 2] and C1 owns [3, 4, 5] in generation 7, and C2 joins:
//
//   target     C0: [0, 1]      C1: [3, 4]      C2: [2, 5]
//   round 1    C0: [0, 1]      C1: [3, 4]      C2: []       (C0 revokes 2,
//                                                            C1 revokes 5)
//   round 2    C0: [0, 1]      C1: [3, 4]      C2: [2, 5]   (generation 8)
//
// With equal subscriptions two rounds always end balanced: round 2 only
// adds partitions, and the two together move no more partitions than
// StickyAssignor does in one. With unequal ones round 2 may again move a
// partition (a few rounds then), each round still safe.
//
// Precisely, a partition p the target gives to member B is left out when B
// is not p's current owner (after conflicting claims are settled by
// generation) and another member lists p in owned_partitions, whether that
// member owns it, lost a conflict over it, or no longer subscribes to its
// topic: in each case it may still be reading p.
//
// Supports both protocols, cooperative preferred (as Kafka). Under the
// eager protocol members have given up their partitions before the
// assignment anyway; a partition left out is merely assigned one rebalance
// later.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/group/assignor.h"

namespace evlog {

class CooperativeStickyAssignor {
 public:
  static constexpr std::string_view kName = "cooperative-sticky";

  std::string_view name() const { return kName; }
  std::vector<RebalanceProtocol> supported_protocols() const {
    return {RebalanceProtocol::kCooperative, RebalanceProtocol::kEager};
  }

  // The assignment for `request` as described above. Errors: see the
  // Assignor concept in assignor.h. Thread-safe.
  [[nodiscard]] absl::StatusOr<GroupAssignment> Assign(const AssignmentRequest& request) const;
};

static_assert(Assignor<CooperativeStickyAssignor>);

}  // namespace evlog
