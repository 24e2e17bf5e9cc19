#include "evlog/io/faulty_file_system.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/status.h"
#include "path_internal.h"

namespace evlog {
namespace {

using internal::NormalizePath;
using internal::ToAbsl;

// An unsynced change to a file's contents, replayed onto the durable image by
// File::Sync.
struct PendingOp {
  enum Kind { kWrite, kTruncate } kind;
  uint64_t offset;   // kWrite: where; kTruncate: the new size
  std::string data;  // kWrite only
};

// What the model knows of one file (an inode: it follows renames).
struct Node {
  std::string durable;              // contents as of the last successful Sync
  std::vector<PendingOp> unsynced;  // since then, oldest first
};

void ApplyOp(const PendingOp& op, std::string& image) {
  if (op.kind == PendingOp::kTruncate) {
    image.resize(op.offset);
    return;
  }
  if (op.offset + op.data.size() > image.size()) image.resize(op.offset + op.data.size());
  image.replace(op.offset, op.data.size(), op.data);
}

absl::Status StaleHandle(FsOp op, std::string_view path) {
  return absl::FailedPreconditionError(
      absl::StrCat(ToAbsl(FsOpName(op)), " ", ToAbsl(path), ": file handle from before a crash"));
}

absl::StatusOr<std::string> ReadAll(const File& file) {
  EVLOG_ASSIGN_OR_RETURN(const uint64_t size, file.Size());
  std::string out(size, '\0');
  EVLOG_ASSIGN_OR_RETURN(
      const size_t n,
      file.ReadAt(0, MutableByteView(reinterpret_cast<std::byte*>(out.data()), out.size())));
  out.resize(n);
  return out;
}

class FaultyFile;
class FaultyRegion;

}  // namespace

namespace internal {

struct FaultyFileSystemState {
  using TornWrite = FaultyFileSystem::TornWrite;
  using Stats = FaultyFileSystem::Stats;

  explicit FaultyFileSystemState(FileSystem& b) : base(b) {}

  // REQUIRES: mu held. The status of the first rule that fires for this
  // call, or OK.
  absl::Status MaybeFail(FsOp op, std::string_view path, std::string_view path2 = {}) {
    for (FaultRule& rule : rules) {
      if (rule.op != op || rule.count == 0) continue;
      const bool matches =
          rule.path_contains.empty() || path.find(rule.path_contains) != std::string_view::npos ||
          (!path2.empty() && path2.find(rule.path_contains) != std::string_view::npos);
      if (!matches) continue;
      if (rule.skip > 0) {
        --rule.skip;
        continue;
      }
      if (rule.count != FaultRule::kForever) --rule.count;
      ++stats.faults_injected;
      return rule.status;
    }
    return absl::OkStatus();
  }

  // REQUIRES: mu held. The node of file `p` (normalized), starting to track
  // it if it exists in the base but is not known yet; null when `p` is not a
  // file.
  std::shared_ptr<Node> Track(const std::string& p) {
    if (auto it = live.find(p); it != live.end()) return it->second;
    absl::StatusOr<std::unique_ptr<File>> file = base.Open(p, OpenMode::kReadOnly);
    if (!file.ok()) return nullptr;  // missing, or a directory
    absl::StatusOr<std::string> contents = ReadAll(**file);
    if (!contents.ok()) return nullptr;
    auto node = std::make_shared<Node>();
    node->durable = *std::move(contents);
    live[p] = node;
    durable.emplace(p, node);  // keeps an unsynced removal's record if any
    return node;
  }

  void Crash(std::mt19937_64& rng, TornWrite torn);

  FileSystem& base;
  std::mutex mu;
  // Everything below is guarded by mu.
  std::vector<FaultRule> rules;
  std::map<std::string, std::shared_ptr<Node>> live;     // names as they are now
  std::map<std::string, std::shared_ptr<Node>> durable;  // names as a crash leaves them
  uint64_t epoch = 0;                                    // crashes so far
  std::set<FaultyFile*> files;                           // alive, for a crash to kill
  std::set<FaultyRegion*> regions;
  Stats stats;
};

}  // namespace internal

namespace {

using State = internal::FaultyFileSystemState;

class FaultyRegion final : public MappedRegion {
 public:
  FaultyRegion(std::shared_ptr<State> state, std::unique_ptr<MappedRegion> base,
               std::shared_ptr<Node> node, std::string path, uint64_t offset)
      : state_(std::move(state)),
        base_(std::move(base)),
        node_(std::move(node)),
        path_(std::move(path)),
        offset_(offset),
        buffer_(base_->data().begin(), base_->data().end()) {}

