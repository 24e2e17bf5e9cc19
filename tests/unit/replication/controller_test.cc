#include "evlog/replication/controller.h"

#include <algorithm>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/unit/replication/controller_test_util.h"

namespace evlog {
namespace {

using test::Ids;
using test::TestCluster;

bool Contains(const std::vector<BrokerId>& ids, BrokerId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

template <typename T>
ErrorCode Code(const absl::StatusOr<T>& s) {
  return GetErrorCode(s.status());
}
ErrorCode Code(const absl::Status& s) { return GetErrorCode(s); }

// ---------------------------------------------------------------------------
// Registration and heartbeats

TEST_CASE(
    "a broker registers fenced, gets a new epoch every time and is unfenced by a caught-up "
    "heartbeat") {
  TestCluster c;
  auto e1 = c.controller->RegisterBroker(BrokerId(1), std::nullopt, "h1:9092", 7);
  REQUIRE(e1.ok());
  CHECK(c.Fenced(1));

  auto reply = c.controller->Heartbeat(BrokerId(1), *e1, /*want_fence=*/false,
                                       /*caught_up=*/false);
  REQUIRE(reply.ok());
  CHECK(reply->fenced);
  CHECK(!reply->should_shut_down);
  CHECK(c.Fenced(1));

  reply = c.controller->Heartbeat(BrokerId(1), *e1);
  REQUIRE(reply.ok());
  CHECK(!reply->fenced);
  CHECK(!c.Fenced(1));

  // The same incarnation registering again (a retry after a lost answer)
  // gets a larger epoch and starts over fenced.
  auto e2 = c.controller->RegisterBroker(BrokerId(1), std::nullopt, "h1:9092", 7);
  REQUIRE(e2.ok());
  CHECK(*e2 > *e1);
  CHECK(c.Fenced(1));
  CHECK(Code(c.controller->Heartbeat(BrokerId(1), *e1)) == ErrorCode::kStaleBrokerEpoch);

  // The epoch is the offset of the registration record, as in KRaft.
  auto entries = c.controller->RecordsSince(Offset(*e2), 1);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 1);
  const auto* record = std::get_if<RegisterBrokerRecord>(&(*entries)[0].record);
  REQUIRE(record != nullptr);
  CHECK(record->broker_epoch == *e2);
  CHECK(record->endpoint == "h1:9092");
}

TEST_CASE("a second incarnation of a live broker is refused until the first one's session ends") {
  TestCluster c;
  c.AddBroker(1);
  auto dup = c.controller->RegisterBroker(BrokerId(1), std::nullopt, "elsewhere:9092", 999);
  CHECK(Code(dup) == ErrorCode::kDuplicateBrokerRegistration);
  CHECK(!c.Fenced(1));

  // The first incarnation goes silent; once fenced it holds no session.
  c.Advance(9001);
  CHECK(c.Fenced(1));
  auto second = c.controller->RegisterBroker(BrokerId(1), std::nullopt, "elsewhere:9092", 999);
  REQUIRE(second.ok());
  CHECK(*second > c.epochs[1]);
  CHECK(c.controller->image().broker(BrokerId(1))->incarnation_id == 999);
  CHECK(c.controller->image().broker(BrokerId(1))->endpoint == "elsewhere:9092");
}

TEST_CASE(
    "a new incarnation may register once the old session expired even before a tick fenced "
    "it, and the old one's leaderships move first") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  REQUIRE(c.controller->CreateTopic("t", 1, 2).ok());
  const PartitionState before = c.State("t", 0);
  const int32_t leader = before.leader.value();
  c.clock.AdvanceMs(9001);  // no Tick
  auto again = c.controller->RegisterBroker(BrokerId(leader), std::nullopt, "new", 4242);
  REQUIRE(again.ok());
  CHECK(c.Fenced(leader));
  const PartitionState after = c.State("t", 0);
  CHECK(after.leader != BrokerId(leader));
  CHECK(after.leader != kNoLeader);
  CHECK(!Contains(after.isr, BrokerId(leader)));
  CHECK(after.leader_epoch == before.leader_epoch + 1);
  CHECK(c.controller->image().CheckInvariants().ok());
}

TEST_CASE("heartbeats from unknown brokers or with stale epochs are refused") {
  TestCluster c;
  CHECK(Code(c.controller->Heartbeat(BrokerId(5), 0)) == ErrorCode::kBrokerIdNotRegistered);
  const int64_t epoch = c.AddBroker(5);
  CHECK(Code(c.controller->Heartbeat(BrokerId(5), epoch + 1)) == ErrorCode::kStaleBrokerEpoch);
  CHECK(Code(c.controller->Heartbeat(BrokerId(5), -1)) == ErrorCode::kStaleBrokerEpoch);
  CHECK(c.controller->Heartbeat(BrokerId(5), epoch).ok());
  CHECK(Code(c.controller->RegisterBroker(BrokerId(-1), std::nullopt, "", 1)) ==
        ErrorCode::kInvalidRequest);
}

TEST_CASE(
    "want_fence fences a broker and moves its leaderships, want_shut_down also says shut "
    "down") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  REQUIRE(c.controller->CreateTopic("t", 1, 2).ok());
  const int32_t leader = c.State("t", 0).leader.value();
  const int32_t other = leader == 1 ? 2 : 1;

