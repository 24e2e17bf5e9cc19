// Consumer groups from the application's side: Subscribe, rebalances,
// commits, static membership, and the rules of the design brief.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/group/group_admin.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/group/range_assignor.h"
#include "evlog/group/sticky_assignor.h"
#include "evlog/io/executor.h"
#include "evlog/io/log_sink.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/status.h"
#include "tests/support/broker_options.h"
#include "tests/support/catch.h"
#include "tests/unit/client/client_env.h"

namespace evlog {
namespace {

using testing::ClientEnv;

// Remembers what the listener was told, in order.
struct RecordingListener : ConsumerRebalanceListener {
  std::vector<std::pair<std::string, std::vector<TopicPartition>>> calls;
  std::function<void(const std::vector<TopicPartition>&)> on_revoked;
  void OnPartitionsRevoked(const std::vector<TopicPartition>& p) override {
    calls.emplace_back("revoked", p);
    if (on_revoked) on_revoked(p);
  }
  void OnPartitionsAssigned(const std::vector<TopicPartition>& p) override {
    calls.emplace_back("assigned", p);
  }
  void OnPartitionsLost(const std::vector<TopicPartition>& p) override {
    calls.emplace_back("lost", p);
  }
  size_t Count(const std::string& what) const {
    return static_cast<size_t>(
        std::count_if(calls.begin(), calls.end(), [&](const auto& c) { return c.first == what; }));
  }
};

// A broker on an in-memory file system, real time, and a coordinator that
// accepts short sessions.
struct GroupEnv : ClientEnv {
  GroupEnv() {
    GroupCoordinatorOptions o;
    o.min_session_timeout_ms = 10;
    o.offset_store.partition_count = 2;
    REQUIRE(GroupCoordinator::ForBroker(*broker, &o).ok());
  }
  ConsumerOptions Options(std::string group = "g") {
    ConsumerOptions o;
    o.group_id = std::move(group);
    o.auto_offset_reset = OffsetResetPolicy::kEarliest;
    o.session_timeout_ms = 2'000;
    o.heartbeat_interval_ms = 20;
    o.max_poll_interval_ms = 10'000;
    o.enable_auto_commit = false;
    return o;
  }
  void Produce(const std::string& topic, int partitions, int per_partition, int from = 0) {
    auto producer = MakeProducer();
    for (int p = 0; p < partitions; ++p) {
      for (int i = from; i < from + per_partition; ++i) {
        // The record holds views: the value must outlive Send.
        const std::string value = topic + "/" + std::to_string(p) + ":" + std::to_string(i);
        ProducerRecord r(topic, value);
        r.partition = PartitionId(p);
        REQUIRE(producer->Send(r, {}).ok());
      }
    }
    REQUIRE(producer->Flush().ok());
  }
};

std::set<TopicPartition> AsSet(const std::vector<TopicPartition>& v) {
  return {v.begin(), v.end()};
}

// Polls every consumer in turn (a few ms each) until `done` or 10 s pass;
// what each returned is appended to `got[i]`.
bool PollUntil(std::vector<Consumer*> consumers, std::vector<std::vector<OwnedRecord>>& got,
               const std::function<bool()>& done, int64_t poll_ms = 5) {
  got.resize(consumers.size());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    for (size_t i = 0; i < consumers.size(); ++i) {
      auto records = consumers[i]->Poll(poll_ms);
      REQUIRE(records.ok());
      for (const auto& r : *records) got[i].push_back(r.ToOwned());
    }
    if (done()) return true;
  }
  return done();
}

size_t Total(const std::vector<std::vector<OwnedRecord>>& got) {
  size_t n = 0;
  for (const auto& g : got) n += g.size();
  return n;
}

TEST_CASE("A subscribed consumer gets every partition, commits, and a successor resumes there",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("orders", 3);
  env.Produce("orders", 3, 10);
  RecordingListener listener;
  auto c = env.MakeConsumer(env.Options());
  REQUIRE(c->Subscribe({"orders"}, &listener).ok());
  CHECK(c->Subscription() == std::vector<std::string>{"orders"});
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({c.get()}, got, [&] { return Total(got) == 30; }));
  CHECK(c->Assignment().size() == 3);
  REQUIRE(listener.calls.size() == 1);
  CHECK(listener.calls[0].first == "assigned");
  CHECK(listener.calls[0].second.size() == 3);
  REQUIRE(c->CommitSync().ok());
  auto committed = c->Committed({{"orders", 0}, {"orders", 1}, {"orders", 2}});
  REQUIRE(committed.ok());
  for (int p = 0; p < 3; ++p) CHECK(committed->at({"orders", p}).offset == Offset(10));
  CHECK(c->GroupMetadata().generation.value() >= 1);
  REQUIRE(c->Close().ok());
  CHECK(listener.Count("revoked") == 1);

  env.Produce("orders", 3, 5, 10);
  auto next = env.MakeConsumer(env.Options());
  REQUIRE(next->Subscribe({"orders"}).ok());
  got.clear();
  REQUIRE(PollUntil({next.get()}, got, [&] { return Total(got) == 15; }));
  // Only the new records: nothing before the committed offsets again.
  for (const auto& r : got[0]) CHECK(r.offset.value() >= 10);
}

