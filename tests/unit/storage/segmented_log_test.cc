#include "evlog/storage/segmented_log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "evlog/io/clock.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/record/record_batch.h"
#include "tests/support/batches.h"
#include "tests/support/catch.h"
#include "tests/support/temp_dir.h"

namespace evlog {
namespace {

using testing::DecodeAll;
using testing::MakeBatch;
using testing::MakeSizedBatch;
using testing::TestRecord;

using MemLog = SegmentedLog<MemFileSystem, ManualClock>;
using FaultyLog = SegmentedLog<FaultyFileSystem, ManualClock>;

constexpr char kDir[] = "/data/topic-0";

LogConfig SmallSegments() {
  LogConfig config;
  config.segment_bytes = 4096;
  config.index_interval_bytes = 256;
  // Index files are preallocated; small ones keep in-memory tests fast.
  config.segment_index_bytes = 4096;
  return config;
}

template <typename Log>
std::vector<TestRecord> ReadAll(Log& log, Offset from = Offset(-1)) {
  std::vector<TestRecord> all;
  std::vector<std::byte> buffer;
  Offset next = from.value() < 0 ? log.log_start_offset() : from;
  while (next < log.log_end_offset()) {
    absl::StatusOr<LogReadResult> read = log.Read(next, buffer);
    REQUIRE(read.ok());
    REQUIRE(!read->batches.empty());
    for (TestRecord& r : DecodeAll(read->batches)) {
      if (r.offset >= next) all.push_back(std::move(r));
    }
    next = read->next_offset;
  }
  return all;
}

// Open options whose reporter collects recovery's events into `events`.
LogOpenOptions CollectingEvents(std::vector<RecoveryEvent>& events) {
  LogOpenOptions options;
  options.reporter = [&events](const RecoveryEvent& e) { events.push_back(e); };
  return options;
}

template <typename Log>
absl::StatusOr<AppendResult> TryAppend(Log& log, std::vector<std::byte> batch) {
  return log.Append(batch);
}

template <typename Log>
AppendResult MustAppend(Log& log, std::vector<std::byte> batch) {
  absl::StatusOr<AppendResult> r = log.Append(batch);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE("appends get dense offsets and read back in order") {
  MemFileSystem fs;
  ManualClock clock(1'000'000);
  auto log = MemLog::Open(fs, clock, kDir, LogConfig{});
  REQUIRE(log.ok());
  AppendResult a = MustAppend(**log, MakeBatch({"a", "b", "c"}));
  AppendResult b = MustAppend(**log, MakeBatch({"d"}));
  CHECK(a.base_offset == Offset(0));
  CHECK(a.last_offset == Offset(2));
  CHECK(b.base_offset == Offset(3));
  CHECK(b.last_offset == Offset(3));
  CHECK((*log)->log_end_offset() == Offset(4));
  std::vector<TestRecord> all = ReadAll(**log);
  REQUIRE(all.size() == 4);
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].offset == Offset(static_cast<int64_t>(i)));
  CHECK(all[3].value == "d");
  CHECK(all[0].key == "k0");
}

TEST_CASE("reads outside the log are OFFSET_OUT_OF_RANGE and a read at the end is empty") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, LogConfig{});
  MustAppend(*log, MakeBatch({"a", "b"}));
  std::vector<std::byte> buffer;
  CHECK(GetErrorCode(log->Read(Offset(3), buffer).status()) == ErrorCode::kOffsetOutOfRange);
  CHECK(GetErrorCode(log->Read(Offset(-1), buffer).status()) == ErrorCode::kOffsetOutOfRange);
  absl::StatusOr<LogReadResult> at_end = log->Read(Offset(2), buffer);
  REQUIRE(at_end.ok());
  CHECK(at_end->batches.empty());
  CHECK(at_end->next_offset == Offset(2));
}

TEST_CASE("a read starting inside a batch returns the whole batch") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, LogConfig{});
  MustAppend(*log, MakeBatch({"a", "b", "c"}));
  MustAppend(*log, MakeBatch({"d", "e"}));
  std::vector<std::byte> buffer;
  absl::StatusOr<LogReadResult> read = log->Read(Offset(4), buffer);
  REQUIRE(read.ok());
  std::vector<TestRecord> records = DecodeAll(read->batches);
  REQUIRE(records.size() == 2);
  CHECK(records[0].offset == Offset(3));
  CHECK(read->next_offset == Offset(5));
}

TEST_CASE("a reused read buffer is grown but never shrunk or refilled past the result") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, LogConfig{});
  for (int i = 0; i < 4; ++i) MustAppend(*log, MakeSizedBatch(2, 300, i));
  std::vector<std::byte> fresh;
  absl::StatusOr<LogReadResult> whole = log->Read(Offset(0), fresh);
  REQUIRE(whole.ok());
  const std::vector<std::byte> expected(whole->batches.begin(), whole->batches.end());
  REQUIRE(DecodeAll(whole->batches).size() == 8);

  // A buffer larger than any result, marked past the first batch.
  std::vector<std::byte> buffer(64 << 10, std::byte{0xA5});
  LogReadOptions one;
  one.max_bytes = 1;
  absl::StatusOr<LogReadResult> first = log->Read(Offset(0), buffer, one);
  REQUIRE(first.ok());
  CHECK(first->batches.data() == buffer.data());
  CHECK(buffer.size() == size_t{64} << 10);
  CHECK(DecodeAll(first->batches).size() == 2);
  // Only the batch asked for is read into the buffer; nothing after it is
  // touched.
  CHECK(buffer[first->batches.size()] == std::byte{0xA5});
  CHECK(buffer.back() == std::byte{0xA5});

  // A longer read into the same buffer after the short one: same bytes as
  // a read into a fresh buffer.
  absl::StatusOr<LogReadResult> again = log->Read(Offset(0), buffer);
  REQUIRE(again.ok());
  CHECK(buffer.size() == size_t{64} << 10);
  CHECK(std::vector<std::byte>(again->batches.begin(), again->batches.end()) == expected);

  // An empty buffer is grown to hold the result.
  std::vector<std::byte> small;
  absl::StatusOr<LogReadResult> grown = log->Read(Offset(2), small);
  REQUIRE(grown.ok());
  CHECK(small.size() >= grown->batches.size());
  CHECK(DecodeAll(grown->batches).size() == 6);
}

TEST_CASE("max_bytes limits a read but the first batch always comes whole") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, LogConfig{});
  for (int i = 0; i < 5; ++i) MustAppend(*log, MakeSizedBatch(4, 100, i));
  std::vector<std::byte> buffer;
  LogReadOptions options;
  options.max_bytes = 10;
  absl::StatusOr<LogReadResult> read = log->Read(Offset(0), buffer, options);
  REQUIRE(read.ok());
  CHECK(DecodeAll(read->batches).size() == 4);
  CHECK(read->next_offset == Offset(4));
  options.min_one_batch = false;
  read = log->Read(Offset(0), buffer, options);
  REQUIRE(read.ok());
  CHECK(read->batches.empty());
  options.max_bytes = 1 << 20;
  options.max_offset = Offset(12);
  read = log->Read(Offset(0), buffer, options);
  REQUIRE(read.ok());
  CHECK(read->next_offset == Offset(12));
  CHECK(DecodeAll(read->batches).size() == 12);
}

TEST_CASE("segments roll by size and reads cross them") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
  for (int i = 0; i < 40; ++i) MustAppend(*log, MakeSizedBatch(3, 100, i));
  CHECK(log->segment_count() >= 4);
  std::vector<Offset> bases = log->segment_base_offsets();
  CHECK(bases.front() == Offset(0));
  auto names = fs.ListDir(kDir);
  REQUIRE(names.ok());
  for (Offset base : bases) {
    const std::string log_name = internal::SegmentFileName(base, ".log");
    CHECK(std::find(names->begin(), names->end(), log_name) != names->end());
  }
  CHECK(internal::SegmentFileName(Offset(1234), ".log") == "00000000000000001234.log");
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(all.size() == 120);
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].offset == Offset(static_cast<int64_t>(i)));
  // Random access lands on the right record in every segment.
  for (int64_t target : {0, 7, 31, 64, 100, 119}) {
    std::vector<TestRecord> from = ReadAll(*log, Offset(target));
    REQUIRE(!from.empty());
    CHECK(from.front().offset == Offset(target));
  }
}