  ~FaultyRegion() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->regions.erase(this);
    if (base_ != nullptr) {
      std::copy(buffer_.begin(), buffer_.end(), base_->data().begin());
      base_.reset();
    }
  }
  FaultyRegion(const FaultyRegion&) = delete;
  FaultyRegion& operator=(const FaultyRegion&) = delete;

  MutableByteView data() override { return buffer_; }

  absl::Status Sync() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (base_ == nullptr) return StaleHandle(FsOp::kMapSync, path_);
    EVLOG_RETURN_IF_ERROR(state_->MaybeFail(FsOp::kMapSync, path_));
    std::copy(buffer_.begin(), buffer_.end(), base_->data().begin());
    EVLOG_RETURN_IF_ERROR(base_->Sync());
    std::string& image = node_->durable;
    if (offset_ + buffer_.size() > image.size()) image.resize(offset_ + buffer_.size());
    if (!buffer_.empty()) std::memcpy(image.data() + offset_, buffer_.data(), buffer_.size());
    ++state_->stats.syncs;
    return absl::OkStatus();
  }

  // REQUIRES: state mu held. Detaches from the base (a crash).
  void Kill() { base_.reset(); }

 private:
  const std::shared_ptr<State> state_;
  std::unique_ptr<MappedRegion> base_;  // null once killed by a crash
  const std::shared_ptr<Node> node_;
  const std::string path_;
  const uint64_t offset_;
  std::vector<std::byte> buffer_;  // what data() exposes; never resized
};

class FaultyFile final : public File {
 public:
  FaultyFile(std::shared_ptr<State> state, std::unique_ptr<File> base, std::shared_ptr<Node> node,
             std::string path)
      : state_(std::move(state)),
        base_(std::move(base)),
        node_(std::move(node)),
        path_(std::move(path)) {}

  ~FaultyFile() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->files.erase(this);
    base_.reset();
  }
  FaultyFile(const FaultyFile&) = delete;
  FaultyFile& operator=(const FaultyFile&) = delete;

  absl::Status Append(ByteView data) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    EVLOG_RETURN_IF_ERROR(Check(FsOp::kAppend));
    EVLOG_ASSIGN_OR_RETURN(const uint64_t offset, base_->Size());
    EVLOG_RETURN_IF_ERROR(base_->Append(data));
    Record(offset, data);
    return absl::OkStatus();
  }

  absl::Status WriteAt(uint64_t offset, ByteView data) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    EVLOG_RETURN_IF_ERROR(Check(FsOp::kWriteAt));
    EVLOG_RETURN_IF_ERROR(base_->WriteAt(offset, data));
    Record(offset, data);
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, MutableByteView out) const override {
    std::lock_guard<std::mutex> lock(state_->mu);
    EVLOG_RETURN_IF_ERROR(Check(FsOp::kRead));
    return base_->ReadAt(offset, out);
  }

  absl::Status Sync() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    EVLOG_RETURN_IF_ERROR(Check(FsOp::kSync));
    EVLOG_RETURN_IF_ERROR(base_->Sync());
    for (const PendingOp& op : node_->unsynced) ApplyOp(op, node_->durable);
    node_->unsynced.clear();
    ++state_->stats.syncs;
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    EVLOG_RETURN_IF_ERROR(Check(FsOp::kTruncate));
    EVLOG_RETURN_IF_ERROR(base_->Truncate(size));
    node_->unsynced.push_back({PendingOp::kTruncate, size, {}});
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() const override {
    std::lock_guard<std::mutex> lock(state_->mu);
    EVLOG_RETURN_IF_ERROR(Check(FsOp::kSize));
    return base_->Size();
  }

  absl::StatusOr<std::unique_ptr<MappedRegion>> Map(uint64_t offset, size_t length) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    EVLOG_RETURN_IF_ERROR(Check(FsOp::kMap));
    EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<MappedRegion> base, base_->Map(offset, length));
    auto region = std::make_unique<FaultyRegion>(state_, std::move(base), node_, path_, offset);
    state_->regions.insert(region.get());
    return region;
  }

  absl::Status Close() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    EVLOG_RETURN_IF_ERROR(Check(FsOp::kClose));
    return base_->Close();
  }

  // REQUIRES: state mu held. Detaches from the base (a crash).
  void Kill() { base_.reset(); }

 private:
  // REQUIRES: state mu held.
  absl::Status Check(FsOp op) const {
    if (base_ == nullptr) return StaleHandle(op, path_);
    return state_->MaybeFail(op, path_);
  }

  // REQUIRES: state mu held.
  void Record(uint64_t offset, ByteView data) {
    node_->unsynced.push_back({PendingOp::kWrite, offset, ToString(data)});
    state_->stats.bytes_written += data.size();
  }

  const std::shared_ptr<State> state_;
  std::unique_ptr<File> base_;  // null once killed by a crash
  const std::shared_ptr<Node> node_;
  const std::string path_;  // as opened, for messages and fault matching
};

