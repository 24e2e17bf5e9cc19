// Replication micro-benchmarks: what a replicated append costs next to an
// unreplicated one, in one process.
//
//   build/<dir>/bench/evlog_replication_bench
//   build/<dir>/bench/evlog_replication_bench --benchmark_filter=Throughput
//
// Every broker keeps its replica of one partition in its own directory
// (real files, Durability::kNone as Kafka's default page-cache durability),
// the brokers talk over an InProcessTransport without faults, and timers
// and messages run on a ThreadPoolExecutor. Batches hold 64 records of
// 100 B values.
//
//   BM_PartitionAppend            the baseline: Partition::Append, no
//                                 replica set, the same batches
//   BM_ReplicatedThroughput/RF/A  ReplicaSet::Append with replication factor
//                                 RF and acks A (0 = leader, 1 = all), up to
//                                 32 appends in flight
//   BM_ReplicatedLatency/RF       acks=all, one append at a time: the time to
//                                 the acknowledgement, with p50/p99 counters
//                                 in microseconds
//
// Read throughput as the ratio of BM_ReplicatedThroughput to
// BM_PartitionAppend from the same run (BENCHMARKS.md).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench_support.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/partition/partition.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/replication/replica_set.h"
#include "evlog/transport/in_process_transport.h"

namespace evlog {
namespace {

using bench::Must;

constexpr size_t kRecords = 64;
constexpr size_t kValueBytes = 100;
constexpr int kMaxInFlight = 32;
const TopicPartition kTp("bench", 0);

std::vector<std::byte> MakeBatchBytes() {
  std::vector<std::byte> buffer(record_format::kRecordBatchOverhead +
                                kRecords * (kValueBytes + 64));
  std::string value(kValueBytes, 'v');
  RecordBatchBuilder builder(MutableByteView(buffer), RecordBatchOptions{});
  for (size_t i = 0; i < kRecords; ++i) {
    const std::string key = "key-" + std::to_string(i);
    Must(builder.Append(1'000 + static_cast<int64_t>(i), AsBytes(key), AsBytes(value)),
         "RecordBatchBuilder::Append");
  }
  MutableByteView batch = Must(builder.Finish(), "RecordBatchBuilder::Finish");
  return std::vector<std::byte>(batch.begin(), batch.end());
}

LogConfig BenchLogConfig() {
  LogConfig config;
  config.durability = Durability::kNone;
  config.retention_ms = -1;
  return config;
}

std::unique_ptr<Partition> OpenPartition(FileSystem& fs, Clock& clock, const std::string& dir) {
  auto log = Must(PartitionLog::Open(fs, clock, dir, BenchLogConfig()), "PartitionLog::Open");
  return std::make_unique<Partition>(kTp.topic, kTp.partition, std::move(log), TopicSettings{});
}

// `rf` brokers, broker 1 leading, every one in the ISR.
class ReplicatedPartition {
 public:
  explicit ReplicatedPartition(int rf, const std::string& dir)
      : executor_(2), transport_(executor_, clock_, /*seed=*/1, NetworkFaults{}) {
    PartitionState leadership;
    for (int i = 1; i <= rf; ++i) leadership.replicas.push_back(BrokerId(i));
    leadership.isr = leadership.replicas;
    leadership.leader = BrokerId(1);
    leadership.leader_epoch = LeaderEpoch(0);
    leadership.partition_epoch = 0;
    ReplicaSetOptions options;
    options.min_insync_replicas = std::min(rf, 2);
    options.fetch_max_wait_ms = 500;
    for (int i = 1; i <= rf; ++i) {
      Node& node = nodes_.emplace_back();
      node.id = BrokerId(i);
      node.partition = OpenPartition(fs_, clock_, dir + "/broker-" + std::to_string(i));
      node.replica = std::make_unique<ReplicaSet<>>(
          BrokerId(i), kTp, *node.partition, transport_, executor_, clock_,
          // The ISR never changes here: followers keep up.
          [](IsrChange, absl::AnyInvocable<void(absl::StatusOr<PartitionState>)> done) {
            done(absl::UnavailableError("no controller in this benchmark"));
          },
          options);
      ReplicaSet<>* replica = node.replica.get();
      Must(transport_.Listen(BrokerId(i),
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
                             }),
           "Listen");
    }
    for (Node& node : nodes_) Must(node.replica->Update(leadership), "Update");
  }

  ~ReplicatedPartition() {
    for (Node& node : nodes_) transport_.Unlisten(node.id);
    for (Node& node : nodes_) node.replica->Close();
    for (Node& node : nodes_) (void)node.partition->Close();
  }

  ReplicaSet<>& leader() { return *nodes_.front().replica; }

 private:
  struct Node {
    BrokerId id;
    std::unique_ptr<Partition> partition;
    std::unique_ptr<ReplicaSet<>> replica;
  };
  PosixFileSystem fs_;
  SystemClock clock_;
  ThreadPoolExecutor executor_;
  InProcessTransport transport_;
  std::vector<Node> nodes_;
};

// Appends waiting for their acknowledgement, bounded.
class InFlight {
 public:
  void Acquire(int limit) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return count_ < limit; });
    ++count_;
  }
  void Release(bool ok) {
    std::lock_guard lock(mu_);
    --count_;
    if (!ok) ++failures_;
    cv_.notify_all();
  }
  void Drain() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return count_ == 0; });
  }
  int failures() {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
  int failures_ = 0;
};

