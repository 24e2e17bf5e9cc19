// evlog/io/file_system.h — the disk, as a small injectable interface.
//
// Every evlog component reaches the disk through a FileSystem so that tests
// and the simulator can swap in an in-memory one (MemFileSystem) or one that
// fails and crashes on purpose (FaultyFileSystem). The interface is kept to
// what the storage layer needs; add a method only when a caller needs it.
//
//   evlog::PosixFileSystem fs;
//   EVLOG_RETURN_IF_ERROR(fs.CreateDir("/data/orders-0"));
//   EVLOG_ASSIGN_OR_RETURN(auto file,
//       fs.Open("/data/orders-0/00000000000000000000.log", evlog::OpenMode::kCreate));
//   EVLOG_RETURN_IF_ERROR(file->Append(evlog::AsBytes("hello")));
//   EVLOG_RETURN_IF_ERROR(file->Sync());          // durable from here on
//   EVLOG_RETURN_IF_ERROR(fs.SyncDir("/data/orders-0"));  // and so is its name
//
// Durability model (what a crash keeps, and what FaultyFileSystem simulates):
//   * File contents written by Append/WriteAt/Truncate or through a
//     MappedRegion are durable only after File::Sync (or MappedRegion::Sync).
//   * A file's existence and name (Open with create, Rename, Remove) are
//     durable only after SyncDir on its parent directory.
//
// Errors: NotFound (no such file or directory), AlreadyExists (kCreateNew on
// an existing path), FailedPrecondition (use of a closed file), Unavailable
// with ErrorCode::kKafkaStorageError for I/O errors (EIO, ENOSPC, ...), with
// the path and the system's message in the text.
//
// Thread-safety: a FileSystem is thread-safe. A File may be used from several
// threads for ReadAt concurrently with one writer; writers must be serialised
// by the caller.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/bytes.h"

namespace evlog {

enum class OpenMode {
  kReadOnly,   // must exist; writes fail
  kReadWrite,  // must exist
  kCreate,     // read-write; created empty when missing
  kCreateNew,  // read-write; AlreadyExists when present
};

// A writable mapping of part of a file (used by the sparse indexes).
// The mapping stays valid until it is destroyed; the File it came from must
// outlive it and must not be truncated below the mapped range meanwhile.
// Writes through data() reach the file no later than Sync() or destruction;
// reading the same range with File::ReadAt while mapped is not guaranteed to
// see them on every file system.
class MappedRegion {
 public:
  virtual ~MappedRegion() = default;
  // The mapped bytes.
  virtual MutableByteView data() = 0;
  // Makes the mapped bytes durable (msync).
  [[nodiscard]] virtual absl::Status Sync() = 0;
};

// An open file. Closing happens in the destructor (errors ignored) or
// explicitly through Close (errors reported).
class File {
 public:
  virtual ~File() = default;

  // Writes `data` at the current end of the file.
  [[nodiscard]] virtual absl::Status Append(ByteView data) = 0;

  // Writes `data` at byte `offset`, extending the file when needed
  // (a gap reads as zeros).
  [[nodiscard]] virtual absl::Status WriteAt(uint64_t offset, ByteView data) = 0;

  // Reads up to out.size() bytes from `offset`. Returns the number read,
  // which is smaller than out.size() only at end of file (0 at or past it).
  [[nodiscard]] virtual absl::StatusOr<size_t> ReadAt(uint64_t offset,
                                                      MutableByteView out) const = 0;

  // Makes the contents durable (fdatasync).
  [[nodiscard]] virtual absl::Status Sync() = 0;

  // Sets the file's size, cutting or zero-extending.
  [[nodiscard]] virtual absl::Status Truncate(uint64_t size) = 0;

  // The file's current size in bytes.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> Size() const = 0;

  // Maps [offset, offset + length) read-write. REQUIRES: the range lies
  // within the file's current size; offset is a multiple of the page size.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<MappedRegion>> Map(uint64_t offset,
                                                                          size_t length) = 0;

  // Closes the file; later calls fail with FailedPrecondition.
  [[nodiscard]] virtual absl::Status Close() = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Opens `path` as `mode` says.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path,
                                                                   OpenMode mode) = 0;

  // True when `path` names an existing file or directory.
  [[nodiscard]] virtual absl::StatusOr<bool> Exists(std::string_view path) = 0;

  // Atomically renames `from` to `to`, replacing `to` if it exists.
  [[nodiscard]] virtual absl::Status Rename(std::string_view from, std::string_view to) = 0;

  // Removes the file `path`. NotFound when missing.
  [[nodiscard]] virtual absl::Status Remove(std::string_view path) = 0;

  // Creates directory `path` and any missing parents; OK when it exists.
  [[nodiscard]] virtual absl::Status CreateDir(std::string_view path) = 0;

  // Removes the empty directory `path`. NotFound when missing.
  [[nodiscard]] virtual absl::Status RemoveDir(std::string_view path) = 0;

  // Names (not paths) of the entries of directory `path`, sorted.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> ListDir(std::string_view path) = 0;

  // Makes the creation, renaming and removal of the entries of directory
  // `path` durable (fsync on the directory).
  [[nodiscard]] virtual absl::Status SyncDir(std::string_view path) = 0;

  // Size in bytes of the file `path` without keeping it open (lazily opened
  // logs learn segment sizes this way). The default opens and closes the
  // file; implementations override it with something cheaper (stat).
  [[nodiscard]] virtual absl::StatusOr<uint64_t> FileSize(std::string_view path) {
    absl::StatusOr<std::unique_ptr<File>> file = Open(path, OpenMode::kReadOnly);
    if (!file.ok()) return file.status();
    return (*file)->Size();
  }
};

// Satisfied by file systems that components take as a template parameter
// (SegmentedLog<FS, ClockT>): anything implementing the FileSystem interface.
// Passing the concrete type lets the compiler devirtualise calls on `final`
// implementations.
template <typename FS>
concept FileSystemLike = std::derived_from<FS, FileSystem>;

// Removes directory `path` with the files in it (it must hold no
// directories) and makes that durable with a SyncDir of its parent. OK
// when `path` does not exist. Errors: the first failing call's; what was
// removed before it stays removed.
[[nodiscard]] absl::Status RemoveDirectoryAndFiles(FileSystem& fs, std::string_view path);

// Joins path components with '/'.
std::string JoinPath(std::string_view dir, std::string_view name);

// The directory part of `path` ("a/b/c" -> "a/b"; "c" -> ".").
std::string_view DirName(std::string_view path);

}  // namespace evlog