// The contents a crash leaves of `node`: see the crash model in the header.
std::string CrashImage(const Node& node, std::mt19937_64& rng, FaultyFileSystem::TornWrite torn) {
  std::string image = node.durable;
  if (node.unsynced.empty()) return image;
  const PendingOp& last = node.unsynced.back();
  if (last.kind != PendingOp::kWrite || last.offset > image.size()) return image;
  const uint64_t len = last.data.size();
  uint64_t keep = 0;
  // Plain modulo rather than a std distribution: mt19937_64's output is fixed
  // by the standard, distributions are not, and a seed must replay the same
  // crash everywhere.
  if (torn == FaultyFileSystem::TornWrite::kRandom && len > 0) {
    switch (rng() % 3) {
      case 0:
        keep = 0;
        break;
      case 1:
        keep = len;
        break;
      default:
        keep = rng() % (len + 1);
        break;
    }
  }
  if (keep == 0) return image;
  ApplyOp({PendingOp::kWrite, last.offset, last.data.substr(0, keep)}, image);
  return image;
}

absl::Status WriteWhole(FileSystem& fs, const std::string& path, const std::string& contents) {
  EVLOG_RETURN_IF_ERROR(fs.CreateDir(DirName(path)));
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs.Open(path, OpenMode::kCreate));
  EVLOG_RETURN_IF_ERROR(file->Truncate(0));
  EVLOG_RETURN_IF_ERROR(file->WriteAt(0, AsBytes(contents)));
  EVLOG_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

}  // namespace

void internal::FaultyFileSystemState::Crash(std::mt19937_64& rng, TornWrite torn) {
  ++epoch;
  ++stats.crashes;
  // Regions first: a MemFileSystem region writes back when destroyed, which
  // must happen before the contents are rewritten below.
  for (FaultyRegion* region : regions) region->Kill();
  regions.clear();
  for (FaultyFile* file : files) file->Kill();
  files.clear();

  std::map<const Node*, std::string> images;
  std::map<std::string, std::string> survivors;
  for (const auto& [path, node] : durable) {
    auto it = images.find(node.get());
    if (it == images.end()) it = images.emplace(node.get(), CrashImage(*node, rng, torn)).first;
    survivors.emplace(path, it->second);
  }
  for (const auto& [path, node] : live) {
    if (survivors.count(path) != 0) continue;
    const absl::Status s = base.Remove(path);
    EVLOG_CHECK(s.ok() || absl::IsNotFound(s));
  }
  live.clear();
  durable.clear();
  for (auto& [path, contents] : survivors) {
    const absl::Status s = WriteWhole(base, path, contents);
    if (!s.ok()) {
      internal::CheckFailed(__FILE__, __LINE__, "WriteWhole(base, path, contents).ok()",
                            std::string(s.ToString()));
    }
    auto node = std::make_shared<Node>();
    node->durable = std::move(contents);
    live[path] = node;
    durable[path] = std::move(node);
  }
}

