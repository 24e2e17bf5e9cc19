#include "evlog/storage/leader_epoch_cache.h"

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/status.h"
#include "evlog/storage/internal/leader_epoch_checkpoint.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

constexpr char kDir[] = "/data/topic-0";
const std::string kPath = std::string(kDir) + "/leader-epoch-checkpoint";

EpochEntry E(int32_t epoch, int64_t start) { return EpochEntry{LeaderEpoch(epoch), Offset(start)}; }
EpochEndOffset End(int32_t epoch, int64_t end) {
  return EpochEndOffset{LeaderEpoch(epoch), Offset(end)};
}
const EpochEndOffset kUndefined{};

std::string ReadText(FileSystem& fs, const std::string& path) {
  auto file = fs.Open(path, OpenMode::kReadOnly);
  REQUIRE(file.ok());
  std::string text(static_cast<size_t>(*(*file)->Size()), '\0');
  REQUIRE((*file)
              ->ReadAt(0, MutableByteView(reinterpret_cast<std::byte*>(text.data()), text.size()))
              .ok());
  return text;
}

void WriteText(FileSystem& fs, const std::string& path, std::string_view text) {
  auto file = fs.Open(path, OpenMode::kCreate);
  REQUIRE(file.ok());
  REQUIRE((*file)->Truncate(0).ok());
  REQUIRE((*file)->Append(AsBytes(text)).ok());
}

// A cache holding (0, 0) (2, 40) (5, 90), the example of the header.
LeaderEpochCache Example(FileSystem& fs) {
  LeaderEpochCache cache(fs, kDir);
  REQUIRE(cache.Assign(LeaderEpoch(0), Offset(0)).ok());
  REQUIRE(cache.Assign(LeaderEpoch(2), Offset(40)).ok());
  REQUIRE(cache.Assign(LeaderEpoch(5), Offset(90)).ok());
  REQUIRE(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(2, 40), E(5, 90)});
  return cache;
}

TEST_CASE("an empty cache knows no epoch and answers every request undefined") {
  MemFileSystem fs;
  LeaderEpochCache cache(fs, kDir);
  CHECK(cache.empty());
  CHECK(!cache.LatestEpoch().has_value());
  CHECK(!cache.EarliestEntry().has_value());
  for (int32_t epoch : {-1, 0, 1, 100}) {
    CHECK(cache.EndOffsetFor(LeaderEpoch(epoch), Offset(50)) == kUndefined);
  }
  CHECK(kUndefined.undefined());
  CHECK(kUndefined.epoch == kNoLeaderEpoch);
  CHECK(kUndefined.end_offset == Offset(-1));
  CHECK(cache.IsNewerThanLatest(LeaderEpoch(0)));
  CHECK(!cache.IsNewerThanLatest(kNoLeaderEpoch));
}

TEST_CASE("Assign records each new epoch at its first offset and writes the file") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  REQUIRE(fs.CreateDir(kDir).ok());
  LeaderEpochCache cache = Example(fs);
  CHECK(cache.LatestEpoch() == LeaderEpoch(5));
  CHECK(cache.EarliestEntry() == E(0, 0));
  CHECK(cache.IsNewerThanLatest(LeaderEpoch(6)));
  CHECK(!cache.IsNewerThanLatest(LeaderEpoch(5)));
  CHECK(!cache.needs_write());
  CHECK(ReadText(fs, kPath) == "0\n3\n0 0\n2 40\n5 90\n");

  const uint64_t syncs = fs.stats().syncs;
  SECTION("the latest epoch at the same or a later offset changes nothing and writes nothing") {
    REQUIRE(cache.Assign(LeaderEpoch(5), Offset(90)).ok());
    REQUIRE(cache.Assign(LeaderEpoch(5), Offset(120)).ok());
    CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(2, 40), E(5, 90)});
    CHECK(fs.stats().syncs == syncs);
  }
  SECTION("negative epochs are ignored") {
    REQUIRE(cache.Assign(kNoLeaderEpoch, Offset(200)).ok());
    REQUIRE(cache.Assign(LeaderEpoch(-7), Offset(300)).ok());
    CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(2, 40), E(5, 90)});
    CHECK(fs.stats().syncs == syncs);
  }
  SECTION("a negative start offset is INVALID_REQUEST") {
    CHECK(GetErrorCode(cache.Assign(LeaderEpoch(6), Offset(-1))) == ErrorCode::kInvalidRequest);
    CHECK(cache.entries().size() == 3);
  }
  SECTION("the latest epoch at an earlier offset moves its start back") {
    REQUIRE(cache.Assign(LeaderEpoch(5), Offset(70)).ok());
    CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(2, 40), E(5, 70)});
    CHECK(ReadText(fs, kPath) == "0\n3\n0 0\n2 40\n5 70\n");
  }
  SECTION("a new epoch at or before the start of newer entries removes them") {
    REQUIRE(cache.Assign(LeaderEpoch(7), Offset(40)).ok());
    CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(7, 40)});
  }
  SECTION("an older epoch removes every entry it contradicts, as Kafka does") {
    REQUIRE(cache.Assign(LeaderEpoch(3), Offset(100)).ok());
    CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(2, 40), E(3, 100)});
    REQUIRE(cache.Assign(LeaderEpoch(1), Offset(50)).ok());
    CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(1, 50)});
    CHECK(cache.LatestEpoch() == LeaderEpoch(1));
    CHECK(cache.IsNewerThanLatest(LeaderEpoch(2)));
  }
}

