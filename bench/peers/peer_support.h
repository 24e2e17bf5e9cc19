// What the peer benchmarks (bench/peers/*_bench.cc) share: the workload
// (keyed records of a given value size), evlog's side of the storage
// workloads (a SegmentedLog on disk), and the two benchmark templates that
// run the same workload against evlog and against a peer store, so that
// every ratio comes from one run of one executable.
//
// The workload, on both sides:
//   keys    8-byte big-endian sequence numbers 0, 1, 2, ... (sorted, so a
//           key-ordered store appends at its end, its best case)
//   values  `value_bytes` bytes of a pseudo-random pool (incompressible),
//           a different window per record
//   append  `batch` records per call: one evlog RecordBatch, one RocksDB
//           WriteBatch, one SQLite transaction
//   read    every record back in key order, touching each key and value
// Item counts are records; byte counts are key + value bytes, the same on
// both sides, so bytes/s compare directly.
//
// A Store (the template parameter) is a class with
//   static constexpr const char* kName;             // "evlog", "rocksdb", ...
//   Store(const std::string& dir, bool sync);        // opens a fresh store in dir
//   void Append(const Workload&, uint64_t first, size_t count);  // one batch
//   ReadTotals ReadAll(const Workload&);             // every record, in key order
// `sync` true: the batch is on disk (fdatasync/fsync) before Append
// returns; false: it is in the page cache (survives a crash of the
// process, not of the machine). Each Store's header comment says how.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_support.h"
#include "evlog/bytes.h"
#include "evlog/io/clock.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/storage/log_config.h"
#include "evlog/storage/segmented_log.h"
#include "evlog/types.h"

namespace evlog::bench::peers {

constexpr size_t kKeyBytes = 8;
// Record timestamps (evlog stores one per record; the peers store none).
constexpr int64_t kTimestampMs = 1'700'000'000'000;
// Batch sizes of the append rows, value sizes of every row.
inline const std::vector<int64_t> kBatchRecords = {1, 10, 100, 1000};
inline const std::vector<int64_t> kValueBytes = {100, 1024};

using Key = std::array<std::byte, kKeyBytes>;

// Records of one value size. Values are windows into a pool of random
// bytes made once, so neither side pays for making them.
class Workload {
 public:
  explicit Workload(size_t value_bytes) : value_bytes_(value_bytes) {
    std::mt19937_64 rng(42);
    pool_.resize(kPoolBytes + value_bytes);
    for (size_t i = 0; i < pool_.size(); i += sizeof(uint64_t)) {
      const uint64_t word = rng();
      std::memcpy(pool_.data() + i, &word, std::min(sizeof(word), pool_.size() - i));
    }
  }

  static Key KeyOf(uint64_t n) {
    Key key;
    for (size_t i = 0; i < kKeyBytes; ++i) {
      key[i] = static_cast<std::byte>(n >> (8 * (kKeyBytes - 1 - i)));
    }
    return key;
  }
  ByteView value(uint64_t n) const {
    return ByteView(pool_.data() + (n * 61) % kPoolBytes, value_bytes_);
  }
  size_t value_bytes() const { return value_bytes_; }
  size_t record_bytes() const { return kKeyBytes + value_bytes_; }

 private:
  static constexpr size_t kPoolBytes = size_t{1} << 20;
  size_t value_bytes_;
  std::vector<std::byte> pool_;
};

// What a full read saw: every side returns the same for the same records.
struct ReadTotals {
  uint64_t records = 0;
  uint64_t bytes = 0;     // key + value bytes
  uint64_t checksum = 0;  // sum of each value's first byte: the bytes were read
};

inline void Touch(ReadTotals& totals, size_t key_bytes, const std::byte* value,
                  size_t value_bytes) {
  ++totals.records;
  totals.bytes += key_bytes + value_bytes;
  totals.checksum += value_bytes == 0 ? 0 : static_cast<uint8_t>(value[0]);
}

// Records the read benchmarks store and read back; a smoke run (CTest,
// --benchmark_min_time below 0.05) uses fewer.
inline uint64_t ReadRecords(size_t value_bytes) {
  if (SmokeRun()) return 2'000;
  return value_bytes <= 100 ? 200'000 : 50'000;
}

// --- evlog's side: a SegmentedLog on disk --------------------------------------

// A SegmentedLog<PosixFileSystem> in `dir`, 1 GiB segments, no retention.
// Each Append encodes `count` records with RecordBatchBuilder into a reused
// buffer and appends the batch as trusted (built in this process, as the
// embedded producer does). sync false: Durability::kNone, one pwrite(2) per
// batch into the page cache; sync true: Durability::kEveryAppend, Append
// returns after the segment's fdatasync(2). ReadAll reads 1 MiB at a time
// with CRC-32C checks (LogReadOptions::verify) and decodes every record.
class EvlogStore {
 public:
  static constexpr const char* kName = "evlog";

