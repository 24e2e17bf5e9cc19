#include "evlog/group/group_coordinator.h"

#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <set>
#include <shared_mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "evlog/check.h"
#include "evlog/status.h"

namespace evlog {

namespace {

using internal::ToAbsl;

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

absl::Status NotAvailable() {
  return MakeError(ErrorCode::kCoordinatorNotAvailable, "the group coordinator is not available");
}

absl::Status UnknownMember(std::string_view member_id) {
  return MakeError(ErrorCode::kUnknownMemberId,
                   absl::StrCat("unknown member id '", ToAbsl(member_id), "'"));
}

}  // namespace

std::string_view GroupStateName(GroupState state) {
  switch (state) {
    case GroupState::kEmpty:
      return "Empty";
    case GroupState::kPreparingRebalance:
      return "PreparingRebalance";
    case GroupState::kCompletingRebalance:
      return "CompletingRebalance";
    case GroupState::kStable:
      return "Stable";
    case GroupState::kDead:
      return "Dead";
  }
  return "Unknown";
}

struct GroupCoordinator::Member {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::vector<GroupProtocol> protocols;
  int64_t session_timeout_ms = 0;
  int64_t rebalance_timeout_ms = 0;
  uint64_t join_order = 0;
  // Set while the member waits for the rebalance to complete.
  JoinGroupCallback awaiting_join;
  // Set while the member waits for the leader's assignment.
  SyncGroupCallback awaiting_sync;
  // Heartbeats and commits move it under the group's shared lock.
  std::atomic<int64_t> session_deadline_ms{0};
  std::string assignment;

  const std::string* MetadataFor(std::string_view protocol) const {
    for (const GroupProtocol& p : protocols) {
      if (p.name == protocol) return &p.metadata;
    }
    return nullptr;
  }
};

struct GroupCoordinator::Group {
  explicit Group(std::string id_in) : id(std::move(id_in)) {}

  const std::string id;
  // For timer tasks, which must not keep a deleted group alive.
  std::weak_ptr<Group> self;
  // Exclusive for state changes; shared for heartbeats and commits.
  std::shared_mutex mu;
  GroupState state = GroupState::kEmpty;
  Generation generation{0};
  std::string protocol_type;
  std::string protocol_name;
  std::string leader_id;
  std::map<std::string, std::unique_ptr<Member>, std::less<>> members;
  // Instance id -> the member id that holds it.
  std::map<std::string, std::string, std::less<>> static_members;
  // KIP-394: ids handed out with MEMBER_ID_REQUIRED, not yet joined, and
  // until when they may come back.
  std::map<std::string, int64_t, std::less<>> pending_members;
  // Members of the generation that have not sent SyncGroup yet; they are
  // removed at sync_deadline_ms.
  std::set<std::string, std::less<>> pending_sync;
  int64_t sync_deadline_ms = kNever;
  // PreparingRebalance: when the join completes without the members that
  // have not rejoined.
  int64_t join_deadline_ms = kNever;
  // The first rebalance of an empty group waits at least until here
  // (initial_rebalance_delay_ms), and at most until initial_delay_cap_ms.
  int64_t initial_delay_until_ms = 0;
  int64_t initial_delay_cap_ms = 0;
  // The earliest deadline a timer task is scheduled for.
  int64_t timer_at_ms = kNever;
  uint64_t next_join_order = 0;
  // The last generation whose assignment the leader handed over.
  Generation assigned_generation{-1};
  // Wall time it last became Empty (for offset expiry); unset when never.
  std::optional<int64_t> empty_since_wall_ms;

