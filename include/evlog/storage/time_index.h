// evlog/storage/time_index.h — a segment's .timeindex: from which offset to
// start looking for the first record at or after a timestamp.
//
// Each entry is (timestamp_ms, offset): the largest timestamp the segment
// held when the entry was written and the offset of the batch that carried
// it. Entries are added alongside offset-index entries, and only for a new
// maximum timestamp, so timestamps strictly increase and offsets never
// decrease. The last entry is the segment's largest timestamp (retention by
// time reads it), which is why the segment writes one final entry when it
// rolls, into a slot IsFull keeps in reserve.
//
//   // Segment based at 100.
//   EVLOG_ASSIGN_OR_RETURN(auto index, evlog::TimeIndex::Open(
//       fs, dir + "/00000000000000000100.timeindex", evlog::Offset(100),
//       evlog::kDefaultMaxIndexBytes, evlog::IndexMode::kWritable));
//   index->MaybeAppend(1000, evlog::Offset(109));  // true
//   index->MaybeAppend(1000, evlog::Offset(119));  // false: not a new maximum
//   index->MaybeAppend(2000, evlog::Offset(119));  // true
//   index->Lookup(1500);  // {1000, 109}: records >= 1500 are at offsets >= 109
//   index->Lookup(999);   // {kNoTimestamp, 100}: scan from the start
//
// File format: index_format.h and docs/format/index_files.md. Lifecycle:
// sparse_index.h.
//
// Thread-safety: const methods may run on many threads concurrently with one
// MaybeAppend (serialised by the caller). TruncateTo, Reset,
// TrimToValidSize, Close and RenameTo need the caller to exclude every other
// call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/io/file_system.h"
#include "evlog/storage/index_format.h"
#include "evlog/storage/sparse_index.h"
#include "evlog/types.h"

namespace evlog {

namespace internal {
// Compiled once, in src/storage/time_index.cc.
extern template class SparseIndex<TimeIndexTraits>;
}  // namespace internal

class TimeIndex {
 public:
  // Opens the .timeindex file `path` of the segment based at `base_offset`;
  // as OffsetIndex::Open (12-byte entries).
  static absl::StatusOr<std::unique_ptr<TimeIndex>> Open(FileSystem& fs, std::string path,
                                                         Offset base_offset,
                                                         uint32_t max_index_bytes, IndexMode mode);

  // Leaves the file as a crash would (not trimmed); see Close.
  ~TimeIndex() = default;
  TimeIndex(const TimeIndex&) = delete;
  TimeIndex& operator=(const TimeIndex&) = delete;

  // Appends (timestamp_ms, offset) when timestamp_ms is above the last
  // entry's timestamp (any timestamp >= 0 when empty). Returns true when it
  // appended, false when timestamp_ms equals the last timestamp or is
  // kNoTimestamp (nothing to index).
  // Errors (nothing changes): INVALID_TIMESTAMP for a negative timestamp
  // other than kNoTimestamp; INVALID_REQUEST when timestamp_ms is below the
  // last timestamp, `offset` below the last entry's offset, or `offset`
  // outside [base, base + 2^31 - 1]; FailedPrecondition when it would
  // append but IsFull(), or when not writable.
  absl::StatusOr<bool> MaybeAppend(int64_t timestamp_ms, Offset offset);

  // As MaybeAppend, but may use the slot IsFull() keeps in reserve: for the
  // final entry a segment writes when it rolls.
  absl::StatusOr<bool> MaybeAppendOnRoll(int64_t timestamp_ms, Offset offset);

  // The entry with the greatest timestamp <= target_ms, where a search for
  // the first record with a timestamp >= target_ms starts (no record before
  // entry.offset has a timestamp above entry.timestamp_ms).
  // {kNoTimestamp, base_offset()} when there is none.
  TimestampOffset Lookup(int64_t target_ms) const;

  // The last entry (the largest timestamp indexed), or {kNoTimestamp,
  // base_offset()} when empty.
  TimestampOffset last_entry() const;

  // Entry `i` in order. REQUIRES: i < entries().
  TimestampOffset EntryAt(size_t i) const { return index_->EntryAt(i); }

  // Drops the entries with offset >= `offset`; restores the full capacity
  // if the index was trimmed. Errors: FailedPrecondition when not
  // writable. Needs exclusive access.
  absl::Status TruncateTo(Offset offset) { return index_->TruncateToOffset(offset); }

  // Drops all entries, before a rebuild. Needs exclusive access.
  absl::Status Reset() { return index_->Reset(); }

  // OK when the file's size at open was a multiple of 12, timestamps are
  // >= 0 and strictly increase, and offsets are >= the base and never
  // decrease. Catches the zero-filled tail a crash leaves in a preallocated
  // file. O(entries). Errors: CORRUPT_MESSAGE; FailedPrecondition after
  // Close.
  absl::Status SanityCheck() const { return index_->CheckEntries(); }

  // As OffsetIndex: cut to entries() * 12 bytes (then full), make durable,
  // close (trims, no sync), rename.
  absl::Status TrimToValidSize() { return index_->TrimToValidSize(); }
  absl::Status Sync() { return index_->Sync(); }
  absl::Status Close() { return index_->Close(); }
  absl::Status RenameTo(std::string new_path) { return index_->RenameTo(std::move(new_path)); }

  // True when MaybeAppend would fail for lack of room (the segment should
  // roll): one slot is kept for MaybeAppendOnRoll.
  bool IsFull() const;
  size_t entries() const { return index_->entries(); }
  size_t max_entries() const { return index_->max_entries(); }
  Offset base_offset() const { return index_->base_offset(); }
  const std::string& path() const { return index_->path(); }
  IndexMode mode() const { return index_->mode(); }
  // entries() * 12: the file's size once trimmed.
  uint64_t valid_size_bytes() const { return index_->valid_size_bytes(); }

 private:
  using Impl = internal::SparseIndex<internal::TimeIndexTraits>;
  explicit TimeIndex(std::unique_ptr<Impl> index) : index_(std::move(index)) {}

  absl::StatusOr<bool> Append(int64_t timestamp_ms, Offset offset, bool use_reserved_slot);

  std::unique_ptr<Impl> index_;
};

}  // namespace evlog
