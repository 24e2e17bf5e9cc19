// Storage benchmarks (issue 3): SegmentedLog append, sequential read, group
// commit, recovery and random lookup, each beside the baseline it is judged
// against, so that BENCHMARKS.md can give ratios measured in one run.
//
//   build/bench/bench/evlog_storage_bench --benchmark_filter=Append
//
// Rows and their baselines:
//   BM_LogAppend/<records per batch>/<value bytes>   encode + Append, no fsync
//   BM_LogAppendPreEncoded/<records>/<value bytes>   Append only
//   BM_BaselineBufferedWrite/<value bytes>           length + key + value +
//       XXH3_64 per record into a 1 MiB buffer, write(2) when full
//   BM_BaselineWritePerBatch/<value bytes>           the same, write(2) every
//       256 records (evlog's write pattern; explains, is no target)
//   BM_LogReadSequential/<verify>                    Read(max_bytes = 1 MiB)
//   BM_BaselineRead                                  read(2) of the same file
//   BM_LogAppendEveryAppend/threads:<n>              Durability::kEveryAppend
//   BM_BaselineWriteFdatasync                        write(2) 100 B + fdatasync
//   BM_LogReopenClean                                Open after Close, many segments
//   BM_LogRecoverUnflushedTail                       Open after a crash
//   BM_LogLookupRandom                               Read one batch at a random offset
//
// Item counts are records (read rows: batches); byte counts are the
// producer's key + value bytes for the append rows (the same for evlog and
// the baseline, so bytes/s compare directly) and file bytes for the read and
// recovery rows.
//
// Files live in a fresh directory under $TMPDIR (or /tmp), removed at the
// end. The large logs are built once per process, on first use:
//   EVLOG_BENCH_LOG_MIB      size of the read and crash-recovery logs (256)
//   EVLOG_BENCH_LOOKUP_MIB   size of the lookup log (256; the figure
//                            uses 1024)
//   EVLOG_BENCH_SEGMENTS     segments of the clean-reopen log (10000)
//   EVLOG_BENCH_SEGMENTS_DIR where to build it (default /dev/shm; see
//                            SegmentsBase)
// A smoke run (--benchmark_min_time below 0.05) defaults to 32 MiB logs and
// 1,000 segments instead (see SmokeRun).
// The benchmarks call the OS directly only for the baselines and to set up
// the crash (fork); evlog itself is used through its public API.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

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
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench_support.h"
#include "evlog/bytes.h"
#include "evlog/io/clock.h"
#include "evlog/io/file_system.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/storage/log_config.h"
#include "evlog/storage/segmented_log.h"
#include "evlog/types.h"

namespace evlog {
namespace {

using bench::Must;
using bench::SmokeRun;
using bench::TempDir;

constexpr int64_t kTimestampMs = 1'700'000'000'000;
constexpr size_t kKeyBytes = 16;
// Files of the append rows are deleted and started again past this size, so
// a long run neither fills the disk nor measures writeback of old data.
constexpr uint64_t kRotateBytes = uint64_t{256} << 20;
// The baseline's write buffer, and the read size of both read rows.
constexpr size_t kChunkBytes = size_t{1} << 20;

// --- Settings from the environment ------------------------------------------

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return std::strtoull(value, nullptr, 10);
}

// --- A FileSystem that counts syncs (and can skip them) ---------------------

// Wraps PosixFileSystem. Counts File::Sync calls, so the group-commit row
// can report records per fdatasync; with syncs off, Sync and SyncDir return
// at once (only for building big fixtures quickly: their files are in the
// page cache, which is all a benchmark that reads them needs).
class CountingFileSystem final : public FileSystem {
 public:
  explicit CountingFileSystem(bool syncs_enabled = true) : syncs_enabled_(syncs_enabled) {}

  uint64_t syncs() const { return syncs_.load(); }

  absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, OpenMode mode) override {
    absl::StatusOr<std::unique_ptr<File>> inner = posix_.Open(path, mode);
    if (!inner.ok()) return inner.status();
    return std::unique_ptr<File>(new CountingFile(*this, *std::move(inner)));
  }
  absl::StatusOr<bool> Exists(std::string_view path) override { return posix_.Exists(path); }
  absl::Status Rename(std::string_view from, std::string_view to) override {
    return posix_.Rename(from, to);
  }
  absl::Status Remove(std::string_view path) override { return posix_.Remove(path); }
  absl::Status CreateDir(std::string_view path) override { return posix_.CreateDir(path); }
  absl::Status RemoveDir(std::string_view path) override { return posix_.RemoveDir(path); }
  absl::StatusOr<std::vector<std::string>> ListDir(std::string_view path) override {
    return posix_.ListDir(path);
  }
  absl::Status SyncDir(std::string_view path) override {
    return syncs_enabled_ ? posix_.SyncDir(path) : absl::OkStatus();
  }
  absl::StatusOr<uint64_t> FileSize(std::string_view path) override {
    return posix_.FileSize(path);
  }

 private:
  class CountingFile final : public File {
   public:
    CountingFile(CountingFileSystem& fs, std::unique_ptr<File> inner)
        : fs_(fs), inner_(std::move(inner)) {}
    absl::Status Append(ByteView data) override { return inner_->Append(data); }
    absl::Status WriteAt(uint64_t offset, ByteView data) override {
      return inner_->WriteAt(offset, data);
    }
    absl::StatusOr<size_t> ReadAt(uint64_t offset, MutableByteView out) const override {
      return inner_->ReadAt(offset, out);
    }
    absl::Status Sync() override {
      if (!fs_.syncs_enabled_) return absl::OkStatus();
      fs_.syncs_.fetch_add(1);
      return inner_->Sync();
    }
    absl::Status Truncate(uint64_t size) override { return inner_->Truncate(size); }
    absl::StatusOr<uint64_t> Size() const override { return inner_->Size(); }
    absl::StatusOr<std::unique_ptr<MappedRegion>> Map(uint64_t offset, size_t length) override {
      return inner_->Map(offset, length);
    }
    absl::Status Close() override { return inner_->Close(); }

   private:
    CountingFileSystem& fs_;
    std::unique_ptr<File> inner_;
  };

  PosixFileSystem posix_;
  const bool syncs_enabled_;
  std::atomic<uint64_t> syncs_{0};
};

// --- Records ------------------------------------------------------------------

// Keys and values that differ from record to record, generated up front so
// that neither evlog nor a baseline pays for making them.
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
  // The bytes a producer hands over per record.
  size_t user_bytes() const { return kKeyBytes + value_bytes_; }

 private:
  static constexpr size_t kKeys = 1024;
  static constexpr size_t kValuePoolBytes = 64 << 10;
  size_t value_bytes_;
  std::vector<std::byte> keys_;
  std::vector<std::byte> values_;
};

// Room for a batch of `records` records of `value_bytes`-byte values.
size_t BatchCapacity(size_t records, size_t value_bytes) {
  return record_format::kRecordBatchOverhead + records * (value_bytes + kKeyBytes + 32);
}

// Encodes records [first, first + count) of `source` into `buffer`.
MutableByteView EncodeBatch(const RecordSource& source, uint64_t first, size_t count,
                            MutableByteView buffer) {
  RecordBatchBuilder builder(buffer, RecordBatchOptions{});
  for (size_t i = 0; i < count; ++i) {
    const uint64_t n = first + i;
    Must(builder.Append(kTimestampMs + static_cast<int64_t>(n), source.key(n), source.value(n)),
         "RecordBatchBuilder::Append");
  }
  return Must(builder.Finish(), "RecordBatchBuilder::Finish");
}

using PosixLog = SegmentedLog<PosixFileSystem, SystemClock>;

LogConfig NoSyncConfig() {
  LogConfig config;
  config.segment_bytes = uint64_t{1} << 30;
  config.durability = Durability::kNone;
  config.retention_ms = -1;
  return config;
}

// Fills `log` with `bytes` of batches of 16 records of 1 KiB values.
void FillLog(PosixLog& log, uint64_t bytes) {
  const RecordSource source(1024);
  constexpr size_t kRecords = 16;
  std::vector<std::byte> buffer(BatchCapacity(kRecords, 1024));
  uint64_t written = 0;
  for (uint64_t n = 0; written < bytes; n += kRecords) {
    MutableByteView batch = EncodeBatch(source, n, kRecords, MutableByteView(buffer));
    written += batch.size();
    Must(log.Append(batch).status(), "Append");
  }
}