TEST_CASE("segments roll by age") {
  MemFileSystem fs;
  ManualClock clock(5'000);
  LogConfig config;
  config.segment_ms = 1000;
  auto log = *MemLog::Open(fs, clock, kDir, config);
  MustAppend(*log, MakeBatch({"a"}));
  clock.AdvanceMs(999);
  MustAppend(*log, MakeBatch({"b"}));
  CHECK(log->segment_count() == 1);
  clock.AdvanceMs(1);
  MustAppend(*log, MakeBatch({"c"}));
  CHECK(log->segment_count() == 2);
  CHECK(log->segment_base_offsets().back() == Offset(2));
}

TEST_CASE("a clean close lets the next open read no segment") {
  MemFileSystem fs;
  ManualClock clock;
  {
    auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
    for (int i = 0; i < 30; ++i) MustAppend(*log, MakeSizedBatch(2, 100, i));
    REQUIRE(log->Close().ok());
  }
  std::vector<RecoveryEvent> events;
  auto log = *MemLog::Open(fs, clock, kDir, SmallSegments(), CollectingEvents(events));
  CHECK(events.empty());
  CHECK(log->open_segment_count() == 0);
  CHECK(log->log_end_offset() == Offset(60));
  CHECK(log->durable_offset() == Offset(60));
  MustAppend(*log, MakeBatch({"after"}));
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(all.size() == 61);
  CHECK(all.back().value == "after");
  CHECK(all.back().offset == Offset(60));
}

TEST_CASE("a discarded log writes nothing more, and reopened recovers as after a crash") {
  MemFileSystem mem;
  FaultyFileSystem fs(mem);
  ManualClock clock;
  std::vector<std::string> before;
  {
    auto log = *FaultyLog::Open(fs, clock, kDir, SmallSegments());
    for (int i = 0; i < 30; ++i) MustAppend(*log, MakeSizedBatch(2, 100, i));
    // Small appends leave filler after the last batch for Discard to leave.
    log->PrepareTail();
    before = *fs.ListDir(kDir);
    for (FsOp op : {FsOp::kAppend, FsOp::kWriteAt, FsOp::kTruncate, FsOp::kSync, FsOp::kMapSync,
                    FsOp::kSyncDir, FsOp::kOpen, FsOp::kRename, FsOp::kRemove}) {
      fs.AddFault(FaultRule(op).Forever());
    }
    const uint64_t faults = fs.stats().faults_injected;
    log->Discard();
    log->Discard();
    CHECK(fs.stats().faults_injected == faults);
    CHECK(log->open_segment_count() == 0);
    CHECK(absl::IsFailedPrecondition(TryAppend(*log, MakeBatch({"late"})).status()));
    std::vector<std::byte> buffer;
    CHECK(absl::IsFailedPrecondition(log->Read(Offset(0), buffer).status()));
    CHECK(log->Close().ok());
    CHECK(fs.stats().faults_injected == faults);
    fs.ClearFaults();
  }
  CHECK(*fs.ListDir(kDir) == before);
  std::vector<RecoveryEvent> events;
  auto log = *FaultyLog::Open(fs, clock, kDir, SmallSegments(), CollectingEvents(events));
  CHECK(events.empty());  // the filler goes without a report
  CHECK(log->log_end_offset() == Offset(60));
  CHECK(ReadAll(*log).size() == 60);
  MustAppend(*log, MakeBatch({"after"}));
  CHECK(log->log_end_offset() == Offset(61));
}

// Reads at the tail find their batch among the segment's recent batches
// instead of scanning headers: across truncations and rewrites with other
// batch sizes, every offset must still read from the batch that holds it.
TEST_CASE("a read at any offset starts at the batch holding it, after truncations and rewrites") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
  std::vector<std::pair<Offset, Offset>> batches;  // [base, last] of each, in order
  auto append = [&](int records, uint64_t seed) {
    const AppendResult r = MustAppend(*log, MakeSizedBatch(records, 40, seed));
    batches.emplace_back(r.base_offset, r.last_offset);
  };
  auto check_every_offset = [&] {
    std::vector<std::byte> buffer;
    LogReadOptions one;
    one.max_bytes = 1;  // the first batch only
    for (const auto& [base, last] : batches) {
      for (Offset o = base; o <= last; o = o + 1) {
        INFO("offset " << o.value());
        absl::StatusOr<LogReadResult> read = log->Read(o, buffer, one);
        REQUIRE(read.ok());
        const std::vector<TestRecord> records = DecodeAll(read->batches);
        REQUIRE(!records.empty());
        CHECK(records.front().offset == base);
        CHECK(records.back().offset == last);
      }
    }
  };
  uint64_t seed = 0;
  for (int i = 0; i < 40; ++i) append(1 + i % 5, ++seed);
  check_every_offset();
  for (int round = 0; round < 6; ++round) {
    // Cut in the middle of a recent batch (the whole batch goes), then
    // write batches of other sizes where it was.
    const auto [base, last] = batches[batches.size() - 3];
    REQUIRE(log->TruncateTo(last).ok());
    while (!batches.empty() && batches.back().second >= base) batches.pop_back();
    REQUIRE(log->log_end_offset() == base);
    for (int i = 0; i < 3 + round; ++i) append(1 + (i + round) % 3, ++seed);
    check_every_offset();
  }
}

// A follower's batches may leave gaps (its leader's log was compacted): a
// read at an offset in a gap starts at the batch after it, whether that
// batch is among the recent ones or older.
TEST_CASE("a read at an offset in a gap between batches starts at the batch after the gap") {
  MemFileSystem fs;
  ManualClock clock;
  LogConfig config;
  config.index_interval_bytes = 256;
  config.segment_index_bytes = 4096;
  auto log = *MemLog::Open(fs, clock, kDir, config);
  AppendOptions follower;
  follower.assign_offsets = false;
  std::vector<std::pair<Offset, Offset>> batches;  // [base, last] of each, in order
  Offset next(0);
  std::mt19937 rng(7);
  for (int i = 0; i < 45; ++i) {
    std::vector<std::byte> batch = MakeSizedBatch(1 + static_cast<int>(rng() % 4), 40, i);
    SetBaseOffset(batch, next + static_cast<int64_t>(rng() % 4));  // a gap of 0-3 offsets
    absl::StatusOr<AppendResult> r = log->Append(batch, follower);
    REQUIRE(r.ok());
    batches.emplace_back(r->base_offset, r->last_offset);
    next = r->last_offset + 1;
  }
  std::vector<std::byte> buffer;
  LogReadOptions one;
  one.max_bytes = 1;  // the first batch only
  for (Offset o(0); o < log->log_end_offset(); o = o + 1) {
    INFO("offset " << o.value());
    size_t want = 0;
    while (batches[want].second < o) ++want;
    absl::StatusOr<LogReadResult> read = log->Read(o, buffer, one);
    REQUIRE(read.ok());
    const std::vector<TestRecord> records = DecodeAll(read->batches);
    REQUIRE(!records.empty());
    CHECK(records.front().offset == batches[want].first);
    CHECK(records.back().offset == batches[want].second);
  }
}

TEST_CASE("only a bounded number of sealed segments keep files open") {
  MemFileSystem fs;
  ManualClock clock;
  LogConfig config = SmallSegments();
  config.max_open_sealed_segments = 2;
  auto log = *MemLog::Open(fs, clock, kDir, config);
  for (int i = 0; i < 100; ++i) MustAppend(*log, MakeSizedBatch(3, 100, i));
  REQUIRE(log->segment_count() > 8);
  (void)ReadAll(*log);
  CHECK(log->open_segment_count() <= 3);  // the active one plus two sealed
}

TEST_CASE("retention by size deletes the oldest segments and moves the log start") {
  MemFileSystem fs;
  ManualClock clock;
  LogConfig config = SmallSegments();
  config.retention_bytes = 8192;
  auto log = *MemLog::Open(fs, clock, kDir, config);
  for (int i = 0; i < 60; ++i) MustAppend(*log, MakeSizedBatch(3, 100, i));
  const size_t before = log->segment_count();
  absl::StatusOr<size_t> deleted = log->DeleteOldSegments();
  REQUIRE(deleted.ok());
  CHECK(*deleted > 0);
  CHECK(log->segment_count() == before - *deleted);
  CHECK(log->size_bytes() >= 8192 - 4096);
  CHECK(log->size_bytes() < 8192 + 4096);
  CHECK(log->log_start_offset() == log->segment_base_offsets().front());
  std::vector<std::byte> buffer;
  CHECK(GetErrorCode(log->Read(Offset(0), buffer).status()) == ErrorCode::kOffsetOutOfRange);
  std::vector<TestRecord> rest = ReadAll(*log);
  CHECK(rest.front().offset == log->log_start_offset());
  CHECK(rest.back().offset == Offset(179));
}

