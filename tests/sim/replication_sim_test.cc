// The deterministic replication simulator: three brokers, each with its own
// disk (a FaultyFileSystem over memory) and a ReplicaSet of one partition,
// the Controller deciding leaders and ISRs from registrations, heartbeats
// and AlterPartition, a seeded InProcessTransport between them, all on one
// ManualExecutor and ManualClock. Each seed drives a random history of
// acks=all produces and reads interleaved with faults: broker crashes (the
// disk keeps only what was synced) and restarts, isolations, lost,
// duplicated and delayed messages, failed disk writes, clock jumps.
//
// After every step the checkers assert what Jepsen checks on Kafka-like
// systems and DESIGN.md's invariants 1, 2 and 6:
//   * the controller's leader is in its ISR;
//   * below the leader's high watermark every ISR member holds exactly the
//     leader's records (no inconsistent offsets);
//   * a leader's high watermark never moves back within its epoch;
//   * a reader sees offsets only go forward, and every record it read below
//     the high watermark is still there, unchanged, at the end (no lost or
//     rewritten committed records);
// and at the end, after the faults heal: every acknowledged write is in the
// log at its offset, no value appears twice, and all replicas agree.
//
// A failing seed is printed; EVLOG_SIM_FIRST_SEED=<seed> EVLOG_SIM_SEEDS=1
// replays it exactly. EVLOG_SIM_SEEDS sets how many seeds run (CI: 2,000;
// the sim_soak target: as many as asked).
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "evlog/io/executor.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/partition/partition.h"
#include "evlog/replication/controller.h"
#include "evlog/replication/metadata_log.h"
#include "evlog/replication/replica_set.h"
#include "evlog/status.h"
#include "evlog/transport/in_process_transport.h"
#include "tests/support/batches.h"
#include "tests/support/catch.h"
#include "tests/support/cluster_env.h"

namespace evlog {
namespace {

using testing::DecodeAll;
using testing::MakeBatch;
using testing::TestRecord;

const TopicPartition kTp("orders", 0);
constexpr int kBrokers = 3;

struct Sim {
  struct Broker {
    MemFileSystem disk;
    std::unique_ptr<FaultyFileSystem> fs = std::make_unique<FaultyFileSystem>(disk);
    std::unique_ptr<Partition> partition;
    std::unique_ptr<ReplicaSet<>> replica;
    bool up = false;
    int64_t broker_epoch = -1;  // -1: not registered since it started
    uint64_t incarnation = 0;
    std::optional<PartitionState> applied;
    // The broker's high-watermark checkpoint (a Cluster writes it every
    // few seconds; it survives crashes): a restarted replica starts from it.
    Offset checkpointed_high_watermark{0};
  };

  explicit Sim(uint64_t seed)
      : rng(seed), executor(clock), transport(executor, clock, seed, Faults()) {
    ControllerOptions options;
    options.session_timeout_ms = 600;
    options.leader_imbalance_check_interval_ms = 3'000;
    options.default_min_insync_replicas = 2;
    controller = *Controller::Open(clock, std::make_unique<MemoryMetadataLog>(), options);
    for (int id = 1; id <= kBrokers; ++id) Start(id);
    for (int id = 1; id <= kBrokers; ++id) Heartbeat(id);
    REQUIRE(controller->CreateTopic(kTp.topic, 1, kBrokers).ok());
    Propagate();
  }

  ~Sim() {
    for (auto& [id, b] : brokers) {
      if (b.up) Crash(id);
    }
  }

  static NetworkFaults Faults() {
    NetworkFaults f;
    f.max_delay_ms = 15;
    f.drop_probability = 0.03;
    f.duplicate_probability = 0.03;
    return f;
  }

  static ReplicaSetOptions ReplicaOptions() {
    ReplicaSetOptions o;
    o.replica_lag_time_max_ms = 1'000;
    o.min_insync_replicas = 2;
    o.fetch_max_wait_ms = 100;
    o.fetch_backoff_ms = 50;
    o.fetch_timeout_ms = 400;
    return o;
  }