TEST_CASE("Members of one group split the partitions and together read each record once",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 4);
  auto a = env.MakeConsumer(env.Options());
  auto b = env.MakeConsumer(env.Options());
  REQUIRE(a->Subscribe({"t"}).ok());
  REQUIRE(b->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({a.get(), b.get()}, got,
                    [&] { return a->Assignment().size() == 2 && b->Assignment().size() == 2; }));
  std::set<TopicPartition> both = AsSet(a->Assignment());
  for (const auto& tp : b->Assignment()) CHECK(both.insert(tp).second);
  CHECK(both.size() == 4);

  env.Produce("t", 4, 25);
  REQUIRE(PollUntil({a.get(), b.get()}, got, [&] { return Total(got) >= 100; }));
  std::set<std::string> values;
  for (const auto& g : got) {
    for (const auto& r : g) CHECK(values.insert(*r.value).second);
  }
  CHECK(values.size() == 100);
  // Each member read only its own partitions.
  for (const auto& r : got[0]) CHECK(AsSet(a->Assignment()).count({r.topic, r.partition}) == 1);
  for (const auto& r : got[1]) CHECK(AsSet(b->Assignment()).count({r.topic, r.partition}) == 1);
}

TEST_CASE("Different groups each receive every record", "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 2);
  env.Produce("t", 2, 20);
  auto billing = env.MakeConsumer(env.Options("billing"));
  auto audit = env.MakeConsumer(env.Options("audit"));
  REQUIRE(billing->Subscribe({"t"}).ok());
  REQUIRE(audit->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({billing.get(), audit.get()}, got,
                    [&] { return got[0].size() == 40 && got[1].size() == 40; }));
}

TEST_CASE("Members beyond the partition count sit idle until partitions are added",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 2);
  std::vector<std::unique_ptr<Consumer>> members;
  std::vector<Consumer*> raw;
  for (int i = 0; i < 3; ++i) {
    members.push_back(env.MakeConsumer(env.Options()));
    REQUIRE(members.back()->Subscribe({"t"}).ok());
    raw.push_back(members.back().get());
  }
  auto counts = [&] {
    std::multiset<size_t> n;
    for (auto* c : raw) n.insert(c->Assignment().size());
    return n;
  };
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil(raw, got, [&] { return counts() == std::multiset<size_t>{0, 1, 1}; }));
  // A third partition: the leader notices and the idle member gets it.
  REQUIRE(env.broker->CreatePartitions("t", 3).ok());
  REQUIRE(PollUntil(raw, got, [&] { return counts() == std::multiset<size_t>{1, 1, 1}; }));
  env.Produce("t", 3, 4);
  REQUIRE(PollUntil(raw, got, [&] { return Total(got) == 12; }));
}

TEST_CASE("A cooperative rebalance revokes only the partitions that move and the rest keep flowing",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 4);
  RecordingListener la;
  ConsumerOptions slow = env.Options();
  slow.max_poll_records = 1;  // a backlog that lasts through the rebalance
  auto a = env.MakeConsumer(slow);
  REQUIRE(a->Subscribe({"t"}, &la).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({a.get()}, got, [&] { return a->Assignment().size() == 4; }));
  const std::set<TopicPartition> before = AsSet(a->Assignment());
  env.Produce("t", 4, 500);

  RecordingListener lb;
  auto b = env.MakeConsumer(env.Options());
  REQUIRE(b->Subscribe({"t"}, &lb).ok());
  // While the group rebalances, a keeps reading what it keeps.
  const size_t read_before = got[0].size();
  size_t read_while_b_waits = 0;
  REQUIRE(PollUntil({a.get(), b.get()}, got, [&] {
    if (b->Assignment().empty()) read_while_b_waits = got[0].size() - read_before;
    return b->Assignment().size() == 2 && a->Assignment().size() == 2;
  }));
  const bool a_read_during_rebalance = read_while_b_waits > 0;
  // a was never asked to give up everything: one revocation, of the two
  // partitions b now owns.
  REQUIRE(la.Count("revoked") == 1);
  for (const auto& [what, partitions] : la.calls) {
    if (what != "revoked") continue;
    CHECK(partitions.size() == 2);
    CHECK(AsSet(partitions) == AsSet(b->Assignment()));
  }
  CHECK(la.Count("lost") == 0);
  std::set<TopicPartition> kept = AsSet(a->Assignment());
  for (const auto& tp : kept) CHECK(before.count(tp) == 1);
  CHECK(a_read_during_rebalance);
}

TEST_CASE("With an eager assignor every member gives up everything at a rebalance",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 4);
  ConsumerOptions o = env.Options();
  o.partition_assignment_strategy = {AnyAssignor(RangeAssignor())};
  RecordingListener la;
  auto a = env.MakeConsumer(o);
  REQUIRE(a->Subscribe({"t"}, &la).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({a.get()}, got, [&] { return a->Assignment().size() == 4; }));
  auto b = env.MakeConsumer(o);
  REQUIRE(b->Subscribe({"t"}).ok());
  REQUIRE(PollUntil({a.get(), b.get()}, got,
                    [&] { return a->Assignment().size() == 2 && b->Assignment().size() == 2; }));
  REQUIRE(la.Count("revoked") >= 1);
  bool revoked_all = false;
  for (const auto& [what, partitions] : la.calls) {
    if (what == "revoked" && partitions.size() == 4) revoked_all = true;
  }
  CHECK(revoked_all);
}