  bool AllMembersJoined() const {
    if (!pending_members.empty()) return false;
    for (const auto& [id, member] : members) {
      if (!member->awaiting_join) return false;
    }
    return true;
  }
  // The protocols every member supports.
  std::set<std::string> CandidateProtocols() const {
    std::set<std::string> candidates;
    bool first = true;
    for (const auto& [id, member] : members) {
      std::set<std::string> names;
      for (const GroupProtocol& p : member->protocols) names.insert(p.name);
      if (first) {
        candidates = std::move(names);
        first = false;
      } else {
        std::set<std::string> both;
        std::set_intersection(candidates.begin(), candidates.end(), names.begin(), names.end(),
                              std::inserter(both, both.end()));
        candidates = std::move(both);
      }
    }
    return candidates;
  }
  // The protocol most members prefer among those all of them support; ties
  // go to the name that sorts first, so the choice is deterministic.
  // REQUIRES: members share a protocol (joins that would break that are
  // refused).
  std::string SelectProtocol() const {
    const std::set<std::string> candidates = CandidateProtocols();
    EVLOG_CHECK(!candidates.empty());
    std::map<std::string, int> votes;
    for (const auto& [id, member] : members) {
      for (const GroupProtocol& p : member->protocols) {
        if (candidates.count(p.name) != 0) {
          ++votes[p.name];
          break;
        }
      }
    }
    std::string chosen = *candidates.begin();
    int best = -1;
    for (const auto& [name, count] : votes) {
      if (count > best) {
        best = count;
        chosen = name;
      }
    }
    return chosen;
  }
  int64_t MaxRebalanceTimeoutMs() const {
    int64_t most = 0;
    for (const auto& [id, member] : members) {
      most = std::max(most, member->rebalance_timeout_ms);
    }
    return most;
  }
};

namespace {

absl::Status ValidateOptions(const GroupCoordinatorOptions& opts) {
  if (opts.min_session_timeout_ms < 1 ||
      opts.max_session_timeout_ms < opts.min_session_timeout_ms) {
    return MakeError(ErrorCode::kInvalidConfig,
                     "session timeouts: need 1 <= min_session_timeout_ms <= "
                     "max_session_timeout_ms");
  }
  if (opts.initial_rebalance_delay_ms < 0 || opts.max_group_size < 1 ||
      opts.offsets_retention_ms < 0 || opts.offsets_retention_check_interval_ms < 1) {
    return MakeError(ErrorCode::kInvalidConfig,
                     "initial_rebalance_delay_ms and offsets_retention_ms must be >= 0, "
                     "max_group_size and offsets_retention_check_interval_ms >= 1");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<GroupCoordinator>> GroupCoordinator::ForBroker(
    Broker& broker, const GroupCoordinatorOptions* options) {
  bool made = false;
  absl::StatusOr<std::shared_ptr<GroupCoordinator>> coordinator =
      broker.Service<GroupCoordinator>([&]() -> absl::StatusOr<std::shared_ptr<GroupCoordinator>> {
        GroupCoordinatorOptions opts = options != nullptr ? *options : GroupCoordinatorOptions{};
        EVLOG_RETURN_IF_ERROR(ValidateOptions(opts));
        EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<OffsetStore> store,
                               OffsetStore::Open(broker, opts.offset_store));
        made = true;
        return std::shared_ptr<GroupCoordinator>(
            new GroupCoordinator(broker.clock(), broker.executor(), broker.log_sink(),
                                 std::move(opts), std::move(store)));
      });
  if (!coordinator.ok()) return coordinator.status();
  if (options != nullptr && !made) {
    return absl::FailedPreconditionError(
        "the broker's group coordinator already runs; options can only be given to the first "
        "ForBroker call");
  }
  if (made) (*coordinator)->ScheduleExpiry();
  return coordinator;
}

absl::StatusOr<std::shared_ptr<GroupCoordinator>> GroupCoordinator::Create(
    Clock& clock, Executor& executor, LogSink& log_sink, std::unique_ptr<CoordinatorLog> log,
    GroupCoordinatorOptions options) {
  EVLOG_RETURN_IF_ERROR(ValidateOptions(options));
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<OffsetStore> store,
                         OffsetStore::Open(std::move(log), options.offset_store));
  EVLOG_RETURN_IF_ERROR(store->EnsureTopic());
  std::shared_ptr<GroupCoordinator> coordinator(
      new GroupCoordinator(clock, executor, log_sink, std::move(options), std::move(store)));
  coordinator->ScheduleExpiry();
  return coordinator;
}

GroupCoordinator::GroupCoordinator(Clock& clock, Executor& executor, LogSink& log_sink,
                                   GroupCoordinatorOptions options,
                                   std::unique_ptr<OffsetStore> store)
    : clock_(clock),
      log_sink_(log_sink),
      options_(std::move(options)),
      store_(std::move(store)),
      tasks_(executor),
      member_id_seed_(static_cast<uint64_t>(clock.WallMs()) ^
                      static_cast<uint64_t>(clock.MonotonicNs())) {}

GroupCoordinator::~GroupCoordinator() {
  Shutdown();
  // Before the groups go: the store waits for its appends, whose
  // completions may still reach them (an expiry pass).
  store_.reset();
}

void GroupCoordinator::ScheduleExpiry() {
  // `this` outlives the task and the pass it starts: Shutdown() closes
  // tasks_ first, and the store waits for its appends.
  tasks_.ScheduleAfter(options_.offsets_retention_check_interval_ms, [this] {
    ExpireOffsetsAsync([this](absl::StatusOr<std::vector<ExpiredOffset>> expired) {
      if (!expired.ok()) {
        Log(LogLevel::kWarning, absl::StrCat("offset expiry: ", expired.status().ToString()));
      }
      ScheduleExpiry();
    });
  });
}

int64_t GroupCoordinator::NowMs() const { return clock_.MonotonicNs() / 1'000'000; }

void GroupCoordinator::Log(LogLevel level, std::string_view message) const {
  LogSink& sink = log_sink_;
  if (sink.Enabled(level)) sink.Log(level, kServiceName, message);
}

std::shared_ptr<GroupCoordinator::Group> GroupCoordinator::FindGroup(std::string_view group_id,
                                                                     bool create) {
  std::lock_guard lock(mu_);
  if (shut_down_) return nullptr;
  auto it = groups_.find(group_id);
  if (it != groups_.end()) return it->second;
  if (!create) return nullptr;
  auto group = std::make_shared<Group>(std::string(group_id));
  group->self = group;
  groups_.emplace(group->id, group);
  return group;
}

std::shared_ptr<GroupCoordinator::Group> GroupCoordinator::FindGroupConst(
    std::string_view group_id) const {
  std::lock_guard lock(mu_);
  if (shut_down_) return nullptr;
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : it->second;
}

std::string GroupCoordinator::NewMemberId(std::string_view client_id) {
  const uint64_t n = next_member_.fetch_add(1, std::memory_order_relaxed) + 1;
  // Unique per coordinator by the counter; the hash makes ids of separate
  // runs differ, so an id from before a restart is not taken for a member.
  const uint64_t h = XXH3_64bits_withSeed(&n, sizeof(n), member_id_seed_);
  return absl::StrFormat("%s-%016x", ToAbsl(client_id.empty() ? "member" : client_id), h);
}

namespace {

// Validates a member's identity against the group (REQUIRES its lock).
template <typename GroupT>
absl::Status CheckMember(const GroupT& group, std::string_view member_id,
                         const std::optional<std::string>& instance_id) {
  if (instance_id.has_value()) {
    auto it = group.static_members.find(*instance_id);
    if (it == group.static_members.end()) return UnknownMember(member_id);
    if (it->second != member_id) {
      return MakeError(ErrorCode::kFencedInstanceId,
                       absl::StrCat("group instance id '", *instance_id, "' is held by member '",
                                    it->second, "', not '", ToAbsl(member_id), "'"));
    }
  }
  if (group.members.find(member_id) == group.members.end()) return UnknownMember(member_id);
  return absl::OkStatus();
}

// Queues `callback(response)` to run once the coordinator's locks are
// released (callbacks may call back into it).
template <typename Callback, typename Response>
void Defer(std::vector<absl::AnyInvocable<void() &&>>& out, Callback callback, Response response) {
  out.push_back([cb = std::move(callback), r = std::move(response)]() mutable {
    std::move(cb)(std::move(r));
  });
}

bool SameProtocols(const std::vector<GroupProtocol>& a, const std::vector<GroupProtocol>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].metadata != b[i].metadata) return false;
  }
  return true;
}

}  // namespace