TEST_CASE("retention by time deletes segments whose newest record is too old") {
  MemFileSystem fs;
  ManualClock clock(100'000);
  LogConfig config = SmallSegments();
  config.retention_ms = 10'000;
  auto log = *MemLog::Open(fs, clock, kDir, config);
  for (int i = 0; i < 20; ++i) MustAppend(*log, MakeSizedBatch(3, 100, i, /*timestamp_ms=*/50'000));
  for (int i = 0; i < 20; ++i) MustAppend(*log, MakeSizedBatch(3, 100, i, /*timestamp_ms=*/95'000));
  absl::StatusOr<size_t> deleted = log->DeleteOldSegments();
  REQUIRE(deleted.ok());
  CHECK(*deleted > 0);
  std::vector<TestRecord> rest = ReadAll(*log);
  REQUIRE(!rest.empty());
  // Every old record lived in a deleted segment unless it shared one with new records.
  CHECK(rest.back().timestamp_ms >= 95'000);
  CHECK(log->log_start_offset() <= Offset(60));
  clock.AdvanceMs(100'000);
  deleted = log->DeleteOldSegments();
  REQUIRE(deleted.ok());
  CHECK(log->log_start_offset() == log->log_end_offset());
  CHECK(log->log_end_offset() == Offset(120));
  MustAppend(*log, MakeBatch({"fresh"}));
  CHECK(ReadAll(*log).front().offset == Offset(120));
}

TEST_CASE("DeleteRecordsBefore moves the log start durably") {
  MemFileSystem fs;
  ManualClock clock;
  {
    auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
    for (int i = 0; i < 30; ++i) MustAppend(*log, MakeSizedBatch(3, 100, i));
    CHECK(GetErrorCode(log->DeleteRecordsBefore(Offset(1000))) == ErrorCode::kOffsetOutOfRange);
    REQUIRE(log->DeleteRecordsBefore(Offset(50)).ok());
    CHECK(log->log_start_offset() == Offset(50));
    std::vector<TestRecord> rest = ReadAll(*log);
    CHECK(rest.front().offset == Offset(50));
    CHECK(log->segment_base_offsets().front() <= Offset(50));
    // Not closed: the reopen has to recover, and must keep the log start.
  }
  auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
  CHECK(log->log_start_offset() == Offset(50));
  CHECK(log->log_end_offset() == Offset(90));
}

TEST_CASE("truncation removes whole batches from the one holding the offset") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
  // The worked example of segmented_log.h: [0..9] [10..29] | [30..39] [40..99].
  MustAppend(*log, MakeSizedBatch(10, 10, 1));
  MustAppend(*log, MakeSizedBatch(20, 10, 2));
  REQUIRE(log->Roll().ok());
  MustAppend(*log, MakeSizedBatch(10, 10, 3));
  MustAppend(*log, MakeSizedBatch(60, 10, 4));
  CHECK(log->segment_base_offsets() == std::vector<Offset>{Offset(0), Offset(30)});
  REQUIRE(log->TruncateTo(Offset(35)).ok());
  CHECK(log->log_end_offset() == Offset(30));
  CHECK(log->segment_base_offsets() == std::vector<Offset>{Offset(0), Offset(30)});
  AppendResult next = MustAppend(*log, MakeBatch({"x"}));
  CHECK(next.base_offset == Offset(30));
  REQUIRE(log->TruncateTo(Offset(10)).ok());
  CHECK(log->log_end_offset() == Offset(10));
  CHECK(log->segment_count() == 1);
  CHECK(ReadAll(*log).size() == 10);
  REQUIRE(log->TruncateFullyAndStartAt(Offset(500)).ok());
  CHECK(log->log_start_offset() == Offset(500));
  CHECK(log->log_end_offset() == Offset(500));
  CHECK(MustAppend(*log, MakeBatch({"y"})).base_offset == Offset(500));
}

TEST_CASE("a follower append keeps its offsets and may leave a gap") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, LogConfig{});
  MustAppend(*log, MakeBatch({"a", "b"}));
  std::vector<std::byte> batch = MakeBatch({"c"});
  SetBaseOffset(batch, Offset(10));
  AppendOptions follower;
  follower.assign_offsets = false;
  follower.leader_epoch = LeaderEpoch(3);
  absl::StatusOr<AppendResult> r = log->Append(batch, follower);
  REQUIRE(r.ok());
  CHECK(r->base_offset == Offset(10));
  CHECK(log->log_end_offset() == Offset(11));
  std::vector<std::byte> stale = MakeBatch({"d"});
  SetBaseOffset(stale, Offset(5));
  CHECK(GetErrorCode(log->Append(stale, follower).status()) == ErrorCode::kInvalidRequest);
  std::vector<std::byte> buffer;
  absl::StatusOr<LogReadResult> read = log->Read(Offset(2), buffer);
  REQUIRE(read.ok());
  auto view = RecordBatchView::Parse(read->batches);
  REQUIRE(view.ok());
  CHECK(view->base_offset() == Offset(10));
  CHECK(view->partition_leader_epoch() == LeaderEpoch(3));
}

TEST_CASE("bad batches are rejected and change nothing") {
  MemFileSystem fs;
  ManualClock clock;
  LogConfig config;
  config.max_message_bytes = 512;
  auto log = *MemLog::Open(fs, clock, kDir, config);
  MustAppend(*log, MakeBatch({"a"}));
  std::vector<std::byte> big = MakeSizedBatch(1, 600, 1);
  CHECK(GetErrorCode(TryAppend(*log, big).status()) == ErrorCode::kMessageTooLarge);
  std::vector<std::byte> corrupt = MakeBatch({"b"});
  corrupt.back() ^= std::byte{0x01};
  CHECK(GetErrorCode(TryAppend(*log, corrupt).status()) == ErrorCode::kCorruptMessage);
  std::vector<std::byte> two = MakeBatch({"c"});
  std::vector<std::byte> second = MakeBatch({"d"});
  two.insert(two.end(), second.begin(), second.end());
  CHECK(GetErrorCode(TryAppend(*log, two).status()) == ErrorCode::kCorruptMessage);
  std::vector<std::byte> truncated = MakeBatch({"e"});
  truncated.resize(truncated.size() - 3);
  CHECK(GetErrorCode(TryAppend(*log, truncated).status()) == ErrorCode::kCorruptMessage);
  CHECK(log->log_end_offset() == Offset(1));
  CHECK(ReadAll(*log).size() == 1);
}

TEST_CASE("log append time stamps the log's clock on every record") {
  MemFileSystem fs;
  ManualClock clock(777'000);
  LogConfig config;
  config.timestamp_type = TimestampType::kLogAppendTime;
  auto log = *MemLog::Open(fs, clock, kDir, config);
  AppendResult r = MustAppend(*log, MakeBatch({"a", "b"}, /*timestamp_ms=*/5));
  CHECK(r.log_append_time_ms == 777'000);
  for (const TestRecord& record : ReadAll(*log)) CHECK(record.timestamp_ms == 777'000);
}

TEST_CASE("OffsetForTimestamp finds the first record at or after a time") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
  // Batch i holds 3 records with timestamps 1000*i .. 1000*i + 2.
  for (int i = 1; i <= 40; ++i) MustAppend(*log, MakeSizedBatch(3, 100, i, 1000 * i));
  auto found = log->OffsetForTimestamp(20'001);
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->offset == Offset(19 * 3 + 1));
  CHECK((*found)->timestamp_ms == 20'001);
  found = log->OffsetForTimestamp(0);
  REQUIRE(found.ok());
  CHECK((*found)->offset == Offset(0));
  found = log->OffsetForTimestamp(20'003);
  REQUIRE(found.ok());
  CHECK((*found)->offset == Offset(20 * 3));
  found = log->OffsetForTimestamp(50'000);
  REQUIRE(found.ok());
  CHECK(!found->has_value());
}

TEST_CASE("the log works on the POSIX file system and reopens") {
  testing::TempDir dir;
  PosixFileSystem& fs = PosixFileSystem::Default();
  SystemClock& clock = SystemClock::Default();
  const std::string path = dir.path() + "/orders-0";
  {
    auto log = SegmentedLog<>::Open(fs, clock, path, SmallSegments());
    REQUIRE(log.ok());
    for (int i = 0; i < 20; ++i) MustAppend(**log, MakeSizedBatch(5, 64, i));
    REQUIRE((*log)->Close().ok());
  }
  auto log = SegmentedLog<>::Open(fs, clock, path, SmallSegments());
  REQUIRE(log.ok());
  CHECK((*log)->log_end_offset() == Offset(100));
  std::vector<TestRecord> all = ReadAll(**log);
  CHECK(all.size() == 100);
}

TEST_CASE("corrupt or missing index files are rebuilt on open") {
  MemFileSystem fs;
  ManualClock clock;
  {
    auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
    for (int i = 0; i < 30; ++i) MustAppend(*log, MakeSizedBatch(3, 100, i));
    REQUIRE(log->Close().ok());
  }
  auto names = *fs.ListDir(kDir);
  int damaged = 0;
  for (const std::string& name : names) {
    const std::string path = JoinPath(kDir, name);
    if (name.ends_with(".index") && damaged == 0) {
      auto file = *fs.Open(path, OpenMode::kReadWrite);
      REQUIRE(file->Truncate(13).ok());  // not a whole number of entries
      ++damaged;
    } else if (name.ends_with(".index") && damaged == 1) {
      REQUIRE(fs.Remove(path).ok());
      ++damaged;
    } else if (name.ends_with(".index") && damaged == 2) {
      auto file = *fs.Open(path, OpenMode::kReadWrite);
      std::vector<std::byte> garbage(16, std::byte{0x7f});
      REQUIRE(file->WriteAt(0, garbage).ok());
      ++damaged;
    }
  }
  REQUIRE(damaged == 3);
  auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(all.size() == 90);
  for (int64_t target = 0; target < 90; target += 7) {
    CHECK(ReadAll(*log, Offset(target)).front().offset == Offset(target));
  }
}

TEST_CASE("a flipped byte in an old segment is CORRUPT_MESSAGE for the read that reaches it") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  ManualClock clock;
  auto log = *FaultyLog::Open(fs, clock, kDir, SmallSegments());
  std::vector<AppendResult> appended;
  for (int i = 0; i < 30; ++i) appended.push_back(MustAppend(*log, MakeSizedBatch(3, 100, i)));
  REQUIRE(log->segment_count() >= 3);
  // Flip a byte inside the value of the batch holding offsets 9..11 (segment 0).
  std::vector<std::byte> buffer;
  auto read = log->Read(Offset(9), buffer);
  REQUIRE(read.ok());
  REQUIRE(log->Close().ok());
  const std::string segment0 = JoinPath(kDir, internal::SegmentFileName(Offset(0), ".log"));
  // Batches are the same size: batch 3 starts at 3 * size.
  const uint64_t batch_size = MakeSizedBatch(3, 100, 0).size();
  REQUIRE(fs.FlipByte(segment0, 3 * batch_size + 100).ok());
  log = *FaultyLog::Open(fs, clock, kDir, SmallSegments());
  absl::StatusOr<LogReadResult> bad = log->Read(Offset(10), buffer);
  CHECK(GetErrorCode(bad.status()) == ErrorCode::kCorruptMessage);
  // A read from before it stops short of it, and the batches after it read fine.
  auto before = log->Read(Offset(0), buffer);
  REQUIRE(before.ok());
  CHECK(before->next_offset == Offset(9));
  auto after = log->Read(Offset(12), buffer);
  REQUIRE(after.ok());
  CHECK(DecodeAll(after->batches).front().offset == Offset(12));
}

TEST_CASE("a failing write is an error, changes nothing, and the log goes on after it clears") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  ManualClock clock;
  auto log = *FaultyLog::Open(fs, clock, kDir, SmallSegments());
  MustAppend(*log, MakeBatch({"a"}));
  for (absl::Status error : {InjectedIoError(), InjectedNoSpaceError()}) {
    fs.AddFault(FaultRule(FsOp::kWriteAt).PathContains(".log").Forever().WithStatus(error));
    absl::StatusOr<AppendResult> failed = TryAppend(*log, MakeBatch({"b"}));
    CHECK(!failed.ok());
    CHECK(GetErrorCode(failed.status()) == ErrorCode::kKafkaStorageError);
    CHECK(log->log_end_offset() == Offset(1));
    fs.ClearFaults();
  }
  MustAppend(*log, MakeBatch({"c"}));
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(all.size() == 2);
  CHECK(all[1].value == "c");
  CHECK(all[1].offset == Offset(1));
}

// The segments past the cut leave the map one by one as their files go. A
// deletion that fails part way leaves a sealed segment as the last one, in
// the map but not truncated: nothing may append to it or read it as the
// log's end until the log is reopened.
TEST_CASE("a truncation that fails while deleting segments stops the log until it is reopened") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  ManualClock clock;
  LogConfig config = SmallSegments();
  config.max_open_sealed_segments = 1;
  auto log = *FaultyLog::Open(fs, clock, kDir, config);
  for (int i = 0; i < 40; ++i) MustAppend(*log, MakeSizedBatch(3, 100, i));
  const std::vector<Offset> bases = log->segment_base_offsets();
  REQUIRE(bases.size() >= 4);
  const Offset end = log->log_end_offset();
  // Reads open sealed segments' files, so that the least-recently-used list
  // holds the one that ends up last.
  (void)ReadAll(*log);
  // Cut inside the second segment; the removal of the active segment's
  // .log, the last to go, fails.
  const std::string active_log = internal::SegmentFileName(bases.back(), ".log");
  fs.AddFault(FaultRule(FsOp::kRemove).PathContains(active_log).Forever());
  const absl::Status cut = log->TruncateTo(bases[1] + 1);
  REQUIRE(!cut.ok());
  CHECK(absl::StrContains(cut.message(), "a truncation failed part way"));
  // Nothing goes on from the half-cut state.
  CHECK(!TryAppend(*log, MakeBatch({"after"})).ok());
  std::vector<std::byte> buffer;
  CHECK(!log->Read(bases[0], buffer).ok());
  CHECK(log->log_end_offset() <= end);
  fs.ClearFaults();
  (void)log->Close();
  // Reopened, the log is whatever its files say, and usable again.
  log = *FaultyLog::Open(fs, clock, kDir, config);
  const std::vector<TestRecord> left = ReadAll(*log);
  for (size_t i = 1; i < left.size(); ++i) CHECK(left[i].offset > left[i - 1].offset);
  const AppendResult next = MustAppend(*log, MakeBatch({"again"}));
  CHECK(next.base_offset == log->log_end_offset() - 1);
}

TEST_CASE("a failing sync under every-append durability takes the batch out again") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  ManualClock clock;
  LogConfig config;
  config.durability = Durability::kEveryAppend;
  auto log = *FaultyLog::Open(fs, clock, kDir, config);
  MustAppend(*log, MakeBatch({"a"}));
  fs.AddFault(FaultRule(FsOp::kSync).PathContains(".log"));
  CHECK(!TryAppend(*log, MakeBatch({"b"})).ok());
  CHECK(log->log_end_offset() == Offset(1));
  CHECK(log->durable_offset() == Offset(1));
  AppendResult c = MustAppend(*log, MakeBatch({"c"}));
  CHECK(c.base_offset == Offset(1));
  CHECK(log->durable_offset() == Offset(2));
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(all.size() == 2);
  CHECK(all[1].value == "c");
}

TEST_CASE("concurrent every-append appenders share syncs") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  ManualClock clock;
  LogConfig config = SmallSegments();
  config.durability = Durability::kEveryAppend;
  auto log = *FaultyLog::Open(fs, clock, kDir, config);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  const uint64_t syncs_before = fs.stats().syncs;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::vector<std::byte> batch = MakeBatch({std::to_string(t) + ":" + std::to_string(i)});
        if (!log->Append(batch).ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(log->log_end_offset() == Offset(kThreads * kPerThread));
  CHECK(log->durable_offset() == log->log_end_offset());
  CHECK(fs.stats().syncs > syncs_before);
  CHECK(ReadAll(*log).size() == kThreads * kPerThread);
}

// Reads run outside the log's lock: while one thread appends (rolling
// segments, which closes the oldest sealed ones' files) and another deletes
// the oldest records (removing segment files), readers always get whole,
// dense, correct batches, or OFFSET_OUT_OF_RANGE for what was deleted.
template <typename FS>
void ReadWhileAppendingAndDeleting(FS& fs, const std::string& dir) {
  ManualClock clock;
  LogConfig config = SmallSegments();
  config.max_open_sealed_segments = 1;
  config.retention_ms = -1;
  auto opened = SegmentedLog<FS, ManualClock>::Open(fs, clock, dir, config);
  REQUIRE(opened.ok());
  auto& log = **opened;
  constexpr int kMinBatches = 600;
  constexpr int64_t kMinReads = 300;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::atomic<int64_t> reads{0};
  std::atomic<int> batches{0};
  std::thread appender([&] {
    // At least kMinBatches, and on until the readers have read a while
    // beside it (a loaded machine may start them late).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (int i = 0;
         i < kMinBatches || (reads < kMinReads && std::chrono::steady_clock::now() < deadline);
         ++i) {
      std::vector<std::byte> batch = MakeBatch({"v" + std::to_string(i), "w" + std::to_string(i)});
      if (!log.Append(batch).ok()) bad.fetch_add(1);
      batches.fetch_add(1);
    }
    done = true;
  });
  std::thread deleter([&] {
    while (!done) {
      const Offset end = log.log_end_offset();
      if (end.value() > 200 && !log.DeleteRecordsBefore(end - 200).ok()) bad.fetch_add(1);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      std::vector<std::byte> buffer;
      while (!done) {
        Offset next = log.log_start_offset();
        while (next < log.log_end_offset()) {
          absl::StatusOr<LogReadResult> read = log.Read(next, buffer);
          reads.fetch_add(1);
          if (!read.ok()) {
            // Deleted under the reader's feet: start again from the start.
            if (GetErrorCode(read.status()) != ErrorCode::kOffsetOutOfRange) bad.fetch_add(1);
            break;
          }
          if (read->batches.empty()) break;
          for (const TestRecord& record : DecodeAll(read->batches)) {
            // Batch i holds offsets 2i and 2i+1, valued v<i> and w<i>.
            const int64_t i = record.offset.value() / 2;
            const std::string want =
                (record.offset.value() % 2 == 0 ? "v" : "w") + std::to_string(i);
            if (record.value != want) bad.fetch_add(1);
          }
          if (read->next_offset <= next) {
            bad.fetch_add(1);
            break;
          }
          next = read->next_offset;
        }
      }
    });
  }
  appender.join();
  deleter.join();
  for (std::thread& t : readers) t.join();
  CHECK(bad.load() == 0);
  CHECK(reads.load() >= kMinReads);
  CHECK(log.log_end_offset() == Offset(2 * int64_t{batches.load()}));
  CHECK(ReadAll(log).size() ==
        static_cast<size_t>(log.log_end_offset().value() - log.log_start_offset().value()));
}

TEST_CASE("reads stay whole and correct while the log appends and deletes its oldest segments") {
  SECTION("in memory") {
    MemFileSystem fs;
    ReadWhileAppendingAndDeleting(fs, kDir);
  }
  SECTION("on files") {
    testing::TempDir dir;
    PosixFileSystem fs;
    ReadWhileAppendingAndDeleting(fs, dir.path() + "/topic-0");
  }
}

// A file system that calls the test's hooks before a file's Sync and
// WriteAt (with the file's path), then passes every call to `base`.
class HookedFileSystem final : public FileSystem {
 public:
  explicit HookedFileSystem(FileSystem& base) : base_(base) {}
  // Set before the log is opened; called from the log's threads.
  std::function<void()> before_sync = [] {};
  std::function<void(std::string_view path)> before_write_at = [](std::string_view) {};

  absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, OpenMode mode) override {
    EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> file, base_.Open(path, mode));
    return std::unique_ptr<File>(new HookedFile(std::move(file), std::string(path), *this));
  }
  absl::StatusOr<bool> Exists(std::string_view p) override { return base_.Exists(p); }
  absl::Status Rename(std::string_view a, std::string_view b) override {
    return base_.Rename(a, b);
  }
  absl::Status Remove(std::string_view p) override { return base_.Remove(p); }
  absl::Status CreateDir(std::string_view p) override { return base_.CreateDir(p); }
  absl::Status RemoveDir(std::string_view p) override { return base_.RemoveDir(p); }
  absl::StatusOr<std::vector<std::string>> ListDir(std::string_view p) override {
    return base_.ListDir(p);
  }
  absl::Status SyncDir(std::string_view p) override { return base_.SyncDir(p); }

 private:
  class HookedFile final : public File {
   public:
    HookedFile(std::unique_ptr<File> f, std::string path, HookedFileSystem& fs)
        : f_(std::move(f)), path_(std::move(path)), fs_(fs) {}
    absl::Status Append(ByteView d) override { return f_->Append(d); }
    absl::Status WriteAt(uint64_t o, ByteView d) override {
      fs_.before_write_at(path_);
      return f_->WriteAt(o, d);
    }
    absl::StatusOr<size_t> ReadAt(uint64_t o, MutableByteView out) const override {
      return f_->ReadAt(o, out);
    }
    absl::Status Sync() override {
      fs_.before_sync();
      return f_->Sync();
    }
    absl::Status Truncate(uint64_t s) override { return f_->Truncate(s); }
    absl::StatusOr<uint64_t> Size() const override { return f_->Size(); }
    absl::StatusOr<std::unique_ptr<MappedRegion>> Map(uint64_t o, size_t n) override {
      return f_->Map(o, n);
    }
    absl::Status Close() override { return f_->Close(); }

   private:
    std::unique_ptr<File> f_;
    const std::string path_;
    HookedFileSystem& fs_;
  };
  FileSystem& base_;
};

// Holds the first thread to Pass() once armed, until Release().
class Gate {
 public:
  void Arm() { armed_ = true; }
  void Pass() {
    if (!armed_.exchange(false)) return;
    entered_.set_value();
    released_.wait();
  }
  void AwaitEntered() { entered_.get_future().wait(); }
  void Release() { release_.set_value(); }

 private:
  std::atomic<bool> armed_{false};
  std::promise<void> entered_;
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
};

// Runs `append` on a thread that `gate` holds inside the log's I/O, and
// checks that meanwhile a read from offset 0 finishes, returning batches up
// to `readable_end` (what was in the log before).
template <typename Log>
void ExpectReadsWhileHeld(Log& log, Gate& gate, const std::function<void()>& append,
                          Offset readable_end) {
  gate.Arm();
  std::thread appender(append);
  gate.AwaitEntered();
  // A read that waited for the append would wait until the release below:
  // give it ten seconds.
  auto read = std::async(std::launch::async, [&] {
    std::vector<std::byte> buffer;
    absl::StatusOr<LogReadResult> r = log.Read(Offset(0), buffer);
    return r.ok() ? r->next_offset : Offset(-1);
  });
  const bool read_done = read.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  CHECK(read_done);
  CHECK(log.log_end_offset() == readable_end);
  gate.Release();
  appender.join();
  if (read_done) CHECK(read.get() == readable_end);
}

TEST_CASE("a read does not wait for an append's write, and sees the batch once it is done") {
  MemFileSystem base;
  HookedFileSystem fs(base);
  Gate gate;
  fs.before_write_at = [&](std::string_view path) {
    if (path.ends_with(".log")) gate.Pass();
  };
  ManualClock clock;
  auto log = *SegmentedLog<HookedFileSystem, ManualClock>::Open(fs, clock, kDir, SmallSegments());
  MustAppend(*log, MakeBatch({"a", "b"}));
  ExpectReadsWhileHeld(
      *log, gate, [&] { MustAppend(*log, MakeBatch({"c"})); }, Offset(2));
  CHECK(log->log_end_offset() == Offset(3));
  std::vector<std::byte> buffer;
  absl::StatusOr<LogReadResult> after = log->Read(Offset(2), buffer);
  REQUIRE(after.ok());
  CHECK(after->next_offset == Offset(3));
}

TEST_CASE("a read does not wait for a roll's sync of the segment it seals") {
  MemFileSystem base;
  HookedFileSystem fs(base);
  Gate gate;
  fs.before_sync = [&] { gate.Pass(); };
  ManualClock clock;
  auto log = *SegmentedLog<HookedFileSystem, ManualClock>::Open(fs, clock, kDir, SmallSegments());
  const std::string big(3000, 'x');
  MustAppend(*log, MakeBatch({big}));
  REQUIRE(log->segment_count() == 1);
  // The next batch does not fit in the 4 KiB segment: its append rolls,
  // syncing the first segment (durability none syncs nothing else).
  ExpectReadsWhileHeld(
      *log, gate, [&] { MustAppend(*log, MakeBatch({big})); }, Offset(1));
  CHECK(log->segment_count() == 2);
  CHECK(log->log_end_offset() == Offset(2));
}

TEST_CASE("appenders that wait for the same sync share one fdatasync") {
  MemFileSystem base;
  HookedFileSystem fs(base);
  // A sync takes a while, like a disk's: appenders that arrive during one
  // must be covered by the next single sync.
  std::atomic<int> syncs{0};
  fs.before_sync = [&] {
    syncs.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  };
  ManualClock clock;
  LogConfig config = SmallSegments();
  config.segment_bytes = 1 << 20;
  config.durability = Durability::kEveryAppend;
  auto log = *SegmentedLog<HookedFileSystem, ManualClock>::Open(fs, clock, kDir, config);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  const int syncs_before = syncs.load();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) REQUIRE(TryAppend(*log, MakeBatch({"v"})).ok());
    });
  }
  for (std::thread& t : threads) t.join();
  const int synced = syncs.load() - syncs_before;
  INFO("syncs: " << synced << " for " << kThreads * kPerThread << " appends");
  // Without sharing there would be one sync per append.
  CHECK(synced < kThreads * kPerThread * 3 / 4);
  CHECK(log->durable_offset() == Offset(kThreads * kPerThread));
}

