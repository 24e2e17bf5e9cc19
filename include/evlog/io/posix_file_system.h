// evlog/io/posix_file_system.h — the real disk, through POSIX calls.
//
// PosixFileSystem implements FileSystem with open/pread/pwrite/fdatasync/
// ftruncate/fstat/mmap(MAP_SHARED)+msync/rename/unlink/mkdir/rmdir/opendir
// and fsync on a directory descriptor. It is stateless: every File owns one
// descriptor (opened O_CLOEXEC), so one instance serves a whole process.
//
//   evlog::PosixFileSystem& fs = evlog::PosixFileSystem::Default();
//   EVLOG_ASSIGN_OR_RETURN(auto file, fs.Open(path, evlog::OpenMode::kCreate));
//   EVLOG_RETURN_IF_ERROR(file->Append(evlog::AsBytes("hello")));
//   EVLOG_RETURN_IF_ERROR(file->Sync());
//
// Behaviour beyond the FileSystem contract:
//   * Append writes at the file's size as fstat reports it just before the
//     write, not at a remembered position: several Files open on the same
//     path (or a Truncate through another File) then see each other's
//     writes. O_APPEND is not used because Linux's pwrite ignores the offset
//     on O_APPEND descriptors, which would break WriteAt. Writers to one path
//     must still be serialised by the caller.
//   * Interrupted calls (EINTR) are retried, and short writes and reads are
//     continued until done (or end of file for reads).
//   * Writes, Truncate and Map on a File opened kReadOnly fail with
//     FailedPrecondition without a system call. Open of a directory fails
//     with FailedPrecondition.
//   * Map(offset, 0) gives an empty region without calling mmap.
//
// Errors (the message always names the operation and the path):
//   NotFound            ENOENT: the file or a parent directory is missing.
//   AlreadyExists       EEXIST: kCreateNew on an existing path.
//   FailedPrecondition  ENOTDIR, EISDIR, ENOTEMPTY; a closed or read-only
//                       File; a path component that is not a directory.
//   InvalidArgument     Map with a misaligned offset or outside the file.
//   Unavailable         any other errno (EIO, ENOSPC, EACCES, ...), with
//                       ErrorCode::kKafkaStorageError and strerror's text.
//
// Thread-safety: PosixFileSystem is thread-safe. A File follows the
// FileSystem contract (concurrent ReadAt with one serialised writer); Close
// must not race with other calls on the same File.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/io/file_system.h"

namespace evlog {

class PosixFileSystem final : public FileSystem {
 public:
  PosixFileSystem() = default;

  // A process-wide instance, for defaults (SegmentedLog<>). Never destroyed.
  static PosixFileSystem& Default();

  [[nodiscard]] absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path,
                                                           OpenMode mode) override;
  [[nodiscard]] absl::StatusOr<bool> Exists(std::string_view path) override;
  [[nodiscard]] absl::Status Rename(std::string_view from, std::string_view to) override;
  [[nodiscard]] absl::Status Remove(std::string_view path) override;
  [[nodiscard]] absl::Status CreateDir(std::string_view path) override;
  [[nodiscard]] absl::Status RemoveDir(std::string_view path) override;
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> ListDir(std::string_view path) override;
  [[nodiscard]] absl::Status SyncDir(std::string_view path) override;
  // One stat(2); FailedPrecondition for a directory.
  [[nodiscard]] absl::StatusOr<uint64_t> FileSize(std::string_view path) override;
};

}  // namespace evlog
