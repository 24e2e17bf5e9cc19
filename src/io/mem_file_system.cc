#include "evlog/io/mem_file_system.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/status.h"
#include "path_internal.h"

namespace evlog {

namespace internal {
struct MemFileContents {
  std::mutex mu;
  std::vector<std::byte> bytes;  // guarded by mu
};
}  // namespace internal

namespace {

using internal::NormalizePath;
using internal::ToAbsl;
using Contents = internal::MemFileContents;

absl::Status Error(absl::StatusCode code, std::string_view op, std::string_view path,
                   std::string_view what) {
  return absl::Status(code, absl::StrCat(ToAbsl(op), " ", ToAbsl(path), ": ", ToAbsl(what)));
}
absl::Status NotFound(std::string_view op, std::string_view path) {
  return Error(absl::StatusCode::kNotFound, op, path, "No such file or directory");
}
absl::Status NotDir(std::string_view op, std::string_view path) {
  return Error(absl::StatusCode::kFailedPrecondition, op, path, "Not a directory");
}
absl::Status IsDir(std::string_view op, std::string_view path) {
  return Error(absl::StatusCode::kFailedPrecondition, op, path, "Is a directory");
}
absl::Status Closed(std::string_view op, std::string_view path) {
  return Error(absl::StatusCode::kFailedPrecondition, op, path, "file is closed");
}
absl::Status ReadOnly(std::string_view op, std::string_view path) {
  return Error(absl::StatusCode::kFailedPrecondition, op, path, "file is opened read-only");
}

// Same requirement as mmap's, so code tested here also runs on a real disk.
size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

class MemMappedRegion final : public MappedRegion {
 public:
  MemMappedRegion(std::shared_ptr<Contents> contents, uint64_t offset, std::vector<std::byte> copy)
      : contents_(std::move(contents)), offset_(offset), buffer_(copy), written_(std::move(copy)) {}
  ~MemMappedRegion() override { WriteBack(); }
  MemMappedRegion(const MemMappedRegion&) = delete;
  MemMappedRegion& operator=(const MemMappedRegion&) = delete;

  MutableByteView data() override { return buffer_; }

  absl::Status Sync() override {
    WriteBack();
    return absl::OkStatus();
  }

 private:
  // Writes the bytes changed through the region since the last write-back,
  // within the file's current size.
  void WriteBack() {
    std::lock_guard<std::mutex> lock(contents_->mu);
    std::vector<std::byte>& bytes = contents_->bytes;
    for (size_t i = 0; i < buffer_.size(); ++i) {
      if (buffer_[i] == written_[i]) continue;
      if (offset_ + i >= bytes.size()) break;
      bytes[offset_ + i] = buffer_[i];
      written_[i] = buffer_[i];
    }
  }

  const std::shared_ptr<Contents> contents_;
  const uint64_t offset_;
  std::vector<std::byte> buffer_;   // what data() exposes; never resized
  std::vector<std::byte> written_;  // buffer_ as of the last write-back
};

class MemFile final : public File {
 public:
  MemFile(std::string path, std::shared_ptr<Contents> contents, bool writable)
      : path_(std::move(path)), contents_(std::move(contents)), writable_(writable) {}

  absl::Status Append(ByteView data) override {
    EVLOG_RETURN_IF_ERROR(CheckWritable("append"));
    std::lock_guard<std::mutex> lock(contents_->mu);
    contents_->bytes.insert(contents_->bytes.end(), data.begin(), data.end());
    return absl::OkStatus();
  }

  absl::Status WriteAt(uint64_t offset, ByteView data) override {
    EVLOG_RETURN_IF_ERROR(CheckWritable("write"));
    std::lock_guard<std::mutex> lock(contents_->mu);
    std::vector<std::byte>& bytes = contents_->bytes;
    if (offset + data.size() > bytes.size()) bytes.resize(offset + data.size());
    std::copy(data.begin(), data.end(), bytes.begin() + static_cast<ptrdiff_t>(offset));
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, MutableByteView out) const override {
    if (closed_.load(std::memory_order_acquire)) return Closed("read", path_);
    std::lock_guard<std::mutex> lock(contents_->mu);
    const std::vector<std::byte>& bytes = contents_->bytes;
    if (offset >= bytes.size()) return 0;
    const size_t n = std::min<uint64_t>(out.size(), bytes.size() - offset);
    std::copy_n(bytes.begin() + static_cast<ptrdiff_t>(offset), n, out.begin());
    return n;
  }

