// The assignment computation StickyAssignor and CooperativeStickyAssignor
// share.
#pragma once

#include <cstdint>
#include <vector>

#include "assignment_model.h"

namespace evlog::internal {

// Per global partition of a model:
struct StickyPlan {
  // The member the sticky assignment gives it to (never kNoMember).
  std::vector<int32_t> target;
  // Its owner now, after conflicting claims are settled by generation, or
  // kNoMember.
  std::vector<int32_t> current_owner;
  // Whether a member other than `target` lists it among its owned
  // partitions (whatever generation), so may still be reading it.
  std::vector<bool> claimed_by_other;
};

// The sticky assignment of `model` (contract in sticky_assignor.h).
StickyPlan PlanStickyAssignment(const AssignmentModel& model);

}  // namespace evlog::internal
