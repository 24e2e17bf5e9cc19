// evlog/storage/offset_index.h — a segment's .index: where in the .log to
// start reading for a given offset.
//
// The index is sparse: the segment adds an entry (the last offset of a
// batch, the byte position where that batch starts) about once every
// index_interval_bytes (kDefaultIndexIntervalBytes = 4096) of appended log,
// so a lookup lands at most that many bytes before the batch it wants and a
// short forward scan of the .log finishes the job.
//
//   // Segment based at 100; batches [100..104] at byte 0, [105..109] at
//   // 4200, [110..119] at 8400; entries for the last two.
//   EVLOG_ASSIGN_OR_RETURN(auto index, evlog::OffsetIndex::Open(
//       fs, dir + "/00000000000000000100.index", evlog::Offset(100),
//       evlog::kDefaultMaxIndexBytes, evlog::IndexMode::kWritable));
//   EVLOG_RETURN_IF_ERROR(index->Append(evlog::Offset(109), 4200));
//   EVLOG_RETURN_IF_ERROR(index->Append(evlog::Offset(119), 8400));
//   index->Lookup(evlog::Offset(112));  // {109, 4200}: scan from byte 4200
//   index->Lookup(evlog::Offset(103));  // {100, 0}: scan from the start
//
// File format: index_format.h and docs/format/index_files.md. Lifecycle
// (preallocation, trimming on roll, crash detection): sparse_index.h.
//
// Thread-safety: const methods may run on many threads concurrently with one
// Append (serialised by the caller). TruncateTo, Reset, TrimToValidSize,
// Close and RenameTo need the caller to exclude every other call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/io/file_system.h"
#include "evlog/storage/index_format.h"
#include "evlog/storage/sparse_index.h"
#include "evlog/types.h"

namespace evlog {

namespace internal {
// Compiled once, in src/storage/offset_index.cc.
extern template class SparseIndex<OffsetIndexTraits>;
}  // namespace internal

class OffsetIndex {
 public:
  // Opens (kWritable: creates when missing and preallocates to
  // max_index_bytes rounded down to whole entries) the .index file `path`
  // of the segment whose base offset is `base_offset`. A file with bad
  // contents opens; call SanityCheck to find out. `fs` must outlive the
  // index. Errors: see SparseIndex::Open (NotFound, INVALID_REQUEST,
  // INVALID_CONFIG, I/O).
  static absl::StatusOr<std::unique_ptr<OffsetIndex>> Open(FileSystem& fs, std::string path,
                                                           Offset base_offset,
                                                           uint32_t max_index_bytes,
                                                           IndexMode mode);

  // Leaves the file as a crash would (not trimmed); see Close.
  ~OffsetIndex() = default;
  OffsetIndex(const OffsetIndex&) = delete;
  OffsetIndex& operator=(const OffsetIndex&) = delete;

  // Records that the batch whose last offset is `offset` starts at byte
  // `position` of the .log.
  // Errors (nothing changes): INVALID_REQUEST when `offset` is not above
  // the last entry's offset, `position` not above the last entry's
  // position, `offset` outside [base, base + 2^31 - 1], or `position` above
  // 2^31 - 1; FailedPrecondition when IsFull() or not writable.
  absl::Status Append(Offset offset, uint32_t position);

  // The entry with the greatest offset <= target: where a scan for
  // `target` starts. {base_offset(), 0} when there is none (the target is
  // before the first entry, below the base, or the index is empty).
  OffsetPosition Lookup(Offset target) const;

  // The entry with the smallest offset >= target, or nullopt.
  std::optional<OffsetPosition> LookupCeiling(Offset target) const;

  // The entry with the smallest position >= `position`, or nullopt: an
  // upper bound for a read that must stop near a byte budget.
  std::optional<OffsetPosition> LookupByPositionCeiling(uint32_t position) const;

  // Entry `i` in order. REQUIRES: i < entries().
  OffsetPosition EntryAt(size_t i) const { return index_->EntryAt(i); }

  // Drops the entries with offset >= `offset`; restores the full capacity
  // if the index was trimmed. Worked example, entries {105@0, 110@4100,
  // 120@8200}: TruncateTo(110) keeps {105@0}; TruncateTo(111) keeps
  // {105@0, 110@4100}; TruncateTo(100) keeps nothing.
  // Errors: FailedPrecondition when not writable. Needs exclusive access.
  absl::Status TruncateTo(Offset offset) { return index_->TruncateToOffset(offset); }

  // Drops all entries, before the segment rebuilds the index from its .log.
  // Errors: FailedPrecondition when not writable. Needs exclusive access.
  absl::Status Reset() { return index_->Reset(); }

  // OK when the index is consistent with a .log of `log_size_bytes` bytes:
  // the file's size at open was a multiple of 8, offsets are >= the base
  // and strictly increase, positions strictly increase and are below
  // `log_size_bytes`. Catches the zero-filled tail a crash leaves in a
  // preallocated file. O(entries).
  // Errors: CORRUPT_MESSAGE naming the first bad entry (then Reset and
  // rebuild); FailedPrecondition after Close.
  absl::Status SanityCheck(uint64_t log_size_bytes) const;

  // Cuts the file to entries() * 8 bytes (on roll and on close); the index
  // is then full. Needs exclusive access. See SparseIndex::TrimToValidSize.
  absl::Status TrimToValidSize() { return index_->TrimToValidSize(); }

  // Makes the entries and the file's size durable. No-op when read-only.
  absl::Status Sync() { return index_->Sync(); }

  // Trims (when writable), unmaps and closes; does not Sync. For a clean
  // shutdown: TrimToValidSize, Sync, Close. Needs exclusive access.
  absl::Status Close() { return index_->Close(); }

  // Renames the file (e.g. to a .deleted or .swap name). Durable after
  // SyncDir. Needs exclusive access.
  absl::Status RenameTo(std::string new_path) { return index_->RenameTo(std::move(new_path)); }

  // True when Append would fail for lack of room (the segment should roll).
  bool IsFull() const { return index_->IsFull(); }
  size_t entries() const { return index_->entries(); }
  size_t max_entries() const { return index_->max_entries(); }
  // The last entry's offset, or base_offset() when empty.
  Offset last_offset() const;
  Offset base_offset() const { return index_->base_offset(); }
  const std::string& path() const { return index_->path(); }
  IndexMode mode() const { return index_->mode(); }
  // entries() * 8: the file's size once trimmed.
  uint64_t valid_size_bytes() const { return index_->valid_size_bytes(); }

 private:
  using Impl = internal::SparseIndex<internal::OffsetIndexTraits>;
  explicit OffsetIndex(std::unique_ptr<Impl> index) : index_(std::move(index)) {}

  std::unique_ptr<Impl> index_;
};

}  // namespace evlog