void GroupCoordinator::JoinGroup(JoinGroupRequest request, JoinGroupCallback done) {
  auto fail = [&](absl::Status status) {
    JoinGroupResponse response;
    response.status = std::move(status);
    response.member_id = request.member_id;
    std::move(done)(std::move(response));
  };
  if (request.group_id.empty()) {
    return fail(MakeError(ErrorCode::kInvalidGroupId, "the group id is empty"));
  }
  if (request.session_timeout_ms < options_.min_session_timeout_ms ||
      request.session_timeout_ms > options_.max_session_timeout_ms) {
    return fail(MakeError(
        ErrorCode::kInvalidSessionTimeout,
        absl::StrCat("session timeout ", request.session_timeout_ms, " ms is outside [",
                     options_.min_session_timeout_ms, ", ", options_.max_session_timeout_ms,
                     "] ms (min/max_session_timeout_ms of the coordinator)")));
  }
  if (request.protocol_type.empty() || request.protocols.empty()) {
    return fail(MakeError(ErrorCode::kInconsistentGroupProtocol,
                          "a join needs a protocol type and at least one protocol"));
  }
  if (request.group_instance_id.has_value() && request.group_instance_id->empty()) {
    return fail(MakeError(ErrorCode::kInvalidRequest, "the group instance id is empty"));
  }
  request.rebalance_timeout_ms = std::max(request.rebalance_timeout_ms, request.session_timeout_ms);

  std::shared_ptr<Group> group = FindGroup(request.group_id, /*create=*/request.member_id.empty());
  if (group == nullptr) {
    {
      std::lock_guard lock(mu_);
      if (shut_down_) return fail(NotAvailable());
    }
    return fail(UnknownMember(request.member_id));
  }
  Completions out;
  {
    std::unique_lock lock(group->mu);
    absl::Status error;
    if (group->state == GroupState::kDead) {
      error = NotAvailable();
    } else if (!group->members.empty()) {
      bool shared_protocol = request.protocol_type == group->protocol_type;
      if (shared_protocol) {
        const std::set<std::string> candidates = group->CandidateProtocols();
        shared_protocol = false;
        for (const GroupProtocol& p : request.protocols) {
          if (candidates.count(p.name) != 0) shared_protocol = true;
        }
      }
      if (!shared_protocol) {
        error = MakeError(ErrorCode::kInconsistentGroupProtocol,
                          absl::StrCat("no protocol of type '", request.protocol_type,
                                       "' that every member of group '", group->id, "' supports"));
      }
    }
    if (!error.ok()) {
      lock.unlock();
      return fail(std::move(error));
    }
    if (request.member_id.empty()) {
      JoinUnknownMemberLocked(*group, request, done, out);
    } else if (auto pending = group->pending_members.find(request.member_id);
               pending != group->pending_members.end() && !request.group_instance_id) {
      // The second join of KIP-394: now a member.
      group->pending_members.erase(pending);
      JoinUnknownMemberLocked(*group, request, done, out);
    } else if (absl::Status status =
                   CheckMember(*group, request.member_id, request.group_instance_id);
               !status.ok()) {
      lock.unlock();
      return fail(std::move(status));
    } else {
      Member& member = *group->members.find(request.member_id)->second;
      JoinKnownMemberLocked(*group, member, request, done, out);
    }
    RearmLocked(*group);
  }
  for (auto& completion : out) std::move(completion)();
}

void GroupCoordinator::JoinUnknownMemberLocked(Group& group, JoinGroupRequest& request,
                                               JoinGroupCallback& done, Completions& out) {
  const int64_t now = NowMs();
  auto answer_now = [&](JoinGroupResponse response) {
    Defer(out, std::move(done), std::move(response));
  };

  // A static member coming back (KIP-345): it takes its old place.
  if (request.group_instance_id.has_value()) {
    auto held = group.static_members.find(*request.group_instance_id);
    if (held != group.static_members.end()) {
      const std::string old_id = held->second;
      auto node = group.members.extract(old_id);
      EVLOG_CHECK(!node.empty());
      Member& member = *node.mapped();
      const std::string new_id = NewMemberId(request.client_id);
      const absl::Status fenced =
          MakeError(ErrorCode::kFencedInstanceId,
                    absl::StrCat("member '", old_id, "' was replaced by '", new_id,
                                 "', a newer member with group instance id '",
                                 *request.group_instance_id, "'"));
      if (member.awaiting_join) {
        JoinGroupResponse response;
        response.status = fenced;
        response.member_id = old_id;
        Defer(out, std::exchange(member.awaiting_join, nullptr), response);
      }
      if (member.awaiting_sync) {
        SyncGroupResponse response;
        response.status = fenced;
        Defer(out, std::exchange(member.awaiting_sync, nullptr), response);
      }
      node.key() = new_id;
      member.member_id = new_id;
      member.client_id = request.client_id;
      member.session_timeout_ms = request.session_timeout_ms;
      member.rebalance_timeout_ms = request.rebalance_timeout_ms;
      member.session_deadline_ms.store(now + member.session_timeout_ms);
      group.members.insert(std::move(node));
      held->second = new_id;
      if (group.leader_id == old_id) group.leader_id = new_id;
      if (group.pending_sync.erase(old_id) != 0) group.pending_sync.insert(new_id);
      Log(LogLevel::kInfo,
          absl::StrCat("group ", group.id, ": static member ", *request.group_instance_id,
                       " rejoined as ", new_id, " (was ", old_id, ")"));
      // Its metadata may differ (a restarted consumer owns nothing yet),
      // but as in Kafka only a change of the group's protocol rebalances.
      std::vector<GroupProtocol> old_protocols = std::move(member.protocols);
      member.protocols = request.protocols;
      const bool unchanged = group.SelectProtocol() == group.protocol_name;
      if (group.state == GroupState::kStable && unchanged) {
        // Back in its place with its assignment: no rebalance. It gets its
        // assignment from SyncGroup, as after any join.
        JoinGroupResponse response;
        response.generation = group.generation;
        response.protocol_type = group.protocol_type;
        response.protocol_name = group.protocol_name;
        response.leader_id = group.leader_id;
        response.member_id = new_id;
        return answer_now(std::move(response));
      }
      static_cast<void>(old_protocols);
      member.awaiting_join = std::move(done);
      if (group.state == GroupState::kPreparingRebalance) {
        MaybeCompleteJoinLocked(group, out);
      } else {
        PrepareRebalanceLocked(group,
                               absl::StrCat("static member ", *request.group_instance_id,
                                            " rejoined", unchanged ? "" : " with new metadata"),
                               out);
      }
      return;
    }
  }

  const bool kip394_second_join = !request.member_id.empty();
  if (request.require_known_member_id && !kip394_second_join &&
      !request.group_instance_id.has_value()) {
    const std::string id = NewMemberId(request.client_id);
    group.pending_members[id] = now + request.session_timeout_ms;
    ArmTimerLocked(group, now + request.session_timeout_ms);
    JoinGroupResponse response;
    response.status =
        MakeError(ErrorCode::kMemberIdRequired, "join again with the member id of this response");
    response.member_id = id;
    return answer_now(std::move(response));
  }
  if (static_cast<int64_t>(group.members.size()) >= options_.max_group_size) {
    JoinGroupResponse response;
    response.status = MakeError(ErrorCode::kGroupMaxSizeReached,
                                absl::StrCat("group ", group.id, " has ", group.members.size(),
                                             " members, the most "
                                             "max_group_size allows"));
    response.member_id = request.member_id;
    return answer_now(std::move(response));
  }

  auto member = std::make_unique<Member>();
  member->member_id = kip394_second_join ? request.member_id : NewMemberId(request.client_id);
  member->instance_id = request.group_instance_id;
  member->client_id = request.client_id;
  member->protocols = std::move(request.protocols);
  member->session_timeout_ms = request.session_timeout_ms;
  member->rebalance_timeout_ms = request.rebalance_timeout_ms;
  member->join_order = group.next_join_order++;
  member->awaiting_join = std::move(done);
  member->session_deadline_ms.store(now + member->session_timeout_ms);
  if (group.members.empty()) group.protocol_type = request.protocol_type;
  if (member->instance_id.has_value())
    group.static_members[*member->instance_id] = member->member_id;
  const std::string id = member->member_id;
  group.members.emplace(id, std::move(member));
  if (group.state == GroupState::kPreparingRebalance) {
    if (group.initial_delay_until_ms > now) {
      group.initial_delay_until_ms =
          std::min(group.initial_delay_cap_ms, now + options_.initial_rebalance_delay_ms);
    }
    group.join_deadline_ms = std::max(group.join_deadline_ms, now + group.MaxRebalanceTimeoutMs());
    MaybeCompleteJoinLocked(group, out);
    ArmTimerLocked(group, group.initial_delay_until_ms);
  } else {
    PrepareRebalanceLocked(group, absl::StrCat("member ", id, " joined"), out);
  }
}

