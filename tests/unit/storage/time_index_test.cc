#include "evlog/storage/time_index.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
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

constexpr Offset kBase{500};

struct PosixEnv {
  testing::TempDir dir;
  PosixFileSystem fs;
  std::string Path(const std::string& name) const { return JoinPath(dir.path(), name); }
};
struct MemEnv {
  MemFileSystem fs;
  std::string Path(const std::string& name) const { return "/" + name; }
};

std::unique_ptr<TimeIndex> MustOpen(FileSystem& fs, const std::string& path, Offset base,
                                    uint32_t max_index_bytes, IndexMode mode) {
  absl::StatusOr<std::unique_ptr<TimeIndex>> index =
      TimeIndex::Open(fs, path, base, max_index_bytes, mode);
  INFO(index.status().ToString());
  REQUIRE(index.ok());
  return *std::move(index);
}

void MustOk(const absl::Status& s) {
  INFO(s.ToString());
  REQUIRE(s.ok());
}

// MaybeAppend that must succeed; returns whether it appended.
bool MustAppend(TimeIndex& index, int64_t timestamp_ms, Offset offset) {
  absl::StatusOr<bool> appended = index.MaybeAppend(timestamp_ms, offset);
  INFO(appended.status().ToString());
  REQUIRE(appended.ok());
  return *appended;
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

// Raw .timeindex bytes for (timestamp, relative offset) pairs.
std::vector<std::byte> RawEntries(const std::vector<std::pair<int64_t, int32_t>>& entries) {
  std::vector<std::byte> out;
  for (const auto& [timestamp, relative] : entries) {
    PutBigEndian(out, static_cast<uint64_t>(timestamp), 8);
    PutBigEndian(out, static_cast<uint32_t>(relative), 4);
  }
  return out;
}

TEST_CASE("time index appends only a new maximum timestamp", "[time_index]") {
  MemFileSystem fs;
  auto index = MustOpen(fs, "/a.timeindex", kBase, 1200, IndexMode::kWritable);
  CHECK(index->last_entry() == TimestampOffset{kNoTimestamp, kBase});

  CHECK_FALSE(MustAppend(*index, kNoTimestamp, kBase + 1));  // nothing to index
  CHECK(MustAppend(*index, 0, kBase));                       // 0 is a timestamp
  CHECK(MustAppend(*index, 1000, kBase + 9));
  CHECK_FALSE(MustAppend(*index, 1000, kBase + 19));  // not a new maximum
  CHECK(MustAppend(*index, 2000, kBase + 19));
  CHECK(MustAppend(*index, 3000, kBase + 19));  // same offset, later timestamp
  CHECK(index->entries() == 4);
  CHECK(index->last_entry() == TimestampOffset{3000, kBase + 19});

  auto rejected = [&](int64_t timestamp_ms, Offset offset, ErrorCode code) {
    absl::StatusOr<bool> appended = index->MaybeAppend(timestamp_ms, offset);
    INFO(appended.status().ToString());
    CHECK(HasErrorCode(appended.status(), code));
    CHECK(index->entries() == 4);
  };
  rejected(2999, kBase + 30, ErrorCode::kInvalidRequest);  // timestamp goes back
  rejected(4000, kBase + 18, ErrorCode::kInvalidRequest);  // offset goes back
  rejected(3000, kBase + 18, ErrorCode::kInvalidRequest);  // offset goes back, same timestamp
  rejected(-2, kBase + 30, ErrorCode::kInvalidTimestamp);
  rejected(4000, kBase + kMaxRelativeOffset + 1, ErrorCode::kInvalidRequest);
  MustOk(index->SanityCheck());
}

TEST_CASE("time index lookup finds the greatest timestamp at or below the target", "[time_index]") {
  MemFileSystem fs;
  auto index = MustOpen(fs, "/l.timeindex", kBase, 1200, IndexMode::kWritable);
  CHECK(index->Lookup(5000) == TimestampOffset{kNoTimestamp, kBase});  // empty
  CHECK(MustAppend(*index, 1000, kBase + 9));
  CHECK(MustAppend(*index, 2000, kBase + 19));
  CHECK(MustAppend(*index, 3000, kBase + 29));

  CHECK(index->Lookup(2000) == TimestampOffset{2000, kBase + 19});    // exact
  CHECK(index->Lookup(2500) == TimestampOffset{2000, kBase + 19});    // between
  CHECK(index->Lookup(999) == TimestampOffset{kNoTimestamp, kBase});  // below first
  CHECK(index->Lookup(-5) == TimestampOffset{kNoTimestamp, kBase});
  CHECK(index->Lookup(1 << 30) == TimestampOffset{3000, kBase + 29});  // above last
  CHECK(index->EntryAt(0) == TimestampOffset{1000, kBase + 9});
}

TEST_CASE("time index lookups agree with a brute-force model on random entries", "[time_index]") {
  const uint64_t seed = std::random_device{}();
  INFO("--seed=" << seed);
  std::mt19937_64 rng(seed);
  MemFileSystem fs;
  for (int round = 0; round < 8; ++round) {
    auto index = MustOpen(fs, "/r" + std::to_string(round) + ".timeindex", kBase,
                          kDefaultMaxIndexBytes, IndexMode::kWritable);
    std::vector<TimestampOffset> model;
    const size_t n = std::uniform_int_distribution<size_t>(0, 3000)(rng);
    int64_t timestamp = std::uniform_int_distribution<int64_t>(0, 100)(rng);
    Offset offset = kBase;
    for (size_t i = 0; i < n; ++i) {
      // Offsets may repeat; timestamps that repeat are not appended.
      offset += std::uniform_int_distribution<int64_t>(0, 3)(rng);
      timestamp += std::uniform_int_distribution<int64_t>(0, 50)(rng);
      const bool appended = MustAppend(*index, timestamp, offset);
      const bool expected = model.empty() || timestamp > model.back().timestamp_ms;
      REQUIRE(appended == expected);
      if (expected) model.push_back({timestamp, offset});
    }
    REQUIRE(index->entries() == model.size());
    for (int probe = 0; probe < 2000; ++probe) {
      const int64_t target = std::uniform_int_distribution<int64_t>(-10, timestamp + 10)(rng);
      TimestampOffset expected{kNoTimestamp, kBase};
      for (const TimestampOffset& e : model) {
        if (e.timestamp_ms <= target) expected = e;
      }
      INFO("target " << target);
      REQUIRE(index->Lookup(target) == expected);
    }
    MustOk(index->SanityCheck());
  }
}

TEST_CASE("a time index keeps one slot for the entry written on roll", "[time_index]") {
  MemFileSystem fs;
  auto index = MustOpen(fs, "/roll.timeindex", kBase, 3 * 12, IndexMode::kWritable);
  CHECK(index->max_entries() == 3);
  CHECK(MustAppend(*index, 10, kBase + 1));
  CHECK_FALSE(index->IsFull());
  CHECK(MustAppend(*index, 20, kBase + 2));
  CHECK(index->IsFull());
  CHECK(index->MaybeAppend(30, kBase + 3).status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_FALSE(MustAppend(*index, 20, kBase + 3));  // not a new maximum: no room needed

  absl::StatusOr<bool> on_roll = index->MaybeAppendOnRoll(30, kBase + 3);
  REQUIRE(on_roll.ok());
  CHECK(*on_roll);
  CHECK(index->entries() == 3);
  CHECK(index->MaybeAppendOnRoll(40, kBase + 4).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(index->last_entry() == TimestampOffset{30, kBase + 3});
}

TEST_CASE("time index TruncateTo drops entries whose offset is at or above the target",
          "[time_index]") {
  MemFileSystem fs;
  auto index = MustOpen(fs, "/t.timeindex", kBase, 1200, IndexMode::kWritable);
  auto fill = [&] {
    MustOk(index->Reset());
    CHECK(MustAppend(*index, 100, kBase + 5));
    CHECK(MustAppend(*index, 200, kBase + 10));
    CHECK(MustAppend(*index, 300, kBase + 10));
    CHECK(MustAppend(*index, 400, kBase + 20));
  };
  fill();
  MustOk(index->TruncateTo(kBase + 10));
  CHECK(index->entries() == 1);
  CHECK(index->last_entry() == TimestampOffset{100, kBase + 5});
  CHECK(MustAppend(*index, 150, kBase + 7));  // the timestamp maximum went back with it

  fill();
  MustOk(index->TruncateTo(kBase + 11));
  CHECK(index->entries() == 3);
  CHECK(index->last_entry() == TimestampOffset{300, kBase + 10});

  fill();
  MustOk(index->TruncateTo(kBase + 5));
  CHECK(index->entries() == 0);
  CHECK(index->Lookup(1000) == TimestampOffset{kNoTimestamp, kBase});
}

TEST_CASE("time index entries are stored big-endian relative to the base offset", "[time_index]") {
  MemFileSystem fs;
  auto index = MustOpen(fs, "/be.timeindex", Offset(7), 1200, IndexMode::kWritable);
  CHECK(MustAppend(*index, 0x0102030405060708, Offset(7 + 0x0A0B0C0D)));
  MustOk(index->Close());
  const std::vector<std::byte> expected = {
      std::byte{0x01}, std::byte{0x02}, std::byte{0x03}, std::byte{0x04},  // timestamp
      std::byte{0x05}, std::byte{0x06}, std::byte{0x07}, std::byte{0x08},
      std::byte{0x0A}, std::byte{0x0B}, std::byte{0x0C}, std::byte{0x0D},  // relative offset
  };
  CHECK(ReadAll(fs, "/be.timeindex") == expected);
}

TEMPLATE_TEST_CASE("time index TrimToValidSize then reopen gives the same entries", "[time_index]",
                   PosixEnv, MemEnv) {
  TestType env;
  const std::string path = env.Path("00000000000000000500.timeindex");
  std::vector<TimestampOffset> written;
  {
    auto index = MustOpen(env.fs, path, kBase, kDefaultMaxIndexBytes, IndexMode::kWritable);
    CHECK(index->max_entries() == kDefaultMaxIndexBytes / 12);
    CHECK(ReadAll(env.fs, path).size() == kDefaultMaxIndexBytes / 12 * 12);  // rounded down
    for (int i = 0; i < 200; ++i) {
      written.push_back({1'700'000'000'000 + 10 * i, kBase + 4 * i});
      CHECK(MustAppend(*index, written.back().timestamp_ms, written.back().offset));
    }
    MustOk(index->TrimToValidSize());
    CHECK(index->IsFull());
    MustOk(index->Sync());
    MustOk(index->Close());
  }
  CHECK(ReadAll(env.fs, path).size() == 200 * 12);

  auto index = MustOpen(env.fs, path, kBase, kDefaultMaxIndexBytes, IndexMode::kReadOnly);
  REQUIRE(index->entries() == written.size());
  for (size_t i = 0; i < written.size(); ++i) CHECK(index->EntryAt(i) == written[i]);
  CHECK(index->last_entry() == written.back());
  CHECK(index->Lookup(1'700'000'000'015) == written[1]);
  MustOk(index->SanityCheck());
}

TEMPLATE_TEST_CASE("time index left untrimmed as after a crash fails SanityCheck", "[time_index]",
                   PosixEnv, MemEnv) {
  TestType env;
  const std::string path = env.Path("crash.timeindex");
  {
    auto index = MustOpen(env.fs, path, kBase, 1200, IndexMode::kWritable);
    CHECK(MustAppend(*index, 1'700'000'000'000, kBase + 3));
    CHECK(MustAppend(*index, 1'700'000'000'500, kBase + 8));
    MustOk(index->Sync());
  }  // destroyed without Close
  auto index = MustOpen(env.fs, path, kBase, 1200, IndexMode::kWritable);
  CHECK(index->entries() == 100);
  absl::Status s = index->SanityCheck();
  INFO(s.ToString());
  CHECK(HasErrorCode(s, ErrorCode::kCorruptMessage));
  MustOk(index->Reset());
  MustOk(index->SanityCheck());
  CHECK(index->last_entry() == TimestampOffset{kNoTimestamp, kBase});
}

TEST_CASE("time index synced before a simulated power loss keeps its entries", "[time_index]") {
  MemFileSystem mem;
  FaultyFileSystem fs(mem);
  {
    auto index = MustOpen(fs, "/s.timeindex", kBase, 1200, IndexMode::kWritable);
    MustOk(fs.SyncDir("/"));
    CHECK(MustAppend(*index, 100, kBase + 1));
    MustOk(index->Sync());
    CHECK(MustAppend(*index, 200, kBase + 2));  // not synced: lost
    fs.SimulateCrash(3);
  }
  auto index = MustOpen(fs, "/s.timeindex", kBase, 1200, IndexMode::kReadOnly);
  CHECK(index->entries() == 100);
  CHECK(index->EntryAt(0) == TimestampOffset{100, kBase + 1});
  CHECK(index->EntryAt(1) == TimestampOffset{0, kBase});
  CHECK(HasErrorCode(index->SanityCheck(), ErrorCode::kCorruptMessage));
}

TEST_CASE("corrupt time index files fail SanityCheck", "[time_index]") {
  MemFileSystem fs;
  const std::string path = "/corrupt.timeindex";
  auto check_corrupt = [&](const std::vector<std::byte>& bytes) {
    WriteAll(fs, path, bytes);
    for (IndexMode mode : {IndexMode::kReadOnly, IndexMode::kWritable}) {
      auto index = MustOpen(fs, path, kBase, 1200, mode);
      absl::Status s = index->SanityCheck();
      INFO(s.ToString());
      CHECK(HasErrorCode(s, ErrorCode::kCorruptMessage));
      (void)index->Lookup(150);  // memory-safe all the same
      (void)index->last_entry();
    }
  };

  SECTION("a good file passes") {
    WriteAll(fs, path, RawEntries({{100, 1}, {200, 1}, {300, 4}}));
    auto index = MustOpen(fs, path, kBase, 1200, IndexMode::kReadOnly);
    MustOk(index->SanityCheck());
    CHECK(index->Lookup(250) == TimestampOffset{200, kBase + 1});
  }
  SECTION("size not a multiple of the entry size") {
    std::vector<std::byte> bytes = RawEntries({{100, 1}});
    bytes.resize(bytes.size() + 8);
    check_corrupt(bytes);
  }
  SECTION("timestamps that do not increase") {
    check_corrupt(RawEntries({{100, 1}, {100, 2}}));
    check_corrupt(RawEntries({{100, 1}, {50, 2}}));
  }
  SECTION("offsets that decrease") { check_corrupt(RawEntries({{100, 5}, {200, 4}})); }
  SECTION("a zero entry after real ones") {
    check_corrupt(RawEntries({{100, 1}, {200, 2}, {0, 0}}));
  }
  SECTION("a negative timestamp or relative offset") {
    check_corrupt(RawEntries({{-7, 1}, {200, 2}}));
    check_corrupt(RawEntries({{100, -1}, {200, 2}}));
  }
}

TEST_CASE("a read-only time index refuses changes", "[time_index]") {
  MemFileSystem fs;
  WriteAll(fs, "/ro.timeindex", RawEntries({{100, 1}}));
  auto index = MustOpen(fs, "/ro.timeindex", kBase, 1200, IndexMode::kReadOnly);
  CHECK(index->IsFull());
  CHECK(index->MaybeAppend(200, kBase + 2).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(index->MaybeAppendOnRoll(200, kBase + 2).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(index->TruncateTo(kBase).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(index->Reset().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(index->Lookup(150) == TimestampOffset{100, kBase + 1});
}

}  // namespace
}  // namespace evlog