// The property the storage layer exists for: after a crash at any point
// (a fault that starts at a random operation and never clears, followed by
// the loss of everything not synced and a torn last write), reopening
// yields exactly the acknowledged batches, in order, possibly followed by
// batches whose append failed, and never a corrupt record; appends then
// continue at the right offset.
TEST_CASE("crash at any point recovers exactly the acknowledged batches") {
  const FsOp kOps[] = {FsOp::kAppend, FsOp::kSync,     FsOp::kSyncDir, FsOp::kRename,
                       FsOp::kOpen,   FsOp::kTruncate, FsOp::kWriteAt, FsOp::kMapSync};
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937_64 rng(seed);
    MemFileSystem base;
    FaultyFileSystem fs(base);
    ManualClock clock(1'000'000);
    LogConfig config;
    config.segment_bytes = 2048 + rng() % 4096;
    config.index_interval_bytes = 128;
    config.segment_index_bytes = 2048;
    config.durability = Durability::kEveryAppend;

    struct Attempt {
      Offset base;
      std::vector<std::string> values;
      bool acked;
    };
    std::vector<Attempt> attempts;
    const int reopen_before = static_cast<int>(rng() % 3);
    for (int round = 0; round <= reopen_before; ++round) {
      auto opened = FaultyLog::Open(fs, clock, kDir, config);
      REQUIRE(opened.ok());
      auto& log = *opened;
      const bool crash_this_round = round == reopen_before;
      const int appends = 5 + static_cast<int>(rng() % 40);
      const int fault_at = static_cast<int>(rng() % appends);
      for (int i = 0; i < appends; ++i) {
        if (crash_this_round && i == fault_at) {
          fs.AddFault(FaultRule(kOps[rng() % std::size(kOps)]).Skip(rng() % 3).Forever());
        }
        std::vector<std::string> values;
        const int n = 1 + static_cast<int>(rng() % 5);
        for (int j = 0; j < n; ++j) {
          values.push_back("r" + std::to_string(round) + "-" + std::to_string(i) + "-" +
                           std::to_string(j) + std::string(rng() % 200, 'x'));
        }
        std::vector<std::byte> batch = MakeBatch(values, clock.WallMs());
        absl::StatusOr<AppendResult> r = log->Append(batch);
        attempts.push_back({r.ok() ? r->base_offset : Offset(-1), values, r.ok()});
        // Every other append writes zeros ahead, as a partition does: the
        // crash may keep them, cut them or tear them.
        if (i % 2 == 1) log->PrepareTail();
        clock.AdvanceMs(1);
      }
      if (!crash_this_round) REQUIRE(log->Close().ok());
    }
    fs.SimulateCrash(seed);
    fs.ClearFaults();

    auto reopened = FaultyLog::Open(fs, clock, kDir, config);
    REQUIRE(reopened.ok());
    auto& log = *reopened;
    std::vector<TestRecord> records = ReadAll(*log);  // throws on any corrupt record
    size_t at = 0;
    Offset expected(0);
    for (const Attempt& attempt : attempts) {
      if (!attempt.acked) continue;
      REQUIRE(attempt.base == expected);
      for (const std::string& value : attempt.values) {
        REQUIRE(at < records.size());
        CHECK(records[at].offset == expected);
        CHECK(records[at].value == value);
        ++at;
        ++expected;
      }
    }
    // Anything after the acknowledged prefix must be an attempted batch.
    while (at < records.size()) {
      bool matched = false;
      for (const Attempt& attempt : attempts) {
        if (!attempt.acked && at + attempt.values.size() <= records.size() &&
            records[at].value == attempt.values[0]) {
          for (size_t j = 0; j < attempt.values.size(); ++j) {
            CHECK(records[at + j].value == attempt.values[j]);
          }
          at += attempt.values.size();
          matched = true;
          break;
        }
      }
      REQUIRE(matched);
    }
    CHECK(log->log_end_offset() == (records.empty() ? Offset(0) : records.back().offset + 1));
    AppendResult next = MustAppend(*log, MakeBatch({"after-crash"}));
    CHECK(next.base_offset == log->log_end_offset() - 1);
    CHECK(ReadAll(*log).back().value == "after-crash");
  }
}