// Found by bench/rebalance_bench.cc (BM_Rebalance/eager_sticky_join moved
// 997 of 1,000 partitions where 9 would do): an eager member gives up its
// partitions before it joins, and its subscription must still name them,
// or StickyAssignor assigns from scratch at every rebalance.
TEST_CASE("An eager sticky group keeps what its members own when a member joins",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 6);
  ConsumerOptions o = env.Options();
  o.partition_assignment_strategy = {AnyAssignor(StickyAssignor())};
  auto a = env.MakeConsumer(o);
  auto b = env.MakeConsumer(o);
  REQUIRE(a->Subscribe({"t"}).ok());
  REQUIRE(b->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({a.get(), b.get()}, got,
                    [&] { return a->Assignment().size() == 3 && b->Assignment().size() == 3; }));
  const std::set<TopicPartition> had_a = AsSet(a->Assignment());
  const std::set<TopicPartition> had_b = AsSet(b->Assignment());
  auto c = env.MakeConsumer(o);
  REQUIRE(c->Subscribe({"t"}).ok());
  REQUIRE(PollUntil({a.get(), b.get(), c.get()}, got, [&] {
    return a->Assignment().size() == 2 && b->Assignment().size() == 2 &&
           c->Assignment().size() == 2;
  }));
  // The worked example of sticky_assignor.h: a and b each keep two.
  size_t kept = 0;
  for (const auto& tp : a->Assignment()) kept += had_a.count(tp);
  for (const auto& tp : b->Assignment()) kept += had_b.count(tp);
  CHECK(kept == 4);
}

// Found by bench/rebalance_bench.cc (BM_Rebalance/cooperative_join took 3-8
// generations for one join to a group of 100): a member told to revoke
// rejoins in the same Poll, which puts the group back into
// PreparingRebalance before the members that have not yet sent their
// SyncGroup do. Unless those still get their assignment, they keep the
// partitions they were to give up and the group needs one more generation
// for each of them. KIP-429 needs two.
TEST_CASE("A cooperative rebalance after one member joins takes two generations",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 12);
  std::vector<std::unique_ptr<Consumer>> members;
  std::vector<Consumer*> raw;
  auto join = [&] {
    members.push_back(env.MakeConsumer(env.Options()));
    REQUIRE(members.back()->Subscribe({"t"}).ok());
    raw.push_back(members.back().get());
  };
  auto each_has = [&](size_t n) {
    for (Consumer* c : raw) {
      if (c->Assignment().size() != n) return false;
    }
    return true;
  };
  for (int i = 0; i < 3; ++i) join();
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil(raw, got, [&] { return each_has(4); }));
  const int64_t before = raw[0]->GroupMetadata().generation.value();
  join();
  // The order the race needs, made explicit: d's join starts the
  // rebalance, a, b and c hear of it from their heartbeats and rejoin (c's
  // join completes the round: c and then d send SyncGroup), the leader a
  // hands out the assignment, revokes one partition and rejoins at once;
  // then b sends its SyncGroup.
  REQUIRE(raw[3]->Poll(0).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (size_t i : {0, 1, 2, 3, 0, 1}) REQUIRE(raw[i]->Poll(0).ok());
  REQUIRE(PollUntil(raw, got, [&] { return each_has(3); }));
  for (Consumer* c : raw) {
    INFO("generation " << c->GroupMetadata().generation.value() << ", before the join " << before);
    CHECK(c->GroupMetadata().generation.value() == before + 2);
  }
}

TEST_CASE("Closing a member hands its partitions to the others", "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 2);
  auto a = env.MakeConsumer(env.Options());
  auto b = env.MakeConsumer(env.Options());
  REQUIRE(a->Subscribe({"t"}).ok());
  REQUIRE(b->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({a.get(), b.get()}, got,
                    [&] { return a->Assignment().size() == 1 && b->Assignment().size() == 1; }));
  REQUIRE(b->Close().ok());
  REQUIRE(PollUntil({a.get()}, got, [&] { return a->Assignment().size() == 2; }));
  auto description = GroupCoordinator::ForBroker(*env.broker).value()->DescribeGroup("g");
  REQUIRE(description.ok());
  CHECK(description->members.size() == 1);
}

TEST_CASE("A member that stops polling leaves, loses its partitions, and rejoins when it polls",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 2);
  ConsumerOptions o = env.Options();
  o.max_poll_interval_ms = 300;
  RecordingListener la;
  auto a = env.MakeConsumer(o);
  auto b = env.MakeConsumer(o);
  REQUIRE(a->Subscribe({"t"}, &la).ok());
  REQUIRE(b->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({a.get(), b.get()}, got,
                    [&] { return a->Assignment().size() == 1 && b->Assignment().size() == 1; }));
  // a stalls; b keeps polling and takes over.
  const auto stall_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(600);
  REQUIRE(PollUntil({b.get()}, got, [&] {
    return b->Assignment().size() == 2 && std::chrono::steady_clock::now() > stall_end;
  }));
  // a's next poll finds out: its partitions were lost, not revoked.
  REQUIRE(PollUntil({a.get(), b.get()}, got,
                    [&] { return a->Assignment().size() == 1 && b->Assignment().size() == 1; }));
  CHECK(la.Count("lost") == 1);
}

TEST_CASE(
    "A static member restarting within its session gets its partitions back without a rebalance",
    "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 4);
  ConsumerOptions oa = env.Options();
  oa.group_instance_id = "host-a";
  ConsumerOptions ob = env.Options();
  ob.group_instance_id = "host-b";
  auto a = env.MakeConsumer(oa);
  auto b = env.MakeConsumer(ob);
  REQUIRE(a->Subscribe({"t"}).ok());
  REQUIRE(b->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({a.get(), b.get()}, got,
                    [&] { return a->Assignment().size() == 2 && b->Assignment().size() == 2; }));
  const std::vector<TopicPartition> owned = a->Assignment();
  const Generation generation = b->GroupMetadata().generation;
  REQUIRE(a->Close().ok());  // a static member does not leave
  a.reset();
  auto again = env.MakeConsumer(oa);
  REQUIRE(again->Subscribe({"t"}).ok());
  got.clear();
  REQUIRE(PollUntil({again.get(), b.get()}, got, [&] { return again->Assignment().size() == 2; }));
  CHECK(again->Assignment() == owned);
  CHECK(b->GroupMetadata().generation == generation);
  CHECK(again->GroupMetadata().generation == generation);
}

