// Cluster failover benchmarks: how long a partition cannot take acks=all
// writes after its leader's broker loses power.
//
//   build/<dir>/bench/evlog_cluster_bench
//
// Three brokers, one topic of one partition with replication factor 3 and
// min.insync.replicas 2. Each iteration builds a cluster, commits one
// acks=all batch, crashes the leader's broker, and then keeps producing
// acks=all batches until one is acknowledged; the failover time is from
// the crash to that acknowledgement. It is dominated by the controller's
// session timeout (the crash is noticed only when the broker's session
// expires), then by metadata propagation and the followers' first fetch
// from the new leader.
//
//   BM_FailoverSimulated/S  ManualClock and ManualExecutor on in-memory
//                           disks, session timeout S ms (9000 is Kafka's
//                           default), heartbeats every S/4.5 ms (Kafka's
//                           2000 of 9000): counter failover_ms in simulated
//                           time, and retries (produces refused meanwhile).
//                           Deterministic: the same figures on any machine.
//   BM_FailoverRealTime/S   SystemClock, a ThreadPoolExecutor of 2 threads
//                           and real files, session timeout S ms: the
//                           reported time is the failover time (manual
//                           time), also as counter failover_ms.
//
// And the Producer's throughput against a Cluster, to show what batches in
// flight buy when acks=all waits for followers:
//
//   BM_ProducerOnCluster/rf/in_flight/batch_kib/partitions  3 brokers on
//                           real files (Durability::kNone), a
//                           ThreadPoolExecutor of 2 threads; a topic of
//                           `partitions` partitions with replication factor
//                           rf (one: every record there; more: the default
//                           sticky partitioner's choice); the Producer's
//                           defaults (acks=all,
//                           idempotent, linger 5 ms) with max_in_flight =
//                           in_flight and batch_size = batch_kib KiB (16 is
//                           the default, the Java client's; librdkafka's is
//                           about 1 MB); 20,000 records of 100 B per
//                           iteration, then Flush.

#include <benchmark/benchmark.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "evlog/broker/cluster.h"
#include "evlog/client/producer.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"

namespace evlog {
namespace {

using bench::Must;

const TopicPartition kTp("failover", 0);
// Between produce attempts while the partition has no usable leader.
constexpr int64_t kRetryBackoffMs = 5;
// Attempts before an iteration gives up (a broken build, not a slow one).
constexpr int kMaxAttempts = 100'000;

std::vector<std::byte> MakeBatchBytes() {
  std::vector<std::byte> buffer(4096);
  RecordBatchBuilder builder(MutableByteView(buffer), RecordBatchOptions{});
  const std::string value(100, 'v');
  Must(builder.Append(1'000, AsBytes(std::string_view("key")), AsBytes(value)),
       "RecordBatchBuilder::Append");
  MutableByteView batch = Must(builder.Finish(), "RecordBatchBuilder::Finish");
  return std::vector<std::byte>(batch.begin(), batch.end());
}

ClusterOptions FailoverOptions(int64_t session_timeout_ms) {
  ClusterOptions o;
  o.brokers = 3;
  o.controller.session_timeout_ms = session_timeout_ms;
  o.heartbeat_interval_ms = std::max<int64_t>(1, session_timeout_ms * 2 / 9);
  o.controller_tick_interval_ms = std::max<int64_t>(1, session_timeout_ms / 18);
  o.replica.fetch_max_wait_ms = 100;
  o.replica.fetch_backoff_ms = 20;
  o.topic_defaults.log.segment_index_bytes = 64 << 10;
  return o;
}

void CreateTopic(Cluster& cluster) {
  NewTopic topic(1, 3);
  topic.config.min_insync_replicas = 2;
  Must(cluster.CreateTopic(kTp.topic, topic).status(), "Cluster::CreateTopic");
}

void BM_FailoverSimulated(benchmark::State& state) {
  const int64_t session_timeout_ms = state.range(0);
  const std::vector<std::byte> batch_template = MakeBatchBytes();
  double failover_ms_total = 0;
  double retries_total = 0;
  for (auto _ : state) {
    ManualClock clock(1'700'000'000'000);
    ManualExecutor executor(clock);
    MemFileSystem disk;
    ClusterOptions o = FailoverOptions(session_timeout_ms);
    o.data_dir = "/cluster";
    o.file_system = &disk;
    o.clock = &clock;
    o.executor = &executor;
    o.in_memory_metadata = true;
    auto cluster = Must(Cluster::Open(o), "Cluster::Open");
    CreateTopic(*cluster);
    auto produce = [&]() {
      auto outcome = std::make_shared<std::optional<absl::Status>>();
      std::vector<std::byte> batch = batch_template;
      cluster->Produce(kTp, batch, Acks::kAll, 30'000,
                       [outcome](absl::StatusOr<AppendResult> r) { *outcome = r.status(); });
      return outcome;
    };
    auto first = produce();
    while (!first->has_value()) executor.AdvanceMs(1);
    Must(**first, "the first acks=all produce");

    const BrokerId leader = Must(cluster->Metadata(kTp), "Metadata").leader;
    const int64_t crash_ns = clock.MonotonicNs();
    Must(cluster->CrashBroker(leader), "CrashBroker");
    int attempts = 0;
    for (;; ++attempts) {
      if (attempts == kMaxAttempts) bench::Die("failover", absl::DeadlineExceededError("never"));
      auto outcome = produce();
      while (!outcome->has_value()) executor.AdvanceMs(1);
      if ((*outcome)->ok()) break;
      executor.AdvanceMs(kRetryBackoffMs);
    }
    failover_ms_total += static_cast<double>(clock.MonotonicNs() - crash_ns) / 1e6;
    retries_total += attempts;
    state.PauseTiming();
    Must(cluster->Close(), "Cluster::Close");
    cluster.reset();
    state.ResumeTiming();
  }
  state.counters["failover_ms"] =
      benchmark::Counter(failover_ms_total, benchmark::Counter::kAvgIterations);
  state.counters["retries"] = benchmark::Counter(retries_total, benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_FailoverSimulated)->Arg(9'000)->Arg(1'000)->Unit(benchmark::kMillisecond);

// Waits for one produce's outcome on the benchmark thread.
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::Status> status;

  absl::Status Wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return status.has_value(); });
    return *status;
  }
};