// --- 1. Append without fsync ---------------------------------------------------

// A log in a scratch directory that starts again, empty, once it has grown
// past kRotateBytes (outside the timed region).
class RotatingLog {
 public:
  RotatingLog() { Reopen(); }
  ~RotatingLog() {
    if (log_ != nullptr) Must(log_->Close(), "Close");
  }

  PosixLog& log() { return *log_; }

  void Account(benchmark::State& state, size_t bytes) {
    bytes_ += bytes;
    if (bytes_ < kRotateBytes) return;
    state.PauseTiming();
    Must(log_->Close(), "Close");
    log_.reset();
    std::filesystem::remove_all(path_);
    Reopen();
    state.ResumeTiming();
  }

 private:
  void Reopen() {
    path_ = dir_.Sub("log");
    log_ = Must(PosixLog::Open(fs_, clock_, path_, NoSyncConfig()), "Open");
    bytes_ = 0;
  }

  TempDir dir_{"append"};
  PosixFileSystem fs_;
  SystemClock clock_;
  std::string path_;
  std::unique_ptr<PosixLog> log_;
  uint64_t bytes_ = 0;
};

void SetAppendCounters(benchmark::State& state, size_t records_per_iteration,
                       const RecordSource& source, size_t batch_bytes) {
  const auto records = state.iterations() * static_cast<int64_t>(records_per_iteration);
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(records * static_cast<int64_t>(source.user_bytes()));
  state.counters["batch_bytes"] = static_cast<double>(batch_bytes);
}

// The producer's whole path: encode a batch into a reused buffer, append it
// as a trusted (in-process) batch.
// Args: records per batch, value bytes.
void BM_LogAppend(benchmark::State& state) {
  const auto records = static_cast<size_t>(state.range(0));
  const RecordSource source(static_cast<size_t>(state.range(1)));
  std::vector<std::byte> buffer(BatchCapacity(records, source.value_bytes()));
  RotatingLog log;
  uint64_t n = 0;
  size_t batch_bytes = 0;
  // The producer built the batch itself, in this process: the log need not
  // check its CRC and records again (BM_LogAppendPreEncoded does).
  AppendOptions trusted;
  trusted.trusted = true;
  for (auto _ : state) {
    MutableByteView batch = EncodeBatch(source, n, records, MutableByteView(buffer));
    n += records;
    batch_bytes = batch.size();
    if (!log.log().Append(batch, trusted).ok()) state.SkipWithError("Append failed");
    log.Account(state, batch_bytes);
  }
  SetAppendCounters(state, records, source, batch_bytes);
}

// Append only: the batches are encoded before the timed loop (Append
// rewrites their base offsets in place, outside the CRC, so they can be
// appended again). Args: records per batch, value bytes.
void BM_LogAppendPreEncoded(benchmark::State& state) {
  const auto records = static_cast<size_t>(state.range(0));
  const RecordSource source(static_cast<size_t>(state.range(1)));
  constexpr size_t kBatches = 16;
  const size_t capacity = BatchCapacity(records, source.value_bytes());
  std::vector<std::byte> storage(kBatches * capacity);
  std::vector<MutableByteView> batches;
  for (size_t b = 0; b < kBatches; ++b) {
    batches.push_back(EncodeBatch(source, b * records, records,
                                  MutableByteView(storage.data() + b * capacity, capacity)));
  }
  RotatingLog log;
  size_t next = 0;
  for (auto _ : state) {
    MutableByteView batch = batches[next];
    next = (next + 1) % kBatches;
    if (!log.log().Append(batch).ok()) state.SkipWithError("Append failed");
    log.Account(state, batch.size());
  }
  SetAppendCounters(state, records, source, batches[0].size());
}

