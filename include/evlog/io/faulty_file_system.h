// evlog/io/faulty_file_system.h — a FileSystem that fails and crashes on
// purpose, for tests and the simulator.
//
// FaultyFileSystem wraps another FileSystem (normally a MemFileSystem) and
// passes every call through, except that it can
//   * fail chosen calls with a chosen status (AddFault / ClearFaults),
//   * simulate a power loss (SimulateCrash): every file falls back to what
//     the durability model of file_system.h promises, plus a torn last write,
//   * rot a byte on the medium (FlipByte),
// and it counts syncs and written bytes.
//
//   evlog::MemFileSystem mem;
//   evlog::FaultyFileSystem fs(mem);
//   ... write through fs ...
//   fs.AddFault(evlog::FaultRule(evlog::FsOp::kSync).PathContains(".log"));
//   CHECK(!file->Sync().ok());        // the next Sync of a .log file fails
//   fs.SimulateCrash(/*seed=*/42);    // now only durable state remains
//
// Crash model. FaultyFileSystem tracks, per file it has seen, the durable
// image (the contents as of the last successful File::Sync) and the writes
// since then. SimulateCrash(seed) makes every file's contents exactly its
// durable image plus, when the file's last unsynced operation was an
// Append or WriteAt that started at or before the end of the durable image,
// a prefix of that write of length k in [0, len] chosen from the seed (each
// of "k = 0", "k = len" and "k uniform in [0, len]" a third of the time,
// unless TornWrite::kDrop asks for k = 0). Any earlier unsynced write,
// Truncate or mapped write is lost.
//   example: durable "abc", then Append("de") Sync, then Append("fgh")
//            -> after a crash: "abcde", "abcdef", "abcdefg" or "abcdefgh".
// The namespace follows SyncDir: a file created, renamed or removed since the
// last successful SyncDir of its parent directory is put back as that
// SyncDir left it (a never dir-synced file disappears, a rename is reverted,
// a removed file returns with its durable contents). A rename involves two
// directories; each name follows its own directory's SyncDir.
// Directories themselves (CreateDir, RemoveDir, renaming a directory) are
// durable at once; a directory that a returning file needs is recreated.
// Files that existed in the base before FaultyFileSystem first saw them are
// taken as durable in their contents and name as of that moment.
//
// Mapped regions: writes through MappedRegion::data() go to a buffer owned by
// the region and reach the file on MappedRegion::Sync (which also makes them
// durable: the mapped range of the durable image is replaced, growing it
// when needed) and on the region's destruction (not durable). File::Sync does
// not make them durable. On a crash, mapped writes not synced through the
// region are lost.
//
// After SimulateCrash every File and MappedRegion obtained before it is dead:
// each call returns FailedPrecondition("... file handle from before a
// crash"), MappedRegion::data() keeps returning the (now unconnected) buffer,
// and destroying them is safe and has no effect on the files.
//
// Injected faults change nothing: a failed Append, WriteAt, Truncate or Map
// writes no byte, a failed Sync makes nothing durable, a failed Rename,
// Remove or CreateDir leaves the namespace alone, a failed Close leaves the
// file open.
//
// Requirements: the base FileSystem must outlive this object and all Files
// obtained through it, and must not be changed behind its back (except
// before first use). Paths are compared in lexical normal form.
//
// Thread-safety: thread-safe. All calls, including those on Files and
// MappedRegions, are serialised by one mutex (a test double, not a fast
// path).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/io/file_system.h"

namespace evlog {
namespace internal {
struct FaultyFileSystemState;  // shared with Files, which may outlive the file system
}  // namespace internal

// The calls a fault can target: FileSystem methods, then File and
// MappedRegion methods.
enum class FsOp {
  kOpen,
  kExists,
  kFileSize,
  kRename,
  kRemove,
  kCreateDir,
  kRemoveDir,
  kListDir,
  kSyncDir,
  kAppend,
  kWriteAt,
  kRead,
  kSync,
  kTruncate,
  kSize,
  kMap,
  kMapSync,  // MappedRegion::Sync
  kClose,
};

// "open", "append", ... for messages.
std::string_view FsOpName(FsOp op);

// The status of an I/O error like EIO: Unavailable, kKafkaStorageError.
absl::Status InjectedIoError();
// The status of a full disk like ENOSPC: Unavailable, kKafkaStorageError.
absl::Status InjectedNoSpaceError();

// One fault: of the calls of kind `op` whose path contains `path_contains`,
// let the first `skip` through, then fail the next `count` with `status`.
//
//   fs.AddFault(FaultRule(FsOp::kSync).PathContains(".index").Skip(2).Forever());
//   fs.AddFault(FaultRule(FsOp::kAppend).WithStatus(InjectedNoSpaceError()));
struct FaultRule {
  // `count` value that never runs out.
  static constexpr uint64_t kForever = std::numeric_limits<uint64_t>::max();

