#include "evlog/storage/time_index.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/status.h"

namespace evlog {

namespace internal {
template class SparseIndex<TimeIndexTraits>;
}  // namespace internal

absl::StatusOr<std::unique_ptr<TimeIndex>> TimeIndex::Open(FileSystem& fs, std::string path,
                                                           Offset base_offset,
                                                           uint32_t max_index_bytes,
                                                           IndexMode mode) {
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<Impl> index,
                         Impl::Open(fs, std::move(path), base_offset, max_index_bytes, mode));
  return std::unique_ptr<TimeIndex>(new TimeIndex(std::move(index)));
}

bool TimeIndex::IsFull() const {
  // One slot stays free for the entry written on roll.
  return index_->entries() + 1 >= index_->max_entries();
}

absl::StatusOr<bool> TimeIndex::MaybeAppend(int64_t timestamp_ms, Offset offset) {
  return Append(timestamp_ms, offset, /*use_reserved_slot=*/false);
}

absl::StatusOr<bool> TimeIndex::MaybeAppendOnRoll(int64_t timestamp_ms, Offset offset) {
  return Append(timestamp_ms, offset, /*use_reserved_slot=*/true);
}

absl::StatusOr<bool> TimeIndex::Append(int64_t timestamp_ms, Offset offset,
                                       bool use_reserved_slot) {
  if (timestamp_ms == kNoTimestamp) return false;
  if (timestamp_ms < 0) {
    return MakeError(ErrorCode::kInvalidTimestamp,
                     absl::StrCat("time index ", path(), ": negative timestamp ", timestamp_ms));
  }
  const TimestampOffset last = last_entry();
  if (timestamp_ms == last.timestamp_ms) {
    // Not a new maximum; still refuse an offset that goes backwards, a sign
    // that the caller's state went wrong.
    if (offset < last.offset) {
      return MakeError(ErrorCode::kInvalidRequest,
                       absl::StrCat("time index ", path(), ": offset ", offset.value(),
                                    " is below the last entry's offset ", last.offset.value()));
    }
    return false;
  }
  // Mutability, range, order and capacity checks (and errors) are the
  // index's.
  EVLOG_RETURN_IF_ERROR(index_->Append(TimestampOffset{timestamp_ms, offset},
                                       /*reserved_slots=*/use_reserved_slot ? 0 : 1));
  return true;
}

TimestampOffset TimeIndex::Lookup(int64_t target_ms) const {
  return index_->Floor(target_ms).value_or(TimestampOffset{kNoTimestamp, base_offset()});
}

TimestampOffset TimeIndex::last_entry() const {
  return index_->LastEntry().value_or(TimestampOffset{kNoTimestamp, base_offset()});
}

}  // namespace evlog
