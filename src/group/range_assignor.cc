#include "evlog/group/range_assignor.h"

#include <algorithm>
#include <vector>

#include "assignment_model.h"
#include "evlog/status.h"

namespace evlog {

absl::StatusOr<GroupAssignment> RangeAssignor::Assign(const AssignmentRequest& request) const {
  EVLOG_ASSIGN_OR_RETURN(const internal::AssignmentModel model,
                         internal::BuildAssignmentModel(request));
  std::vector<int32_t> owner_of(static_cast<size_t>(model.total_partitions), internal::kNoMember);
  const std::vector<int32_t> rank = internal::KafkaMemberRanks(model);
  std::vector<int32_t> members;
  for (int32_t t = 0; t < model.topic_count(); ++t) {
    members = model.topic_members[static_cast<size_t>(t)];
    std::sort(members.begin(), members.end(), [&rank](int32_t a, int32_t b) {
      return rank[static_cast<size_t>(a)] < rank[static_cast<size_t>(b)];
    });
    // Every topic of the model has a subscriber.
    const auto n = static_cast<int32_t>(members.size());
    const int32_t partitions = model.partition_counts[static_cast<size_t>(t)];
    const int32_t per_member = partitions / n;
    const int32_t with_extra = partitions % n;
    int32_t next = model.first_partition[static_cast<size_t>(t)];
    for (int32_t i = 0; i < n; ++i) {
      const int32_t share = per_member + (i < with_extra ? 1 : 0);
      std::fill_n(owner_of.begin() + next, share, members[static_cast<size_t>(i)]);
      next += share;
    }
    EVLOG_CHECK_EQ(next, model.first_partition[static_cast<size_t>(t)] + partitions);
  }
  return model.ToAssignment(owner_of);
}

}  // namespace evlog