  auto reply = c.controller->Heartbeat(BrokerId(leader), c.epochs[leader], /*want_fence=*/true);
  REQUIRE(reply.ok());
  CHECK(reply->fenced);
  CHECK(!reply->should_shut_down);
  CHECK(c.State("t", 0).leader == BrokerId(other));

  // Unfenced again by a plain heartbeat.
  reply = c.controller->Heartbeat(BrokerId(leader), c.epochs[leader]);
  REQUIRE(reply.ok());
  CHECK(!reply->fenced);

  HeartbeatRequest shut_down;
  shut_down.broker_id = BrokerId(other);
  shut_down.broker_epoch = c.epochs[other];
  shut_down.want_shut_down = true;
  reply = c.controller->Heartbeat(shut_down);
  REQUIRE(reply.ok());
  CHECK(reply->fenced);
  CHECK(reply->should_shut_down);
  CHECK(c.Fenced(other));
  // `other` was the only ISR member: the partition is offline now.
  CHECK(c.State("t", 0).leader == kNoLeader);
  // A shutting-down broker stays fenced even when it says it caught up.
  reply = c.controller->Heartbeat(shut_down);
  REQUIRE(reply.ok());
  CHECK(reply->fenced);
}

// ---------------------------------------------------------------------------
// Fencing and elections

TEST_CASE(
    "a broker silent for the session timeout is fenced, leaves every ISR and its "
    "partitions move to the next ISR member") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  c.AddBroker(3);
  REQUIRE(c.controller->CreateTopic("orders", 6, 3).ok());
  const MetadataImage before = c.controller->image();
  const int32_t silent = c.State("orders", 0).leader.value();
  std::vector<int32_t> others;
  for (int32_t id : {1, 2, 3}) {
    if (id != silent) others.push_back(id);
  }

  // Exactly the timeout is not yet too long.
  c.Advance(9000, {others[0], others[1]});
  CHECK(!c.Fenced(silent));
  CHECK(c.controller->image() == before);
  c.Advance(1, {others[0], others[1]});
  CHECK(c.Fenced(silent));

  const MetadataImage after = c.controller->image();
  REQUIRE(after.CheckInvariants().ok());
  for (int32_t p = 0; p < 6; ++p) {
    INFO("partition " << p);
    const PartitionState& old = *before.partition(TopicPartition("orders", p));
    const PartitionState& now = *after.partition(TopicPartition("orders", p));
    CHECK(now.replicas == old.replicas);
    CHECK(!Contains(now.isr, BrokerId(silent)));
    CHECK(now.isr.size() == 2);
    CHECK(now.partition_epoch == old.partition_epoch + 1);
    if (old.leader == BrokerId(silent)) {
      // The first replica, in replica order, that is in the ISR and alive.
      BrokerId expected = kNoLeader;
      for (BrokerId r : old.replicas) {
        if (r != BrokerId(silent)) {
          expected = r;
          break;
        }
      }
      CHECK(now.leader == expected);
      CHECK(now.leader_epoch == old.leader_epoch + 1);
    } else {
      // An ISR shrink alone keeps the leader epoch (Kafka since 3.6).
      CHECK(now.leader == old.leader);
      CHECK(now.leader_epoch == old.leader_epoch);
    }
  }
}

TEST_CASE(
    "a partition whose whole ISR is fenced goes offline without unclean election and "
    "comes back with its last ISR member") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  REQUIRE(c.controller->CreateTopic("t", 1, 2).ok());
  const PartitionState s0 = c.State("t", 0);
  const int32_t leader = s0.leader.value();
  const int32_t follower = leader == 1 ? 2 : 1;

  c.Advance(9001, {leader});  // the follower dies
  PartitionState s1 = c.State("t", 0);
  CHECK(s1.isr == Ids({leader}));
  CHECK(s1.leader == BrokerId(leader));

  c.Advance(9001);  // the leader dies too
  PartitionState s2 = c.State("t", 0);
  CHECK(s2.leader == kNoLeader);
  CHECK(s2.isr == Ids({leader}));  // the last member stays: it has every committed record
  CHECK(s2.leader_epoch == s1.leader_epoch + 1);

  // The follower returns, but it is not in the ISR: no clean leader.
  REQUIRE(c.controller->Heartbeat(BrokerId(follower), c.epochs[follower]).ok());
  CHECK(c.State("t", 0).leader == kNoLeader);

  // The last ISR member returns and leads again.
  auto reply = c.controller->Heartbeat(BrokerId(leader), c.epochs[leader]);
  REQUIRE(reply.ok());
  CHECK(!reply->fenced);
  PartitionState s3 = c.State("t", 0);
  CHECK(s3.leader == BrokerId(leader));
  CHECK(s3.isr == Ids({leader}));
  CHECK(s3.leader_epoch == s2.leader_epoch + 1);
}