TEST_CASE("TruncateFromEnd removes the entries starting at or after the end") {
  MemFileSystem fs;
  REQUIRE(fs.CreateDir(kDir).ok());
  LeaderEpochCache cache = Example(fs);
  REQUIRE(cache.TruncateFromEnd(Offset(91)).ok());
  CHECK(cache.entries().size() == 3);
  REQUIRE(cache.TruncateFromEnd(Offset(-1)).ok());
  CHECK(cache.entries().size() == 3);
  REQUIRE(cache.TruncateFromEnd(Offset(90)).ok());
  CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(2, 40)});
  CHECK(cache.LatestEpoch() == LeaderEpoch(2));
  CHECK(cache.IsNewerThanLatest(LeaderEpoch(3)));
  CHECK(ReadText(fs, kPath) == "0\n2\n0 0\n2 40\n");
  REQUIRE(cache.TruncateFromEnd(Offset(0)).ok());
  CHECK(cache.empty());
  CHECK(ReadText(fs, kPath) == "0\n0\n");
}

TEST_CASE("TruncateFromStart drops older entries and moves the one holding the start up") {
  MemFileSystem fs;
  REQUIRE(fs.CreateDir(kDir).ok());
  LeaderEpochCache cache = Example(fs);
  SECTION("inside the first epoch") {
    REQUIRE(cache.TruncateFromStart(Offset(20)).ok());
    CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 20), E(2, 40), E(5, 90)});
  }
  SECTION("inside a later epoch") {
    REQUIRE(cache.TruncateFromStart(Offset(50)).ok());
    CHECK(cache.entries() == std::vector<EpochEntry>{E(2, 50), E(5, 90)});
    CHECK(ReadText(fs, kPath) == "0\n2\n2 50\n5 90\n");
  }
  SECTION("exactly at an epoch's start") {
    REQUIRE(cache.TruncateFromStart(Offset(90)).ok());
    CHECK(cache.entries() == std::vector<EpochEntry>{E(5, 90)});
  }
  SECTION("past the last epoch's start") {
    REQUIRE(cache.TruncateFromStart(Offset(200)).ok());
    CHECK(cache.entries() == std::vector<EpochEntry>{E(5, 200)});
    CHECK(cache.LatestEpoch() == LeaderEpoch(5));
  }
  SECTION("at or before the first entry nothing changes") {
    REQUIRE(cache.TruncateFromStart(Offset(0)).ok());
    REQUIRE(cache.TruncateFromStart(Offset(-3)).ok());
    CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(2, 40), E(5, 90)});
  }
}

TEST_CASE("Clear removes every entry and writes an empty checkpoint") {
  MemFileSystem fs;
  REQUIRE(fs.CreateDir(kDir).ok());
  LeaderEpochCache cache = Example(fs);
  REQUIRE(cache.Clear().ok());
  CHECK(cache.empty());
  CHECK(!cache.LatestEpoch().has_value());
  CHECK(ReadText(fs, kPath) == "0\n0\n");
  auto loaded = LeaderEpochCache::Load(fs, kDir);
  REQUIRE(loaded.ok());
  CHECK(loaded->empty());
}

