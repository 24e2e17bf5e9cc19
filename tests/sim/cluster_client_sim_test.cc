// The client simulator: a Producer and Consumers, unchanged, against a
// three-broker Cluster (evlog/broker/cluster.h) on one ManualExecutor and
// ManualClock, its network seeded to delay, lose and copy messages. Each
// seed drives a random history of sends (keyed and to explicit partitions)
// and polls, interleaved with faults: broker crashes (each broker's disk
// keeps only what was synced) and restarts, isolations and heals, clock
// jumps past every timeout. The producer retries what fails retriably, as
// a Kafka client does, within its delivery timeout.
//
// Checked after every poll: per partition, offsets only go forward, and a
// record read twice has the same value. Checked at the end, once the
// faults heal and every send has its outcome:
//   * liveness: a send then succeeds;
//   * no lost acknowledged write: every acknowledged record is in the log
//     at the partition and offset it was acknowledged with;
//   * the running consumer read each partition's log exactly, in order,
//     without gaps (its positions survived every failover) and nothing it
//     read was rewritten;
//   * order: per partition, acknowledged records first appear in the
//     order they were sent (with idempotence, up to five batches in flight
//     and retries in order behind a failed one; without, one in flight);
//   * every replica of each partition holds the same records.
//   * with a group member (half the seeds: the cluster's group
//     coordinator, its offsets in the replicated `__consumer_offsets`),
//     committing what it read now and then: an acknowledged commit is
//     what the coordinator answers from then on, no commit is for more
//     than the member read, every acknowledged commit survives the faults,
//     and a store loaded afresh from the offsets topic's leaders holds
//     exactly what the coordinator holds;
//   * with idempotence (three seeds in four), no record is in the log
//     twice: a retry after a lost acknowledgement is recognised by its
//     producer id and sequence. Without it duplicates are allowed, as in
//     Kafka (seed 1 has some).
//
// A failing seed is printed; EVLOG_SIM_FIRST_SEED=<seed> EVLOG_SIM_SEEDS=1
// replays it. EVLOG_SIM_SEEDS and EVLOG_SIM_STEPS as in the replication
// simulator (the same CTest shards run both).
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "evlog/broker/cluster.h"
#include "evlog/broker/coordinator_log.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/group/offset_store.h"
#include "evlog/status.h"
#include "tests/support/batches.h"
#include "tests/support/catch.h"
#include "tests/support/cluster_env.h"

