#include "assignment_model.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/status.h"

namespace evlog::internal {

int32_t AssignmentModel::TopicIndex(std::string_view topic) const {
  auto it = topic_index.find(ToAbsl(topic));
  return it == topic_index.end() ? -1 : it->second;
}

int32_t AssignmentModel::PartitionIndex(const TopicPartition& tp) const {
  const int32_t topic = TopicIndex(tp.topic);
  if (topic < 0) return -1;
  const int32_t partition = tp.partition.value();
  if (partition < 0 || partition >= partition_counts[static_cast<size_t>(topic)]) return -1;
  return first_partition[static_cast<size_t>(topic)] + partition;
}

bool AssignmentModel::IsSubscribed(int32_t member, int32_t topic) const {
  const std::vector<int32_t>& topics = member_topics[static_cast<size_t>(member)];
  return std::binary_search(topics.begin(), topics.end(), topic);
}

bool AssignmentModel::AllSubscriptionsEqual() const {
  for (const std::vector<int32_t>& topics : member_topics) {
    if (topics.size() != topic_names.size()) return false;
  }
  return true;
}

GroupAssignment AssignmentModel::ToAssignment(const std::vector<int32_t>& owner_of) const {
  EVLOG_CHECK_EQ(owner_of.size(), static_cast<size_t>(total_partitions));
  std::vector<size_t> counts(members.size(), 0);
  for (int32_t owner : owner_of) {
    if (owner != kNoMember) ++counts[static_cast<size_t>(owner)];
  }
  std::vector<std::vector<TopicPartition>> lists(members.size());
  for (size_t m = 0; m < members.size(); ++m) lists[m].reserve(counts[m]);
  for (int32_t t = 0; t < topic_count(); ++t) {
    const std::string topic(topic_names[static_cast<size_t>(t)]);
    const int32_t first = first_partition[static_cast<size_t>(t)];
    for (int32_t p = 0; p < partition_counts[static_cast<size_t>(t)]; ++p) {
      const int32_t owner = owner_of[static_cast<size_t>(first + p)];
      if (owner == kNoMember) continue;
      lists[static_cast<size_t>(owner)].emplace_back(topic, p);
    }
  }
  GroupAssignment assignment;
  for (size_t m = 0; m < members.size(); ++m) {
    // Members are sorted by id, so each insertion goes at the end.
    assignment.emplace_hint(assignment.end(), members[m]->member_id, std::move(lists[m]));
  }
  return assignment;
}

absl::StatusOr<AssignmentModel> BuildAssignmentModel(const AssignmentRequest& request) {
  AssignmentModel model;
  model.members.reserve(request.members.size());
  for (const MemberSubscription& member : request.members) {
    if (member.member_id.empty()) {
      return MakeError(ErrorCode::kInvalidRequest, "a member has an empty member id");
    }
    if (member.group_instance_id.has_value() && member.group_instance_id->empty()) {
      return MakeError(ErrorCode::kInvalidRequest, absl::StrCat("member ", member.member_id,
                                                                " has an empty group instance id"));
    }
    model.members.push_back(&member);
  }
  std::sort(model.members.begin(), model.members.end(),
            [](const MemberSubscription* a, const MemberSubscription* b) {
              return a->member_id < b->member_id;
            });
  for (size_t m = 1; m < model.members.size(); ++m) {
    if (model.members[m - 1]->member_id == model.members[m]->member_id) {
      return MakeError(ErrorCode::kInvalidRequest,
                       absl::StrCat("member id ", model.members[m]->member_id, " appears twice"));
    }
  }
  {
    std::vector<const std::string*> instance_ids;
    for (const MemberSubscription* member : model.members) {
      if (member->group_instance_id.has_value())
        instance_ids.push_back(&*member->group_instance_id);
    }
    std::sort(instance_ids.begin(), instance_ids.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    for (size_t i = 1; i < instance_ids.size(); ++i) {
      if (*instance_ids[i - 1] == *instance_ids[i]) {
        return MakeError(
            ErrorCode::kInvalidRequest,
            absl::StrCat("group instance id ", *instance_ids[i], " is held by two members"));
      }
    }
  }
  for (const auto& [topic, count] : request.partitions_per_topic) {
    if (count < 0) {
      return MakeError(ErrorCode::kInvalidPartitions,
                       absl::StrCat("topic ", topic, " has ", count, " partitions"));
    }
  }

  // Topics in the model: subscribed by someone and known with partitions.
  // The index first collects every distinct subscribed name (mapped to -1),
  // then maps the known ones to their place in sorted order.
  for (const MemberSubscription* member : model.members) {
    for (const std::string& topic : member->topics)
      model.topic_index.try_emplace(ToAbsl(topic), -1);
  }
  for (const auto& [name, index] : model.topic_index) {
    auto it = request.partitions_per_topic.find(FromAbsl(name));
    if (it != request.partitions_per_topic.end() && it->second > 0) {
      model.topic_names.push_back(it->first);
    }
  }
  std::sort(model.topic_names.begin(), model.topic_names.end());
  int64_t total = 0;
  for (size_t t = 0; t < model.topic_names.size(); ++t) {
    const std::string_view topic = model.topic_names[t];
    model.topic_index[ToAbsl(topic)] = static_cast<int32_t>(t);
    const int32_t count = request.partitions_per_topic.find(topic)->second;
    model.first_partition.push_back(static_cast<int32_t>(total));
    model.partition_counts.push_back(count);
    total += count;
    if (total > kMaxAssignedPartitions) {
      return MakeError(ErrorCode::kInvalidRequest,
                       absl::StrCat("the subscribed topics have more than ", kMaxAssignedPartitions,
                                    " partitions"));
    }
  }
  model.total_partitions = static_cast<int32_t>(total);
  model.partition_topic.reserve(static_cast<size_t>(total));
  for (int32_t t = 0; t < model.topic_count(); ++t) {
    model.partition_topic.insert(
        model.partition_topic.end(),
        static_cast<size_t>(model.partition_counts[static_cast<size_t>(t)]), t);
  }

  model.member_topics.resize(model.members.size());
  model.topic_members.resize(model.topic_names.size());
  for (int32_t m = 0; m < model.member_count(); ++m) {
    std::vector<int32_t>& topics = model.member_topics[static_cast<size_t>(m)];
    for (const std::string& topic : model.members[static_cast<size_t>(m)]->topics) {
      const int32_t t = model.TopicIndex(topic);
      if (t >= 0) topics.push_back(t);
    }
    std::sort(topics.begin(), topics.end());
    topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
    for (int32_t t : topics) model.topic_members[static_cast<size_t>(t)].push_back(m);
  }
  return model;
}

std::vector<int32_t> KafkaMemberRanks(const AssignmentModel& model) {
  std::vector<int32_t> order(static_cast<size_t>(model.member_count()));
  for (size_t m = 0; m < order.size(); ++m) order[m] = static_cast<int32_t>(m);
  std::sort(order.begin(), order.end(), [&model](int32_t a, int32_t b) {
    return KafkaMemberOrder(*model.members[static_cast<size_t>(a)],
                            *model.members[static_cast<size_t>(b)]);
  });
  std::vector<int32_t> rank(order.size());
  for (size_t r = 0; r < order.size(); ++r)
    rank[static_cast<size_t>(order[r])] = static_cast<int32_t>(r);
  return rank;
}

bool KafkaMemberOrder(const MemberSubscription& a, const MemberSubscription& b) {
  const bool a_static = a.group_instance_id.has_value();
  const bool b_static = b.group_instance_id.has_value();
  if (a_static && b_static) {
    if (*a.group_instance_id != *b.group_instance_id) {
      return *a.group_instance_id < *b.group_instance_id;
    }
    return a.member_id < b.member_id;
  }
  if (a_static != b_static) return a_static;
  return a.member_id < b.member_id;
}

}  // namespace evlog::internal
