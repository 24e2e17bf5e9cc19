// The exactly-once simulator: a consume-transform-produce application (a
// read_committed group member and a transactional producer, committing
// each polled batch's output and input offsets in one transaction) on one
// ManualExecutor and ManualClock, under seeded faults, in two worlds:
//   * a Broker: power loss (each file keeps what was synced, torn writes
//     included) and a restart, which also ends the application;
//   * a three-broker Cluster, whose group and transaction coordinators keep
//     their state in replicated topics: broker crashes and restarts, a
//     broker cut off from the others until the next fault, and a network
//     that delays, loses and copies the brokers' messages;
// and in both:
//   * lost messages: the client's link drops appends (never written) and
//     loses acknowledgements (written, reported failed), and fails reads,
//     so the producer retries within its delivery timeout;
//   * application crashes: the instance vanishes mid-transaction and a new
//     one takes over later, or a new instance starts while the old one
//     still runs (the zombie must then fail to commit: PRODUCER_FENCED);
//   * aborts: the application aborts a batch and reads it again;
//   * clock jumps past the transaction and session timeouts, so abandoned
//     transactions are aborted by the coordinator.
// An application call that keeps failing while a coordinator's log fails
// over is given up on, as an application would: the instance goes away.
// Topics sync every append.
//
// Checked whenever no transaction is open (DESIGN.md invariants 3 and 4):
// the output a read_committed reader sees is exactly one record per input
// record below the group's committed offsets — no duplicate, none missing,
// none beyond — so a committed transaction's records and its offsets are
// visible together, and an aborted or abandoned one's never. A zombie never
// commits. At the end, with the faults healed, a last instance drains the
// input and every input has exactly one output.
//
// EVLOG_SIM_FIRST_SEED=<seed> EVLOG_SIM_SEEDS=1 replays a failing seed.
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "evlog/broker/broker.h"
#include "evlog/broker/cluster.h"
#include "evlog/client/client_backend.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/status.h"
#include "tests/support/broker_options.h"
#include "tests/support/catch.h"
#include "tests/support/cluster_env.h"
#include "tests/support/forwarding_backend.h"

namespace evlog {
namespace {

constexpr int kPartitions = 2;
constexpr int kOrdersPerPartition = 20;
const char* const kGroup = "billing";

// How often the link fails each kind of call, out of 1000.
struct LinkFaults {
  int drop_append = 0;
  int lose_ack = 0;
  int fail_read = 0;
};

// The client's view of the broker through a lossy link. Single-threaded
// (the simulation's), so one generator serves every call.
class LossyPartition final : public testing::ForwardingPartition {
 public:
  LossyPartition(std::shared_ptr<ClientPartition> base, std::mt19937_64& rng,
                 const LinkFaults& faults)
      : ForwardingPartition(std::move(base)), rng_(rng), faults_(faults) {}

  void Append(MutableByteView batch, Acks acks, int64_t timeout_ms, AppendCallback done) override {
    if (Roll(faults_.drop_append)) {
      done(MakeError(ErrorCode::kNetworkException, "the request was lost"));
      return;
    }
    const bool lose = Roll(faults_.lose_ack);
    base().Append(batch, acks, timeout_ms,
                  [lose, done = std::move(done)](absl::StatusOr<AppendResult> r) mutable {
                    if (lose) r = MakeError(ErrorCode::kNetworkException, "the answer was lost");
                    done(std::move(r));
                  });
  }
  absl::StatusOr<LogReadResult> Read(Offset offset, std::vector<std::byte>& buffer,
                                     const LogReadOptions& options) override {
    if (Roll(faults_.fail_read)) return MakeError(ErrorCode::kLeaderNotAvailable, "link down");
    return base().Read(offset, buffer, options);
  }

 private:
  bool Roll(int per_mille) { return per_mille > 0 && static_cast<int>(rng_() % 1000) < per_mille; }

