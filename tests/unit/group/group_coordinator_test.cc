#include "evlog/group/group_coordinator.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evlog/broker/broker.h"
#include "evlog/io/executor.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/status.h"
#include "tests/support/broker_options.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

// A broker on an in-memory file system with a manual clock and executor,
// so that session and rebalance timeouts run when the test says.
struct Env {
  MemFileSystem fs;
  ManualClock clock{1'700'000'000'000};
  ManualExecutor executor{clock};
  std::unique_ptr<Broker> broker;
  std::shared_ptr<GroupCoordinator> coordinator;
  GroupCoordinatorOptions options;

  Env() {
    options.min_session_timeout_ms = 10;
    options.offset_store.partition_count = 2;
    Open();
  }
  ~Env() {
    coordinator.reset();
    if (broker) (void)broker->Close();
  }
  void Open() {
    auto b = Broker::Open(testing::InMemoryBrokerOptions(fs, executor, &clock));
    REQUIRE(b.ok());
    broker = *std::move(b);
    auto c = GroupCoordinator::ForBroker(*broker, &options);
    INFO(c.status());
    REQUIRE(c.ok());
    coordinator = *std::move(c);
  }
  void Reopen() {
    coordinator.reset();
    REQUIRE(broker->Close().ok());
    broker.reset();
    Open();
  }
  void Advance(int64_t ms) { executor.AdvanceMs(ms); }
};

using JoinSlot = std::shared_ptr<std::optional<JoinGroupResponse>>;
using SyncSlot = std::shared_ptr<std::optional<SyncGroupResponse>>;

JoinGroupRequest Request(std::string member_id = "", std::string protocol = "range",
                         std::string metadata = "m") {
  JoinGroupRequest r;
  r.group_id = "g";
  r.member_id = std::move(member_id);
  r.client_id = "c";
  r.protocol_type = "consumer";
  r.protocols = {{std::move(protocol), std::move(metadata)}};
  r.session_timeout_ms = 1'000;
  r.rebalance_timeout_ms = 5'000;
  return r;
}

JoinSlot Join(GroupCoordinator& c, JoinGroupRequest request) {
  auto slot = std::make_shared<std::optional<JoinGroupResponse>>();
  c.JoinGroup(std::move(request), [slot](JoinGroupResponse r) { *slot = std::move(r); });
  return slot;
}

SyncSlot Sync(GroupCoordinator& c, const JoinGroupResponse& joined,
              std::map<std::string, std::string> assignments = {},
              std::optional<std::string> instance = std::nullopt) {
  SyncGroupRequest r;
  r.group_id = "g";
  r.generation = joined.generation;
  r.member_id = joined.member_id;
  r.group_instance_id = std::move(instance);
  r.assignments = std::move(assignments);
  auto slot = std::make_shared<std::optional<SyncGroupResponse>>();
  c.SyncGroup(std::move(r), [slot](SyncGroupResponse s) { *slot = std::move(s); });
  return slot;
}

GroupState StateOf(GroupCoordinator& c) {
  auto d = c.DescribeGroup("g");
  REQUIRE(d.ok());
  return d->state;
}

bool Is(const absl::Status& s, ErrorCode code) { return HasErrorCode(s, code); }

OffsetCommitRequest Commit(const JoinGroupResponse& member, int64_t offset) {
  OffsetCommitRequest r;
  r.group_id = "g";
  r.generation = member.generation;
  r.member_id = member.member_id;
  r.offsets[{"t", 0}] = OffsetAndMetadata{Offset(offset), kNoLeaderEpoch, ""};
  return r;
}

// A one-member group, Stable at generation 1 with `assignment`.
JoinGroupResponse StableAlone(Env& env, std::string assignment = "a0") {
  JoinSlot joined = Join(*env.coordinator, Request());
  REQUIRE(joined->has_value());
  REQUIRE((*joined)->status.ok());
  const JoinGroupResponse me = **joined;
  SyncSlot synced = Sync(*env.coordinator, me, {{me.member_id, assignment}});
  REQUIRE(synced->has_value());
  REQUIRE((*synced)->status.ok());
  return me;
}