absl::Status ProduceAndWait(Cluster& cluster, const std::vector<std::byte>& batch_template) {
  auto waiter = std::make_shared<Waiter>();
  std::vector<std::byte> batch = batch_template;
  cluster.Produce(kTp, batch, Acks::kAll, 30'000, [waiter](absl::StatusOr<AppendResult> r) {
    std::lock_guard lock(waiter->mu);
    waiter->status = r.status();
    waiter->cv.notify_all();
  });
  return waiter->Wait();
}

void BM_FailoverRealTime(benchmark::State& state) {
  const int64_t session_timeout_ms = state.range(0);
  const std::vector<std::byte> batch_template = MakeBatchBytes();
  bench::TempDir dir("failover");
  double failover_ms_total = 0;
  int iteration = 0;
  for (auto _ : state) {
    ThreadPoolExecutor executor(2);
    PosixFileSystem fs;
    ClusterOptions o = FailoverOptions(session_timeout_ms);
    o.data_dir = dir.path() + "/run-" + std::to_string(iteration++);
    o.file_system = &fs;
    o.executor = &executor;
    auto cluster = Must(Cluster::Open(o), "Cluster::Open");
    CreateTopic(*cluster);
    Must(ProduceAndWait(*cluster, batch_template), "the first acks=all produce");

    const BrokerId leader = Must(cluster->Metadata(kTp), "Metadata").leader;
    const auto crash = std::chrono::steady_clock::now();
    Must(cluster->CrashBroker(leader), "CrashBroker");
    for (int attempts = 0;; ++attempts) {
      if (attempts == kMaxAttempts) bench::Die("failover", absl::DeadlineExceededError("never"));
      if (ProduceAndWait(*cluster, batch_template).ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(kRetryBackoffMs));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - crash).count();
    state.SetIterationTime(seconds);
    failover_ms_total += seconds * 1e3;
    Must(cluster->Close(), "Cluster::Close");
    cluster.reset();
  }
  state.counters["failover_ms"] =
      benchmark::Counter(failover_ms_total, benchmark::Counter::kAvgIterations);
}
void BM_ProducerOnCluster(benchmark::State& state) {
  const auto rf = static_cast<int32_t>(state.range(0));
  const auto in_flight = static_cast<int32_t>(state.range(1));
  const auto batch_kib = static_cast<int32_t>(state.range(2));
  const auto partitions = static_cast<int32_t>(state.range(3));
  constexpr int kRecords = 20'000;
  bench::TempDir dir("producer-on-cluster");
  ThreadPoolExecutor executor(2);
  PosixFileSystem fs;
  ClusterOptions o = FailoverOptions(/*session_timeout_ms=*/9'000);
  o.data_dir = dir.path();
  o.file_system = &fs;
  o.executor = &executor;
  o.replica.fetch_max_wait_ms = 500;
  o.replica.fetch_backoff_ms = 1;
  auto cluster = Must(Cluster::Open(o), "Cluster::Open");
  NewTopic topic(partitions, rf);
  topic.config.min_insync_replicas = std::min(rf, 2);
  Must(cluster->CreateTopic("throughput", topic).status(), "Cluster::CreateTopic");
  ProducerOptions po;
  po.max_in_flight = in_flight;
  po.batch_size = batch_kib * 1024;
  auto producer = Must(Producer::Create(*cluster, po), "Producer::Create");
  const std::string value(100, 'v');
  uint64_t failed = 0;
  for (auto _ : state) {
    for (int i = 0; i < kRecords; ++i) {
      ProducerRecord record("throughput", value);
      // One partition: every record there. More: the default (sticky)
      // partitioner's choice, a batch at a time, as for unkeyed records.
      if (partitions == 1) record.partition = PartitionId(0);
      Must(producer->Send(record,
                          [&failed](const absl::StatusOr<RecordMetadata>& m) {
                            if (!m.ok()) ++failed;
                          }),
           "Send");
    }
    Must(producer->Flush(), "Flush");
  }
  if (failed > 0) bench::Die("produce", absl::InternalError("records failed"));
  state.SetItemsProcessed(state.iterations() * kRecords);
  state.SetBytesProcessed(state.iterations() * kRecords * static_cast<int64_t>(value.size()));
  Must(producer->Close(), "Producer::Close");
  Must(cluster->Close(), "Cluster::Close");
}
BENCHMARK(BM_ProducerOnCluster)
    ->ArgNames({"rf", "in_flight", "batch_kib", "partitions"})
    ->Args({1, 1, 16, 1})
    ->Args({1, 5, 16, 1})
    ->Args({3, 1, 16, 1})
    ->Args({3, 5, 16, 1})
    ->Args({1, 5, 256, 1})
    ->Args({3, 5, 256, 1})
    ->Args({1, 5, 16, 6})
    ->Args({3, 5, 16, 6})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_FailoverRealTime)
    ->Arg(1'000)
    ->Arg(300)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace evlog
