// evlog/group/sticky_assignor.h — Kafka's "sticky" assignor.
//
// Two goals, in this order:
//
//  1. Balance. When all members subscribe to the same topics, their
//     partition counts differ by at most one. Otherwise the assignment is as
//     balanced as the subscriptions allow: no chain of moves (a member hands
//     a partition to another subscribed to its topic, which may hand one on,
//     and so on) could take a partition from a member and end it at a
//     member with at least two fewer. In particular no single partition can
//     move to a member subscribed to its topic that has two fewer.
//  2. Stickiness. Subject to 1, members keep what they own now (their
//     owned_partitions, after conflicting claims are settled by generation,
//     see MemberSubscription::generation). With equal subscriptions the
//     number of partitions that change owner is the least balance forces: a
//     member keeps all it owns up to its quota of floor(P/M) partitions, or
//     ceil(P/M) for as many members as P % M allows, preferring members that
//     own that many already. When a member must give some up it keeps its
//     lowest partition numbers (as Kafka).
//
// Worked example: t0 has 6 partitions, C0 owns [t0-0 .. t0-2], C1 owns
// [t0-3 .. t0-5], and C2 joins:
//
//   before  C0: [0, 1, 2]   C1: [3, 4, 5]   C2: []
//   after   C0: [0, 1]      C1: [3, 4]      C2: [2, 5]
//
// Two partitions move, the least that gives each member two; range would
// move three and roundrobin four.
//
// Cost: with equal subscriptions O(P log P) for P partitions (Kafka's fast
// path). Otherwise each unowned partition goes to its least loaded
// subscriber, then load is shifted along shortest chains of members, one
// partition's worth per O(M + S) search (M members, S subscriptions); the
// searches number about the partitions that must move, plus at most M.
//
// Eager protocol only (as Kafka): every member gives up its partitions
// before receiving the assignment, so a partition that changes owner is
// never read by two members at once. CooperativeStickyAssignor computes the
// same assignment for the cooperative protocol.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/group/assignor.h"

namespace evlog {

class StickyAssignor {
 public:
  static constexpr std::string_view kName = "sticky";

  std::string_view name() const { return kName; }
  std::vector<RebalanceProtocol> supported_protocols() const { return {RebalanceProtocol::kEager}; }

  // The assignment for `request` as described above. Errors: see the
  // Assignor concept in assignor.h. Thread-safe.
  [[nodiscard]] absl::StatusOr<GroupAssignment> Assign(const AssignmentRequest& request) const;
};

static_assert(Assignor<StickyAssignor>);

}  // namespace evlog