TEST_CASE("EndOffsetFor follows Kafka's LeaderEpochFileCache rules") {
  MemFileSystem fs;
  REQUIRE(fs.CreateDir(kDir).ok());
  LeaderEpochCache cache = Example(fs);  // (0, 0) (2, 40) (5, 90)
  const Offset log_end(120);
  // The latest epoch ends at the log end: it may still be writing.
  CHECK(cache.EndOffsetFor(LeaderEpoch(5), log_end) == End(5, 120));
  // A known older epoch ends where the next one starts.
  CHECK(cache.EndOffsetFor(LeaderEpoch(0), log_end) == End(0, 40));
  CHECK(cache.EndOffsetFor(LeaderEpoch(2), log_end) == End(2, 90));
  // An epoch that never wrote: the largest epoch below it, ending where the
  // first epoch above it starts.
  CHECK(cache.EndOffsetFor(LeaderEpoch(1), log_end) == End(0, 40));
  CHECK(cache.EndOffsetFor(LeaderEpoch(3), log_end) == End(2, 90));
  CHECK(cache.EndOffsetFor(LeaderEpoch(4), log_end) == End(2, 90));
  // Newer than the latest: undefined.
  CHECK(cache.EndOffsetFor(LeaderEpoch(6), log_end) == kUndefined);
  CHECK(cache.EndOffsetFor(LeaderEpoch(1000), log_end) == kUndefined);
  // UNDEFINED_EPOCH, and any other negative epoch: undefined.
  CHECK(cache.EndOffsetFor(kNoLeaderEpoch, log_end) == kUndefined);
  CHECK(cache.EndOffsetFor(LeaderEpoch(-2), log_end) == kUndefined);

  // Older than every entry (retention moved the start): the requested epoch
  // itself, ending where the first known epoch starts.
  REQUIRE(cache.TruncateFromStart(Offset(50)).ok());  // (2, 50) (5, 90)
  CHECK(cache.EndOffsetFor(LeaderEpoch(0), log_end) == End(0, 50));
  CHECK(cache.EndOffsetFor(LeaderEpoch(1), log_end) == End(1, 50));
  CHECK(cache.EndOffsetFor(LeaderEpoch(2), log_end) == End(2, 90));

  // A single entry is the latest one.
  REQUIRE(cache.TruncateFromEnd(Offset(90)).ok());  // (2, 50)
  CHECK(cache.EndOffsetFor(LeaderEpoch(2), Offset(77)) == End(2, 77));
  CHECK(cache.EndOffsetFor(LeaderEpoch(1), Offset(77)) == End(1, 50));
  CHECK(cache.EndOffsetFor(LeaderEpoch(3), Offset(77)) == kUndefined);
}

TEST_CASE("the checkpoint is Kafka's text format and reads back what was written") {
  MemFileSystem fs;
  REQUIRE(fs.CreateDir(kDir).ok());
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    INFO("round " << round);
    std::vector<EpochEntry> entries;
    int32_t epoch = static_cast<int32_t>(rng() % 3);
    int64_t start = static_cast<int64_t>(rng() % 5);
    const size_t n = rng() % 30;
    for (size_t i = 0; i < n; ++i) {
      entries.push_back(E(epoch, start));
      epoch += 1 + static_cast<int32_t>(rng() % 1000);
      start += 1 + static_cast<int64_t>(rng() % (int64_t{1} << 40));
    }
    LeaderEpochCache cache(fs, kDir);
    REQUIRE(cache.Reset(entries).ok());
    std::string expected = "0\n" + std::to_string(entries.size()) + "\n";
    for (const EpochEntry& e : entries) {
      expected +=
          std::to_string(e.epoch.value()) + " " + std::to_string(e.start_offset.value()) + "\n";
    }
    CHECK(ReadText(fs, kPath) == expected);
    auto loaded = LeaderEpochCache::Load(fs, kDir);
    REQUIRE(loaded.ok());
    CHECK(loaded->entries() == entries);
    auto decoded =
        internal::DecodeLeaderEpochCheckpoint(internal::EncodeLeaderEpochCheckpoint(entries));
    REQUIRE(decoded.ok());
    CHECK(*decoded == entries);
  }
  // The extremes of the fields.
  const std::vector<EpochEntry> extremes = {E(0, 0), E(2147483647, 9223372036854775807)};
  CHECK(internal::EncodeLeaderEpochCheckpoint(extremes) ==
        "0\n2\n0 0\n2147483647 9223372036854775807\n");
  CHECK(*internal::DecodeLeaderEpochCheckpoint(internal::EncodeLeaderEpochCheckpoint(extremes)) ==
        extremes);
}

