// The FileSystem contract (file_system.h), checked against every
// implementation: PosixFileSystem in a temporary directory, MemFileSystem,
// and FaultyFileSystem over a MemFileSystem with no faults armed.
#include "evlog/io/file_system.h"

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/support/temp_dir.h"

namespace evlog {
namespace {

struct PosixFixture {
  testing::TempDir dir;
  PosixFileSystem posix;
  FileSystem& fs = posix;
  std::string root = dir.path();
};

struct MemFixture {
  MemFileSystem mem;
  FileSystem& fs = mem;
  std::string root = "/root";
  MemFixture() { REQUIRE(mem.CreateDir(root).ok()); }
};

struct FaultyFixture {
  MemFileSystem mem;
  FaultyFileSystem faulty{mem};
  FileSystem& fs = faulty;
  std::string root = "/root";
  FaultyFixture() { REQUIRE(faulty.CreateDir(root).ok()); }
};

std::unique_ptr<File> MustOpen(FileSystem& fs, const std::string& path, OpenMode mode) {
  absl::StatusOr<std::unique_ptr<File>> file = fs.Open(path, mode);
  INFO(file.status().ToString());
  REQUIRE(file.ok());
  return *std::move(file);
}

std::string ReadString(const File& file, uint64_t offset, size_t n) {
  std::string out(n, '\0');
  absl::StatusOr<size_t> got =
      file.ReadAt(offset, MutableByteView(reinterpret_cast<std::byte*>(out.data()), n));
  INFO(got.status().ToString());
  REQUIRE(got.ok());
  out.resize(*got);
  return out;
}

std::string ReadAll(const File& file) {
  absl::StatusOr<uint64_t> size = file.Size();
  REQUIRE(size.ok());
  return ReadString(file, 0, *size);
}

std::string ReadPath(FileSystem& fs, const std::string& path) {
  return ReadAll(*MustOpen(fs, path, OpenMode::kReadOnly));
}

void WritePath(FileSystem& fs, const std::string& path, std::string_view contents) {
  std::unique_ptr<File> f = MustOpen(fs, path, OpenMode::kCreate);
  REQUIRE(f->Truncate(0).ok());
  REQUIRE(f->Append(AsBytes(contents)).ok());
  REQUIRE(f->Sync().ok());
  REQUIRE(f->Close().ok());
}

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

#define FS_TEST(name) \
  TEMPLATE_TEST_CASE(name, "[io][contract]", PosixFixture, MemFixture, FaultyFixture)

FS_TEST("open modes create, require or refuse an existing file") {
  TestType t;
  const std::string path = JoinPath(t.root, "a.log");

  CHECK(absl::IsNotFound(t.fs.Open(path, OpenMode::kReadOnly).status()));
  CHECK(absl::IsNotFound(t.fs.Open(path, OpenMode::kReadWrite).status()));

  std::unique_ptr<File> created = MustOpen(t.fs, path, OpenMode::kCreateNew);
  CHECK(*created->Size() == 0);
  REQUIRE(created->Append(AsBytes("abc")).ok());
  REQUIRE(created->Close().ok());

  CHECK(absl::IsAlreadyExists(t.fs.Open(path, OpenMode::kCreateNew).status()));
  CHECK(ReadAll(*MustOpen(t.fs, path, OpenMode::kCreate)) == "abc");  // kept, not truncated
  CHECK(ReadAll(*MustOpen(t.fs, path, OpenMode::kReadWrite)) == "abc");

  std::unique_ptr<File> ro = MustOpen(t.fs, path, OpenMode::kReadOnly);
  CHECK(ReadAll(*ro) == "abc");
  CHECK(absl::IsFailedPrecondition(ro->Append(AsBytes("x"))));
  CHECK(absl::IsFailedPrecondition(ro->WriteAt(0, AsBytes("x"))));
  CHECK(absl::IsFailedPrecondition(ro->Truncate(0)));
  CHECK(ReadAll(*ro) == "abc");
}

FS_TEST("a file cannot be created in a missing directory or opened as a directory") {
  TestType t;
  CHECK(absl::IsNotFound(t.fs.Open(JoinPath(t.root, "no/a.log"), OpenMode::kCreate).status()));
  REQUIRE(t.fs.CreateDir(JoinPath(t.root, "d")).ok());
  CHECK(absl::IsFailedPrecondition(t.fs.Open(JoinPath(t.root, "d"), OpenMode::kReadOnly).status()));
  CHECK(
      absl::IsFailedPrecondition(t.fs.Open(JoinPath(t.root, "d"), OpenMode::kReadWrite).status()));
  WritePath(t.fs, JoinPath(t.root, "f"), "x");
  CHECK(absl::IsFailedPrecondition(
      t.fs.Open(JoinPath(t.root, "f/a.log"), OpenMode::kCreate).status()));
}

FS_TEST("append then read back with a short read at end of file") {
  TestType t;
  std::unique_ptr<File> f = MustOpen(t.fs, JoinPath(t.root, "a.log"), OpenMode::kCreate);
  REQUIRE(f->Append(AsBytes("hello")).ok());
  REQUIRE(f->Append(AsBytes(" world")).ok());
  REQUIRE(f->Append(ByteView()).ok());
  CHECK(*f->Size() == 11);
  CHECK(ReadString(*f, 0, 11) == "hello world");
  CHECK(ReadString(*f, 6, 100) == "world");
  CHECK(ReadString(*f, 11, 4).empty());
  CHECK(ReadString(*f, 1000, 4).empty());
  CHECK(ReadString(*f, 3, 0).empty());
  REQUIRE(f->Sync().ok());
}

FS_TEST("write at an offset overwrites and a gap past the end reads as zeros") {
  TestType t;
  std::unique_ptr<File> f = MustOpen(t.fs, JoinPath(t.root, "a"), OpenMode::kCreate);
  REQUIRE(f->WriteAt(0, AsBytes("abcdef")).ok());
  REQUIRE(f->WriteAt(2, AsBytes("XY")).ok());
  CHECK(ReadAll(*f) == "abXYef");
  REQUIRE(f->WriteAt(10, AsBytes("z")).ok());
  CHECK(*f->Size() == 11);
  CHECK(ReadAll(*f) == std::string("abXYef\0\0\0\0z", 11));
  REQUIRE(f->Append(AsBytes("!")).ok());  // append follows the write
  CHECK(ReadString(*f, 10, 5) == "z!");
}

FS_TEST("truncate shrinks and zero-extends") {
  TestType t;
  std::unique_ptr<File> f = MustOpen(t.fs, JoinPath(t.root, "a"), OpenMode::kCreate);
  REQUIRE(f->Append(AsBytes("abcdef")).ok());
  REQUIRE(f->Truncate(3).ok());
  CHECK(*f->Size() == 3);
  CHECK(ReadAll(*f) == "abc");
  REQUIRE(f->Truncate(6).ok());
  CHECK(ReadAll(*f) == std::string("abc\0\0\0", 6));
  REQUIRE(f->Append(AsBytes("g")).ok());
  CHECK(ReadAll(*f) == std::string("abc\0\0\0g", 7));
  REQUIRE(f->Truncate(0).ok());
  CHECK(*f->Size() == 0);
}

FS_TEST("appends through two files on one path both land at the end") {
  TestType t;
  const std::string path = JoinPath(t.root, "a");
  std::unique_ptr<File> f1 = MustOpen(t.fs, path, OpenMode::kCreate);
  std::unique_ptr<File> f2 = MustOpen(t.fs, path, OpenMode::kReadWrite);
  REQUIRE(f1->Append(AsBytes("one")).ok());
  REQUIRE(f2->Append(AsBytes("two")).ok());
  REQUIRE(f1->Append(AsBytes("three")).ok());
  CHECK(ReadAll(*f1) == "onetwothree");
  REQUIRE(f2->Truncate(3).ok());
  REQUIRE(f1->Append(AsBytes("!")).ok());
  CHECK(ReadAll(*f2) == "one!");
  CHECK(*t.fs.FileSize(path) == 4);
}

FS_TEST("writes through a mapped region reach the file after sync and survive reopening") {
  TestType t;
  const std::string path = JoinPath(t.root, "a.index");
  const size_t page = PageSize();
  {
    std::unique_ptr<File> f = MustOpen(t.fs, path, OpenMode::kCreate);
    REQUIRE(f->Truncate(2 * page).ok());
    absl::StatusOr<std::unique_ptr<MappedRegion>> region = f->Map(page, page);
    INFO(region.status().ToString());
    REQUIRE(region.ok());
    MutableByteView bytes = (*region)->data();
    REQUIRE(bytes.size() == page);
    CHECK(bytes[0] == std::byte{0});
    bytes[0] = std::byte{'i'};
    bytes[1] = std::byte{'d'};
    bytes[page - 1] = std::byte{'x'};
    REQUIRE((*region)->Sync().ok());
    CHECK(ReadString(*f, page, 2) == "id");
    bytes[2] = std::byte{'!'};  // written back on destruction at the latest
    region->reset();
    CHECK(ReadString(*f, page, 3) == "id!");
    REQUIRE(f->Sync().ok());
    REQUIRE(f->Close().ok());
  }
  std::unique_ptr<File> f = MustOpen(t.fs, path, OpenMode::kReadWrite);
  CHECK(*f->Size() == 2 * page);
  CHECK(ReadString(*f, page, 3) == "id!");
  CHECK(ReadString(*f, 2 * page - 1, 8) == "x");
  CHECK(ReadString(*f, 0, 1) == std::string(1, '\0'));

  // The whole file, and an empty range, may be mapped too.
  absl::StatusOr<std::unique_ptr<MappedRegion>> all = f->Map(0, 2 * page);
  REQUIRE(all.ok());
  CHECK((*all)->data()[page] == std::byte{'i'});
  absl::StatusOr<std::unique_ptr<MappedRegion>> empty = f->Map(0, 0);
  REQUIRE(empty.ok());
  CHECK((*empty)->data().empty());
  CHECK((*empty)->Sync().ok());
}

FS_TEST("a mapped region that outlives growth of its file stays usable") {
  TestType t;
  const size_t page = PageSize();
  std::unique_ptr<File> f = MustOpen(t.fs, JoinPath(t.root, "a"), OpenMode::kCreate);
  REQUIRE(f->Truncate(page).ok());
  absl::StatusOr<std::unique_ptr<MappedRegion>> region = f->Map(0, page);
  REQUIRE(region.ok());
  for (int i = 0; i < 64; ++i) REQUIRE(f->Append(AsBytes(std::string(page, 'a'))).ok());
  (*region)->data()[5] = std::byte{'m'};
  REQUIRE((*region)->Sync().ok());
  region->reset();
  CHECK(ReadString(*f, 5, 1) == "m");
  CHECK(ReadString(*f, page, 1) == "a");
}

FS_TEST("map rejects misaligned offsets, ranges past the end and read-only files") {
  TestType t;
  const size_t page = PageSize();
  const std::string path = JoinPath(t.root, "a");
  std::unique_ptr<File> f = MustOpen(t.fs, path, OpenMode::kCreate);
  REQUIRE(f->Truncate(page).ok());
  CHECK(absl::IsInvalidArgument(f->Map(1, 10).status()));
  CHECK(absl::IsInvalidArgument(f->Map(0, page + 1).status()));
  CHECK(absl::IsInvalidArgument(f->Map(2 * page, 1).status()));
  std::unique_ptr<File> ro = MustOpen(t.fs, path, OpenMode::kReadOnly);
  CHECK(absl::IsFailedPrecondition(ro->Map(0, page).status()));
}

FS_TEST("rename moves a file and replaces the target") {
  TestType t;
  const std::string a = JoinPath(t.root, "a");
  const std::string b = JoinPath(t.root, "b");
  WritePath(t.fs, a, "new");
  WritePath(t.fs, b, "old contents");
  REQUIRE(t.fs.Rename(a, b).ok());
  CHECK_FALSE(*t.fs.Exists(a));
  CHECK(ReadPath(t.fs, b) == "new");
  CHECK(absl::IsNotFound(t.fs.Rename(a, b)));
  CHECK(absl::IsNotFound(t.fs.Rename(b, JoinPath(t.root, "missing/b"))));
  REQUIRE(t.fs.Rename(b, b).ok());
  CHECK(ReadPath(t.fs, b) == "new");
}

FS_TEST("rename moves a directory with its contents") {
  TestType t;
  const std::string d = JoinPath(t.root, "topic-0");
  REQUIRE(t.fs.CreateDir(JoinPath(d, "sub")).ok());
  WritePath(t.fs, JoinPath(d, "0.log"), "log");
  WritePath(t.fs, JoinPath(d, "sub/x"), "x");
  const std::string e = JoinPath(t.root, "topic-0.delete");
  REQUIRE(t.fs.Rename(d, e).ok());
  CHECK_FALSE(*t.fs.Exists(d));
  CHECK(*t.fs.ListDir(e) == std::vector<std::string>{"0.log", "sub"});
  CHECK(ReadPath(t.fs, JoinPath(e, "sub/x")) == "x");
  CHECK(*t.fs.ListDir(t.root) == std::vector<std::string>{"topic-0.delete"});
}

FS_TEST("an open file keeps its contents across rename and remove of its name") {
  TestType t;
  const std::string a = JoinPath(t.root, "a");
  std::unique_ptr<File> f = MustOpen(t.fs, a, OpenMode::kCreate);
  REQUIRE(f->Append(AsBytes("abc")).ok());
  REQUIRE(t.fs.Rename(a, JoinPath(t.root, "b")).ok());
  REQUIRE(f->Append(AsBytes("d")).ok());
  CHECK(ReadPath(t.fs, JoinPath(t.root, "b")) == "abcd");
  REQUIRE(t.fs.Remove(JoinPath(t.root, "b")).ok());
  REQUIRE(f->Append(AsBytes("e")).ok());
  CHECK(ReadAll(*f) == "abcde");
  CHECK(t.fs.ListDir(t.root)->empty());
}

FS_TEST("remove deletes a file and reports a missing one") {
  TestType t;
  const std::string a = JoinPath(t.root, "a");
  WritePath(t.fs, a, "x");
  CHECK(*t.fs.Exists(a));
  REQUIRE(t.fs.Remove(a).ok());
  CHECK_FALSE(*t.fs.Exists(a));
  const absl::Status missing = t.fs.Remove(a);
  CHECK(absl::IsNotFound(missing));
  CHECK(std::string(missing.message()).find(a) != std::string::npos);
  REQUIRE(t.fs.CreateDir(JoinPath(t.root, "d")).ok());
  CHECK(absl::IsFailedPrecondition(t.fs.Remove(JoinPath(t.root, "d"))));
}

FS_TEST("list dir returns the sorted names of the entries") {
  TestType t;
  for (const char* name : {"c.log", "a.log", "b-1", "b"})
    WritePath(t.fs, JoinPath(t.root, name), "");
  REQUIRE(t.fs.CreateDir(JoinPath(t.root, "d/e")).ok());
  WritePath(t.fs, JoinPath(t.root, "d/e/deep"), "");
  CHECK(*t.fs.ListDir(t.root) == std::vector<std::string>{"a.log", "b", "b-1", "c.log", "d"});
  CHECK(*t.fs.ListDir(JoinPath(t.root, "d")) == std::vector<std::string>{"e"});
  CHECK(absl::IsNotFound(t.fs.ListDir(JoinPath(t.root, "none")).status()));
  CHECK(absl::IsFailedPrecondition(t.fs.ListDir(JoinPath(t.root, "a.log")).status()));
}

FS_TEST("create dir makes missing parents and accepts an existing directory") {
  TestType t;
  const std::string deep = JoinPath(t.root, "x/y/z");
  REQUIRE(t.fs.CreateDir(deep).ok());
  REQUIRE(t.fs.CreateDir(deep).ok());
  REQUIRE(t.fs.CreateDir(deep + "/").ok());
  CHECK(*t.fs.Exists(deep));
  CHECK(*t.fs.Exists(JoinPath(t.root, "x/y")));
  WritePath(t.fs, JoinPath(t.root, "f"), "");
  CHECK(absl::IsFailedPrecondition(t.fs.CreateDir(JoinPath(t.root, "f/g"))));

  CHECK(absl::IsFailedPrecondition(t.fs.RemoveDir(JoinPath(t.root, "x"))));  // not empty
  REQUIRE(t.fs.RemoveDir(deep).ok());
  CHECK_FALSE(*t.fs.Exists(deep));
  CHECK(absl::IsNotFound(t.fs.RemoveDir(deep)));
  CHECK(absl::IsFailedPrecondition(t.fs.RemoveDir(JoinPath(t.root, "f"))));
}

FS_TEST("sync dir needs an existing directory") {
  TestType t;
  REQUIRE(t.fs.SyncDir(t.root).ok());
  CHECK(absl::IsNotFound(t.fs.SyncDir(JoinPath(t.root, "none"))));
}

FS_TEST("file size reads a size without an open file") {
  TestType t;
  const std::string a = JoinPath(t.root, "a");
  WritePath(t.fs, a, "12345");
  CHECK(*t.fs.FileSize(a) == 5);
  CHECK(absl::IsNotFound(t.fs.FileSize(JoinPath(t.root, "b")).status()));
  CHECK(absl::IsFailedPrecondition(t.fs.FileSize(t.root).status()));
}

FS_TEST("a closed file fails every call with failed precondition") {
  TestType t;
  std::unique_ptr<File> f = MustOpen(t.fs, JoinPath(t.root, "a"), OpenMode::kCreate);
  REQUIRE(f->Append(AsBytes("abc")).ok());
  REQUIRE(f->Close().ok());
  std::byte buf[4];
  CHECK(absl::IsFailedPrecondition(f->Append(AsBytes("x"))));
  CHECK(absl::IsFailedPrecondition(f->WriteAt(0, AsBytes("x"))));
  CHECK(absl::IsFailedPrecondition(f->ReadAt(0, buf).status()));
  CHECK(absl::IsFailedPrecondition(f->Sync()));
  CHECK(absl::IsFailedPrecondition(f->Truncate(0)));
  CHECK(absl::IsFailedPrecondition(f->Size().status()));
  CHECK(absl::IsFailedPrecondition(f->Map(0, 0).status()));
  CHECK(absl::IsFailedPrecondition(f->Close()));
  CHECK(ReadPath(t.fs, JoinPath(t.root, "a")) == "abc");
}

FS_TEST("paths name the same file however they are spelled") {
  TestType t;
  WritePath(t.fs, t.root + "//d.log", "x");
  CHECK(ReadPath(t.fs, t.root + "/./d.log") == "x");
  CHECK(*t.fs.Exists(t.root + "/d.log"));
}

FS_TEST("readers see a prefix of what one concurrent writer appends") {
  TestType t;
  const std::string path = JoinPath(t.root, "a");
  std::unique_ptr<File> writer = MustOpen(t.fs, path, OpenMode::kCreate);
  std::unique_ptr<File> reader = MustOpen(t.fs, path, OpenMode::kReadOnly);
  constexpr int kRecords = 300;
  std::atomic<bool> failed{false};
  std::thread read_thread([&] {
    std::string buf(8 * kRecords, '\0');
    for (int i = 0; i < 200; ++i) {
      absl::StatusOr<size_t> n =
          reader->ReadAt(0, MutableByteView(reinterpret_cast<std::byte*>(buf.data()), buf.size()));
      if (!n.ok()) failed = true;
      for (size_t j = 0; n.ok() && j < *n; ++j) {
        if (buf[j] != static_cast<char>('a' + (j / 8) % 26)) failed = true;
      }
    }
  });
  for (int i = 0; i < kRecords; ++i) {
    REQUIRE(writer->Append(AsBytes(std::string(8, static_cast<char>('a' + i % 26)))).ok());
  }
  read_thread.join();
  CHECK_FALSE(failed.load());
  CHECK(*reader->Size() == 8 * kRecords);
}

TEST_CASE("posix write errors carry KAFKA_STORAGE_ERROR and name the path") {
  PosixFileSystem& fs = PosixFileSystem::Default();
  absl::StatusOr<std::unique_ptr<File>> full = fs.Open("/dev/full", OpenMode::kReadWrite);
  if (!full.ok()) return;  // no /dev/full here: nothing to check
  const absl::Status s = (*full)->WriteAt(0, AsBytes("x"));
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK(HasErrorCode(s, ErrorCode::kKafkaStorageError));
  CHECK(std::string(s.message()).find("/dev/full") != std::string::npos);
}

TEST_CASE("join path puts exactly one slash between its parts") {
  CHECK(JoinPath("a", "b") == "a/b");
  CHECK(JoinPath("a/", "b") == "a/b");
  CHECK(JoinPath("/a", "/b") == "/a/b");
  CHECK(JoinPath("", "b") == "b");
  CHECK(JoinPath("a", "") == "a");
  CHECK(JoinPath("/", "b") == "/b");
}

TEST_CASE("dir name is the part before the last component") {
  CHECK(DirName("a/b/c") == "a/b");
  CHECK(DirName("c") == ".");
  CHECK(DirName("/c") == "/");
  CHECK(DirName("/") == "/");
  CHECK(DirName("a/b/") == "a");
  CHECK(DirName("a//b") == "a");
  CHECK(DirName("/data/orders-0/00000000000000000000.log") == "/data/orders-0");
}

}  // namespace
}  // namespace evlog
