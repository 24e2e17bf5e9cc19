#include "evlog/replication/replica_set.h"

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "evlog/io/executor.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/partition/partition.h"
#include "evlog/status.h"
#include "evlog/transport/in_process_transport.h"
#include "tests/support/batches.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::DecodeAll;
using testing::MakeBatch;
using testing::TestRecord;

const TopicPartition kTp("orders", 0);

// A stand-in for the controller: holds the partition's state, applies ISR
// changes with the controller's checks, elects leaders from the ISR, and
// pushes every decision to the replicas (metadata propagation).
class FakeController {
 public:
  explicit FakeController(PartitionState initial) : state_(std::move(initial)) {}

  absl::StatusOr<PartitionState> AlterIsr(const IsrChange& change) {
    ++alter_requests;
    if (change.leader != state_.leader || change.leader_epoch != state_.leader_epoch) {
      return MakeError(ErrorCode::kFencedLeaderEpoch, "stale leader");
    }
    if (change.partition_epoch != state_.partition_epoch) {
      return MakeError(ErrorCode::kInvalidUpdateVersion, "stale partition epoch");
    }
    for (BrokerId id : change.new_isr) {
      if (dead.count(id) != 0) return MakeError(ErrorCode::kIneligibleReplica, "fenced broker");
    }
    state_.isr = change.new_isr;
    ++state_.partition_epoch;
    return state_;
  }

  // Elects `leader` (which must be in the ISR unless `unclean`), bumping
  // the leader epoch, with `isr` as the new ISR.
  void Elect(BrokerId leader, std::vector<BrokerId> isr) {
    state_.leader = leader;
    state_.isr = std::move(isr);
    state_.leader_epoch += 1;
    ++state_.partition_epoch;
  }

  const PartitionState& state() const { return state_; }
  std::set<BrokerId> dead;
  int alter_requests = 0;

 private:
  PartitionState state_;
};

// Brokers 1..n, each with a replica of orders-0 on an in-memory disk, one
// manual clock and executor, and a seeded in-process network.
struct Cluster {
  struct Node {
    std::unique_ptr<Partition> partition;
    std::unique_ptr<ReplicaSet<>> replica;
  };

  explicit Cluster(int n, ReplicaSetOptions options = {}, uint64_t seed = 1,
                   NetworkFaults faults = {})
      : transport(executor, clock, seed, faults), controller(Initial(n)), options(options) {
    for (int i = 1; i <= n; ++i) Start(BrokerId(i));
    Publish();
  }

  ~Cluster() {
    for (auto& [id, node] : nodes) Stop(id, node);
  }

  static PartitionState Initial(int n) {
    PartitionState l;
    for (int i = 1; i <= n; ++i) l.replicas.push_back(BrokerId(i));
    l.isr = l.replicas;
    l.leader = BrokerId(1);
    l.leader_epoch = LeaderEpoch(0);
    l.partition_epoch = 0;
    return l;
  }

  void Start(BrokerId id) {
    Node& node = nodes[id];
    LogConfig config;
    config.segment_index_bytes = 64 << 10;
    auto log =
        PartitionLog::Open(fs, clock, "/b" + std::to_string(id.value()) + "/orders-0", config);
    REQUIRE(log.ok());
    node.partition =
        std::make_unique<Partition>("orders", PartitionId(0), *std::move(log), TopicSettings{});
    node.replica = std::make_unique<ReplicaSet<>>(
        id, kTp, *node.partition, transport, executor, clock,
        [this](IsrChange change, absl::AnyInvocable<void(absl::StatusOr<PartitionState>)> done) {
          // The controller answers over the network a little later.
          executor.ScheduleAfter(
              1, [this, change = std::move(change), done = std::move(done)]() mutable {
                absl::StatusOr<PartitionState> result = controller.AlterIsr(change);
                if (result.ok()) Publish();
                done(std::move(result));
              });
        },
        options);
    ReplicaSet<>* replica = node.replica.get();
    REQUIRE(transport
                .Listen(id,
                        [replica](BrokerId, Message request, Responder respond) {
                          REQUIRE(request.api_key == replica_api::kFetch);
                          auto fetch = DecodeFetchRequest(request.body, request.api_version);
                          REQUIRE(fetch.ok());
                          replica->HandleFetch(*fetch, [respond = std::move(respond)](
                                                           FetchResponse response) mutable {
                            Message m;
                            m.api_key = replica_api::kFetch;
                            m.api_version = replica_api::kFetchVersion;
                            m.body = EncodeFetchResponse(response);
                            std::move(respond)(std::move(m));
                          });
                        })
                .ok());
  }