TEST_CASE("A second live consumer with the same instance id fences the first", "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 1);
  ConsumerOptions o = env.Options();
  o.group_instance_id = "host-a";
  auto first = env.MakeConsumer(o);
  REQUIRE(first->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({first.get()}, got, [&] { return first->Assignment().size() == 1; }));
  auto second = env.MakeConsumer(o);
  REQUIRE(second->Subscribe({"t"}).ok());
  REQUIRE(PollUntil({second.get()}, got, [&] { return second->Assignment().size() == 1; }));
  absl::Status fenced;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (fenced.ok() && std::chrono::steady_clock::now() < deadline) {
    fenced = first->Poll(10).status();
  }
  CHECK(HasErrorCode(fenced, ErrorCode::kFencedInstanceId));
  CHECK(first->Assignment().empty());
}

TEST_CASE("Auto-commit commits consumed positions on its interval and at Close",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 1);
  env.Produce("t", 1, 10);
  ConsumerOptions o = env.Options();
  o.enable_auto_commit = true;
  o.auto_commit_interval_ms = 50;
  o.max_poll_records = 4;
  auto c = env.MakeConsumer(o);
  REQUIRE(c->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({c.get()}, got, [&] { return Total(got) >= 4; }));
  // Nothing consumed is committed before the interval passes...
  auto committed = [&] {
    auto m = c->Committed({{"t", 0}});
    REQUIRE(m.ok());
    return m->count({"t", 0}) ? m->at({"t", 0}).offset.value() : int64_t{-1};
  };
  REQUIRE(PollUntil({c.get()}, got, [&] { return Total(got) == 10 && committed() >= 4; }));
  const int64_t before_close = committed();
  CHECK(before_close <= 10);
  REQUIRE(c->Close().ok());
  auto store = GroupCoordinator::ForBroker(*env.broker).value();
  CHECK(store->FetchOffsets("g").at({"t", 0}).offset == Offset(10));
}

TEST_CASE("CommitAsync runs commits in order and reports them in a later Poll",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 1);
  auto c = env.MakeConsumer(env.Options());
  REQUIRE(c->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({c.get()}, got, [&] { return c->Assignment().size() == 1; }));
  std::vector<int64_t> reported;
  for (int i = 1; i <= 5; ++i) {
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    offsets[{"t", 0}] = OffsetAndMetadata{Offset(i), kNoLeaderEpoch, ""};
    c->CommitAsync(offsets, [&reported](const auto& o, const absl::Status& s) {
      CHECK(s.ok());
      reported.push_back(o.begin()->second.offset.value());
    });
  }
  CHECK(reported.empty());  // callbacks only on the consumer's thread, later
  REQUIRE(PollUntil({c.get()}, got, [&] { return reported.size() == 5; }));
  CHECK(reported == std::vector<int64_t>{1, 2, 3, 4, 5});
  CHECK(c->Committed({{"t", 0}})->at({"t", 0}).offset == Offset(5));
}

TEST_CASE("A member can commit what it processed when partitions are revoked", "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 2);
  env.Produce("t", 2, 10);
  RecordingListener la;
  auto a = env.MakeConsumer(env.Options());
  la.on_revoked = [&](const std::vector<TopicPartition>&) { CHECK(a->CommitSync().ok()); };
  REQUIRE(a->Subscribe({"t"}, &la).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({a.get()}, got, [&] { return Total(got) == 20; }));
  auto b = env.MakeConsumer(env.Options());
  REQUIRE(b->Subscribe({"t"}).ok());
  REQUIRE(PollUntil({a.get(), b.get()}, got, [&] { return b->Assignment().size() == 1; }));
  // b starts where a stopped: no record read twice.
  env.Produce("t", 2, 1, 100);
  REQUIRE(PollUntil({a.get(), b.get()}, got, [&] { return Total(got) == 22; }));
  std::set<std::string> values;
  for (const auto& g : got) {
    for (const auto& r : g) CHECK(values.insert(*r.value).second);
  }
}

TEST_CASE("A pattern subscription follows topics as they are created", "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("orders-eu", 1);
  env.CreateTopic("payments", 1);
  auto c = env.MakeConsumer(env.Options());
  REQUIRE(c->SubscribePattern("orders-.*").ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({c.get()}, got, [&] { return c->Assignment().size() == 1; }));
  CHECK(c->Subscription() == std::vector<std::string>{"orders-eu"});
  env.CreateTopic("orders-us", 2);
  REQUIRE(PollUntil({c.get()}, got, [&] { return c->Assignment().size() == 3; }));
  CHECK(c->Subscription() == std::vector<std::string>{"orders-eu", "orders-us"});
  CHECK(HasErrorCode(c->SubscribePattern("(unclosed"), ErrorCode::kInvalidRequest));
}