TEST_CASE(
    "with unclean election a live replica outside the ISR becomes leader and the ISR is "
    "reset to it") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  REQUIRE(c.controller->CreateTopic("u", 1, 2, {}, /*allow_unclean=*/true).ok());
  CHECK(c.controller->image().topic("u")->allow_unclean_election);
  const int32_t leader = c.State("u", 0).leader.value();
  const int32_t follower = leader == 1 ? 2 : 1;

  // The follower falls out of the ISR, comes back fenced-then-unfenced, and
  // is never added back (its log lags the leader's).
  c.Advance(9001, {leader});
  REQUIRE(c.controller->Heartbeat(BrokerId(follower), c.epochs[follower]).ok());
  CHECK(c.State("u", 0).isr == Ids({leader}));

  // The leader dies. Unclean election: the follower leads with an ISR of
  // itself alone. Every record the old leader had beyond the follower's
  // log end — acknowledged ones included — is lost: the follower's log is
  // now the partition's.
  const PartitionState before = c.State("u", 0);
  c.Advance(9001, {follower});
  const PartitionState after = c.State("u", 0);
  CHECK(after.leader == BrokerId(follower));
  CHECK(after.isr == Ids({follower}));
  CHECK(after.leader_epoch == before.leader_epoch + 1);
  CHECK(c.controller->image().CheckInvariants().ok());
}

TEST_CASE("with unclean election an offline partition takes the first replica that comes back") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  REQUIRE(c.controller->CreateTopic("u", 1, 2, {{"unclean.leader.election.enable", "true"}}).ok());
  CHECK(c.controller->image().topic("u")->allow_unclean_election);
  CHECK(c.controller->image().topic("u")->configs.empty());
  const int32_t leader = c.State("u", 0).leader.value();
  const int32_t follower = leader == 1 ? 2 : 1;
  c.Advance(9001, {leader});
  c.Advance(9001);
  CHECK(c.State("u", 0).leader == kNoLeader);
  REQUIRE(c.controller->Heartbeat(BrokerId(follower), c.epochs[follower]).ok());
  CHECK(c.State("u", 0).leader == BrokerId(follower));
  CHECK(c.State("u", 0).isr == Ids({follower}));
}

// ---------------------------------------------------------------------------
// AlterPartition

TEST_CASE("AlterPartition checks in Kafka's order and applies a valid ISR change") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  c.AddBroker(3);
  REQUIRE(c.controller->CreateTopic("a", 1, 3).ok());
  const TopicPartition tp("a", 0);
  const int32_t first_leader = c.State("a", 0).leader.value();
  // Move leadership once so that an old leader epoch exists.
  REQUIRE(c.controller->Heartbeat(BrokerId(first_leader), c.epochs[first_leader], true).ok());
  REQUIRE(c.controller->Heartbeat(BrokerId(first_leader), c.epochs[first_leader]).ok());
  const PartitionState s = c.State("a", 0);
  REQUIRE(s.leader != BrokerId(first_leader));
  REQUIRE(s.leader_epoch == LeaderEpoch(1));
  REQUIRE(!Contains(s.isr, BrokerId(first_leader)));
  const int32_t leader = s.leader.value();

  auto change = [&] {
    IsrChange ch;
    ch.topic_partition = tp;
    ch.leader = BrokerId(leader);
    ch.leader_broker_epoch = c.epochs[leader];
    ch.leader_epoch = s.leader_epoch;
    ch.partition_epoch = s.partition_epoch;
    ch.new_isr = s.isr;
    ch.new_isr.push_back(BrokerId(first_leader));
    return ch;
  };

  IsrChange ch = change();
  ch.leader_broker_epoch = c.epochs[leader] + 100;
  ch.topic_partition = TopicPartition("a", 9);
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kStaleBrokerEpoch);

  ch = change();
  ch.topic_partition = TopicPartition("a", 9);
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kUnknownTopicOrPartition);
  ch.topic_partition = TopicPartition("nope", 0);
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kUnknownTopicOrPartition);

  ch = change();
  ch.leader_epoch = s.leader_epoch + 1;
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kNotController);
  ch = change();
  ch.partition_epoch = s.partition_epoch + 1;
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kNotController);

  // The old leader with its old epoch: fenced by the epoch before anything
  // else is looked at.
  ch = change();
  ch.leader = BrokerId(first_leader);
  ch.leader_broker_epoch = c.epochs[first_leader];
  ch.leader_epoch = LeaderEpoch(0);
  ch.partition_epoch = 0;
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kFencedLeaderEpoch);
  // ...and with the current epochs: not the leader.
  ch.leader_epoch = s.leader_epoch;
  ch.partition_epoch = s.partition_epoch;
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kInvalidRequest);
  // The sender check comes before the partition epoch check.
  ch.partition_epoch = s.partition_epoch - 1;
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kInvalidRequest);

  ch = change();
  ch.partition_epoch = s.partition_epoch - 1;
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kInvalidUpdateVersion);

  ch = change();
  ch.new_isr.push_back(BrokerId(9));  // not a replica
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kInvalidRequest);
  ch = change();
  ch.new_isr.push_back(BrokerId(leader));  // twice
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kInvalidRequest);
  ch = change();
  ch.new_isr.erase(std::find(ch.new_isr.begin(), ch.new_isr.end(), BrokerId(leader)));
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kInvalidRequest);

  // A fenced replica is ineligible.
  REQUIRE(c.controller->Heartbeat(BrokerId(first_leader), c.epochs[first_leader], true).ok());
  const Offset end_before = c.controller->last_offset();
  CHECK(Code(c.controller->AlterPartition(change())) == ErrorCode::kIneligibleReplica);
  CHECK(c.controller->last_offset() == end_before);  // errors write nothing
  REQUIRE(c.controller->Heartbeat(BrokerId(first_leader), c.epochs[first_leader]).ok());

  // Success: the ISR grows, the partition epoch moves, the leader epoch not.
  auto result = c.controller->AlterPartition(change());
  REQUIRE(result.ok());
  CHECK(result->isr == change().new_isr);
  CHECK(result->leader == BrokerId(leader));
  CHECK(result->leader_epoch == s.leader_epoch);
  CHECK(result->partition_epoch == s.partition_epoch + 1);
  CHECK(*result == c.State("a", 0));

  // The same request again is now based on an old partition epoch.
  CHECK(Code(c.controller->AlterPartition(change())) == ErrorCode::kInvalidUpdateVersion);

  // An unchanged ISR answers the current state and writes nothing.
  ch = change();
  ch.partition_epoch = result->partition_epoch;
  ch.new_isr = result->isr;
  const Offset end = c.controller->last_offset();
  auto same = c.controller->AlterPartition(ch);
  REQUIRE(same.ok());
  CHECK(*same == *result);
  CHECK(c.controller->last_offset() == end);

  // A shrink, with the broker epoch check skipped (-1).
  ch.leader_broker_epoch = -1;
  ch.new_isr = Ids({leader});
  auto shrunk = c.controller->AlterPartition(ch);
  REQUIRE(shrunk.ok());
  CHECK(shrunk->isr == Ids({leader}));

  // A replica that is no longer registered is ineligible too.
  const int32_t gone = first_leader;
  REQUIRE(c.controller->UnregisterBroker(BrokerId(gone)).ok());
  ch.partition_epoch = shrunk->partition_epoch;
  ch.new_isr = Ids({leader, gone});
  CHECK(Code(c.controller->AlterPartition(ch)) == ErrorCode::kIneligibleReplica);
}

