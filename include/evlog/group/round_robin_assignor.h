// evlog/group/round_robin_assignor.h — Kafka's "roundrobin" assignor.
//
// All partitions of the subscribed topics, sorted by (topic, partition), are
// dealt one at a time to the members in order (static members first, by
// group.instance.id, then dynamic members by member id), going round; a
// member not subscribed to a partition's topic is skipped for it. With equal
// subscriptions the members' partition counts differ by at most one.
//
// With two members C0, C1 and topics t0, t1 of 3 partitions each:
//
//   C0: [t0-0, t0-2, t1-1]
//   C1: [t0-1, t1-0, t1-2]
//
// With C0 on {t0}, C1 on {t0, t1}, C2 on {t0, t1, t2} and t0, t1, t2 of
// 1, 2, 3 partitions (skipping makes this uneven):
//
//   C0: [t0-0]   C1: [t1-0]   C2: [t1-1, t2-0, t2-1, t2-2]
//
// The assignment ignores what members own now. Eager protocol only.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/group/assignor.h"

namespace evlog {

class RoundRobinAssignor {
 public:
  static constexpr std::string_view kName = "roundrobin";

  std::string_view name() const { return kName; }
  std::vector<RebalanceProtocol> supported_protocols() const { return {RebalanceProtocol::kEager}; }

  // The assignment for `request` as described above. Errors: see the
  // Assignor concept in assignor.h. Thread-safe.
  [[nodiscard]] absl::StatusOr<GroupAssignment> Assign(const AssignmentRequest& request) const;
};

static_assert(Assignor<RoundRobinAssignor>);

}  // namespace evlog