  std::mt19937_64& rng_;
  const LinkFaults& faults_;
};

std::unique_ptr<ClientBackend> LossyBackend(std::unique_ptr<ClientBackend> base,
                                            std::mt19937_64& rng, const LinkFaults& faults) {
  return std::make_unique<testing::ForwardingBackend>(
      std::move(base), [&rng, &faults](std::shared_ptr<ClientPartition> p) {
        return std::make_shared<LossyPartition>(std::move(p), rng, faults);
      });
}

GroupCoordinatorOptions SimGroupOptions() {
  GroupCoordinatorOptions g;
  g.offset_store.partition_count = 1;
  g.min_session_timeout_ms = 100;
  return g;
}

// Where the application runs: one Broker, or a three-broker Cluster.
class World {
 public:
  virtual ~World() = default;
  virtual ManualExecutor& executor() = 0;
  // Creates `orders` and `invoices` (kPartitions each).
  virtual void CreateTopics() = 0;
  virtual std::unique_ptr<ClientBackend> Backend() = 0;
  virtual std::shared_ptr<GroupCoordinator> Groups() = 0;
  // Whether invoices-p's leader has no transaction open (LSO = HW); false
  // while it has no leader.
  virtual bool Stable(int p) = 0;
  // A seeded fault of the world's own (`dice` in 0..99). Returns true when
  // it ends every client (a Broker's power loss takes the process with
  // it): the caller then drops them and calls Restart().
  virtual bool Fault(int dice) = 0;
  virtual void Restart() {}
  // Ends every fault, so that the application can finish.
  virtual void Heal() = 0;
};

// One broker whose disk keeps only what was synced: its crash is a power
// loss of the whole process, application included.
class BrokerWorld final : public World {
 public:
  explicit BrokerWorld(std::mt19937_64& rng) : rng_(rng), disk_(mem_) { Open(); }
  ~BrokerWorld() override {
    if (broker_) (void)broker_->Close();
  }
  ManualExecutor& executor() override { return executor_; }
  void CreateTopics() override {
    NewTopic topic(kPartitions);
    REQUIRE(broker_->CreateTopic("orders", topic).ok());
    REQUIRE(broker_->CreateTopic("invoices", topic).ok());
  }
  std::unique_ptr<ClientBackend> Backend() override { return MakeClientBackend(*broker_); }
  std::shared_ptr<GroupCoordinator> Groups() override {
    auto groups = GroupCoordinator::ForBroker(*broker_);
    REQUIRE(groups.ok());
    return *groups;
  }
  bool Stable(int p) override {
    auto partition = broker_->GetPartition(TopicPartition("invoices", p));
    REQUIRE(partition.ok());
    return (*partition)->last_stable_offset() == (*partition)->high_watermark();
  }
  bool Fault(int /*dice*/) override {
    // The power goes first: nothing the clients do as they are dropped
    // reaches the disk.
    disk_.SimulateCrash(rng_);
    return true;
  }
  void Restart() override {
    (void)broker_->Close();
    broker_.reset();
    Open();
  }
  void Heal() override {}

 private:
  void Open() {
    BrokerOptions o = testing::InMemoryBrokerOptions(disk_, executor_, &clock_);
    o.topic_defaults.log.durability = Durability::kEveryAppend;
    auto opened = Broker::Open(o);
    INFO(opened.status());
    REQUIRE(opened.ok());
    broker_ = *std::move(opened);
    const GroupCoordinatorOptions g = SimGroupOptions();
    REQUIRE(GroupCoordinator::ForBroker(*broker_, &g).ok());
  }

