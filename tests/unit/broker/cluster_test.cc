#include "evlog/broker/cluster.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "evlog/io/executor.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/status.h"
#include "evlog/transport/in_process_transport.h"
#include "tests/support/batches.h"
#include "tests/support/catch.h"
#include "tests/support/cluster_env.h"

namespace evlog {
namespace {

using testing::DecodeAll;
using testing::EnvOr;
using testing::MakeBatch;
using testing::ReplicaRecords;
using testing::TestRecord;

constexpr int64_t kSessionTimeoutMs = testing::ClusterEnv::kSessionTimeoutMs;

constexpr int64_t kLagTimeMs = testing::ClusterEnv::kLagTimeMs;

using ProduceOutcome = std::shared_ptr<std::optional<absl::StatusOr<AppendResult>>>;

using Env = testing::ClusterEnv;

ProduceOutcome Produce(Cluster& cluster, const TopicPartition& tp,
                       const std::vector<std::string>& values, Acks acks = Acks::kAll,
                       std::optional<BrokerId> at = std::nullopt) {
  auto outcome = std::make_shared<std::optional<absl::StatusOr<AppendResult>>>();
  std::vector<std::byte> batch = MakeBatch(values);
  auto done = [outcome](absl::StatusOr<AppendResult> r) { *outcome = std::move(r); };
  if (at) {
    cluster.ProduceTo(*at, tp, batch, acks, /*timeout_ms=*/5'000, done);
  } else {
    cluster.Produce(tp, batch, acks, /*timeout_ms=*/5'000, done);
  }
  return outcome;
}

std::vector<std::string> Values(const std::vector<TestRecord>& records) {
  std::vector<std::string> out;
  for (const TestRecord& r : records) out.push_back(r.value.value_or(""));
  return out;
}

// Values readable through Cluster::Fetch (at the leader, below its high
// watermark), from offset 0.
std::vector<std::string> FetchAll(Cluster& cluster, const TopicPartition& tp) {
  std::vector<std::string> out;
  Offset at(0);
  for (;;) {
    auto read = cluster.Fetch(tp, at);
    INFO(read.status());
    REQUIRE(read.ok());
    if (read->records.empty()) break;
    for (const TestRecord& r : DecodeAll(read->records)) out.push_back(r.value.value_or(""));
    at = read->next_offset;
  }
  return out;
}

PartitionMetadata MetadataOf(Cluster& cluster, const TopicPartition& tp) {
  auto m = cluster.Metadata(tp);
  REQUIRE(m.ok());
  return *m;
}

bool Contains(const std::vector<BrokerId>& ids, BrokerId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST_CASE("topic creation places replicas on distinct brokers and elects the first replica") {
  Env env;
  auto cluster = env.Open();
  auto id = cluster->CreateTopic("orders", NewTopic(6, 2));
  REQUIRE(id.ok());
  CHECK(cluster->ListTopics() == std::vector<std::string>{"orders"});
  auto topic = cluster->Describe("orders");
  REQUIRE(topic.ok());
  CHECK(topic->id == *id);
  REQUIRE(topic->partitions.size() == 6);
  std::map<BrokerId, int> leaders;
  for (const PartitionMetadata& p : topic->partitions) {
    const TopicPartition tp("orders", p.partition);
    REQUIRE(p.replicas.size() == 2);
    CHECK(p.replicas[0] != p.replicas[1]);
    CHECK(p.leader == p.replicas[0]);
    CHECK(p.isr == p.replicas);
    ++leaders[p.leader];
    // The brokers act on the placement as soon as CreateTopic returns.
    for (int b = 1; b <= 3; ++b) {
      const BrokerId broker(b);
      auto state = cluster->ReplicaState(broker, tp);
      if (!Contains(p.replicas, broker)) {
        CHECK(HasErrorCode(state.status(), ErrorCode::kUnknownTopicOrPartition));
        continue;
      }
      REQUIRE(state.ok());
      CHECK(state->role ==
            (broker == p.leader ? ReplicaStatus::Role::kLeader : ReplicaStatus::Role::kFollower));
      CHECK(state->leader_epoch == p.leader_epoch);
    }
  }
  // Round-robin placement spreads leadership evenly.
  CHECK(leaders == std::map<BrokerId, int>{{BrokerId(1), 2}, {BrokerId(2), 2}, {BrokerId(3), 2}});

  CHECK(HasErrorCode(cluster->CreateTopic("orders", NewTopic(1, 1)).status(),
                     ErrorCode::kTopicAlreadyExists));
  CHECK(HasErrorCode(cluster->CreateTopic("wide", NewTopic(1, 4)).status(),
                     ErrorCode::kInvalidReplicationFactor));
  CHECK(HasErrorCode(cluster->Describe("missing").status(), ErrorCode::kUnknownTopicOrPartition));
}

TEST_CASE("an acks=all produce completes once the ISR has it and is then readable at the leader") {
  Env env;
  auto cluster = env.Open();
  REQUIRE(cluster->CreateTopic("orders", NewTopic(1, 3)).ok());
  const TopicPartition tp("orders", 0);

  ProduceOutcome first = Produce(*cluster, tp, {"a", "b"});
  // Nothing ran yet: the followers have not fetched, so nothing is
  // committed or readable.
  CHECK_FALSE(first->has_value());
  CHECK(FetchAll(*cluster, tp).empty());

  env.Run(300);
  REQUIRE(first->has_value());
  REQUIRE(first->value().ok());
  CHECK(first->value()->base_offset == Offset(0));
  ProduceOutcome second = Produce(*cluster, tp, {"c"});
  env.Run(300);
  REQUIRE(second->has_value());
  REQUIRE(second->value().ok());
  CHECK(second->value()->base_offset == Offset(2));

  CHECK(FetchAll(*cluster, tp) == std::vector<std::string>{"a", "b", "c"});
  for (int b = 1; b <= 3; ++b) {
    CHECK(Values(ReplicaRecords(*cluster, BrokerId(b), tp)) ==
          std::vector<std::string>{"a", "b", "c"});
  }
  auto read = cluster->Fetch(tp, Offset(0));
  REQUIRE(read.ok());
  CHECK(read->high_watermark == Offset(3));
  CHECK(read->leader == MetadataOf(*cluster, tp).leader);
  CHECK(HasErrorCode(cluster->Fetch(tp, Offset(4)).status(), ErrorCode::kOffsetOutOfRange));
  CHECK(HasErrorCode(cluster->Fetch(TopicPartition("orders", 1), Offset(0)).status(),
                     ErrorCode::kUnknownTopicOrPartition));
}

TEST_CASE("a produce sent to a broker that does not lead gets NOT_LEADER_OR_FOLLOWER") {
  Env env;
  auto cluster = env.Open();
  REQUIRE(cluster->CreateTopic("orders", NewTopic(1, 2)).ok());
  const TopicPartition tp("orders", 0);
  const PartitionMetadata m = MetadataOf(*cluster, tp);
  const BrokerId follower = m.replicas[1];
  BrokerId outsider(0);
  for (int b = 1; b <= 3; ++b) {
    if (!Contains(m.replicas, BrokerId(b))) outsider = BrokerId(b);
  }

  ProduceOutcome to_follower = Produce(*cluster, tp, {"x"}, Acks::kLeader, follower);
  REQUIRE(to_follower->has_value());
  CHECK(HasErrorCode(to_follower->value().status(), ErrorCode::kNotLeaderOrFollower));
  const std::string hint = "current leader is broker " + std::to_string(m.leader.value());
  CHECK(std::string(to_follower->value().status().message()).find(hint) != std::string::npos);

  ProduceOutcome to_outsider = Produce(*cluster, tp, {"x"}, Acks::kLeader, outsider);
  REQUIRE(to_outsider->has_value());
  CHECK(HasErrorCode(to_outsider->value().status(), ErrorCode::kNotLeaderOrFollower));

  ProduceOutcome unknown = Produce(*cluster, tp, {"x"}, Acks::kLeader, BrokerId(9));
  REQUIRE(unknown->has_value());
  CHECK(HasErrorCode(unknown->value().status(), ErrorCode::kBrokerNotAvailable));

  env.Run(300);
  // Nothing was appended anywhere.
  CHECK(ReplicaRecords(*cluster, m.leader, tp).empty());
  CHECK(ReplicaRecords(*cluster, follower, tp).empty());

  ProduceOutcome to_leader = Produce(*cluster, tp, {"y"}, Acks::kLeader, m.leader);
  REQUIRE(to_leader->has_value());
  CHECK(to_leader->value().ok());
}

TEST_CASE("a leader crash during acks=all produces loses nothing acknowledged") {
  Env env;
  auto cluster = env.Open();
  NewTopic topic(1, 3);
  topic.config.min_insync_replicas = 2;
  REQUIRE(cluster->CreateTopic("orders", topic).ok());
  const TopicPartition tp("orders", 0);
  const BrokerId old_leader = MetadataOf(*cluster, tp).leader;
  const LeaderEpoch old_epoch = MetadataOf(*cluster, tp).leader_epoch;

  std::vector<std::pair<std::string, ProduceOutcome>> produced;
  for (int i = 0; i < 5; ++i) {
    const std::string v = "acked" + std::to_string(i);
    produced.emplace_back(v, Produce(*cluster, tp, {v}));
    env.Run(20);
  }
  // In the leader's log only: the followers have not fetched them yet.
  for (int i = 0; i < 3; ++i) {
    const std::string v = "pending" + std::to_string(i);
    produced.emplace_back(v, Produce(*cluster, tp, {v}));
  }
  REQUIRE(cluster->CrashBroker(old_leader).ok());
  CHECK_FALSE(cluster->IsRunning(old_leader));

  int acknowledged = 0;
  for (auto& [value, outcome] : produced) {
    REQUIRE(outcome->has_value());  // the crash failed those still waiting
    if (outcome->value().ok()) ++acknowledged;
  }
  CHECK(acknowledged == 5);
  // Until the controller notices (session timeout), the metadata names the
  // dead leader, and producing gets a retriable error.
  ProduceOutcome early = Produce(*cluster, tp, {"early"});
  REQUIRE(early->has_value());
  CHECK(HasErrorCode(early->value().status(), ErrorCode::kLeaderNotAvailable));

  env.Run(kSessionTimeoutMs + 300);
  const PartitionMetadata after = MetadataOf(*cluster, tp);
  CHECK(after.leader != old_leader);
  CHECK(after.leader != kNoLeader);
  CHECK(after.leader_epoch > old_epoch);
  CHECK_FALSE(Contains(after.isr, old_leader));

  // Every acknowledged record is at its offset on the new leader.
  const std::vector<TestRecord> records = ReplicaRecords(*cluster, after.leader, tp);
  for (auto& [value, outcome] : produced) {
    if (!outcome->value().ok()) continue;
    const Offset offset = outcome->value()->base_offset;
    REQUIRE(offset.value() < static_cast<int64_t>(records.size()));
    CHECK(records[static_cast<size_t>(offset.value())].value == value);
  }
  ProduceOutcome next = Produce(*cluster, tp, {"after-failover"});
  env.Run(300);
  REQUIRE(next->has_value());
  INFO(next->value().status());
  REQUIRE(next->value().ok());

  // The old leader comes back as a follower, drops what it alone had and
  // converges with the others.
  REQUIRE(cluster->RestartBroker(old_leader).ok());
  env.Run(kSessionTimeoutMs + kLagTimeMs);
  CHECK(cluster->IsRegistered(old_leader));
  const std::vector<TestRecord> leader_records =
      ReplicaRecords(*cluster, MetadataOf(*cluster, tp).leader, tp);
  for (int b = 1; b <= 3; ++b) {
    INFO("broker " << b);
    CHECK(ReplicaRecords(*cluster, BrokerId(b), tp) == leader_records);
  }
  CHECK(Contains(MetadataOf(*cluster, tp).isr, old_leader));
}

TEST_CASE("a lagging follower leaves the ISR and rejoins once it has caught up") {
  Env env;
  auto cluster = env.Open();
  REQUIRE(cluster->CreateTopic("orders", NewTopic(1, 3)).ok());
  const TopicPartition tp("orders", 0);
  const PartitionMetadata before = MetadataOf(*cluster, tp);
  const BrokerId laggard = before.replicas[2];
  env.network.Isolate(laggard);

  ProduceOutcome during = Produce(*cluster, tp, {"during"});
  env.Run(kLagTimeMs / 2);
  // Held while the laggard is still in the ISR...
  CHECK_FALSE(during->has_value());
  env.Run(kLagTimeMs * 2);
  // ...and committed once the leader has dropped it.
  REQUIRE(during->has_value());
  CHECK(during->value().ok());
  PartitionMetadata shrunk = MetadataOf(*cluster, tp);
  CHECK_FALSE(Contains(shrunk.isr, laggard));
  CHECK(shrunk.isr.size() == 2);
  CHECK(shrunk.leader == before.leader);
  CHECK(shrunk.partition_epoch > before.partition_epoch);
  ProduceOutcome more = Produce(*cluster, tp, {"more"});
  env.Run(200);
  REQUIRE(more->has_value());
  CHECK(more->value().ok());
  CHECK(ReplicaRecords(*cluster, laggard, tp).empty());

  env.network.HealAll();
  env.Run(kLagTimeMs);
  const PartitionMetadata healed = MetadataOf(*cluster, tp);
  CHECK(Contains(healed.isr, laggard));
  CHECK(Values(ReplicaRecords(*cluster, laggard, tp)) ==
        std::vector<std::string>{"during", "more"});
}

TEST_CASE("acks=all below min.insync.replicas fails with NOT_ENOUGH_REPLICAS") {
  Env env;
  auto cluster = env.Open();
  NewTopic topic(1, 2);
  topic.config.min_insync_replicas = 2;
  REQUIRE(cluster->CreateTopic("orders", topic).ok());
  const TopicPartition tp("orders", 0);
  const PartitionMetadata m = MetadataOf(*cluster, tp);
  const BrokerId follower = m.replicas[1];

  ProduceOutcome ok = Produce(*cluster, tp, {"ok"});
  env.Run(200);
  REQUIRE(ok->has_value());
  CHECK(ok->value().ok());

  REQUIRE(cluster->CrashBroker(follower).ok());
  env.Run(kSessionTimeoutMs + 300);
  REQUIRE(MetadataOf(*cluster, tp).isr == std::vector<BrokerId>{m.leader});

  ProduceOutcome refused = Produce(*cluster, tp, {"refused"});
  REQUIRE(refused->has_value());
  CHECK(HasErrorCode(refused->value().status(), ErrorCode::kNotEnoughReplicas));
  // acks=1 does not ask for min.insync.replicas.
  ProduceOutcome one = Produce(*cluster, tp, {"one"}, Acks::kLeader);
  REQUIRE(one->has_value());
  CHECK(one->value().ok());
  // Nothing of the refused batch was appended.
  CHECK(Values(ReplicaRecords(*cluster, m.leader, tp)) == std::vector<std::string>{"ok", "one"});

  REQUIRE(cluster->RestartBroker(follower).ok());
  env.Run(kLagTimeMs);
  CHECK(MetadataOf(*cluster, tp).isr.size() == 2);
  ProduceOutcome again = Produce(*cluster, tp, {"again"});
  env.Run(200);
  REQUIRE(again->has_value());
  CHECK(again->value().ok());
}

TEST_CASE("a restarted broker waits for its old session and gets its preferred leadership back") {
  Env env;
  ClusterOptions options = env.Options();
  options.controller.leader_imbalance_per_broker_percentage = 0;
  auto cluster = env.Open(options);
  REQUIRE(cluster->CreateTopic("orders", NewTopic(3, 3)).ok());
  const TopicPartition tp("orders", 0);
  const BrokerId preferred = MetadataOf(*cluster, tp).replicas[0];
  REQUIRE(MetadataOf(*cluster, tp).leader == preferred);

  REQUIRE(cluster->CrashBroker(preferred).ok());
  REQUIRE(cluster->RestartBroker(preferred).ok());
  // The old incarnation's session is alive: DUPLICATE_BROKER_REGISTRATION.
  CHECK(cluster->IsRunning(preferred));
  CHECK_FALSE(cluster->IsRegistered(preferred));
  env.Run(kSessionTimeoutMs / 2);
  CHECK_FALSE(cluster->IsRegistered(preferred));
  env.Run(kSessionTimeoutMs);
  CHECK(cluster->IsRegistered(preferred));
  CHECK(MetadataOf(*cluster, tp).leader != preferred);

  // Back in the ISR, then the periodic rebalance hands leadership back.
  env.Run(options.controller.leader_imbalance_check_interval_ms + 500);
  const PartitionMetadata m = MetadataOf(*cluster, tp);
  CHECK(Contains(m.isr, preferred));
  CHECK(m.leader == preferred);
  auto state = cluster->ReplicaState(preferred, tp);
  REQUIRE(state.ok());
  CHECK(state->role == ReplicaStatus::Role::kLeader);
  ProduceOutcome out = Produce(*cluster, tp, {"v"});
  env.Run(200);
  REQUIRE(out->has_value());
  CHECK(out->value().ok());
}

// A restarted replica's high watermark, before it has fetched anything:
// the broker is cut off from the others, so it registers and opens its
// replicas but learns nothing from the leader.
Offset HighWatermarkAfterRestart(Env& env, Cluster& cluster, BrokerId id,
                                 const TopicPartition& tp) {
  REQUIRE(cluster.RestartBroker(id).ok());
  env.network.Isolate(id);
  env.Run(kSessionTimeoutMs + 500);
  REQUIRE(cluster.IsRegistered(id));
  auto log = cluster.ReplicaLog(id, tp);
  REQUIRE(log.ok());
  const Offset hw = (*log)->high_watermark();
  env.network.HealAll();
  return hw;
}

void ProduceOk(Env& env, Cluster& cluster, const TopicPartition& tp,
               const std::vector<std::string>& values) {
  ProduceOutcome out = Produce(cluster, tp, values);
  env.Run(200);
  REQUIRE(out->has_value());
  REQUIRE(out->value().ok());
}

TEST_CASE("a restarted broker's replicas start from their checkpointed high watermarks") {
  Env env;
  ClusterOptions options = env.Options();
  options.high_watermark_checkpoint_interval_ms = 2'000;
  auto cluster = env.Open(options);
  REQUIRE(cluster->CreateTopic("orders", NewTopic(1, 3)).ok());
  const TopicPartition tp("orders", 0);
  const BrokerId follower = MetadataOf(*cluster, tp).replicas[1];

  SECTION("after a crash, as of the last periodic checkpoint") {
    ProduceOk(env, *cluster, tp, {"a", "b", "c"});
    env.Run(options.high_watermark_checkpoint_interval_ms);
    // Committed after the checkpoint: a crash loses this much progress.
    ProduceOk(env, *cluster, tp, {"d", "e"});
    auto before = cluster->ReplicaLog(follower, tp);
    REQUIRE(before.ok());
    REQUIRE((*before)->high_watermark() == Offset(5));
    REQUIRE(cluster->CrashBroker(follower).ok());
    CHECK(HighWatermarkAfterRestart(env, *cluster, follower, tp) == Offset(3));
  }
  SECTION("after a clean stop, as it was") {
    ProduceOk(env, *cluster, tp, {"a", "b", "c"});
    ProduceOk(env, *cluster, tp, {"d", "e"});
    REQUIRE(cluster->StopBroker(follower).ok());
    env.Run(kSessionTimeoutMs);
    CHECK(HighWatermarkAfterRestart(env, *cluster, follower, tp) == Offset(5));
  }
  // Whatever it restarted with, the replica catches up with the leader.
  env.Run(kLagTimeMs);
  auto log = cluster->ReplicaLog(follower, tp);
  REQUIRE(log.ok());
  CHECK((*log)->high_watermark() == Offset(5));
}

TEST_CASE("a controlled shutdown moves leadership at once and the broker may restart at once") {
  Env env;
  auto cluster = env.Open();
  REQUIRE(cluster->CreateTopic("orders", NewTopic(1, 3)).ok());
  const TopicPartition tp("orders", 0);
  const BrokerId leader = MetadataOf(*cluster, tp).leader;
  REQUIRE(cluster->StopBroker(leader).ok());
  const PartitionMetadata m = MetadataOf(*cluster, tp);
  CHECK(m.leader != leader);
  CHECK(m.leader != kNoLeader);
  ProduceOutcome out = Produce(*cluster, tp, {"v"});
  env.Run(200);
  REQUIRE(out->has_value());
  CHECK(out->value().ok());
  REQUIRE(cluster->RestartBroker(leader).ok());
  CHECK(cluster->IsRegistered(leader));
  CHECK(HasErrorCode(cluster->StopBroker(BrokerId(7)), ErrorCode::kInvalidRequest));
}

// Replicas {a, b}: b crashes and leaves the ISR, "lonely" is written to a
// alone, then a crashes: the whole ISR is down. b comes back.
struct WholeIsrDown {
  explicit WholeIsrDown(bool unclean) {
    cluster = env.Open();
    REQUIRE(cluster->CreateTopic("orders", NewTopic(1, 2), unclean).ok());
    const PartitionMetadata m = MetadataOf(*cluster, tp);
    a = m.replicas[0];
    b = m.replicas[1];
    ProduceOutcome both = Produce(*cluster, tp, {"both"});
    env.Run(200);
    REQUIRE(both->has_value());
    REQUIRE(both->value().ok());
    REQUIRE(cluster->CrashBroker(b).ok());
    env.Run(kSessionTimeoutMs + 300);
    REQUIRE(MetadataOf(*cluster, tp).isr == std::vector<BrokerId>{a});
    ProduceOutcome lonely = Produce(*cluster, tp, {"lonely"});
    env.Run(100);
    REQUIRE(lonely->has_value());
    REQUIRE(lonely->value().ok());
    REQUIRE(cluster->CrashBroker(a).ok());
    REQUIRE(cluster->RestartBroker(b).ok());
    env.Run(kSessionTimeoutMs + 500);
    REQUIRE(cluster->IsRegistered(b));
  }

  Env env;
  std::unique_ptr<Cluster> cluster;
  const TopicPartition tp{"orders", 0};
  BrokerId a, b;
};

TEST_CASE("with unclean election off a partition whose whole ISR is down goes offline") {
  WholeIsrDown s(/*unclean=*/false);
  const PartitionMetadata m = MetadataOf(*s.cluster, s.tp);
  CHECK(m.leader == kNoLeader);
  CHECK(m.isr == std::vector<BrokerId>{s.a});
  ProduceOutcome out = Produce(*s.cluster, s.tp, {"x"});
  REQUIRE(out->has_value());
  CHECK(HasErrorCode(out->value().status(), ErrorCode::kLeaderNotAvailable));
  CHECK(HasErrorCode(s.cluster->Fetch(s.tp, Offset(0)).status(), ErrorCode::kLeaderNotAvailable));

  // The last in-sync replica comes back with everything acknowledged.
  REQUIRE(s.cluster->RestartBroker(s.a).ok());
  s.env.Run(kSessionTimeoutMs + kLagTimeMs);
  CHECK(MetadataOf(*s.cluster, s.tp).leader == s.a);
  CHECK(FetchAll(*s.cluster, s.tp) == std::vector<std::string>{"both", "lonely"});
  CHECK(Values(ReplicaRecords(*s.cluster, s.b, s.tp)) ==
        std::vector<std::string>{"both", "lonely"});
}

TEST_CASE(
    "with unclean election on the out-of-sync replica leads and what only the ISR had is lost") {
  WholeIsrDown s(/*unclean=*/true);
  const PartitionMetadata m = MetadataOf(*s.cluster, s.tp);
  CHECK(m.leader == s.b);
  CHECK(m.isr == std::vector<BrokerId>{s.b});
  s.env.Run(100);
  // The documented loss: "lonely" was acknowledged, but b never had it.
  CHECK(FetchAll(*s.cluster, s.tp) == std::vector<std::string>{"both"});
  ProduceOutcome out = Produce(*s.cluster, s.tp, {"new"});
  s.env.Run(100);
  REQUIRE(out->has_value());
  REQUIRE(out->value().ok());
  CHECK(out->value()->base_offset == Offset(1));

  // a comes back and truncates its divergent "lonely" away.
  REQUIRE(s.cluster->RestartBroker(s.a).ok());
  s.env.Run(kSessionTimeoutMs + kLagTimeMs);
  CHECK(Values(ReplicaRecords(*s.cluster, s.a, s.tp)) == std::vector<std::string>{"both", "new"});
}

TEST_CASE("reopening the cluster directory restores topics and data") {
  Env env;
  TopicConfig config;
  config.retention_ms = 3'600'000;
  {
    auto cluster = env.Open();
    NewTopic topic(2, 3);
    topic.config = config;
    REQUIRE(cluster->CreateTopic("orders", topic).ok());
    for (int p = 0; p < 2; ++p) {
      ProduceOutcome out =
          Produce(*cluster, TopicPartition("orders", p), {"p" + std::to_string(p), "z"});
      env.Run(200);
      REQUIRE(out->has_value());
      REQUIRE(out->value().ok());
    }
    REQUIRE(cluster->Close().ok());
    CHECK(absl::IsFailedPrecondition(cluster->CreateTopic("late", NewTopic(1, 1)).status()));
  }
  auto cluster = env.Open();
  CHECK(cluster->ListTopics() == std::vector<std::string>{"orders"});
  auto topic = cluster->Describe("orders");
  REQUIRE(topic.ok());
  CHECK(topic->configs == std::map<std::string, std::string>{{"retention.ms", "3600000"}});
  REQUIRE(topic->partitions.size() == 2);
  env.Run(kLagTimeMs);
  for (int p = 0; p < 2; ++p) {
    const TopicPartition tp("orders", p);
    const PartitionMetadata m = MetadataOf(*cluster, tp);
    CHECK(m.leader != kNoLeader);
    CHECK(m.isr.size() == 3);
    CHECK(FetchAll(*cluster, tp) == std::vector<std::string>{"p" + std::to_string(p), "z"});
  }
  ProduceOutcome out = Produce(*cluster, TopicPartition("orders", 0), {"after"});
  env.Run(200);
  REQUIRE(out->has_value());
  REQUIRE(out->value().ok());
  CHECK(out->value()->base_offset == Offset(2));
}

TEST_CASE("deleting a topic removes its replicas and directories and growing it adds replicas") {
  Env env;
  auto cluster = env.Open();
  REQUIRE(cluster->CreateTopic("orders", NewTopic(1, 3)).ok());
  REQUIRE(cluster->CreatePartitions("orders", 3).ok());
  CHECK(HasErrorCode(cluster->CreatePartitions("orders", 2), ErrorCode::kInvalidPartitions));
  for (int p = 0; p < 3; ++p) {
    for (int b = 1; b <= 3; ++b) {
      CHECK(cluster->ReplicaState(BrokerId(b), TopicPartition("orders", p)).ok());
    }
  }
  ProduceOutcome out = Produce(*cluster, TopicPartition("orders", 2), {"v"});
  env.Run(200);
  REQUIRE(out->has_value());
  CHECK(out->value().ok());

  REQUIRE(cluster->DeleteTopic("orders").ok());
  CHECK(cluster->ListTopics().empty());
  for (int b = 1; b <= 3; ++b) {
    CHECK(HasErrorCode(cluster->ReplicaState(BrokerId(b), TopicPartition("orders", 0)).status(),
                       ErrorCode::kUnknownTopicOrPartition));
    auto exists = env.disks[static_cast<size_t>(b - 1)]->Exists("/cluster/broker-" +
                                                                std::to_string(b) + "/orders-0");
    REQUIRE(exists.ok());
    CHECK_FALSE(*exists);
  }
  CHECK(HasErrorCode(cluster->DeleteTopic("orders"), ErrorCode::kUnknownTopicOrPartition));
  ProduceOutcome gone = Produce(*cluster, TopicPartition("orders", 0), {"v"});
  REQUIRE(gone->has_value());
  CHECK(HasErrorCode(gone->value().status(), ErrorCode::kUnknownTopicOrPartition));
}

TEST_CASE("a topic deleted and created again while a broker is down starts empty on it") {
  Env env;
  auto cluster = env.Open();
  REQUIRE(cluster->CreateTopic("orders", NewTopic(1, 3)).ok());
  const TopicPartition tp("orders", 0);
  // Two batches, so that a truncation after the first would keep it.
  for (const char* value : {"old", "older"}) {
    ProduceOutcome old_data = Produce(*cluster, tp, {value});
    env.Run(200);
    REQUIRE(old_data->has_value());
    REQUIRE(old_data->value().ok());
  }
  const BrokerId absent = MetadataOf(*cluster, tp).replicas[2];
  // Crashed, not yet fenced: the new topic is placed on it too, and its
  // directory still holds the old topic's records, at the same epoch and
  // offsets the new topic's leader uses. Only the topic id tells them apart.
  REQUIRE(cluster->CrashBroker(absent).ok());
  REQUIRE(cluster->DeleteTopic("orders").ok());
  REQUIRE(cluster->CreateTopic("orders", NewTopic(1, 3)).ok());
  REQUIRE(Contains(MetadataOf(*cluster, tp).replicas, absent));
  env.Run(kSessionTimeoutMs + 300);
  ProduceOutcome fresh = Produce(*cluster, tp, {"fresh"}, Acks::kLeader);
  env.Run(200);
  REQUIRE(fresh->has_value());
  REQUIRE(fresh->value().ok());
  REQUIRE(cluster->RestartBroker(absent).ok());
  env.Run(kLagTimeMs);
  REQUIRE(cluster->IsRegistered(absent));
  const BrokerId leader = MetadataOf(*cluster, tp).leader;
  CHECK(Values(ReplicaRecords(*cluster, leader, tp)) == std::vector<std::string>{"fresh"});
  CHECK(Values(ReplicaRecords(*cluster, absent, tp)) == std::vector<std::string>{"fresh"});
}

// The same code on real threads and the system clock: producers on two
// threads while the leader crashes and comes back. Checked after the
// threads are done (assertions are not thread-safe).
TEST_CASE("on a thread pool a leader crash during concurrent produces loses nothing acknowledged") {
  ThreadPoolExecutor executor(2);
  MemFileSystem controller_disk;
  std::vector<std::unique_ptr<MemFileSystem>> mems;
  std::vector<std::unique_ptr<FaultyFileSystem>> disks;
  ClusterOptions o;
  o.brokers = 3;
  o.data_dir = "/cluster";
  o.file_system = &controller_disk;
  for (int i = 0; i < 3; ++i) {
    mems.push_back(std::make_unique<MemFileSystem>());
    disks.push_back(std::make_unique<FaultyFileSystem>(*mems.back()));
    o.broker_file_systems.push_back(disks.back().get());
  }
  o.executor = &executor;
  o.controller.session_timeout_ms = 300;
  o.heartbeat_interval_ms = 50;
  o.controller_tick_interval_ms = 20;
  o.replica.fetch_max_wait_ms = 50;
  o.replica.fetch_backoff_ms = 10;
  o.topic_defaults.log.segment_index_bytes = 64 << 10;
  o.topic_defaults.log.durability = Durability::kEveryAppend;
  auto opened = Cluster::Open(o);
  REQUIRE(opened.ok());
  Cluster& cluster = **opened;
  NewTopic topic(1, 3);
  topic.config.min_insync_replicas = 2;
  REQUIRE(cluster.CreateTopic("orders", topic).ok());
  const TopicPartition tp("orders", 0);
  const BrokerId first_leader = MetadataOf(cluster, tp).leader;

  struct Acked {
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, Offset> offsets;
    int outstanding = 0;
  } acked;
  std::atomic<bool> stop{false};
  auto producer = [&](int thread) {
    for (int i = 0; !stop.load(); ++i) {
      const std::string value = "t" + std::to_string(thread) + "-" + std::to_string(i);
      std::vector<std::byte> batch = MakeBatch({value});
      {
        std::lock_guard lock(acked.mu);
        ++acked.outstanding;
      }
      cluster.Produce(tp, batch, Acks::kAll, 2'000,
                      [&acked, value](absl::StatusOr<AppendResult> r) {
                        std::lock_guard lock(acked.mu);
                        if (r.ok()) acked.offsets[value] = r->base_offset;
                        --acked.outstanding;
                        acked.cv.notify_all();
                      });
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };
  // Waits (generously: CI machines are loaded) until more than `n` writes
  // are acknowledged; returns how many are.
  auto wait_for_acks_above = [&](int n) {
    std::unique_lock lock(acked.mu);
    acked.cv.wait_for(lock, std::chrono::seconds(30),
                      [&] { return static_cast<int>(acked.offsets.size()) > n; });
    return static_cast<int>(acked.offsets.size());
  };
  std::thread t1(producer, 1);
  std::thread t2(producer, 2);
  const int acked_before_crash = wait_for_acks_above(4);
  const absl::Status crashed = cluster.CrashBroker(first_leader);
  const int acked_before_restart = wait_for_acks_above(acked_before_crash + 4);
  const absl::Status restarted = cluster.RestartBroker(first_leader);
  (void)wait_for_acks_above(acked_before_restart + 4);
  stop = true;
  t1.join();
  t2.join();
  {
    std::unique_lock lock(acked.mu);
    acked.cv.wait_for(lock, std::chrono::seconds(10), [&] { return acked.outstanding == 0; });
  }
  REQUIRE(crashed.ok());
  REQUIRE(restarted.ok());
  std::map<std::string, Offset> offsets;
  {
    std::lock_guard lock(acked.mu);
    REQUIRE(acked.outstanding == 0);
    offsets = acked.offsets;
  }
  const PartitionMetadata m = MetadataOf(cluster, tp);
  REQUIRE(m.leader != kNoLeader);
  const std::vector<TestRecord> records = ReplicaRecords(cluster, m.leader, tp);
  for (const auto& [value, offset] : offsets) {
    INFO(value << " acknowledged at " << offset);
    REQUIRE(offset.value() < static_cast<int64_t>(records.size()));
    CHECK(records[static_cast<size_t>(offset.value())].value == value);
  }
  // Writes were acknowledged before the crash and again after the failover.
  CHECK(acked_before_crash > 4);
  CHECK(acked_before_restart > acked_before_crash + 4);
  CHECK(static_cast<int>(offsets.size()) > acked_before_restart + 4);
  REQUIRE(cluster.Close().ok());
}

// Seeded histories over the whole Cluster: acks=all produces to two
// partitions interleaved with crashes, restarts, controlled shutdowns,
// isolations, failed segment writes and a lossy, duplicating, reordering
// network. At the end,
// healed: every acknowledged write is at its offset on its partition's
// leader, the replicas agree, and acks=all writes succeed again.
TEST_CASE(
    "seeded histories of crashes and restarts over a lossy network lose no acknowledged write") {
  // EVLOG_CLUSTER_FIRST_SEED and EVLOG_CLUSTER_SEEDS replay or extend it.
  const uint64_t first = EnvOr("EVLOG_CLUSTER_FIRST_SEED", 1);
  const uint64_t seeds = EnvOr("EVLOG_CLUSTER_SEEDS", 40);
  uint64_t acknowledged = 0;
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    INFO("replay: EVLOG_CLUSTER_FIRST_SEED=" << seed << " EVLOG_CLUSTER_SEEDS=1");
    Env env;
    std::mt19937_64 rng(seed);
    NetworkFaults faults;
    faults.max_delay_ms = 10;
    faults.drop_probability = 0.02;
    faults.duplicate_probability = 0.02;
    env.network.SetFaults(faults);
    auto cluster = env.Open();
    NewTopic topic(2, 3);
    topic.config.min_insync_replicas = 2;
    REQUIRE(cluster->CreateTopic("orders", topic).ok());
    struct Write {
      TopicPartition tp;
      std::string value;
      ProduceOutcome outcome;
    };
    std::vector<Write> writes;
    int next = 0;
    for (int step = 0; step < 80; ++step) {
      const int dice = static_cast<int>(rng() % 100);
      const BrokerId victim(1 + static_cast<int32_t>(rng() % 3));
      int down = 0;
      for (int b = 1; b <= 3; ++b) down += cluster->IsRunning(BrokerId(b)) ? 0 : 1;
      if (dice < 55) {
        const TopicPartition tp("orders", static_cast<int32_t>(rng() % 2));
        const std::string value = "v" + std::to_string(next++);
        writes.push_back({tp, value, Produce(*cluster, tp, {value})});
      } else if (dice < 62) {
        if (cluster->IsRunning(victim) && down < 2) REQUIRE(cluster->CrashBroker(victim).ok());
      } else if (dice < 66) {
        if (cluster->IsRunning(victim) && down == 0) REQUIRE(cluster->StopBroker(victim).ok());
      } else if (dice < 78) {
        if (!cluster->IsRunning(victim)) REQUIRE(cluster->RestartBroker(victim).ok());
      } else if (dice < 83) {
        env.network.Isolate(victim);
      } else if (dice < 90) {
        env.network.HealAll();
      } else if (dice < 93) {
        env.disks[static_cast<size_t>(victim.value() - 1)]->AddFault(
            FaultRule(FsOp::kWriteAt).PathContains(".log"));
      }
      env.Run(static_cast<int64_t>(rng() % 400));
    }
    env.network.HealAll();
    env.network.SetFaults(NetworkFaults{});
    for (auto& d : env.disks) d->ClearFaults();
    for (int b = 1; b <= 3; ++b) {
      if (!cluster->IsRunning(BrokerId(b))) REQUIRE(cluster->RestartBroker(BrokerId(b)).ok());
    }
    env.Run(kSessionTimeoutMs + 3 * kLagTimeMs);
    for (int p = 0; p < 2; ++p) {
      const TopicPartition tp("orders", p);
      const PartitionMetadata m = MetadataOf(*cluster, tp);
      REQUIRE(m.leader != kNoLeader);
      CHECK(m.isr.size() == 3);
      const std::vector<TestRecord> records = ReplicaRecords(*cluster, m.leader, tp);
      for (const Write& w : writes) {
        if (w.tp != tp || !w.outcome->has_value() || !w.outcome->value().ok()) continue;
        const Offset offset = w.outcome->value()->base_offset;
        INFO(w.value << " acknowledged at " << tp.ToString() << " offset " << offset);
        REQUIRE(offset.value() < static_cast<int64_t>(records.size()));
        CHECK(records[static_cast<size_t>(offset.value())].value == w.value);
      }
      std::set<std::string> seen;
      for (const TestRecord& r : records) CHECK(seen.insert(r.value.value_or("")).second);
      for (int b = 1; b <= 3; ++b) {
        INFO("broker " << b << " against leader " << m.leader);
        CHECK(ReplicaRecords(*cluster, BrokerId(b), tp) == records);
      }
      ProduceOutcome after = Produce(*cluster, tp, {"after"});
      env.Run(500);
      REQUIRE(after->has_value());
      INFO(after->value().status());
      CHECK(after->value().ok());
    }
    for (const Write& w : writes) {
      REQUIRE(w.outcome->has_value());  // every produce got an answer
      acknowledged += w.outcome->value().ok() ? 1 : 0;
    }
  }
  // Most histories leave writes acknowledged (a few have two brokers down
  // most of the time, below min.insync.replicas).
  CHECK(acknowledged > seeds * 5);
}

TEST_CASE("cluster options are validated") {
  Env env;
  ClusterOptions o = env.Options();
  o.brokers = 0;
  CHECK(HasErrorCode(Cluster::Open(o).status(), ErrorCode::kInvalidConfig));
  o = env.Options();
  o.racks = {"a"};
  CHECK(HasErrorCode(Cluster::Open(o).status(), ErrorCode::kInvalidConfig));
  o = env.Options();
  o.heartbeat_interval_ms = o.controller.session_timeout_ms;
  CHECK(HasErrorCode(Cluster::Open(o).status(), ErrorCode::kInvalidConfig));
}

}  // namespace
}  // namespace evlog
