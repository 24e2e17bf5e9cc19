// SegmentedLog and its leader-epoch cache: the cache follows appends,
// truncation, retention and crashes, and is rebuilt when its file is gone.
#include <random>
#include <string>
#include <vector>

#include "evlog/io/clock.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/record/record_batch.h"
#include "evlog/storage/segmented_log.h"
#include "tests/support/batches.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::MakeBatch;
using testing::MakeSizedBatch;

using MemLog = SegmentedLog<MemFileSystem, ManualClock>;
using FaultyLog = SegmentedLog<FaultyFileSystem, ManualClock>;

constexpr char kDir[] = "/data/topic-0";

LogConfig SmallSegments() {
  LogConfig config;
  config.segment_bytes = 4096;
  config.index_interval_bytes = 256;
  config.segment_index_bytes = 4096;
  return config;
}

template <typename Log>
AppendResult AppendInEpoch(Log& log, int epoch, int records = 3) {
  std::vector<std::byte> batch = MakeSizedBatch(records, 100, static_cast<uint64_t>(epoch));
  AppendOptions options;
  options.leader_epoch = LeaderEpoch(epoch);
  absl::StatusOr<AppendResult> r = log.Append(batch, options);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

std::vector<EpochEntry> Entries(std::initializer_list<std::pair<int, int64_t>> list) {
  std::vector<EpochEntry> out;
  for (auto [epoch, start] : list) out.push_back(EpochEntry{LeaderEpoch(epoch), Offset(start)});
  return out;
}

TEST_CASE("appends record the first offset of each new leader epoch") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
  CHECK(!log->latest_epoch().has_value());
  CHECK(log->EndOffsetForEpoch(LeaderEpoch(0)).undefined());

  AppendInEpoch(*log, 0);  // [0, 3)
  AppendInEpoch(*log, 0);  // [3, 6)
  AppendInEpoch(*log, 2);  // [6, 9)
  AppendInEpoch(*log, 5);  // [9, 12)
  CHECK(log->epoch_entries() == Entries({{0, 0}, {2, 6}, {5, 9}}));
  CHECK(log->latest_epoch() == LeaderEpoch(5));
  CHECK(log->EndOffsetForEpoch(LeaderEpoch(5)) == EpochEndOffset{LeaderEpoch(5), Offset(12)});
  CHECK(log->EndOffsetForEpoch(LeaderEpoch(3)) == EpochEndOffset{LeaderEpoch(2), Offset(9)});
  CHECK(log->EndOffsetForEpoch(LeaderEpoch(0)) == EpochEndOffset{LeaderEpoch(0), Offset(6)});
  CHECK(log->EndOffsetForEpoch(LeaderEpoch(6)).undefined());

  SECTION("a follower's batches keep the epoch their leader stamped") {
    std::vector<std::byte> batch = MakeSizedBatch(2, 50, 9);
    SetBaseOffset(batch, Offset(20));
    SetPartitionLeaderEpoch(batch, LeaderEpoch(7));
    AppendOptions follower;
    follower.assign_offsets = false;
    REQUIRE(log->Append(batch, follower).ok());
    CHECK(log->epoch_entries() == Entries({{0, 0}, {2, 6}, {5, 9}, {7, 20}}));
  }
  SECTION("a batch without an epoch, or with an older one, records nothing") {
    std::vector<std::byte> plain = MakeBatch({"x"});
    REQUIRE(log->Append(plain).ok());
    AppendInEpoch(*log, 2);
    CHECK(log->epoch_entries() == Entries({{0, 0}, {2, 6}, {5, 9}}));
  }
  SECTION("the entries survive a clean reopen") {
    REQUIRE(log->Close().ok());
    log.reset();
    auto reopened = *MemLog::Open(fs, clock, kDir, SmallSegments());
    CHECK(reopened->epoch_entries() == Entries({{0, 0}, {2, 6}, {5, 9}}));
  }
}