std::string_view FsOpName(FsOp op) {
  switch (op) {
    case FsOp::kOpen:
      return "open";
    case FsOp::kExists:
      return "exists";
    case FsOp::kFileSize:
      return "file size";
    case FsOp::kRename:
      return "rename";
    case FsOp::kRemove:
      return "remove";
    case FsOp::kCreateDir:
      return "create dir";
    case FsOp::kRemoveDir:
      return "remove dir";
    case FsOp::kListDir:
      return "list dir";
    case FsOp::kSyncDir:
      return "sync dir";
    case FsOp::kAppend:
      return "append";
    case FsOp::kWriteAt:
      return "write";
    case FsOp::kRead:
      return "read";
    case FsOp::kSync:
      return "sync";
    case FsOp::kTruncate:
      return "truncate";
    case FsOp::kSize:
      return "size";
    case FsOp::kMap:
      return "map";
    case FsOp::kMapSync:
      return "map sync";
    case FsOp::kClose:
      return "close";
  }
  return "unknown";
}

absl::Status InjectedIoError() {
  return MakeError(ErrorCode::kKafkaStorageError, "injected fault: Input/output error (EIO)");
}

absl::Status InjectedNoSpaceError() {
  return MakeError(ErrorCode::kKafkaStorageError,
                   "injected fault: No space left on device (ENOSPC)");
}

FaultyFileSystem::FaultyFileSystem(FileSystem& base)
    : state_(std::make_shared<internal::FaultyFileSystemState>(base)) {}

FaultyFileSystem::~FaultyFileSystem() = default;

absl::StatusOr<std::unique_ptr<File>> FaultyFileSystem::Open(std::string_view path, OpenMode mode) {
  std::lock_guard<std::mutex> lock(state_->mu);
  EVLOG_RETURN_IF_ERROR(state_->MaybeFail(FsOp::kOpen, path));
  const std::string p = NormalizePath(path);
  state_->Track(p);
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> base, state_->base.Open(path, mode));
  std::shared_ptr<Node>& node = state_->live[p];
  if (node == nullptr) node = std::make_shared<Node>();  // created by this call
  auto file = std::make_unique<FaultyFile>(state_, std::move(base), node, std::string(path));
  state_->files.insert(file.get());
  return file;
}

absl::StatusOr<bool> FaultyFileSystem::Exists(std::string_view path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  EVLOG_RETURN_IF_ERROR(state_->MaybeFail(FsOp::kExists, path));
  return state_->base.Exists(path);
}

absl::Status FaultyFileSystem::Rename(std::string_view from, std::string_view to) {
  std::lock_guard<std::mutex> lock(state_->mu);
  EVLOG_RETURN_IF_ERROR(state_->MaybeFail(FsOp::kRename, from, to));
  const std::string f = NormalizePath(from);
  const std::string t = NormalizePath(to);
  std::shared_ptr<Node> node = state_->Track(f);
  state_->Track(t);  // a replaced file must be able to come back
  EVLOG_RETURN_IF_ERROR(state_->base.Rename(from, to));
  if (f == t) return absl::OkStatus();
  if (node != nullptr) {
    state_->live[t] = std::move(node);
    state_->live.erase(f);
    return absl::OkStatus();
  }
  // A directory: durable at once (see the header), so both maps move.
  const std::string f_prefix = f + "/";
  for (auto* names : {&state_->live, &state_->durable}) {
    std::vector<std::pair<std::string, std::shared_ptr<Node>>> moved;
    for (auto it = names->lower_bound(f_prefix);
         it != names->end() && it->first.compare(0, f_prefix.size(), f_prefix) == 0;) {
      moved.emplace_back(t + it->first.substr(f.size()), std::move(it->second));
      it = names->erase(it);
    }
    for (auto& [path, n] : moved) (*names)[path] = std::move(n);
  }
  return absl::OkStatus();
}

absl::Status FaultyFileSystem::Remove(std::string_view path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  EVLOG_RETURN_IF_ERROR(state_->MaybeFail(FsOp::kRemove, path));
  const std::string p = NormalizePath(path);
  state_->Track(p);
  EVLOG_RETURN_IF_ERROR(state_->base.Remove(path));
  state_->live.erase(p);
  return absl::OkStatus();
}