  std::mt19937_64& rng_;
  MemFileSystem mem_;
  FaultyFileSystem disk_;
  ManualClock clock_{1'700'000'000'000};
  ManualExecutor executor_{clock_};
  std::unique_ptr<Broker> broker_;
};

// Three brokers on a seeded network that delays, loses and copies
// messages; faults crash a broker (its disk keeps what was synced),
// restart one, or cut one off the other brokers until the next fault. At
// most one broker is down or cut off at a time, so that
// min.insync.replicas = 2 can always be met again.
class ClusterWorld final : public World {
 public:
  ClusterWorld(uint64_t seed, std::mt19937_64& rng) : rng_(rng), env_(3, seed, Faults()) {
    ClusterOptions o = env_.Options();
    o.transport_seed = seed;
    o.controller.default_min_insync_replicas = 2;
    cluster_ = env_.Open(o);
    const GroupCoordinatorOptions g = SimGroupOptions();
    REQUIRE(cluster_->group_coordinator(&g).ok());
  }
  ~ClusterWorld() override { (void)cluster_->Close(); }
  ManualExecutor& executor() override { return env_.executor; }
  void CreateTopics() override {
    NewTopic topic(kPartitions, /*replication_factor=*/3);
    REQUIRE(cluster_->CreateTopic("orders", topic).ok());
    REQUIRE(cluster_->CreateTopic("invoices", topic).ok());
  }
  std::unique_ptr<ClientBackend> Backend() override { return MakeClientBackend(*cluster_); }
  std::shared_ptr<GroupCoordinator> Groups() override {
    auto groups = cluster_->group_coordinator();
    REQUIRE(groups.ok());
    return *groups;
  }
  // Also waits for the leader's high watermark to reach its log end: a
  // newly elected leader's high watermark starts where its own was and
  // moves up only once every follower has fetched from it, so until then
  // records committed under the previous leader are not yet visible.
  bool Stable(int p) override {
    auto leader = cluster_->Leader(TopicPartition("invoices", p));
    if (!leader.ok()) return false;
    Partition& partition = *leader->partition;
    return partition.high_watermark() == partition.log_end_offset() &&
           partition.last_stable_offset() == partition.high_watermark();
  }
  bool Fault(int dice) override {
    const BrokerId victim(1 + static_cast<int32_t>(rng_() % 3));
    if (isolated_) {
      // A cut lasts until the next fault.
      env_.network.HealAll();
      isolated_ = false;
      return false;
    }
    if (dice < 30) {
      if (cluster_->IsRunning(victim) && Down() == 0) REQUIRE(cluster_->CrashBroker(victim).ok());
    } else if (dice < 60) {
      if (!cluster_->IsRunning(victim)) REQUIRE(cluster_->RestartBroker(victim).ok());
    } else if (dice < 80) {
      if (Down() == 0) {
        env_.network.Isolate(victim);
        isolated_ = true;
      }
    } else {
      env_.network.HealAll();
      isolated_ = false;
    }
    return false;
  }
  void Heal() override {
    env_.network.HealAll();
    isolated_ = false;
    env_.network.SetFaults({});
    for (int id = 1; id <= 3; ++id) {
      if (!cluster_->IsRunning(BrokerId(id))) REQUIRE(cluster_->RestartBroker(BrokerId(id)).ok());
    }
  }

 private:
  static NetworkFaults Faults() {
    NetworkFaults f;
    f.max_delay_ms = 10;
    f.drop_probability = 0.02;
    f.duplicate_probability = 0.02;
    return f;
  }
  // Brokers crashed or cut off.
  int Down() {
    int down = isolated_ ? 1 : 0;
    for (int id = 1; id <= 3; ++id) down += cluster_->IsRunning(BrokerId(id)) ? 0 : 1;
    return down;
  }

  std::mt19937_64& rng_;
  bool isolated_ = false;
  testing::ClusterEnv env_;
  std::unique_ptr<Cluster> cluster_;
};

// One instance of the application.
struct App {
  std::unique_ptr<Producer> producer;
  std::unique_ptr<Consumer> consumer;
};

struct Sim {
  Sim(uint64_t seed, bool on_cluster) : rng(seed) {
    faults.drop_append = static_cast<int>(rng() % 60);
    faults.lose_ack = static_cast<int>(rng() % 60);
    faults.fail_read = static_cast<int>(rng() % 60);
    per_instance_ids = rng() % 2 == 0;
    if (on_cluster) {
      world = std::make_unique<ClusterWorld>(seed, rng);
    } else {
      world = std::make_unique<BrokerWorld>(rng);
    }
    world->CreateTopics();
    // The input, straight into the log (no faults).
    ProducerOptions shop_options;
    shop_options.partitioner_seed = seed;
    auto shop = Producer::Create(world->Backend(), shop_options);
    REQUIRE(shop.ok());
    for (int p = 0; p < kPartitions; ++p) {
      for (int i = 0; i < kOrdersPerPartition; ++i) {
        const std::string value = "o" + std::to_string(p) + "-" + std::to_string(i);
        inputs[p].push_back(value);
        ProducerRecord r("orders", value);
        r.partition = PartitionId(p);
        REQUIRE((*shop)->Send(r, nullptr).ok());
      }
    }
    REQUIRE((*shop)->Close().ok());
  }

  ~Sim() {
    zombie.reset();
    app.reset();
    world.reset();
  }

  // Calls `call` again while it fails retriably (a coordinator's log
  // failing over), running the world in between.
  template <typename Call>
  absl::Status Retrying(Call call) {
    absl::Status s;
    for (int attempt = 0; attempt < 30; ++attempt) {
      s = call();
      if (s.ok() || !IsRetriable(GetErrorCode(s))) return s;
      Run(100);
    }
    return s;
  }