TEST_CASE("A lone member joins, leads, syncs its own assignment and heartbeats",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  JoinSlot joined = Join(c, Request());
  // Nobody else to wait for: answered within the call.
  REQUIRE(joined->has_value());
  const JoinGroupResponse& r = **joined;
  REQUIRE(r.status.ok());
  CHECK(r.generation == Generation(1));
  CHECK(r.leader_id == r.member_id);
  CHECK(r.member_id.rfind("c-", 0) == 0);
  CHECK(r.protocol_name == "range");
  REQUIRE(r.members.size() == 1);
  CHECK(r.members[0].metadata == "m");
  CHECK(StateOf(c) == GroupState::kCompletingRebalance);

  SyncSlot synced = Sync(c, r, {{r.member_id, "mine"}});
  REQUIRE(synced->has_value());
  REQUIRE((*synced)->status.ok());
  CHECK((*synced)->assignment == "mine");
  CHECK(StateOf(c) == GroupState::kStable);
  CHECK(c.Heartbeat("g", r.member_id, std::nullopt, r.generation).ok());
  CHECK(Is(c.Heartbeat("g", r.member_id, std::nullopt, Generation(0)),
           ErrorCode::kIllegalGeneration));
  CHECK(Is(c.Heartbeat("g", "nobody", std::nullopt, r.generation), ErrorCode::kUnknownMemberId));
}

TEST_CASE("A second member starts a rebalance that waits for the first to rejoin",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  const JoinGroupResponse first = StableAlone(env);
  JoinSlot second = Join(c, Request("", "range", "m2"));
  CHECK_FALSE(second->has_value());
  CHECK(StateOf(c) == GroupState::kPreparingRebalance);
  // The first member learns of it from its heartbeat, and may still commit.
  CHECK(Is(c.Heartbeat("g", first.member_id, std::nullopt, first.generation),
           ErrorCode::kRebalanceInProgress));
  CHECK(c.CommitOffsets(Commit(first, 5)).ok());

  JoinSlot again = Join(c, Request(first.member_id));
  REQUIRE(again->has_value());
  REQUIRE(second->has_value());
  const JoinGroupResponse& a = **again;
  const JoinGroupResponse& b = **second;
  REQUIRE(a.status.ok());
  REQUIRE(b.status.ok());
  CHECK(a.generation == Generation(2));
  CHECK(b.generation == Generation(2));
  // The leader stays the leader and alone sees the members.
  CHECK(a.leader_id == first.member_id);
  CHECK(a.members.size() == 2);
  CHECK(b.members.empty());
  // The old generation cannot commit any more; in CompletingRebalance the
  // new one must finish syncing first.
  CHECK(Is(c.CommitOffsets(Commit(first, 6)), ErrorCode::kIllegalGeneration));
  CHECK(Is(c.CommitOffsets(Commit(a, 6)), ErrorCode::kRebalanceInProgress));

  // The follower's sync waits for the leader's.
  SyncSlot follower = Sync(c, b);
  CHECK_FALSE(follower->has_value());
  SyncSlot leader = Sync(c, a, {{a.member_id, "A"}, {b.member_id, "B"}});
  REQUIRE(leader->has_value());
  REQUIRE(follower->has_value());
  CHECK((*leader)->assignment == "A");
  CHECK((*follower)->assignment == "B");
  CHECK(c.CommitOffsets(Commit(b, 7)).ok());
  CHECK(c.FetchOffsets("g").at({"t", 0}).offset == Offset(7));
}

