#include "evlog/io/posix_file_system.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/status.h"

namespace evlog {
namespace {

using internal::ToAbsl;

// Files get the usual umask-filtered permissions; directories too.
constexpr mode_t kFileMode = 0644;
constexpr mode_t kDirMode = 0755;

// Maps errno to the FileSystem contract's codes; `op` and `path` go into the
// message so that a log line alone tells what failed where.
absl::Status ErrnoStatus(std::string_view op, std::string_view path, int err) {
  char buf[256];
  // GNU strerror_r returns the message, which may not be in `buf`.
  const char* text = strerror_r(err, buf, sizeof(buf));
  const std::string message = absl::StrCat(ToAbsl(op), " ", ToAbsl(path), ": ", text);
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    case ENOTDIR:
    case EISDIR:
    case ENOTEMPTY:
      return absl::FailedPreconditionError(message);
    default:
      return MakeError(ErrorCode::kKafkaStorageError, message);
  }
}

absl::Status ClosedStatus(std::string_view op, std::string_view path) {
  return absl::FailedPreconditionError(
      absl::StrCat(ToAbsl(op), " ", ToAbsl(path), ": file is closed"));
}

absl::Status ReadOnlyStatus(std::string_view op, std::string_view path) {
  return absl::FailedPreconditionError(
      absl::StrCat(ToAbsl(op), " ", ToAbsl(path), ": file is opened read-only"));
}

// Retries EINTR; returns the syscall's result otherwise.
template <typename F>
auto RetryEintr(F f) {
  for (;;) {
    auto r = f();
    if (r == -1 && errno == EINTR) continue;
    return r;
  }
}

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

class PosixMappedRegion final : public MappedRegion {
 public:
  PosixMappedRegion(std::string path, void* addr, size_t length)
      : path_(std::move(path)), addr_(addr), length_(length) {}
  ~PosixMappedRegion() override {
    if (addr_ != nullptr) munmap(addr_, length_);
  }
  PosixMappedRegion(const PosixMappedRegion&) = delete;
  PosixMappedRegion& operator=(const PosixMappedRegion&) = delete;

  MutableByteView data() override { return {static_cast<std::byte*>(addr_), length_}; }

  absl::Status Sync() override {
    if (addr_ == nullptr) return absl::OkStatus();
    if (RetryEintr([&] { return msync(addr_, length_, MS_SYNC); }) != 0) {
      return ErrnoStatus("msync", path_, errno);
    }
    return absl::OkStatus();
  }