TEST_CASE("Subscribe and Assign refuse each other and need a group", "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 1);
  auto plain = env.MakeConsumer();
  CHECK(HasErrorCode(plain->Subscribe({"t"}), ErrorCode::kInvalidGroupId));
  CHECK(HasErrorCode(plain->CommitSync(), ErrorCode::kInvalidGroupId));
  auto c = env.MakeConsumer(env.Options());
  REQUIRE(c->Assign({{"t", 0}}).ok());
  CHECK(absl::IsFailedPrecondition(c->Subscribe({"t"})));
  REQUIRE(c->Assign({}).ok());
  REQUIRE(c->Subscribe({"t"}).ok());
  CHECK(absl::IsFailedPrecondition(c->Assign({{"t", 0}})));
  CHECK(HasErrorCode(c->Subscribe({"bad name!"}), ErrorCode::kInvalidTopicException));
  REQUIRE(c->Unsubscribe().ok());
  CHECK(c->Subscription().empty());
  // A pattern that matches nothing yet is still a subscription.
  REQUIRE(c->SubscribePattern("nothing-.*").ok());
  CHECK(c->Subscription().empty());
  CHECK(absl::IsFailedPrecondition(c->Assign({{"t", 0}})));
  REQUIRE(c->Unsubscribe().ok());
  CHECK(c->Assign({{"t", 0}}).ok());
  ConsumerOptions bad = env.Options();
  bad.heartbeat_interval_ms = bad.session_timeout_ms;
  CHECK(HasErrorCode(Consumer::Create(*env.broker, bad).status(), ErrorCode::kInvalidConfig));
}

TEST_CASE("An assigned consumer with a group commits outside group management",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 1);
  env.Produce("t", 1, 3);
  auto c = env.MakeConsumer(env.Options("standalone"));
  REQUIRE(c->Assign({{"t", 0}}).ok());
  REQUIRE(c->SeekToBeginning().ok());
  auto r = c->Poll(100);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  REQUIRE(c->CommitSync().ok());
  CHECK(c->Committed({{"t", 0}})->at({"t", 0}).offset == Offset(3));
}

}  // namespace
}  // namespace evlog

namespace evlog {
namespace {

// --- Admin -------------------------------------------------------------------

TEST_CASE("Describe shows members, assignments, committed offsets and lag",
          "[consumer_group][admin]") {
  GroupEnv env;
  env.CreateTopic("t", 2);
  env.Produce("t", 2, 10);
  ConsumerOptions o = env.Options();
  o.max_poll_records = 3;
  auto a = env.MakeConsumer(o);
  auto b = env.MakeConsumer(o);
  REQUIRE(a->Subscribe({"t"}).ok());
  REQUIRE(b->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({a.get(), b.get()}, got, [&] {
    return a->Assignment().size() == 1 && b->Assignment().size() == 1 && got[0].size() >= 3 &&
           got[1].size() >= 3;
  }));
  REQUIRE(a->CommitSync().ok());
  REQUIRE(b->CommitSync().ok());
  auto d = DescribeConsumerGroup(*env.broker, "g");
  INFO(d.status());
  REQUIRE(d.ok());
  CHECK(d->group.state == GroupState::kStable);
  CHECK(d->group.protocol_name == "cooperative-sticky");
  REQUIRE(d->group.members.size() == 2);
  CHECK(d->assignments.at(a->GroupMetadata().member_id) == a->Assignment());
  CHECK(d->assignments.at(b->GroupMetadata().member_id) == b->Assignment());
  REQUIRE(d->partitions.size() == 2);
  for (const ConsumerGroupPartition& p : d->partitions) {
    Consumer& owner = *(AsSet(a->Assignment()).count(p.topic_partition) ? a : b);
    CHECK(p.member_id == owner.GroupMetadata().member_id);
    REQUIRE(p.committed.has_value());
    CHECK(*p.committed == *owner.Position(p.topic_partition));
    CHECK(p.log_end == Offset(10));
    CHECK(p.lag == 10 - p.committed->value());
  }
  auto listed = ListConsumerGroups(*env.broker);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].group_id == "g");
  CHECK((*listed)[0].state == GroupState::kStable);
  CHECK(HasErrorCode(DescribeConsumerGroup(*env.broker, "nope").status(),
                     ErrorCode::kGroupIdNotFound));
}

