// Client benchmarks (issue 4): a Producer and a Consumer on a Broker in the
// same process, beside the raw SegmentedLog append they are judged against,
// so that BENCHMARKS.md can give ratios measured in one run.
//
//   build/h4/bench/evlog_client_bench --benchmark_filter=Throughput
//
// Rows:
//   BM_ClientThroughput/partitions:<p>/value:<B>/linger:<ms>/producers:<n>/consume:<0|1>
//       n producer threads (the benchmark's own, and n-1 started once per
//       run) send kRecordsPerIteration records between them (16-byte keys,
//       murmur2-partitioned) per iteration, then Flush(); with consume:1 a
//       Consumer thread (Assign all partitions, SeekToBeginning, Poll(100),
//       default options) reads them back concurrently, and the iteration ends when it
//       has all of them.
//   BM_RawLogAppend/value:<B>      baseline: RecordBatchBuilder batches of up
//       to 16 KiB (the producer's batch_size) + trusted SegmentedLog::Append,
//       as BM_LogAppend in storage_bench.cc
//   BM_EndToEndLatency/rate:<records/s>/consumer:<0|1|2>
//       a paced sender (linger_ms 0, 100-byte values) and a consumer thread
//       that parks in Poll at once (consumer:0, adaptive_spin_us 0), runs
//       with the default options (consumer:1: parks, or spins up to 50 µs
//       while records come that close together) or busy-polls
//       (consumer:2, poll_spin_us 10 s); the
//       latency of a record is from its *intended* send time (so a late
//       sender counts against it: no coordinated omission) to the return of
//       the Poll that handed it out. Counters p50_us, p99_us, p999_us,
//       max_us; send_p50_us, send_p99_us, send_p999_us are measured from
//       the actual Send() call, and call_p50_us, call_p99_us are how long
//       that call took.
//   BM_HandoffBaseline/rate:<records/s>/receiver:<0|2>
//       baseline for the latency rows: the same paced sender hands each
//       stamp to a thread with no log between them, through a DataWaiter
//       (receiver:0, parked, as a partition wakes a consumer) or an atomic
//       the receiver spins on (receiver:2); same counters.
//
// Item counts are records; byte counts are key + value bytes (the same for
// the client rows and the baseline, so bytes/s compare directly).
//
// Everything lives in fresh directories under $TMPDIR (or /tmp), removed at
// the end; every topic runs with durability none (page cache only), as the
// baseline's log. A smoke run (--benchmark_min_time below 0.05, as the
// CTest smoke test) uses fewer records per iteration (see SmokeRun).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench_support.h"
#include "evlog/broker/broker.h"
#include "evlog/bytes.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/io/clock.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/partition/partition.h"
#include "evlog/partition/topic_config.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/storage/log_config.h"
#include "evlog/storage/segmented_log.h"
#include "evlog/types.h"

namespace evlog {
namespace {

using bench::Die;
using bench::Must;
using bench::SmokeRun;
using bench::TempDir;

constexpr int64_t kTimestampMs = 1'700'000'000'000;
constexpr size_t kKeyBytes = 16;
// The producer's default batch_size, and the baseline's batch size.
constexpr size_t kBatchBytes = 16384;
// The baseline's log starts again past this size (untimed).
constexpr uint64_t kRotateBytes = uint64_t{256} << 20;

// --- Helpers ---------------------------------------------------------------------

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// --- Records ---------------------------------------------------------------------

// Keys and values that differ from record to record, generated up front so
// that neither the client nor the baseline pays for making them.
class RecordSource {
 public:
  explicit RecordSource(size_t value_bytes) : value_bytes_(value_bytes) {
    std::mt19937_64 rng(42);
    keys_.resize(kKeys * kKeyBytes);
    for (size_t i = 0; i < kKeys; ++i) {
      const std::string key = absl::StrFormat("user-%011d", rng() % 100'000'000'000ULL);
      std::memcpy(keys_.data() + i * kKeyBytes, key.data(), kKeyBytes);
    }
    values_.resize(kValuePoolBytes + value_bytes);
    for (std::byte& b : values_) b = static_cast<std::byte>('a' + rng() % 26);
  }

  ByteView key(uint64_t i) const {
    return ByteView(keys_.data() + (i % kKeys) * kKeyBytes, kKeyBytes);
  }
  ByteView value(uint64_t i) const {
    return ByteView(values_.data() + (i * 61) % kValuePoolBytes, value_bytes_);
  }
  size_t value_bytes() const { return value_bytes_; }
  size_t user_bytes() const { return kKeyBytes + value_bytes_; }

 private:
  static constexpr size_t kKeys = 1024;
  static constexpr size_t kValuePoolBytes = 64 << 10;
  size_t value_bytes_;
  std::vector<std::byte> keys_;
  std::vector<std::byte> values_;
};

void SetRecordCounters(benchmark::State& state, int64_t records, const RecordSource& source) {
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(records * static_cast<int64_t>(source.user_bytes()));
}

// --- The broker ------------------------------------------------------------------

// One broker per process in a scratch directory (durability none, no
// retention), opened on first use.
struct SharedBroker {
  SharedBroker() {
    BrokerOptions options;
    options.data_dir = dir.Sub("broker");
    options.file_system = &fs;
    options.topic_defaults.log.durability = Durability::kNone;
    options.topic_defaults.log.retention_ms = -1;
    broker = Must(Broker::Open(std::move(options)), "Broker::Open");
  }
  ~SharedBroker() { Must(broker->Close(), "Broker::Close"); }

