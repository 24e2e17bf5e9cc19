#include "evlog/group/cooperative_sticky_assignor.h"

#include <vector>

#include "assignment_model.h"
#include "evlog/status.h"
#include "sticky_planner.h"

namespace evlog {

absl::StatusOr<GroupAssignment> CooperativeStickyAssignor::Assign(
    const AssignmentRequest& request) const {
  EVLOG_ASSIGN_OR_RETURN(const internal::AssignmentModel model,
                         internal::BuildAssignmentModel(request));
  internal::StickyPlan plan = internal::PlanStickyAssignment(model);
  std::vector<int32_t>& assigned = plan.target;
  for (size_t p = 0; p < assigned.size(); ++p) {
    if (assigned[p] != plan.current_owner[p] && plan.claimed_by_other[p]) {
      assigned[p] = internal::kNoMember;
    }
  }
  return model.ToAssignment(assigned);
}

}  // namespace evlog
