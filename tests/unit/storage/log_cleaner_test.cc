#include "evlog/storage/log_cleaner.h"

#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "evlog/io/clock.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/storage/segmented_log.h"
#include "tests/support/batches.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::DecodeAll;
using testing::TestRecord;
using MemLog = SegmentedLog<MemFileSystem, ManualClock>;
using FaultyLog = SegmentedLog<FaultyFileSystem, ManualClock>;

constexpr char kDir[] = "/data/compacted-0";

LogConfig CompactConfig() {
  LogConfig config;
  config.cleanup_policy = CleanupPolicy::kCompact;
  config.segment_bytes = 1024;
  config.index_interval_bytes = 128;
  config.segment_index_bytes = 4096;
  config.delete_retention_ms = 60'000;
  return config;
}

CompactionOptions Forced(bool force = true) {
  CompactionOptions options;
  options.force = force;
  return options;
}

// A batch of (key, value) records; a nullopt value is a tombstone.
std::vector<std::byte> KeyedBatch(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& records,
    int64_t timestamp_ms, RecordBatchOptions options = {}) {
  RecordBatchBuilder builder(options);
  for (const auto& [key, value] : records) {
    std::optional<ByteView> v;
    if (value) v = AsBytes(*value);
    REQUIRE(builder.Append(timestamp_ms, AsBytes(key), v).ok());
  }
  REQUIRE(builder.Finish().ok());
  return std::move(builder).Release();
}

template <typename Log>
void Append(Log& log, std::vector<std::byte> batch) {
  absl::StatusOr<AppendResult> r = log.Append(batch);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
}

template <typename Log>
std::vector<TestRecord> ReadAll(Log& log) {
  std::vector<TestRecord> all;
  std::vector<std::byte> buffer;
  Offset next = log.log_start_offset();
  while (next < log.log_end_offset()) {
    absl::StatusOr<LogReadResult> read = log.Read(next, buffer);
    REQUIRE(read.ok());
    if (read->batches.empty()) break;
    for (TestRecord& r : DecodeAll(read->batches)) {
      if (r.offset >= next) all.push_back(std::move(r));
    }
    next = read->next_offset;
  }
  return all;
}