TEST_CASE("Offsets are reset only while the group has no members", "[consumer_group][admin]") {
  GroupEnv env;
  env.CreateTopic("t", 2);
  env.Produce("t", 2, 10);
  auto c = env.MakeConsumer(env.Options());
  REQUIRE(c->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({c.get()}, got, [&] { return Total(got) == 20; }));
  REQUIRE(c->CommitSync().ok());
  OffsetReset earliest;
  earliest.to = OffsetReset::To::kEarliest;
  CHECK(HasErrorCode(ResetConsumerGroupOffsets(*env.broker, "g", earliest).status(),
                     ErrorCode::kNonEmptyGroup));
  CHECK(HasErrorCode(DeleteConsumerGroup(*env.broker, "g"), ErrorCode::kNonEmptyGroup));
  REQUIRE(c->Close().ok());

  auto coordinator = GroupCoordinator::ForBroker(*env.broker).value();
  // Explicit, out of range: refused, nothing changed.
  OffsetReset bad;
  bad.to = OffsetReset::To::kExplicit;
  bad.offsets[{"t", 0}] = Offset(3);
  bad.offsets[{"t", 1}] = Offset(99);
  CHECK(HasErrorCode(ResetConsumerGroupOffsets(*env.broker, "g", bad).status(),
                     ErrorCode::kOffsetOutOfRange));
  CHECK(coordinator->FetchOffsets("g").at({"t", 0}).offset == Offset(10));
  // To the beginning: a new consumer reads everything again.
  auto reset = ResetConsumerGroupOffsets(*env.broker, "g", earliest);
  REQUIRE(reset.ok());
  CHECK(reset->size() == 2);
  CHECK(coordinator->FetchOffsets("g").at({"t", 1}).offset == Offset(0));
  auto again = env.MakeConsumer(env.Options());
  REQUIRE(again->Subscribe({"t"}).ok());
  got.clear();
  REQUIRE(PollUntil({again.get()}, got, [&] { return Total(got) == 20; }));
  REQUIRE(again->Close().ok());
  // Explicit and latest.
  bad.offsets[{"t", 1}] = Offset(7);
  REQUIRE(ResetConsumerGroupOffsets(*env.broker, "g", bad).ok());
  CHECK(coordinator->FetchOffsets("g").at({"t", 0}).offset == Offset(3));
  CHECK(coordinator->FetchOffsets("g").at({"t", 1}).offset == Offset(7));
  OffsetReset latest;
  latest.to = OffsetReset::To::kLatest;
  latest.partitions = {{"t", 1}};
  REQUIRE(ResetConsumerGroupOffsets(*env.broker, "g", latest).ok());
  CHECK(coordinator->FetchOffsets("g").at({"t", 0}).offset == Offset(3));
  CHECK(coordinator->FetchOffsets("g").at({"t", 1}).offset == Offset(10));
  // By timestamp: after every record, so the end.
  OffsetReset by_time;
  by_time.to = OffsetReset::To::kTimestamp;
  by_time.timestamp_ms = env.broker->clock().WallMs() + 60'000;
  by_time.topics = {"t"};
  REQUIRE(ResetConsumerGroupOffsets(*env.broker, "g", by_time).ok());
  CHECK(coordinator->FetchOffsets("g").at({"t", 0}).offset == Offset(10));
  by_time.timestamp_ms = 0;
  REQUIRE(ResetConsumerGroupOffsets(*env.broker, "g", by_time).ok());
  CHECK(coordinator->FetchOffsets("g").at({"t", 0}).offset == Offset(0));
  REQUIRE(DeleteConsumerGroup(*env.broker, "g").ok());
  CHECK(coordinator->FetchOffsets("g").empty());
}

// --- Properties --------------------------------------------------------------

// Random joins, leaves, crashes (a static member that vanishes without
// committing), stalls (a member that stops polling) and partition
// additions, on a manual clock, one thread. At every step: within the
// current generation no partition has two owners, and no committed offset
// goes back. At the end, once the group settles, every record produced was
// consumed — exactly once when nothing crashed or stalled.
struct Simulation {
  MemFileSystem fs;
  ManualClock clock{1'700'000'000'000};
  ManualExecutor executor{clock};
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Producer> producer;
  std::mt19937_64 rng;
  bool faults;
  StderrLogSink stderr_sink;

  struct Member : ConsumerRebalanceListener {
    std::unique_ptr<Consumer> consumer;
    int stalled_steps = 0;
    // Committed everything it read and is closing; or gone without a word.
    bool leaving = false;
    bool crashing = false;
    void OnPartitionsRevoked(const std::vector<TopicPartition>&) override {
      if (crashing) return;
      // Commit what was processed before giving partitions up. At a
      // cooperative revocation the member is in the generation that
      // revokes, so the commit must go through; when closing, everything
      // read was committed already.
      const absl::Status s = consumer->CommitSync();
      INFO(s.ToString());
      CHECK((s.ok() || leaving));
    }
    void OnPartitionsAssigned(const std::vector<TopicPartition>&) override {}
    void OnPartitionsLost(const std::vector<TopicPartition>&) override {}
  };
  std::vector<std::unique_ptr<Member>> members;
  int next_instance = 0;
  // What happened, so that a run that tested nothing shows.
  std::map<std::string, int> events;
  int partitions = 3;
  int produced = 0;
  std::map<std::string, int> consumed;  // value -> times
  std::map<TopicPartition, int64_t> high_committed;

  Simulation(uint64_t seed, bool with_faults) : rng(seed), faults(with_faults) {
    BrokerOptions o = testing::InMemoryBrokerOptions(fs, executor, &clock);
    if (std::getenv("EVLOG_SIM_LOG") != nullptr) o.log_sink = &stderr_sink;
    broker = Broker::Open(o).value();
    GroupCoordinatorOptions g;
    g.min_session_timeout_ms = 10;
    g.offset_store.partition_count = 1;
    REQUIRE(GroupCoordinator::ForBroker(*broker, &g).ok());
    REQUIRE(broker->CreateTopic("t", NewTopic(partitions)).ok());
    ProducerOptions p;
    p.linger_ms = 0;
    producer = Producer::Create(*broker, p).value();
  }
  ~Simulation() {
    for (auto& m : members) {
      m->leaving = true;  // the test is over: no checks on the way out
      (void)m->consumer->Close();
    }
    members.clear();
    producer.reset();
    (void)broker->Close();
  }

  int Random(int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }

  void Join() {
    ++events["join"];
    auto m = std::make_unique<Member>();
    ConsumerOptions o;
    o.group_id = "g";
    o.client_id = "m" + std::to_string(next_instance);
    if (faults && Random(2) == 0) o.group_instance_id = "i" + std::to_string(next_instance);
    ++next_instance;
    o.auto_offset_reset = OffsetResetPolicy::kEarliest;
    o.enable_auto_commit = false;
    o.session_timeout_ms = 1'000;
    o.heartbeat_interval_ms = 100;
    o.max_poll_interval_ms = 3'000;
    o.max_poll_records = 1 + Random(20);
    m->consumer = Consumer::Create(*broker, o).value();
    REQUIRE(m->consumer->Subscribe({"t"}, m.get()).ok());
    members.push_back(std::move(m));
  }