// Length-prefixed records, each followed by its XXH3_64, in a buffer that
// write(2) empties when the next record does not fit (or, with
// `write_every_iteration`, after every 256 records). An iteration is 256
// records, as the largest evlog batch.
void BufferedWriteLoop(benchmark::State& state, bool write_every_iteration) {
  const RecordSource source(static_cast<size_t>(state.range(0)));
  constexpr size_t kRecords = 256;
  TempDir dir("baseline_write");
  const std::string path = dir.Sub("data");
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    state.SkipWithError("open failed");
    return;
  }
  std::vector<std::byte> buffer(kChunkBytes);
  size_t used = 0;
  uint64_t file_bytes = 0;
  uint64_t n = 0;
  auto write_out = [&] {
    if (write(fd, buffer.data(), used) != static_cast<ssize_t>(used)) {
      state.SkipWithError("write failed");
    }
    file_bytes += used;
    used = 0;
    if (file_bytes >= kRotateBytes) {
      state.PauseTiming();
      close(fd);
      unlink(path.c_str());
      fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
      file_bytes = 0;
      state.ResumeTiming();
    }
  };
  for (auto _ : state) {
    for (size_t i = 0; i < kRecords; ++i, ++n) {
      const ByteView key = source.key(n);
      const ByteView value = source.value(n);
      const auto length = static_cast<uint32_t>(key.size() + value.size());
      const size_t need = sizeof(length) + length + sizeof(uint64_t);
      if (used + need > buffer.size()) write_out();
      std::byte* record = buffer.data() + used;
      std::memcpy(record, &length, sizeof(length));
      std::memcpy(record + sizeof(length), key.data(), key.size());
      std::memcpy(record + sizeof(length) + key.size(), value.data(), value.size());
      const uint64_t checksum = XXH3_64bits(record, sizeof(length) + length);
      std::memcpy(record + sizeof(length) + length, &checksum, sizeof(checksum));
      used += need;
    }
    if (write_every_iteration) write_out();
  }
  close(fd);
  const auto records = state.iterations() * static_cast<int64_t>(kRecords);
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(records * static_cast<int64_t>(source.user_bytes()));
}

// The baseline of the append targets: 1 MiB writes. Arg: value bytes.
void BM_BaselineBufferedWrite(benchmark::State& state) {
  BufferedWriteLoop(state, /*write_every_iteration=*/false);
}

// Not a target's baseline but its explanation: the same records and
// checksums with one write(2) per 256 records, i.e. evlog's pattern of one
// write per batch without a user-space buffer (which Durability::kNone
// rules out: see BENCHMARKS.md). Arg: value bytes.
void BM_BaselineWritePerBatch(benchmark::State& state) {
  BufferedWriteLoop(state, /*write_every_iteration=*/true);
}

BENCHMARK(BM_LogAppend)->ArgsProduct({{1, 16, 256}, {100, 1024}})->UseRealTime();
BENCHMARK(BM_LogAppendPreEncoded)->ArgsProduct({{1, 16, 256}, {100, 1024}})->UseRealTime();
BENCHMARK(BM_BaselineBufferedWrite)->Arg(100)->Arg(1024)->UseRealTime();
BENCHMARK(BM_BaselineWritePerBatch)->Arg(100)->Arg(1024)->UseRealTime();

// --- Shared large logs ---------------------------------------------------------

// A log of `mib` MiB (batches of 16 x 1 KiB records) in the page cache, built
// on first use and kept open until the process exits.
struct FilledLog {
  explicit FilledLog(uint64_t mib) {
    log = Must(PosixLog::Open(fs, clock, dir.Sub("log"), NoSyncConfig()), "Open");
    FillLog(*log, mib << 20);
    // Written back before anything is timed: otherwise the first rows read
    // while the kernel is still writing the fresh 256 MiB back (taking CPU
    // and page locks), and the baseline, which runs last, does not.
    Must(log->Flush(), "Flush");
    const std::vector<Offset> bases = log->segment_base_offsets();
    segment_path = dir.Sub("log") + "/" + absl::StrFormat("%020d.log", bases.front().value());
  }

  TempDir dir{"filled"};
  PosixFileSystem fs;
  SystemClock clock;
  std::unique_ptr<PosixLog> log;
  // The first segment's file (the only one below 1 GiB).
  std::string segment_path;
};