// ---------------------------------------------------------------------------
// Placement

TEST_CASE("rack-aware placement puts each partition's replicas on different racks") {
  TestCluster c;
  c.AddBroker(1, "a");
  c.AddBroker(2, "a");
  c.AddBroker(3, "b");
  c.AddBroker(4, "b");
  c.AddBroker(5, "c");
  c.AddBroker(6, "c");
  REQUIRE(c.controller->CreateTopic("r", 12, 3).ok());
  REQUIRE(c.controller->CreateTopic("r2", 12, 2).ok());
  const MetadataImage image = c.controller->image();
  std::map<BrokerId, int> preferred;
  for (const char* topic : {"r", "r2"}) {
    for (const PartitionState& p : image.topic(topic)->partitions) {
      std::set<std::string> racks;
      for (BrokerId r : p.replicas) racks.insert(*image.broker(r)->rack);
      CHECK(racks.size() == p.replicas.size());
      CHECK(p.leader == p.replicas[0]);
      CHECK(p.isr == p.replicas);
      ++preferred[p.replicas[0]];
    }
  }
  // Leaders go round-robin: 24 partitions over 6 brokers.
  for (const auto& [broker, count] : preferred) CHECK(count == 4);
}

TEST_CASE("placement spreads replicas and leaders over unfenced brokers only") {
  TestCluster c;
  for (int32_t id = 1; id <= 4; ++id) c.AddBroker(id);
  REQUIRE(c.controller->Heartbeat(BrokerId(4), c.epochs[4], /*want_fence=*/true).ok());
  REQUIRE(c.controller->CreateTopic("s", 9, 2).ok());
  const MetadataImage image = c.controller->image();
  std::map<BrokerId, int> leaders;
  for (const PartitionState& p : image.topic("s")->partitions) {
    REQUIRE(p.replicas.size() == 2);
    CHECK(p.replicas[0] != p.replicas[1]);
    CHECK(!Contains(p.replicas, BrokerId(4)));
    ++leaders[p.leader];
  }
  CHECK(leaders.size() == 3);
  for (const auto& [broker, count] : leaders) CHECK(count == 3);
  CHECK(Code(c.controller->CreateTopic("x", 1, 4)) == ErrorCode::kInvalidReplicationFactor);
}

// ---------------------------------------------------------------------------
// Preferred leaders