  void Produce(int n) {
    for (int i = 0; i < n; ++i) {
      const std::string value = "v" + std::to_string(produced++);
      REQUIRE(producer->Send(ProducerRecord("t", value, value), {}).ok());
    }
  }

  void PollMember(Member& m, bool commit) {
    auto records = m.consumer->Poll(0);
    if (!records.ok()) {
      // A crashed twin's instance id can fence nobody here: ids are unique.
      FAIL(records.status().ToString());
    }
    for (const auto& r : *records) ++consumed[std::string(*r.value_string())];
    if (records->empty()) return;
    ++events["polls with records"];
    if (commit) {
      // May fail when the member was just kicked out; then its partitions
      // are re-read by the next owner (at least once).
      (void)m.consumer->CommitSync();
    }
  }

  // Invariants that hold at every step.
  void Check() {
    auto d = GroupCoordinator::ForBroker(*broker).value()->DescribeGroup("g");
    if (d.ok()) {
      std::set<TopicPartition> owned;
      for (auto& m : members) {
        if (m->consumer->GroupMetadata().generation != d->generation) continue;
        for (const TopicPartition& tp : m->consumer->Assignment()) {
          INFO(tp.ToString() << " owned twice in generation " << d->generation.value());
          CHECK(owned.insert(tp).second);
        }
      }
    }
    for (const auto& [tp, c] : GroupCoordinator::ForBroker(*broker).value()->FetchOffsets("g")) {
      int64_t& high = high_committed[tp];
      INFO(tp.ToString());
      CHECK(c.offset.value() >= high);
      high = std::max(high, c.offset.value());
    }
  }

  void Step() {
    const int op = Random(100);
    if (op < 8 && members.size() < 6) {
      Join();
    } else if (op < 12 && members.size() > 1) {
      // A clean leave (below): commit everything read, then close.
      members[Random(static_cast<int>(members.size()))]->leaving = true;
    } else if (faults && op < 14 && members.size() > 1) {
      // A crash: gone without committing or leaving. Only static members
      // can vanish without a LeaveGroup; dynamic ones stall instead.
      const int i = Random(static_cast<int>(members.size()));
      if (members[i]->consumer->GroupMetadata().group_instance_id.has_value()) {
        ++events["crash"];
        members[i]->crashing = true;
        (void)members[i]->consumer->Close();  // a static member does not leave
        members.erase(members.begin() + i);
      } else {
        ++events["stall"];
        members[i]->stalled_steps = 40;
      }
    } else if (faults && op < 16 && !members.empty()) {
      ++events["stall"];
      members[Random(static_cast<int>(members.size()))]->stalled_steps = 40;
    } else if (op < 18 && partitions < 8) {
      ++events["partitions"];
      REQUIRE(broker->CreatePartitions("t", ++partitions).ok());
    }
    Produce(Random(5));
    // A commit in the middle of a rebalance fails (REBALANCE_IN_PROGRESS,
    // or ILLEGAL_GENERATION while a join answer waits for the next Poll),
    // as in Kafka: a member that wants to leave without re-reads polls
    // and tries again (the message of Kafka's RebalanceInProgressException).
    for (size_t i = 0; i < members.size();) {
      Member& m = *members[i];
      if (m.leaving && members.size() > 1 && m.stalled_steps == 0 &&
          m.consumer->CommitSync().ok()) {
        REQUIRE(m.consumer->Close().ok());
        ++events["leave"];
        members.erase(members.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    for (auto& m : members) {
      if (m->stalled_steps > 0) {
        --m->stalled_steps;
        continue;
      }
      PollMember(*m, /*commit=*/true);
    }
    executor.AdvanceMs(100);
    Check();
  }

  // No more faults: poll until every record was read, or give up.
  void Settle() {
    if (members.empty()) Join();
    for (auto& m : members) {
      m->stalled_steps = 0;
      m->leaving = false;
    }
    for (int round = 0; round < 600; ++round) {
      for (auto& m : members) PollMember(*m, /*commit=*/true);
      executor.AdvanceMs(100);
      Check();
      if (static_cast<int>(consumed.size()) == produced) break;
    }
  }
};

TEST_CASE("Property: random joins, leaves and partition additions read every record exactly once",
          "[consumer_group][property]") {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    INFO("seed " << seed);
    Simulation sim(seed, /*with_faults=*/false);
    sim.Join();
    for (int step = 0; step < 150; ++step) sim.Step();
    sim.Settle();
    const int generation =
        GroupCoordinator::ForBroker(*sim.broker).value()->DescribeGroup("g")->generation.value();
    INFO("generations " << generation << ", joins " << sim.events["join"] << ", leaves "
                        << sim.events["leave"] << ", partition additions "
                        << sim.events["partitions"] << ", records " << sim.produced);
    CHECK(generation >= 10);
    CHECK(sim.events["leave"] >= 2);
    CHECK(sim.events["partitions"] >= 1);
    CHECK(sim.produced >= 200);
    CHECK(static_cast<int>(sim.consumed.size()) == sim.produced);
    for (const auto& [value, times] : sim.consumed) {
      INFO(value);
      CHECK(times == 1);
    }
  }
}

TEST_CASE("Property: with crashes and stalls every record is still read at least once",
          "[consumer_group][property]") {
  for (uint64_t seed = 11; seed <= 14; ++seed) {
    INFO("seed " << seed);
    Simulation sim(seed, /*with_faults=*/true);
    sim.Join();
    for (int step = 0; step < 150; ++step) sim.Step();
    sim.Settle();
    INFO("crashes " << sim.events["crash"] << ", stalls " << sim.events["stall"] << ", joins "
                    << sim.events["join"] << ", records " << sim.produced);
    CHECK(sim.events["crash"] + sim.events["stall"] >= 2);
    CHECK(static_cast<int>(sim.consumed.size()) == sim.produced);
  }
}

}  // namespace
}  // namespace evlog

