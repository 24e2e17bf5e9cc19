// evlog/group/group_coordinator.h — the broker side of consumer groups:
// membership, generations and rebalances (Kafka's classic group protocol:
// JoinGroup, SyncGroup, Heartbeat, LeaveGroup), committed offsets checked
// against the group's generation, and the admin view of groups.
//
//   EVLOG_ASSIGN_OR_RETURN(auto coordinator, evlog::GroupCoordinator::ForBroker(*broker));
//   coordinator->JoinGroup(request, [](evlog::JoinGroupResponse response) { ... });
//
// Applications do not call it: a Consumer with a group_id does
// (evlog/client/consumer.h). It speaks the protocol's requests and answers
// as Kafka's coordinator does, with the protocol metadata and assignments
// as opaque bytes, so that a Kafka wire-protocol front end can serve
// Kafka's clients from it unchanged.
//
// The protocol, in brief. A member joins (JoinGroup) with the protocols
// (assignor names, each with its subscription bytes) it supports. A join of
// a new member, a member leaving or failing, or a member rejoining with
// other metadata starts a rebalance: the group goes PreparingRebalance and
// waits until every member has rejoined, or until the rebalance timeout
// (members that did not rejoin are removed). Then the generation goes up,
// the group picks a protocol every member supports, and answers every
// JoinGroup; the leader's answer carries every member's metadata. The
// group is CompletingRebalance until the leader's SyncGroup hands over the
// assignment (bytes per member), which every member's SyncGroup then
// returns: Stable. Heartbeats keep a member alive (session timeout) and
// tell it when a rebalance has started (REBALANCE_IN_PROGRESS).
// Incremental cooperative rebalancing (KIP-429) is the members' business:
// the coordinator only runs more rounds.
//
// One departure from Kafka's coordinator: a SyncGroup that arrives after
// the group has started the next rebalance, from a member of the current
// generation whose assignment the leader had already handed over, gets that
// assignment (Kafka answers REBALANCE_IN_PROGRESS). With KIP-429 the first
// member told to give partitions up rejoins at once; the members that had
// not yet fetched their assignment would otherwise rejoin still holding
// what they were to give up, and each such member costs the group one more
// round. Any member rejoins anyway (its heartbeat says REBALANCE_IN_PROGRESS),
// now knowing its assignment, so one join costs KIP-429's two rounds.
//
// Static membership (KIP-345): a member with a group_instance_id that
// joins again after a restart (new member id, same instance id) takes its
// old place, with its assignment and no rebalance while its metadata is
// unchanged; the old member id is fenced (FENCED_INSTANCE_ID).
//
// Offsets are kept by the OffsetStore on `__consumer_offsets`; a commit is
// accepted from a member of the current generation (or, with generation
// -1 and no member id, for a group without members: a consumer that
// assigns its partitions itself, or an admin reset).
//
// What is not persisted: the group's membership and generation (Kafka also
// writes them to `__consumer_offsets`). In one process the members go
// away with the broker, so a reopened broker starts every group Empty at
// generation 0, with its committed offsets.
//
// Callbacks. JoinGroup and SyncGroup answer through a callback, because
// the answer waits for other members. It runs exactly once: on the
// calling thread when the answer is known at once, else on the thread
// that completes the round (another member's request, or the
// coordinator's timer task on the broker's executor). It runs with no
// lock of the coordinator held and may call the coordinator; it must not
// block.
//
// Time: deadlines use the broker's Clock (monotonic), timers its Executor,
// so a ManualClock and a ManualExecutor drive the group in tests.
//
// Thread-safety: every method is thread-safe. Each group has its own lock;
// offset commits of one group hold it shared while their batch is synced,
// so commits of a group share an fsync, and its state changes wait for
// them.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/broker/broker.h"
#include "evlog/group/offset_store.h"
#include "evlog/io/executor.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/types.h"