void GroupCoordinator::JoinKnownMemberLocked(Group& group, Member& member,
                                             JoinGroupRequest& request, JoinGroupCallback& done,
                                             Completions& out) {
  const int64_t now = NowMs();
  member.session_timeout_ms = request.session_timeout_ms;
  member.rebalance_timeout_ms = request.rebalance_timeout_ms;
  member.client_id = request.client_id;
  member.session_deadline_ms.store(now + member.session_timeout_ms);
  const bool unchanged = SameProtocols(member.protocols, request.protocols);

  auto current_generation = [&](bool with_members) {
    JoinGroupResponse response;
    response.generation = group.generation;
    response.protocol_type = group.protocol_type;
    response.protocol_name = group.protocol_name;
    response.leader_id = group.leader_id;
    response.member_id = member.member_id;
    if (with_members) {
      for (const auto& [id, m] : group.members) {
        const std::string* metadata = m->MetadataFor(group.protocol_name);
        response.members.push_back({id, m->instance_id, metadata ? *metadata : std::string()});
      }
    }
    return response;
  };

  switch (group.state) {
    case GroupState::kPreparingRebalance:
      if (member.awaiting_join) {
        // A second join while the first waits: the newer one is answered.
        JoinGroupResponse superseded;
        superseded.status = MakeError(ErrorCode::kRebalanceInProgress,
                                      "superseded by a newer join of the same member");
        superseded.member_id = member.member_id;
        Defer(out, std::exchange(member.awaiting_join, nullptr), superseded);
      }
      member.protocols = std::move(request.protocols);
      member.awaiting_join = std::move(done);
      MaybeCompleteJoinLocked(group, out);
      return;
    case GroupState::kCompletingRebalance:
      if (unchanged) {
        // It lost the answer to its join: the same answer again.
        JoinGroupResponse response = current_generation(member.member_id == group.leader_id);
        Defer(out, std::move(done), std::move(response));
        return;
      }
      break;
    case GroupState::kStable:
      if (unchanged && member.member_id != group.leader_id) {
        JoinGroupResponse response = current_generation(false);
        Defer(out, std::move(done), std::move(response));
        return;
      }
      break;
    case GroupState::kEmpty:
    case GroupState::kDead:
      // No members to be found in these states.
      EVLOG_CHECK(false);
  }
  member.protocols = std::move(request.protocols);
  member.awaiting_join = std::move(done);
  PrepareRebalanceLocked(
      group,
      absl::StrCat(member.member_id == group.leader_id ? "the leader " : "member ",
                   member.member_id, " rejoined",
                   request.reason.empty() ? "" : absl::StrCat(": ", request.reason)),
      out);
}

void GroupCoordinator::PrepareRebalanceLocked(Group& group, std::string_view reason,
                                              Completions& out) {
  const int64_t now = NowMs();
  if (group.state == GroupState::kCompletingRebalance) {
    // The assignment being handed over is void: every waiting member
    // rejoins.
    for (auto& [id, member] : group.members) {
      if (!member->awaiting_sync) continue;
      SyncGroupResponse response;
      response.status = MakeError(ErrorCode::kRebalanceInProgress,
                                  absl::StrCat("group ", group.id, " is rebalancing again"));
      Defer(out, std::exchange(member->awaiting_sync, nullptr), response);
    }
  }
  if (group.state == GroupState::kCompletingRebalance) {
    for (auto& [id, member] : group.members) member->assignment.clear();
  }
  group.pending_sync.clear();
  group.sync_deadline_ms = kNever;
  if (group.state == GroupState::kEmpty && options_.initial_rebalance_delay_ms > 0) {
    group.initial_delay_until_ms = now + options_.initial_rebalance_delay_ms;
    group.initial_delay_cap_ms =
        now + std::max(group.MaxRebalanceTimeoutMs(), options_.initial_rebalance_delay_ms);
  } else {
    group.initial_delay_until_ms = 0;
  }
  group.state = GroupState::kPreparingRebalance;
  group.join_deadline_ms = now + group.MaxRebalanceTimeoutMs();
  Log(LogLevel::kInfo, absl::StrCat("group ", group.id, " rebalancing (generation ",
                                    group.generation.value(), "): ", ToAbsl(reason)));
  MaybeCompleteJoinLocked(group, out);
  if (group.state == GroupState::kPreparingRebalance) {
    ArmTimerLocked(group, std::max(group.initial_delay_until_ms, now));
    ArmTimerLocked(group, group.join_deadline_ms);
  }
}

void GroupCoordinator::MaybeCompleteJoinLocked(Group& group, Completions& out) {
  if (group.state != GroupState::kPreparingRebalance) return;
  if (NowMs() < group.initial_delay_until_ms) return;
  if (group.AllMembersJoined()) CompleteJoinLocked(group, out);
}

