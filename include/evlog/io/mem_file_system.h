// evlog/io/mem_file_system.h — a file system held entirely in memory.
//
// MemFileSystem implements FileSystem without touching the disk, for tests
// and the simulator: fast, private to one object, and the same behaviour as
// PosixFileSystem wherever the FileSystem contract speaks (the io contract
// tests run against both).
//
//   evlog::MemFileSystem fs;
//   EVLOG_RETURN_IF_ERROR(fs.CreateDir("/data"));
//   EVLOG_ASSIGN_OR_RETURN(auto f, fs.Open("/data/a.log", evlog::OpenMode::kCreate));
//
// Model, chosen to match POSIX:
//   * Directories are real. "/" (and "." for relative paths) always exist;
//     creating a file in a missing directory fails with NotFound, under a
//     file with FailedPrecondition. Paths are compared in lexical normal form
//     ("/d//x", "/d/./x" and "/d/x" are the same file).
//   * A File refers to the file's contents, not its name: after Rename or
//     Remove an open File keeps reading and writing the same bytes (a removed
//     file lives on until its last File is destroyed). Files stay valid even
//     after the MemFileSystem itself is destroyed.
//   * Nothing is lost on "crash": Sync and SyncDir succeed and do nothing.
//     Wrap in FaultyFileSystem to simulate crashes and I/O errors.
//   * Errors and their codes are PosixFileSystem's (see posix_file_system.h),
//     except that no call ever fails with Unavailable.
//
// MappedRegion: Map copies the range into a buffer owned by the region.
// Writes through data() reach the file on MappedRegion::Sync and on the
// region's destruction; only the bytes changed through the region since the
// last write-back are written, so a File::WriteAt to other bytes of the same
// range meanwhile is kept. File::ReadAt does not see region writes before
// then (the contract allows this). The buffer never moves, so a region stays
// memory-safe whatever happens to the file (append, truncate below the
// range: bytes past the file's end are then simply not written back).
//
// Thread-safety: MemFileSystem is thread-safe (one mutex for the namespace,
// one per file's contents). File follows the FileSystem contract; ReadAt may
// run concurrently with a writer. A MappedRegion must not be used from two
// threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/io/file_system.h"

namespace evlog {
namespace internal {
struct MemFileContents;  // one file's bytes, shared by the Files open on it
}  // namespace internal

class MemFileSystem final : public FileSystem {
 public:
  MemFileSystem() = default;
  MemFileSystem(const MemFileSystem&) = delete;
  MemFileSystem& operator=(const MemFileSystem&) = delete;

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

 private:
  // A directory when `contents` is null, else a file.
  struct Entry {
    std::shared_ptr<internal::MemFileContents> contents;
    bool is_dir() const { return contents == nullptr; }
  };

  // Looks up a normalized path; "/" and "." are the implicit roots.
  bool IsDirLocked(const std::string& path) const;
  const Entry* FindLocked(const std::string& path) const;
  // OK when the parent of normalized `path` is an existing directory.
  absl::Status CheckParentLocked(std::string_view op, const std::string& path) const;
  // The key prefix shared by the entries directly inside directory `dir`.
  static std::string ChildPrefix(const std::string& dir);

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // by normalized path; sorted for ListDir
};

}  // namespace evlog