TEST_CASE("A member whose session times out is removed and the group rebalances without it",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  const JoinGroupResponse first = StableAlone(env);
  JoinSlot second = Join(c, Request());
  JoinSlot again = Join(c, Request(first.member_id));
  REQUIRE(second->has_value());
  const JoinGroupResponse a = **again, b = **second;
  REQUIRE(Sync(c, a, {{a.member_id, "A"}, {b.member_id, "B"}})->has_value());
  REQUIRE(Sync(c, b)->has_value());
  REQUIRE(StateOf(c) == GroupState::kStable);

  // Only a heartbeats.
  for (int i = 0; i < 5; ++i) {
    env.Advance(400);
    REQUIRE(c.Heartbeat("g", a.member_id, std::nullopt, a.generation).ok() == (i < 2));
    if (i >= 2) break;
  }
  // b's 1000 ms session ended: a is told to rejoin, and does so alone.
  CHECK(StateOf(c) == GroupState::kPreparingRebalance);
  JoinSlot alone = Join(c, Request(a.member_id));
  REQUIRE(alone->has_value());
  CHECK((*alone)->generation == Generation(3));
  CHECK((*alone)->members.size() == 1);
  CHECK(Is(c.Heartbeat("g", b.member_id, std::nullopt, b.generation), ErrorCode::kUnknownMemberId));
  CHECK(Is(c.CommitOffsets(Commit(b, 1)), ErrorCode::kUnknownMemberId));
}

TEST_CASE("Members that do not rejoin within the rebalance timeout are dropped from the generation",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  const JoinGroupResponse first = StableAlone(env);
  JoinSlot second = Join(c, Request());
  CHECK_FALSE(second->has_value());
  // first never rejoins: its heartbeats do not save it, the rebalance
  // timeout (5 s) ends its membership.
  for (int i = 0; i < 12; ++i) {
    env.Advance(450);
    (void)c.Heartbeat("g", first.member_id, std::nullopt, first.generation);
    (void)c.Heartbeat("g", "x", std::nullopt, Generation(1));
  }
  REQUIRE(second->has_value());
  REQUIRE((*second)->status.ok());
  CHECK((*second)->generation == Generation(2));
  CHECK((*second)->leader_id == (*second)->member_id);
  CHECK((*second)->members.size() == 1);
  CHECK(Is(c.Heartbeat("g", first.member_id, std::nullopt, first.generation),
           ErrorCode::kUnknownMemberId));
}

TEST_CASE("A member that never syncs is removed after the rebalance timeout",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  const JoinGroupResponse first = StableAlone(env);
  JoinSlot second = Join(c, Request());
  JoinSlot again = Join(c, Request(first.member_id));
  REQUIRE(second->has_value());
  const JoinGroupResponse a = **again, b = **second;
  REQUIRE(Sync(c, a, {{a.member_id, "A"}, {b.member_id, "B"}})->has_value());
  // b heartbeats but never syncs; the rebalance timeout (5 s) ends it.
  for (int i = 0; i < 14; ++i) {
    env.Advance(400);
    (void)c.Heartbeat("g", a.member_id, std::nullopt, a.generation);
    (void)c.Heartbeat("g", b.member_id, std::nullopt, b.generation);
  }
  auto d = c.DescribeGroup("g");
  REQUIRE(d.ok());
  CHECK(d->members.size() == 1);
  CHECK(d->members[0].member_id == a.member_id);
}

TEST_CASE("Leaving rebalances the rest, and the last member leaving empties the group",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  const JoinGroupResponse me = StableAlone(env);
  std::vector<MemberIdentity> who = {{me.member_id, std::nullopt}, {"ghost", std::nullopt}};
  auto left = c.LeaveGroup("g", who);
  REQUIRE(left.ok());
  REQUIRE(left->size() == 2);
  CHECK((*left)[0].ok());
  CHECK(Is((*left)[1], ErrorCode::kUnknownMemberId));
  auto d = c.DescribeGroup("g");
  REQUIRE(d.ok());
  CHECK(d->state == GroupState::kEmpty);
  CHECK(d->generation == Generation(2));
  CHECK(d->members.empty());
  // Empty: an admin or a standalone consumer may commit with generation -1.
  OffsetCommitRequest simple;
  simple.group_id = "g";
  simple.offsets[{"t", 0}] = OffsetAndMetadata{Offset(3), kNoLeaderEpoch, ""};
  CHECK(c.CommitOffsets(simple).ok());
  // The group can be deleted now; its offsets go with it.
  CHECK(c.DeleteGroup("g").ok());
  CHECK(c.FetchOffsets("g").empty());
  CHECK(Is(c.DescribeGroup("g").status(), ErrorCode::kGroupIdNotFound));
  CHECK(Is(c.DeleteGroup("g"), ErrorCode::kGroupIdNotFound));
}