void GroupCoordinator::CompleteJoinLocked(Group& group, Completions& out) {
  const int64_t now = NowMs();
  // Dynamic members that did not rejoin in time are gone; static ones
  // keep their place until their session times out.
  std::vector<std::string> gone;
  bool anyone_joined = false;
  for (const auto& [id, member] : group.members) {
    if (member->awaiting_join) {
      anyone_joined = true;
    } else if (!member->instance_id.has_value()) {
      gone.push_back(id);
    }
  }
  for (const std::string& id : gone) {
    Log(LogLevel::kInfo, absl::StrCat("group ", group.id, ": member ", id,
                                      " did not rejoin within the rebalance timeout"));
    if (group.leader_id == id) group.leader_id.clear();
    group.members.erase(id);
  }
  group.pending_members.clear();
  if (group.members.empty()) {
    group.generation = Generation(group.generation.value() + 1);
    group.state = GroupState::kEmpty;
    group.protocol_name.clear();
    group.leader_id.clear();
    group.join_deadline_ms = kNever;
    group.empty_since_wall_ms = clock_.WallMs();
    Log(LogLevel::kInfo,
        absl::StrCat("group ", group.id, " is empty at generation ", group.generation.value()));
    return;
  }
  if (!anyone_joined) {
    // Only static members that have not rejoined: wait for them, or for
    // their sessions to end.
    group.join_deadline_ms = now + group.MaxRebalanceTimeoutMs();
    ArmTimerLocked(group, group.join_deadline_ms);
    return;
  }

  const std::string chosen = group.SelectProtocol();
  group.protocol_name = chosen;
  group.generation = Generation(group.generation.value() + 1);
  auto leader = group.members.find(group.leader_id);
  if (leader == group.members.end() || !leader->second->awaiting_join) {
    const Member* first = nullptr;
    for (const auto& [id, member] : group.members) {
      if (member->awaiting_join && (first == nullptr || member->join_order < first->join_order)) {
        first = member.get();
      }
    }
    group.leader_id = first->member_id;
  }
  group.state = GroupState::kCompletingRebalance;
  group.join_deadline_ms = kNever;
  group.initial_delay_until_ms = 0;
  group.sync_deadline_ms = now + group.MaxRebalanceTimeoutMs();
  group.pending_sync.clear();
  std::vector<JoinGroupMember> all;
  for (auto& [id, member] : group.members) {
    group.pending_sync.insert(id);
    member->session_deadline_ms.store(now + member->session_timeout_ms);
    const std::string* metadata = member->MetadataFor(chosen);
    all.push_back({id, member->instance_id, metadata ? *metadata : std::string()});
  }
  Log(LogLevel::kInfo, absl::StrCat("group ", group.id, " generation ", group.generation.value(),
                                    ": ", group.members.size(), " members, protocol ", chosen,
                                    ", leader ", group.leader_id));
  for (auto& [id, member] : group.members) {
    if (!member->awaiting_join) continue;
    JoinGroupResponse response;
    response.generation = group.generation;
    response.protocol_type = group.protocol_type;
    response.protocol_name = chosen;
    response.leader_id = group.leader_id;
    response.member_id = id;
    if (id == group.leader_id) response.members = all;
    Defer(out, std::exchange(member->awaiting_join, nullptr), std::move(response));
  }
  ArmTimerLocked(group, group.sync_deadline_ms);
}

void GroupCoordinator::RemoveMemberLocked(Group& group, const std::string& member_id,
                                          const absl::Status& why, Completions& out) {
  auto it = group.members.find(member_id);
  if (it == group.members.end()) return;
  Member& member = *it->second;
  if (member.awaiting_join) {
    JoinGroupResponse response;
    response.status = why;
    response.member_id = member_id;
    Defer(out, std::exchange(member.awaiting_join, nullptr), response);
  }
  if (member.awaiting_sync) {
    SyncGroupResponse response;
    response.status = why;
    Defer(out, std::exchange(member.awaiting_sync, nullptr), response);
  }
  if (member.instance_id.has_value()) group.static_members.erase(*member.instance_id);
  group.pending_sync.erase(member_id);
  if (group.leader_id == member_id) group.leader_id.clear();
  group.members.erase(it);
  switch (group.state) {
    case GroupState::kStable:
    case GroupState::kCompletingRebalance:
      PrepareRebalanceLocked(group, absl::StrCat("member ", member_id, " left: ", why.message()),
                             out);
      break;
    case GroupState::kPreparingRebalance:
      MaybeCompleteJoinLocked(group, out);
      break;
    case GroupState::kEmpty:
    case GroupState::kDead:
      break;
  }
}

void GroupCoordinator::ArmTimerLocked(Group& group, int64_t deadline_ms) {
  if (deadline_ms >= group.timer_at_ms || deadline_ms == kNever) return;
  group.timer_at_ms = deadline_ms;
  const int64_t delay = std::max<int64_t>(0, deadline_ms - NowMs());
  tasks_.ScheduleAfter(delay, [this, weak = group.self, deadline_ms] {
    std::shared_ptr<Group> group = weak.lock();
    if (group == nullptr) return;
    Completions out;
    {
      std::unique_lock lock(group->mu);
      if (group->timer_at_ms == deadline_ms) group->timer_at_ms = kNever;
      OnTimerLocked(*group, out);
    }
    for (auto& completion : out) std::move(completion)();
  });
}

void GroupCoordinator::OnTimerLocked(Group& group, Completions& out) {
  if (group.state == GroupState::kDead) return;
  const int64_t now = NowMs();
  for (auto it = group.pending_members.begin(); it != group.pending_members.end();) {
    it = it->second <= now ? group.pending_members.erase(it) : std::next(it);
  }
  // Members waiting in a rebalance are not expected to heartbeat; the
  // rebalance's own deadlines bound them.
  std::vector<std::string> expired;
  for (const auto& [id, member] : group.members) {
    const bool exempt = member->awaiting_join || member->awaiting_sync;
    if (!exempt && member->session_deadline_ms.load() <= now) expired.push_back(id);
  }
  for (const std::string& id : expired) {
    Log(LogLevel::kInfo,
        absl::StrCat("group ", group.id, ": member ", id, " removed, its session timed out"));
    RemoveMemberLocked(
        group, id,
        MakeError(ErrorCode::kUnknownMemberId, absl::StrCat("member ", id, "'s session timed out")),
        out);
  }
  if (group.state == GroupState::kPreparingRebalance) {
    if (now >= group.join_deadline_ms) {
      CompleteJoinLocked(group, out);
    } else {
      MaybeCompleteJoinLocked(group, out);
    }
  }
  if ((group.state == GroupState::kCompletingRebalance || group.state == GroupState::kStable) &&
      !group.pending_sync.empty() && now >= group.sync_deadline_ms) {
    // Members that never came for their assignment (Kafka 2.8+).
    std::vector<std::string> late(group.pending_sync.begin(), group.pending_sync.end());
    for (const std::string& id : late) {
      Log(LogLevel::kInfo,
          absl::StrCat("group ", group.id, ": member ", id, " removed, it did not sync in time"));
      RemoveMemberLocked(group, id,
                         MakeError(ErrorCode::kUnknownMemberId,
                                   absl::StrCat("member ", id, " did not sync in time")),
                         out);
    }
  }
  RearmLocked(group);
}