namespace evlog {
namespace {

TEST_CASE("With auto_offset_reset none a group member without a committed offset fails to poll",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 1);
  env.Produce("t", 1, 5);
  ConsumerOptions o = env.Options();
  o.auto_offset_reset = OffsetResetPolicy::kNone;
  auto c = env.MakeConsumer(o);
  REQUIRE(c->Subscribe({"t"}).ok());
  absl::Status status;
  for (int i = 0; i < 100 && status.ok(); ++i) status = c->Poll(10).status();
  CHECK(HasErrorCode(status, ErrorCode::kOffsetOutOfRange));
  // With a committed offset it starts there.
  REQUIRE(c->Close().ok());
  auto admin = GroupCoordinator::ForBroker(*env.broker).value();
  OffsetCommitRequest commit;
  commit.group_id = "g";
  commit.offsets[{"t", 0}] = OffsetAndMetadata{Offset(2), kNoLeaderEpoch, ""};
  REQUIRE(admin->CommitOffsets(commit).ok());
  auto again = env.MakeConsumer(o);
  REQUIRE(again->Subscribe({"t"}).ok());
  std::vector<std::vector<OwnedRecord>> got;
  REQUIRE(PollUntil({again.get()}, got, [&] { return Total(got) == 3; }));
  CHECK(got[0].front().offset == Offset(2));
}

// One thread per member, a producer thread, a member joining and one
// leaving while records flow. Each member commits after every poll and
// when partitions are revoked, and leaves only once a commit went through:
// every record is read exactly once.
TEST_CASE("Members on their own threads read every record exactly once through joins and leaves",
          "[consumer_group]") {
  GroupEnv env;
  env.CreateTopic("t", 6);
  constexpr int kRecords = 3'000;
  struct Worker : ConsumerRebalanceListener {
    std::unique_ptr<Consumer> consumer;
    std::vector<std::string> values;
    std::atomic<bool> stop{false};
    bool leaving = false;
    std::thread thread;
    void OnPartitionsRevoked(const std::vector<TopicPartition>&) override {
      const absl::Status s = consumer->CommitSync();
      if (!leaving && !s.ok()) failures.push_back(s.ToString());
    }
    void OnPartitionsAssigned(const std::vector<TopicPartition>&) override {}
    std::vector<std::string> failures;
    void Run() {
      while (!stop.load()) {
        auto records = consumer->Poll(5);
        if (!records.ok()) {
          failures.push_back(records.status().ToString());
          return;
        }
        for (const auto& r : *records) values.emplace_back(*r.value_string());
        if (!records->empty()) (void)consumer->CommitSync();
      }
      // Leave only after a commit of everything read went through.
      leaving = true;
      for (int i = 0; i < 1000; ++i) {
        if (consumer->CommitSync().ok()) break;
        auto records = consumer->Poll(5);
        if (records.ok()) {
          for (const auto& r : *records) values.emplace_back(*r.value_string());
        }
      }
      if (!consumer->Close().ok()) failures.push_back("close failed");
    }
  };
  auto start = [&](Worker& w) {
    w.consumer = env.MakeConsumer(env.Options());
    REQUIRE(w.consumer->Subscribe({"t"}, &w).ok());
    w.thread = std::thread([&w] { w.Run(); });
  };
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(std::make_unique<Worker>());
    start(*workers.back());
  }
  // Catch's assertions are not thread-safe: the threads only count.
  std::atomic<int> produce_errors{0};
  auto p = env.MakeProducer();
  std::thread producer([&] {
    for (int i = 0; i < kRecords; ++i) {
      const std::string value = "r" + std::to_string(i);
      if (!p->Send(ProducerRecord("t", value, value), {}).ok()) ++produce_errors;
      if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!p->Flush().ok()) ++produce_errors;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  workers.push_back(std::make_unique<Worker>());
  start(*workers.back());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  workers[0]->stop = true;
  workers[0]->thread.join();
  producer.join();
  REQUIRE(produce_errors.load() == 0);
  // Wait until everything was read, then stop the rest.
  auto read = [&] {
    size_t n = 0;
    for (auto& w : workers) n += w->values.size();
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    // values are only read here after the workers stop; until then, poll
    // the committed offsets instead.
    auto d = DescribeConsumerGroup(*env.broker, "g");
    REQUIRE(d.ok());
    int64_t lag = 0;
    for (const auto& p : d->partitions) lag += p.lag.value_or(p.log_end.value());
    if (d->partitions.size() == 6 && lag == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (size_t i = 1; i < workers.size(); ++i) {
    workers[i]->stop = true;
    workers[i]->thread.join();
  }
  std::map<std::string, int> seen;
  for (auto& w : workers) {
    for (const std::string& f : w->failures) FAIL_CHECK(f);
    for (const std::string& v : w->values) ++seen[v];
  }
  CHECK(read() >= static_cast<size_t>(kRecords));
  CHECK(seen.size() == static_cast<size_t>(kRecords));
  int duplicates = 0;
  for (const auto& [v, n] : seen) duplicates += n - 1;
  CHECK(duplicates == 0);
}

}  // namespace
}  // namespace evlog
