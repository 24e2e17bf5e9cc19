#include "evlog/group/group_admin.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/group/consumer_protocol.h"
#include "evlog/status.h"

namespace evlog {

namespace {

using internal::ToAbsl;

absl::Status NonEmpty(std::string_view group_id, size_t members) {
  return MakeError(ErrorCode::kNonEmptyGroup, absl::StrCat("group '", ToAbsl(group_id), "' has ",
                                                           members, " members: stop them first"));
}

}  // namespace

absl::StatusOr<std::vector<GroupListing>> ListConsumerGroups(Broker& broker) {
  EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<GroupCoordinator> coordinator,
                         GroupCoordinator::ForBroker(broker));
  return coordinator->ListGroups();
}

absl::StatusOr<ConsumerGroupDescription> DescribeConsumerGroup(Broker& broker,
                                                               std::string_view group_id) {
  EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<GroupCoordinator> coordinator,
                         GroupCoordinator::ForBroker(broker));
  ConsumerGroupDescription out;
  EVLOG_ASSIGN_OR_RETURN(out.group, coordinator->DescribeGroup(group_id));
  std::map<TopicPartition, ConsumerGroupPartition> partitions;
  if (out.group.protocol_type == kConsumerProtocolType) {
    for (const GroupMemberDescription& m : out.group.members) {
      std::vector<TopicPartition>& mine = out.assignments[m.member_id];
      if (m.assignment.empty()) continue;
      absl::StatusOr<ConsumerAssignment> a = DecodeAssignment(m.assignment);
      if (!a.ok()) continue;  // shown as owning nothing
      mine = std::move(a->partitions);
      for (const TopicPartition& tp : mine) partitions[tp].member_id = m.member_id;
    }
  }
  for (const auto& [tp, committed] : coordinator->FetchOffsets(group_id)) {
    partitions[tp].committed = committed.offset;
  }
  for (auto& [tp, p] : partitions) {
    p.topic_partition = tp;
    if (absl::StatusOr<std::shared_ptr<Partition>> partition = broker.GetPartition(tp);
        partition.ok()) {
      p.log_end = (*partition)->high_watermark();
      if (p.committed) p.lag = std::max<int64_t>(0, p.log_end - *p.committed);
    }
    out.partitions.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<std::map<TopicPartition, Offset>> ResetConsumerGroupOffsets(
    Broker& broker, std::string_view group_id, const OffsetReset& reset) {
  EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<GroupCoordinator> coordinator,
                         GroupCoordinator::ForBroker(broker));
  if (absl::StatusOr<GroupDescription> d = coordinator->DescribeGroup(group_id);
      d.ok() && !d->members.empty()) {
    return NonEmpty(group_id, d->members.size());
  }
  std::map<TopicPartition, Offset> target;
  if (reset.to == OffsetReset::To::kExplicit) {
    for (const auto& [tp, offset] : reset.offsets) {
      EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Partition> partition, broker.GetPartition(tp));
      if (offset < partition->log_start_offset() || offset > partition->high_watermark()) {
        return MakeError(ErrorCode::kOffsetOutOfRange,
                         absl::StrCat("offset ", offset.value(), " of ", tp.ToString(),
                                      " is outside [", partition->log_start_offset().value(), ", ",
                                      partition->high_watermark().value(), "]"));
      }
      target[tp] = offset;
    }
  } else {
    std::set<TopicPartition> chosen(reset.partitions.begin(), reset.partitions.end());
    for (const std::string& topic : reset.topics) {
      EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Topic> t, broker.GetTopic(topic));
      for (size_t p = 0; p < t->partitions().size(); ++p) {
        chosen.insert(TopicPartition(topic, static_cast<int32_t>(p)));
      }
    }
    if (reset.topics.empty() && reset.partitions.empty()) {
      for (const auto& [tp, committed] : coordinator->FetchOffsets(group_id)) chosen.insert(tp);
    }
    for (const TopicPartition& tp : chosen) {
      EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Partition> partition, broker.GetPartition(tp));
      switch (reset.to) {
        case OffsetReset::To::kEarliest:
          target[tp] = partition->log_start_offset();
          break;
        case OffsetReset::To::kLatest:
          target[tp] = partition->high_watermark();
          break;
        case OffsetReset::To::kTimestamp: {
          EVLOG_ASSIGN_OR_RETURN(std::optional<TimestampAndOffset> found,
                                 partition->OffsetForTimestamp(reset.timestamp_ms));
          target[tp] = found ? found->offset : partition->high_watermark();
          break;
        }
        case OffsetReset::To::kExplicit:
          break;
      }
    }
  }
  if (target.empty()) {
    return MakeError(ErrorCode::kInvalidRequest,
                     absl::StrCat("no partitions to reset for group '", ToAbsl(group_id), "'"));
  }
  OffsetCommitRequest request;
  request.group_id = std::string(group_id);
  for (const auto& [tp, offset] : target) {
    request.offsets[tp] = OffsetAndMetadata{offset, kNoLeaderEpoch, ""};
  }
  // A generation -1 commit: the coordinator refuses it if a member joined
  // since the check above.
  if (absl::Status s = coordinator->CommitOffsets(request); !s.ok()) {
    if (HasErrorCode(s, ErrorCode::kIllegalGeneration)) return NonEmpty(group_id, 1);
    return s;
  }
  return target;
}

absl::Status DeleteConsumerGroup(Broker& broker, std::string_view group_id) {
  EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<GroupCoordinator> coordinator,
                         GroupCoordinator::ForBroker(broker));
  return coordinator->DeleteGroup(group_id);
}

}  // namespace evlog