TEST_CASE("a torn tail is dropped and reported on recovery") {
  MemFileSystem fs;
  ManualClock clock;
  {
    auto log = *MemLog::Open(fs, clock, kDir, LogConfig{});
    for (int i = 0; i < 5; ++i) MustAppend(*log, MakeBatch({"v" + std::to_string(i)}));
    // No Close: the next open recovers.
  }
  const std::string path = JoinPath(kDir, internal::SegmentFileName(Offset(0), ".log"));
  {
    auto file = *fs.Open(path, OpenMode::kReadWrite);
    const uint64_t size = *file->Size();
    REQUIRE(file->Truncate(size - 7).ok());                      // tear the last batch
    REQUIRE(file->Append(AsBytes(std::string(40, '\0'))).ok());  // and add zeros
  }
  std::vector<RecoveryEvent> events;
  auto log = *MemLog::Open(fs, clock, kDir, LogConfig{}, CollectingEvents(events));
  REQUIRE(events.size() == 1);
  CHECK(events[0].path == path);
  CHECK(events[0].dropped_bytes > 40);
  CHECK(log->log_end_offset() == Offset(4));
  CHECK(ReadAll(*log).size() == 4);
  CHECK(MustAppend(*log, MakeBatch({"next"})).base_offset == Offset(4));
}

}  // namespace
}  // namespace evlog