FilledLog& SharedFilledLog(uint64_t mib) {
  static std::mutex mu;
  static std::map<uint64_t, std::unique_ptr<FilledLog>> logs;
  std::lock_guard lock(mu);
  std::unique_ptr<FilledLog>& log = logs[mib];
  if (log == nullptr) log = std::make_unique<FilledLog>(mib);
  return *log;
}

uint64_t ReadLogMib() { return EnvOr("EVLOG_BENCH_LOG_MIB", SmokeRun() ? 32 : 256); }

// --- 2. Sequential read --------------------------------------------------------

// Reads the whole log front to back, 1 MiB per Read, over and over.
// Arg: verify (CRC and offsets of every batch).
void BM_LogReadSequential(benchmark::State& state) {
  FilledLog& filled = SharedFilledLog(ReadLogMib());
  PosixLog& log = *filled.log;
  LogReadOptions options;
  options.max_bytes = kChunkBytes;
  options.verify = state.range(0) != 0;
  std::vector<std::byte> buffer;
  Offset offset = log.log_start_offset();
  int64_t bytes = 0;
  int64_t batches = 0;
  for (auto _ : state) {
    absl::StatusOr<LogReadResult> read = log.Read(offset, buffer, options);
    if (!read.ok()) {
      state.SkipWithError("Read failed");
      break;
    }
    bytes += static_cast<int64_t>(read->batches.size());
    ++batches;
    offset = read->next_offset == read->log_end_offset ? read->log_start_offset : read->next_offset;
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(batches);
  state.counters["log_mib"] = static_cast<double>(ReadLogMib());
}

// read(2) of the same segment file, 1 MiB at a time, front to back.
void BM_BaselineRead(benchmark::State& state) {
  FilledLog& filled = SharedFilledLog(ReadLogMib());
  const int fd = open(filled.segment_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    state.SkipWithError("open failed");
    return;
  }
  std::vector<std::byte> buffer(kChunkBytes);
  int64_t bytes = 0;
  for (auto _ : state) {
    ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n == 0) {
      lseek(fd, 0, SEEK_SET);
      n = read(fd, buffer.data(), buffer.size());
    }
    if (n < 0) {
      state.SkipWithError("read failed");
      break;
    }
    bytes += n;
  }
  close(fd);
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_LogReadSequential)->Arg(1)->Arg(0)->UseRealTime();
BENCHMARK(BM_BaselineRead)->UseRealTime();

// --- 3. Durable appends: group commit --------------------------------------------

// One log shared by the benchmark's threads, created by thread 0 before the
// timed loop and closed by it after (Google Benchmark holds every thread at
// a barrier at both points).
struct DurableLog {
  TempDir dir{"durable"};
  CountingFileSystem fs;
  SystemClock clock;
  std::unique_ptr<SegmentedLog<CountingFileSystem, SystemClock>> log;
  std::atomic<int64_t> records{0};
};
DurableLog* durable_log = nullptr;

// Durability::kEveryAppend, batches of one 100-byte record, one appender per
// benchmark thread.
void BM_LogAppendEveryAppend(benchmark::State& state) {
  if (state.thread_index() == 0) {
    durable_log = new DurableLog;
    LogConfig config = NoSyncConfig();
    config.durability = Durability::kEveryAppend;
    durable_log->log =
        Must(SegmentedLog<CountingFileSystem, SystemClock>::Open(
                 durable_log->fs, durable_log->clock, durable_log->dir.Sub("log"), config),
             "Open");
  }
  const RecordSource source(100);
  std::vector<std::byte> buffer(BatchCapacity(1, 100));
  uint64_t n = static_cast<uint64_t>(state.thread_index()) << 32;
  const uint64_t syncs_before = state.thread_index() == 0 ? durable_log->fs.syncs() : 0;
  for (auto _ : state) {
    MutableByteView batch = EncodeBatch(source, n++, 1, MutableByteView(buffer));
    if (!durable_log->log->Append(batch).ok()) state.SkipWithError("Append failed");
    durable_log->records.fetch_add(1, std::memory_order_relaxed);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(source.user_bytes()));
  if (state.thread_index() == 0) {
    // Counters are summed over threads: only thread 0 sets these, after the
    // barrier at the loop's end (every thread's appends are done).
    const uint64_t syncs = durable_log->fs.syncs() - syncs_before;
    const auto records = static_cast<double>(durable_log->records.load());
    state.counters["records_per_sync"] = syncs == 0 ? 0.0 : records / static_cast<double>(syncs);
    state.counters["syncs_per_second"] =
        benchmark::Counter(static_cast<double>(syncs), benchmark::Counter::kIsRate);
    Must(durable_log->log->Close(), "Close");
    delete durable_log;
    durable_log = nullptr;
  }
}

