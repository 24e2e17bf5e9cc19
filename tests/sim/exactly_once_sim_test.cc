// The exactly-once simulator: a consume-transform-produce application (a
// read_committed group member and a transactional producer, committing
// each polled batch's output and input offsets in one transaction) against
// a Broker on one ManualExecutor and ManualClock, under seeded faults:
//   * lost messages: the client's link to the broker drops appends (never
//     written) and loses acknowledgements (written, reported failed), and
//     fails reads, so the producer retries within its delivery timeout;
//   * application crashes: the instance vanishes mid-transaction and a new
//     one takes over later, or a new instance starts while the old one
//     still runs (the zombie must then fail to commit: PRODUCER_FENCED);
//   * aborts: the application aborts a batch and reads it again;
//   * broker crashes: power loss (each file keeps what was synced, torn
//     writes included) and a restart, which also ends the application;
//   * clock jumps past the transaction and session timeouts, so abandoned
//     transactions are aborted by the coordinator.
// Topics sync every append: on one node only the disk keeps an
// acknowledged write, as replication would in a cluster.
//
// Checked whenever no transaction is open (DESIGN.md invariants 3 and 4):
// the output a read_committed reader sees is exactly one record per input
// record below the group's committed offsets — no duplicate, none missing,
// none beyond — so a committed transaction's records and its offsets are
// visible together, and an aborted or abandoned one's never. A zombie never
// commits. At the end, with the faults healed, a last instance drains the
// input and every input has exactly one output.
//
// Not simulated here: network partitions between brokers, which need
// transactions on a Cluster (not built yet); see the client simulator for
// those on plain produce and consume.
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
#include "evlog/client/client_backend.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/status.h"
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

std::unique_ptr<ClientBackend> LossyBackend(Broker& broker, std::mt19937_64& rng,
                                            const LinkFaults& faults) {
  return std::make_unique<testing::ForwardingBackend>(
      MakeClientBackend(broker), [&rng, &faults](std::shared_ptr<ClientPartition> p) {
        return std::make_shared<LossyPartition>(std::move(p), rng, faults);
      });
}

// One instance of the application.
struct App {
  std::unique_ptr<Producer> producer;
  std::unique_ptr<Consumer> consumer;
};

struct Sim {
  explicit Sim(uint64_t seed) : rng(seed), disk(mem) {
    faults.drop_append = static_cast<int>(rng() % 60);
    faults.lose_ack = static_cast<int>(rng() % 60);
    faults.fail_read = static_cast<int>(rng() % 60);
    per_instance_ids = rng() % 2 == 0;
    OpenBroker();
    NewTopic topic(kPartitions);
    REQUIRE(broker->CreateTopic("orders", topic).ok());
    REQUIRE(broker->CreateTopic("invoices", topic).ok());
    // The input, straight into the log (no faults).
    auto shop = Producer::Create(*broker);
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
    if (broker) (void)broker->Close();
  }

  void OpenBroker() {
    BrokerOptions o;
    o.data_dir = "/data";
    o.file_system = &disk;
    o.clock = &clock;
    o.executor = &executor;
    o.topic_defaults.log.segment_index_bytes = 64 << 10;
    o.topic_defaults.log.durability = Durability::kEveryAppend;
    auto opened = Broker::Open(o);
    INFO(opened.status());
    REQUIRE(opened.ok());
    broker = *std::move(opened);
    GroupCoordinatorOptions g;
    g.offset_store.partition_count = 1;
    g.min_session_timeout_ms = 100;
    REQUIRE(GroupCoordinator::ForBroker(*broker, &g).ok());
  }

  std::unique_ptr<App> StartApp() {
    auto a = std::make_unique<App>();
    ProducerOptions po;
    po.linger_ms = 0;
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
    auto producer = Producer::Create(LossyBackend(*broker, rng, faults), std::move(po));
    REQUIRE(producer.ok());
    a->producer = *std::move(producer);
    absl::Status init = a->producer->InitTransactions();
    INFO(init);
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
    auto consumer = Consumer::Create(LossyBackend(*broker, rng, faults), std::move(co));
    REQUIRE(consumer.ok());
    a->consumer = *std::move(consumer);
    REQUIRE(a->consumer->Subscribe({"orders"}).ok());
    return a;
  }

  void Run(int64_t ms) {
    executor.RunReady();
    executor.AdvanceMs(ms);
  }