TEST_CASE("truncation and log-start moves cut the epoch cache with the log") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
  for (int epoch : {0, 0, 2, 2, 5, 5}) AppendInEpoch(*log, epoch);  // 3 records each
  REQUIRE(log->epoch_entries() == Entries({{0, 0}, {2, 6}, {5, 12}}));

  SECTION("TruncateTo removes the epochs that started at or after the cut") {
    REQUIRE(log->TruncateTo(Offset(12)).ok());
    CHECK(log->epoch_entries() == Entries({{0, 0}, {2, 6}}));
    CHECK(log->EndOffsetForEpoch(LeaderEpoch(2)) == EpochEndOffset{LeaderEpoch(2), Offset(12)});
    // A new epoch after the cut starts where the log now ends.
    AppendInEpoch(*log, 6);
    CHECK(log->epoch_entries() == Entries({{0, 0}, {2, 6}, {6, 12}}));
  }
  SECTION("DeleteRecordsBefore moves the oldest remaining epoch's start up") {
    REQUIRE(log->DeleteRecordsBefore(Offset(8)).ok());
    CHECK(log->epoch_entries() == Entries({{2, 8}, {5, 12}}));
    CHECK(log->EndOffsetForEpoch(LeaderEpoch(1)) == EpochEndOffset{LeaderEpoch(1), Offset(8)});
  }
  SECTION("TruncateFullyAndStartAt forgets every epoch") {
    REQUIRE(log->TruncateFullyAndStartAt(Offset(40)).ok());
    CHECK(log->epoch_entries().empty());
    AppendInEpoch(*log, 7);
    CHECK(log->epoch_entries() == Entries({{7, 40}}));
  }
  // Whatever happened, the file says the same after a reopen.
  const std::vector<EpochEntry> before = log->epoch_entries();
  REQUIRE(log->Close().ok());
  log.reset();
  auto reopened = *MemLog::Open(fs, clock, kDir, SmallSegments());
  CHECK(reopened->epoch_entries() == before);
}

TEST_CASE("BeginLeaderEpoch starts an epoch at the log end before anything is written") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
  AppendInEpoch(*log, 1);
  REQUIRE(log->BeginLeaderEpoch(LeaderEpoch(3)).ok());
  CHECK(log->epoch_entries() == Entries({{1, 0}, {3, 3}}));
  // A follower of epoch 1 learns that its epoch ended at 3.
  CHECK(log->EndOffsetForEpoch(LeaderEpoch(1)) == EpochEndOffset{LeaderEpoch(1), Offset(3)});
  SECTION("a truncation at the log end forgets an epoch that wrote nothing") {
    // The deposed leader's epoch 3 holds no batch: as a follower it must
    // not name it as its last epoch.
    REQUIRE(log->TruncateTo(log->log_end_offset()).ok());
    CHECK(log->epoch_entries() == Entries({{1, 0}}));
    CHECK(log->latest_epoch() == LeaderEpoch(1));
    return;
  }
  // Not newer: nothing changes.
  REQUIRE(log->BeginLeaderEpoch(LeaderEpoch(2)).ok());
  REQUIRE(log->BeginLeaderEpoch(LeaderEpoch(3)).ok());
  AppendInEpoch(*log, 3);
  CHECK(log->epoch_entries() == Entries({{1, 0}, {3, 3}}));
}