TEST_CASE("Commits outside the generation are refused with Kafka's errors", "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  const JoinGroupResponse me = StableAlone(env);
  OffsetCommitRequest simple;
  simple.group_id = "g";
  simple.offsets[{"t", 0}] = OffsetAndMetadata{Offset(3), kNoLeaderEpoch, ""};
  CHECK(Is(c.CommitOffsets(simple), ErrorCode::kIllegalGeneration));
  OffsetCommitRequest stale = Commit(me, 4);
  stale.generation = Generation(0);
  CHECK(Is(c.CommitOffsets(stale), ErrorCode::kIllegalGeneration));
  OffsetCommitRequest stranger = Commit(me, 4);
  stranger.member_id = "stranger";
  CHECK(Is(c.CommitOffsets(stranger), ErrorCode::kUnknownMemberId));
  OffsetCommitRequest unknown_group = Commit(me, 4);
  unknown_group.group_id = "other";
  CHECK(Is(c.CommitOffsets(unknown_group), ErrorCode::kIllegalGeneration));
  // Nothing of those was written.
  CHECK(c.FetchOffsets("g").empty());
  CHECK(c.CommitOffsets(Commit(me, 4)).ok());
  CHECK(c.FetchOffsets("g").at({"t", 0}).offset == Offset(4));
  CHECK(Is(c.DeleteGroup("g"), ErrorCode::kNonEmptyGroup));
}

TEST_CASE("Joins with bad input get clear errors and change nothing", "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  JoinGroupRequest bad = Request();
  bad.group_id = "";
  CHECK(Is((*Join(c, bad))->status, ErrorCode::kInvalidGroupId));
  bad = Request();
  bad.session_timeout_ms = 1;
  CHECK(Is((*Join(c, bad))->status, ErrorCode::kInvalidSessionTimeout));
  bad = Request();
  bad.protocols.clear();
  CHECK(Is((*Join(c, bad))->status, ErrorCode::kInconsistentGroupProtocol));
  CHECK(Is((*Join(c, Request("made-up")))->status, ErrorCode::kUnknownMemberId));
  CHECK(c.ListGroups().empty());

  const JoinGroupResponse me = StableAlone(env);
  // A member with no protocol in common with the group.
  CHECK(Is((*Join(c, Request("", "roundrobin")))->status, ErrorCode::kInconsistentGroupProtocol));
  JoinGroupRequest other_type = Request();
  other_type.protocol_type = "connect";
  CHECK(Is((*Join(c, other_type))->status, ErrorCode::kInconsistentGroupProtocol));
  CHECK(StateOf(c) == GroupState::kStable);
  CHECK(c.Heartbeat("g", me.member_id, std::nullopt, me.generation).ok());
}

TEST_CASE("The protocol most members prefer among those all support is chosen",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  JoinGroupRequest a = Request();
  a.protocols = {{"sticky", "s"}, {"range", "r"}};
  JoinSlot first = Join(c, a);
  REQUIRE((*first)->status.ok());
  CHECK((*first)->protocol_name == "sticky");
  JoinGroupRequest b = Request();
  b.protocols = {{"range", "r2"}, {"roundrobin", "x"}};
  JoinSlot second = Join(c, b);
  a.member_id = (*first)->member_id;
  JoinSlot again = Join(c, a);
  REQUIRE(second->has_value());
  CHECK((*second)->protocol_name == "range");
  REQUIRE((*again)->members.size() == 2);
  for (const JoinGroupMember& m : (*again)->members) {
    CHECK(m.metadata == (m.member_id == a.member_id ? "r" : "r2"));
  }
}