  void Stop(BrokerId id, Node& node) {
    transport.Unlisten(id);
    if (node.replica) node.replica->Close();
    node.replica.reset();
    if (node.partition) (void)node.partition->Close();
    node.partition.reset();
  }

  // Tells every live replica the controller's current decision.
  void Publish() {
    for (auto& [id, node] : nodes) {
      if (node.replica && controller.dead.count(id) == 0) {
        REQUIRE(node.replica->Update(controller.state()).ok());
      }
    }
  }

  ReplicaSet<>& replica(int id) { return *nodes.at(BrokerId(id)).replica; }
  Partition& partition(int id) { return *nodes.at(BrokerId(id)).partition; }

  // Appends `values` as one batch on broker `id`; the result arrives later.
  std::shared_ptr<std::optional<absl::StatusOr<AppendResult>>> Produce(
      int id, const std::vector<std::string>& values, Acks acks, int64_t timeout_ms = 30'000) {
    auto result = std::make_shared<std::optional<absl::StatusOr<AppendResult>>>();
    auto batch = std::make_shared<std::vector<std::byte>>(MakeBatch(values));
    replica(id).Append(*batch, acks, timeout_ms,
                       [result, batch](absl::StatusOr<AppendResult> r) { *result = std::move(r); });
    return result;
  }

  void Run(int64_t ms) {
    executor.RunReady();
    executor.AdvanceMs(ms);
  }

  // Every record of broker `id`'s log, below `end` (default: its log end).
  std::vector<TestRecord> Records(int id, std::optional<Offset> end = std::nullopt) {
    Partition& p = partition(id);
    std::vector<TestRecord> out;
    Offset at = p.log_start_offset();
    const Offset stop = end.value_or(p.log_end_offset());
    std::vector<std::byte> buffer;
    while (at < stop) {
      LogReadOptions read;
      read.max_offset = stop;
      auto r = p.ReadReplica(at, buffer, read);
      REQUIRE(r.ok());
      if (r->batches.empty()) break;
      for (TestRecord& rec : DecodeAll(r->batches)) {
        if (rec.offset >= at && rec.offset < stop) out.push_back(rec);
      }
      at = r->next_offset;
    }
    return out;
  }

  MemFileSystem fs;
  ManualClock clock{1'700'000'000'000};
  ManualExecutor executor{clock};
  InProcessTransport transport;
  FakeController controller;
  ReplicaSetOptions options;
  std::map<BrokerId, Node> nodes;
};

std::vector<BrokerId> Ids(std::initializer_list<int> ids) {
  std::vector<BrokerId> out;
  for (int i : ids) out.push_back(BrokerId(i));
  return out;
}

ReplicaSetOptions FastOptions() {
  ReplicaSetOptions o;
  o.replica_lag_time_max_ms = 1'000;
  o.fetch_max_wait_ms = 100;
  o.fetch_backoff_ms = 50;
  o.fetch_timeout_ms = 500;
  return o;
}

TEST_CASE("replication: followers copy the leader's log and the high watermark follows the ISR") {
  Cluster c(3, FastOptions());
  for (int i = 0; i < 10; ++i) {
    auto r = c.Produce(1, {"a" + std::to_string(i), "b" + std::to_string(i)}, Acks::kLeader);
    REQUIRE(r->has_value());
    REQUIRE((*r)->ok());
    CHECK((**r)->base_offset == Offset(2 * i));
  }
  // Before any follower fetched, nothing is committed.
  CHECK(c.partition(1).high_watermark() == Offset(0));
  c.Run(500);
  for (int id : {1, 2, 3}) {
    INFO("broker " << id);
    CHECK(c.partition(id).log_end_offset() == Offset(20));
    CHECK(c.partition(id).high_watermark() == Offset(20));
    CHECK(c.Records(id) == c.Records(1));
  }
  // Batches carry the leader's epoch, and followers keep it.
  CHECK(c.partition(2).latest_epoch() == std::optional<LeaderEpoch>(LeaderEpoch(0)));
  CHECK(c.replica(1).status().isr == Ids({1, 2, 3}));
}