  void Start(int id) {
    Broker& b = brokers[id];
    LogConfig config;
    config.segment_bytes = 16 << 10;
    config.segment_index_bytes = 4 << 10;
    // Every append is synced before it is acknowledged to anyone.
    config.durability = Durability::kEveryAppend;
    auto log = PartitionLog::Open(*b.fs, clock, "/data/orders-0", config);
    REQUIRE(log.ok());
    b.partition =
        std::make_unique<Partition>(kTp.topic, kTp.partition, *std::move(log), TopicSettings{});
    b.replica = std::make_unique<ReplicaSet<>>(
        BrokerId(id), kTp, *b.partition, transport, executor, clock,
        [this](IsrChange change, absl::AnyInvocable<void(absl::StatusOr<PartitionState>)> done) {
          // AlterPartition reaches the controller a moment later.
          executor.ScheduleAfter(
              1, [this, change = std::move(change), done = std::move(done)]() mutable {
                absl::StatusOr<PartitionState> result = controller->AlterPartition(change);
                done(std::move(result));
                Propagate();
              });
        },
        ReplicaOptions(), b.checkpointed_high_watermark);
    ReplicaSet<>* replica = b.replica.get();
    REQUIRE(transport
                .Listen(BrokerId(id),
                        [replica](BrokerId, Message request, Responder respond) {
                          auto fetch = DecodeFetchRequest(request.body, request.api_version);
                          if (!fetch.ok()) return;
                          replica->HandleFetch(
                              *fetch, [respond = std::move(respond)](FetchResponse r) mutable {
                                Message m;
                                m.api_key = replica_api::kFetch;
                                m.api_version = replica_api::kFetchVersion;
                                m.body = EncodeFetchResponse(r);
                                std::move(respond)(std::move(m));
                              });
                        })
                .ok());
    b.up = true;
    b.broker_epoch = -1;
    b.applied.reset();
    ++b.incarnation;
    Register(id);
    CheckpointHighWatermark(id, b.incarnation);
  }

  // Every 500 ms while this incarnation runs, as a Cluster broker's
  // checkpoint task (shorter than its 5 s, so that restarts use recent ones).
  void CheckpointHighWatermark(int id, uint64_t incarnation) {
    executor.ScheduleAfter(500, [this, id, incarnation] {
      Broker& b = brokers[id];
      if (!b.up || b.incarnation != incarnation) return;
      b.checkpointed_high_watermark = b.partition->high_watermark();
      CheckpointHighWatermark(id, incarnation);
    });
  }

  void Register(int id) {
    Broker& b = brokers[id];
    absl::StatusOr<int64_t> epoch =
        controller->RegisterBroker(BrokerId(id), std::nullopt, "", b.incarnation);
    // DUPLICATE_BROKER_REGISTRATION until the old session expires.
    if (epoch.ok()) b.broker_epoch = *epoch;
  }

  void Heartbeat(int id) {
    Broker& b = brokers[id];
    if (!b.up) return;
    if (b.broker_epoch < 0) {
      Register(id);
      if (b.broker_epoch < 0) return;
    }
    (void)controller->Heartbeat(BrokerId(id), b.broker_epoch);
  }

  // A power loss: the broker stops at once and its disk keeps only what was
  // synced.
  void Crash(int id) {
    Broker& b = brokers[id];
    transport.Unlisten(BrokerId(id));
    b.replica->Close();
    b.fs->SimulateCrash(rng);
    b.fs->ClearFaults();
    b.replica.reset();
    b.partition.reset();
    b.up = false;
  }

  // Hands the controller's decision to every live broker that has not
  // applied it (metadata propagation). A restarted broker takes part only
  // once its new registration is accepted, which waits for the old session
  // to expire (KIP-631): by then the controller has fenced the old
  // incarnation and moved its leaderships, so it never resumes an epoch
  // with a log that may be shorter than what it had acknowledged.
  void Propagate() {
    const MetadataImage image = controller->image();
    const PartitionState* state = image.partition(kTp);
    if (state == nullptr) return;
    for (auto& [id, b] : brokers) {
      if (!b.up || b.broker_epoch < 0 || b.applied == *state) continue;
      REQUIRE(b.replica->Update(*state).ok());
      b.applied = *state;
    }
  }