  std::unique_ptr<App> StartApp() {
    auto a = std::make_unique<App>();
    ProducerOptions po;
    po.linger_ms = 0;
    // Not the process-wide default: a seed replays alone as in a batch.
    po.partitioner_seed = rng();
    // One id for every instance (a restart fences the one before), or one
    // per instance (KIP-447's model: instances are told apart by their
    // group generation, and nothing fences an old producer).
    po.transactional_id =
        per_instance_ids ? "billing-app-" + std::to_string(instances) : "billing-app";
    ++instances;
    po.transaction_timeout_ms = 10'000;
    po.retry_backoff_ms = 20;
    po.request_timeout_ms = 1'000;
    po.delivery_timeout_ms = 20'000;
    auto producer = Producer::Create(LossyBackend(world->Backend(), rng, faults), std::move(po));
    REQUIRE(producer.ok());
    a->producer = *std::move(producer);
    absl::Status init = Retrying([&] { return a->producer->InitTransactions(); });
    INFO(init);
    // Still failing over (a coordinator's log whose leader is cut off):
    // no instance this step.
    if (!init.ok() && IsRetriable(GetErrorCode(init))) return nullptr;
    REQUIRE(init.ok());
    ConsumerOptions co;
    co.group_id = kGroup;
    co.isolation_level = IsolationLevel::kReadCommitted;
    co.auto_offset_reset = OffsetResetPolicy::kEarliest;
    co.enable_auto_commit = false;
    co.session_timeout_ms = 5'000;
    co.heartbeat_interval_ms = 500;
    co.max_poll_interval_ms = 60'000;
    co.retry_backoff_ms = 20;
    co.max_poll_records = 1 + static_cast<int32_t>(rng() % 6);
    auto consumer = Consumer::Create(LossyBackend(world->Backend(), rng, faults), std::move(co));
    REQUIRE(consumer.ok());
    a->consumer = *std::move(consumer);
    REQUIRE(a->consumer->Subscribe({"orders"}).ok());
    return a;
  }

  void Run(int64_t ms) {
    world->executor().RunReady();
    world->executor().AdvanceMs(ms);
  }

