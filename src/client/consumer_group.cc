// The group half of Consumer: membership in a consumer group through the
// broker's GroupCoordinator (classic protocol, KIP-429 cooperative
// rebalancing on the member side), committed offsets and auto-commit.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/client/consumer.h"
#include "evlog/group/consumer_protocol.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/status.h"

namespace evlog {

namespace {

// The topic's partition count; 0 while it does not exist (the assignors'
// "not known yet").
int32_t PartitionCount(ClientBackend& backend, const std::string& topic) {
  absl::StatusOr<std::shared_ptr<ClientTopic>> t = backend.GetTopic(topic, /*auto_create=*/false);
  return t.ok() ? (*t)->partition_count() : 0;
}

std::vector<TopicPartition> Minus(const std::vector<TopicPartition>& a,
                                  const std::vector<TopicPartition>& b) {
  std::vector<TopicPartition> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

struct Consumer::Membership {
  // What the coordinator's callbacks and the heartbeat task share with the
  // consumer; they may outlive it, so it is reference-counted, and the
  // consumer detaches `waiter` when it closes.
  struct Channel {
    std::mutex mu;
    std::condition_variable commits_cv;
    DataWaiter* waiter = nullptr;
    // The identity heartbeats carry; heartbeating while set.
    bool heartbeating = false;
    std::string member_id;
    Generation generation{-1};
    // Answers, matched to the request by sequence number.
    uint64_t join_seq = 0;
    std::optional<JoinGroupResponse> join;
    uint64_t sync_seq = 0;
    std::optional<SyncGroupResponse> sync;
    // From the heartbeat task.
    bool rejoin_requested = false;
    absl::Status heartbeat_error;
    bool left_for_poll_timeout = false;
    // Async commits: queued in order and handed to the coordinator in that
    // order by one drain task on the executor (a Broker's commit syncs
    // there, not on the polling thread); in flight until it answers.
    struct AsyncCommit {
      OffsetCommitRequest request;
      OffsetCommitCallback callback;
      absl::Status status;
    };
    std::deque<AsyncCommit> commit_queue;
    bool commit_running = false;
    int64_t commits_in_flight = 0;
    std::vector<AsyncCommit> commits_done;
    // Poll's comings and goings, for max_poll_interval_ms.
    std::atomic<int64_t> last_poll_ms{0};
    std::atomic<bool> in_poll{false};

    void WakeLocked() {
      if (waiter != nullptr) waiter->Wake();
    }
  };

  enum class Phase { kUnjoined, kJoining, kSyncing, kStable };

  explicit Membership(Executor& executor) : tasks(executor) {}

  std::shared_ptr<GroupCoordinator> coordinator;
  std::shared_ptr<Channel> channel = std::make_shared<Channel>();
  TaskGroup tasks;
  bool cooperative = true;

  // The subscription.
  bool subscribed = false;
  std::vector<std::string> explicit_topics;
  std::optional<std::regex> pattern;
  std::string pattern_text;
  std::vector<std::string> topics;  // resolved, sorted
  ConsumerRebalanceListener* listener = nullptr;
  uint64_t seen_metadata_topics_hash = 0;

  // Membership as this member knows it.
  Phase phase = Phase::kUnjoined;
  bool rejoin_needed = false;
  int64_t retry_at_ms = 0;
  std::string member_id;
  Generation generation{-1};
  std::string protocol_name;
  bool leader = false;
  // The leader's view of the topics it assigned: a change is a rebalance.
  std::map<std::string, int32_t> assigned_partition_counts;
  std::set<std::string> group_topics;

  // Partitions awaiting a committed offset out of a transaction: the next
  // fetch of it.
  int64_t committed_retry_at_ms = 0;

  // Auto-commit.
  int64_t next_auto_commit_ms = 0;
  std::map<TopicPartition, Offset> last_committed;
};

namespace {

struct HeartbeatConfig {
  std::string group_id;
  std::optional<std::string> instance_id;
  int64_t interval_ms;
  int64_t max_poll_interval_ms;
};

// Every interval: leave if Poll has not been called for too long, else
// heartbeat, and tell the polling thread what the coordinator said.
void ScheduleHeartbeat(TaskGroup& tasks, std::shared_ptr<Consumer::Membership::Channel> channel,
                       std::shared_ptr<GroupCoordinator> coordinator, Clock& clock,
                       std::shared_ptr<const HeartbeatConfig> config) {
  tasks.ScheduleAfter(config->interval_ms, [&tasks, channel, coordinator, &clock, config] {
    std::string member_id;
    Generation generation{-1};
    bool beat = false;
    {
      std::lock_guard lock(channel->mu);
      beat = channel->heartbeating;
      member_id = channel->member_id;
      generation = channel->generation;
    }
    if (beat) {
      const int64_t now = clock.MonotonicNs() / 1'000'000;
      if (!channel->in_poll.load() &&
          now - channel->last_poll_ms.load() > config->max_poll_interval_ms) {
        {
          std::lock_guard lock(channel->mu);
          channel->heartbeating = false;
          channel->left_for_poll_timeout = true;
          channel->WakeLocked();
        }
        // A static member just goes quiet: its session timeout removes it,
        // unless it comes back first (KIP-345).
        if (!config->instance_id.has_value()) {
          const MemberIdentity me{member_id, std::nullopt};
          (void)coordinator->LeaveGroup(config->group_id, std::span<const MemberIdentity>(&me, 1));
        }
      } else {
        absl::Status status =
            coordinator->Heartbeat(config->group_id, member_id, config->instance_id, generation);
        if (!status.ok()) {
          std::lock_guard lock(channel->mu);
          if (channel->heartbeating && channel->member_id == member_id &&
              channel->generation == generation) {
            if (HasErrorCode(status, ErrorCode::kRebalanceInProgress)) {
              channel->rejoin_requested = true;
            } else if (!HasErrorCode(status, ErrorCode::kCoordinatorNotAvailable)) {
              channel->heartbeat_error = std::move(status);
              channel->heartbeating = false;
            }
            channel->WakeLocked();
          }
        }
      }
    }
    ScheduleHeartbeat(tasks, channel, coordinator, clock, config);
  });
}

}  // namespace

absl::Status Consumer::CreateMembership() {
  group_ = std::make_unique<Membership>(backend_->executor());
  EVLOG_ASSIGN_OR_RETURN(group_->coordinator, backend_->group_coordinator());
  group_->cooperative = true;
  for (const AnyAssignor& a : options_.partition_assignment_strategy) {
    if (!SupportsProtocol(a, RebalanceProtocol::kCooperative)) group_->cooperative = false;
  }
  group_->channel->waiter = &waiter_;
  group_->channel->last_poll_ms = backend_->clock().MonotonicNs() / 1'000'000;
  auto config = std::make_shared<HeartbeatConfig>(
      HeartbeatConfig{options_.group_id, options_.group_instance_id, options_.heartbeat_interval_ms,
                      options_.max_poll_interval_ms});
  ScheduleHeartbeat(group_->tasks, group_->channel, group_->coordinator, backend_->clock(),
                    std::move(config));
  return absl::OkStatus();
}

void Consumer::GroupPollStarted() {
  if (group_ == nullptr) return;
  group_->channel->last_poll_ms = backend_->clock().MonotonicNs() / 1'000'000;
  group_->channel->in_poll = true;
}

void Consumer::GroupPollEnded() {
  if (group_ == nullptr) return;
  group_->channel->last_poll_ms = backend_->clock().MonotonicNs() / 1'000'000;
  group_->channel->in_poll = false;
}

// Here, where Membership is complete.
Consumer::Consumer(std::unique_ptr<ClientBackend> backend, ConsumerOptions options)
    : backend_(std::move(backend)), options_(std::move(options)) {}

Consumer::~Consumer() { (void)Close(); }

// --- Subscription ----------------------------------------------------------

absl::Status Consumer::StartSubscription(ConsumerRebalanceListener* listener) {
  Membership& g = *group_;
  g.listener = listener;
  bool changed = false;
  EVLOG_RETURN_IF_ERROR(RefreshSubscription(changed));
  if (!g.subscribed) {
    g.subscribed = true;
    g.phase = Membership::Phase::kUnjoined;
  }
  g.rejoin_needed = true;
  return absl::OkStatus();
}

absl::Status Consumer::Subscribe(const std::vector<std::string>& topics,
                                 ConsumerRebalanceListener* listener) {
  if (closed_) return absl::FailedPreconditionError("the consumer is closed");
  if (group_ == nullptr) {
    return MakeError(ErrorCode::kInvalidGroupId, "Subscribe needs options.group_id");
  }
  if (!group_->subscribed && !assigned_.empty()) {
    return absl::FailedPreconditionError(
        "partitions were assigned with Assign: Assign({}) before Subscribe");
  }
  for (const std::string& topic : topics) EVLOG_RETURN_IF_ERROR(ValidateTopicName(topic));
  group_->pattern.reset();
  group_->pattern_text.clear();
  group_->explicit_topics = topics;
  return StartSubscription(listener);
}

absl::Status Consumer::SubscribePattern(std::string_view pattern,
                                        ConsumerRebalanceListener* listener) {
  if (closed_) return absl::FailedPreconditionError("the consumer is closed");
  if (group_ == nullptr) {
    return MakeError(ErrorCode::kInvalidGroupId, "SubscribePattern needs options.group_id");
  }
  if (!group_->subscribed && !assigned_.empty()) {
    return absl::FailedPreconditionError(
        "partitions were assigned with Assign: Assign({}) before SubscribePattern");
  }
  std::regex re;
  try {
    re = std::regex(std::string(pattern), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return MakeError(
        ErrorCode::kInvalidRequest,
        absl::StrCat("bad topic pattern '", internal::ToAbsl(pattern), "': ", e.what()));
  }
  group_->pattern = std::move(re);
  group_->pattern_text = std::string(pattern);
  group_->explicit_topics.clear();
  return StartSubscription(listener);
}

bool Consumer::Subscribed() const { return group_ != nullptr && group_->subscribed; }

std::vector<std::string> Consumer::Subscription() const {
  if (group_ == nullptr || !group_->subscribed) return {};
  return group_->topics;
}

absl::Status Consumer::RefreshSubscription(bool& changed) {
  Membership& g = *group_;
  std::vector<std::string> topics;
  if (g.pattern.has_value()) {
    for (std::string& topic : backend_->ListTopics()) {
      if (!IsInternalTopic(topic) && std::regex_match(topic, *g.pattern)) {
        topics.push_back(std::move(topic));
      }
    }
  } else {
    topics = g.explicit_topics;
  }
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  changed = topics != g.topics;
  g.topics = std::move(topics);
  return absl::OkStatus();
}

bool Consumer::PartitionCountsChanged() const {
  const Membership& g = *group_;
  for (const std::string& topic : g.group_topics) {
    const int32_t count = PartitionCount(*backend_, topic);
    auto it = g.assigned_partition_counts.find(topic);
    if ((it == g.assigned_partition_counts.end() ? 0 : it->second) != count) return true;
  }
  return false;
}

// --- Joining ---------------------------------------------------------------

absl::Status Consumer::StartJoin() {
  Membership& g = *group_;
  if (options_.enable_auto_commit) MaybeAutoCommit(/*force=*/true);
  ConsumerSubscription subscription;
  subscription.topics = g.topics;
  // What it owns, so that sticky assignors keep it here. An eager member
  // gives everything up first (below) but still names what it had, as
  // Kafka's eager StickyAssignor does through its user data (and reads
  // from owned_partitions when a member sends none).
  subscription.owned_partitions = Assignment();
  if (!subscription.owned_partitions.empty()) subscription.generation = g.generation;
  if (!g.cooperative) RevokeAll();  // eager: give everything up first
  JoinGroupRequest request;
  request.group_id = options_.group_id;
  request.member_id = g.member_id;
  request.group_instance_id = options_.group_instance_id;
  request.client_id = options_.client_id;
  request.protocol_type = std::string(kConsumerProtocolType);
  request.session_timeout_ms = options_.session_timeout_ms;
  request.rebalance_timeout_ms = options_.max_poll_interval_ms;
  for (const AnyAssignor& assignor : options_.partition_assignment_strategy) {
    EVLOG_ASSIGN_OR_RETURN(std::string metadata, EncodeSubscription(subscription));
    request.protocols.push_back({std::string(assignor.name()), std::move(metadata)});
  }
  uint64_t seq;
  {
    std::lock_guard lock(g.channel->mu);
    seq = ++g.channel->join_seq;
    g.channel->join.reset();
    g.channel->heartbeating = false;
    g.channel->rejoin_requested = false;
  }
  g.phase = Membership::Phase::kJoining;
  g.rejoin_needed = false;
  g.coordinator->JoinGroup(std::move(request), [channel = g.channel, seq](JoinGroupResponse r) {
    std::lock_guard lock(channel->mu);
    if (channel->join_seq != seq) return;
    channel->join = std::move(r);
    channel->WakeLocked();
  });
  return absl::OkStatus();
}

absl::Status Consumer::OnJoinResponse(JoinGroupResponse response) {
  Membership& g = *group_;
  const int64_t now = backend_->clock().MonotonicNs() / 1'000'000;
  if (!response.status.ok()) {
    const absl::Status& s = response.status;
    g.phase = Membership::Phase::kUnjoined;
    g.rejoin_needed = true;
    if (HasErrorCode(s, ErrorCode::kMemberIdRequired)) {
      g.member_id = response.member_id;
    } else if (HasErrorCode(s, ErrorCode::kUnknownMemberId) ||
               HasErrorCode(s, ErrorCode::kIllegalGeneration)) {
      if (!Assignment().empty()) LoseAssignment(internal::FromAbsl(s.message()));
      g.member_id.clear();
      g.generation = Generation(-1);
    } else if (HasErrorCode(s, ErrorCode::kRebalanceInProgress) ||
               HasErrorCode(s, ErrorCode::kCoordinatorNotAvailable)) {
      g.retry_at_ms = now + options_.retry_backoff_ms;
    } else {
      // Not retriable: INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT,
      // GROUP_MAX_SIZE_REACHED, FENCED_INSTANCE_ID, ...
      g.rejoin_needed = false;
      g.subscribed = false;
      return Annotate(s, absl::StrCat("joining group ", options_.group_id));
    }
    return absl::OkStatus();
  }
  g.member_id = response.member_id;
  g.generation = response.generation;
  g.protocol_name = response.protocol_name;
  g.leader = response.leader_id == response.member_id;
  GroupLog(absl::StrCat("joined generation ", g.generation.value(), g.leader ? " as leader" : ""));
  SyncGroupRequest request;
  request.group_id = options_.group_id;
  request.generation = response.generation;
  request.member_id = response.member_id;
  request.group_instance_id = options_.group_instance_id;
  request.protocol_type = response.protocol_type;
  request.protocol_name = response.protocol_name;
  if (g.leader && !response.members.empty()) {
    const AnyAssignor* assignor = nullptr;
    for (const AnyAssignor& a : options_.partition_assignment_strategy) {
      if (a.name() == response.protocol_name) assignor = &a;
    }
    if (assignor == nullptr) {
      return MakeError(ErrorCode::kInconsistentGroupProtocol,
                       absl::StrCat("the group chose assignor '", response.protocol_name,
                                    "', which this consumer does not have"));
    }
    AssignmentRequest assign;
    g.group_topics.clear();
    for (const JoinGroupMember& m : response.members) {
      absl::StatusOr<ConsumerSubscription> sub = DecodeSubscription(m.metadata);
      MemberSubscription& member = assign.members.emplace_back();
      member.member_id = m.member_id;
      member.group_instance_id = m.group_instance_id;
      if (!sub.ok()) continue;  // a member we cannot read gets nothing
      member.topics = std::move(sub->topics);
      member.owned_partitions = std::move(sub->owned_partitions);
      member.generation = sub->generation;
      g.group_topics.insert(member.topics.begin(), member.topics.end());
    }
    g.assigned_partition_counts.clear();
    for (const std::string& topic : g.group_topics) {
      const int32_t count = PartitionCount(*backend_, topic);
      g.assigned_partition_counts[topic] = count;
      if (count > 0) assign.partitions_per_topic[topic] = count;
    }
    EVLOG_ASSIGN_OR_RETURN(GroupAssignment assignment, assignor->Assign(assign));
    for (auto& [member_id, partitions] : assignment) {
      ConsumerAssignment a;
      a.partitions = std::move(partitions);
      EVLOG_ASSIGN_OR_RETURN(request.assignments[member_id], EncodeAssignment(a));
    }
  }
  uint64_t seq;
  {
    std::lock_guard lock(g.channel->mu);
    seq = ++g.channel->sync_seq;
    g.channel->sync.reset();
    g.channel->member_id = g.member_id;
    g.channel->generation = g.generation;
  }
  g.phase = Membership::Phase::kSyncing;
  g.coordinator->SyncGroup(std::move(request), [channel = g.channel, seq](SyncGroupResponse r) {
    std::lock_guard lock(channel->mu);
    if (channel->sync_seq != seq) return;
    channel->sync = std::move(r);
    channel->WakeLocked();
  });
  return absl::OkStatus();
}

absl::Status Consumer::OnSyncResponse(SyncGroupResponse response) {
  Membership& g = *group_;
  if (!response.status.ok()) {
    const absl::Status& s = response.status;
    g.phase = Membership::Phase::kUnjoined;
    g.rejoin_needed = true;
    if (HasErrorCode(s, ErrorCode::kUnknownMemberId) ||
        HasErrorCode(s, ErrorCode::kIllegalGeneration)) {
      if (!Assignment().empty()) LoseAssignment(internal::FromAbsl(s.message()));
      if (HasErrorCode(s, ErrorCode::kUnknownMemberId)) g.member_id.clear();
      g.generation = Generation(-1);
    } else if (HasErrorCode(s, ErrorCode::kRebalanceInProgress) ||
               HasErrorCode(s, ErrorCode::kCoordinatorNotAvailable)) {
      // Rejoin at once (the group waits for us).
    } else {
      g.rejoin_needed = false;
      g.subscribed = false;
      return Annotate(s, absl::StrCat("syncing with group ", options_.group_id));
    }
    return absl::OkStatus();
  }
  std::vector<TopicPartition> assigned;
  if (!response.assignment.empty()) {
    EVLOG_ASSIGN_OR_RETURN(ConsumerAssignment a, DecodeAssignment(response.assignment));
    assigned = std::move(a.partitions);
  }
  std::sort(assigned.begin(), assigned.end());
  assigned.erase(std::unique(assigned.begin(), assigned.end()), assigned.end());
  g.phase = Membership::Phase::kStable;
  {
    std::lock_guard lock(g.channel->mu);
    g.channel->heartbeating = true;
    g.channel->member_id = g.member_id;
    g.channel->generation = g.generation;
  }
  return ApplyGroupAssignment(std::move(assigned));
}

absl::Status Consumer::ApplyGroupAssignment(std::vector<TopicPartition> assigned) {
  Membership& g = *group_;
  const std::vector<TopicPartition> owned = Assignment();
  const std::vector<TopicPartition> revoked = Minus(owned, assigned);
  const std::vector<TopicPartition> added = Minus(assigned, owned);
  GroupLog(absl::StrCat("generation ", g.generation.value(), ": assigned ", assigned.size(),
                        " partitions, ", added.size(), " new, ", revoked.size(), " revoked"));
  if (!revoked.empty()) {
    // Cooperative: give these up and rejoin, so that the next round can
    // hand them to their new owners (KIP-429).
    if (options_.enable_auto_commit) MaybeAutoCommit(/*force=*/true);
    if (g.listener != nullptr) g.listener->OnPartitionsRevoked(revoked);
    g.rejoin_needed = true;
  }
  // Partitions of deleted topics cannot be assigned: leave them out, and
  // rebalance once the leader sees the topic is gone.
  std::vector<TopicPartition> usable;
  for (const TopicPartition& tp : assigned) {
    if (Lookup(tp).ok()) {
      usable.push_back(tp);
    } else {
      g.rejoin_needed = true;
    }
  }
  EVLOG_RETURN_IF_ERROR(SetAssignment(usable));
  // New partitions start at the committed offset; without one, Poll
  // applies auto_offset_reset.
  if (!added.empty()) EVLOG_RETURN_IF_ERROR(LoadCommittedPositions(added));
  if (g.listener != nullptr) g.listener->OnPartitionsAssigned(added);
  if (g.next_auto_commit_ms == 0) {
    g.next_auto_commit_ms =
        backend_->clock().MonotonicNs() / 1'000'000 + options_.auto_commit_interval_ms;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<TopicPartition, CommittedOffset>> Consumer::FetchCommitted(
    const std::vector<TopicPartition>& partitions) const {
  const std::span<const TopicPartition> wanted(partitions);
  // KIP-447: for read_committed, an offset in a transaction that has not
  // ended is not yet the place to resume from (UNSTABLE_OFFSET_COMMIT).
  if (options_.isolation_level == IsolationLevel::kReadCommitted) {
    return group_->coordinator->FetchStableOffsets(options_.group_id, wanted);
  }
  return group_->coordinator->FetchOffsets(options_.group_id, wanted);
}

absl::Status Consumer::LoadCommittedPositions(const std::vector<TopicPartition>& partitions) {
  absl::StatusOr<std::map<TopicPartition, CommittedOffset>> committed = FetchCommitted(partitions);
  if (!committed.ok()) {
    if (!HasErrorCode(committed.status(), ErrorCode::kUnstableOffsetCommit)) {
      return committed.status();
    }
    // Reading from the older committed offset would process input again
    // whose output the open transaction may still commit: wait for it.
    for (const TopicPartition& tp : partitions) {
      if (PartitionState* s = Find(tp); s != nullptr) {
        s->awaiting_committed = true;
        s->position.reset();
      }
    }
    group_->committed_retry_at_ms =
        backend_->clock().MonotonicNs() / 1'000'000 + options_.retry_backoff_ms;
    return absl::OkStatus();
  }
  for (const TopicPartition& tp : partitions) {
    PartitionState* s = Find(tp);
    if (s == nullptr) continue;
    s->awaiting_committed = false;
    if (auto it = committed->find(tp); it != committed->end()) s->position = it->second.offset;
  }
  return absl::OkStatus();
}

void Consumer::GroupLog(std::string_view message) const {
  LogSink& sink = backend_->log_sink();
  if (!sink.Enabled(LogLevel::kInfo)) return;
  sink.Log(LogLevel::kInfo, "consumer",
           absl::StrCat(options_.client_id, " (", group_->member_id, ") in group ",
                        options_.group_id, ": ", internal::ToAbsl(message)));
}

void Consumer::LoseAssignment(std::string_view why) {
  Membership& g = *group_;
  std::vector<TopicPartition> lost = Assignment();
  if (lost.empty()) return;
  GroupLog(absl::StrCat("lost its partitions: ", internal::ToAbsl(why)));
  if (g.listener != nullptr) g.listener->OnPartitionsLost(lost);
  (void)SetAssignment({});
  g.last_committed.clear();
}

void Consumer::RevokeAll() {
  Membership& g = *group_;
  std::vector<TopicPartition> all = Assignment();
  if (all.empty()) return;
  if (g.listener != nullptr) g.listener->OnPartitionsRevoked(all);
  (void)SetAssignment({});
}

absl::Status Consumer::PollGroup() {
  Membership& g = *group_;
  RunCommitCallbacks();
  if (!g.subscribed) return absl::OkStatus();
  const int64_t now = backend_->clock().MonotonicNs() / 1'000'000;

  // News from the heartbeat task.
  absl::Status heartbeat_error;
  bool left = false;
  {
    std::lock_guard lock(g.channel->mu);
    if (g.channel->rejoin_requested) {
      g.channel->rejoin_requested = false;
      if (g.phase == Membership::Phase::kStable) g.rejoin_needed = true;
    }
    heartbeat_error = std::exchange(g.channel->heartbeat_error, absl::OkStatus());
    left = std::exchange(g.channel->left_for_poll_timeout, false);
  }
  if (left) {
    LoseAssignment("it did not poll within max_poll_interval_ms");
    if (!options_.group_instance_id) g.member_id.clear();
    g.generation = Generation(-1);
    g.phase = Membership::Phase::kUnjoined;
    g.rejoin_needed = true;
  }
  if (!heartbeat_error.ok() && g.phase == Membership::Phase::kStable) {
    if (HasErrorCode(heartbeat_error, ErrorCode::kFencedInstanceId)) {
      LoseAssignment(internal::FromAbsl(heartbeat_error.message()));
      g.subscribed = false;
      {
        std::lock_guard lock(g.channel->mu);
        g.channel->heartbeating = false;
      }
      return heartbeat_error;
    }
    // ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID: another member may own the
    // partitions by now.
    LoseAssignment(internal::FromAbsl(heartbeat_error.message()));
    if (HasErrorCode(heartbeat_error, ErrorCode::kUnknownMemberId)) g.member_id.clear();
    g.generation = Generation(-1);
    g.phase = Membership::Phase::kUnjoined;
    g.rejoin_needed = true;
  }

  // Topics created, deleted or grown.
  if (g.phase == Membership::Phase::kStable) {
    bool changed = false;
    if (g.pattern.has_value()) EVLOG_RETURN_IF_ERROR(RefreshSubscription(changed));
    if (changed || (g.leader && PartitionCountsChanged())) g.rejoin_needed = true;
  }

  if (options_.enable_auto_commit && g.phase == Membership::Phase::kStable) {
    MaybeAutoCommit(/*force=*/false);
  }

  if (now >= g.committed_retry_at_ms) {
    std::vector<TopicPartition> awaiting;
    for (const auto& s : assigned_) {
      if (s->awaiting_committed) awaiting.push_back(s->tp);
    }
    if (!awaiting.empty()) EVLOG_RETURN_IF_ERROR(LoadCommittedPositions(awaiting));
  }

  // Drive the join/sync exchange as far as it goes without waiting: with
  // one member, or the last member joining, it completes in this call.
  for (int step = 0; step < 8; ++step) {
    std::optional<JoinGroupResponse> join;
    std::optional<SyncGroupResponse> sync;
    {
      std::lock_guard lock(g.channel->mu);
      if (g.phase == Membership::Phase::kJoining) join.swap(g.channel->join);
      if (g.phase == Membership::Phase::kSyncing) sync.swap(g.channel->sync);
    }
    if (join.has_value()) {
      EVLOG_RETURN_IF_ERROR(OnJoinResponse(*std::move(join)));
      continue;
    }
    if (sync.has_value()) {
      EVLOG_RETURN_IF_ERROR(OnSyncResponse(*std::move(sync)));
      continue;
    }
    const bool idle =
        g.phase == Membership::Phase::kUnjoined || g.phase == Membership::Phase::kStable;
    if (idle && g.rejoin_needed && g.subscribed && now >= g.retry_at_ms) {
      EVLOG_RETURN_IF_ERROR(StartJoin());
      continue;
    }
    break;
  }
  return absl::OkStatus();
}

int64_t Consumer::GroupWaitBudgetMs() const {
  if (group_ == nullptr || !group_->subscribed) return -1;
  const Membership& g = *group_;
  const int64_t now = backend_->clock().MonotonicNs() / 1'000'000;
  int64_t budget = -1;
  auto take = [&](int64_t at) {
    const int64_t in = std::max<int64_t>(0, at - now);
    budget = budget < 0 ? in : std::min(budget, in);
  };
  if (g.rejoin_needed) take(g.retry_at_ms);
  if (options_.enable_auto_commit && g.phase == Membership::Phase::kStable) {
    take(g.next_auto_commit_ms);
  }
  for (const auto& s : assigned_) {
    if (s->awaiting_committed) {
      take(g.committed_retry_at_ms);
      break;
    }
  }
  // Metadata changes do not wake a parked Poll: look again now and then.
  take(now + 100);
  return budget;
}

// --- Leaving ---------------------------------------------------------------

absl::Status Consumer::LeaveGroup() {
  Membership& g = *group_;
  {
    std::lock_guard lock(g.channel->mu);
    g.channel->heartbeating = false;
    ++g.channel->join_seq;
    ++g.channel->sync_seq;
  }
  absl::Status status;
  if (!g.member_id.empty() && !options_.group_instance_id.has_value()) {
    const MemberIdentity me{g.member_id, std::nullopt};
    absl::StatusOr<std::vector<absl::Status>> left =
        g.coordinator->LeaveGroup(options_.group_id, std::span<const MemberIdentity>(&me, 1));
    if (!left.ok()) {
      status = left.status();
    } else if (!left->empty() && !(*left)[0].ok() &&
               !HasErrorCode((*left)[0], ErrorCode::kUnknownMemberId)) {
      status = (*left)[0];
    }
    g.member_id.clear();
  }
  g.generation = Generation(-1);
  g.phase = Membership::Phase::kUnjoined;
  g.rejoin_needed = false;
  return status;
}

absl::Status Consumer::Unsubscribe() {
  if (group_ == nullptr || !group_->subscribed) return absl::OkStatus();
  Membership& g = *group_;
  if (options_.enable_auto_commit) MaybeAutoCommit(/*force=*/true);
  RevokeAll();
  absl::Status status = LeaveGroup();
  g.subscribed = false;
  g.topics.clear();
  g.explicit_topics.clear();
  g.pattern.reset();
  g.listener = nullptr;
  return status;
}

void Consumer::CloseGroup() {
  Membership& g = *group_;
  if (g.subscribed) {
    if (options_.enable_auto_commit) MaybeAutoCommit(/*force=*/true);
    RevokeAll();
    (void)LeaveGroup();
    g.subscribed = false;
  } else if (options_.enable_auto_commit && !assigned_.empty()) {
    MaybeAutoCommit(/*force=*/true);
  }
  g.tasks.Close();
  // Wait for the async commits, then hand out their outcomes.
  WaitForAsyncCommits();
  {
    std::lock_guard lock(g.channel->mu);
    g.channel->waiter = nullptr;
  }
  RunCommitCallbacks();
}

// --- Offsets ---------------------------------------------------------------

std::map<TopicPartition, OffsetAndMetadata> Consumer::ConsumedOffsets() const {
  std::map<TopicPartition, OffsetAndMetadata> offsets;
  for (const auto& s : assigned_) {
    if (s->position) offsets[s->tp] = OffsetAndMetadata{*s->position, kNoLeaderEpoch, ""};
  }
  return offsets;
}

void Consumer::WaitForAsyncCommits() {
  Membership::Channel& channel = *group_->channel;
  // A Cluster on a ManualExecutor answers them only when driven.
  AwaitCondition(backend_->executor(), channel.mu, channel.commits_cv, [&] {
    return channel.commit_queue.empty() && !channel.commit_running &&
           channel.commits_in_flight == 0;
  });
}

absl::Status Consumer::CommitNow(const std::map<TopicPartition, OffsetAndMetadata>& offsets) {
  if (group_ == nullptr) {
    return MakeError(ErrorCode::kInvalidGroupId, "committing offsets needs options.group_id");
  }
  Membership& g = *group_;
  if (offsets.empty()) return absl::OkStatus();
  // Earlier CommitAsync calls first: a commit must not be overtaken by an
  // older one, which would move the committed offset back.
  WaitForAsyncCommits();
  OffsetCommitRequest request;
  request.group_id = options_.group_id;
  if (g.subscribed) {
    request.generation = g.generation;
    request.member_id = g.member_id;
    request.group_instance_id = options_.group_instance_id;
  }
  request.offsets = offsets;
  EVLOG_RETURN_IF_ERROR(g.coordinator->CommitOffsets(request));
  for (const auto& [tp, o] : offsets) g.last_committed[tp] = o.offset;
  return absl::OkStatus();
}

void Consumer::MaybeAutoCommit(bool force) {
  Membership& g = *group_;
  const int64_t now = backend_->clock().MonotonicNs() / 1'000'000;
  if (!force && now < g.next_auto_commit_ms) return;
  g.next_auto_commit_ms = now + options_.auto_commit_interval_ms;
  std::map<TopicPartition, OffsetAndMetadata> offsets = ConsumedOffsets();
  // Only what moved since the last commit.
  for (auto it = offsets.begin(); it != offsets.end();) {
    auto last = g.last_committed.find(it->first);
    it = last != g.last_committed.end() && last->second == it->second.offset ? offsets.erase(it)
                                                                             : std::next(it);
  }
  if (offsets.empty()) return;
  auto failed = [this](const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                       const absl::Status& s) {
    // As Kafka's auto-commit: logged, and the next one tries again.
    backend_->log_sink().Log(
        LogLevel::kWarning, "consumer",
        absl::StrCat(options_.client_id, ": auto-commit failed: ", s.ToString()));
    for (const auto& [tp, o] : offsets) {
      auto last = group_->last_committed.find(tp);
      if (last != group_->last_committed.end() && last->second == o.offset) {
        group_->last_committed.erase(last);
      }
    }
  };
  if (!force) {
    // On its interval, without waiting (Kafka commits asynchronously here
    // too): Poll does not wait for an fsync.
    CommitAsync(std::move(offsets), [failed](const std::map<TopicPartition, OffsetAndMetadata>& o,
                                             const absl::Status& s) {
      if (!s.ok()) failed(o, s);
    });
    return;
  }
  if (absl::Status s = CommitNow(offsets); !s.ok()) failed(offsets, s);
}

absl::Status Consumer::CommitSync() {
  if (closed_) return absl::FailedPreconditionError("the consumer is closed");
  if (group_ != nullptr) RunCommitCallbacks();
  return CommitNow(ConsumedOffsets());
}

absl::Status Consumer::CommitSync(const std::map<TopicPartition, OffsetAndMetadata>& offsets) {
  if (closed_) return absl::FailedPreconditionError("the consumer is closed");
  if (group_ != nullptr) RunCommitCallbacks();
  return CommitNow(offsets);
}

void Consumer::CommitAsync(OffsetCommitCallback callback) {
  CommitAsync(ConsumedOffsets(), std::move(callback));
}

void Consumer::CommitAsync(std::map<TopicPartition, OffsetAndMetadata> offsets,
                           OffsetCommitCallback callback) {
  using AsyncCommit = Membership::Channel::AsyncCommit;
  if (group_ == nullptr || closed_) {
    if (callback) {
      callback(offsets, group_ == nullptr
                            ? MakeError(ErrorCode::kInvalidGroupId,
                                        "committing offsets needs options.group_id")
                            : absl::FailedPreconditionError("the consumer is closed"));
    }
    return;
  }
  Membership& g = *group_;
  AsyncCommit commit;
  commit.request.group_id = options_.group_id;
  if (g.subscribed) {
    commit.request.generation = g.generation;
    commit.request.member_id = g.member_id;
    commit.request.group_instance_id = options_.group_instance_id;
  }
  commit.request.offsets = std::move(offsets);
  commit.callback = std::move(callback);
  for (const auto& [tp, o] : commit.request.offsets) g.last_committed[tp] = o.offset;
  std::shared_ptr<Membership::Channel> channel = g.channel;
  std::lock_guard lock(channel->mu);
  channel->commit_queue.push_back(std::move(commit));
  if (channel->commit_running) return;
  channel->commit_running = true;
  // One drain task at a time keeps the commits in order.
  g.tasks.executor().Schedule([channel, coordinator = g.coordinator] {
    std::unique_lock lock(channel->mu);
    while (!channel->commit_queue.empty()) {
      AsyncCommit next = std::move(channel->commit_queue.front());
      channel->commit_queue.pop_front();
      ++channel->commits_in_flight;
      lock.unlock();
      OffsetCommitRequest request = next.request;
      coordinator->CommitOffsetsAsync(request,
                                      [channel, next = std::move(next)](absl::Status s) mutable {
                                        std::lock_guard lock(channel->mu);
                                        next.status = std::move(s);
                                        channel->commits_done.push_back(std::move(next));
                                        --channel->commits_in_flight;
                                        channel->WakeLocked();
                                        channel->commits_cv.notify_all();
                                      });
      lock.lock();
    }
    channel->commit_running = false;
    channel->commits_cv.notify_all();
  });
}

void Consumer::RunCommitCallbacks() {
  std::vector<Membership::Channel::AsyncCommit> done;
  {
    std::lock_guard lock(group_->channel->mu);
    done.swap(group_->channel->commits_done);
  }
  for (auto& commit : done) {
    if (commit.callback) commit.callback(commit.request.offsets, commit.status);
  }
}

absl::StatusOr<std::map<TopicPartition, OffsetAndMetadata>> Consumer::Committed(
    const std::vector<TopicPartition>& partitions) const {
  if (group_ == nullptr) {
    return MakeError(ErrorCode::kInvalidGroupId, "Committed needs options.group_id");
  }
  EVLOG_ASSIGN_OR_RETURN(auto committed, FetchCommitted(partitions));
  std::map<TopicPartition, OffsetAndMetadata> out;
  for (auto& [tp, value] : committed) {
    out[tp] = OffsetAndMetadata{value.offset, value.leader_epoch, value.metadata};
  }
  return out;
}

ConsumerGroupMetadata Consumer::GroupMetadata() const {
  ConsumerGroupMetadata m;
  m.group_id = options_.group_id;
  m.group_instance_id = options_.group_instance_id;
  if (group_ != nullptr) {
    m.generation = group_->generation;
    m.member_id = group_->member_id;
  }
  return m;
}

}  // namespace evlog