  void Run(int64_t ms) {
    executor.RunReady();
    for (int64_t done = 0; done < ms; done += 50) {
      executor.AdvanceMs(std::min<int64_t>(50, ms - done));
      for (int id = 1; id <= kBrokers; ++id) Heartbeat(id);
      REQUIRE(controller->Tick().ok());
      Propagate();
    }
  }

  // Runs in steps of 50 ms until `done()` holds, for at most `max_ms`.
  template <typename Done>
  void RunUntil(Done done, int64_t max_ms) {
    for (int64_t ran = 0; ran < max_ms && !done(); ran += 50) Run(50);
  }

  // Every broker up, all in the ISR of a live preferred leader (the
  // controller's rebalancing moves leadership back to it), every log as
  // long as the leader's and all of it committed: nothing left to do.
  bool Settled() {
    const PartitionState s = state();
    if (s.leader.value() <= 0 || s.isr.size() != kBrokers) return false;
    if (s.leader != s.replicas.front()) return false;
    Broker& leader = brokers.at(s.leader.value());
    if (!leader.up || !leader.replica->is_leader()) return false;
    const Offset end = leader.partition->log_end_offset();
    if (leader.partition->high_watermark() != end) return false;
    for (auto& [id, b] : brokers) {
      if (!b.up || b.partition->log_end_offset() != end) return false;
    }
    return true;
  }

  PartitionState state() const { return *controller->image().partition(kTp); }