namespace evlog {
namespace {

using testing::ClusterEnv;
using testing::ReplicaRecords;
using testing::TestRecord;

constexpr int kBrokers = 3;
constexpr int kPartitions = 2;
const char* const kTopic = "orders";

NetworkFaults Faults() {
  NetworkFaults f;
  f.max_delay_ms = 15;
  f.drop_probability = 0.03;
  f.duplicate_probability = 0.03;
  return f;
}

// Whether every partition has a running leader, a full ISR, and every
// replica holds all the leader has, all of it committed.
bool Settled(Cluster& cluster) {
  for (int p = 0; p < kPartitions; ++p) {
    const TopicPartition tp(kTopic, p);
    absl::StatusOr<PartitionMetadata> m = cluster.Metadata(tp);
    if (!m.ok() || m->isr.size() != kBrokers || !cluster.Leader(tp).ok()) return false;
    const absl::StatusOr<ReplicaStatus> leader = cluster.ReplicaState(m->leader, tp);
    if (!leader.ok() || leader->high_watermark != leader->log_end_offset) return false;
    for (int id = 1; id <= kBrokers; ++id) {
      const absl::StatusOr<ReplicaStatus> r = cluster.ReplicaState(BrokerId(id), tp);
      if (!r.ok() || r->log_end_offset != leader->log_end_offset) return false;
    }
  }
  return true;
}

struct Sent {
  std::string value;
  PartitionId partition;  // -1: the partitioner's
  std::shared_ptr<std::optional<absl::StatusOr<RecordMetadata>>> outcome;
};

void RunSeed(uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  ClusterEnv env(kBrokers, seed, Faults());
  ClusterOptions options = env.Options();
  options.transport_seed = seed;
  options.controller.default_min_insync_replicas = 2;
  auto cluster = env.Open(options);
  REQUIRE(cluster->CreateTopic(kTopic, NewTopic(kPartitions, kBrokers)).ok());

  ProducerOptions po;
  po.linger_ms = static_cast<int64_t>(rng() % 3);
  po.retry_backoff_ms = 50;
  po.request_timeout_ms = 1'000;
  po.delivery_timeout_ms = 8'000;
  po.partitioner_seed = seed;
  const bool idempotent = rng() % 4 != 0;
  po.enable_idempotence = idempotent;
  // Without idempotence a retry may overtake the batches behind it, which
  // the order check below would (rightly) flag: one batch in flight then.
  po.max_in_flight = idempotent ? 1 + static_cast<int32_t>(rng() % 5) : 1;
  auto producer = Producer::Create(*cluster, po);
  REQUIRE(producer.ok());
  ConsumerOptions co;
  co.auto_offset_reset = OffsetResetPolicy::kEarliest;
  co.max_poll_records = 1 + static_cast<int32_t>(rng() % 8);
  auto consumer = Consumer::Create(*cluster, co);
  REQUIRE(consumer.ok());
  std::vector<TopicPartition> all;
  for (int p = 0; p < kPartitions; ++p) all.emplace_back(kTopic, p);
  REQUIRE((*consumer)->Assign(all).ok());

  // Half the seeds also run a group member (the cluster's group
  // coordinator, offsets in the replicated `__consumer_offsets`) that
  // commits what it read now and then. Its own generator keeps the other
  // seeds' histories as they were.
  std::mt19937_64 group_rng(seed * 7919 + 13);
  const bool grouped = group_rng() % 2 == 0;
  std::unique_ptr<Consumer> member;
  if (grouped) {
    ConsumerOptions mo;
    mo.group_id = "billing";
    mo.enable_auto_commit = false;
    mo.auto_offset_reset = OffsetResetPolicy::kEarliest;
    mo.max_poll_records = 1 + static_cast<int32_t>(group_rng() % 8);
    auto made = Consumer::Create(*cluster, mo);
    INFO(made.status());
    REQUIRE(made.ok());
    member = *std::move(made);
    REQUIRE(member->Subscribe({kTopic}).ok());
  }
  // Per partition: the highest offset a commit was acknowledged for, and
  // the highest any commit carried (a failed one may still have landed).
  std::map<TopicPartition, Offset> commit_acked;
  std::map<TopicPartition, Offset> commit_tried;
  std::map<TopicPartition, Offset> member_next;  // after the last record it read
  int commits_sent = 0;
  int commits_answered = 0;
  absl::Status last_commit;
  auto MemberPoll = [&] {
    absl::StatusOr<ConsumerRecords> records = member->Poll(0);
    INFO(records.status());
    REQUIRE(records.ok());
    for (const ConsumerRecord& r : *records) {
      Offset& next = member_next[TopicPartition(kTopic, r.partition)];
      next = std::max(next, r.offset + 1);
    }
  };
  auto MemberCommit = [&] {
    ++commits_sent;
    member->CommitAsync([&](const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                            const absl::Status& status) {
      ++commits_answered;
      // An acknowledged commit is what the coordinator answers from now on
      // (or a later one).
      std::map<TopicPartition, CommittedOffset> now;
      if (status.ok()) now = (*cluster->group_coordinator())->FetchOffsets("billing");
      for (const auto& [tp, o] : offsets) {
        if (status.ok()) {
          INFO(tp.ToString() << " committed at " << o.offset);
          CHECK(now.contains(tp));
          if (now.contains(tp)) CHECK(now[tp].offset >= o.offset);
        }
        // Never more than it read.
        CHECK(o.offset <= member_next[tp]);
        commit_tried[tp] = std::max(commit_tried[tp], o.offset);
        if (status.ok()) commit_acked[tp] = std::max(commit_acked[tp], o.offset);
      }
      last_commit = status;
      if (!status.ok()) {
        // A coordinator whose log fails over, or a member caught in a
        // rebalance, commits again later.
        INFO(status);
        const ErrorCode code = GetErrorCode(status);
        CHECK((IsRetriable(code) || code == ErrorCode::kRebalanceInProgress ||
               code == ErrorCode::kIllegalGeneration || code == ErrorCode::kUnknownMemberId));
      }
    });
  };

  std::vector<Sent> sent;
  // What the running consumer read, per partition, in order.
  std::map<int32_t, std::vector<std::pair<Offset, std::string>>> read;
  int next_value = 0;
  auto Poll = [&] {
    absl::StatusOr<ConsumerRecords> records = (*consumer)->Poll(0);
    INFO(records.status());
    REQUIRE(records.ok());
    for (const ConsumerRecord& r : *records) {
      auto& mine = read[r.partition.value()];
      // Reads only go forward, one offset at a time.
      if (!mine.empty()) CHECK(r.offset > mine.back().first);
      mine.emplace_back(r.offset, std::string(r.value_string().value_or("")));
    }
  };
  auto Send = [&] {
    Sent s;
    s.value = "v" + std::to_string(next_value++);
    s.partition = PartitionId(-1);
    s.outcome = std::make_shared<std::optional<absl::StatusOr<RecordMetadata>>>();
    ProducerRecord record(kTopic, s.value, s.value);
    if (rng() % 2 == 0) {
      s.partition = PartitionId(static_cast<int32_t>(rng() % kPartitions));
      record.WithPartition(s.partition.value());
    }
    absl::Status accepted = (*producer)->Send(
        record, [outcome = s.outcome](const absl::StatusOr<RecordMetadata>& m) { *outcome = m; });
    INFO(accepted);
    REQUIRE(accepted.ok());
    sent.push_back(std::move(s));
  };
  auto Down = [&] {
    int down = 0;
    for (int id = 1; id <= kBrokers; ++id) down += cluster->IsRunning(BrokerId(id)) ? 0 : 1;
    return down;
  };

  env.Run(200);
  for (int step = 0; step < steps; ++step) {
    const int dice = static_cast<int>(rng() % 100);
    const BrokerId victim(1 + static_cast<int32_t>(rng() % kBrokers));
    if (dice < 40) {
      for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) Send();
    } else if (dice < 60) {
      Poll();
    } else if (dice < 66) {
      if (cluster->IsRunning(victim) && Down() < 2) REQUIRE(cluster->CrashBroker(victim).ok());
    } else if (dice < 76) {
      if (!cluster->IsRunning(victim)) REQUIRE(cluster->RestartBroker(victim).ok());
    } else if (dice < 81) {
      env.network.Isolate(victim);
    } else if (dice < 89) {
      env.network.HealAll();
    } else if (dice < 91) {
      env.Run(2'000);  // a clock jump past every timeout
    } else if (dice < 97 && member != nullptr) {
      MemberPoll();
      if (group_rng() % 2 == 0) MemberCommit();
    }
    env.Run(static_cast<int64_t>(rng() % 150));
  }

  // Heal, restart, and let every send reach its outcome.
  env.network.HealAll();
  env.network.SetFaults({});
  for (int id = 1; id <= kBrokers; ++id) {
    if (!cluster->IsRunning(BrokerId(id))) REQUIRE(cluster->RestartBroker(BrokerId(id)).ok());
  }
  auto all_done = [&] {
    for (const Sent& s : sent) {
      if (!s.outcome->has_value()) return false;
    }
    return true;
  };
  REQUIRE(env.RunUntil(all_done, 30'000));
  REQUIRE(env.RunUntil([&] { return Settled(*cluster); }, 10'000));
  {
    // Liveness: once healed, a send succeeds.
    Send();
    REQUIRE(env.RunUntil(all_done, 5'000));
    INFO("the send after healing: " << sent.back().outcome->value().status());
    REQUIRE(sent.back().outcome->value().ok());
  }
  REQUIRE(env.RunUntil([&] { return Settled(*cluster); }, 10'000));
  for (int i = 0; i < 1'000; ++i) Poll();

  int acknowledged = 0;
  for (int p = 0; p < kPartitions; ++p) {
    const TopicPartition tp(kTopic, p);
    const BrokerId leader = cluster->Metadata(tp)->leader;
    const std::vector<TestRecord> log = ReplicaRecords(*cluster, leader, tp);
    for (int id = 1; id <= kBrokers; ++id) {
      INFO("replica " << id << " of " << tp.ToString() << " against leader " << leader);
      CHECK(ReplicaRecords(*cluster, BrokerId(id), tp) == log);
    }
    std::map<Offset, std::string> at;
    std::map<std::string, Offset> first;
    for (const TestRecord& r : log) {
      at[r.offset] = r.value.value_or("");
      first.emplace(r.value.value_or(""), r.offset);
    }
    if (idempotent) {
      INFO(tp.ToString() << ": " << log.size() - first.size() << " records written twice");
      CHECK(first.size() == log.size());
    }
    // The running consumer read exactly the log, in order, without gaps.
    const auto& mine = read[p];
    INFO(tp.ToString() << ": consumer read " << mine.size() << " of " << log.size());
    REQUIRE(mine.size() == log.size());
    for (size_t i = 0; i < mine.size(); ++i) {
      CHECK(mine[i].first == log[i].offset);
      CHECK(mine[i].second == log[i].value.value_or(""));
    }
    Offset previous(-1);
    for (const Sent& s : sent) {
      const absl::StatusOr<RecordMetadata>& m = **s.outcome;
      if (!m.ok() || m->partition != PartitionId(p)) continue;
      ++acknowledged;
      if (s.partition.value() >= 0) CHECK(m->partition == s.partition);
      INFO("acknowledged " << s.value << " at " << m->offset);
      CHECK(at[m->offset] == s.value);  // no lost acknowledged write
      const Offset f = first[s.value];
      CHECK(f > previous);  // in the order sent
      previous = f;
    }
  }
  CHECK(acknowledged > 0);

  if (member != nullptr) {
    // A last commit once healed goes through.
    REQUIRE(env.RunUntil(
        [&] {
          MemberPoll();
          return commits_answered == commits_sent;
        },
        30'000));
    for (int attempt = 0; attempt < 10; ++attempt) {
      MemberCommit();
      REQUIRE(env.RunUntil(
          [&] {
            MemberPoll();
            return commits_answered == commits_sent;
          },
          30'000));
      if (last_commit.ok()) break;
      env.Run(500);
    }
    INFO(last_commit);
    REQUIRE(last_commit.ok());
    auto coordinator = cluster->group_coordinator();
    REQUIRE(coordinator.ok());
    const std::map<TopicPartition, CommittedOffset> committed =
        (*coordinator)->FetchOffsets("billing");
    for (const auto& [tp, acked] : commit_acked) {
      INFO(tp.ToString() << ": acknowledged commit " << acked << ", highest tried "
                         << commit_tried[tp]);
      auto it = committed.find(tp);
      REQUIRE(it != committed.end());
      // No acknowledged commit lost or moved back, nothing never sent.
      CHECK(it->second.offset >= acked);
      CHECK(it->second.offset <= commit_tried[tp]);
    }
    // What the coordinator holds is what its replicated log holds: a store
    // loaded afresh from the partitions' leaders agrees.
    std::unique_ptr<OffsetStore> reloaded;
    REQUIRE(env.RunUntil(
        [&] {
          auto opened = OffsetStore::Open(MakeCoordinatorLog(*cluster, OffsetStore::kTopic));
          if (!opened.ok()) {
            INFO(opened.status());
            CHECK(HasErrorCode(opened.status(), ErrorCode::kCoordinatorLoadInProgress));
            return false;
          }
          reloaded = *std::move(opened);
          return true;
        },
        10'000));
    CHECK(reloaded->FetchOffsets("billing") == committed);
    REQUIRE(member->Close().ok());
  }
  REQUIRE((*producer)->Close().ok());
  REQUIRE((*consumer)->Close().ok());
  REQUIRE(cluster->Close().ok());
}

TEST_CASE("client simulation: a producer and a consumer through a cluster under faults") {
  testing::ForEachSimSeed(RunSeed);
}

}  // namespace
}  // namespace evlog