void BM_PartitionAppend(benchmark::State& state) {
  bench::TempDir dir("append");
  PosixFileSystem fs;
  SystemClock clock;
  std::unique_ptr<Partition> partition = OpenPartition(fs, clock, dir.Sub("p"));
  const std::vector<std::byte> original = MakeBatchBytes();
  std::vector<std::byte> batch = original;
  for (auto _ : state) {
    std::copy(original.begin(), original.end(), batch.begin());
    Must(partition->Append(batch).status(), "Partition::Append");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kRecords));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(original.size()));
  Must(partition->Close(), "Close");
}
BENCHMARK(BM_PartitionAppend)->UseRealTime();

void BM_ReplicatedThroughput(benchmark::State& state) {
  const int rf = static_cast<int>(state.range(0));
  const Acks acks = state.range(1) == 0 ? Acks::kLeader : Acks::kAll;
  bench::TempDir dir("replicated");
  ReplicatedPartition cluster(rf, dir.path());
  const std::vector<std::byte> original = MakeBatchBytes();
  // One buffer per in-flight slot: the append edits the batch in place.
  std::vector<std::vector<std::byte>> buffers(kMaxInFlight, original);
  InFlight in_flight;
  size_t slot = 0;
  for (auto _ : state) {
    in_flight.Acquire(kMaxInFlight);
    std::vector<std::byte>& batch = buffers[slot++ % kMaxInFlight];
    std::copy(original.begin(), original.end(), batch.begin());
    cluster.leader().Append(batch, acks, 30'000, [&in_flight](absl::StatusOr<AppendResult> r) {
      in_flight.Release(r.ok());
    });
  }
  in_flight.Drain();
  if (in_flight.failures() > 0) state.SkipWithError("appends failed");
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kRecords));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(original.size()));
}
BENCHMARK(BM_ReplicatedThroughput)
    ->ArgNames({"rf", "acks_all"})
    ->Args({1, 1})
    ->Args({3, 0})
    ->Args({3, 1})
    ->UseRealTime();

void BM_ReplicatedLatency(benchmark::State& state) {
  const int rf = static_cast<int>(state.range(0));
  bench::TempDir dir("latency");
  ReplicatedPartition cluster(rf, dir.path());
  const std::vector<std::byte> original = MakeBatchBytes();
  std::vector<std::byte> batch = original;
  std::vector<int64_t> latencies_ns;
  std::mutex mu;
  std::condition_variable cv;
  for (auto _ : state) {
    std::copy(original.begin(), original.end(), batch.begin());
    bool done = false;
    bool ok = false;
    const auto start = std::chrono::steady_clock::now();
    cluster.leader().Append(batch, Acks::kAll, 30'000, [&](absl::StatusOr<AppendResult> r) {
      std::lock_guard lock(mu);
      done = true;
      ok = r.ok();
      cv.notify_all();
    });
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
    latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count());
    if (!ok) {
      state.SkipWithError("append failed");
      break;
    }
  }
  std::sort(latencies_ns.begin(), latencies_ns.end());
  auto percentile = [&](double p) {
    if (latencies_ns.empty()) return 0.0;
    const size_t i = std::min(latencies_ns.size() - 1,
                              static_cast<size_t>(p * static_cast<double>(latencies_ns.size())));
    return static_cast<double>(latencies_ns[i]) / 1e3;
  };
  state.counters["p50_us"] = percentile(0.50);
  state.counters["p99_us"] = percentile(0.99);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kRecords));
}
BENCHMARK(BM_ReplicatedLatency)->ArgName("rf")->Arg(1)->Arg(3)->UseRealTime();

}  // namespace
}  // namespace evlog

BENCHMARK_MAIN();