 private:
  const std::string path_;
  void* const addr_;  // nullptr for an empty region
  const size_t length_;
};

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd, bool writable)
      : path_(std::move(path)), fd_(fd), writable_(writable) {}
  ~PosixFile() override {
    if (fd_ >= 0) close(fd_);
  }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  absl::Status Append(ByteView data) override {
    if (fd_ < 0) return ClosedStatus("append", path_);
    if (!writable_) return ReadOnlyStatus("append", path_);
    struct stat st;
    if (fstat(fd_, &st) != 0) return ErrnoStatus("fstat", path_, errno);
    return WriteFully("append", static_cast<uint64_t>(st.st_size), data);
  }

  absl::Status WriteAt(uint64_t offset, ByteView data) override {
    if (fd_ < 0) return ClosedStatus("write", path_);
    if (!writable_) return ReadOnlyStatus("write", path_);
    return WriteFully("write", offset, data);
  }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, MutableByteView out) const override {
    if (fd_ < 0) return ClosedStatus("read", path_);
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = RetryEintr([&] {
        return pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      });
      if (n < 0) return ErrnoStatus("read", path_, errno);
      if (n == 0) break;  // end of file
      done += static_cast<size_t>(n);
    }
    return done;
  }

  absl::Status Sync() override {
    if (fd_ < 0) return ClosedStatus("fdatasync", path_);
    if (RetryEintr([&] { return fdatasync(fd_); }) != 0) {
      return ErrnoStatus("fdatasync", path_, errno);
    }
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    if (fd_ < 0) return ClosedStatus("ftruncate", path_);
    if (!writable_) return ReadOnlyStatus("ftruncate", path_);
    if (RetryEintr([&] { return ftruncate(fd_, static_cast<off_t>(size)); }) != 0) {
      return ErrnoStatus("ftruncate", path_, errno);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() const override {
    if (fd_ < 0) return ClosedStatus("fstat", path_);
    struct stat st;
    if (fstat(fd_, &st) != 0) return ErrnoStatus("fstat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::StatusOr<std::unique_ptr<MappedRegion>> Map(uint64_t offset, size_t length) override {
    if (fd_ < 0) return ClosedStatus("mmap", path_);
    if (!writable_) return ReadOnlyStatus("mmap", path_);
    if (offset % PageSize() != 0) {
      return absl::InvalidArgumentError(absl::StrCat("mmap ", ToAbsl(path_), ": offset ", offset,
                                                     " is not a multiple of the page size"));
    }
    EVLOG_ASSIGN_OR_RETURN(const uint64_t size, Size());
    if (offset > size || length > size - offset) {
      return absl::InvalidArgumentError(absl::StrCat("mmap ", ToAbsl(path_), ": range [", offset,
                                                     ", ", offset + length,
                                                     ") is outside the file of size ", size));
    }
    if (length == 0) return std::make_unique<PosixMappedRegion>(path_, nullptr, 0);
    void* addr =
        mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, static_cast<off_t>(offset));
    if (addr == MAP_FAILED) return ErrnoStatus("mmap", path_, errno);
    return std::make_unique<PosixMappedRegion>(path_, addr, length);
  }

  absl::Status Close() override {
    if (fd_ < 0) return ClosedStatus("close", path_);
    const int fd = std::exchange(fd_, -1);
    // Not retried on EINTR: Linux releases the descriptor before reporting it.
    if (close(fd) != 0) return ErrnoStatus("close", path_, errno);
    return absl::OkStatus();
  }

 private:
  absl::Status WriteFully(std::string_view op, uint64_t offset, ByteView data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = RetryEintr([&] {
        return pwrite(fd_, data.data() + done, data.size() - done,
                      static_cast<off_t>(offset + done));
      });
      if (n < 0) return ErrnoStatus(op, path_, errno);
      // A zero-byte write of a non-empty buffer would loop forever; POSIX
      // gives no errno for it, so report it as out of space.
      if (n == 0) return ErrnoStatus(op, path_, ENOSPC);
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  const std::string path_;
  int fd_;  // -1 once closed
  const bool writable_;
};

}  // namespace

PosixFileSystem& PosixFileSystem::Default() {
  static PosixFileSystem* const fs = new PosixFileSystem();
  return *fs;
}

absl::StatusOr<std::unique_ptr<File>> PosixFileSystem::Open(std::string_view path, OpenMode mode) {
  int flags = O_CLOEXEC;
  switch (mode) {
    case OpenMode::kReadOnly:
      flags |= O_RDONLY;
      break;
    case OpenMode::kReadWrite:
      flags |= O_RDWR;
      break;
    case OpenMode::kCreate:
      flags |= O_RDWR | O_CREAT;
      break;
    case OpenMode::kCreateNew:
      flags |= O_RDWR | O_CREAT | O_EXCL;
      break;
  }
  std::string p(path);
  const int fd = RetryEintr([&] { return open(p.c_str(), flags, kFileMode); });
  if (fd < 0) return ErrnoStatus("open", p, errno);
  if (mode == OpenMode::kReadOnly) {
    // open(O_RDONLY) accepts a directory; the contract wants files only.
    struct stat st;
    if (fstat(fd, &st) != 0) {
      const int err = errno;
      close(fd);
      return ErrnoStatus("fstat", p, err);
    }
    if (S_ISDIR(st.st_mode)) {
      close(fd);
      return ErrnoStatus("open", p, EISDIR);
    }
  }
  return std::make_unique<PosixFile>(std::move(p), fd, mode != OpenMode::kReadOnly);
}

absl::StatusOr<bool> PosixFileSystem::Exists(std::string_view path) {
  const std::string p(path);
  struct stat st;
  if (stat(p.c_str(), &st) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return ErrnoStatus("stat", p, errno);
}

absl::Status PosixFileSystem::Rename(std::string_view from, std::string_view to) {
  const std::string f(from);
  const std::string t(to);
  if (rename(f.c_str(), t.c_str()) != 0) {
    return ErrnoStatus("rename", absl::StrCat(ToAbsl(f), " to ", ToAbsl(t)), errno);
  }
  return absl::OkStatus();
}

absl::Status PosixFileSystem::Remove(std::string_view path) {
  const std::string p(path);
  if (unlink(p.c_str()) != 0) return ErrnoStatus("unlink", p, errno);
  return absl::OkStatus();
}

absl::Status PosixFileSystem::CreateDir(std::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("mkdir: empty path");
  // mkdir -p: create each prefix in turn, accepting those that exist as
  // directories.
  size_t pos = 0;
  while (pos < path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    if (next > 0 && path[next - 1] != '/') {
      const std::string prefix(path.substr(0, next));
      if (mkdir(prefix.c_str(), kDirMode) != 0) {
        const int err = errno;
        if (err != EEXIST) return ErrnoStatus("mkdir", prefix, err);
        struct stat st;
        if (stat(prefix.c_str(), &st) != 0) return ErrnoStatus("stat", prefix, errno);
        if (!S_ISDIR(st.st_mode)) return ErrnoStatus("mkdir", prefix, ENOTDIR);
      }
    }
    pos = next + 1;
  }
  return absl::OkStatus();
}

absl::Status PosixFileSystem::RemoveDir(std::string_view path) {
  const std::string p(path);
  if (rmdir(p.c_str()) != 0) return ErrnoStatus("rmdir", p, errno);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> PosixFileSystem::ListDir(std::string_view path) {
  const std::string p(path);
  DIR* dir = opendir(p.c_str());
  if (dir == nullptr) return ErrnoStatus("opendir", p, errno);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* entry = readdir(dir);
    if (entry == nullptr) break;
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  const int err = errno;
  closedir(dir);
  if (err != 0) return ErrnoStatus("readdir", p, err);
  std::sort(names.begin(), names.end());
  return names;
}

absl::Status PosixFileSystem::SyncDir(std::string_view path) {
  const std::string p(path);
  const int fd = RetryEintr([&] { return open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
  if (fd < 0) return ErrnoStatus("open", p, errno);
  const int rc = RetryEintr([&] { return fsync(fd); });
  const int err = errno;
  close(fd);
  if (rc != 0) return ErrnoStatus("fsync", p, err);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> PosixFileSystem::FileSize(std::string_view path) {
  const std::string p(path);
  struct stat st;
  if (stat(p.c_str(), &st) != 0) return ErrnoStatus("stat", p, errno);
  if (S_ISDIR(st.st_mode)) return ErrnoStatus("stat", p, EISDIR);
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace evlog