namespace evlog {
namespace {

TEST_CASE("interval durability syncs what came before once the interval has passed") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  ManualClock clock(10'000);
  LogConfig config;
  config.durability = Durability::kInterval;
  config.flush_interval_ms = 1000;
  auto log = *FaultyLog::Open(fs, clock, kDir, config);
  MustAppend(*log, MakeBatch({"a"}));
  MustAppend(*log, MakeBatch({"b"}));
  const uint64_t syncs = fs.stats().syncs;
  CHECK(log->durable_offset() == Offset(0));
  clock.AdvanceMs(1000);
  MustAppend(*log, MakeBatch({"c"}));
  CHECK(fs.stats().syncs > syncs);
  CHECK(log->durable_offset() == Offset(2));  // everything before the third append
  // A failing interval sync fails the append that triggered it, with nothing written.
  clock.AdvanceMs(1000);
  fs.AddFault(FaultRule(FsOp::kSync).PathContains(".log"));
  CHECK(!TryAppend(*log, MakeBatch({"d"})).ok());
  CHECK(log->log_end_offset() == Offset(3));
  MustAppend(*log, MakeBatch({"e"}));
  CHECK(log->durable_offset() == Offset(3));
}

// --- Filler written ahead of the appends (PrepareTail) ---

std::string SegmentLogPath(Offset base) {
  return JoinPath(kDir, internal::SegmentFileName(base, ".log"));
}

// The bytes of `path` from `from` on.
std::string FileBytesFrom(FileSystem& fs, const std::string& path, uint64_t from = 0) {
  auto file = fs.Open(path, OpenMode::kReadOnly);
  REQUIRE(file.ok());
  auto size = (*file)->Size();
  REQUIRE(size.ok());
  REQUIRE(*size >= from);
  std::string bytes(*size - from, '\0');
  auto n = (*file)->ReadAt(
      from, MutableByteView(reinterpret_cast<std::byte*>(bytes.data()), bytes.size()));
  REQUIRE(n.ok());
  REQUIRE(*n == bytes.size());
  return bytes;
}

TEST_CASE("filler written ahead of small appends is never read, and appends land in it") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, LogConfig{});
  std::vector<std::string> values;
  uint64_t most_ahead = 0;
  for (int i = 0; i < 120; ++i) {
    values.push_back("v" + std::to_string(i) + std::string(100, 'x'));
    MustAppend(*log, MakeBatch({values.back()}));
    log->PrepareTail();
    const uint64_t file = *fs.FileSize(SegmentLogPath(Offset(0)));
    REQUIRE(file >= log->size_bytes());
    // Always at least kFillAheadBytes of filler past the last batch.
    CHECK(file >= log->size_bytes() + LogSegment::kFillAheadBytes);
    CHECK(FileBytesFrom(fs, SegmentLogPath(Offset(0)), log->size_bytes()) ==
          std::string(file - log->size_bytes(), '\xFF'));
    most_ahead = std::max(most_ahead, file - log->size_bytes());
  }
  CHECK(most_ahead < 3 * LogSegment::kFillAheadBytes);  // a window, not the whole segment
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(all.size() == values.size());
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].offset == Offset(static_cast<int64_t>(i)));
    CHECK(all[i].value == values[i]);
  }
  // A tail read asks for more bytes than the log has: it ends at the last batch.
  std::vector<std::byte> buffer;
  auto tail = log->Read(Offset(119), buffer);
  REQUIRE(tail.ok());
  CHECK(tail->next_offset == Offset(120));
  CHECK(DecodeAll(tail->batches).size() == 1);
}