// The floor for a durable append: write(2) 100 bytes, fdatasync(2).
void BM_BaselineWriteFdatasync(benchmark::State& state) {
  TempDir dir("fdatasync");
  const std::string path = dir.Sub("data");
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    state.SkipWithError("open failed");
    return;
  }
  const std::vector<std::byte> record(100, std::byte{'x'});
  for (auto _ : state) {
    if (write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
        fdatasync(fd) != 0) {
      state.SkipWithError("write or fdatasync failed");
      break;
    }
  }
  close(fd);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(record.size()));
}

BENCHMARK(BM_LogAppendEveryAppend)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_BaselineWriteFdatasync)->UseRealTime();

// --- 4. Recovery ---------------------------------------------------------------

// Where the many-segment log lives: EVLOG_BENCH_SEGMENTS_DIR, else /dev/shm
// when present, else $TMPDIR. Not the disk by default: creating a file
// (inode allocation) takes 10-16 ms on the reference VM's ext4, so 30,000
// files would take minutes to set up, while a clean reopen only lists the
// directory and stats each .log, which both file systems serve from the
// dentry and inode caches.
std::string SegmentsBase() {
  const char* dir = std::getenv("EVLOG_BENCH_SEGMENTS_DIR");
  if (dir != nullptr && *dir != '\0') return dir;
  std::error_code ignored;
  if (std::filesystem::is_directory("/dev/shm", ignored)) return "/dev/shm";
  return TempDir::DefaultBase();
}

// A cleanly closed log of EVLOG_BENCH_SEGMENTS tiny segments (three batches
// of ten 100-byte records each). Built with syncs off: it only has to be in
// the page cache.
struct ManySegmentLog {
  ManySegmentLog() {
    config = NoSyncConfig();
    config.segment_bytes = 4096;
    config.segment_index_bytes = 1024;
    CountingFileSystem no_sync(/*syncs_enabled=*/false);
    SystemClock clock;
    auto log = Must(
        SegmentedLog<CountingFileSystem, SystemClock>::Open(no_sync, clock, dir.Sub("log"), config),
        "Open");
    const RecordSource source(100);
    std::vector<std::byte> buffer(BatchCapacity(10, 100));
    for (uint64_t n = 0; log->segment_count() < segments; n += 10) {
      Must(log->Append(EncodeBatch(source, n, 10, MutableByteView(buffer))).status(), "Append");
    }
    bytes = log->size_bytes();
    Must(log->Close(), "Close");
  }

  TempDir dir{"segments", SegmentsBase()};
  const uint64_t segments = EnvOr("EVLOG_BENCH_SEGMENTS", SmokeRun() ? 1'000 : 10'000);
  LogConfig config;
  uint64_t bytes = 0;
};

// Open (timed) and Close (not timed) of a cleanly closed log: the checkpoint
// says clean, so nothing is scanned; the cost is listing the directory and
// a stat per segment.
void BM_LogReopenClean(benchmark::State& state) {
  static ManySegmentLog fixture;
  PosixFileSystem fs;
  SystemClock clock;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto log = Must(PosixLog::Open(fs, clock, fixture.dir.Sub("log"), fixture.config), "Open");
    const auto end = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    if (log->segment_count() != fixture.segments) state.SkipWithError("segments missing");
    Must(log->Close(), "Close");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(fixture.segments));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(fixture.bytes));
  state.counters["segments"] = static_cast<double>(fixture.segments);
  state.counters["log_mib"] = static_cast<double>(fixture.bytes) / (1 << 20);
}