TEST_CASE("compaction keeps the newest record per key and leaves offsets alone") {
  MemFileSystem fs;
  ManualClock clock(1'000'000);
  auto log = *MemLog::Open(fs, clock, kDir, CompactConfig());
  // The worked example of log_cleaner.h.
  Append(*log, KeyedBatch({{"a", "1"}, {"b", "1"}}, clock.WallMs()));
  REQUIRE(log->Roll().ok());
  Append(*log, KeyedBatch({{"a", "2"}, {"c", "1"}}, clock.WallMs()));
  REQUIRE(log->Roll().ok());
  Append(*log, KeyedBatch({{"b", std::nullopt}}, clock.WallMs()));
  REQUIRE(log->Roll().ok());
  Append(*log, KeyedBatch({{"a", "3"}}, clock.WallMs()));

  absl::StatusOr<CompactionResult> result = log->Compact();
  REQUIRE(result.ok());
  CHECK(result->ran);
  CHECK(result->records_removed == 2);
  CHECK(result->tombstones_removed == 0);
  CHECK(result->bytes_after < result->bytes_before);
  std::vector<TestRecord> after = ReadAll(*log);
  REQUIRE(after.size() == 4);
  CHECK(after[0].offset == Offset(2));  // superseded only by the active segment
  CHECK(after[0].value == "2");
  CHECK(after[1].offset == Offset(3));
  CHECK(after[1].key == "c");
  CHECK(after[2].offset == Offset(4));
  CHECK(!after[2].value.has_value());   // the tombstone is still there
  CHECK(after[3].offset == Offset(5));  // the active segment is untouched
  CHECK(after[3].value == "3");
  CHECK(log->log_end_offset() == Offset(6));
  CHECK(log->log_start_offset() == Offset(0));

  // Once the tombstone is older than delete_retention_ms it goes too, and
  // once a=3 is sealed, a=2 goes.
  REQUIRE(log->Roll().ok());
  clock.AdvanceMs(61'000);
  result = log->Compact(Forced());
  REQUIRE(result.ok());
  CHECK(result->tombstones_removed == 1);
  CHECK(result->records_removed == 2);
  after = ReadAll(*log);
  REQUIRE(after.size() == 2);
  CHECK(after[0].key == "c");
  CHECK(after[1].key == "a");
  CHECK(after[1].offset == Offset(5));

  // Appends continue at the same offsets, and the log reopens as it is.
  Append(*log, KeyedBatch({{"d", "1"}}, clock.WallMs()));
  CHECK(log->log_end_offset() == Offset(7));
  REQUIRE(log->Close().ok());
  auto reopened = *MemLog::Open(fs, clock, kDir, CompactConfig());
  after = ReadAll(*reopened);
  REQUIRE(after.size() == 3);
  CHECK(after.back().offset == Offset(6));
}

TEST_CASE("without new dirty data compaction does not run again") {
  MemFileSystem fs;
  ManualClock clock(1'000'000);
  auto log = *MemLog::Open(fs, clock, kDir, CompactConfig());
  for (int i = 0; i < 40; ++i) {
    Append(*log, KeyedBatch({{"k" + std::to_string(i % 5), std::string(50, 'v')}}, clock.WallMs()));
  }
  REQUIRE(log->Compact().ok());
  absl::StatusOr<CompactionResult> again = log->Compact();
  REQUIRE(again.ok());
  CHECK(!again->ran);
}

TEST_CASE("records younger than min_compaction_lag_ms are not compacted") {
  MemFileSystem fs;
  ManualClock clock(1'000'000);
  LogConfig config = CompactConfig();
  config.min_compaction_lag_ms = 10'000;
  auto log = *MemLog::Open(fs, clock, kDir, config);
  for (int i = 0; i < 30; ++i) {
    Append(*log, KeyedBatch({{"same", std::string(60, 'a' + i % 26)}}, clock.WallMs()));
  }
  absl::StatusOr<CompactionResult> result = log->Compact(Forced());
  REQUIRE(result.ok());
  CHECK(!result->ran);
  clock.AdvanceMs(10'001);
  result = log->Compact(Forced());
  REQUIRE(result.ok());
  CHECK(result->ran);
  CHECK(result->records_removed > 0);
}

TEST_CASE("an idempotent producer's newest batch survives compaction even when emptied") {
  MemFileSystem fs;
  ManualClock clock(1'000'000);
  auto log = *MemLog::Open(fs, clock, kDir, CompactConfig());
  RecordBatchOptions producer;
  producer.producer_id = ProducerId(42);
  producer.producer_epoch = ProducerEpoch(0);
  producer.base_sequence = Sequence(0);
  Append(*log, KeyedBatch({{"x", "1"}, {"y", "1"}}, clock.WallMs(), producer));
  producer.base_sequence = Sequence(2);
  Append(*log, KeyedBatch({{"x", "2"}, {"y", "2"}, {"z", "1"}}, clock.WallMs(), producer));
  REQUIRE(log->Roll().ok());
  Append(*log, KeyedBatch({{"x", "3"}, {"y", "3"}, {"z", "2"}}, clock.WallMs()));
  REQUIRE(log->Roll().ok());
  REQUIRE(log->Compact(Forced()).ok());

  std::vector<std::byte> buffer;
  absl::StatusOr<LogReadResult> read = log->Read(Offset(0), buffer);
  REQUIRE(read.ok());
  // The first batch of producer 42 is gone; its newest remains, empty, with
  // its offsets and sequence numbers intact.
  absl::StatusOr<RecordBatchView> view = RecordBatchView::Parse(read->batches);
  REQUIRE(view.ok());
  CHECK(view->producer_id() == ProducerId(42));
  CHECK(view->record_count() == 0);
  CHECK(view->base_offset() == Offset(2));
  CHECK(view->last_offset() == Offset(4));
  CHECK(view->base_sequence() == Sequence(2));
  CHECK(view->last_sequence() == Sequence(4));
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(all.size() == 3);
  CHECK(all[0].offset == Offset(5));
}

TEST_CASE("appends go on while a compaction runs") {
  MemFileSystem fs;
  ManualClock clock(1'000'000);
  auto log = *MemLog::Open(fs, clock, kDir, CompactConfig());
  for (int i = 0; i < 200; ++i) {
    Append(*log, KeyedBatch({{"k" + std::to_string(i % 7), std::to_string(i)}}, clock.WallMs()));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> appended{0};
  std::thread writer([&] {
    while (!stop.load()) {
      std::vector<std::byte> batch = KeyedBatch({{"w", std::to_string(appended.load())}}, 0);
      absl::StatusOr<AppendResult> r = log->Append(batch);
      if (r.ok()) {
        appended.fetch_add(1);
      } else {
        std::fprintf(stderr, "append failed: %s\n", r.status().ToString().c_str());
      }
    }
  });
  // Compact until both sides have made progress side by side.
  int rounds = 0;
  while (rounds < 5 || appended.load() < 300) {
    REQUIRE(log->Compact(Forced()).ok());
    ++rounds;
  }
  stop.store(true);
  writer.join();
  std::vector<TestRecord> all = ReadAll(*log);
  std::map<std::string, std::string> last;
  Offset previous(-1);
  for (const TestRecord& r : all) {
    CHECK(r.offset > previous);
    previous = r.offset;
    last[*r.key] = *r.value;
  }
  for (int k = 0; k < 7; ++k) {
    // The newest value of each key is the last i with i % 7 == k.
    const int newest = 199 - ((199 - k) % 7);
    CHECK(last["k" + std::to_string(k)] == std::to_string(newest));
  }
  CHECK(last["w"] == std::to_string(appended.load() - 1));
  CHECK(log->log_end_offset() == Offset(200 + appended.load()));
}

TEST_CASE("a crash in the middle of a swap is finished when the log reopens") {
  for (FsOp fail_at : {FsOp::kRemove, FsOp::kRename}) {
    INFO("fault at " << FsOpName(fail_at));
    MemFileSystem base;
    FaultyFileSystem fs(base);
    ManualClock clock(1'000'000);
    std::map<std::string, std::string> newest;
    {
      auto log = *FaultyLog::Open(fs, clock, kDir, CompactConfig());
      for (int i = 0; i < 120; ++i) {
        const std::string key = "k" + std::to_string(i % 9);
        const std::string value = std::to_string(i) + std::string(30, 'p');
        Append(*log, KeyedBatch({{key, value}}, clock.WallMs()));
        newest[key] = value;
      }
      absl::Status flushed = log->Flush();
      INFO(flushed.ToString());
      REQUIRE(flushed.ok());
      // Let the swap phase fail part-way: the .swap files exist (synced),
      // some old segments may already be gone.
      FaultRule rule(fail_at);
      if (fail_at == FsOp::kRename) rule.PathContains(".swap");
      fs.AddFault(rule.Skip(1).Forever());
      absl::StatusOr<CompactionResult> result = log->Compact(Forced());
      CHECK(!result.ok());
      fs.SimulateCrash(7);
      fs.ClearFaults();
    }
    auto log = *FaultyLog::Open(fs, clock, kDir, CompactConfig());
    auto names = *fs.ListDir(kDir);
    for (const std::string& name : names) {
      CHECK(!name.ends_with(".swap"));
      CHECK(!name.ends_with(".cleaned"));
    }
    std::map<std::string, std::string> seen;
    Offset previous(-1);
    for (const TestRecord& r : ReadAll(*log)) {
      CHECK(r.offset > previous);
      previous = r.offset;
      seen[*r.key] = *r.value;
    }
    CHECK(seen == newest);
    CHECK(log->log_end_offset() == Offset(120));
  }
}

// Model check: after any mix of appends, rolls, compactions and reopenings,
// every key's newest value is readable at its offset, every record read was
// appended at that offset, and offsets increase.
TEST_CASE("compaction never loses a key's newest record") {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937_64 rng(seed);
    MemFileSystem fs;
    ManualClock clock(1'000'000);
    LogConfig config = CompactConfig();
    config.segment_bytes = 1024 + rng() % 2000;
    auto log = *MemLog::Open(fs, clock, kDir, config);
    std::map<int64_t, std::pair<std::string, std::optional<std::string>>> appended;
    std::map<std::string, int64_t> newest_offset;
    int64_t next = 0;
    for (int step = 0; step < 200; ++step) {
      const uint64_t action = rng() % 20;
      if (action == 0) {
        REQUIRE(log->Compact(Forced(rng() % 2 == 0)).ok());
      } else if (action == 1) {
        absl::Status closed = log->Close();
        INFO(closed.ToString());
        REQUIRE(closed.ok());
        log = *MemLog::Open(fs, clock, kDir, config);
      } else {
        std::vector<std::pair<std::string, std::optional<std::string>>> records;
        const int n = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < n; ++i) {
          std::string key = "key" + std::to_string(rng() % 12);
          std::optional<std::string> value;
          if (rng() % 8 != 0) value = "v" + std::to_string(next + i);
          records.emplace_back(key, value);
        }
        Append(*log, KeyedBatch(records, clock.WallMs()));
        for (const auto& [key, value] : records) {
          appended[next] = {key, value};
          newest_offset[key] = next;
          ++next;
        }
      }
      clock.AdvanceMs(static_cast<int64_t>(rng() % 1000));
    }
    std::vector<TestRecord> all = ReadAll(*log);
    std::map<int64_t, const TestRecord*> by_offset;
    Offset previous(-1);
    for (const TestRecord& r : all) {
      CHECK(r.offset > previous);
      previous = r.offset;
      auto it = appended.find(r.offset.value());
      REQUIRE(it != appended.end());
      CHECK(*r.key == it->second.first);
      CHECK(r.value == it->second.second);
      by_offset[r.offset.value()] = &r;
    }
    for (const auto& [key, offset] : newest_offset) {
      const bool tombstone = !appended[offset].second.has_value();
      if (tombstone) continue;  // may be gone once past delete_retention_ms
      CHECK(by_offset.count(offset) == 1);
    }
  }
}

}  // namespace
}  // namespace evlog