  EvlogStore(const std::string& dir, bool sync) {
    LogConfig config;
    config.segment_bytes = uint64_t{1} << 30;
    config.retention_ms = -1;
    config.max_message_bytes = 4u << 20;  // room for 1,000 x 1 KiB
    config.durability = sync ? Durability::kEveryAppend : Durability::kNone;
    log_ = Must(Log::Open(fs_, clock_, dir + "/log", config), "SegmentedLog::Open");
  }
  ~EvlogStore() { Must(log_->Close(), "SegmentedLog::Close"); }
  EvlogStore(const EvlogStore&) = delete;
  EvlogStore& operator=(const EvlogStore&) = delete;

  void Append(const Workload& workload, uint64_t first, size_t count) {
    const size_t capacity =
        record_format::kRecordBatchOverhead + count * (workload.record_bytes() + 32);
    if (buffer_.size() < capacity) buffer_.resize(capacity);
    RecordBatchBuilder builder(MutableByteView(buffer_), RecordBatchOptions{});
    for (uint64_t n = first; n < first + count; ++n) {
      const Key key = Workload::KeyOf(n);
      Must(builder.Append(kTimestampMs + static_cast<int64_t>(n), ByteView(key), workload.value(n)),
           "RecordBatchBuilder::Append");
    }
    MutableByteView batch = Must(builder.Finish(), "RecordBatchBuilder::Finish");
    AppendOptions trusted;
    trusted.trusted = true;
    Must(log_->Append(batch, trusted).status(), "SegmentedLog::Append");
  }

  ReadTotals ReadAll(const Workload& /*workload*/) {
    ReadTotals totals;
    LogReadOptions options;
    options.max_bytes = size_t{1} << 20;
    options.verify = true;
    Offset offset = log_->log_start_offset();
    for (;;) {
      const LogReadResult read = Must(log_->Read(offset, read_buffer_, options), "Read");
      if (read.batches.empty()) break;
      for (ByteView rest = read.batches; !rest.empty();) {
        const RecordBatchView batch = Must(RecordBatchView::Parse(rest), "Parse");
        RecordIterator records = Must(batch.Records(), "Records");
        for (; records.Valid(); records.Next()) {
          const RecordView& r = records.record();
          Touch(totals, r.key ? r.key->size() : 0, r.value ? r.value->data() : nullptr,
                r.value ? r.value->size() : 0);
        }
        Must(records.status(), "RecordIterator");
        rest = rest.subspan(batch.size_bytes());
      }
      offset = read.next_offset;
    }
    return totals;
  }