TEST_CASE("no filler is written ahead of appends of a page or more") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, LogConfig{});
  log->PrepareTail();  // nothing appended yet
  CHECK(*fs.FileSize(SegmentLogPath(Offset(0))) == 0);
  MustAppend(*log, MakeBatch({std::string(LogSegment::kFillAheadBytes, 'b')}));
  log->PrepareTail();
  CHECK(*fs.FileSize(SegmentLogPath(Offset(0))) == log->size_bytes());
  MustAppend(*log, MakeBatch({"small"}));
  log->PrepareTail();
  CHECK(*fs.FileSize(SegmentLogPath(Offset(0))) > log->size_bytes());
}

TEST_CASE("a roll and a close cut the filler off, and a clean reopen reads the same log") {
  MemFileSystem fs;
  ManualClock clock;
  std::vector<Offset> bases;
  {
    auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
    for (int i = 0; i < 100; ++i) {
      MustAppend(*log, MakeSizedBatch(1, 60, i));
      log->PrepareTail();
    }
    bases = log->segment_base_offsets();
    REQUIRE(bases.size() >= 3);
    uint64_t sealed_bytes = 0;
    for (size_t i = 0; i + 1 < bases.size(); ++i) {
      sealed_bytes += *fs.FileSize(SegmentLogPath(bases[i]));
    }
    const uint64_t active_file = *fs.FileSize(SegmentLogPath(bases.back()));
    REQUIRE(log->size_bytes() >= sealed_bytes);
    CHECK(active_file > log->size_bytes() - sealed_bytes);  // filler ahead
    REQUIRE(log->Close().ok());
    // Every file now holds exactly its batches.
    const uint64_t active_closed = *fs.FileSize(SegmentLogPath(bases.back()));
    CHECK(sealed_bytes + active_closed == log->size_bytes());
  }
  std::vector<RecoveryEvent> events;
  auto log = *MemLog::Open(fs, clock, kDir, SmallSegments(), CollectingEvents(events));
  CHECK(events.empty());
  CHECK(log->segment_base_offsets() == bases);
  CHECK(log->log_end_offset() == Offset(100));
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(all.size() == 100);
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].offset == Offset(static_cast<int64_t>(i)));
  CHECK(MustAppend(*log, MakeBatch({"next"})).base_offset == Offset(100));
}

TEST_CASE("recovery cuts off synced filler without a report") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  ManualClock clock;
  LogConfig config;
  config.durability = Durability::kEveryAppend;
  {
    auto log = *FaultyLog::Open(fs, clock, kDir, config);
    MustAppend(*log, MakeBatch({"a"}));
    log->PrepareTail();
    MustAppend(*log, MakeBatch({"b"}));  // its sync makes the filler after it durable
    REQUIRE(*fs.FileSize(SegmentLogPath(Offset(0))) > log->size_bytes());
    fs.SimulateCrash(/*seed=*/1);
  }
  REQUIRE(*base.FileSize(SegmentLogPath(Offset(0))) > LogSegment::kFillAheadBytes);
  std::vector<RecoveryEvent> events;
  auto log = *FaultyLog::Open(fs, clock, kDir, config, CollectingEvents(events));
  CHECK(events.empty());
  CHECK(log->log_end_offset() == Offset(2));
  CHECK(*fs.FileSize(SegmentLogPath(Offset(0))) == log->size_bytes());
  CHECK(MustAppend(*log, MakeBatch({"c"})).base_offset == Offset(2));
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(all.size() == 3);
  CHECK(all[2].value == "c");
}

TEST_CASE("a close that cannot cut the filler off still syncs, and the next open cuts it") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  ManualClock clock;
  LogConfig config;
  config.durability = Durability::kNone;  // only Close's sync makes the batches durable
  {
    auto log = *FaultyLog::Open(fs, clock, kDir, config);
    for (int i = 0; i < 10; ++i) {
      MustAppend(*log, MakeBatch({"v" + std::to_string(i)}));
      log->PrepareTail();
    }
    fs.AddFault(FaultRule(FsOp::kTruncate).PathContains(".log").Forever());
    CHECK(!log->Close().ok());
  }
  fs.SimulateCrash(/*seed=*/3);
  fs.ClearFaults();
  REQUIRE(*fs.FileSize(SegmentLogPath(Offset(0))) > LogSegment::kFillAheadBytes);
  std::vector<RecoveryEvent> events;
  auto log = *FaultyLog::Open(fs, clock, kDir, config, CollectingEvents(events));
  CHECK(events.empty());
  CHECK(log->log_end_offset() == Offset(10));
  CHECK(*fs.FileSize(SegmentLogPath(Offset(0))) == log->size_bytes());
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(all.size() == 10);
  CHECK(all[9].value == "v9");
}

// Partition::Append calls PrepareTail after every append, on the appending
// thread: with several appenders the filler is written beside other
// threads' appends and rolls (which cut it) and readers (which must never
// see it). Every batch reads back whole and in each thread's order, and the
// closed files hold exactly their batches.
template <typename FS>
void FillAheadWhileAppendingRollingAndReading(FS& fs, const std::string& dir) {
  ManualClock clock;
  LogConfig config;
  config.segment_bytes = 16 << 10;  // a roll every ~100 batches
  config.segment_index_bytes = 4096;
  config.index_interval_bytes = 256;
  constexpr int kAppenders = 3;
  constexpr int kPerAppender = 400;
  std::vector<Offset> bases;
  {
    auto log = *SegmentedLog<FS, ManualClock>::Open(fs, clock, dir, config);
    std::atomic<int> appenders_left{kAppenders};
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kAppenders; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerAppender; ++i) {
          std::vector<std::byte> batch =
              MakeBatch({"t" + std::to_string(t) + "-" + std::to_string(i) + std::string(90, 'x')});
          if (!log->Append(batch).ok()) bad.fetch_add(1);
          log->PrepareTail();
        }
        appenders_left.fetch_sub(1);
      });
    }
    threads.emplace_back([&] {
      std::vector<std::byte> buffer;
      Offset next(0);
      while (appenders_left.load() > 0 || next < log->log_end_offset()) {
        absl::StatusOr<LogReadResult> read = log->Read(next, buffer);
        if (!read.ok()) {
          bad.fetch_add(1);
          return;
        }
        // Records decode only from whole, CRC-checked batches.
        for (const TestRecord& r : DecodeAll(read->batches)) {
          if (r.offset >= next && (!r.value || r.value->size() < 90)) bad.fetch_add(1);
        }
        next = read->next_offset;
      }
    });
    for (std::thread& thread : threads) thread.join();
    CHECK(bad.load() == 0);
    REQUIRE(log->log_end_offset() == Offset(kAppenders * kPerAppender));
    std::vector<int> last(kAppenders, -1);
    for (const TestRecord& r : ReadAll(*log)) {
      int t = 0;
      int i = 0;
      REQUIRE(r.value.has_value());
      REQUIRE(std::sscanf(r.value->c_str(), "t%d-%d", &t, &i) == 2);
      REQUIRE(t < kAppenders);
      CHECK(i == last[t] + 1);
      last[t] = i;
    }
    bases = log->segment_base_offsets();
    CHECK(bases.size() >= 3);
    const uint64_t size = log->size_bytes();
    REQUIRE(log->Close().ok());
    uint64_t files = 0;
    for (Offset base : bases) {
      files += *fs.FileSize(JoinPath(dir, internal::SegmentFileName(base, ".log")));
    }
    CHECK(files == size);
  }
  std::vector<RecoveryEvent> events;
  auto log = *SegmentedLog<FS, ManualClock>::Open(fs, clock, dir, config, CollectingEvents(events));
  CHECK(events.empty());
  CHECK(log->segment_base_offsets() == bases);
  CHECK(ReadAll(*log).size() == static_cast<size_t>(kAppenders * kPerAppender));
}