TEST_CASE("a checkpoint as Kafka's reader accepts it loads, CRLF and extra blanks included") {
  MemFileSystem fs;
  REQUIRE(fs.CreateDir(kDir).ok());
  WriteText(fs, kPath, "0\r\n3\r\n1 0\r\n3\t\t25\r\n8   1000  \r\n");
  auto loaded = LeaderEpochCache::Load(fs, kDir);
  REQUIRE(loaded.ok());
  CHECK(loaded->entries() == std::vector<EpochEntry>{E(1, 0), E(3, 25), E(8, 1000)});
  WriteText(fs, kPath, "0\n0\n");
  loaded = LeaderEpochCache::Load(fs, kDir);
  REQUIRE(loaded.ok());
  CHECK(loaded->empty());
}

TEST_CASE("a missing checkpoint is NotFound") {
  MemFileSystem fs;
  REQUIRE(fs.CreateDir(kDir).ok());
  auto loaded = LeaderEpochCache::Load(fs, kDir);
  CHECK(absl::IsNotFound(loaded.status()));
}

TEST_CASE("a corrupt, cut-off or garbage checkpoint fails to load with DataLoss saying why") {
  // Views, not strings: GCC 12 at -O2 misreads copying an initializer list
  // of strings as out of bounds (-Warray-bounds).
  const std::string garbage("\x00\xff\x13garbage\x7f\n", 12);
  // 100 'z's and a newline.
  constexpr std::string_view long_line =
      "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
      "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n";
  static_assert(long_line.size() == 101);
  struct Case {
    std::string_view text;
    std::string_view says;
  };
  const Case cases[] = {
      {"", "is empty"},
      {"0", "no newline"},
      {"0\n2\n1 0\n3 2", "no newline"},
      {"0\n", "no entry count"},
      {"1\n0\n", "line 1: version 1, expected 0"},
      {"v0\n0\n", "line 1: expected the version"},
      {" 0\n0\n", "line 1: expected the version"},
      {"0\n-1\n", "line 2: expected the number of entries"},
      {"0\ntwo\n1 0\n2 5\n", "line 2: expected the number of entries"},
      {"0\n2\n1 0\n", "announces 2 entries but has 1"},
      {"0\n1\n1 0\n2 5\n", "announces 1 entries but has 2"},
      {"0\n1\n1 0\n\n", "announces 1 entries but has 2"},
      {"0\n1\n10\n", "line 3: expected \"<epoch> <start offset>\", found \"10\""},
      {"0\n1\n1 2 3\n", "line 3"},
      {"0\n1\n 1 2\n", "line 3"},
      {"0\n1\n1,2\n", "line 3"},
      {"0\n1\n+1 2\n", "line 3"},
      {"0\n1\n1 x\n", "line 3"},
      {"0\n1\n2147483648 0\n", "line 3"},
      {"0\n1\n1 9223372036854775808\n", "line 3"},
      {"0\n2\n1 0\n2 1x\n", "line 4"},
      {"0\n1\n-1 0\n", "is negative"},
      {"0\n1\n1 -5\n", "is negative"},
      {"0\n2\n3 0\n2 10\n", "must increase"},
      {"0\n2\n3 0\n3 10\n", "must increase"},
      {"0\n2\n1 10\n2 10\n", "must increase"},
      {"0\n2\n1 10\n2 5\n", "must increase"},
      {garbage, "line 1"},
      {long_line, "...\""},
  };
  MemFileSystem fs;
  REQUIRE(fs.CreateDir(kDir).ok());
  for (const Case& c : cases) {
    INFO("text: \"" << c.text << "\"");
    WriteText(fs, kPath, c.text);
    auto loaded = LeaderEpochCache::Load(fs, kDir);
    REQUIRE(!loaded.ok());
    CHECK(absl::IsDataLoss(loaded.status()));
    CHECK(GetErrorCode(loaded.status()) == ErrorCode::kCorruptMessage);
    const std::string message(loaded.status().message());
    INFO("message: " << message);
    CHECK(message.find(kPath) != std::string::npos);
    CHECK(message.find(c.says) != std::string::npos);
  }
}

TEST_CASE("a checkpoint larger than any real one is rejected without reading it") {
  MemFileSystem fs;
  REQUIRE(fs.CreateDir(kDir).ok());
  auto file = fs.Open(kPath, OpenMode::kCreate);
  REQUIRE(file.ok());
  REQUIRE((*file)->Truncate(internal::kMaxLeaderEpochCheckpointBytes + 1).ok());
  auto loaded = LeaderEpochCache::Load(fs, kDir);
  CHECK(absl::IsDataLoss(loaded.status()));
}