void GroupCoordinator::RearmLocked(Group& group) {
  if (group.state == GroupState::kDead) return;
  const int64_t now = NowMs();
  int64_t next = kNever;
  for (const auto& [id, deadline] : group.pending_members) next = std::min(next, deadline);
  for (const auto& [id, member] : group.members) {
    if (!member->awaiting_join && !member->awaiting_sync) {
      next = std::min(next, member->session_deadline_ms.load());
    }
  }
  if (group.state == GroupState::kPreparingRebalance) {
    next = std::min(next, group.join_deadline_ms);
    if (group.initial_delay_until_ms > now) next = std::min(next, group.initial_delay_until_ms);
  }
  if (!group.pending_sync.empty()) next = std::min(next, group.sync_deadline_ms);
  ArmTimerLocked(group, next);
}

void GroupCoordinator::SyncGroup(SyncGroupRequest request, SyncGroupCallback done) {
  auto fail = [&](absl::Status status) {
    SyncGroupResponse response;
    response.status = std::move(status);
    std::move(done)(std::move(response));
  };
  std::shared_ptr<Group> group = FindGroup(request.group_id, /*create=*/false);
  if (group == nullptr) {
    std::lock_guard lock(mu_);
    return fail(shut_down_ ? NotAvailable() : UnknownMember(request.member_id));
  }
  Completions out;
  {
    std::unique_lock lock(group->mu);
    absl::Status error;
    if (group->state == GroupState::kDead) {
      error = NotAvailable();
    } else if (absl::Status status =
                   CheckMember(*group, request.member_id, request.group_instance_id);
               !status.ok()) {
      error = std::move(status);
    } else if (request.generation != group->generation) {
      error = MakeError(ErrorCode::kIllegalGeneration,
                        absl::StrCat("generation ", request.generation.value(), " is not group ",
                                     group->id, "'s ", group->generation.value()));
    } else if ((request.protocol_type && *request.protocol_type != group->protocol_type) ||
               (request.protocol_name && *request.protocol_name != group->protocol_name)) {
      error = MakeError(ErrorCode::kInconsistentGroupProtocol,
                        "the protocol type or name is not the group's");
    } else if (group->state == GroupState::kPreparingRebalance &&
               group->assigned_generation != group->generation) {
      error = MakeError(ErrorCode::kRebalanceInProgress,
                        absl::StrCat("group ", group->id, " is rebalancing"));
    }
    if (!error.ok()) {
      lock.unlock();
      return fail(std::move(error));
    }
    Member& member = *group->members.find(request.member_id)->second;
    member.session_deadline_ms.store(NowMs() + member.session_timeout_ms);
    group->pending_sync.erase(member.member_id);
    auto answer = [&](Member& m) {
      SyncGroupResponse response;
      response.protocol_type = group->protocol_type;
      response.protocol_name = group->protocol_name;
      response.assignment = m.assignment;
      return response;
    };
    if (group->state == GroupState::kStable || group->state == GroupState::kPreparingRebalance) {
      // PreparingRebalance: the member is late for an assignment that was
      // handed out (see the header); it learns of the rebalance next.
      Defer(out, std::move(done), answer(member));
    } else {  // CompletingRebalance
      if (member.awaiting_sync) {
        SyncGroupResponse superseded;
        superseded.status = MakeError(ErrorCode::kRebalanceInProgress,
                                      "superseded by a newer sync of the same member");
        Defer(out, std::exchange(member.awaiting_sync, nullptr), superseded);
      }
      member.awaiting_sync = std::move(done);
      if (member.member_id == group->leader_id) {
        for (auto& [id, m] : group->members) {
          auto given = request.assignments.find(id);
          m->assignment = given == request.assignments.end() ? std::string() : given->second;
        }
        group->state = GroupState::kStable;
        group->assigned_generation = group->generation;
        Log(LogLevel::kInfo, absl::StrCat("group ", group->id, " is stable at generation ",
                                          group->generation.value()));
        for (auto& [id, m] : group->members) {
          if (!m->awaiting_sync) continue;
          Defer(out, std::exchange(m->awaiting_sync, nullptr), answer(*m));
        }
      }
    }
    RearmLocked(*group);
  }
  for (auto& completion : out) std::move(completion)();
}