  std::vector<TestRecord> Records(int id, std::optional<Offset> end = std::nullopt) {
    Partition& p = *brokers.at(id).partition;
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

  std::mt19937_64 rng;
  std::map<int, Broker> brokers;
  ManualClock clock;
  ManualExecutor executor;
  InProcessTransport transport;
  std::unique_ptr<Controller> controller;
};

void RunSeed(uint64_t seed, int steps) {
  Sim sim(seed);
  std::mt19937_64& rng = sim.rng;
  struct Pending {
    std::string value;
    std::shared_ptr<std::vector<std::byte>> batch;
    std::shared_ptr<std::optional<absl::StatusOr<AppendResult>>> result;
  };
  std::vector<Pending> produced;
  std::map<Offset, std::string> consumed;  // read below the high watermark
  Offset read_position(0);
  std::map<LeaderEpoch, Offset> hw_by_epoch;
  int next_value = 0;
  // An acks=all produce of one new value at the leader's replica set.
  auto Produce = [&](int leader) -> const Pending& {
    Pending p;
    p.value = "v" + std::to_string(next_value++);
    p.batch = std::make_shared<std::vector<std::byte>>(MakeBatch({p.value}));
    p.result = std::make_shared<std::optional<absl::StatusOr<AppendResult>>>();
    sim.brokers[leader].replica->Append(
        *p.batch, Acks::kAll, 1'500,
        [result = p.result, batch = p.batch](absl::StatusOr<AppendResult> r) {
          *result = std::move(r);
        });
    produced.push_back(std::move(p));
    return produced.back();
  };
  sim.Run(200);

  for (int step = 0; step < steps; ++step) {
    const PartitionState s = sim.state();
    const int leader = s.leader.value();
    const int dice = static_cast<int>(rng() % 100);
    const int victim = 1 + static_cast<int>(rng() % kBrokers);
    Sim::Broker& vb = sim.brokers[victim];
    if (dice < 45) {
      if (leader > 0 && sim.brokers[leader].up) {
        Produce(leader);
      }
    } else if (dice < 60) {
      // A reader at the leader, up to its high watermark.
      if (leader > 0 && sim.brokers[leader].up) {
        Partition& p = *sim.brokers[leader].partition;
        const Offset hw = p.high_watermark();
        if (read_position < p.log_start_offset()) read_position = p.log_start_offset();
        for (const TestRecord& r : sim.Records(leader, hw)) {
          if (r.offset < read_position) continue;
          CHECK(r.offset >= read_position);  // reads never go backwards
          auto [it, fresh] = consumed.emplace(r.offset, r.value.value_or(""));
          if (!fresh) CHECK(it->second == r.value.value_or(""));
          read_position = r.offset + 1;
        }
      }
    } else if (dice < 65) {
      int down = 0;
      for (auto& [id, b] : sim.brokers) down += b.up ? 0 : 1;
      if (vb.up && down < 2) sim.Crash(victim);
    } else if (dice < 75) {
      if (!vb.up) sim.Start(victim);
    } else if (dice < 80) {
      sim.transport.Isolate(BrokerId(victim));
    } else if (dice < 88) {
      sim.transport.HealAll();
    } else if (dice < 91) {
      // The next write to this broker's segments fails (a full disk).
      if (vb.up) vb.fs->AddFault(FaultRule(FsOp::kWriteAt).PathContains(".log"));
    } else if (dice < 93) {
      sim.Run(2'000);  // a clock jump past every timeout
    }
    sim.Run(static_cast<int64_t>(rng() % 150));

    // Invariants after the step.
    const PartitionState now = sim.state();
    if (now.leader.value() >= 0) {
      CHECK(replica_internal::Contains(now.isr, now.leader));
    }
    if (now.leader.value() > 0 && sim.brokers[now.leader.value()].up) {
      Sim::Broker& lb = sim.brokers[now.leader.value()];
      if (lb.replica->is_leader() && lb.replica->status().leader_epoch == now.leader_epoch) {
        const Offset hw = lb.partition->high_watermark();
        auto [it, fresh] = hw_by_epoch.emplace(now.leader_epoch, hw);
        if (!fresh) {
          CHECK(hw >= it->second);  // no going back within an epoch
          it->second = std::max(it->second, hw);
        }
        const std::vector<TestRecord> committed = sim.Records(now.leader.value(), hw);
        for (BrokerId id : now.isr) {
          Sim::Broker& member = sim.brokers[id.value()];
          if (!member.up || member.partition->log_end_offset() < hw) continue;
          INFO("ISR member " << id << " below high watermark " << hw);
          CHECK(sim.Records(id.value(), hw) == committed);
        }
      }
    }
  }

  // Heal everything (the lossy network too: a liveness check within
  // timeouts cannot allow for fetches lost again and again) and let the
  // cluster settle.
  sim.transport.HealAll();
  sim.transport.SetFaults({});
  for (auto& [id, b] : sim.brokers) {
    b.fs->ClearFaults();
    if (!b.up) sim.Start(id);
  }
  // (Settling stops early: at most the 6 s every timeout fits in.)
  sim.RunUntil([&] { return sim.Settled(); }, 6'000);
  const PartitionState final_state = sim.state();
  REQUIRE(final_state.leader.value() > 0);
  const int leader = final_state.leader.value();
  {
    // Once healed, the cluster takes acks=all writes again (liveness).
    const Pending& p = Produce(leader);
    sim.RunUntil([&] { return p.result->has_value(); }, 2'000);
    REQUIRE(p.result->has_value());
    INFO("the write after healing: " << p.result->value().status());
    REQUIRE(p.result->value().ok());
    sim.RunUntil([&] { return sim.Settled(); }, 6'000);
  }
  std::map<Offset, std::string> in_log;
  std::set<std::string> seen;
  for (const TestRecord& r : sim.Records(leader)) {
    in_log[r.offset] = r.value.value_or("");
    INFO("value " << r.value.value_or(""));
    CHECK(seen.insert(r.value.value_or("")).second);  // no duplicates
  }
  int acknowledged = 0;
  for (const Pending& p : produced) {
    if (!p.result->has_value() || !p.result->value().ok()) continue;
    ++acknowledged;
    INFO("acknowledged " << p.value << " at " << p.result->value()->base_offset);
    CHECK(in_log[p.result->value()->base_offset] == p.value);  // no lost writes
  }
  for (const auto& [offset, value] : consumed) {
    INFO("consumed " << value << " at " << offset);
    CHECK(in_log[offset] == value);  // nothing read was rewritten
  }
  const std::vector<TestRecord> leader_records = sim.Records(leader);
  for (int id = 1; id <= kBrokers; ++id) {
    INFO("replica " << id << " against leader " << leader);
    CHECK(sim.Records(id) == leader_records);
  }
  CHECK(acknowledged > 0);
}

TEST_CASE("replication simulation: seeded histories of crashes, partitions and lost messages") {
  testing::ForEachSimSeed(RunSeed);
}

}  // namespace
}  // namespace evlog