// A log whose writer "crashed" after appending EVLOG_BENCH_LOG_MIB without a
// sync: a child process appends and _exit()s without closing, so the
// checkpoint says unclean with the recovery point at 0 and the data sits in
// the page cache, as after a process crash. The files are then synced (so
// the benchmark measures the scan, not writeback of the child's writes)
// and the checkpoint saved, to be put back before every timed Open.
struct CrashedLog {
  CrashedLog() {
    const pid_t child = fork();
    if (child < 0) {
      std::perror("fork");
      std::abort();
    }
    if (child == 0) {
      PosixFileSystem fs;
      SystemClock clock;
      auto log = Must(PosixLog::Open(fs, clock, dir.Sub("log"), NoSyncConfig()), "Open");
      FillLog(*log, bytes_target);
      std::fflush(nullptr);
      _exit(0);  // no Close(), no destructors: a crash as far as the log can tell
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "storage_bench: the crashing writer failed\n");
      std::abort();
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir.Sub("log"))) {
      const int fd = open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        (void)fdatasync(fd);
        bytes += entry.path().extension() == ".log" ? std::filesystem::file_size(entry.path()) : 0;
        close(fd);
      }
    }
    std::ifstream in(CheckpointPath(), std::ios::binary);
    checkpoint.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  std::string CheckpointPath() const { return dir.Sub("log") + "/log.checkpoint"; }
  void RestoreCheckpoint() const {
    std::ofstream out(CheckpointPath(), std::ios::binary | std::ios::trunc);
    out.write(checkpoint.data(), static_cast<std::streamsize>(checkpoint.size()));
  }

  TempDir dir{"crashed"};
  const uint64_t bytes_target = ReadLogMib() << 20;
  uint64_t bytes = 0;
  std::string checkpoint;
};

// Open after the crash: every batch of the unflushed tail is read and its
// CRC checked, and the indexes are rebuilt. Bytes are the scanned log bytes.
void BM_LogRecoverUnflushedTail(benchmark::State& state) {
  static CrashedLog fixture;
  PosixFileSystem fs;
  SystemClock clock;
  uint64_t dropped = 0;
  LogOpenOptions options;
  options.reporter = [&dropped](const RecoveryEvent& event) { dropped += event.dropped_bytes; };
  for (auto _ : state) {
    fixture.RestoreCheckpoint();
    const auto start = std::chrono::steady_clock::now();
    auto log =
        Must(PosixLog::Open(fs, clock, fixture.dir.Sub("log"), NoSyncConfig(), options), "Open");
    const auto end = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    Must(log->Close(), "Close");
  }
  if (dropped != 0) state.SkipWithError("recovery dropped bytes of a complete log");
  state.SetItemsProcessed(state.iterations());  // recoveries
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(fixture.bytes));
  state.counters["log_mib"] = static_cast<double>(fixture.bytes) / (1 << 20);
}

BENCHMARK(BM_LogReopenClean)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LogRecoverUnflushedTail)->UseManualTime()->Unit(benchmark::kMillisecond);

// --- 5. Random lookup ------------------------------------------------------------

// Read(offset, max_bytes = 1): the one batch holding a random offset, CRC
// checked, from a log of EVLOG_BENCH_LOOKUP_MIB. Time per iteration is the
// latency of one lookup.
void BM_LogLookupRandom(benchmark::State& state) {
  const uint64_t mib = EnvOr("EVLOG_BENCH_LOOKUP_MIB", SmokeRun() ? 32 : 256);
  FilledLog& filled = SharedFilledLog(mib);
  PosixLog& log = *filled.log;
  const int64_t end = log.log_end_offset().value();
  std::mt19937_64 rng(7);
  LogReadOptions options;
  options.max_bytes = 1;
  std::vector<std::byte> buffer;
  int64_t bytes = 0;
  for (auto _ : state) {
    const Offset offset(static_cast<int64_t>(rng() % static_cast<uint64_t>(end)));
    absl::StatusOr<LogReadResult> read = log.Read(offset, buffer, options);
    if (!read.ok() || read->batches.empty()) {
      state.SkipWithError("Read failed");
      break;
    }
    bytes += static_cast<int64_t>(read->batches.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
  state.counters["log_mib"] = static_cast<double>(mib);
}

BENCHMARK(BM_LogLookupRandom)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace evlog