TEST_CASE("filler written beside other threads' appends, rolls and reads never shows") {
  SECTION("in memory") {
    MemFileSystem fs;
    FillAheadWhileAppendingRollingAndReading(fs, kDir);
  }
  SECTION("on files") {
    testing::TempDir dir;
    PosixFileSystem fs;
    FillAheadWhileAppendingRollingAndReading(fs, dir.path() + "/topic-0");
  }
}

// What a file system may show after a crash for appended data it lost: the
// file's new size, with zeros in it. Not the log's filler, so it is reported.
TEST_CASE("zeros after the newest segment's batches are cut and reported") {
  MemFileSystem fs;
  ManualClock clock;
  uint64_t size = 0;
  {
    auto log = *MemLog::Open(fs, clock, kDir, LogConfig{});
    for (int i = 0; i < 3; ++i) MustAppend(*log, MakeBatch({"v" + std::to_string(i)}));
    size = log->size_bytes();
    REQUIRE(log->Close().ok());
  }
  {
    auto file = *fs.Open(SegmentLogPath(Offset(0)), OpenMode::kReadWrite);
    REQUIRE(file->WriteAt(size, AsBytes(std::string(300, '\0'))).ok());
  }
  std::vector<RecoveryEvent> events;
  auto log = *MemLog::Open(fs, clock, kDir, LogConfig{}, CollectingEvents(events));
  REQUIRE(events.size() == 1);
  CHECK(events[0].position == size);
  CHECK(events[0].dropped_bytes == 300);
  CHECK(log->log_end_offset() == Offset(3));
  CHECK(*fs.FileSize(SegmentLogPath(Offset(0))) == size);
}

TEST_CASE("filler after a sealed segment's batches is cut silently only when none are missing") {
  // As a crash that undid the cut made on sealing would leave them; no
  // checkpoint, so that recovery reads every segment.
  MemFileSystem fs;
  ManualClock clock;
  uint64_t first_segment_bytes = 0;
  uint64_t three_batches_bytes = 0;
  {
    auto log = *MemLog::Open(fs, clock, kDir, LogConfig{});
    for (int i = 0; i < 4; ++i) {
      if (i == 3) three_batches_bytes = log->size_bytes();
      MustAppend(*log, MakeBatch({"v" + std::to_string(i)}));
    }
    first_segment_bytes = log->size_bytes();
    REQUIRE(log->Roll().ok());
    MustAppend(*log, MakeBatch({"v4"}));
    REQUIRE(log->Close().ok());
  }
  REQUIRE(fs.Remove(JoinPath(kDir, internal::kLogCheckpointFileName)).ok());
  const bool missing = GENERATE(false, true);
  INFO("batches missing before the filler: " << missing);
  {
    auto file = *fs.Open(SegmentLogPath(Offset(0)), OpenMode::kReadWrite);
    // Without its last batch, the segment no longer reaches offset 4: the
    // filler then stands where a batch was lost.
    if (missing) REQUIRE(file->Truncate(three_batches_bytes).ok());
    const uint64_t size = *file->Size();
    REQUIRE(file->WriteAt(size, AsBytes(std::string(LogSegment::kFillAheadBytes, '\xFF'))).ok());
  }
  std::vector<RecoveryEvent> events;
  auto log = *MemLog::Open(fs, clock, kDir, LogConfig{}, CollectingEvents(events));
  if (missing) {
    REQUIRE(events.size() == 2);  // the cut, and the segment after it dropped, once
    CHECK(events[0].path == SegmentLogPath(Offset(0)));
    CHECK(events[1].path == SegmentLogPath(Offset(4)));
    CHECK(log->segment_count() == 1);
    CHECK(log->log_end_offset() == Offset(3));
  } else {
    CHECK(events.empty());
    CHECK(log->segment_count() == 2);
    CHECK(log->log_end_offset() == Offset(5));
    CHECK(*fs.FileSize(SegmentLogPath(Offset(0))) == first_segment_bytes);
  }
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(all.size() == (missing ? 3u : 5u));
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].value == "v" + std::to_string(i));
}

TEST_CASE("many logs reopen after a clean shutdown without opening a segment file") {
  MemFileSystem fs;
  ManualClock clock;
  constexpr int kLogs = 300;
  for (int i = 0; i < kLogs; ++i) {
    auto log = *MemLog::Open(fs, clock, "/data/t-" + std::to_string(i), SmallSegments());
    for (int j = 0; j < 12; ++j) MustAppend(*log, MakeSizedBatch(2, 100, j));
    REQUIRE(log->Close().ok());
  }
  std::vector<std::unique_ptr<MemLog>> logs;
  size_t open = 0;
  for (int i = 0; i < kLogs; ++i) {
    logs.push_back(*MemLog::Open(fs, clock, "/data/t-" + std::to_string(i), SmallSegments()));
    open += logs.back()->open_segment_count();
    CHECK(logs.back()->log_end_offset() == Offset(24));
  }
  CHECK(open == 0);
  CHECK(ReadAll(*logs[7]).size() == 24);
  CHECK(logs[7]->open_segment_count() >= 1);
  CHECK(logs[8]->open_segment_count() == 0);
}

}  // namespace
}  // namespace evlog

namespace evlog {
namespace {

TEST_CASE("a roll whose checkpoint write fails keeps its new segment") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  ManualClock clock;
  LogConfig config = SmallSegments();
  config.durability = Durability::kEveryAppend;
  {
    auto log = *FaultyLog::Open(fs, clock, kDir, config);
    while (log->segment_count() == 1) MustAppend(*log, MakeSizedBatch(3, 100, 1));
    const Offset end = log->log_end_offset();
    const size_t segments = log->segment_count();
    // Fill the active segment until the next append must roll.
    while (log->segment_count() == segments) {
      fs.AddFault(FaultRule(FsOp::kRename).PathContains("log.checkpoint"));
      absl::StatusOr<AppendResult> r = TryAppend(*log, MakeSizedBatch(3, 100, 2));
      fs.ClearFaults();
      if (!r.ok()) break;
    }
    // The roll happened, its checkpoint did not: the append failed, and the
    // next one goes into the new segment instead of failing for good.
    CHECK(log->segment_count() == segments + 1);
    const Offset before = log->log_end_offset();
    CHECK(before > end);
    AppendResult next = MustAppend(*log, MakeSizedBatch(3, 100, 3));
    CHECK(next.base_offset == before);
    CHECK(log->segment_base_offsets().back() == before);
  }
  fs.SimulateCrash(1);
  auto log = *FaultyLog::Open(fs, clock, kDir, config);
  std::vector<TestRecord> all = ReadAll(*log);
  REQUIRE(!all.empty());
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].offset == Offset(static_cast<int64_t>(i)));
  CHECK(log->log_end_offset() == all.back().offset + 1);
}

}  // namespace
}  // namespace evlog

namespace evlog {
namespace {

TEST_CASE("an append that skips the record check still refuses a batch whose CRC is wrong") {
  MemFileSystem fs;
  ManualClock clock(1'000'000);
  auto log = MemLog::Open(fs, clock, kDir, LogConfig{});
  REQUIRE(log.ok());
  // A record length that runs past the batch, under a CRC that matches.
  std::vector<std::byte> bad_record = testing::MakeBatch({"abc"});
  bad_record[record_format::kRecordBatchOverhead] = std::byte{0x7E};
  UpdateBatchCrc(MutableByteView(bad_record));
  AppendOptions full;
  AppendOptions crc_only;
  crc_only.verify_records = false;
  std::vector<std::byte> copy = bad_record;
  CHECK(HasErrorCode((*log)->Append(copy, full).status(), ErrorCode::kCorruptMessage));
  CHECK((*log)->log_end_offset() == Offset(0));
  // Without the record check it goes in: a follower trusts its leader's
  // records once their CRC holds.
  copy = bad_record;
  CHECK((*log)->Append(copy, crc_only).ok());
  // A damaged copy is refused either way, and nothing is written.
  std::vector<std::byte> damaged = testing::MakeBatch({"def"});
  damaged.back() ^= std::byte{0x01};
  CHECK(HasErrorCode((*log)->Append(damaged, crc_only).status(), ErrorCode::kCorruptMessage));
  CHECK((*log)->log_end_offset() == Offset(1));
}

}  // namespace
}  // namespace evlog