absl::Status GroupCoordinator::Heartbeat(std::string_view group_id, std::string_view member_id,
                                         const std::optional<std::string>& group_instance_id,
                                         Generation generation) {
  std::shared_ptr<Group> group = FindGroup(group_id, /*create=*/false);
  if (group == nullptr) {
    std::lock_guard lock(mu_);
    return shut_down_ ? NotAvailable() : UnknownMember(member_id);
  }
  std::shared_lock lock(group->mu);
  if (group->state == GroupState::kDead) return NotAvailable();
  EVLOG_RETURN_IF_ERROR(CheckMember(*group, member_id, group_instance_id));
  if (generation != group->generation) {
    return MakeError(ErrorCode::kIllegalGeneration,
                     absl::StrCat("generation ", generation.value(), " is not group ", group->id,
                                  "'s ", group->generation.value()));
  }
  Member& member = *group->members.find(member_id)->second;
  member.session_deadline_ms.store(NowMs() + member.session_timeout_ms);
  if (group->state == GroupState::kPreparingRebalance) {
    return MakeError(ErrorCode::kRebalanceInProgress,
                     absl::StrCat("group ", group->id, " is rebalancing: rejoin"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<absl::Status>> GroupCoordinator::LeaveGroup(
    std::string_view group_id, std::span<const MemberIdentity> members) {
  std::shared_ptr<Group> group = FindGroup(group_id, /*create=*/false);
  std::vector<absl::Status> results;
  if (group == nullptr) {
    std::lock_guard lock(mu_);
    if (shut_down_) return NotAvailable();
    for (const MemberIdentity& m : members) results.push_back(UnknownMember(m.member_id));
    return results;
  }
  Completions out;
  {
    std::unique_lock lock(group->mu);
    if (group->state == GroupState::kDead) return NotAvailable();
    for (const MemberIdentity& m : members) {
      std::string id = m.member_id;
      if (m.group_instance_id.has_value()) {
        auto held = group->static_members.find(*m.group_instance_id);
        if (held == group->static_members.end()) {
          results.push_back(UnknownMember(m.member_id));
          continue;
        }
        if (!id.empty() && held->second != id) {
          results.push_back(CheckMember(*group, id, m.group_instance_id));
          continue;
        }
        id = held->second;
      }
      if (group->members.find(id) == group->members.end()) {
        results.push_back(UnknownMember(id));
        continue;
      }
      Log(LogLevel::kInfo, absl::StrCat("group ", group->id, ": member ", id, " left"));
      RemoveMemberLocked(
          *group, id,
          MakeError(ErrorCode::kUnknownMemberId, absl::StrCat("member ", id, " left the group")),
          out);
      results.push_back(absl::OkStatus());
    }
    RearmLocked(*group);
  }
  for (auto& completion : out) std::move(completion)();
  return results;
}

absl::Status GroupCoordinator::CommitOffsets(const OffsetCommitRequest& request) {
  return AwaitCallback<absl::Status>(
      tasks_.executor(), [&](auto done) { CommitOffsetsAsync(request, std::move(done)); });
}

void GroupCoordinator::CommitOffsetsAsync(const OffsetCommitRequest& request,
                                          absl::AnyInvocable<void(absl::Status)> done) {
  if (absl::Status s = CheckCommit(request); !s.ok()) {
    done(std::move(s));
    return;
  }
  // As in Kafka, the generation is checked when the commit is taken, not
  // again when its append completes.
  store_->CommitOffsetsAsync(request.group_id, request.offsets, clock_.WallMs(), std::move(done));
}

absl::Status GroupCoordinator::CheckCommit(const OffsetCommitRequest& request) {
  if (request.group_id.empty()) {
    return MakeError(ErrorCode::kInvalidGroupId, "the group id is empty");
  }
  const bool simple = request.generation.value() < 0 && request.member_id.empty();
  std::shared_ptr<Group> group = FindGroup(request.group_id, /*create=*/false);
  if (group == nullptr) {
    {
      std::lock_guard lock(mu_);
      if (shut_down_) return NotAvailable();
    }
    if (!simple) {
      return MakeError(ErrorCode::kIllegalGeneration,
                       absl::StrCat("group ", request.group_id, " has no generation ",
                                    request.generation.value()));
    }
    return absl::OkStatus();
  }
  std::shared_lock lock(group->mu);
  if (group->state == GroupState::kDead) return NotAvailable();
  if (!(simple && group->state == GroupState::kEmpty)) {
    if (simple) {
      return MakeError(ErrorCode::kIllegalGeneration,
                       absl::StrCat("group ", group->id,
                                    " has members: commit with a member id and generation"));
    }
    EVLOG_RETURN_IF_ERROR(CheckMember(*group, request.member_id, request.group_instance_id));
    if (request.generation != group->generation) {
      return MakeError(ErrorCode::kIllegalGeneration,
                       absl::StrCat("generation ", request.generation.value(), " is not group ",
                                    group->id, "'s ", group->generation.value()));
    }
    if (group->state == GroupState::kCompletingRebalance) {
      return MakeError(ErrorCode::kRebalanceInProgress,
                       absl::StrCat("group ", group->id, " is completing a rebalance"));
    }
    Member& member = *group->members.find(request.member_id)->second;
    member.session_deadline_ms.store(NowMs() + member.session_timeout_ms);
  }
  return absl::OkStatus();
}

absl::Status GroupCoordinator::TxnCommitOffsets(const TxnOffsetCommitRequest& request) {
  EVLOG_RETURN_IF_ERROR(CheckTxnCommit(request));
  // As CommitOffsets: checked when taken, the append not under the group's
  // lock (a Cluster's append may drive the executor while it waits).
  return store_->TxnCommitOffsets(request.group_id, request.producer_id, request.producer_epoch,
                                  request.offsets, clock_.WallMs());
}

absl::Status GroupCoordinator::CheckTxnCommit(const TxnOffsetCommitRequest& request) {
  if (request.group_id.empty()) {
    return MakeError(ErrorCode::kInvalidGroupId, "the group id is empty");
  }
  std::shared_ptr<Group> group = FindGroup(request.group_id, /*create=*/false);
  if (group == nullptr) {
    {
      std::lock_guard lock(mu_);
      if (shut_down_) return NotAvailable();
    }
    if (!request.member_id.empty()) return UnknownMember(request.member_id);
    if (request.generation.value() >= 0) {
      return MakeError(ErrorCode::kIllegalGeneration,
                       absl::StrCat("group ", request.group_id, " has no generation ",
                                    request.generation.value()));
    }
    return absl::OkStatus();
  }
  std::shared_lock lock(group->mu);
  if (group->state == GroupState::kDead) return NotAvailable();
  // Kafka's checks for TxnOffsetCommit (KIP-447): each field given is
  // checked; -1 and an empty member id skip theirs.
  if (!request.member_id.empty() || request.group_instance_id.has_value()) {
    EVLOG_RETURN_IF_ERROR(CheckMember(*group, request.member_id, request.group_instance_id));
  }
  if (request.generation.value() >= 0 && request.generation != group->generation) {
    return MakeError(ErrorCode::kIllegalGeneration,
                     absl::StrCat("generation ", request.generation.value(), " is not group ",
                                  group->id, "'s ", group->generation.value()));
  }
  return absl::OkStatus();
}

absl::Status GroupCoordinator::CompleteTransaction(PartitionId partition, ProducerId producer_id,
                                                   ProducerEpoch epoch, ControlRecordType type) {
  return store_->CompleteTransaction(partition, producer_id, epoch, type);
}

absl::StatusOr<std::map<TopicPartition, CommittedOffset>> GroupCoordinator::FetchStableOffsets(
    std::string_view group_id, std::optional<std::span<const TopicPartition>> partitions) const {
  return store_->FetchStableOffsets(group_id, partitions);
}

std::map<TopicPartition, CommittedOffset> GroupCoordinator::FetchOffsets(
    std::string_view group_id, std::optional<std::span<const TopicPartition>> partitions) const {
  return store_->FetchOffsets(group_id, partitions);
}

std::vector<GroupListing> GroupCoordinator::ListGroups() const {
  std::map<std::string, GroupListing> listed;
  for (std::string& id : store_->ListGroups()) {
    GroupListing listing;
    listing.group_id = id;
    listed.emplace(std::move(id), std::move(listing));
  }
  std::vector<std::shared_ptr<Group>> groups;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, group] : groups_) groups.push_back(group);
  }
  for (const auto& group : groups) {
    std::shared_lock lock(group->mu);
    if (group->state == GroupState::kDead) continue;
    GroupListing& listing = listed[group->id];
    listing.group_id = group->id;
    listing.protocol_type = group->protocol_type;
    listing.state = group->state;
  }
  std::vector<GroupListing> out;
  for (auto& [id, listing] : listed) out.push_back(std::move(listing));
  return out;
}

absl::StatusOr<GroupDescription> GroupCoordinator::DescribeGroup(std::string_view group_id) const {
  GroupDescription description;
  description.group_id = std::string(group_id);
  std::shared_ptr<Group> group = FindGroupConst(group_id);
  if (group != nullptr) {
    std::shared_lock lock(group->mu);
    if (group->state != GroupState::kDead) {
      description.state = group->state;
      description.generation = group->generation;
      description.protocol_type = group->protocol_type;
      description.protocol_name = group->protocol_name;
      description.leader_id = group->leader_id;
      for (const auto& [id, member] : group->members) {
        GroupMemberDescription m;
        m.member_id = id;
        m.group_instance_id = member->instance_id;
        m.client_id = member->client_id;
        const std::string* metadata = member->MetadataFor(group->protocol_name);
        if (metadata != nullptr) m.metadata = *metadata;
        m.assignment = member->assignment;
        description.members.push_back(std::move(m));
      }
      return description;
    }
  }
  if (store_->FetchOffsets(group_id).empty()) {
    return MakeError(ErrorCode::kGroupIdNotFound,
                     absl::StrCat("group '", ToAbsl(group_id), "' does not exist"));
  }
  return description;
}

absl::Status GroupCoordinator::DeleteGroup(std::string_view group_id) {
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return NotAvailable();
    auto it = groups_.find(group_id);
    if (it != groups_.end()) {
      Group& group = *it->second;
      std::unique_lock group_lock(group.mu);
      if (!group.members.empty()) {
        return MakeError(
            ErrorCode::kNonEmptyGroup,
            absl::StrCat("group '", ToAbsl(group_id), "' has ", group.members.size(), " members"));
      }
      group.state = GroupState::kDead;
      group_lock.unlock();
      groups_.erase(it);
    } else if (store_->FetchOffsets(group_id).empty()) {
      return MakeError(ErrorCode::kGroupIdNotFound,
                       absl::StrCat("group '", ToAbsl(group_id), "' does not exist"));
    }
  }
  return store_->DeleteGroup(group_id).status();
}