TEST_CASE("replication: acks=all completes only once every ISR member has the batch") {
  Cluster c(3, FastOptions());
  c.Run(10);
  c.transport.Isolate(BrokerId(3));
  auto r = c.Produce(1, {"x"}, Acks::kAll);
  c.Run(300);
  // Broker 2 has it, broker 3 cannot: not acknowledged yet.
  CHECK(c.partition(2).log_end_offset() == Offset(1));
  CHECK(c.partition(3).log_end_offset() == Offset(0));
  CHECK_FALSE(r->has_value());
  CHECK(c.partition(1).high_watermark() == Offset(0));
  // After replica_lag_time_max_ms the leader drops 3 from the ISR, and the
  // batch commits on {1, 2}.
  c.Run(1'500);
  CHECK(c.controller.state().isr == Ids({1, 2}));
  REQUIRE(r->has_value());
  REQUIRE((*r)->ok());
  CHECK((**r)->base_offset == Offset(0));
  CHECK(c.partition(1).high_watermark() == Offset(1));
}

TEST_CASE("replication: a follower that catches up rejoins the ISR") {
  Cluster c(3, FastOptions());
  c.transport.Isolate(BrokerId(3));
  for (int i = 0; i < 5; ++i) c.Produce(1, {"v" + std::to_string(i)}, Acks::kLeader);
  c.Run(2'000);
  REQUIRE(c.controller.state().isr == Ids({1, 2}));
  c.transport.Rejoin(BrokerId(3));
  c.Run(1'000);
  CHECK(c.controller.state().isr == Ids({1, 2, 3}));
  CHECK(c.Records(3) == c.Records(1));
  CHECK(c.partition(3).high_watermark() == Offset(5));
}

TEST_CASE("replication: NOT_ENOUGH_REPLICAS before appending when the ISR is below min.insync") {
  ReplicaSetOptions o = FastOptions();
  o.min_insync_replicas = 2;
  Cluster c(3, o);
  c.transport.Isolate(BrokerId(2));
  c.transport.Isolate(BrokerId(3));
  auto pending = c.Produce(1, {"first"}, Acks::kAll);
  c.Run(2'000);
  // The ISR shrank to {1}: the waiting append fails, and with it below
  // min.insync.replicas nothing committed.
  CHECK(c.controller.state().isr == Ids({1}));
  REQUIRE(pending->has_value());
  CHECK(HasErrorCode(pending->value().status(), ErrorCode::kNotEnoughReplicasAfterAppend));
  CHECK(c.partition(1).high_watermark() == Offset(0));
  const Offset end = c.partition(1).log_end_offset();
  auto refused = c.Produce(1, {"second"}, Acks::kAll);
  REQUIRE(refused->has_value());
  CHECK(HasErrorCode(refused->value().status(), ErrorCode::kNotEnoughReplicas));
  CHECK(c.partition(1).log_end_offset() == end);
  // acks=1 still appends (min.insync.replicas only binds acks=all).
  auto one = c.Produce(1, {"third"}, Acks::kLeader);
  REQUIRE(one->has_value());
  CHECK(one->value().ok());
}

TEST_CASE("replication: an acks=all append times out with REQUEST_TIMED_OUT") {
  ReplicaSetOptions o = FastOptions();
  o.replica_lag_time_max_ms = 60'000;  // the follower stays in the ISR
  Cluster c(2, o);
  c.transport.Isolate(BrokerId(2));
  auto r = c.Produce(1, {"x"}, Acks::kAll, /*timeout_ms=*/200);
  c.Run(199);
  CHECK_FALSE(r->has_value());
  c.Run(1);
  REQUIRE(r->has_value());
  CHECK(HasErrorCode(r->value().status(), ErrorCode::kRequestTimedOut));
}

TEST_CASE("replication: stale and future epochs and non-leaders are fenced") {
  Cluster c(3, FastOptions());
  c.controller.Elect(BrokerId(2), Ids({1, 2, 3}));
  c.Publish();
  c.Run(10);
  REQUIRE(c.replica(2).is_leader());
  REQUIRE_FALSE(c.replica(1).is_leader());

  auto fetch = [&](int at, LeaderEpoch epoch) {
    FetchRequest req;
    req.topic = "orders";
    req.replica_id = BrokerId(3);
    req.current_leader_epoch = epoch;
    req.fetch_offset = Offset(0);
    FetchResponse got;
    c.replica(at).HandleFetch(req, [&](FetchResponse r) { got = std::move(r); });
    return got;
  };
  CHECK(fetch(2, LeaderEpoch(0)).error == ErrorCode::kFencedLeaderEpoch);
  CHECK(fetch(2, LeaderEpoch(5)).error == ErrorCode::kUnknownLeaderEpoch);
  const FetchResponse not_leader = fetch(1, LeaderEpoch(1));
  CHECK(not_leader.error == ErrorCode::kNotLeaderOrFollower);
  CHECK(not_leader.leader_id == BrokerId(2));
  CHECK(not_leader.leader_epoch == LeaderEpoch(1));

  auto r = c.Produce(1, {"x"}, Acks::kLeader);
  REQUIRE(r->has_value());
  CHECK(HasErrorCode(r->value().status(), ErrorCode::kNotLeaderOrFollower));
  // A decision older than the one applied changes nothing.
  PartitionState stale = Cluster::Initial(3);
  REQUIRE(c.replica(2).Update(stale).ok());
  CHECK(c.replica(2).is_leader());
}

TEST_CASE(
    "replication: a fetch answer keeps the batches it read while completing it appends more and "
    "answers another fetch") {
  // Leader 1 holds A (acks=all, its callback appends B) and C. Follower 3
  // has A and C and waits; follower 2 reports A, which commits it: serving
  // 2 reads C, then runs A's callback, whose append of B answers 3's held
  // fetch on the same thread before 2's answer goes out. 2 must get C.
  Cluster c(3, FastOptions());
  auto b_appended = std::make_shared<bool>(false);
  auto b = std::make_shared<std::vector<std::byte>>(MakeBatch({"b0", "b1", "b2", "b3"}));
  auto a = std::make_shared<std::vector<std::byte>>(MakeBatch({"a0"}));
  c.replica(1).Append(*a, Acks::kAll, 30'000,
                      [&c, a, b, b_appended](absl::StatusOr<AppendResult> r) {
                        REQUIRE(r.ok());
                        c.replica(1).Append(*b, Acks::kLeader, 30'000,
                                            [b_appended](absl::StatusOr<AppendResult> r) {
                                              REQUIRE(r.ok());
                                              *b_appended = true;
                                            });
                      });
  auto r = c.Produce(1, {"c0", "c1"}, Acks::kLeader);
  REQUIRE(r->has_value());
  const Offset end_a(1);
  const Offset end_c(3);
  REQUIRE(c.partition(1).log_end_offset() == end_c);

  auto request = [](int replica, Offset at) {
    FetchRequest req;
    req.topic = "orders";
    req.replica_id = BrokerId(replica);
    req.current_leader_epoch = LeaderEpoch(0);
    req.fetch_offset = at;
    req.last_fetched_epoch = LeaderEpoch(0);
    req.max_wait_ms = 100;
    return req;
  };
  auto records_of = [](const FetchResponse& response) {
    // What a responder does: encode the answer before the call returns.
    const std::vector<std::byte> wire = EncodeFetchResponse(response);
    absl::StatusOr<FetchResponse> decoded = DecodeFetchResponse(wire, replica_api::kFetchVersion);
    REQUIRE(decoded.ok());
    return DecodeAll(decoded->records);
  };
  std::vector<TestRecord> to_3;
  bool answered_3 = false;
  c.replica(1).HandleFetch(request(3, end_c), [&](FetchResponse response) {
    to_3 = records_of(response);
    answered_3 = true;
  });
  REQUIRE_FALSE(answered_3);  // held: 3 has everything
  std::vector<TestRecord> to_2;
  bool answered_2 = false;
  c.replica(1).HandleFetch(request(2, end_a), [&](FetchResponse response) {
    to_2 = records_of(response);
    answered_2 = true;
  });
  REQUIRE(*b_appended);
  REQUIRE(answered_3);
  REQUIRE(answered_2);
  REQUIRE(to_3.size() == 4);
  CHECK(to_3.front().value == "b0");
  CHECK(to_3.front().offset == end_c);
  REQUIRE(to_2.size() == 2);
  CHECK(to_2[0].value == "c0");
  CHECK(to_2[0].offset == end_a);
  CHECK(to_2[1].value == "c1");
}

TEST_CASE("replication: a leader that loses leadership fails its waiting acks=all appends") {
  Cluster c(3, FastOptions());
  c.transport.Isolate(BrokerId(1));
  auto r = c.Produce(1, {"x"}, Acks::kAll);
  c.controller.Elect(BrokerId(2), Ids({2, 3}));
  c.Publish();
  REQUIRE(r->has_value());
  CHECK(HasErrorCode(r->value().status(), ErrorCode::kNotLeaderOrFollower));
}

TEST_CASE("replication: a deposed leader truncates its unreplicated tail by epoch and converges") {
  Cluster c(3, FastOptions());
  for (int i = 0; i < 3; ++i) c.Produce(1, {"committed" + std::to_string(i)}, Acks::kAll);
  c.Run(300);
  REQUIRE(c.partition(1).high_watermark() == Offset(3));
  // Broker 1 is cut off and keeps appending what nobody else will see.
  c.transport.Isolate(BrokerId(1));
  for (int i = 0; i < 4; ++i) c.Produce(1, {"lost" + std::to_string(i)}, Acks::kLeader);
  REQUIRE(c.partition(1).log_end_offset() == Offset(7));
  // The controller moves leadership to 2; 2 and 3 take new writes.
  c.controller.dead.insert(BrokerId(1));
  c.controller.Elect(BrokerId(2), Ids({2, 3}));
  c.Publish();
  auto acked = c.Produce(2, {"new0", "new1"}, Acks::kAll);
  c.Run(300);
  REQUIRE(acked->has_value());
  REQUIRE(acked->value().ok());
  CHECK(acked->value()->base_offset == Offset(3));
  // Broker 1 comes back as a follower: its epoch-0 tail from offset 3 on is
  // not in the leader's log, so it goes.
  c.controller.dead.clear();
  c.transport.Rejoin(BrokerId(1));
  REQUIRE(c.replica(1).Update(c.controller.state()).ok());
  c.Run(1'000);
  CHECK(c.partition(1).log_end_offset() == Offset(5));
  CHECK(c.Records(1) == c.Records(2));
  CHECK(c.Records(3) == c.Records(2));
  std::vector<std::string> values;
  for (const TestRecord& r : c.Records(1)) values.push_back(r.value.value_or(""));
  CHECK(values ==
        std::vector<std::string>{"committed0", "committed1", "committed2", "new0", "new1"});
  // It is back in the ISR.
  CHECK(c.controller.state().isr.size() == 3);
}

TEST_CASE(
    "replication: a follower never had the leader's epoch and truncates in two steps (KIP-279)") {
  // Epoch 0 on 1, 2, 3; then 2 leads epoch 1 alone and writes; then 3
  // leads epoch 2 without ever fetching epoch 1, and writes.
  Cluster c(3, FastOptions());
  c.Produce(1, {"e0"}, Acks::kAll);
  c.Run(300);
  c.transport.Isolate(BrokerId(1));
  c.transport.Isolate(BrokerId(3));
  c.controller.Elect(BrokerId(2), Ids({2}));
  c.Publish();
  c.Produce(2, {"e1-a", "e1-b"}, Acks::kLeader);
  c.Run(10);
  c.transport.HealAll();
  c.transport.Isolate(BrokerId(2));
  c.controller.Elect(BrokerId(3), Ids({3}));
  c.Publish();
  c.Produce(3, {"e2-a"}, Acks::kLeader);
  c.transport.HealAll();
  c.Run(2'000);
  // 2's epoch-1 records are not in 3's log: 2 truncates them.
  CHECK(c.Records(2) == c.Records(3));
  CHECK(c.Records(1) == c.Records(3));
  std::vector<std::string> values;
  for (const TestRecord& r : c.Records(2)) values.push_back(r.value.value_or(""));
  CHECK(values == std::vector<std::string>{"e0", "e2-a"});
}

// A seeded history on a faulty network: writes with acks=all, leader
// changes only to ISR members, isolations and heals. After every step the
// invariants hold; at the end every acknowledged record is in the leader's
// log at its offset, and every replica agrees with it.
TEST_CASE("replication: simulation keeps acknowledged writes and consistent replicas") {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    INFO("seed " << seed);
    NetworkFaults faults;
    faults.min_delay_ms = 0;
    faults.max_delay_ms = 20;
    faults.drop_probability = 0.05;
    faults.duplicate_probability = 0.05;
    ReplicaSetOptions o = FastOptions();
    o.min_insync_replicas = 2;
    Cluster c(3, o, seed, faults);
    std::mt19937_64 rng(seed);
    std::map<Offset, std::string> acknowledged;
    std::vector<
        std::pair<std::string, std::shared_ptr<std::optional<absl::StatusOr<AppendResult>>>>>
        in_flight;
    std::set<int> isolated;
    int next_value = 0;
    Offset last_hw(0);
    LeaderEpoch last_epoch = c.controller.state().leader_epoch;
    for (int step = 0; step < 150; ++step) {
      const int dice = static_cast<int>(rng() % 100);
      const int leader = c.controller.state().leader.value();
      if (dice < 60) {
        const std::string v = "v" + std::to_string(next_value++);
        in_flight.emplace_back(v, c.Produce(leader, {v}, Acks::kAll, 2'000));
      } else if (dice < 70) {
        const int victim = 1 + static_cast<int>(rng() % 3);
        c.transport.Isolate(BrokerId(victim));
        isolated.insert(victim);
      } else if (dice < 80) {
        c.transport.HealAll();
        isolated.clear();
      } else if (dice < 88) {
        // Clean election: a live ISR member other than the leader.
        std::vector<BrokerId> candidates;
        for (BrokerId id : c.controller.state().isr) {
          if (id.value() != leader && isolated.count(id.value()) == 0) candidates.push_back(id);
        }
        if (!candidates.empty()) {
          const BrokerId next = candidates[rng() % candidates.size()];
          c.controller.Elect(next, c.controller.state().isr);
          c.Publish();
        }
      }
      c.Run(static_cast<int64_t>(rng() % 200));
      // Invariant: a leader's high watermark never moves back within its epoch.
      const PartitionState& s = c.controller.state();
      const Offset hw = c.partition(s.leader.value()).high_watermark();
      if (s.leader_epoch == last_epoch) CHECK(hw >= last_hw);
      last_epoch = s.leader_epoch;
      last_hw = hw;
      // StrongIsr: below the leader's high watermark, every ISR member
      // holds the leader's records.
      const auto leader_records = c.Records(s.leader.value(), hw);
      for (BrokerId id : s.isr) {
        if (c.partition(id.value()).log_end_offset() >= hw) {
          CHECK(c.Records(id.value(), hw) == leader_records);
        }
      }
      for (auto& [v, r] : in_flight) {
        if (r->has_value() && r->value().ok()) acknowledged[r->value()->base_offset] = v;
      }
    }
    c.transport.HealAll();
    c.Run(5'000);
    const int leader = c.controller.state().leader.value();
    for (auto& [v, r] : in_flight) {
      if (r->has_value() && r->value().ok()) acknowledged[r->value()->base_offset] = v;
    }
    std::map<Offset, std::string> in_log;
    for (const TestRecord& r : c.Records(leader)) in_log[r.offset] = r.value.value_or("");
    for (const auto& [offset, v] : acknowledged) {
      INFO("offset " << offset.value());
      CHECK(in_log[offset] == v);
    }
    for (int id : {1, 2, 3}) {
      ReplicaStatus st = c.replica(id).status();
      INFO("replica " << id << " role " << static_cast<int>(st.role) << " epoch " << st.leader_epoch
                      << " leader " << st.leader << " leo " << st.log_end_offset << " hw "
                      << st.high_watermark << " leader leo " << c.partition(leader).log_end_offset()
                      << " latest epoch "
                      << c.partition(id).latest_epoch().value_or(kNoLeaderEpoch));
      CHECK(c.Records(id) == c.Records(leader));
    }
    CHECK_FALSE(acknowledged.empty());
  }
}

}  // namespace
}  // namespace evlog