  TempDir dir{"broker"};
  PosixFileSystem fs;
  std::unique_ptr<Broker> broker;
  int next_topic = 0;
};

SharedBroker& TheBroker() {
  static SharedBroker shared;
  return shared;
}

// A topic made for one benchmark run and deleted after it, so that every run
// starts from empty logs.
class ScratchTopic {
 public:
  explicit ScratchTopic(int32_t partitions) : broker_(*TheBroker().broker) {
    name_ = absl::StrFormat("bench-%d", TheBroker().next_topic++);
    Must(broker_.CreateTopic(name_, NewTopic(partitions)), "CreateTopic");
    for (int32_t p = 0; p < partitions; ++p) {
      partitions_.push_back(TopicPartition{name_, PartitionId(p)});
    }
    // One null record per partition, so that the first timed append does
    // not pay for creating the segment files (10-16 ms per file on the
    // reference VM's ext4). Consumers read these too: they have no value.
    auto producer = Must(Producer::Create(broker_), "Producer::Create");
    for (int32_t p = 0; p < partitions; ++p) {
      ProducerRecord record(name_, std::nullopt, std::nullopt);
      Must(producer->SendSync(record.WithPartition(p)).status(), "SendSync");
    }
    Must(producer->Close(), "Producer::Close");
  }
  ~ScratchTopic() { Must(broker_.DeleteTopic(name_), "DeleteTopic"); }
  ScratchTopic(const ScratchTopic&) = delete;
  ScratchTopic& operator=(const ScratchTopic&) = delete;

  Broker& broker() { return broker_; }
  const std::string& name() const { return name_; }
  const std::vector<TopicPartition>& partitions() const { return partitions_; }