  // One polled batch through a transaction; `ending` picks its end:
  // 0 commit, 1 abort, 2 vanish, 3 a new instance takes over (see below).
  void Process(int ending) {
    if (!app) app = StartApp();
    if (!app) return;
    absl::StatusOr<ConsumerRecords> polled = app->consumer->Poll(0);
    INFO(polled.status());
    REQUIRE(polled.ok());
    if (polled->empty()) return;
    std::map<TopicPartition, OffsetAndMetadata> next;
    std::map<TopicPartition, Offset> first;
    std::vector<std::string> values;
    for (const ConsumerRecord& r : *polled) {
      const TopicPartition tp(std::string(r.topic), r.partition);
      first.emplace(tp, r.offset);
      next[tp].offset = r.offset + 1;
      values.push_back("out-" + std::string(*r.value_string()));
    }
    REQUIRE(app->producer->BeginTransaction().ok());
    auto outcomes = std::make_shared<std::vector<std::optional<absl::Status>>>(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      // A Send adds its partition to the transaction first, which fails
      // retriably while the coordinator's log fails over.
      const absl::Status sent = Retrying([&] {
        return app->producer->Send(ProducerRecord("invoices", values[i]),
                                   [outcomes, i](const absl::StatusOr<RecordMetadata>& m) {
                                     (*outcomes)[i] = m.status();
                                   });
      });
      INFO(sent);
      if (!sent.ok() &&
          (IsRetriable(GetErrorCode(sent)) || HasErrorCode(sent, ErrorCode::kProducerFenced))) {
        app.reset();  // gives up; the transaction times out
        return;
      }
      REQUIRE(sent.ok());
    }
    auto all_known = [&] {
      for (const auto& o : *outcomes) {
        if (!o.has_value()) return false;
      }
      return true;
    };
    for (int t = 0; t < 4'000 && !all_known(); ++t) Run(10);
    REQUIRE(all_known());
    absl::Status offsets =
        app->producer->SendOffsetsToTransaction(next, app->consumer->GroupMetadata());
    if (!offsets.ok() && ending == 0) ending = 1;  // e.g. rebalanced away: abort

    if (ending == 2) {
      app.reset();  // gone mid-transaction; the next step starts another
      return;
    }
    if (ending == 3 && !per_instance_ids) {
      zombie = std::move(app);
      app = StartApp();  // fences the zombie and aborts its transaction
      if (!app) {
        zombie.reset();  // no successor yet: the old one vanishes instead
        return;
      }
      const absl::Status fenced = zombie->producer->CommitTransaction();
      INFO(fenced);
      // Or TRANSACTION_ABORTABLE when it already knew its offsets failed.
      CHECK((HasErrorCode(fenced, ErrorCode::kProducerFenced) ||
             HasErrorCode(fenced, ErrorCode::kTransactionAbortable)));
      zombie.reset();
      return;
    }
    if (ending == 3) {
      // The old instance's consumer leaves the group, a new instance takes
      // its partitions, and only then does the old producer commit. The
      // new member must not start from the offsets committed before that
      // transaction: it waits for it (KIP-447), or it would process the
      // same input a second time.
      zombie = std::move(app);
      zombie->consumer.reset();
      app = StartApp();
      for (int i = 0; i < 3; ++i) {
        Run(30);
        Process(0);
      }
      absl::Status late = Retrying([&] { return zombie->producer->CommitTransaction(); });
      INFO(late);
      // On a Cluster the coordinator may have timed it out meanwhile
      // (PRODUCER_FENCED), be failing over, or its offsets may not have
      // been written (TRANSACTION_ABORTABLE).
      CHECK((late.ok() || IsRetriable(GetErrorCode(late)) ||
             HasErrorCode(late, ErrorCode::kProducerFenced) ||
             HasErrorCode(late, ErrorCode::kTransactionAbortable)));
      if (HasErrorCode(late, ErrorCode::kTransactionAbortable)) {
        (void)Retrying([&] { return zombie->producer->AbortTransaction(); });
      }
      zombie.reset();
      if (late.ok()) ++commits;
      return;
    }
    absl::Status end = ending == 0 ? Retrying([&] { return app->producer->CommitTransaction(); })
                                   : absl::OkStatus();
    if (ending == 1 || HasErrorCode(end, ErrorCode::kTransactionAbortable)) {
      const absl::Status aborted = Retrying([&] { return app->producer->AbortTransaction(); });
      INFO(aborted);
      if (!aborted.ok() && (IsRetriable(GetErrorCode(aborted)) ||
                            HasErrorCode(aborted, ErrorCode::kProducerFenced))) {
        // Fenced: the coordinator aborted it already, past its timeout
        // (the retries above took that long), and bumped the epoch.
        // Its markers could not be written all this while (a leader cut
        // off from its followers): the application gives up, and the
        // coordinator finishes the abort in the background.
        app.reset();
        return;
      }
      REQUIRE(aborted.ok());
      // Read the batch again.
      for (const auto& [tp, offset] : first) REQUIRE(app->consumer->Seek(tp, offset).ok());
      return;
    }
    INFO(end);
    if (!end.ok() &&
        (IsRetriable(GetErrorCode(end)) || HasErrorCode(end, ErrorCode::kProducerFenced))) {
      // As above: the outcome is the coordinator's to finish (committed if
      // it got as far as PrepareCommit, else aborted by the timeout).
      app.reset();
      return;
    }
    REQUIRE(end.ok());
    ++commits;
    CheckVisibleTogether();
  }

  void Fault(int dice) {
    // A Broker's crash takes the application with it.
    if (world->Fault(dice)) {
      zombie.reset();
      app.reset();
      world->Restart();
    }
  }

  // The outputs a read_committed reader sees.
  std::multiset<std::string> CommittedOutputs() {
    ConsumerOptions co;
    co.isolation_level = IsolationLevel::kReadCommitted;
    co.auto_offset_reset = OffsetResetPolicy::kEarliest;
    auto reader = Consumer::Create(world->Backend(), co);
    REQUIRE(reader.ok());
    std::vector<TopicPartition> all;
    for (int p = 0; p < kPartitions; ++p) all.emplace_back("invoices", p);
    REQUIRE((*reader)->Assign(all).ok());
    std::multiset<std::string> out;
    // Until a few polls in a row come back empty: on a Cluster a poll may
    // find a partition's leader moving.
    for (int empty = 0; empty < 3;) {
      absl::StatusOr<ConsumerRecords> records = (*reader)->Poll(0);
      REQUIRE(records.ok());
      empty = records->empty() ? empty + 1 : 0;
      for (const ConsumerRecord& r : *records) out.insert(std::string(*r.value_string()));
    }
    REQUIRE((*reader)->Close().ok());
    return out;
  }

  // Invariant 4 where it can be seen: with no transaction open, the
  // visible outputs are exactly those of the inputs below the committed
  // offsets. Returns false (nothing checked) while one is open.
  bool CheckVisibleTogether() {
    absl::StatusOr<std::map<TopicPartition, CommittedOffset>> committed =
        world->Groups()->FetchStableOffsets(kGroup);
    if (!committed.ok()) {
      REQUIRE(HasErrorCode(committed.status(), ErrorCode::kUnstableOffsetCommit));
      return false;
    }
    for (int p = 0; p < kPartitions; ++p) {
      if (!world->Stable(p)) return false;
    }
    std::multiset<std::string> expected;
    for (int p = 0; p < kPartitions; ++p) {
      auto it = committed->find(TopicPartition("orders", p));
      const int64_t upto = it == committed->end() ? 0 : it->second.offset.value();
      for (int64_t i = 0; i < upto; ++i) expected.insert("out-" + inputs[p][i]);
    }
    const std::multiset<std::string> visible = CommittedOutputs();
    INFO("committed transactions so far: " << commits);
    CHECK(visible == expected);
    ++checks;
    return true;
  }

  bool Drained() {
    auto committed = world->Groups()->FetchStableOffsets(kGroup);
    if (!committed.ok()) return false;
    for (int p = 0; p < kPartitions; ++p) {
      auto it = committed->find(TopicPartition("orders", p));
      if (it == committed->end() || it->second.offset.value() != kOrdersPerPartition) return false;
    }
    return true;
  }

  std::mt19937_64 rng;
  LinkFaults faults;
  std::unique_ptr<World> world;
  std::unique_ptr<App> app;
  std::unique_ptr<App> zombie;
  std::map<int, std::vector<std::string>> inputs;
  bool per_instance_ids = false;
  int instances = 0;
  int commits = 0;
  int checks = 0;
};

void RunSeed(uint64_t seed, int steps, bool on_cluster) {
  Sim sim(seed, on_cluster);
  for (int step = 0; step < steps; ++step) {
    const int dice = static_cast<int>(sim.rng() % 100);
    if (dice < 55) {
      sim.Process(0);
    } else if (dice < 63) {
      sim.Process(1);
    } else if (dice < 70) {
      sim.Process(2);
    } else if (dice < 76) {
      sim.Process(3);
    } else if (dice < 82) {
      sim.Fault(static_cast<int>(sim.rng() % 100));
    } else if (dice < 86) {
      sim.Run(20'000);  // past the transaction and session timeouts
    }
    sim.Run(static_cast<int64_t>(sim.rng() % 200));
  }

  // Heal, and let one instance finish the input.
  sim.faults = LinkFaults();
  sim.world->Heal();
  for (int round = 0; round < 2'000 && !sim.Drained(); ++round) {
    sim.Process(0);
    sim.Run(50);
  }
  INFO("committed transactions: " << sim.commits);
  REQUIRE(sim.Drained());
  // A transaction abandoned without offsets (its instance vanished after a
  // failed SendOffsetsToTransaction) holds the output back until the
  // coordinator times it out.
  bool checked = false;
  for (int round = 0; round < 600 && !checked; ++round) {
    checked = sim.CheckVisibleTogether();
    if (!checked) sim.Run(100);
  }
  REQUIRE(checked);
  std::multiset<std::string> all;
  for (const auto& [p, values] : sim.inputs) {
    for (const std::string& v : values) all.insert("out-" + v);
  }
  CHECK(sim.CommittedOutputs() == all);
}

TEST_CASE("exactly-once simulation: consume-transform-produce under crashes and lost messages") {
  testing::ForEachSimSeed([](uint64_t seed, int steps) { RunSeed(seed, steps, false); });
}

TEST_CASE(
    "exactly-once simulation on a cluster: broker crashes, network partitions, lost "
    "messages") {
  testing::ForEachSimSeed([](uint64_t seed, int steps) { RunSeed(seed, steps, true); });
}

}  // namespace
}  // namespace evlog