TEST_CASE("a missing or corrupt leader-epoch-checkpoint is rebuilt from the batches") {
  MemFileSystem fs;
  ManualClock clock;
  const std::string path = std::string(kDir) + "/" + LeaderEpochCache::kFileName;
  {
    auto log = *MemLog::Open(fs, clock, kDir, SmallSegments());
    // Enough to span several segments, so the rebuild reads sealed ones.
    for (int epoch : {0, 0, 0, 0, 3, 3, 3, 3, 3, 3, 4, 4, 9, 9, 9, 9})
      AppendInEpoch(*log, epoch, 10);
    REQUIRE(log->segment_count() > 2);
    REQUIRE(log->DeleteRecordsBefore(Offset(15)).ok());
    REQUIRE(log->Close().ok());
  }
  const std::vector<EpochEntry> expected = Entries({{0, 15}, {3, 40}, {4, 100}, {9, 120}});
  std::vector<RecoveryEvent> events;
  LogOpenOptions options;
  options.reporter = [&](const RecoveryEvent& e) { events.push_back(e); };

  SECTION("missing") {
    REQUIRE(fs.Remove(path).ok());
    auto log = *MemLog::Open(fs, clock, kDir, SmallSegments(), options);
    CHECK(log->epoch_entries() == expected);
    CHECK(events.empty());
  }
  SECTION("corrupt") {
    auto file = *fs.Open(path, OpenMode::kCreate);
    REQUIRE(file->Truncate(0).ok());
    REQUIRE(file->Append(AsBytes(std::string("0\n3\n0 15\n9 3\n"))).ok());
    REQUIRE(file->Close().ok());
    auto log = *MemLog::Open(fs, clock, kDir, SmallSegments(), options);
    CHECK(log->epoch_entries() == expected);
    REQUIRE(events.size() == 1);
    CHECK(events[0].path == path);
  }
  // The rebuilt cache was written: the next open reads it.
  events.clear();
  auto again = *MemLog::Open(fs, clock, kDir, SmallSegments(), options);
  CHECK(again->epoch_entries() == expected);
  CHECK(events.empty());
}

TEST_CASE("a failed checkpoint write fails the append that needed it and changes nothing") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  ManualClock clock;
  auto log = *FaultyLog::Open(fs, clock, kDir, SmallSegments());
  AppendInEpoch(*log, 0);
  fs.AddFault(FaultRule(FsOp::kRename).PathContains("leader-epoch-checkpoint"));
  std::vector<std::byte> batch = MakeSizedBatch(3, 100, 1);
  AppendOptions options;
  options.leader_epoch = LeaderEpoch(1);
  CHECK(!log->Append(batch, options).ok());
  fs.ClearFaults();
  CHECK(log->log_end_offset() == Offset(3));
  CHECK(log->epoch_entries() == Entries({{0, 0}}));
  AppendInEpoch(*log, 1);
  CHECK(log->epoch_entries() == Entries({{0, 0}, {1, 3}}));
}

TEST_CASE("after a crash at any point the epoch cache matches the batches that survived") {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    MemFileSystem base;
    FaultyFileSystem fs(base);
    ManualClock clock;
    std::mt19937_64 rng(seed);
    LogConfig config = SmallSegments();
    {
      auto log = *FaultyLog::Open(fs, clock, kDir, config);
      int epoch = 0;
      const int appends = static_cast<int>(rng() % 30) + 1;
      for (int i = 0; i < appends; ++i) {
        if (rng() % 4 == 0) epoch += static_cast<int>(rng() % 3) + 1;
        AppendInEpoch(*log, epoch, static_cast<int>(rng() % 5) + 1);
        if (rng() % 5 == 0) REQUIRE(log->Flush().ok());
        if (rng() % 11 == 0) {
          const Offset end = log->log_end_offset();
          REQUIRE(log->TruncateTo(Offset(static_cast<int64_t>(rng() % (end.value() + 1)))).ok());
        }
      }
      fs.SimulateCrash(rng);
    }
    auto log = *FaultyLog::Open(fs, clock, kDir, config);
    // The truth: the first batch of each newer epoch among the survivors.
    std::vector<EpochEntry> truth;
    std::vector<std::byte> buffer;
    Offset next = log->log_start_offset();
    while (next < log->log_end_offset()) {
      LogReadResult read = *log->Read(next, buffer);
      INFO("reading " << next << " of [" << log->log_start_offset() << ", " << log->log_end_offset()
                      << ")");
      REQUIRE(!read.batches.empty());
      ByteView rest = read.batches;
      while (!rest.empty()) {
        const size_t size = *PeekBatchSize(rest, rest.size());
        RecordBatchView view = *RecordBatchView::Parse(rest.first(size));
        if (truth.empty() || view.partition_leader_epoch() > truth.back().epoch) {
          truth.push_back(EpochEntry{view.partition_leader_epoch(), view.base_offset()});
        }
        rest = rest.subspan(size);
      }
      next = read.next_offset;
    }
    CHECK(log->epoch_entries() == truth);
  }
}

}  // namespace
}  // namespace evlog