namespace evlog {

struct GroupCoordinatorOptions {
  // The session timeouts a member may ask for (Kafka
  // group.min.session.timeout.ms / group.max.session.timeout.ms).
  int64_t min_session_timeout_ms = 6'000;
  int64_t max_session_timeout_ms = 1'800'000;
  // How long the first rebalance of an empty group waits for more members
  // (group.initial.rebalance.delay.ms); each join in that window extends
  // it by as much, up to the rebalance timeout. Kafka's broker default is
  // 3000: that saves rebalances when a fleet of consumers starts at once.
  // evlog's default is 0, because in one process the consumers usually
  // start within microseconds of each other and a 3 s pause at every first
  // start is what an embedded user (and every test) would notice first.
  int64_t initial_rebalance_delay_ms = 0;
  // Most members a group may have (group.max.size): a join beyond it gets
  // GROUP_MAX_SIZE_REACHED.
  int32_t max_group_size = 1 << 20;
  // Offsets of a group without members expire after this long (Kafka
  // offsets.retention.minutes, 7 days), checked this often
  // (offsets.retention.check.interval.ms).
  int64_t offsets_retention_ms = 7LL * 24 * 60 * 60 * 1000;
  int64_t offsets_retention_check_interval_ms = 10 * 60 * 1000;
  // Of the offset store behind the coordinator.
  OffsetStoreOptions offset_store;
};

// Kafka's names (ClassicGroupState).
enum class GroupState : int8_t {
  kEmpty,
  kPreparingRebalance,
  kCompletingRebalance,
  kStable,
  kDead,
};
std::string_view GroupStateName(GroupState state);

// A protocol a member supports: the assignor's name and the member's
// metadata for it (for protocol type "consumer": a ConsumerSubscription).
struct GroupProtocol {
  std::string name;
  std::string metadata;
};

struct JoinGroupRequest {
  std::string group_id;
  // Empty on a member's first join: the coordinator makes one.
  std::string member_id;
  std::optional<std::string> group_instance_id;
  // The prefix of a new member id, and shown by DescribeGroup.
  std::string client_id;
  std::string protocol_type;
  // Most preferred first; at least one.
  std::vector<GroupProtocol> protocols;
  // Bounded by the options' min/max session timeouts.
  int64_t session_timeout_ms = 45'000;
  // How long a rebalance waits for the member to rejoin (Kafka sets it
  // from max.poll.interval.ms). At least session_timeout_ms is used.
  int64_t rebalance_timeout_ms = 300'000;
  // KIP-394 (JoinGroup v4+): a new dynamic member gets its id with
  // MEMBER_ID_REQUIRED and joins again with it, so that a member whose
  // first answer is lost does not leave a ghost behind. In-process answers
  // are not lost; a wire front end sets this.
  bool require_known_member_id = false;
  // Why the member (re)joins, for the log (KIP-800).
  std::string reason;
};

struct JoinGroupMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  // The member's metadata for the chosen protocol.
  std::string metadata;
};

struct JoinGroupResponse {
  // OK, or: INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT,
  // INCONSISTENT_GROUP_PROTOCOL, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
  // MEMBER_ID_REQUIRED (member_id below is set), GROUP_MAX_SIZE_REACHED,
  // COORDINATOR_NOT_AVAILABLE (the group is being deleted: retry, or the
  // coordinator is shut down).
  absl::Status status;
  Generation generation{-1};
  std::string protocol_type;
  std::string protocol_name;
  std::string leader_id;
  std::string member_id;
  // Every member and its metadata: for the leader only, else empty.
  std::vector<JoinGroupMember> members;
};

struct SyncGroupRequest {
  std::string group_id;
  Generation generation{-1};
  std::string member_id;
  std::optional<std::string> group_instance_id;
  // When set, must match the group's (INCONSISTENT_GROUP_PROTOCOL).
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  // The leader's assignment, member id -> bytes; members it leaves out
  // get empty bytes. Ignored from other members.
  std::map<std::string, std::string> assignments;
};

struct SyncGroupResponse {
  // OK, or: UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION,
  // INCONSISTENT_GROUP_PROTOCOL, REBALANCE_IN_PROGRESS (rejoin; not for a
  // late member of a generation whose assignment exists, see above),
  // COORDINATOR_NOT_AVAILABLE.
  absl::Status status;
  std::string protocol_type;
  std::string protocol_name;
  std::string assignment;
};