 private:
  Broker& broker_;
  std::string name_;
  std::vector<TopicPartition> partitions_;
};

// A consumer of every partition of `topic` from the beginning.
std::unique_ptr<Consumer> ConsumerOf(ScratchTopic& topic, ConsumerOptions options) {
  auto consumer = Must(Consumer::Create(topic.broker(), std::move(options)), "Consumer::Create");
  Must(consumer->Assign(topic.partitions()), "Assign");
  Must(consumer->SeekToBeginning(), "SeekToBeginning");
  return consumer;
}

// --- 1. Throughput -----------------------------------------------------------------

size_t RecordsPerIteration() { return SmokeRun() ? 1'000 : 10'000; }

void SendRange(Producer& producer, const std::string& topic, const RecordSource& source,
               uint64_t first, uint64_t count) {
  for (uint64_t n = first; n < first + count; ++n) {
    const ProducerRecord record(topic, std::optional<ByteView>(source.key(n)),
                                std::optional<ByteView>(source.value(n)));
    Must(producer.Send(record, SendCallback()), "Send");
  }
}

// Producer threads besides the benchmark's own, started once per run: an
// iteration hands each its share and waits for all of them, so that the
// rows with two producers do not also time a thread's creation per
// iteration (tens of µs on the reference VM, against ~1 ms of sending).
class SenderThreads {
 public:
  SenderThreads(Producer& producer, const std::string& topic, const RecordSource& source,
                uint64_t helpers) {
    for (uint64_t t = 0; t < helpers; ++t) {
      threads_.emplace_back([this, &producer, &topic, &source, t] {
        for (uint64_t seen = 0;;) {
          const uint64_t round = AwaitChange(round_, seen);
          seen = round;
          if (stop_.load()) return;
          SendRange(producer, topic, source, first_ + (t + 1) * share_, share_);
          if (pending_.fetch_sub(1) == 1) pending_.notify_all();
        }
      });
    }
  }
  ~SenderThreads() {
    stop_.store(true);
    round_.fetch_add(1);
    round_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  // The helpers send [first + share, first + (helpers + 1) * share) in
  // shares, while the caller sends [first, first + share) itself.
  void Start(uint64_t first, uint64_t share) {
    first_ = first;
    share_ = share;
    pending_.store(threads_.size());
    round_.fetch_add(1);
    round_.notify_all();
  }
  void Wait() {
    for (uint64_t left = pending_.load(); left != 0; left = pending_.load()) pending_.wait(left);
  }

 private:
  // Spins a little before parking: the next round usually starts within
  // the Flush that ends this one.
  static uint64_t AwaitChange(std::atomic<uint64_t>& value, uint64_t old) {
    for (int i = 0; i < 20'000; ++i) {
      if (const uint64_t now = value.load(); now != old) return now;
    }
    for (uint64_t now = value.load();; now = value.load()) {
      if (now != old) return now;
      value.wait(now);
    }
  }

  std::vector<std::thread> threads_;
  std::atomic<uint64_t> round_{0};
  std::atomic<uint64_t> pending_{0};
  std::atomic<bool> stop_{false};
  // Written before round_ moves, read after: the atomic orders them.
  uint64_t first_ = 0;
  uint64_t share_ = 0;
};

// A consumer thread that Polls (parked, 100 ms timeout) until stopped and
// publishes how many records it has read.
class ConsumerThread {
 public:
  explicit ConsumerThread(std::unique_ptr<Consumer> consumer)
      : consumer_(std::move(consumer)), thread_([this] { Run(); }) {}
  ~ConsumerThread() {
    stop_.store(true);
    consumer_->Wakeup();
    thread_.join();
  }

  // Blocks until at least `records` have been read in all.
  void WaitFor(uint64_t records) {
    for (uint64_t seen = consumed_.load(); seen < records; seen = consumed_.load()) {
      consumed_.wait(seen);
    }
  }
  uint64_t value_bytes() const { return value_bytes_.load(); }

 private:
  void Run() {
    uint64_t consumed = 0;
    uint64_t value_bytes = 0;
    while (!stop_.load()) {
      absl::StatusOr<ConsumerRecords> records = consumer_->Poll(100);
      if (!records.ok()) {
        if (stop_.load()) break;
        Die("Poll", records.status());
      }
      for (const ConsumerRecord& r : *records) value_bytes += r.value ? r.value->size() : 0;
      if (records->empty()) continue;
      consumed += records->size();
      value_bytes_.store(value_bytes, std::memory_order_relaxed);
      consumed_.store(consumed);
      consumed_.notify_all();
    }
  }