  absl::Status Sync() override {
    if (closed_.load(std::memory_order_acquire)) return Closed("sync", path_);
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    EVLOG_RETURN_IF_ERROR(CheckWritable("truncate"));
    std::lock_guard<std::mutex> lock(contents_->mu);
    contents_->bytes.resize(size);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() const override {
    if (closed_.load(std::memory_order_acquire)) return Closed("size", path_);
    std::lock_guard<std::mutex> lock(contents_->mu);
    return contents_->bytes.size();
  }

  absl::StatusOr<std::unique_ptr<MappedRegion>> Map(uint64_t offset, size_t length) override {
    EVLOG_RETURN_IF_ERROR(CheckWritable("map"));
    if (offset % PageSize() != 0) {
      return absl::InvalidArgumentError(absl::StrCat("map ", ToAbsl(path_), ": offset ", offset,
                                                     " is not a multiple of the page size"));
    }
    std::vector<std::byte> copy;
    {
      std::lock_guard<std::mutex> lock(contents_->mu);
      const uint64_t size = contents_->bytes.size();
      if (offset > size || length > size - offset) {
        return absl::InvalidArgumentError(absl::StrCat("map ", ToAbsl(path_), ": range [", offset,
                                                       ", ", offset + length,
                                                       ") is outside the file of size ", size));
      }
      const auto begin = contents_->bytes.begin() + static_cast<ptrdiff_t>(offset);
      copy.assign(begin, begin + static_cast<ptrdiff_t>(length));
    }
    return std::make_unique<MemMappedRegion>(contents_, offset, std::move(copy));
  }

  absl::Status Close() override {
    if (closed_.exchange(true, std::memory_order_acq_rel)) return Closed("close", path_);
    return absl::OkStatus();
  }

 private:
  absl::Status CheckWritable(std::string_view op) const {
    if (closed_.load(std::memory_order_acquire)) return Closed(op, path_);
    if (!writable_) return ReadOnly(op, path_);
    return absl::OkStatus();
  }

  const std::string path_;  // as opened, for messages
  const std::shared_ptr<Contents> contents_;
  const bool writable_;
  std::atomic<bool> closed_{false};
};

}  // namespace

bool MemFileSystem::IsDirLocked(const std::string& path) const {
  if (path == "/" || path == ".") return true;
  const Entry* e = FindLocked(path);
  return e != nullptr && e->is_dir();
}

const MemFileSystem::Entry* MemFileSystem::FindLocked(const std::string& path) const {
  const auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : &it->second;
}

absl::Status MemFileSystem::CheckParentLocked(std::string_view op, const std::string& path) const {
  const std::string parent(DirName(path));
  if (parent == "/" || parent == ".") return absl::OkStatus();
  // Walk the ancestors from the top, as the kernel's path lookup does, so a
  // file in the middle gives "Not a directory" like ENOTDIR.
  size_t pos = parent.front() == '/' ? 1 : 0;
  for (;;) {
    size_t next = parent.find('/', pos);
    if (next == std::string::npos) next = parent.size();
    const std::string ancestor = parent.substr(0, next);
    const Entry* e = FindLocked(ancestor);
    if (e == nullptr) return NotFound(op, path);
    if (!e->is_dir()) return NotDir(op, path);
    if (next == parent.size()) return absl::OkStatus();
    pos = next + 1;
  }
}

std::string MemFileSystem::ChildPrefix(const std::string& dir) {
  if (dir == "/") return "/";
  if (dir == ".") return "";
  return dir + "/";
}

absl::StatusOr<std::unique_ptr<File>> MemFileSystem::Open(std::string_view path, OpenMode mode) {
  const std::string p = NormalizePath(path);
  std::lock_guard<std::mutex> lock(mu_);
  const Entry* e = FindLocked(p);
  const bool is_root = p == "/" || p == ".";
  if (e != nullptr || is_root) {
    if (mode == OpenMode::kCreateNew) {
      return Error(absl::StatusCode::kAlreadyExists, "open", path, "File exists");
    }
    if (is_root || e->is_dir()) return IsDir("open", path);
    return std::make_unique<MemFile>(std::string(path), e->contents, mode != OpenMode::kReadOnly);
  }
  EVLOG_RETURN_IF_ERROR(CheckParentLocked("open", p));
  if (mode == OpenMode::kReadOnly || mode == OpenMode::kReadWrite) return NotFound("open", path);
  auto contents = std::make_shared<internal::MemFileContents>();
  entries_.emplace(p, Entry{contents});
  return std::make_unique<MemFile>(std::string(path), std::move(contents), true);
}

absl::StatusOr<bool> MemFileSystem::Exists(std::string_view path) {
  const std::string p = NormalizePath(path);
  std::lock_guard<std::mutex> lock(mu_);
  return IsDirLocked(p) || FindLocked(p) != nullptr;
}

absl::Status MemFileSystem::Rename(std::string_view from, std::string_view to) {
  const std::string f = NormalizePath(from);
  const std::string t = NormalizePath(to);
  const std::string what = absl::StrCat(ToAbsl(from), " to ", ToAbsl(to));
  std::lock_guard<std::mutex> lock(mu_);
  if (f == "/" || f == "." || t == "/" || t == ".") {
    return Error(absl::StatusCode::kFailedPrecondition, "rename", what, "Device or resource busy");
  }
  const Entry* src = FindLocked(f);
  if (src == nullptr) return NotFound("rename", what);
  EVLOG_RETURN_IF_ERROR(CheckParentLocked("rename", t));
  if (f == t) return absl::OkStatus();
  const Entry* dst = FindLocked(t);
  if (!src->is_dir()) {
    if (dst != nullptr && dst->is_dir()) return IsDir("rename", what);
    entries_[t] = *src;
    entries_.erase(f);
    return absl::OkStatus();
  }
  // A directory moves with everything below it; the target must be missing
  // or an empty directory, and must not be inside the source.
  if (t.compare(0, f.size() + 1, f + "/") == 0) {
    return Error(absl::StatusCode::kInvalidArgument, "rename", what, "Invalid argument");
  }
  if (dst != nullptr) {
    if (!dst->is_dir()) return NotDir("rename", what);
    const std::string t_prefix = t + "/";
    const auto it = entries_.lower_bound(t_prefix);
    if (it != entries_.end() && it->first.compare(0, t_prefix.size(), t_prefix) == 0) {
      return Error(absl::StatusCode::kFailedPrecondition, "rename", what, "Directory not empty");
    }
  }
  const std::string f_prefix = f + "/";
  std::vector<std::pair<std::string, Entry>> moved;
  moved.emplace_back(t, *src);
  for (auto it = entries_.lower_bound(f_prefix);
       it != entries_.end() && it->first.compare(0, f_prefix.size(), f_prefix) == 0;) {
    moved.emplace_back(t + it->first.substr(f.size()), it->second);
    it = entries_.erase(it);
  }
  entries_.erase(f);
  for (auto& [path, entry] : moved) entries_[path] = std::move(entry);
  return absl::OkStatus();
}

absl::Status MemFileSystem::Remove(std::string_view path) {
  const std::string p = NormalizePath(path);
  std::lock_guard<std::mutex> lock(mu_);
  if (IsDirLocked(p)) return IsDir("unlink", path);
  if (FindLocked(p) == nullptr) {
    EVLOG_RETURN_IF_ERROR(CheckParentLocked("unlink", p));
    return NotFound("unlink", path);
  }
  entries_.erase(p);
  return absl::OkStatus();
}

absl::Status MemFileSystem::CreateDir(std::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("mkdir: empty path");
  const std::string p = NormalizePath(path);
  std::lock_guard<std::mutex> lock(mu_);
  if (p == "/" || p == ".") return absl::OkStatus();
  size_t pos = p.front() == '/' ? 1 : 0;
  for (;;) {
    size_t next = p.find('/', pos);
    if (next == std::string::npos) next = p.size();
    std::string prefix = p.substr(0, next);
    const Entry* e = FindLocked(prefix);
    if (e == nullptr) {
      entries_.emplace(std::move(prefix), Entry{});
    } else if (!e->is_dir()) {
      return NotDir("mkdir", prefix);
    }
    if (next == p.size()) return absl::OkStatus();
    pos = next + 1;
  }
}

absl::Status MemFileSystem::RemoveDir(std::string_view path) {
  const std::string p = NormalizePath(path);
  std::lock_guard<std::mutex> lock(mu_);
  if (p == "/" || p == ".") {
    return Error(absl::StatusCode::kFailedPrecondition, "rmdir", path, "Device or resource busy");
  }
  const Entry* e = FindLocked(p);
  if (e == nullptr) return NotFound("rmdir", path);
  if (!e->is_dir()) return NotDir("rmdir", path);
  const std::string prefix = ChildPrefix(p);
  const auto it = entries_.lower_bound(prefix);
  if (it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
    return Error(absl::StatusCode::kFailedPrecondition, "rmdir", path, "Directory not empty");
  }
  entries_.erase(p);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> MemFileSystem::ListDir(std::string_view path) {
  const std::string p = NormalizePath(path);
  std::lock_guard<std::mutex> lock(mu_);
  if (!IsDirLocked(p)) {
    if (FindLocked(p) != nullptr) return NotDir("opendir", path);
    return NotFound("opendir", path);
  }
  const std::string prefix = ChildPrefix(p);
  std::vector<std::string> names;
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    const std::string_view rest = std::string_view(it->first).substr(prefix.size());
    // Under ".", the keys of absolute paths share the empty prefix.
    if (rest.empty() || rest.front() == '/') continue;
    if (rest.find('/') != std::string_view::npos) continue;  // deeper down
    names.emplace_back(rest);
  }
  // Keys sort with '/' < letters, so "a/x" may come between "a" and "a-b";
  // sort the names themselves.
  std::sort(names.begin(), names.end());
  return names;
}

absl::Status MemFileSystem::SyncDir(std::string_view path) {
  const std::string p = NormalizePath(path);
  std::lock_guard<std::mutex> lock(mu_);
  if (IsDirLocked(p)) return absl::OkStatus();
  if (FindLocked(p) != nullptr) return NotDir("open", path);
  return NotFound("open", path);
}

absl::StatusOr<uint64_t> MemFileSystem::FileSize(std::string_view path) {
  const std::string p = NormalizePath(path);
  std::shared_ptr<internal::MemFileContents> contents;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (IsDirLocked(p)) return IsDir("stat", path);
    const Entry* e = FindLocked(p);
    if (e == nullptr) return NotFound("stat", path);
    contents = e->contents;
  }
  std::lock_guard<std::mutex> lock(contents->mu);
  return contents->bytes.size();
}

}  // namespace evlog