 private:
  using Log = SegmentedLog<PosixFileSystem, SystemClock>;
  PosixFileSystem fs_;
  SystemClock clock_;
  std::unique_ptr<Log> log_;
  std::vector<std::byte> buffer_;
  std::vector<std::byte> read_buffer_;
};

// --- The benchmarks, the same for every store ------------------------------------

inline void SetRecordCounters(benchmark::State& state, uint64_t records, const Workload& workload) {
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.SetBytesProcessed(static_cast<int64_t>(records * workload.record_bytes()));
}

// Appends one batch per iteration to a store opened (in a fresh directory)
// before the timed loop. Args: value bytes, records per batch, sync.
template <typename Store>
void BM_Append(benchmark::State& state) {
  const Workload workload(static_cast<size_t>(state.range(0)));
  const auto batch = static_cast<size_t>(state.range(1));
  const bool sync = state.range(2) != 0;
  TempDir dir(Store::kName);
  uint64_t n = 0;
  {
    Store store(dir.path(), sync);
    // One untimed batch first: files a store creates lazily (evlog's
    // segment, index and checkpoint files; 5-15 ms each on the reference
    // VM's ext4) exist before the clock starts, as after RocksDB's Open.
    store.Append(workload, n, batch);
    n += batch;
    for (auto _ : state) {
      store.Append(workload, n, batch);
      n += batch;
    }
  }  // closing the store is after the timed loop: not part of the rate
  SetRecordCounters(state, n - batch, workload);
}

// Reads every record of a store filled (before the timed loop, in batches
// of 1,000, sync off) with ReadRecords(value bytes) records, once per
// iteration. Arg: value bytes.
template <typename Store>
void BM_Read(benchmark::State& state) {
  const Workload workload(static_cast<size_t>(state.range(0)));
  const uint64_t records = ReadRecords(workload.value_bytes());
  TempDir dir(Store::kName);
  Store store(dir.path(), /*sync=*/false);
  constexpr size_t kFillBatch = 1'000;
  for (uint64_t n = 0; n < records; n += kFillBatch) {
    store.Append(workload, n, std::min<uint64_t>(kFillBatch, records - n));
  }
  uint64_t read = 0;
  for (auto _ : state) {
    const ReadTotals totals = store.ReadAll(workload);
    if (totals.records != records || totals.bytes != records * workload.record_bytes()) {
      state.SkipWithError("the read returned other records than were written");
      break;
    }
    benchmark::DoNotOptimize(totals.checksum);
    read += totals.records;
  }
  SetRecordCounters(state, read, workload);
  state.counters["stored_records"] = static_cast<double>(records);
}

inline double PercentileUs(std::vector<int64_t>& ns, double p) {
  if (ns.empty()) return 0;
  const auto k = static_cast<size_t>(p * static_cast<double>(ns.size() - 1));
  std::nth_element(ns.begin(), ns.begin() + static_cast<ptrdiff_t>(k), ns.end());
  return static_cast<double>(ns[k]) / 1e3;
}

// The latency of one Append of a single record (what a caller waiting for
// its record sees), each call timed on its own. Counters p50_us, p99_us,
// p999_us, max_us. Args: value bytes, sync.
template <typename Store>
void BM_AppendLatency(benchmark::State& state) {
  const Workload workload(static_cast<size_t>(state.range(0)));
  const bool sync = state.range(1) != 0;
  TempDir dir(Store::kName);
  std::vector<int64_t> ns;
  uint64_t n = 0;
  {
    Store store(dir.path(), sync);
    store.Append(workload, n++, 1);  // untimed, as in BM_Append
    for (auto _ : state) {
      const auto start = std::chrono::steady_clock::now();
      store.Append(workload, n++, 1);
      const auto end = std::chrono::steady_clock::now();
      ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
    }
  }
  SetRecordCounters(state, n - 1, workload);
  state.counters["p50_us"] = PercentileUs(ns, 0.50);
  state.counters["p99_us"] = PercentileUs(ns, 0.99);
  state.counters["p999_us"] = PercentileUs(ns, 0.999);
  state.counters["max_us"] = PercentileUs(ns, 1.0);
}

// Registers BM_Append<EvlogStore> and BM_Append<Peer> over every value
// size, batch size and sync setting, then BM_AppendLatency and BM_Read of
// both, each evlog row
// right before the peer's row with the same arguments, so that the two
// sides of a ratio run seconds apart on a shared, noisy machine.
template <typename Peer>
void RegisterStorePairs(const char* peer_class) {
  const std::string append_peer = std::string("BM_Append<") + peer_class + ">";
  const std::string read_peer = std::string("BM_Read<") + peer_class + ">";
  for (int64_t value : kValueBytes) {
    for (int64_t sync : {0, 1}) {
      for (int64_t batch : kBatchRecords) {
        benchmark::RegisterBenchmark("BM_Append<EvlogStore>", BM_Append<EvlogStore>)
            ->ArgNames({"value", "batch", "sync"})
            ->Args({value, batch, sync})
            ->UseRealTime();
        benchmark::RegisterBenchmark(append_peer.c_str(), BM_Append<Peer>)
            ->ArgNames({"value", "batch", "sync"})
            ->Args({value, batch, sync})
            ->UseRealTime();
      }
    }
  }
  const std::string latency_peer = std::string("BM_AppendLatency<") + peer_class + ">";
  for (int64_t value : kValueBytes) {
    for (int64_t sync : {0, 1}) {
      benchmark::RegisterBenchmark("BM_AppendLatency<EvlogStore>", BM_AppendLatency<EvlogStore>)
          ->ArgNames({"value", "sync"})
          ->Args({value, sync})
          ->UseRealTime();
      benchmark::RegisterBenchmark(latency_peer.c_str(), BM_AppendLatency<Peer>)
          ->ArgNames({"value", "sync"})
          ->Args({value, sync})
          ->UseRealTime();
    }
  }
  for (int64_t value : kValueBytes) {
    benchmark::RegisterBenchmark("BM_Read<EvlogStore>", BM_Read<EvlogStore>)
        ->ArgNames({"value"})
        ->Arg(value)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(read_peer.c_str(), BM_Read<Peer>)
        ->ArgNames({"value"})
        ->Arg(value)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace evlog::bench::peers