  std::unique_ptr<Consumer> consumer_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> value_bytes_{0};
  std::thread thread_;
};

// Args: partitions, value bytes, linger_ms, producer threads, consume.
void BM_ClientThroughput(benchmark::State& state) {
  const auto partitions = static_cast<int32_t>(state.range(0));
  const RecordSource source(static_cast<size_t>(state.range(1)));
  const int64_t linger_ms = state.range(2);
  const auto threads = static_cast<uint64_t>(state.range(3));
  const bool consume = state.range(4) != 0;
  const uint64_t per_iteration = RecordsPerIteration();

  ScratchTopic topic(partitions);
  ProducerOptions producer_options;
  producer_options.linger_ms = linger_ms;
  auto producer = Must(Producer::Create(topic.broker(), producer_options), "Producer::Create");
  std::unique_ptr<ConsumerThread> consumer;
  if (consume) consumer = std::make_unique<ConsumerThread>(ConsumerOf(topic, ConsumerOptions{}));

  SenderThreads helpers(*producer, topic.name(), source, threads - 1);
  uint64_t sent = 0;
  for (auto _ : state) {
    const uint64_t share = per_iteration / threads;
    helpers.Start(sent, share);
    SendRange(*producer, topic.name(), source, sent, share);
    helpers.Wait();
    Must(producer->Flush(), "Flush");
    sent += share * threads;
    if (consumer != nullptr) consumer->WaitFor(sent + static_cast<uint64_t>(partitions));
  }

  const ProducerMetrics metrics = producer->metrics();
  if (metrics.record_errors != 0 || metrics.records_sent != sent) {
    state.SkipWithError("records were lost");
  }
  if (consumer != nullptr && consumer->value_bytes() != sent * source.value_bytes()) {
    state.SkipWithError("the consumer read other bytes than were sent");
  }
  SetRecordCounters(state, static_cast<int64_t>(sent), source);
  state.counters["records_per_batch"] =
      metrics.batches_sent == 0
          ? 0.0
          : static_cast<double>(metrics.records_sent) / static_cast<double>(metrics.batches_sent);
  consumer.reset();
  Must(producer->Close(), "Producer::Close");
}

BENCHMARK(BM_ClientThroughput)
    ->ArgNames({"partitions", "value", "linger", "producers", "consume"})
    ->ArgsProduct({{1, 8}, {100, 1024}, {0, 5}, {1, 2}, {0, 1}})
    ->UseRealTime();

// --- Baseline: raw SegmentedLog append ----------------------------------------------

using PosixLog = SegmentedLog<PosixFileSystem, SystemClock>;

// The producer's work without the client: RecordBatchBuilder batches of up
// to 16 KiB (as full as the producer's at batch_size 16384) appended as
// trusted batches, durability none, 1 GiB segments; the directory starts
// again every 256 MiB (untimed). Arg: value bytes.
void BM_RawLogAppend(benchmark::State& state) {
  const RecordSource source(static_cast<size_t>(state.range(0)));
  TempDir dir("raw");
  PosixFileSystem fs;
  SystemClock clock;
  LogConfig config;
  config.segment_bytes = uint64_t{1} << 30;
  config.durability = Durability::kNone;
  config.retention_ms = -1;
  const std::string path = dir.Sub("log");
  auto log = Must(PosixLog::Open(fs, clock, path, config), "Open");
  std::vector<std::byte> buffer(kBatchBytes);
  // What the producer reserves per record and checks against batch_size.
  const size_t record_bytes =
      RecordBatchBuilder::EncodedRecordSize(0, 0, source.key(0), source.value(0));
  AppendOptions trusted;
  trusted.trusted = true;
  uint64_t n = 0;
  uint64_t log_bytes = 0;
  size_t batch_records = 0;
  for (auto _ : state) {
    RecordBatchBuilder builder(MutableByteView(buffer), RecordBatchOptions{});
    batch_records = 0;
    // Fill the batch as the producer does: a record joins while the batch
    // stays within batch_size by its reserved size.
    while (batch_records == 0 || builder.size_bytes() + record_bytes <= kBatchBytes) {
      const int64_t ts = kTimestampMs + static_cast<int64_t>(n);
      if (!builder.Append(ts, source.key(n), source.value(n)).ok()) break;
      ++n;
      ++batch_records;
    }
    MutableByteView batch = Must(builder.Finish(), "Finish");
    if (!log->Append(batch, trusted).ok()) state.SkipWithError("Append failed");
    log_bytes += batch.size();
    if (log_bytes >= kRotateBytes) {
      state.PauseTiming();
      Must(log->Close(), "Close");
      log.reset();
      std::filesystem::remove_all(path);
      log = Must(PosixLog::Open(fs, clock, path, config), "Open");
      log_bytes = 0;
      state.ResumeTiming();
    }
  }
  Must(log->Close(), "Close");
  SetRecordCounters(state, static_cast<int64_t>(n), source);
  state.counters["records_per_batch"] = static_cast<double>(batch_records);
}

BENCHMARK(BM_RawLogAppend)->ArgName("value")->Arg(100)->Arg(1024)->UseRealTime();

// --- 2. End-to-end latency ------------------------------------------------------------

// The first bytes of a latency record's value.
struct Stamp {
  uint64_t seq;
  int64_t intended_ns;
  int64_t sent_ns;
};
constexpr size_t kLatencyValueBytes = 100;

double PercentileUs(std::vector<int64_t>& ns, double p) {
  if (ns.empty()) return 0;
  const auto k = static_cast<size_t>(p * static_cast<double>(ns.size() - 1));
  std::nth_element(ns.begin(), ns.begin() + static_cast<ptrdiff_t>(k), ns.end());
  return static_cast<double>(ns[k]) / 1e3;
}

// What the latency rows and their baseline share: a sender paced at `rate`
// that stamps each record with its intended and actual send time, and the
// arrival times a receiver notes. One iteration sends warm-up + measured
// records and waits for the receiver to have them all; manual time is that
// whole span.
class PacedLatency {
 public:
  explicit PacedLatency(int64_t rate)
      : rate_(rate),
        warmup_(SmokeRun() ? 100 : static_cast<uint64_t>(rate / 10)),  // 0.1 s
        measured_(SmokeRun() ? 1'000 : (rate <= 10'000 ? 30'000 : 200'000)),
        interval_ns_(1'000'000'000 / rate),
        from_intended_(measured_),
        from_send_(measured_),
        call_(measured_) {}

  uint64_t total() const { return warmup_ + measured_; }

  // Sends total() stamps through `send` at the offered rate (spinning
  // between them, so that a send is never late for want of a wake-up),
  // after `receiver` has started; returns when `receiver` does.
  template <typename Send, typename Receive>
  void RunIteration(benchmark::State& state, Send send, Receive receiver) {
    std::thread receiving(receiver);
    const int64_t start = SteadyNs() + 1'000'000;  // the receiver has 1 ms to start waiting
    for (uint64_t i = 0; i < total(); ++i) {
      Stamp stamp;
      stamp.seq = i;
      stamp.intended_ns = start + static_cast<int64_t>(i) * interval_ns_;
      int64_t now = SteadyNs();
      while (now < stamp.intended_ns) now = SteadyNs();
      stamp.sent_ns = now;
      send(stamp);
      if (i >= warmup_) call_[i - warmup_] = SteadyNs() - now;
    }
    receiving.join();
    state.SetIterationTime(static_cast<double>(SteadyNs() - start) / 1e9);
    sent_ += total();
  }

  // For the receiver: `stamp` was handed out at `now_ns`.
  void Arrived(const Stamp& stamp, int64_t now_ns) {
    if (stamp.seq < warmup_) return;
    from_intended_[stamp.seq - warmup_] = now_ns - stamp.intended_ns;
    from_send_[stamp.seq - warmup_] = now_ns - stamp.sent_ns;
  }

  void Report(benchmark::State& state, size_t bytes_per_record) {
    state.SetItemsProcessed(static_cast<int64_t>(sent_));
    state.SetBytesProcessed(static_cast<int64_t>(sent_ * bytes_per_record));
    state.counters["p50_us"] = PercentileUs(from_intended_, 0.50);
    state.counters["p99_us"] = PercentileUs(from_intended_, 0.99);
    state.counters["p999_us"] = PercentileUs(from_intended_, 0.999);
    state.counters["max_us"] = PercentileUs(from_intended_, 1.0);
    state.counters["send_p50_us"] = PercentileUs(from_send_, 0.50);
    state.counters["send_p99_us"] = PercentileUs(from_send_, 0.99);
    state.counters["send_p999_us"] = PercentileUs(from_send_, 0.999);
    // How long the sending call itself took. With linger 0 it appends on
    // the caller's thread, and goes on after the record is readable (it
    // wakes the readers and writes filler ahead), so this bounds the
    // producer's share of the latency from Send() from above.
    state.counters["call_p50_us"] = PercentileUs(call_, 0.50);
    state.counters["call_p99_us"] = PercentileUs(call_, 0.99);
    state.counters["offered_per_s"] = static_cast<double>(rate_);
  }

 private:
  const int64_t rate_;
  const uint64_t warmup_;
  const uint64_t measured_;
  const int64_t interval_ns_;
  std::vector<int64_t> from_intended_;
  std::vector<int64_t> from_send_;
  std::vector<int64_t> call_;
  uint64_t sent_ = 0;
};

// Args: offered records/s, consumer mode (0 park, 1 default, 2 busy-poll).
void BM_EndToEndLatency(benchmark::State& state) {
  const int64_t mode = state.range(1);
  PacedLatency latency(state.range(0));
  const RecordSource keys(0);

  ScratchTopic topic(1);
  ProducerOptions producer_options;
  producer_options.linger_ms = 0;
  auto producer = Must(Producer::Create(topic.broker(), producer_options), "Producer::Create");
  ConsumerOptions consumer_options;
  if (mode == 0) consumer_options.adaptive_spin_us = 0;
  if (mode == 2) consumer_options.poll_spin_us = 10'000'000;
  auto consumer = ConsumerOf(topic, consumer_options);

  std::vector<std::byte> value(kLatencyValueBytes);
  for (auto _ : state) {
    latency.RunIteration(
        state,
        [&](const Stamp& stamp) {
          std::memcpy(value.data(), &stamp, sizeof(stamp));
          const ProducerRecord record(topic.name(), std::optional<ByteView>(keys.key(stamp.seq)),
                                      std::optional<ByteView>(ByteView(value)));
          Must(producer->Send(record, SendCallback()), "Send");
        },
        [&] {
          for (uint64_t got = 0; got < latency.total();) {
            absl::StatusOr<ConsumerRecords> records = consumer->Poll(1000);
            const int64_t now = SteadyNs();
            if (!records.ok()) Die("Poll", records.status());
            for (const ConsumerRecord& r : *records) {
              if (!r.value) continue;  // ScratchTopic's warm-up record
              Stamp stamp;
              std::memcpy(&stamp, r.value->data(), sizeof(stamp));
              latency.Arrived(stamp, now);
              ++got;
            }
          }
        });
  }
  latency.Report(state, kKeyBytes + kLatencyValueBytes);
  Must(consumer->Close(), "Consumer::Close");
  Must(producer->Close(), "Producer::Close");
}

BENCHMARK(BM_EndToEndLatency)
    ->ArgNames({"rate", "consumer"})
    ->ArgsProduct({{10'000, 100'000}, {0, 1, 2}})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The machine's own floor under the latency rows, in the same run: the same
// paced sender hands each stamp to a receiver thread with no log between
// them, through a DataWaiter as a partition wakes a parked consumer
// (receiver:0) or through one atomic the receiver spins on (receiver:2).
// Args: offered records/s, receiver mode.
void BM_HandoffBaseline(benchmark::State& state) {
  const bool spin = state.range(1) == 2;
  PacedLatency latency(state.range(0));
  std::vector<Stamp> slots(latency.total());
  std::atomic<uint64_t> published{0};
  DataWaiter waiter;
  for (auto _ : state) {
    published.store(0);
    latency.RunIteration(
        state,
        [&](const Stamp& stamp) {
          slots[stamp.seq] = stamp;
          // seq_cst, with the waiter's: either the receiver sees the stamp
          // after Prepare(), or Wake() sees it asleep.
          published.store(stamp.seq + 1);
          if (!spin) waiter.Wake();
        },
        [&] {
          for (uint64_t got = 0; got < latency.total();) {
            uint64_t ready = published.load(std::memory_order_acquire);
            if (ready == got && !spin) {
              const DataWaiter::Ticket ticket = waiter.Prepare();
              ready = published.load();
              if (ready == got) {
                waiter.Wait(ticket, SteadyNs() + 1'000'000'000);
                continue;
              }
              waiter.Cancel();
            }
            if (ready == got) continue;
            const int64_t now = SteadyNs();
            for (; got < ready; ++got) latency.Arrived(slots[got], now);
          }
        });
  }
  latency.Report(state, sizeof(Stamp));
}

BENCHMARK(BM_HandoffBaseline)
    ->ArgNames({"rate", "receiver"})
    ->ArgsProduct({{10'000, 100'000}, {0, 2}})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace evlog