// Three brokers, topic "p" with 3 partitions of 3 replicas; broker `victim`
// is fenced, comes back, and is put back into the ISR of the partition it
// prefers by that partition's leader. Returns that partition.
int32_t DisplacePreferredLeader(TestCluster& c, int32_t victim) {
  int32_t partition = -1;
  for (int32_t p = 0; p < 3; ++p) {
    if (c.State("p", p).replicas[0] == BrokerId(victim)) partition = p;
  }
  REQUIRE(partition >= 0);
  REQUIRE(c.controller->Heartbeat(BrokerId(victim), c.epochs[victim], /*want_fence=*/true).ok());
  REQUIRE(c.controller->Heartbeat(BrokerId(victim), c.epochs[victim]).ok());
  const PartitionState s = c.State("p", partition);
  REQUIRE(s.leader != BrokerId(victim));
  IsrChange ch;
  ch.topic_partition = TopicPartition("p", partition);
  ch.leader = s.leader;
  ch.leader_epoch = s.leader_epoch;
  ch.partition_epoch = s.partition_epoch;
  ch.new_isr = s.isr;
  ch.new_isr.push_back(BrokerId(victim));
  REQUIRE(c.controller->AlterPartition(ch).ok());
  return partition;
}

TEST_CASE("the automatic rebalance gives a recovered broker its preferred leadership back") {
  ControllerOptions options = TestCluster::Defaults();
  options.auto_leader_rebalance_enable = true;
  options.leader_imbalance_check_interval_ms = 1000;
  TestCluster c(options);
  c.AddBroker(1);
  c.AddBroker(2);
  c.AddBroker(3);
  REQUIRE(c.controller->CreateTopic("p", 3, 3).ok());
  const int32_t partition = DisplacePreferredLeader(c, 2);
  const PartitionState displaced = c.State("p", partition);
  CHECK(displaced.leader != BrokerId(2));

  c.Advance(500, {1, 2, 3});  // not due yet
  CHECK(c.State("p", partition).leader == displaced.leader);
  c.Advance(500, {1, 2, 3});
  const PartitionState restored = c.State("p", partition);
  CHECK(restored.leader == BrokerId(2));
  CHECK(restored.leader_epoch == displaced.leader_epoch + 1);
  CHECK(restored.isr == displaced.isr);
}

TEST_CASE("the automatic rebalance waits while a broker's imbalance is within the percentage") {
  ControllerOptions options = TestCluster::Defaults();
  options.auto_leader_rebalance_enable = true;
  options.leader_imbalance_check_interval_ms = 1000;
  // One partition in three led elsewhere is 33%: below 50%, nothing moves.
  options.leader_imbalance_per_broker_percentage = 50;
  TestCluster c(options);
  c.AddBroker(1);
  c.AddBroker(2);
  c.AddBroker(3);
  REQUIRE(c.controller->CreateTopic("p", 3, 3).ok());
  REQUIRE(c.controller->CreateTopic("q", 6, 3).ok());
  const int32_t partition = DisplacePreferredLeader(c, 2);
  // Fencing broker 2 moved its leaderships of "q" too: give them back by
  // hand, so that of the 3 partitions broker 2 prefers only "p"'s is led
  // elsewhere.
  for (int32_t p = 0; p < 6; ++p) {
    const PartitionState s = c.State("q", p);
    if (s.replicas[0] != BrokerId(2)) continue;
    IsrChange ch;
    ch.topic_partition = TopicPartition("q", p);
    ch.leader = s.leader;
    ch.leader_epoch = s.leader_epoch;
    ch.partition_epoch = s.partition_epoch;
    ch.new_isr = s.isr;
    ch.new_isr.push_back(BrokerId(2));
    REQUIRE(c.controller->AlterPartition(ch).ok());
    const TopicPartition tp("q", p);
    REQUIRE(c.controller->ElectLeaders(std::span(&tp, 1), ElectionType::kPreferred).ok());
  }
  c.Advance(1000, {1, 2, 3});
  CHECK(c.State("p", partition).leader != BrokerId(2));
}

TEST_CASE("ElectLeaders restores the preferred leader and reports Kafka's per-partition errors") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  c.AddBroker(3);
  REQUIRE(c.controller->CreateTopic("p", 3, 3).ok());
  int32_t partition = -1;
  for (int32_t p = 0; p < 3; ++p) {
    if (c.State("p", p).replicas[0] == BrokerId(2)) partition = p;
  }
  const TopicPartition tp("p", partition);
  const TopicPartition unknown("p", 7);

  // Broker 2 fenced and back, but not yet in the ISR.
  REQUIRE(c.controller->Heartbeat(BrokerId(2), c.epochs[2], /*want_fence=*/true).ok());
  REQUIRE(c.controller->Heartbeat(BrokerId(2), c.epochs[2]).ok());
  std::vector<TopicPartition> both = {tp, unknown};
  auto result = c.controller->ElectLeaders(both, ElectionType::kPreferred);
  REQUIRE(result.ok());
  CHECK(Code(result->at(tp)) == ErrorCode::kPreferredLeaderNotAvailable);
  CHECK(Code(result->at(unknown)) == ErrorCode::kUnknownTopicOrPartition);

  const PartitionState s = c.State("p", partition);
  IsrChange ch;
  ch.topic_partition = tp;
  ch.leader = s.leader;
  ch.leader_epoch = s.leader_epoch;
  ch.partition_epoch = s.partition_epoch;
  ch.new_isr = s.isr;
  ch.new_isr.push_back(BrokerId(2));
  REQUIRE(c.controller->AlterPartition(ch).ok());

  result = c.controller->ElectLeaders(std::span(&tp, 1), ElectionType::kPreferred);
  REQUIRE(result.ok());
  CHECK(result->at(tp).ok());
  CHECK(c.State("p", partition).leader == BrokerId(2));
  CHECK(c.State("p", partition).leader_epoch == s.leader_epoch + 1);

  result = c.controller->ElectLeaders(std::span(&tp, 1), ElectionType::kPreferred);
  REQUIRE(result.ok());
  CHECK(Code(result->at(tp)) == ErrorCode::kElectionNotNeeded);
  // All partitions: nothing to do, and "not needed" is left out.
  result = c.controller->ElectLeaders({}, ElectionType::kPreferred);
  REQUIRE(result.ok());
  CHECK(result->empty());
  // An unclean election where there is a leader is not needed either.
  result = c.controller->ElectLeaders(std::span(&tp, 1), ElectionType::kUnclean);
  REQUIRE(result.ok());
  CHECK(Code(result->at(tp)) == ErrorCode::kElectionNotNeeded);
}

