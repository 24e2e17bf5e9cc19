// tests/support/cluster_env.h — a Cluster the test drives by hand: every
// broker on its own in-memory disk (a FaultyFileSystem, so a crash loses
// unsynced writes), a manual clock and executor, and a perfect in-process
// network the test can partition. Short timeouts, so failovers take about a
// simulated second. Reopenable: the disks outlive the clusters opened on
// them.
#pragma once

#include <memory>
#include <vector>

#include "evlog/broker/cluster.h"
#include "evlog/io/executor.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/transport/in_process_transport.h"
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

}  // namespace evlog::testing
