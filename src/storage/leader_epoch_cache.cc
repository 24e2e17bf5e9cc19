#include "evlog/storage/leader_epoch_cache.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/status.h"
#include "evlog/storage/internal/atomic_file.h"
#include "evlog/storage/internal/leader_epoch_checkpoint.h"

namespace evlog {
namespace internal {
namespace {

// Quoted in error messages, cut short: a garbage file may have no newlines.
std::string Quote(std::string_view line) {
  constexpr size_t kMaxQuotedBytes = 40;
  if (line.size() <= kMaxQuotedBytes) return absl::StrCat("\"", ToAbsl(line), "\"");
  return absl::StrCat("\"", ToAbsl(line.substr(0, kMaxQuotedBytes)), "...\"");
}

absl::Status Malformed(size_t line_number, std::string_view what) {
  return absl::DataLossError(
      absl::StrCat("leader-epoch checkpoint line ", line_number, ": ", ToAbsl(what)));
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// A decimal integer at the front of `text` ('-' allowed, so that a negative
// value gets its own message); advances `text` past it.
template <typename T>
bool ConsumeInteger(std::string_view& text, T& value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr == text.data()) return false;
  text.remove_prefix(static_cast<size_t>(ptr - text.data()));
  return true;
}

// The whole of `line` as one integer.
template <typename T>
bool ParseWholeInteger(std::string_view line, T& value) {
  return ConsumeInteger(line, value) && line.empty();
}

}  // namespace

std::string EncodeLeaderEpochCheckpoint(const std::vector<EpochEntry>& entries) {
  std::string out = absl::StrCat(kLeaderEpochCheckpointVersion, "\n", entries.size(), "\n");
  for (const EpochEntry& e : entries) {
    absl::StrAppend(&out, e.epoch.value(), " ", e.start_offset.value(), "\n");
  }
  return out;
}

absl::Status CheckEpochEntries(const std::vector<EpochEntry>& entries) {
  for (size_t i = 0; i < entries.size(); ++i) {
    const EpochEntry& e = entries[i];
    if (e.epoch.value() < 0 || e.start_offset.value() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("entry ", i, " (epoch ", e.epoch.value(),
                                                     ", start ", e.start_offset.value(),
                                                     ") is negative"));
    }
    if (i > 0 &&
        (e.epoch <= entries[i - 1].epoch || e.start_offset <= entries[i - 1].start_offset)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry ", i, " (epoch ", e.epoch.value(), ", start ", e.start_offset.value(),
          ") does not follow (epoch ", entries[i - 1].epoch.value(), ", start ",
          entries[i - 1].start_offset.value(), "): epochs and start offsets must increase"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<EpochEntry>> DecodeLeaderEpochCheckpoint(std::string_view text) {
  if (text.empty()) return absl::DataLossError("leader-epoch checkpoint is empty");
  if (text.back() != '\n') {
    return absl::DataLossError("leader-epoch checkpoint is cut off: its last line has no newline");
  }
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    text.remove_prefix(eol + 1);
  }
  int32_t version = 0;
  if (!ParseWholeInteger(lines[0], version)) {
    return Malformed(1, absl::StrCat("expected the version, found ", Quote(lines[0])));
  }
  if (version != kLeaderEpochCheckpointVersion) {
    return Malformed(
        1, absl::StrCat("version ", version, ", expected ", kLeaderEpochCheckpointVersion));
  }
  if (lines.size() < 2) return absl::DataLossError("leader-epoch checkpoint has no entry count");
  int32_t count = 0;
  if (!ParseWholeInteger(lines[1], count) || count < 0) {
    return Malformed(2, absl::StrCat("expected the number of entries, found ", Quote(lines[1])));
  }
  const size_t found = lines.size() - 2;
  if (found != static_cast<size_t>(count)) {
    return absl::DataLossError(absl::StrCat("leader-epoch checkpoint announces ", count,
                                            " entries but has ", found, " entry lines"));
  }
  std::vector<EpochEntry> entries;
  entries.reserve(found);
  for (size_t i = 2; i < lines.size(); ++i) {
    std::string_view rest = lines[i];
    int32_t epoch = 0;
    int64_t start = 0;
    const bool ok = ConsumeInteger(rest, epoch) && !rest.empty() && IsBlank(rest.front());
    while (!rest.empty() && IsBlank(rest.front())) rest.remove_prefix(1);
    // Kafka's reader splits on whitespace, which lets trailing blanks pass.
    if (!ok || !ConsumeInteger(rest, start) || !std::all_of(rest.begin(), rest.end(), IsBlank)) {
      return Malformed(
          i + 1, absl::StrCat("expected \"<epoch> <start offset>\", found ", Quote(lines[i])));
    }
    entries.push_back(EpochEntry{LeaderEpoch(epoch), Offset(start)});
  }
  if (absl::Status s = CheckEpochEntries(entries); !s.ok()) {
    return absl::DataLossError(absl::StrCat("leader-epoch checkpoint: ", s.message()));
  }
  return entries;
}

}  // namespace internal

LeaderEpochCache::LeaderEpochCache(FileSystem& fs, std::string dir)
    : fs_(&fs), dir_(std::move(dir)) {}

LeaderEpochCache::LeaderEpochCache(FileSystem& fs, std::string dir, std::vector<EpochEntry> entries)
    : fs_(&fs), dir_(std::move(dir)), entries_(std::move(entries)) {
  UpdateLatest();
}

std::string LeaderEpochCache::path() const { return JoinPath(dir_, kFileName); }

absl::StatusOr<LeaderEpochCache> LeaderEpochCache::Load(FileSystem& fs, std::string dir) {
  const std::string path = JoinPath(dir, kFileName);
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs.Open(path, OpenMode::kReadOnly));
  EVLOG_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size > internal::kMaxLeaderEpochCheckpointBytes) {
    return absl::DataLossError(absl::StrCat(path, ": ", size, " bytes, more than any checkpoint (",
                                            internal::kMaxLeaderEpochCheckpointBytes, ")"));
  }
  std::string text(static_cast<size_t>(size), '\0');
  EVLOG_ASSIGN_OR_RETURN(
      size_t n,
      file->ReadAt(0, MutableByteView(reinterpret_cast<std::byte*>(text.data()), text.size())));
  text.resize(n);
  absl::StatusOr<std::vector<EpochEntry>> entries = internal::DecodeLeaderEpochCheckpoint(text);
  if (!entries.ok()) return Annotate(entries.status(), absl::StrCat("reading ", path));
  return LeaderEpochCache(fs, std::move(dir), *std::move(entries));
}

absl::Status LeaderEpochCache::Assign(LeaderEpoch epoch, Offset start_offset) {
  if (epoch.value() < 0) return absl::OkStatus();
  if (start_offset.value() < 0) {
    return MakeError(ErrorCode::kInvalidRequest,
                     absl::StrCat("leader epoch ", epoch.value(), " cannot start at offset ",
                                  start_offset.value()));
  }
  if (!entries_.empty() && entries_.back().epoch == epoch &&
      start_offset >= entries_.back().start_offset) {
    return absl::OkStatus();
  }
  std::vector<EpochEntry> next = entries_;
  while (!next.empty() &&
         (next.back().epoch >= epoch || next.back().start_offset >= start_offset)) {
    next.pop_back();
  }
  next.push_back(EpochEntry{epoch, start_offset});
  // The batch this entry describes is written only after the entry is on
  // disk, so a failed write must leave the entries as they were.
  std::swap(entries_, next);
  UpdateLatest();
  absl::Status s = Write();
  if (!s.ok()) {
    std::swap(entries_, next);
    UpdateLatest();
  }
  return s;
}

absl::Status LeaderEpochCache::TruncateFromEnd(Offset end_offset) {
  if (end_offset.value() < 0 || entries_.empty() || entries_.back().start_offset < end_offset) {
    return absl::OkStatus();
  }
  while (!entries_.empty() && entries_.back().start_offset >= end_offset) entries_.pop_back();
  UpdateLatest();
  return Write();
}

absl::Status LeaderEpochCache::TruncateFromStart(Offset start_offset) {
  auto first_after = std::find_if(entries_.begin(), entries_.end(), [&](const EpochEntry& e) {
    return e.start_offset > start_offset;
  });
  if (first_after == entries_.begin()) return absl::OkStatus();
  const LeaderEpoch kept = std::prev(first_after)->epoch;
  if (first_after == std::next(entries_.begin()) && entries_.front().start_offset == start_offset) {
    return absl::OkStatus();  // already starts there
  }
  entries_.erase(entries_.begin(), std::prev(first_after));
  entries_.front() = EpochEntry{kept, start_offset};
  UpdateLatest();
  return Write();
}

absl::Status LeaderEpochCache::Clear() {
  entries_.clear();
  UpdateLatest();
  return Write();
}

absl::Status LeaderEpochCache::Reset(std::vector<EpochEntry> entries) {
  if (absl::Status s = internal::CheckEpochEntries(entries); !s.ok()) {
    return MakeError(ErrorCode::kInvalidRequest, internal::FromAbsl(s.message()));
  }
  entries_ = std::move(entries);
  UpdateLatest();
  return Write();
}

absl::Status LeaderEpochCache::RemoveFile() {
  absl::Status s = fs_->Remove(path());
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  return fs_->SyncDir(dir_);
}

absl::Status LeaderEpochCache::Flush() { return needs_write_ ? Write() : absl::OkStatus(); }

absl::Status LeaderEpochCache::Write() {
  const std::string text = internal::EncodeLeaderEpochCheckpoint(entries_);
  absl::Status s = internal::ReplaceFileAtomically(*fs_, dir_, kFileName, AsBytes(text));
  needs_write_ = !s.ok();
  return s.ok() ? s : Annotate(s, absl::StrCat("writing ", path()));
}

void LeaderEpochCache::UpdateLatest() {
  latest_ = entries_.empty() ? kNoLeaderEpoch : entries_.back().epoch;
}

EpochEndOffset LeaderEpochCache::EndOffsetFor(LeaderEpoch requested, Offset log_end_offset) const {
  if (requested.value() < 0) return EpochEndOffset{};
  if (!entries_.empty() && entries_.back().epoch == requested) {
    return EpochEndOffset{requested, log_end_offset};
  }
  auto higher =
      std::upper_bound(entries_.begin(), entries_.end(), requested,
                       [](LeaderEpoch epoch, const EpochEntry& e) { return epoch < e.epoch; });
  if (higher == entries_.end()) return EpochEndOffset{};
  if (higher == entries_.begin()) return EpochEndOffset{requested, higher->start_offset};
  return EpochEndOffset{std::prev(higher)->epoch, higher->start_offset};
}

std::optional<LeaderEpoch> LeaderEpochCache::LatestEpoch() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().epoch;
}

std::optional<EpochEntry> LeaderEpochCache::EarliestEntry() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.front();
}

}  // namespace evlog