TEST_CASE(
    "an unclean ElectLeaders brings an offline partition back through a replica outside "
    "the ISR even when the topic forbids unclean election") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  REQUIRE(c.controller->CreateTopic("t", 1, 2).ok());
  const TopicPartition tp("t", 0);
  const int32_t leader = c.State("t", 0).leader.value();
  const int32_t follower = leader == 1 ? 2 : 1;
  c.Advance(9001, {leader});
  c.Advance(9001);
  CHECK(c.State("t", 0).leader == kNoLeader);

  auto result = c.controller->ElectLeaders(std::span(&tp, 1), ElectionType::kUnclean);
  REQUIRE(result.ok());
  CHECK(Code(result->at(tp)) == ErrorCode::kEligibleLeadersNotAvailable);

  REQUIRE(c.controller->Heartbeat(BrokerId(follower), c.epochs[follower]).ok());
  CHECK(c.State("t", 0).leader == kNoLeader);  // the topic forbids it on its own
  result = c.controller->ElectLeaders(std::span(&tp, 1), ElectionType::kUnclean);
  REQUIRE(result.ok());
  CHECK(result->at(tp).ok());
  CHECK(c.State("t", 0).leader == BrokerId(follower));
  CHECK(c.State("t", 0).isr == Ids({follower}));
}

// ---------------------------------------------------------------------------
// Topics

TEST_CASE(
    "CreateTopic refuses bad names, duplicates, bad configs, counts and replication factors") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  CHECK(Code(c.controller->CreateTopic("", 1, 1)) == ErrorCode::kInvalidTopicException);
  CHECK(Code(c.controller->CreateTopic("a b", 1, 1)) == ErrorCode::kInvalidTopicException);
  CHECK(Code(c.controller->CreateTopic(std::string(250, 'x'), 1, 1)) ==
        ErrorCode::kInvalidTopicException);
  REQUIRE(c.controller->CreateTopic("a.b", 1, 1).ok());
  CHECK(Code(c.controller->CreateTopic("a.b", 1, 1)) == ErrorCode::kTopicAlreadyExists);
  CHECK(Code(c.controller->CreateTopic("a_b", 1, 1)) == ErrorCode::kInvalidTopicException);
  CHECK(Code(c.controller->CreateTopic("c", 1, 1, {{"retention.ms", "soon"}})) ==
        ErrorCode::kInvalidConfig);
  CHECK(Code(c.controller->CreateTopic("c", 1, 1, {{"no.such.config", "1"}})) ==
        ErrorCode::kInvalidConfig);
  CHECK(Code(c.controller->CreateTopic("c", 1, 1, {{"unclean.leader.election.enable", "yes"}})) ==
        ErrorCode::kInvalidConfig);
  CHECK(Code(c.controller->CreateTopic("c", 0, 1)) == ErrorCode::kInvalidPartitions);
  CHECK(Code(c.controller->CreateTopic("c", -2, 1)) == ErrorCode::kInvalidPartitions);
  CHECK(Code(c.controller->CreateTopic("c", 1, 0)) == ErrorCode::kInvalidReplicationFactor);
  CHECK(Code(c.controller->CreateTopic("c", 1, 3)) == ErrorCode::kInvalidReplicationFactor);
  CHECK(Code(c.controller->CreateTopic("c", 10000, 1)) == ErrorCode::kPolicyViolation);
  CHECK(c.controller->image().topic("c") == nullptr);

  // -1 takes the defaults; configs are kept.
  auto id = c.controller->CreateTopic("c", -1, -1, {{"retention.ms", "1000"}});
  REQUIRE(id.ok());
  const MetadataImage image = c.controller->image();
  const TopicImage* topic = image.topic("c");
  REQUIRE(topic != nullptr);
  CHECK(topic->id == *id);
  CHECK(topic->partitions.size() == 1);
  CHECK(topic->partitions[0].replicas.size() == 1);
  CHECK(topic->configs.at("retention.ms") == "1000");
  CHECK(!topic->allow_unclean_election);
  CHECK(topic->partitions[0].leader_epoch == LeaderEpoch(0));
  CHECK(topic->partitions[0].partition_epoch == 0);
}