  // Fails the next call of kind `op`, on any path, with InjectedIoError().
  explicit FaultRule(FsOp op_in) : op(op_in) {}

  FaultRule& PathContains(std::string substring) {
    path_contains = std::move(substring);
    return *this;
  }
  FaultRule& Skip(uint64_t n) {
    skip = n;
    return *this;
  }
  FaultRule& Count(uint64_t n) {
    count = n;
    return *this;
  }
  FaultRule& Forever() { return Count(kForever); }
  FaultRule& WithStatus(absl::Status s) {
    status = std::move(s);
    return *this;
  }

  FsOp op;
  // Substring of the path to match; empty matches every path. For File and
  // MappedRegion calls the path is the one the File was opened with; for
  // Rename, either name may match.
  std::string path_contains;
  uint64_t skip = 0;
  uint64_t count = 1;
  // Returned as is by the failed call. REQUIRES: not OK.
  absl::Status status = InjectedIoError();
};

class FaultyFileSystem final : public FileSystem {
 public:
  // How SimulateCrash treats the last unsynced write of each file.
  enum class TornWrite {
    kRandom,  // keep a prefix of seeded random length (see the crash model)
    kDrop,    // keep none of it: every file is exactly its durable image
  };

  // Counters since construction.
  struct Stats {
    uint64_t syncs = 0;          // successful File::Sync and MappedRegion::Sync
    uint64_t dir_syncs = 0;      // successful SyncDir
    uint64_t bytes_written = 0;  // by successful Append and WriteAt
    uint64_t faults_injected = 0;
    uint64_t crashes = 0;
  };

  // Wraps `base`, which must outlive this object and its Files.
  explicit FaultyFileSystem(FileSystem& base);
  ~FaultyFileSystem() override;
  FaultyFileSystem(const FaultyFileSystem&) = delete;
  FaultyFileSystem& operator=(const FaultyFileSystem&) = delete;

  [[nodiscard]] absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path,
                                                           OpenMode mode) override;
  [[nodiscard]] absl::StatusOr<bool> Exists(std::string_view path) override;
  [[nodiscard]] absl::Status Rename(std::string_view from, std::string_view to) override;
  [[nodiscard]] absl::Status Remove(std::string_view path) override;
  [[nodiscard]] absl::Status CreateDir(std::string_view path) override;
  [[nodiscard]] absl::Status RemoveDir(std::string_view path) override;
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> ListDir(std::string_view path) override;
  [[nodiscard]] absl::Status SyncDir(std::string_view path) override;
  [[nodiscard]] absl::StatusOr<uint64_t> FileSize(std::string_view path) override;

  // Adds a fault. Rules are tried in the order added; a call fails with the
  // first rule that matches it and is past its `skip` (rules before it that
  // match count the call against their `skip`).
  void AddFault(FaultRule rule);
  // Removes every fault; later calls pass through.
  void ClearFaults();

  // Simulates a power loss and restart, as the crash model above says.
  // Deterministic: the same history and seed give the same files. Aborts if
  // the base file system fails while the files are rewritten.
  void SimulateCrash(uint64_t seed, TornWrite torn = TornWrite::kRandom);
  void SimulateCrash(std::mt19937_64& rng, TornWrite torn = TornWrite::kRandom);

  // Bit rot: XORs the byte at `offset` of file `path` with `mask`, both in
  // the current contents and in the durable image (and in unsynced writes
  // covering it), so it survives a crash. Errors: NotFound when no such
  // file, OutOfRange when offset >= its size; ignores injected faults.
  [[nodiscard]] absl::Status FlipByte(std::string_view path, uint64_t offset, uint8_t mask = 0xFF);

  Stats stats() const;

 private:
  std::shared_ptr<internal::FaultyFileSystemState> state_;
};

}  // namespace evlog