absl::Status FaultyFileSystem::CreateDir(std::string_view path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  EVLOG_RETURN_IF_ERROR(state_->MaybeFail(FsOp::kCreateDir, path));
  return state_->base.CreateDir(path);
}

absl::Status FaultyFileSystem::RemoveDir(std::string_view path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  EVLOG_RETURN_IF_ERROR(state_->MaybeFail(FsOp::kRemoveDir, path));
  return state_->base.RemoveDir(path);
}

absl::StatusOr<std::vector<std::string>> FaultyFileSystem::ListDir(std::string_view path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  EVLOG_RETURN_IF_ERROR(state_->MaybeFail(FsOp::kListDir, path));
  return state_->base.ListDir(path);
}

absl::Status FaultyFileSystem::SyncDir(std::string_view path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  EVLOG_RETURN_IF_ERROR(state_->MaybeFail(FsOp::kSyncDir, path));
  EVLOG_RETURN_IF_ERROR(state_->base.SyncDir(path));
  const std::string dir = NormalizePath(path);
  std::set<std::string> names;
  for (const auto& [p, node] : state_->live) {
    if (DirName(p) == dir) names.insert(p);
  }
  for (const auto& [p, node] : state_->durable) {
    if (DirName(p) == dir) names.insert(p);
  }
  for (const std::string& p : names) {
    if (auto it = state_->live.find(p); it != state_->live.end()) {
      state_->durable[p] = it->second;
    } else {
      state_->durable.erase(p);
    }
  }
  ++state_->stats.dir_syncs;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FaultyFileSystem::FileSize(std::string_view path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  EVLOG_RETURN_IF_ERROR(state_->MaybeFail(FsOp::kFileSize, path));
  return state_->base.FileSize(path);
}

void FaultyFileSystem::AddFault(FaultRule rule) {
  EVLOG_CHECK(!rule.status.ok());
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->rules.push_back(std::move(rule));
}

void FaultyFileSystem::ClearFaults() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->rules.clear();
}

void FaultyFileSystem::SimulateCrash(uint64_t seed, TornWrite torn) {
  std::mt19937_64 rng(seed);
  SimulateCrash(rng, torn);
}

void FaultyFileSystem::SimulateCrash(std::mt19937_64& rng, TornWrite torn) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->Crash(rng, torn);
}

absl::Status FaultyFileSystem::FlipByte(std::string_view path, uint64_t offset, uint8_t mask) {
  std::lock_guard<std::mutex> lock(state_->mu);
  const std::string p = NormalizePath(path);
  const std::shared_ptr<Node> node = state_->Track(p);
  if (node == nullptr) {
    return absl::NotFoundError(absl::StrCat("flip byte ", ToAbsl(path), ": no such file"));
  }
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> file, state_->base.Open(path, OpenMode::kReadWrite));
  std::byte b{};
  EVLOG_ASSIGN_OR_RETURN(const size_t n, file->ReadAt(offset, MutableByteView(&b, 1)));
  if (n == 0) {
    return absl::OutOfRangeError(
        absl::StrCat("flip byte ", ToAbsl(path), ": offset ", offset, " is past the end"));
  }
  const std::byte m{mask};
  b ^= m;
  EVLOG_RETURN_IF_ERROR(file->WriteAt(offset, ByteView(&b, 1)));
  EVLOG_RETURN_IF_ERROR(file->Close());
  const auto flip = [&](std::string& s, uint64_t at) {
    s[at] = static_cast<char>(static_cast<uint8_t>(s[at]) ^ mask);
  };
  if (offset < node->durable.size()) flip(node->durable, offset);
  for (PendingOp& op : node->unsynced) {
    if (op.kind == PendingOp::kWrite && offset >= op.offset &&
        offset < op.offset + op.data.size()) {
      flip(op.data, offset - op.offset);
    }
  }
  return absl::OkStatus();
}

FaultyFileSystem::Stats FaultyFileSystem::stats() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->stats;
}

}  // namespace evlog