  // One polled batch through a transaction; `ending` picks its end:
  // 0 commit, 1 abort, 2 vanish, 3 a new instance takes over (see below).
  void Process(int ending) {
    if (!app) app = StartApp();
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
      REQUIRE(app->producer
                  ->Send(ProducerRecord("invoices", values[i]),
                         [outcomes, i](const absl::StatusOr<RecordMetadata>& m) {
                           (*outcomes)[i] = m.status();
                         })
                  .ok());
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
      CHECK(HasErrorCode(zombie->producer->CommitTransaction(), ErrorCode::kProducerFenced));
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
      absl::Status late = zombie->producer->CommitTransaction();
      INFO(late);
      CHECK(late.ok());
      zombie.reset();
      if (late.ok()) ++commits;
      return;
    }
    absl::Status end = ending == 0 ? app->producer->CommitTransaction() : absl::OkStatus();
    if (ending == 1 || HasErrorCode(end, ErrorCode::kTransactionAbortable)) {
      REQUIRE(app->producer->AbortTransaction().ok());
      // Read the batch again.
      for (const auto& [tp, offset] : first) REQUIRE(app->consumer->Seek(tp, offset).ok());
      return;
    }
    INFO(end);
    REQUIRE(end.ok());
    ++commits;
    CheckVisibleTogether();
  }

  void CrashBroker() {
    disk.SimulateCrash(rng);
    zombie.reset();
    app.reset();
    (void)broker->Close();
    broker.reset();
    OpenBroker();
  }

  // The outputs a read_committed reader sees.
  std::multiset<std::string> CommittedOutputs() {
    ConsumerOptions co;
    co.isolation_level = IsolationLevel::kReadCommitted;
    co.auto_offset_reset = OffsetResetPolicy::kEarliest;
    auto reader = Consumer::Create(*broker, co);
    REQUIRE(reader.ok());
    std::vector<TopicPartition> all;
    for (int p = 0; p < kPartitions; ++p) all.emplace_back("invoices", p);
    REQUIRE((*reader)->Assign(all).ok());
    std::multiset<std::string> out;
    for (;;) {
      absl::StatusOr<ConsumerRecords> records = (*reader)->Poll(0);
      REQUIRE(records.ok());
      if (records->empty()) break;
      for (const ConsumerRecord& r : *records) out.insert(std::string(*r.value_string()));
    }
    return out;
  }

  // Invariant 4 where it can be seen: with no transaction open, the
  // visible outputs are exactly those of the inputs below the committed
  // offsets. Returns false (nothing checked) while one is open.
  bool CheckVisibleTogether() {
    auto groups = GroupCoordinator::ForBroker(*broker);
    REQUIRE(groups.ok());
    absl::StatusOr<std::map<TopicPartition, CommittedOffset>> committed =
        (*groups)->FetchStableOffsets(kGroup);
    if (!committed.ok()) {
      REQUIRE(HasErrorCode(committed.status(), ErrorCode::kUnstableOffsetCommit));
      return false;
    }
    for (int p = 0; p < kPartitions; ++p) {
      auto partition = broker->GetPartition(TopicPartition("invoices", p));
      REQUIRE(partition.ok());
      if ((*partition)->last_stable_offset() != (*partition)->high_watermark()) return false;
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
    auto groups = GroupCoordinator::ForBroker(*broker);
    REQUIRE(groups.ok());
    auto committed = (*groups)->FetchStableOffsets(kGroup);
    if (!committed.ok()) return false;
    for (int p = 0; p < kPartitions; ++p) {
      auto it = committed->find(TopicPartition("orders", p));
      if (it == committed->end() || it->second.offset.value() != kOrdersPerPartition) return false;
    }
    return true;
  }

  std::mt19937_64 rng;
  LinkFaults faults;
  MemFileSystem mem;
  FaultyFileSystem disk;
  ManualClock clock{1'700'000'000'000};
  ManualExecutor executor{clock};
  std::unique_ptr<Broker> broker;
  std::unique_ptr<App> app;
  std::unique_ptr<App> zombie;
  std::map<int, std::vector<std::string>> inputs;
  bool per_instance_ids = false;
  int instances = 0;
  int commits = 0;
  int checks = 0;
};

void RunSeed(uint64_t seed, int steps) {
  Sim sim(seed);
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
      sim.CrashBroker();
    } else if (dice < 86) {
      sim.Run(20'000);  // past the transaction and session timeouts
    }
    sim.Run(static_cast<int64_t>(sim.rng() % 200));
  }

  // Heal, and let one instance finish the input.
  sim.faults = LinkFaults();
  for (int round = 0; round < 2'000 && !sim.Drained(); ++round) {
    sim.Process(0);
    sim.Run(50);
  }
  INFO("committed transactions: " << sim.commits);
  REQUIRE(sim.Drained());
  REQUIRE(sim.CheckVisibleTogether());
  std::multiset<std::string> all;
  for (const auto& [p, values] : sim.inputs) {
    for (const std::string& v : values) all.insert("out-" + v);
  }
  CHECK(sim.CommittedOutputs() == all);
}

TEST_CASE("exactly-once simulation: consume-transform-produce under crashes and lost messages") {
  testing::ForEachSimSeed(RunSeed);
}

}  // namespace
}  // namespace evlog