TEST_CASE("A static member that restarts within its session keeps its place without a rebalance",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  JoinGroupRequest req = Request();
  req.group_instance_id = "host-1";
  JoinSlot joined = Join(c, req);
  const JoinGroupResponse old = **joined;
  REQUIRE(Sync(c, old, {{old.member_id, "P"}}, "host-1")->has_value());

  // Restart: a new process, no member id, the same instance id.
  env.Advance(500);
  JoinSlot back = Join(c, req);
  REQUIRE(back->has_value());
  const JoinGroupResponse now = **back;
  REQUIRE(now.status.ok());
  CHECK(now.member_id != old.member_id);
  CHECK(now.generation == old.generation);  // no rebalance
  CHECK(StateOf(c) == GroupState::kStable);
  SyncSlot again = Sync(c, now, {}, "host-1");
  REQUIRE((*again)->status.ok());
  CHECK((*again)->assignment == "P");
  // The old incarnation is fenced.
  CHECK(Is(c.Heartbeat("g", old.member_id, std::string("host-1"), old.generation),
           ErrorCode::kFencedInstanceId));
  OffsetCommitRequest zombie = Commit(old, 9);
  zombie.group_instance_id = "host-1";
  CHECK(Is(c.CommitOffsets(zombie), ErrorCode::kFencedInstanceId));
  CHECK(c.Heartbeat("g", now.member_id, std::string("host-1"), now.generation).ok());
}