TEST_CASE("Reset takes only entries whose epochs and offsets increase") {
  MemFileSystem fs;
  REQUIRE(fs.CreateDir(kDir).ok());
  LeaderEpochCache cache = Example(fs);
  for (const std::vector<EpochEntry>& bad :
       {std::vector<EpochEntry>{E(1, 5), E(1, 6)}, std::vector<EpochEntry>{E(1, 5), E(2, 5)},
        std::vector<EpochEntry>{E(-1, 5)}, std::vector<EpochEntry>{E(1, -5)}}) {
    CHECK(GetErrorCode(cache.Reset(bad)) == ErrorCode::kInvalidRequest);
    CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(2, 40), E(5, 90)});
  }
  REQUIRE(cache.Reset({E(3, 7)}).ok());
  CHECK(cache.entries() == std::vector<EpochEntry>{E(3, 7)});
  CHECK(ReadText(fs, kPath) == "0\n1\n3 7\n");
}

TEST_CASE("a failed write of Assign changes nothing and Flush repairs the file") {
  const FsOp kOps[] = {FsOp::kOpen, FsOp::kTruncate, FsOp::kAppend, FsOp::kSync, FsOp::kRename};
  for (FsOp op : kOps) {
    INFO("failing " << FsOpName(op));
    MemFileSystem base;
    FaultyFileSystem fs(base);
    REQUIRE(fs.CreateDir(kDir).ok());
    LeaderEpochCache cache = Example(fs);
    fs.AddFault(FaultRule(op).PathContains("leader-epoch-checkpoint").Forever());
    absl::Status s = cache.Assign(LeaderEpoch(7), Offset(150));
    CHECK(GetErrorCode(s) == ErrorCode::kKafkaStorageError);
    CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(2, 40), E(5, 90)});
    CHECK(cache.LatestEpoch() == LeaderEpoch(5));
    CHECK(cache.IsNewerThanLatest(LeaderEpoch(7)));
    CHECK(cache.needs_write());
    CHECK(!cache.Flush().ok());
    CHECK(cache.needs_write());
    fs.ClearFaults();
    CHECK(ReadText(fs, kPath) == "0\n3\n0 0\n2 40\n5 90\n");
    REQUIRE(cache.Flush().ok());
    CHECK(!cache.needs_write());
    CHECK(cache.Flush().ok());
    REQUIRE(cache.Assign(LeaderEpoch(7), Offset(150)).ok());
    CHECK(ReadText(fs, kPath) == "0\n4\n0 0\n2 40\n5 90\n7 150\n");
  }
}

TEST_CASE("a failed write of a truncation keeps the truncation and needs a write") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  REQUIRE(fs.CreateDir(kDir).ok());
  LeaderEpochCache cache = Example(fs);
  fs.AddFault(FaultRule(FsOp::kRename).PathContains("leader-epoch-checkpoint").Count(3));
  CHECK(!cache.TruncateFromEnd(Offset(90)).ok());
  CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 0), E(2, 40)});
  CHECK(cache.needs_write());
  CHECK(!cache.TruncateFromStart(Offset(10)).ok());
  CHECK(cache.entries() == std::vector<EpochEntry>{E(0, 10), E(2, 40)});
  CHECK(!cache.Clear().ok());
  CHECK(cache.empty());
  // The file still holds the old entries, a superset the owner cuts on open.
  CHECK(ReadText(fs, kPath) == "0\n3\n0 0\n2 40\n5 90\n");
  REQUIRE(cache.Flush().ok());
  CHECK(!cache.needs_write());
  CHECK(ReadText(fs, kPath) == "0\n0\n");
}

TEST_CASE("RemoveFile removes the checkpoint durably and keeps the entries") {
  MemFileSystem base;
  FaultyFileSystem fs(base);
  REQUIRE(fs.CreateDir(kDir).ok());
  LeaderEpochCache cache = Example(fs);
  REQUIRE(cache.RemoveFile().ok());
  CHECK(!*fs.Exists(kPath));
  CHECK(cache.entries().size() == 3);
  REQUIRE(cache.RemoveFile().ok());  // no file: fine
  fs.SimulateCrash(1);
  CHECK(!*fs.Exists(kPath));
  REQUIRE(cache.Assign(LeaderEpoch(6), Offset(100)).ok());
  CHECK(ReadText(fs, kPath) == "0\n4\n0 0\n2 40\n5 90\n6 100\n");
}

}  // namespace
}  // namespace evlog
