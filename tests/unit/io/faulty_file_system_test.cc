#include "evlog/io/faulty_file_system.h"

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "evlog/io/mem_file_system.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/support/temp_dir.h"

namespace evlog {
namespace {

using TornWrite = FaultyFileSystem::TornWrite;

std::unique_ptr<File> MustOpen(FileSystem& fs, const std::string& path, OpenMode mode) {
  absl::StatusOr<std::unique_ptr<File>> file = fs.Open(path, mode);
  INFO(file.status().ToString());
  REQUIRE(file.ok());
  return *std::move(file);
}

std::string ReadAll(const File& file) {
  absl::StatusOr<uint64_t> size = file.Size();
  REQUIRE(size.ok());
  std::string out(*size, '\0');
  absl::StatusOr<size_t> n =
      file.ReadAt(0, MutableByteView(reinterpret_cast<std::byte*>(out.data()), out.size()));
  REQUIRE(n.ok());
  out.resize(*n);
  return out;
}

std::string ReadPath(FileSystem& fs, const std::string& path) {
  return ReadAll(*MustOpen(fs, path, OpenMode::kReadOnly));
}

// A file created, written, synced and dir-synced: durable in name and bytes.
void WriteDurable(FileSystem& fs, const std::string& path, std::string_view contents) {
  std::unique_ptr<File> f = MustOpen(fs, path, OpenMode::kCreate);
  REQUIRE(f->Truncate(0).ok());
  REQUIRE(f->Append(AsBytes(contents)).ok());
  REQUIRE(f->Sync().ok());
  REQUIRE(f->Close().ok());
  REQUIRE(fs.SyncDir(std::string(DirName(path))).ok());
}

struct Setup {
  MemFileSystem mem;
  FaultyFileSystem fs{mem};
  Setup() { REQUIRE(fs.CreateDir("/d").ok()); }
};

// The property test's write history: some synced writes, then unsynced ones.
struct Step {
  enum Kind { kAppend, kWriteAt, kTruncate, kSync } kind;
  uint64_t offset;
  std::string data;
};

std::string Apply(std::string image, const Step& s, size_t keep) {
  if (s.kind == Step::kTruncate) {
    image.resize(s.offset);
    return image;
  }
  const uint64_t at = s.kind == Step::kAppend ? image.size() : s.offset;
  const std::string part = s.data.substr(0, keep);
  if (at + part.size() > image.size()) image.resize(at + part.size());
  image.replace(at, part.size(), part);
  return image;
}

std::vector<Step> RandomHistory(std::mt19937_64& rng) {
  std::vector<Step> steps;
  const int n = 1 + static_cast<int>(rng() % 12);
  uint64_t size = 0;  // live size, to keep WriteAt offsets mostly near the data
  for (int i = 0; i < n; ++i) {
    Step s{};
    const uint64_t r = rng() % 10;
    const std::string data(1 + rng() % 40, static_cast<char>('a' + rng() % 26));
    if (r < 4) {
      s = {Step::kAppend, 0, data};
      size += data.size();
    } else if (r < 6) {
      s = {Step::kWriteAt, rng() % (size + 8), data};
      size = std::max(size, s.offset + data.size());
    } else if (r < 7) {
      s = {Step::kTruncate, rng() % (size + 4), {}};
      size = s.offset;
    } else {
      s = {Step::kSync, 0, {}};
    }
    steps.push_back(s);
  }
  // End, most of the time, with the write whose tearing is being tested.
  if (rng() % 4 != 0) {
    const std::string data(1 + rng() % 64, 'Z');
    steps.push_back(rng() % 3 == 0 ? Step{Step::kWriteAt, rng() % (size + 1), data}
                                   : Step{Step::kAppend, 0, data});
  }
  return steps;
}

TEST_CASE("a crash keeps exactly the synced contents plus at most a torn part of the last write") {
  int seen_none = 0;
  int seen_partial = 0;
  int seen_full = 0;
  for (uint64_t seed = 0; seed < 600; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937_64 rng(seed);
    const std::vector<Step> steps = RandomHistory(rng);

    Setup t;
    WriteDurable(t.fs, "/d/f", "");
    std::unique_ptr<File> f = MustOpen(t.fs, "/d/f", OpenMode::kReadWrite);
    std::string live;
    std::string durable;
    size_t unsynced = 0;
    for (const Step& s : steps) {
      switch (s.kind) {
        case Step::kAppend:
          REQUIRE(f->Append(AsBytes(s.data)).ok());
          break;
        case Step::kWriteAt:
          REQUIRE(f->WriteAt(s.offset, AsBytes(s.data)).ok());
          break;
        case Step::kTruncate:
          REQUIRE(f->Truncate(s.offset).ok());
          break;
        case Step::kSync:
          REQUIRE(f->Sync().ok());
          break;
      }
      if (s.kind == Step::kSync) {
        durable = live;
        unsynced = 0;
      } else {
        live = Apply(live, s, s.data.size());
        ++unsynced;
      }
    }
    REQUIRE(ReadAll(*f) == live);

    t.fs.SimulateCrash(seed);
    const std::string after = ReadPath(t.fs, "/d/f");

    const Step& last = steps.back();
    const bool tearable = unsynced > 0 && last.kind != Step::kTruncate &&
                          last.kind != Step::kSync &&
                          (last.kind == Step::kAppend ? true : last.offset <= durable.size());
    if (!tearable) {
      CHECK(after == durable);
      continue;
    }
    // The append's offset is the live size before it, which may be past the
    // durable end when earlier unsynced writes grew the file.
    Step at = last;
    if (last.kind == Step::kAppend) {
      at = {Step::kWriteAt, live.size() - last.data.size(), last.data};
      if (at.offset > durable.size()) {
        CHECK(after == durable);
        continue;
      }
    }
    std::vector<size_t> matches;
    for (size_t keep = 0; keep <= at.data.size(); ++keep) {
      if (Apply(durable, at, keep) == after) matches.push_back(keep);
    }
    INFO("durable size " << durable.size() << ", last write at " << at.offset << " of "
                         << at.data.size() << ", after size " << after.size());
    REQUIRE_FALSE(matches.empty());
    if (at.data.size() >= 2) {
      // Data of one repeated letter can make several lengths match; count
      // only unambiguous outcomes.
      if (matches.size() == 1 && matches[0] == 0) ++seen_none;
      if (matches.size() == 1 && matches[0] == at.data.size()) ++seen_full;
      if (std::all_of(matches.begin(), matches.end(),
                      [&](size_t k) { return k > 0 && k < at.data.size(); })) {
        ++seen_partial;
      }
    }
  }
  CHECK(seen_none > 10);
  CHECK(seen_partial > 10);
  CHECK(seen_full > 10);
}

TEST_CASE("the same history and seed give the same crash") {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::string results[2];
    for (std::string& result : results) {
      Setup t;
      WriteDurable(t.fs, "/d/f", "base");
      std::unique_ptr<File> f = MustOpen(t.fs, "/d/f", OpenMode::kReadWrite);
      REQUIRE(f->Append(AsBytes("0123456789abcdefghij")).ok());
      t.fs.SimulateCrash(seed);
      result = ReadPath(t.fs, "/d/f");
    }
    CHECK(results[0] == results[1]);
  }
}

TEST_CASE("a crash that drops torn writes keeps only synced bytes") {
  Setup t;
  WriteDurable(t.fs, "/d/f", "synced");
  std::unique_ptr<File> f = MustOpen(t.fs, "/d/f", OpenMode::kReadWrite);
  REQUIRE(f->Append(AsBytes("-unsynced")).ok());
  t.fs.SimulateCrash(7, TornWrite::kDrop);
  CHECK(ReadPath(t.fs, "/d/f") == "synced");
}

TEST_CASE("an injected append failure surfaces as a storage error and writes nothing") {
  Setup t;
  WriteDurable(t.fs, "/d/a.log", "abc");
  std::unique_ptr<File> f = MustOpen(t.fs, "/d/a.log", OpenMode::kReadWrite);
  t.fs.AddFault(FaultRule(FsOp::kAppend).PathContains(".log"));
  const absl::Status s = f->Append(AsBytes("def"));
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK(HasErrorCode(s, ErrorCode::kKafkaStorageError));
  CHECK(ReadAll(*f) == "abc");
  REQUIRE(f->Append(AsBytes("def")).ok());  // count 1: used up
  CHECK(ReadAll(*f) == "abcdef");
  CHECK(t.fs.stats().faults_injected == 1);
}

TEST_CASE("a fault skips its first matches and then fails its count") {
  Setup t;
  std::unique_ptr<File> f = MustOpen(t.fs, "/d/a", OpenMode::kCreate);
  t.fs.AddFault(FaultRule(FsOp::kWriteAt).Skip(2).Count(2).WithStatus(InjectedNoSpaceError()));
  CHECK(f->WriteAt(0, AsBytes("a")).ok());
  CHECK(f->WriteAt(1, AsBytes("b")).ok());
  CHECK(f->WriteAt(2, AsBytes("c")) == InjectedNoSpaceError());
  CHECK(f->WriteAt(2, AsBytes("c")) == InjectedNoSpaceError());
  CHECK(f->WriteAt(2, AsBytes("c")).ok());
  CHECK(ReadAll(*f) == "abc");
}

TEST_CASE("a fault matches only its operation and path") {
  Setup t;
  std::unique_ptr<File> index = MustOpen(t.fs, "/d/0.index", OpenMode::kCreate);
  std::unique_ptr<File> log = MustOpen(t.fs, "/d/0.log", OpenMode::kCreate);
  t.fs.AddFault(FaultRule(FsOp::kSync).PathContains(".index").Forever());
  CHECK(log->Sync().ok());
  CHECK(log->Append(AsBytes("x")).ok());
  CHECK_FALSE(index->Sync().ok());
  CHECK_FALSE(index->Sync().ok());
  CHECK(index->Append(AsBytes("x")).ok());
  t.fs.ClearFaults();
  CHECK(index->Sync().ok());
}

TEST_CASE("a failed sync makes nothing durable") {
  Setup t;
  WriteDurable(t.fs, "/d/f", "one");
  std::unique_ptr<File> f = MustOpen(t.fs, "/d/f", OpenMode::kReadWrite);
  REQUIRE(f->Append(AsBytes("two")).ok());
  REQUIRE(f->Truncate(6).ok());  // the last unsynced op is not a write: nothing torn
  t.fs.AddFault(FaultRule(FsOp::kSync));
  CHECK_FALSE(f->Sync().ok());
  t.fs.SimulateCrash(1);
  CHECK(ReadPath(t.fs, "/d/f") == "one");
}

TEST_CASE("injected namespace faults leave the namespace unchanged") {
  Setup t;
  WriteDurable(t.fs, "/d/a", "a");
  t.fs.AddFault(FaultRule(FsOp::kRename).PathContains("/d/b"));
  t.fs.AddFault(FaultRule(FsOp::kRemove));
  t.fs.AddFault(FaultRule(FsOp::kOpen).PathContains("new"));
  t.fs.AddFault(FaultRule(FsOp::kCreateDir));
  t.fs.AddFault(FaultRule(FsOp::kListDir));
  CHECK_FALSE(t.fs.Rename("/d/a", "/d/b").ok());  // matched by the target name
  CHECK_FALSE(t.fs.Remove("/d/a").ok());
  CHECK_FALSE(t.fs.Open("/d/new", OpenMode::kCreate).ok());
  CHECK_FALSE(t.fs.CreateDir("/e").ok());
  CHECK_FALSE(t.fs.ListDir("/d").ok());
  CHECK(*t.fs.ListDir("/d") == std::vector<std::string>{"a"});
  CHECK_FALSE(*t.fs.Exists("/e"));
  CHECK(ReadPath(t.fs, "/d/a") == "a");
  CHECK(t.fs.stats().faults_injected == 5);
}

TEST_CASE("a file created but never dir-synced disappears on a crash") {
  Setup t;
  std::unique_ptr<File> f = MustOpen(t.fs, "/d/new", OpenMode::kCreateNew);
  REQUIRE(f->Append(AsBytes("data")).ok());
  REQUIRE(f->Sync().ok());  // contents durable, name not
  WriteDurable(t.fs, "/d/kept", "kept");
  // WriteDurable's SyncDir("/d") also made "/d/new" durable; use another dir.
  REQUIRE(t.fs.CreateDir("/e").ok());
  std::unique_ptr<File> g = MustOpen(t.fs, "/e/new", OpenMode::kCreate);
  REQUIRE(g->Append(AsBytes("data")).ok());
  REQUIRE(g->Sync().ok());
  t.fs.SimulateCrash(3);
  CHECK_FALSE(*t.fs.Exists("/e/new"));
  CHECK(t.fs.ListDir("/e")->empty());
  CHECK(ReadPath(t.fs, "/d/new") == "data");
  CHECK(ReadPath(t.fs, "/d/kept") == "kept");
}

TEST_CASE("a dir-synced file survives a crash with its synced contents") {
  Setup t;
  std::unique_ptr<File> f = MustOpen(t.fs, "/d/seg", OpenMode::kCreate);
  REQUIRE(t.fs.SyncDir("/d").ok());
  REQUIRE(f->Append(AsBytes("12345")).ok());
  REQUIRE(f->Sync().ok());
  REQUIRE(f->Truncate(2).ok());
  t.fs.SimulateCrash(5);
  CHECK(ReadPath(t.fs, "/d/seg") == "12345");
}

TEST_CASE("an unsynced rename is reverted and a synced one is kept") {
  Setup t;
  WriteDurable(t.fs, "/d/a", "A");
  WriteDurable(t.fs, "/d/b", "B");
  REQUIRE(t.fs.Rename("/d/a", "/d/b").ok());
  REQUIRE(t.fs.Rename("/d/b", "/d/c").ok());
  CHECK(*t.fs.ListDir("/d") == std::vector<std::string>{"c"});
  t.fs.SimulateCrash(9);
  CHECK(*t.fs.ListDir("/d") == std::vector<std::string>{"a", "b"});
  CHECK(ReadPath(t.fs, "/d/a") == "A");
  CHECK(ReadPath(t.fs, "/d/b") == "B");

  REQUIRE(t.fs.Rename("/d/a", "/d/b").ok());
  REQUIRE(t.fs.SyncDir("/d").ok());
  t.fs.SimulateCrash(9);
  CHECK(*t.fs.ListDir("/d") == std::vector<std::string>{"b"});
  CHECK(ReadPath(t.fs, "/d/b") == "A");
}

TEST_CASE("a rename across directories follows each directory's sync") {
  Setup t;
  REQUIRE(t.fs.CreateDir("/e").ok());
  WriteDurable(t.fs, "/d/a", "A");
  REQUIRE(t.fs.Rename("/d/a", "/e/a").ok());
  REQUIRE(t.fs.SyncDir("/e").ok());  // new name durable, old name not yet gone
  t.fs.SimulateCrash(2);
  CHECK(ReadPath(t.fs, "/d/a") == "A");
  CHECK(ReadPath(t.fs, "/e/a") == "A");
}

TEST_CASE("an unsynced remove comes back with its durable contents") {
  Setup t;
  WriteDurable(t.fs, "/d/a", "durable");
  {
    std::unique_ptr<File> f = MustOpen(t.fs, "/d/a", OpenMode::kReadWrite);
    REQUIRE(f->Truncate(0).ok());
  }
  REQUIRE(t.fs.Remove("/d/a").ok());
  CHECK_FALSE(*t.fs.Exists("/d/a"));
  t.fs.SimulateCrash(4);
  CHECK(ReadPath(t.fs, "/d/a") == "durable");

  REQUIRE(t.fs.Remove("/d/a").ok());
  REQUIRE(t.fs.SyncDir("/d").ok());
  t.fs.SimulateCrash(4);
  CHECK_FALSE(*t.fs.Exists("/d/a"));
}

TEST_CASE("a removed directory is recreated for a file that comes back") {
  Setup t;
  REQUIRE(t.fs.CreateDir("/d/sub").ok());
  WriteDurable(t.fs, "/d/sub/a", "A");
  REQUIRE(t.fs.Remove("/d/sub/a").ok());
  REQUIRE(t.fs.RemoveDir("/d/sub").ok());
  t.fs.SimulateCrash(4);
  CHECK(ReadPath(t.fs, "/d/sub/a") == "A");
}

TEST_CASE("files and regions from before a crash fail but are safe to destroy") {
  Setup t;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  WriteDurable(t.fs, "/d/f", std::string(page, '.'));
  std::unique_ptr<File> f = MustOpen(t.fs, "/d/f", OpenMode::kReadWrite);
  absl::StatusOr<std::unique_ptr<MappedRegion>> region = f->Map(0, page);
  REQUIRE(region.ok());
  (*region)->data()[0] = std::byte{'m'};  // never synced through the region

  t.fs.SimulateCrash(11);

  std::byte buf[1];
  const absl::Status s = f->Append(AsBytes("x"));
  CHECK(absl::IsFailedPrecondition(s));
  CHECK(std::string(s.message()).find("file handle from before a crash") != std::string::npos);
  CHECK(absl::IsFailedPrecondition(f->WriteAt(0, AsBytes("x"))));
  CHECK(absl::IsFailedPrecondition(f->ReadAt(0, buf).status()));
  CHECK(absl::IsFailedPrecondition(f->Sync()));
  CHECK(absl::IsFailedPrecondition(f->Truncate(0)));
  CHECK(absl::IsFailedPrecondition(f->Size().status()));
  CHECK(absl::IsFailedPrecondition(f->Map(0, page).status()));
  CHECK(absl::IsFailedPrecondition(f->Close()));
  CHECK(absl::IsFailedPrecondition((*region)->Sync()));
  (*region)->data()[1] = std::byte{'z'};  // harmless: the buffer is detached
  region->reset();
  f.reset();
  CHECK(ReadPath(t.fs, "/d/f") == std::string(page, '.'));

  // New handles work.
  std::unique_ptr<File> g = MustOpen(t.fs, "/d/f", OpenMode::kReadWrite);
  REQUIRE(g->Append(AsBytes("!")).ok());
  CHECK(*g->Size() == page + 1);
}

TEST_CASE("mapped writes are durable after a region sync and lost without one") {
  Setup t;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::unique_ptr<File> f = MustOpen(t.fs, "/d/idx", OpenMode::kCreate);
  REQUIRE(t.fs.SyncDir("/d").ok());
  REQUIRE(f->Truncate(2 * page).ok());  // preallocated, as indexes do
  absl::StatusOr<std::unique_ptr<MappedRegion>> region = f->Map(page, page);
  REQUIRE(region.ok());
  (*region)->data()[0] = std::byte{'s'};
  REQUIRE((*region)->Sync().ok());
  (*region)->data()[1] = std::byte{'u'};  // not synced
  REQUIRE(f->Sync().ok());                // does not cover the region's buffer
  t.fs.SimulateCrash(6);
  const std::string after = ReadPath(t.fs, "/d/idx");
  REQUIRE(after.size() == 2 * page);
  CHECK(after[page] == 's');
  CHECK(after[page + 1] == '\0');
}

TEST_CASE("a flipped byte is visible now and after a crash") {
  Setup t;
  WriteDurable(t.fs, "/d/f", "abcd");
  REQUIRE(t.fs.FlipByte("/d/f", 1).ok());
  CHECK(ReadPath(t.fs, "/d/f") == std::string("a") + static_cast<char>('b' ^ 0xFF) + "cd");
  REQUIRE(t.fs.FlipByte("/d/f", 1).ok());
  REQUIRE(t.fs.FlipByte("/d/f", 3, 0x01).ok());
  CHECK(ReadPath(t.fs, "/d/f") == "abce");
  t.fs.SimulateCrash(8);
  CHECK(ReadPath(t.fs, "/d/f") == "abce");
  CHECK(absl::IsOutOfRange(t.fs.FlipByte("/d/f", 4)));
  CHECK(absl::IsNotFound(t.fs.FlipByte("/d/none", 0)));
}

TEST_CASE("a flipped byte inside an unsynced write stays flipped once synced") {
  Setup t;
  WriteDurable(t.fs, "/d/f", "ab");
  std::unique_ptr<File> f = MustOpen(t.fs, "/d/f", OpenMode::kReadWrite);
  REQUIRE(f->Append(AsBytes("cd")).ok());
  REQUIRE(t.fs.FlipByte("/d/f", 2, 0x20).ok());
  REQUIRE(f->Sync().ok());
  t.fs.SimulateCrash(8);
  CHECK(ReadPath(t.fs, "/d/f") == "abCd");
}

TEST_CASE("stats count syncs and written bytes") {
  Setup t;
  std::unique_ptr<File> f = MustOpen(t.fs, "/d/f", OpenMode::kCreate);
  REQUIRE(f->Append(AsBytes("abc")).ok());
  REQUIRE(f->WriteAt(10, AsBytes("de")).ok());
  REQUIRE(f->Sync().ok());
  REQUIRE(f->Sync().ok());
  REQUIRE(t.fs.SyncDir("/d").ok());
  t.fs.AddFault(FaultRule(FsOp::kAppend));
  CHECK_FALSE(f->Append(AsBytes("zzz")).ok());
  t.fs.SimulateCrash(0);
  const FaultyFileSystem::Stats stats = t.fs.stats();
  CHECK(stats.bytes_written == 5);
  CHECK(stats.syncs == 2);
  CHECK(stats.dir_syncs == 1);
  CHECK(stats.faults_injected == 1);
  CHECK(stats.crashes == 1);
}

TEST_CASE("files that existed before wrapping are taken as durable") {
  MemFileSystem mem;
  REQUIRE(mem.CreateDir("/d").ok());
  {
    std::unique_ptr<File> f = MustOpen(mem, "/d/old", OpenMode::kCreate);
    REQUIRE(f->Append(AsBytes("old")).ok());
  }
  FaultyFileSystem fs(mem);
  std::unique_ptr<File> f = MustOpen(fs, "/d/old", OpenMode::kReadWrite);
  REQUIRE(f->Append(AsBytes("new")).ok());
  REQUIRE(fs.Rename("/d/old", "/d/renamed").ok());
  fs.SimulateCrash(1, TornWrite::kDrop);
  CHECK(*fs.ListDir("/d") == std::vector<std::string>{"old"});
  CHECK(ReadPath(fs, "/d/old") == "old");
}

TEST_CASE("a faulty file system over the real disk crashes the same way") {
  testing::TempDir dir;
  PosixFileSystem posix;
  FaultyFileSystem fs(posix);
  const std::string kept = JoinPath(dir.path(), "kept");
  const std::string lost = JoinPath(dir.path(), "lost");
  WriteDurable(fs, kept, "synced");
  std::unique_ptr<File> f = MustOpen(fs, kept, OpenMode::kReadWrite);
  REQUIRE(f->Append(AsBytes("+tail")).ok());
  std::unique_ptr<File> g = MustOpen(fs, lost, OpenMode::kCreate);
  fs.SimulateCrash(1, TornWrite::kDrop);
  CHECK(ReadPath(fs, kept) == "synced");
  CHECK_FALSE(*posix.Exists(lost));
}

TEST_CASE("directory renames are durable at once") {
  Setup t;
  REQUIRE(t.fs.CreateDir("/d/topic-0").ok());
  WriteDurable(t.fs, "/d/topic-0/0.log", "log");
  REQUIRE(t.fs.Rename("/d/topic-0", "/d/topic-0.delete").ok());
  t.fs.SimulateCrash(1);
  CHECK(*t.fs.ListDir("/d") == std::vector<std::string>{"topic-0.delete"});
  CHECK(ReadPath(t.fs, "/d/topic-0.delete/0.log") == "log");
}

}  // namespace
}  // namespace evlog