using JoinGroupCallback = absl::AnyInvocable<void(JoinGroupResponse) &&>;
using SyncGroupCallback = absl::AnyInvocable<void(SyncGroupResponse) &&>;

// Who leaves (LeaveGroup): a member id, or for a static member its
// instance id (then the member id may be empty).
struct MemberIdentity {
  std::string member_id;
  std::optional<std::string> group_instance_id;
};

struct OffsetCommitRequest {
  std::string group_id;
  // -1 with an empty member id: a commit outside group management,
  // accepted while the group has no members.
  Generation generation{-1};
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::map<TopicPartition, OffsetAndMetadata> offsets;
};

// Offsets committed in a transaction (Kafka TxnOffsetCommit): the
// producer's id and epoch, and the consumer's group membership
// (ConsumerGroupMetadata) for KIP-447's fencing.
struct TxnOffsetCommitRequest {
  std::string group_id;
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch{0};
  // -1 with an empty member id: not checked against the group (a producer
  // that does not consume through a group).
  Generation generation{-1};
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::map<TopicPartition, OffsetAndMetadata> offsets;
};

struct GroupListing {
  std::string group_id;
  std::string protocol_type;
  GroupState state = GroupState::kEmpty;
};

struct GroupMemberDescription {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  // The member's metadata for the group's protocol, and its assignment
  // from the last SyncGroup (empty until then).
  std::string metadata;
  std::string assignment;
};

struct GroupDescription {
  std::string group_id;
  GroupState state = GroupState::kEmpty;
  Generation generation{0};
  std::string protocol_type;
  std::string protocol_name;
  std::string leader_id;
  // By member id.
  std::vector<GroupMemberDescription> members;
};

class GroupCoordinator final : public BrokerService {
 public:
  static constexpr std::string_view kServiceName = "group-coordinator";