TEST_CASE("CreatePartitions only grows a topic and DeleteTopic removes it for good") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  c.AddBroker(3);
  auto id = c.controller->CreateTopic("g", 2, 2);
  REQUIRE(id.ok());
  CHECK(Code(c.controller->CreatePartitions("nope", 3)) == ErrorCode::kUnknownTopicOrPartition);
  CHECK(Code(c.controller->CreatePartitions("g", 2)) == ErrorCode::kInvalidPartitions);
  CHECK(Code(c.controller->CreatePartitions("g", 1)) == ErrorCode::kInvalidPartitions);
  REQUIRE(c.controller->CreatePartitions("g", 5).ok());
  const MetadataImage image = c.controller->image();
  REQUIRE(image.topic("g")->partitions.size() == 5);
  for (const PartitionState& p : image.topic("g")->partitions) {
    CHECK(p.replicas.size() == 2);
    CHECK(p.isr == p.replicas);
    CHECK(p.leader == p.replicas[0]);
  }
  // Too few unfenced brokers for the topic's replication factor.
  REQUIRE(c.controller->Heartbeat(BrokerId(1), c.epochs[1], true).ok());
  REQUIRE(c.controller->Heartbeat(BrokerId(2), c.epochs[2], true).ok());
  CHECK(Code(c.controller->CreatePartitions("g", 6)) == ErrorCode::kInvalidReplicationFactor);

  CHECK(Code(c.controller->DeleteTopic("nope")) == ErrorCode::kUnknownTopicOrPartition);
  REQUIRE(c.controller->DeleteTopic("g").ok());
  CHECK(c.controller->image().topic("g") == nullptr);
  CHECK(c.controller->image().topic(*id) == nullptr);
  REQUIRE(c.controller->Heartbeat(BrokerId(1), c.epochs[1]).ok());
  auto again = c.controller->CreateTopic("g", 1, 2);
  REQUIRE(again.ok());
  CHECK(*again != *id);
}

TEST_CASE("MinInsyncReplicas reports the topic's config or the default") {
  ControllerOptions options = TestCluster::Defaults();
  options.default_min_insync_replicas = 2;
  TestCluster c(options);
  c.AddBroker(1);
  REQUIRE(c.controller->CreateTopic("d", 1, 1).ok());
  REQUIRE(c.controller->CreateTopic("e", 1, 1, {{"min.insync.replicas", "3"}}).ok());
  CHECK(*c.controller->MinInsyncReplicas("d") == 2);
  CHECK(*c.controller->MinInsyncReplicas("e") == 3);
  CHECK(Code(c.controller->MinInsyncReplicas("f")) == ErrorCode::kUnknownTopicOrPartition);
}

// ---------------------------------------------------------------------------
// Unregistering

TEST_CASE("UnregisterBroker removes the broker and moves its leaderships") {
  TestCluster c;
  CHECK(Code(c.controller->UnregisterBroker(BrokerId(1))) == ErrorCode::kBrokerIdNotRegistered);
  c.AddBroker(1);
  c.AddBroker(2);
  REQUIRE(c.controller->CreateTopic("t", 1, 2).ok());
  const int32_t leader = c.State("t", 0).leader.value();
  REQUIRE(c.controller->UnregisterBroker(BrokerId(leader)).ok());
  CHECK(c.controller->image().broker(BrokerId(leader)) == nullptr);
  CHECK(c.State("t", 0).leader != BrokerId(leader));
  CHECK(c.State("t", 0).leader != kNoLeader);
  CHECK(Code(c.controller->Heartbeat(BrokerId(leader), c.epochs[leader])) ==
        ErrorCode::kBrokerIdNotRegistered);
  // It may join again, with a new epoch.
  const int64_t old_epoch = c.epochs[leader];
  CHECK(c.AddBroker(leader) > old_epoch);
}

// ---------------------------------------------------------------------------
// Following the log

TEST_CASE("the listener sees every record once, in log order, as RecordsSince returns them") {
  TestCluster c;
  std::vector<MetadataLogEntry> seen;
  bool nested = false;
  c.controller->SetListener([&](const MetadataLogEntry& e) {
    seen.push_back(e);
    // The listener may call back in, even start a decision of its own.
    CHECK(c.controller->last_offset() >= e.offset);
    if (std::holds_alternative<TopicRecord>(e.record) && !nested) {
      nested = true;
      CHECK(c.controller->CreateTopic("nested", 1, 1).ok());
    }
  });
  c.AddBroker(1);
  REQUIRE(c.controller->CreateTopic("t", 2, 1).ok());
  auto all = c.controller->RecordsSince(Offset(0), 1000);
  REQUIRE(all.ok());
  CHECK(seen == *all);
  // Register, unfence; topic + 2 partitions; the nested topic + 1.
  CHECK(all->size() == 7);
  CHECK(c.controller->last_offset() == Offset(6));
  for (size_t i = 0; i < all->size(); ++i)
    CHECK((*all)[i].offset == Offset(static_cast<int64_t>(i)));
  // Each decision was one append.
  CHECK(c.memory_log->append_sizes() == std::vector<size_t>{1, 1, 3, 2});

  auto tail = c.controller->RecordsSince(Offset(5), 1000);
  REQUIRE(tail.ok());
  CHECK(tail->size() == 2);
  CHECK(c.controller->RecordsSince(Offset(7), 10)->empty());
  CHECK(c.controller->RecordsSince(Offset(0), 2)->size() == 2);
  CHECK(Code(c.controller->RecordsSince(Offset(-1), 2)) == ErrorCode::kOffsetOutOfRange);

  // A follower applying what it read has the controller's image.
  MetadataImage follower;
  for (const MetadataLogEntry& e : *all) REQUIRE(follower.Apply(e.record).ok());
  CHECK(follower == c.controller->image());

  c.controller->SetListener(nullptr);
  REQUIRE(c.controller->DeleteTopic("t").ok());
  CHECK(seen.size() == 7);
}

