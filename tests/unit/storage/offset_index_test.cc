#include "evlog/storage/offset_index.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/status.h"
#include "evlog/storage/index_format.h"
#include "tests/support/catch.h"
#include "tests/support/temp_dir.h"

namespace evlog {
namespace {

constexpr Offset kBase{1000};

// A file system plus a place for files in it: a real temporary directory
// or an in-memory one.
struct PosixEnv {
  testing::TempDir dir;
  PosixFileSystem fs;
  std::string Path(const std::string& name) const { return JoinPath(dir.path(), name); }
};
struct MemEnv {
  MemFileSystem fs;
  std::string Path(const std::string& name) const { return "/" + name; }
};

std::unique_ptr<OffsetIndex> MustOpen(FileSystem& fs, const std::string& path, Offset base,
                                      uint32_t max_index_bytes, IndexMode mode) {
  absl::StatusOr<std::unique_ptr<OffsetIndex>> index =
      OffsetIndex::Open(fs, path, base, max_index_bytes, mode);
  INFO(index.status().ToString());
  REQUIRE(index.ok());
  return *std::move(index);
}

void MustOk(const absl::Status& s) {
  INFO(s.ToString());
  REQUIRE(s.ok());
}

std::vector<std::byte> ReadAll(FileSystem& fs, const std::string& path) {
  absl::StatusOr<std::unique_ptr<File>> file = fs.Open(path, OpenMode::kReadOnly);
  REQUIRE(file.ok());
  absl::StatusOr<uint64_t> size = (*file)->Size();
  REQUIRE(size.ok());
  std::vector<std::byte> bytes(*size);
  absl::StatusOr<size_t> read = (*file)->ReadAt(0, bytes);
  REQUIRE(read.ok());
  REQUIRE(*read == bytes.size());
  return bytes;
}

void WriteAll(FileSystem& fs, const std::string& path, const std::vector<std::byte>& bytes) {
  absl::StatusOr<std::unique_ptr<File>> file = fs.Open(path, OpenMode::kCreate);
  REQUIRE(file.ok());
  MustOk((*file)->Truncate(0));
  MustOk((*file)->WriteAt(0, bytes));
  MustOk((*file)->Close());
}

void PutBigEndian(std::vector<std::byte>& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}

// Raw .index bytes for (relative offset, position) pairs.
std::vector<std::byte> RawEntries(const std::vector<std::pair<int32_t, uint32_t>>& entries) {
  std::vector<std::byte> out;
  for (const auto& [relative, position] : entries) {
    PutBigEndian(out, static_cast<uint32_t>(relative), 4);
    PutBigEndian(out, position, 4);
  }
  return out;
}

TEST_CASE("offset index lookup finds the greatest entry at or below the target", "[offset_index]") {
  MemFileSystem fs;
  auto index = MustOpen(fs, "/a.index", kBase, 1024, IndexMode::kWritable);

  CHECK(index->Lookup(kBase + 50) == OffsetPosition{kBase, 0});  // empty
  CHECK(index->entries() == 0);
  CHECK(index->last_offset() == kBase);

  MustOk(index->Append(kBase + 10, 4100));
  MustOk(index->Append(kBase + 20, 8200));
  MustOk(index->Append(kBase + 30, 12300));

  CHECK(index->Lookup(kBase + 20) == OffsetPosition{kBase + 20, 8200});    // exact
  CHECK(index->Lookup(kBase + 25) == OffsetPosition{kBase + 20, 8200});    // between
  CHECK(index->Lookup(kBase + 9) == OffsetPosition{kBase, 0});             // below first
  CHECK(index->Lookup(Offset(3)) == OffsetPosition{kBase, 0});             // below the base
  CHECK(index->Lookup(kBase + 999) == OffsetPosition{kBase + 30, 12300});  // above last
  CHECK(index->Lookup(Offset::Max()) == OffsetPosition{kBase + 30, 12300});

  CHECK(index->LookupCeiling(kBase + 20) == OffsetPosition{kBase + 20, 8200});
  CHECK(index->LookupCeiling(kBase + 21) == OffsetPosition{kBase + 30, 12300});
  CHECK(index->LookupCeiling(kBase) == OffsetPosition{kBase + 10, 4100});
  CHECK(index->LookupCeiling(kBase + 31) == std::nullopt);

  CHECK(index->LookupByPositionCeiling(0) == OffsetPosition{kBase + 10, 4100});
  CHECK(index->LookupByPositionCeiling(8200) == OffsetPosition{kBase + 20, 8200});
  CHECK(index->LookupByPositionCeiling(8201) == OffsetPosition{kBase + 30, 12300});
  CHECK(index->LookupByPositionCeiling(12301) == std::nullopt);

  CHECK(index->entries() == 3);
  CHECK(index->last_offset() == kBase + 30);
  CHECK(index->EntryAt(1) == OffsetPosition{kBase + 20, 8200});
  MustOk(index->SanityCheck(12301));
}

TEST_CASE("offset index lookups agree with a brute-force model on random entries",
          "[offset_index]") {
  const uint64_t seed = std::random_device{}();
  INFO("--seed=" << seed);
  std::mt19937_64 rng(seed);
  MemFileSystem fs;
  for (int round = 0; round < 8; ++round) {
    // Up to 5000 entries: more than the 1024 of the warm tail section, so
    // both halves of the search are exercised.
    const size_t n = std::uniform_int_distribution<size_t>(0, 5000)(rng);
    auto index = MustOpen(fs, "/r" + std::to_string(round) + ".index", kBase, kDefaultMaxIndexBytes,
                          IndexMode::kWritable);
    std::vector<OffsetPosition> model;
    Offset offset = kBase + std::uniform_int_distribution<int64_t>(0, 3)(rng);
    uint32_t position = std::uniform_int_distribution<uint32_t>(0, 3)(rng);
    for (size_t i = 0; i < n; ++i) {
      MustOk(index->Append(offset, position));
      model.push_back({offset, position});
      offset += std::uniform_int_distribution<int64_t>(1, 5)(rng);
      position += std::uniform_int_distribution<uint32_t>(1, 9000)(rng);
    }
    REQUIRE(index->entries() == n);
    const int64_t max_target = (offset - kBase) + 5;
    for (int probe = 0; probe < 2000; ++probe) {
      const Offset target = kBase + std::uniform_int_distribution<int64_t>(-5, max_target)(rng);
      OffsetPosition floor{kBase, 0};
      std::optional<OffsetPosition> ceiling;
      for (const OffsetPosition& e : model) {
        if (e.offset <= target) floor = e;
        if (e.offset >= target && !ceiling.has_value()) ceiling = e;
      }
      INFO("target " << target);
      REQUIRE(index->Lookup(target) == floor);
      REQUIRE(index->LookupCeiling(target) == ceiling);

      const uint32_t target_position =
          std::uniform_int_distribution<uint32_t>(0, position + 10)(rng);
      auto by_position = std::find_if(model.begin(), model.end(), [&](const OffsetPosition& e) {
        return e.position >= target_position;
      });
      std::optional<OffsetPosition> expected;
      if (by_position != model.end()) expected = *by_position;
      REQUIRE(index->LookupByPositionCeiling(target_position) == expected);
    }
    MustOk(index->SanityCheck(uint64_t{position}));
  }
}

TEST_CASE("a full offset index reports IsFull and rejects Append", "[offset_index]") {
  MemFileSystem fs;
  // 37 bytes round down to 4 entries.
  auto index = MustOpen(fs, "/full.index", kBase, 4 * 8 + 5, IndexMode::kWritable);
  CHECK(index->max_entries() == 4);
  for (int i = 0; i < 4; ++i) {
    CHECK_FALSE(index->IsFull());
    MustOk(index->Append(kBase + i, static_cast<uint32_t>(100 * i)));
  }
  CHECK(index->IsFull());
  absl::Status s = index->Append(kBase + 10, 1000);
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(index->entries() == 4);
  CHECK(index->Lookup(kBase + 10) == OffsetPosition{kBase + 3, 300});
  CHECK(ReadAll(fs, "/full.index").size() == 32);
}

TEST_CASE("offset index Append rejects bad entries and changes nothing", "[offset_index]") {
  MemFileSystem fs;
  auto index = MustOpen(fs, "/bad.index", kBase, 1024, IndexMode::kWritable);
  MustOk(index->Append(kBase + 10, 500));

  auto rejected = [&](Offset offset, uint32_t position) {
    absl::Status s = index->Append(offset, position);
    INFO(s.ToString());
    CHECK(HasErrorCode(s, ErrorCode::kInvalidRequest));
    CHECK(index->entries() == 1);
    CHECK(index->last_offset() == kBase + 10);
  };
  rejected(kBase + 10, 600);  // offset not above the last
  rejected(kBase + 9, 600);
  rejected(kBase + 11, 500);  // position not above the last
  rejected(kBase + 11, 499);
  rejected(kBase + kMaxRelativeOffset + 1, 600);  // relative offset overflows int32
  rejected(kBase + 11, kMaxIndexedFilePosition + 1);
  MustOk(index->Append(kBase + kMaxRelativeOffset, kMaxIndexedFilePosition));

  auto fresh = MustOpen(fs, "/bad2.index", kBase, 1024, IndexMode::kWritable);
  CHECK(HasErrorCode(fresh->Append(kBase - 1, 0), ErrorCode::kInvalidRequest));
  MustOk(fresh->Append(kBase, 0));  // the base itself at position 0 is fine
}

TEST_CASE("offset index TruncateTo drops entries at or above the offset", "[offset_index]") {
  MemFileSystem fs;
  auto index = MustOpen(fs, "/t.index", kBase, 1024, IndexMode::kWritable);
  auto fill = [&] {
    MustOk(index->Reset());
    MustOk(index->Append(kBase + 5, 0));
    MustOk(index->Append(kBase + 10, 4100));
    MustOk(index->Append(kBase + 20, 8200));
  };

  fill();
  MustOk(index->TruncateTo(kBase + 10));
  CHECK(index->entries() == 1);
  CHECK(index->last_offset() == kBase + 5);
  CHECK(index->Lookup(kBase + 15) == OffsetPosition{kBase + 5, 0});

  fill();
  MustOk(index->TruncateTo(kBase + 11));
  CHECK(index->entries() == 2);
  CHECK(index->last_offset() == kBase + 10);

  fill();
  MustOk(index->TruncateTo(kBase + 21));  // nothing at or above
  CHECK(index->entries() == 3);

  fill();
  MustOk(index->TruncateTo(kBase));
  CHECK(index->entries() == 0);
  CHECK(index->Lookup(kBase + 20) == OffsetPosition{kBase, 0});

  SECTION("appends continue after the truncation point") {
    fill();
    MustOk(index->TruncateTo(kBase + 10));
    MustOk(index->Append(kBase + 7, 3000));
    CHECK(index->Lookup(kBase + 100) == OffsetPosition{kBase + 7, 3000});
    MustOk(index->SanityCheck(3001));
  }
  SECTION("a trimmed index gets its capacity back") {
    fill();
    MustOk(index->TrimToValidSize());
    CHECK(index->IsFull());
    CHECK(index->max_entries() == 3);
    MustOk(index->TruncateTo(kBase + 20));
    CHECK(index->max_entries() == 128);
    CHECK_FALSE(index->IsFull());
    MustOk(index->Append(kBase + 30, 9000));
    CHECK(index->entries() == 3);
  }
}

TEST_CASE("offset index Reset drops every entry and allows a rebuild", "[offset_index]") {
  MemFileSystem fs;
  auto index = MustOpen(fs, "/reset.index", kBase, 64, IndexMode::kWritable);
  for (int i = 0; i < 8; ++i) MustOk(index->Append(kBase + i, static_cast<uint32_t>(10 * i)));
  MustOk(index->TrimToValidSize());
  CHECK(index->IsFull());
  MustOk(index->Reset());
  CHECK(index->entries() == 0);
  CHECK(index->max_entries() == 8);
  CHECK(index->Lookup(kBase + 5) == OffsetPosition{kBase, 0});
  MustOk(index->Append(kBase + 1, 1));
  CHECK(index->Lookup(kBase + 5) == OffsetPosition{kBase + 1, 1});
}

TEMPLATE_TEST_CASE("offset index TrimToValidSize then reopen gives the same entries",
                   "[offset_index]", PosixEnv, MemEnv) {
  TestType env;
  const std::string path = env.Path("00000000000000001000.index");
  std::vector<OffsetPosition> written;
  {
    auto index = MustOpen(env.fs, path, kBase, kDefaultMaxIndexBytes, IndexMode::kWritable);
    CHECK(ReadAll(env.fs, path).size() == kDefaultMaxIndexBytes);  // preallocated
    for (int i = 0; i < 300; ++i) {
      written.push_back({kBase + 3 * i + 2, static_cast<uint32_t>(4096 * i + 17)});
      MustOk(index->Append(written.back().offset, written.back().position));
    }
    MustOk(index->TrimToValidSize());
    MustOk(index->Sync());
    CHECK(index->valid_size_bytes() == 300 * 8);
    MustOk(index->Close());
    MustOk(index->Close());  // again: nothing to do
  }
  CHECK(ReadAll(env.fs, path).size() == 300 * 8);

  for (IndexMode mode : {IndexMode::kReadOnly, IndexMode::kWritable}) {
    auto index = MustOpen(env.fs, path, kBase, kDefaultMaxIndexBytes, mode);
    REQUIRE(index->entries() == written.size());
    for (size_t i = 0; i < written.size(); ++i) CHECK(index->EntryAt(i) == written[i]);
    CHECK(index->Lookup(kBase + 3) == written[0]);
    MustOk(index->SanityCheck(4096 * 300));
    if (mode == IndexMode::kWritable) {
      // Reopened for appends: preallocated again, entries kept.
      CHECK(index->max_entries() == kDefaultMaxIndexBytes / 8);
      MustOk(index->Append(kBase + 5000, 4096 * 300));
      MustOk(index->Close());
      CHECK(ReadAll(env.fs, path).size() == 301 * 8);
    } else {
      CHECK(index->IsFull());
      CHECK(index->Append(kBase + 5000, 4096 * 300).code() ==
            absl::StatusCode::kFailedPrecondition);
      MustOk(index->Close());
    }
  }
}

TEMPLATE_TEST_CASE("offset index left untrimmed as after a crash fails SanityCheck",
                   "[offset_index]", PosixEnv, MemEnv) {
  TestType env;
  const std::string path = env.Path("crash.index");
  {
    auto index = MustOpen(env.fs, path, kBase, 800, IndexMode::kWritable);
    MustOk(index->Append(kBase + 4, 4200));
    MustOk(index->Append(kBase + 9, 8400));
    MustOk(index->Sync());
    // Destroyed without Close: the file keeps its preallocated size.
  }
  CHECK(ReadAll(env.fs, path).size() == 800);
  auto index = MustOpen(env.fs, path, kBase, 800, IndexMode::kWritable);
  CHECK(index->entries() == 100);  // every slot counts as an entry
  CHECK(index->IsFull());
  absl::Status s = index->SanityCheck(1 << 20);
  INFO(s.ToString());
  CHECK(HasErrorCode(s, ErrorCode::kCorruptMessage));
  CHECK(s.code() == absl::StatusCode::kDataLoss);

  // What the segment then does: start over and rebuild from its .log.
  MustOk(index->Reset());
  MustOk(index->SanityCheck(0));
  MustOk(index->Append(kBase + 4, 4200));
  MustOk(index->Append(kBase + 9, 8400));
  MustOk(index->SanityCheck(8401));
  MustOk(index->Close());
  CHECK(ReadAll(env.fs, path).size() == 16);
}

TEST_CASE("offset index synced before a simulated power loss keeps its entries", "[offset_index]") {
  MemFileSystem mem;
  FaultyFileSystem fs(mem);
  MustOk(fs.CreateDir("/p"));
  MustOk(fs.SyncDir("/"));
  {
    auto index = MustOpen(fs, "/p/s.index", kBase, 800, IndexMode::kWritable);
    MustOk(fs.SyncDir("/p"));
    MustOk(index->Append(kBase + 4, 4200));
    MustOk(index->Sync());
    MustOk(index->Append(kBase + 9, 8400));  // not synced: lost
    fs.SimulateCrash(7);
  }
  auto index = MustOpen(fs, "/p/s.index", kBase, 800, IndexMode::kWritable);
  CHECK(index->EntryAt(0) == OffsetPosition{kBase + 4, 4200});
  CHECK(index->EntryAt(1) == OffsetPosition{kBase, 0});  // a zero slot
  CHECK(HasErrorCode(index->SanityCheck(1 << 20), ErrorCode::kCorruptMessage));

  SECTION("a trimmed and synced index survives with its exact size") {
    MustOk(index->Reset());
    MustOk(index->Append(kBase + 4, 4200));
    MustOk(index->TrimToValidSize());
    MustOk(index->Sync());
    MustOk(index->Close());
    fs.SimulateCrash(8);
    CHECK(ReadAll(fs, "/p/s.index").size() == 8);
    auto reopened = MustOpen(fs, "/p/s.index", kBase, 800, IndexMode::kReadOnly);
    CHECK(reopened->entries() == 1);
    MustOk(reopened->SanityCheck(4201));
  }
}

TEST_CASE("corrupt offset index files fail SanityCheck", "[offset_index]") {
  MemFileSystem fs;
  const std::string path = "/corrupt.index";
  auto check_corrupt = [&](const std::vector<std::byte>& bytes, uint64_t log_size) {
    WriteAll(fs, path, bytes);
    for (IndexMode mode : {IndexMode::kReadOnly, IndexMode::kWritable}) {
      auto index = MustOpen(fs, path, kBase, 1024, mode);
      absl::Status s = index->SanityCheck(log_size);
      INFO(s.ToString());
      CHECK(HasErrorCode(s, ErrorCode::kCorruptMessage));
      // Lookups on a corrupt index stay memory-safe.
      (void)index->Lookup(kBase + 5);
      (void)index->LookupCeiling(kBase + 5);
      (void)index->LookupByPositionCeiling(100);
      (void)index->last_offset();
    }
  };

  SECTION("a good file passes") {
    WriteAll(fs, path, RawEntries({{1, 10}, {2, 20}, {5, 30}}));
    auto index = MustOpen(fs, path, kBase, 1024, IndexMode::kReadOnly);
    MustOk(index->SanityCheck(31));
    CHECK(index->Lookup(kBase + 4) == OffsetPosition{kBase + 2, 20});
  }
  SECTION("size not a multiple of the entry size") {
    std::vector<std::byte> bytes = RawEntries({{1, 10}, {2, 20}});
    bytes.push_back(std::byte{0});
    check_corrupt(bytes, 1000);
    // The whole entries still serve lookups.
    WriteAll(fs, path, bytes);  // the writable open above preallocated it
    auto index = MustOpen(fs, path, kBase, 1024, IndexMode::kReadOnly);
    CHECK(index->entries() == 2);
    CHECK(index->Lookup(kBase + 3) == OffsetPosition{kBase + 2, 20});
  }
  SECTION("offsets that do not increase") {
    check_corrupt(RawEntries({{1, 10}, {1, 20}}), 1000);
    check_corrupt(RawEntries({{1, 10}, {3, 20}, {2, 30}}), 1000);
  }
  SECTION("positions that do not increase") {
    check_corrupt(RawEntries({{1, 10}, {2, 10}}), 1000);
    check_corrupt(RawEntries({{1, 10}, {2, 5}}), 1000);
  }
  SECTION("a zero entry after real ones") {
    check_corrupt(RawEntries({{1, 10}, {2, 20}, {0, 0}, {0, 0}}), 1000);
  }
  SECTION("a position at or past the end of the log") {
    check_corrupt(RawEntries({{1, 10}, {2, 20}}), 20);
    check_corrupt(RawEntries({{1, 10}}), 0);
  }
  SECTION("a negative relative offset") { check_corrupt(RawEntries({{-1, 10}, {2, 20}}), 1000); }
  SECTION("a position that does not fit an int32") {
    check_corrupt(RawEntries({{1, 10}, {2, 0x80000000u}}), uint64_t{1} << 33);
  }
}

TEST_CASE("offset index entries are stored big-endian relative to the base offset",
          "[offset_index]") {
  MemFileSystem fs;
  auto index = MustOpen(fs, "/be.index", Offset(0x1122334455), 1024, IndexMode::kWritable);
  MustOk(index->Append(Offset(0x1122334455 + 0x01020304), 0x0A0B0C0D));
  MustOk(index->Append(Offset(0x1122334455 + 0x7FFFFFFF), 0x7FFFFFFE));
  MustOk(index->Close());
  const std::vector<std::byte> expected = {
      std::byte{0x01}, std::byte{0x02}, std::byte{0x03}, std::byte{0x04},  // relative offset
      std::byte{0x0A}, std::byte{0x0B}, std::byte{0x0C}, std::byte{0x0D},  // position
      std::byte{0x7F}, std::byte{0xFF}, std::byte{0xFF}, std::byte{0xFF},
      std::byte{0x7F}, std::byte{0xFF}, std::byte{0xFF}, std::byte{0xFE},
  };
  CHECK(ReadAll(fs, "/be.index") == expected);
}

TEST_CASE("a read-only offset index serves lookups and refuses changes", "[offset_index]") {
  PosixEnv env;
  const std::string path = env.Path("ro.index");
  CHECK(OffsetIndex::Open(env.fs, path, kBase, 1024, IndexMode::kReadOnly).status().code() ==
        absl::StatusCode::kNotFound);
  WriteAll(env.fs, path, RawEntries({{3, 100}, {7, 200}}));
  auto index = MustOpen(env.fs, path, kBase, 1024, IndexMode::kReadOnly);
  CHECK(index->Lookup(kBase + 8) == OffsetPosition{kBase + 7, 200});
  CHECK(index->Append(kBase + 9, 300).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(index->TruncateTo(kBase).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(index->Reset().code() == absl::StatusCode::kFailedPrecondition);
  MustOk(index->TrimToValidSize());  // already exact
  MustOk(index->Sync());
  MustOk(index->Close());
  CHECK(ReadAll(env.fs, path) == RawEntries({{3, 100}, {7, 200}}));
}

TEST_CASE("offset index Open rejects a bad base offset or a max size below one entry",
          "[offset_index]") {
  MemFileSystem fs;
  CHECK(HasErrorCode(
      OffsetIndex::Open(fs, "/x.index", Offset(-1), 1024, IndexMode::kWritable).status(),
      ErrorCode::kInvalidRequest));
  CHECK(HasErrorCode(
      OffsetIndex::Open(fs, "/x.index", Offset::Max(), 1024, IndexMode::kWritable).status(),
      ErrorCode::kInvalidRequest));
  CHECK(HasErrorCode(OffsetIndex::Open(fs, "/x.index", kBase, 7, IndexMode::kWritable).status(),
                     ErrorCode::kInvalidConfig));
  auto index = MustOpen(fs, "/x.index", kBase, 8, IndexMode::kWritable);
  CHECK(index->max_entries() == 1);
}

TEST_CASE("a closed offset index reads as empty and refuses changes", "[offset_index]") {
  MemFileSystem fs;
  auto index = MustOpen(fs, "/c.index", kBase, 1024, IndexMode::kWritable);
  MustOk(index->Append(kBase + 1, 1));
  MustOk(index->Close());
  CHECK(index->entries() == 0);
  CHECK(index->Lookup(kBase + 1) == OffsetPosition{kBase, 0});
  CHECK(index->Append(kBase + 2, 2).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(index->SanityCheck(10).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(index->Sync().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(ReadAll(fs, "/c.index").size() == 8);
}

TEST_CASE("offset index RenameTo moves the file and the index keeps working", "[offset_index]") {
  PosixEnv env;
  auto index = MustOpen(env.fs, env.Path("a.index"), kBase, 1024, IndexMode::kWritable);
  MustOk(index->Append(kBase + 1, 1));
  MustOk(index->RenameTo(env.Path("a.index.deleted")));
  CHECK(index->path() == env.Path("a.index.deleted"));
  MustOk(index->Append(kBase + 2, 2));
  MustOk(index->Close());
  CHECK_FALSE(*env.fs.Exists(env.Path("a.index")));
  CHECK(ReadAll(env.fs, env.Path("a.index.deleted")) == RawEntries({{1, 1}, {2, 2}}));
}

TEST_CASE("offset index open after an I/O error reports it", "[offset_index]") {
  MemFileSystem mem;
  FaultyFileSystem fs(mem);
  fs.AddFault(FaultRule(FsOp::kMap).PathContains(".index"));
  CHECK(OffsetIndex::Open(fs, "/f.index", kBase, 1024, IndexMode::kWritable).status().code() ==
        absl::StatusCode::kUnavailable);
  auto index = MustOpen(fs, "/g.index", kBase, 1024, IndexMode::kWritable);
  MustOk(index->Append(kBase + 1, 1));
  fs.AddFault(FaultRule(FsOp::kTruncate).PathContains(".index"));
  CHECK(index->TrimToValidSize().code() == absl::StatusCode::kUnavailable);
  // The index lost its mapping: it reads as empty and refuses changes.
  CHECK(index->entries() == 0);
  CHECK(index->Append(kBase + 2, 2).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(index->SanityCheck(10).code() == absl::StatusCode::kFailedPrecondition);
  MustOk(index->Close());
}

TEST_CASE("offset index lookups see only complete entries while one thread appends",
          "[offset_index]") {
  MemFileSystem fs;
  constexpr int kEntries = 20000;
  auto index = MustOpen(fs, "/mt.index", kBase, kEntries * 8, IndexMode::kWritable);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937 rng(static_cast<unsigned>(r));
      while (!done.load(std::memory_order_acquire)) {
        const Offset target = kBase + std::uniform_int_distribution<int64_t>(0, 2 * kEntries)(rng);
        const OffsetPosition e = index->Lookup(target);
        // Every entry written is (base + 2i, 16i): a torn one would not be.
        const int64_t relative = e.offset - kBase;
        if (relative % 2 != 0 || e.position != 8 * relative || e.offset > target) {
          bad.fetch_add(1);
        }
      }
    });
  }
  for (int i = 0; i < kEntries; ++i) {
    MustOk(index->Append(kBase + 2 * i, static_cast<uint32_t>(16 * i)));
  }
  done.store(true, std::memory_order_release);
  for (std::thread& t : readers) t.join();
  CHECK(bad.load() == 0);
}

}  // namespace
}  // namespace evlog