  // The coordinator of `broker`, started on first use with `options` (the
  // defaults when null); it opens the offset store, which replays
  // `__consumer_offsets`. Errors: FailedPrecondition when `options` are
  // given but the coordinator already runs (with the options it was made
  // with), or the broker is closed; INVALID_CONFIG; the offset store's.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<GroupCoordinator>> ForBroker(
      Broker& broker, const GroupCoordinatorOptions* options = nullptr);

  // A coordinator whose offsets live in `log` (a Cluster's
  // `__consumer_offsets`: MakeCoordinatorLog), created there now when
  // missing, its timers on `executor`.
  // The arguments must outlive it; Shutdown() it before the log's cluster
  // closes. Errors: INVALID_CONFIG; the offset store's Open
  // (COORDINATOR_LOAD_IN_PROGRESS: retriable).
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<GroupCoordinator>> Create(
      Clock& clock, Executor& executor, LogSink& log_sink, std::unique_ptr<CoordinatorLog> log,
      GroupCoordinatorOptions options = {});

  ~GroupCoordinator() override;
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // Joins (or rejoins) a group; see the protocol above. `done` gets the
  // answer, perhaps only when the rebalance completes.
  void JoinGroup(JoinGroupRequest request, JoinGroupCallback done);

  // Completes a rebalance: the leader hands over the assignment, every
  // member gets its own. In Stable, returns the member's current
  // assignment at once.
  void SyncGroup(SyncGroupRequest request, SyncGroupCallback done);

  // Keeps the member alive. Errors: UNKNOWN_MEMBER_ID (not a member, or
  // the group is Empty/Dead: rejoin with an empty id), FENCED_INSTANCE_ID,
  // ILLEGAL_GENERATION (rejoin), REBALANCE_IN_PROGRESS (the member is
  // still a member; rejoin), COORDINATOR_NOT_AVAILABLE.
  [[nodiscard]] absl::Status Heartbeat(std::string_view group_id, std::string_view member_id,
                                       const std::optional<std::string>& group_instance_id,
                                       Generation generation);

  // Removes members (a consumer closing; an admin removing static
  // members by instance id). Returns one status per member, in order:
  // UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID (a member id that does not
  // hold the instance id). Errors: COORDINATOR_NOT_AVAILABLE; an unknown
  // group is UNKNOWN_MEMBER_ID for each member.
  [[nodiscard]] absl::StatusOr<std::vector<absl::Status>> LeaveGroup(
      std::string_view group_id, std::span<const MemberIdentity> members);

  // Commits offsets, synced before it returns. Errors, with nothing
  // committed: ILLEGAL_GENERATION (a generation that is not the group's,
  // or -1 while the group has members), UNKNOWN_MEMBER_ID,
  // FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS (the group is
  // CompletingRebalance: the member must finish its rejoin first),
  // COORDINATOR_NOT_AVAILABLE, and the offset store's (INVALID_GROUP_ID,
  // INVALID_REQUEST, OFFSET_METADATA_TOO_LARGE, storage errors). As in
  // Kafka, a commit of the current generation is accepted while the group
  // is PreparingRebalance: a member commits what it consumed before it
  // gives partitions up.
  [[nodiscard]] absl::Status CommitOffsets(const OffsetCommitRequest& request);
  // CommitOffsets without waiting for the append: `done` gets the outcome,
  // before this returns on a Broker, on an executor thread on a Cluster
  // (where the synchronous call must not run on the executor). Commits are
  // written in the order of the calls. COORDINATOR_NOT_AVAILABLE when the
  // replicated append failed (leader moved, too few in-sync replicas, timed
  // out): retriable.
  void CommitOffsetsAsync(const OffsetCommitRequest& request,
                          absl::AnyInvocable<void(absl::Status)> done);

  // The group's committed offsets (of `partitions` when given).
  [[nodiscard]] std::map<TopicPartition, CommittedOffset> FetchOffsets(
      std::string_view group_id,
      std::optional<std::span<const TopicPartition>> partitions = std::nullopt) const;

  // FetchOffsets for read_committed consumers (OffsetFetch with
  // require_stable): UNSTABLE_OFFSET_COMMIT (retriable) while an open
  // transaction holds offsets of those partitions (OffsetStore).
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, CommittedOffset>> FetchStableOffsets(
      std::string_view group_id,
      std::optional<std::span<const TopicPartition>> partitions = std::nullopt) const;

  // Commits offsets in a producer's transaction (Kafka TxnOffsetCommit):
  // they take effect when the transaction commits (CompleteTransaction).
  // KIP-447 fencing, with nothing written on error: UNKNOWN_MEMBER_ID (a
  // member id that is not the group's), ILLEGAL_GENERATION (a generation
  // >= 0 that is not the group's: the consumer was rebalanced away, and a
  // zombie's offsets would overwrite its successor's), FENCED_INSTANCE_ID,
  // COORDINATOR_NOT_AVAILABLE; the offset store's (INVALID_PRODUCER_EPOCH
  // for a producer fenced on that partition). Unlike CommitOffsets, it is
  // accepted while the group completes a rebalance, as in Kafka.
  [[nodiscard]] absl::Status TxnCommitOffsets(const TxnOffsetCommitRequest& request);

  // The transaction coordinator's marker on partition `partition` of
  // `__consumer_offsets` (OffsetStore::CompleteTransaction).
  [[nodiscard]] absl::Status CompleteTransaction(PartitionId partition, ProducerId producer_id,
                                                 ProducerEpoch epoch, ControlRecordType type);
  void CompleteTransactionAsync(PartitionId partition, ProducerId producer_id, ProducerEpoch epoch,
                                ControlRecordType type,
                                absl::AnyInvocable<void(absl::Status)> done) {
    store_->CompleteTransactionAsync(partition, producer_id, epoch, type, std::move(done));
  }

  // The partition of `__consumer_offsets` that holds `group_id`'s offsets:
  // a transaction with offsets of the group includes it (AddOffsetsToTxn).
  [[nodiscard]] PartitionId OffsetsPartitionFor(std::string_view group_id) const {
    return store_->PartitionFor(group_id);
  }

  // Groups with members or committed offsets, by id.
  [[nodiscard]] std::vector<GroupListing> ListGroups() const;

  // Errors: GROUP_ID_NOT_FOUND (no members and no committed offsets).
  [[nodiscard]] absl::StatusOr<GroupDescription> DescribeGroup(std::string_view group_id) const;

  // Deletes a group without members and its committed offsets. Errors:
  // NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND; the offset store's.
  [[nodiscard]] absl::Status DeleteGroup(std::string_view group_id);

  // Deletes committed offsets of a group without members (Kafka
  // OffsetDelete, here only while the group is empty). Errors:
  // NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND; the offset store's.
  [[nodiscard]] absl::Status DeleteOffsets(std::string_view group_id,
                                           std::span<const TopicPartition> partitions);

  // Deletes expired offsets now (the periodic task calls the same) and
  // forgets empty groups left with no offsets.
  [[nodiscard]] absl::StatusOr<std::vector<ExpiredOffset>> ExpireOffsets();
  void ExpireOffsetsAsync(OffsetStore::ExpiredCallback done);

  const GroupCoordinatorOptions& options() const { return options_; }

  // BrokerService: fails pending JoinGroup/SyncGroup callbacks with
  // COORDINATOR_NOT_AVAILABLE, stops the timers; later calls fail the same.
  void Shutdown() override;

 private:
  struct Member;
  struct Group;
  // Work to run once the locks are released (callbacks).
  using Completions = std::vector<absl::AnyInvocable<void() &&>>;

  GroupCoordinator(Clock& clock, Executor& executor, LogSink& log_sink,
                   GroupCoordinatorOptions options, std::unique_ptr<OffsetStore> store);
  // CommitOffsets' and TxnCommitOffsets' checks of the member and
  // generation.
  absl::Status CheckCommit(const OffsetCommitRequest& request);
  absl::Status CheckTxnCommit(const TxnOffsetCommitRequest& request);
  // Forgets empty groups left with no offsets.
  void ForgetEmptyGroups();

  int64_t NowMs() const;
  // The periodic ExpireOffsets pass; each pass schedules the next.
  void ScheduleExpiry();
  // The group, created when `create`; nullptr when absent (or shut down).
  std::shared_ptr<Group> FindGroup(std::string_view group_id, bool create);
  std::shared_ptr<Group> FindGroupConst(std::string_view group_id) const;
  std::string NewMemberId(std::string_view client_id);

  // Locked helpers: REQUIRES group.mu held exclusively.
  void JoinUnknownMemberLocked(Group& group, JoinGroupRequest& request, JoinGroupCallback& done,
                               Completions& out);
  void JoinKnownMemberLocked(Group& group, Member& member, JoinGroupRequest& request,
                             JoinGroupCallback& done, Completions& out);
  void PrepareRebalanceLocked(Group& group, std::string_view reason, Completions& out);
  void MaybeCompleteJoinLocked(Group& group, Completions& out);
  void CompleteJoinLocked(Group& group, Completions& out);
  void RemoveMemberLocked(Group& group, const std::string& member_id, const absl::Status& why,
                          Completions& out);
  void OnTimerLocked(Group& group, Completions& out);
  void ArmTimerLocked(Group& group, int64_t deadline_ms);
  // Arms the timer for the group's next deadline (sessions, rebalance).
  void RearmLocked(Group& group);
  void Log(LogLevel level, std::string_view message) const;

  Clock& clock_;
  LogSink& log_sink_;
  const GroupCoordinatorOptions options_;
  std::unique_ptr<OffsetStore> store_;
  TaskGroup tasks_;
  const uint64_t member_id_seed_;

  std::atomic<uint64_t> next_member_{0};

  // Guards the map of groups. Lock order: mu_, then a group's lock; never
  // mu_ while holding a group's lock.
  mutable std::mutex mu_;
  bool shut_down_ = false;
  std::map<std::string, std::shared_ptr<Group>, std::less<>> groups_;
};

}  // namespace evlog