TEST_CASE("A static member that stays away past its session is removed", "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  JoinGroupRequest req = Request();
  req.group_instance_id = "host-1";
  const JoinGroupResponse old = **Join(c, req);
  REQUIRE(Sync(c, old, {{old.member_id, "P"}}, "host-1")->has_value());
  env.Advance(1'500);
  auto d = c.DescribeGroup("g");
  REQUIRE(d.ok());
  CHECK(d->state == GroupState::kEmpty);
  JoinSlot back = Join(c, req);
  CHECK((*back)->generation.value() > old.generation.value());
}

TEST_CASE("Static members can be removed by instance id, and a wrong member id is fenced",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  JoinGroupRequest req = Request();
  req.group_instance_id = "host-1";
  const JoinGroupResponse me = **Join(c, req);
  std::vector<MemberIdentity> wrong = {{"someone-else", std::string("host-1")}};
  auto result = c.LeaveGroup("g", wrong);
  REQUIRE(result.ok());
  CHECK(Is((*result)[0], ErrorCode::kFencedInstanceId));
  std::vector<MemberIdentity> by_instance = {{"", std::string("host-1")}};
  result = c.LeaveGroup("g", by_instance);
  REQUIRE(result.ok());
  CHECK((*result)[0].ok());
  CHECK(StateOf(c) == GroupState::kEmpty);
  (void)me;
}

TEST_CASE("MEMBER_ID_REQUIRED hands out an id that the second join uses", "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  JoinGroupRequest req = Request();
  req.require_known_member_id = true;
  JoinSlot first = Join(c, req);
  REQUIRE(Is((*first)->status, ErrorCode::kMemberIdRequired));
  const std::string id = (*first)->member_id;
  REQUIRE_FALSE(id.empty());
  req.member_id = id;
  JoinSlot second = Join(c, req);
  REQUIRE((*second)->status.ok());
  CHECK((*second)->member_id == id);
  // An id handed out but never used expires with its session.
  req.member_id.clear();
  JoinSlot third = Join(c, req);
  REQUIRE(Is((*third)->status, ErrorCode::kMemberIdRequired));
  env.Advance(1'100);
  req.member_id = (*third)->member_id;
  CHECK(Is((*Join(c, req))->status, ErrorCode::kUnknownMemberId));
}

TEST_CASE("The initial rebalance delay gathers the members that start together",
          "[group_coordinator]") {
  Env env;
  env.coordinator.reset();
  REQUIRE(env.broker->Close().ok());
  env.broker.reset();
  env.options.initial_rebalance_delay_ms = 300;
  env.Open();
  GroupCoordinator& c = *env.coordinator;
  JoinSlot a = Join(c, Request());
  env.Advance(200);
  JoinSlot b = Join(c, Request());
  env.Advance(200);  // extended by b's join to 500
  CHECK_FALSE(a->has_value());
  env.Advance(150);
  REQUIRE(a->has_value());
  REQUIRE(b->has_value());
  CHECK((*a)->generation == Generation(1));
  CHECK((*b)->generation == Generation(1));
}

TEST_CASE("Committed offsets survive a broker restart, and the group starts over empty",
          "[group_coordinator]") {
  Env env;
  const JoinGroupResponse me = StableAlone(env);
  REQUIRE(env.coordinator->CommitOffsets(Commit(me, 42)).ok());
  env.Reopen();
  GroupCoordinator& c = *env.coordinator;
  CHECK(c.FetchOffsets("g").at({"t", 0}).offset == Offset(42));
  auto d = c.DescribeGroup("g");
  REQUIRE(d.ok());
  CHECK(d->state == GroupState::kEmpty);
  CHECK(
      Is(c.Heartbeat("g", me.member_id, std::nullopt, me.generation), ErrorCode::kUnknownMemberId));
  // The old generation's commit is refused.
  CHECK(Is(c.CommitOffsets(Commit(me, 43)), ErrorCode::kIllegalGeneration));
  CHECK(c.FetchOffsets("g").at({"t", 0}).offset == Offset(42));
}

TEST_CASE("Offsets of a group empty for the retention period expire", "[group_coordinator]") {
  Env env;
  env.coordinator.reset();
  REQUIRE(env.broker->Close().ok());
  env.broker.reset();
  env.options.offsets_retention_ms = 10'000;
  env.options.offsets_retention_check_interval_ms = 1'000;
  env.Open();
  GroupCoordinator& c = *env.coordinator;
  const JoinGroupResponse me = StableAlone(env);
  REQUIRE(c.CommitOffsets(Commit(me, 1)).ok());
  // While the member heartbeats, nothing expires.
  for (int i = 0; i < 30; ++i) {
    env.Advance(500);
    REQUIRE(c.Heartbeat("g", me.member_id, std::nullopt, me.generation).ok());
  }
  CHECK(c.FetchOffsets("g").size() == 1);
  std::vector<MemberIdentity> who = {{me.member_id, std::nullopt}};
  REQUIRE(c.LeaveGroup("g", who).ok());
  env.Advance(9'000);
  CHECK(c.FetchOffsets("g").size() == 1);
  env.Advance(2'000);
  CHECK(c.FetchOffsets("g").empty());
  // And the group itself is forgotten.
  CHECK(Is(c.DescribeGroup("g").status(), ErrorCode::kGroupIdNotFound));
}

TEST_CASE("Closing the broker answers waiting joins with COORDINATOR_NOT_AVAILABLE",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  StableAlone(env);
  JoinSlot waiting = Join(c, Request());
  CHECK_FALSE(waiting->has_value());
  REQUIRE(env.broker->Close().ok());
  REQUIRE(waiting->has_value());
  CHECK(Is((*waiting)->status, ErrorCode::kCoordinatorNotAvailable));
  CHECK(Is((*Join(c, Request()))->status, ErrorCode::kCoordinatorNotAvailable));
  CHECK(
      Is(c.Heartbeat("g", "x", std::nullopt, Generation(1)), ErrorCode::kCoordinatorNotAvailable));
}

TEST_CASE("ForBroker returns one coordinator per broker and refuses options once it runs",
          "[group_coordinator]") {
  Env env;
  auto again = GroupCoordinator::ForBroker(*env.broker);
  REQUIRE(again.ok());
  CHECK(again->get() == env.coordinator.get());
  GroupCoordinatorOptions o;
  CHECK(absl::IsFailedPrecondition(GroupCoordinator::ForBroker(*env.broker, &o).status()));
}

}  // namespace
}  // namespace evlog

namespace evlog {
namespace {

TEST_CASE("A member late for its assignment gets it even after the next rebalance started",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  const JoinGroupResponse first = StableAlone(env);
  JoinSlot second = Join(c, Request());
  JoinSlot again = Join(c, Request(first.member_id));
  const JoinGroupResponse a = **again, b = **second;
  // The leader hands out generation 2's assignment; b has not asked yet.
  REQUIRE((*Sync(c, a, {{a.member_id, "A"}, {b.member_id, "B"}}))->status.ok());
  // A third member starts the next rebalance before b's SyncGroup arrives.
  JoinSlot third = Join(c, Request());
  REQUIRE(StateOf(c) == GroupState::kPreparingRebalance);
  SyncSlot late = Sync(c, b);
  REQUIRE(late->has_value());
  REQUIRE((*late)->status.ok());
  CHECK((*late)->assignment == "B");
  // It is still told to rejoin.
  CHECK(HasErrorCode(c.Heartbeat("g", b.member_id, std::nullopt, b.generation),
                     ErrorCode::kRebalanceInProgress));
  (void)third;
}

TEST_CASE("A SyncGroup after a rebalance interrupted the handover is refused",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  const JoinGroupResponse first = StableAlone(env);
  JoinSlot second = Join(c, Request());
  JoinSlot again = Join(c, Request(first.member_id));
  const JoinGroupResponse b = **second;
  REQUIRE(StateOf(c) == GroupState::kCompletingRebalance);
  // Before the leader syncs, a third member joins: generation 2 never got
  // an assignment, so b must rejoin.
  JoinSlot third = Join(c, Request());
  SyncSlot late = Sync(c, b);
  REQUIRE(late->has_value());
  CHECK(HasErrorCode((*late)->status, ErrorCode::kRebalanceInProgress));
  (void)again;
  (void)third;
}

}  // namespace
}  // namespace evlog

namespace evlog {
namespace {

TxnOffsetCommitRequest TxnCommit(const JoinGroupResponse& member, int64_t producer, int64_t offset,
                                 int16_t epoch = 0) {
  TxnOffsetCommitRequest r;
  r.group_id = "g";
  r.producer_id = ProducerId(producer);
  r.producer_epoch = ProducerEpoch(epoch);
  r.generation = member.generation;
  r.member_id = member.member_id;
  r.offsets[{"t", 0}] = OffsetAndMetadata{Offset(offset), kNoLeaderEpoch, ""};
  return r;
}

TEST_CASE("Transactional offsets are fenced by generation and wait for their transaction's marker",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator& c = *env.coordinator;
  const JoinGroupResponse first = StableAlone(env);
  const PartitionId partition = c.OffsetsPartitionFor("g");

  // KIP-447: only the current generation's members commit; each refusal
  // writes nothing.
  TxnOffsetCommitRequest stranger = TxnCommit(first, 1, 5);
  stranger.member_id = "stranger";
  CHECK(Is(c.TxnCommitOffsets(stranger), ErrorCode::kUnknownMemberId));
  TxnOffsetCommitRequest future = TxnCommit(first, 1, 5);
  future.generation = Generation(7);
  CHECK(Is(c.TxnCommitOffsets(future), ErrorCode::kIllegalGeneration));
  CHECK(c.FetchStableOffsets("g").ok());

  REQUIRE(c.TxnCommitOffsets(TxnCommit(first, 1, 5)).ok());
  // Pending: not committed, and the stable fetch says so.
  CHECK(c.FetchOffsets("g").empty());
  CHECK(Is(c.FetchStableOffsets("g").status(), ErrorCode::kUnstableOffsetCommit));
  const std::vector<TopicPartition> other{{"t", 1}};
  CHECK(c.FetchStableOffsets("g", std::span<const TopicPartition>(other)).ok());

  // A second member joins: the first one's generation is over once the
  // rebalance completes, and a zombie's transactional offsets are refused.
  JoinSlot second = Join(c, Request("", "range", "m2"));
  JoinSlot again = Join(c, Request(first.member_id));
  REQUIRE(again->has_value());
  REQUIRE(second->has_value());
  CHECK(Is(c.TxnCommitOffsets(TxnCommit(first, 2, 9)), ErrorCode::kIllegalGeneration));
  // The new generation may commit even before it synced (Kafka does not
  // check the state for TxnOffsetCommit).
  REQUIRE(c.TxnCommitOffsets(TxnCommit(**second, 2, 8)).ok());

  // Producer 1 commits, producer 2 aborts.
  REQUIRE(
      c.CompleteTransaction(partition, ProducerId(1), ProducerEpoch(0), ControlRecordType::kCommit)
          .ok());
  CHECK(c.FetchOffsets("g").at({"t", 0}).offset == Offset(5));
  CHECK(Is(c.FetchStableOffsets("g").status(), ErrorCode::kUnstableOffsetCommit));
  REQUIRE(
      c.CompleteTransaction(partition, ProducerId(2), ProducerEpoch(0), ControlRecordType::kAbort)
          .ok());
  auto stable = c.FetchStableOffsets("g");
  REQUIRE(stable.ok());
  CHECK(stable->at({"t", 0}).offset == Offset(5));

  // A producer fenced on the partition (its abort marker carried a newer
  // epoch) cannot add offsets with its old epoch.
  REQUIRE(
      c.CompleteTransaction(partition, ProducerId(3), ProducerEpoch(4), ControlRecordType::kAbort)
          .ok());
  CHECK(Is(c.TxnCommitOffsets(TxnCommit(**second, 3, 11, /*epoch=*/3)),
           ErrorCode::kInvalidProducerEpoch));
  CHECK(c.FetchStableOffsets("g").ok());
}

TEST_CASE("A restarted coordinator replays transactional offsets: committed, aborted and pending",
          "[group_coordinator]") {
  Env env;
  GroupCoordinator* c = env.coordinator.get();
  const PartitionId partition = c->OffsetsPartitionFor("g");
  TxnOffsetCommitRequest outside;  // a producer that consumes outside a group
  outside.group_id = "g";
  auto txn = [&](int64_t producer, int32_t p, int64_t offset) {
    TxnOffsetCommitRequest r = outside;
    r.producer_id = ProducerId(producer);
    r.offsets[{"t", p}] = OffsetAndMetadata{Offset(offset), kNoLeaderEpoch, "m"};
    return r;
  };
  REQUIRE(c->TxnCommitOffsets(txn(1, 0, 10)).ok());
  REQUIRE(c->TxnCommitOffsets(txn(2, 1, 20)).ok());
  REQUIRE(c->TxnCommitOffsets(txn(3, 2, 30)).ok());
  // A plain commit of t-0 written after producer 1's record wins over it,
  // even though the transaction commits later.
  OffsetCommitRequest plain;
  plain.group_id = "g";
  plain.offsets[{"t", 0}] = OffsetAndMetadata{Offset(12), kNoLeaderEpoch, ""};
  REQUIRE(c->CommitOffsets(plain).ok());
  REQUIRE(
      c->CompleteTransaction(partition, ProducerId(1), ProducerEpoch(0), ControlRecordType::kCommit)
          .ok());
  REQUIRE(
      c->CompleteTransaction(partition, ProducerId(2), ProducerEpoch(0), ControlRecordType::kAbort)
          .ok());
  auto before = c->FetchOffsets("g");
  CHECK(before.size() == 1);
  CHECK(before.at({"t", 0}).offset == Offset(12));

  env.Reopen();
  c = env.coordinator.get();
  CHECK(c->FetchOffsets("g") == before);
  // Producer 3's transaction is still open after the restart.
  CHECK(Is(c->FetchStableOffsets("g").status(), ErrorCode::kUnstableOffsetCommit));
  REQUIRE(
      c->CompleteTransaction(partition, ProducerId(3), ProducerEpoch(0), ControlRecordType::kCommit)
          .ok());
  auto after = c->FetchStableOffsets("g");
  REQUIRE(after.ok());
  CHECK(after->size() == 2);
  CHECK(after->at({"t", 2}).offset == Offset(30));
  CHECK(after->at({"t", 2}).metadata == "m");
  env.Reopen();
  CHECK(env.coordinator->FetchStableOffsets("g").value() == *after);
}

}  // namespace
}  // namespace evlog
