#include "evlog/storage/leader_epoch_cache.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/status.h"
#include "evlog/storage/internal/atomic_file.h"
#include "evlog/storage/internal/checkpoint_text.h"
#include "evlog/storage/internal/leader_epoch_checkpoint.h"

namespace evlog {
namespace internal {

std::string EncodeLeaderEpochCheckpoint(const std::vector<EpochEntry>& entries) {
  std::vector<std::string> lines;
  lines.reserve(entries.size());
  for (const EpochEntry& e : entries) {
    lines.push_back(absl::StrCat(e.epoch.value(), " ", e.start_offset.value()));
  }
  return JoinCheckpointText(kLeaderEpochCheckpointVersion, lines);
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
  constexpr std::string_view kWhat = "leader-epoch checkpoint";
  EVLOG_ASSIGN_OR_RETURN(std::vector<CheckpointLine> lines,
                         SplitCheckpointText(text, kLeaderEpochCheckpointVersion, kWhat));
  std::vector<EpochEntry> entries;
  entries.reserve(lines.size());
  for (const CheckpointLine& line : lines) {
    const std::vector<std::string_view> fields = CheckpointFields(line.text);
    int32_t epoch = 0;
    int64_t start = 0;
    if (fields.size() != 2 || !ParseCheckpointInteger(fields[0], epoch) ||
        !ParseCheckpointInteger(fields[1], start)) {
      return MalformedCheckpointLine(kWhat, line, "\"<epoch> <start offset>\"");
    }
    entries.push_back(EpochEntry{LeaderEpoch(epoch), Offset(start)});
  }
  if (absl::Status s = CheckEpochEntries(entries); !s.ok()) {
    return absl::DataLossError(absl::StrCat(ToAbsl(kWhat), ": ", s.message()));
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
  EVLOG_ASSIGN_OR_RETURN(std::string text, internal::ReadSmallFile(
                                               fs, path, internal::kMaxLeaderEpochCheckpointBytes));
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