// A MetadataLog whose appends fail on demand.
class FailingLog final : public MetadataLog {
 public:
  absl::StatusOr<Offset> Append(std::span<const MetadataRecord> records) override {
    if (fail) return MakeError(ErrorCode::kKafkaStorageError, "injected");
    return inner.Append(records);
  }
  absl::StatusOr<std::vector<MetadataLogEntry>> Read(Offset from,
                                                     size_t max_records) const override {
    return inner.Read(from, max_records);
  }
  Offset end_offset() const override { return inner.end_offset(); }

  bool fail = false;
  MemoryMetadataLog inner;
};

TEST_CASE("an operation whose log append fails changes nothing") {
  ManualClock clock;
  auto owned = std::make_unique<FailingLog>();
  FailingLog* log = owned.get();
  auto controller = Controller::Open(clock, std::move(owned), TestCluster::Defaults());
  REQUIRE(controller.ok());
  Controller& ctl = **controller;
  auto epoch = ctl.RegisterBroker(BrokerId(1), std::nullopt, "h", 1);
  REQUIRE(epoch.ok());
  REQUIRE(ctl.Heartbeat(BrokerId(1), *epoch).ok());
  const MetadataImage before = ctl.image();
  const Offset last = ctl.last_offset();

  log->fail = true;
  CHECK(Code(ctl.CreateTopic("t", 1, 1)) == ErrorCode::kKafkaStorageError);
  CHECK(Code(ctl.RegisterBroker(BrokerId(2), std::nullopt, "h", 2)) ==
        ErrorCode::kKafkaStorageError);
  CHECK(Code(ctl.Heartbeat(BrokerId(1), *epoch, /*want_fence=*/true)) ==
        ErrorCode::kKafkaStorageError);
  clock.AdvanceMs(100'000);
  CHECK(Code(ctl.Tick()) == ErrorCode::kKafkaStorageError);
  CHECK(ctl.image() == before);
  CHECK(ctl.last_offset() == last);

  // Once the log works again the retried tick fences the silent broker.
  log->fail = false;
  REQUIRE(ctl.Tick().ok());
  CHECK(ctl.image().broker(BrokerId(1))->fenced);
}

TEST_CASE(
    "fencing a broker in more ISRs than one decision may hold is written in parts, the "
    "fence last") {
  TestCluster c;
  c.AddBroker(1);
  c.AddBroker(2);
  REQUIRE(c.controller->CreateTopic("a", 5001, 2).ok());
  REQUIRE(c.controller->CreateTopic("b", 5001, 2).ok());
  const size_t appends = c.memory_log->append_sizes().size();
  REQUIRE(c.controller->Heartbeat(BrokerId(1), c.epochs[1], /*want_fence=*/true).ok());
  const std::vector<size_t> sizes = c.memory_log->append_sizes();
  REQUIRE(sizes.size() == appends + 2);
  CHECK(sizes[appends] == Controller::kMaxRecordsPerDecision);
  CHECK(sizes[appends + 1] == 10002 + 1 - Controller::kMaxRecordsPerDecision);
  auto last = c.controller->RecordsSince(c.controller->last_offset(), 1);
  REQUIRE(last.ok());
  CHECK(std::holds_alternative<FenceBrokerRecord>(last->at(0).record));
  const MetadataImage image = c.controller->image();
  CHECK(image.CheckInvariants().ok());
  for (const char* topic : {"a", "b"}) {
    for (const PartitionState& p : image.topic(topic)->partitions) {
      REQUIRE(p.leader == BrokerId(2));
      REQUIRE(p.isr == Ids({2}));
    }
  }
}

TEST_CASE("bad controller options are INVALID_CONFIG") {
  ManualClock clock;
  ControllerOptions options;
  options.session_timeout_ms = 0;
  CHECK(Code(Controller::Open(clock, std::make_unique<MemoryMetadataLog>(), options)) ==
        ErrorCode::kInvalidConfig);
  options = ControllerOptions();
  options.leader_imbalance_per_broker_percentage = 101;
  CHECK(Code(Controller::Open(clock, std::make_unique<MemoryMetadataLog>(), options)) ==
        ErrorCode::kInvalidConfig);
  CHECK(Code(Controller::Open(clock, nullptr)) == ErrorCode::kInvalidConfig);
}

}  // namespace
}  // namespace evlog