absl::Status GroupCoordinator::DeleteOffsets(std::string_view group_id,
                                             std::span<const TopicPartition> partitions) {
  std::shared_ptr<Group> group = FindGroup(group_id, /*create=*/false);
  if (group != nullptr) {
    // Decided under the group's lock, which keeps members out until the
    // tombstones are in the log; awaited without it, so that a replicated
    // append does not hold every JoinGroup and heartbeat of the group (or,
    // on a ManualExecutor, deadlock a task that needs the lock).
    return AwaitCallback<absl::StatusOr<size_t>>(
               tasks_.executor(),
               [&](OffsetStore::CountCallback done) {
                 std::shared_lock lock(group->mu);
                 if (!group->members.empty()) {
                   done(MakeError(ErrorCode::kNonEmptyGroup,
                                  absl::StrCat("group '", ToAbsl(group_id), "' has members")));
                   return;
                 }
                 store_->DeleteOffsetsAsync(group_id, partitions, std::move(done));
               })
        .status();
  }
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return NotAvailable();
  }
  if (store_->FetchOffsets(group_id).empty()) {
    return MakeError(ErrorCode::kGroupIdNotFound,
                     absl::StrCat("group '", ToAbsl(group_id), "' does not exist"));
  }
  return store_->DeleteOffsets(group_id, partitions).status();
}

absl::StatusOr<std::vector<ExpiredOffset>> GroupCoordinator::ExpireOffsets() {
  return AwaitCallback<absl::StatusOr<std::vector<ExpiredOffset>>>(
      tasks_.executor(), [&](auto done) { ExpireOffsetsAsync(std::move(done)); });
}

void GroupCoordinator::ExpireOffsetsAsync(OffsetStore::ExpiredCallback done) {
  {
    std::lock_guard lock(mu_);
    if (shut_down_) {
      done(NotAvailable());
      return;
    }
  }
  store_->ExpireOffsetsAsync(
      clock_.WallMs(), options_.offsets_retention_ms,
      [this](std::string_view group_id) -> std::optional<int64_t> {
        std::shared_ptr<Group> group = FindGroupConst(group_id);
        if (group == nullptr) return kEmptySinceUnknown;
        std::shared_lock lock(group->mu);
        if (!group->members.empty()) return std::nullopt;
        return group->empty_since_wall_ms.value_or(kEmptySinceUnknown);
      },
      [this, done = std::move(done)](absl::StatusOr<std::vector<ExpiredOffset>> expired) mutable {
        if (expired.ok()) ForgetEmptyGroups();
        done(std::move(expired));
      });
}

void GroupCoordinator::ForgetEmptyGroups() {
  std::lock_guard lock(mu_);
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& group = *it->second;
    std::unique_lock group_lock(group.mu, std::try_to_lock);
    if (group_lock.owns_lock() && group.state == GroupState::kEmpty && group.members.empty() &&
        store_->FetchOffsets(group.id).empty()) {
      group.state = GroupState::kDead;
      group_lock.unlock();
      it = groups_.erase(it);
    } else {
      ++it;
    }
  }
}

void GroupCoordinator::Shutdown() {
  std::map<std::string, std::shared_ptr<Group>, std::less<>> groups;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    groups.swap(groups_);
  }
  tasks_.Close();
  Completions out;
  for (auto& [id, group] : groups) {
    std::unique_lock lock(group->mu);
    group->state = GroupState::kDead;
    for (auto& [member_id, member] : group->members) {
      if (member->awaiting_join) {
        JoinGroupResponse response;
        response.status = NotAvailable();
        response.member_id = member_id;
        Defer(out, std::exchange(member->awaiting_join, nullptr), response);
      }
      if (member->awaiting_sync) {
        SyncGroupResponse response;
        response.status = NotAvailable();
        Defer(out, std::exchange(member->awaiting_sync, nullptr), response);
      }
    }
  }
  for (auto& completion : out) std::move(completion)();
}

}  // namespace evlog
