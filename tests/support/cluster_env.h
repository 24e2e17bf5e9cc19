// tests/support/cluster_env.h — a Cluster the test drives by hand, and the
// helpers of the seeded cluster tests and simulators. ClusterEnv: every
// broker on its own in-memory disk (a FaultyFileSystem, so a crash loses
// unsynced writes), a manual clock and executor, and a perfect in-process
// network the test can partition. Short timeouts, so failovers take about a
// simulated second. Reopenable: the disks outlive the clusters opened on
// them.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "evlog/broker/cluster.h"
#include "evlog/io/executor.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/transport/in_process_transport.h"
#include "tests/support/batches.h"
#include "tests/support/catch.h"

namespace evlog::testing {

struct ClusterEnv {
  static constexpr int64_t kSessionTimeoutMs = 1'000;
  static constexpr int64_t kLagTimeMs = 1'000;

  // `seed` seeds the network (with `faults`: its delays, losses, copies).
  explicit ClusterEnv(int brokers = 3, uint64_t seed = 7, NetworkFaults faults = {})
      : brokers(brokers), network(executor, clock, seed, faults) {
    for (int i = 0; i < brokers; ++i) {
      mems.push_back(std::make_unique<MemFileSystem>());
      disks.push_back(std::make_unique<FaultyFileSystem>(*mems.back()));
    }
  }

  ClusterOptions Options() {
    ClusterOptions o;
    o.brokers = brokers;
    o.data_dir = "/cluster";
    o.file_system = &controller_disk;
    for (auto& d : disks) o.broker_file_systems.push_back(d.get());
    o.clock = &clock;
    o.executor = &executor;
    o.transport = &network;
    o.controller.session_timeout_ms = kSessionTimeoutMs;
    o.controller.leader_imbalance_check_interval_ms = 2'000;
    o.heartbeat_interval_ms = 100;
    o.controller_tick_interval_ms = 50;
    o.replica.replica_lag_time_max_ms = kLagTimeMs;
    o.replica.fetch_max_wait_ms = 100;
    o.replica.fetch_backoff_ms = 50;
    o.replica.fetch_timeout_ms = 500;
    // Often, so that restarts in tests and simulators start from recent
    // high-watermark checkpoints.
    o.high_watermark_checkpoint_interval_ms = 1'000;
    // In memory a preallocated index costs its full size: keep them small.
    o.topic_defaults.log.segment_index_bytes = 64 << 10;
    // acks=all survives the loss of every in-sync replica's power only when
    // each append is synced (Kafka leaves this to replication by default).
    o.topic_defaults.log.durability = Durability::kEveryAppend;
    return o;
  }

  std::unique_ptr<Cluster> Open() { return Open(Options()); }
  std::unique_ptr<Cluster> Open(ClusterOptions o) {
    auto cluster = Cluster::Open(std::move(o));
    INFO(cluster.status());
    REQUIRE(cluster.ok());
    return *std::move(cluster);
  }

  // Runs what is due, then moves the clock `ms` on (running what falls due).
  void Run(int64_t ms) {
    executor.RunReady();
    executor.AdvanceMs(ms);
  }

  // Runs in steps of `step_ms` until `done()` or `limit_ms` have passed;
  // returns done().
  template <typename Pred>
  bool RunUntil(Pred done, int64_t limit_ms, int64_t step_ms = 10) {
    for (int64_t t = 0; t < limit_ms && !done(); t += step_ms) Run(step_ms);
    executor.RunReady();
    return done();
  }

  int brokers;
  ManualClock clock{1'700'000'000'000};
  ManualExecutor executor{clock};
  InProcessTransport network;
  MemFileSystem controller_disk;
  std::vector<std::unique_ptr<MemFileSystem>> mems;
  std::vector<std::unique_ptr<FaultyFileSystem>> disks;
};

// The unsigned integer in environment variable `name`, or `fallback` when
// unset or empty (seed ranges and counts of the seeded tests).
inline uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// Runs `run(seed, steps)` for the seeds the simulators' variables name
// (EVLOG_SIM_FIRST_SEED, EVLOG_SIM_SEEDS: default 2,000, EVLOG_SIM_STEPS:
// default 60), each failure saying how to replay it.
template <typename Run>
void ForEachSimSeed(Run run) {
  const uint64_t first = EnvOr("EVLOG_SIM_FIRST_SEED", 1);
  const uint64_t seeds = EnvOr("EVLOG_SIM_SEEDS", 2'000);
  const int steps = static_cast<int>(EnvOr("EVLOG_SIM_STEPS", 60));
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    INFO("replay: EVLOG_SIM_FIRST_SEED=" << seed << " EVLOG_SIM_SEEDS=1");
    run(seed, steps);
  }
}

// Every record of broker `id`'s replica of `tp`, up to its log end (past
// the high watermark).
inline std::vector<TestRecord> ReplicaRecords(Cluster& cluster, BrokerId id,
                                              const TopicPartition& tp) {
  auto log = cluster.ReplicaLog(id, tp);
  REQUIRE(log.ok());
  std::vector<TestRecord> out;
  Offset at = (*log)->log_start_offset();
  std::vector<std::byte> buffer;
  while (at < (*log)->log_end_offset()) {
    auto read = (*log)->ReadReplica(at, buffer);
    REQUIRE(read.ok());
    if (read->batches.empty()) break;
    for (TestRecord& r : DecodeAll(read->batches)) out.push_back(r);
    at = read->next_offset;
  }
  return out;
}

}  // namespace evlog::testing
