#include "evlog/group/sticky_assignor.h"

#include "assignment_model.h"
#include "evlog/status.h"
#include "sticky_planner.h"

namespace evlog {

absl::StatusOr<GroupAssignment> StickyAssignor::Assign(const AssignmentRequest& request) const {
  EVLOG_ASSIGN_OR_RETURN(const internal::AssignmentModel model,
                         internal::BuildAssignmentModel(request));
  return model.ToAssignment(internal::PlanStickyAssignment(model).target);
}

}  // namespace evlog
