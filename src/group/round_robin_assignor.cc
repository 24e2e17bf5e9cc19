#include "evlog/group/round_robin_assignor.h"

#include <algorithm>
#include <vector>

#include "assignment_model.h"
#include "evlog/status.h"

namespace evlog {

absl::StatusOr<GroupAssignment> RoundRobinAssignor::Assign(const AssignmentRequest& request) const {
  EVLOG_ASSIGN_OR_RETURN(const internal::AssignmentModel model,
                         internal::BuildAssignmentModel(request));
  std::vector<int32_t> owner_of(static_cast<size_t>(model.total_partitions), internal::kNoMember);
  if (model.total_partitions == 0) return model.ToAssignment(owner_of);

  const std::vector<int32_t> rank = internal::KafkaMemberRanks(model);
  std::vector<int32_t> order(rank.size());
  for (size_t m = 0; m < rank.size(); ++m)
    order[static_cast<size_t>(rank[m])] = static_cast<int32_t>(m);
  size_t turn = 0;
  for (int32_t p = 0; p < model.total_partitions; ++p) {
    const int32_t topic = model.partition_topic[static_cast<size_t>(p)];
    // Terminates within one lap: every topic of the model has a subscriber.
    while (!model.IsSubscribed(order[turn], topic)) turn = (turn + 1) % order.size();
    owner_of[static_cast<size_t>(p)] = order[turn];
    turn = (turn + 1) % order.size();
  }
  return model.ToAssignment(owner_of);
}

}  // namespace evlog
