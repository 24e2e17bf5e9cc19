// evlog/storage/sparse_index.h — the machinery shared by OffsetIndex and
// TimeIndex: a sorted array of fixed-size entries in a preallocated,
// memory-mapped file, searched by binary search.
//
// Users want OffsetIndex (offset_index.h) or TimeIndex (time_index.h); this
// template is what they are made of. It knows nothing of what an entry
// means beyond what its Traits say: how to encode and decode one, its
// search key, its offset, and which orders are legal.
//
// Lifecycle of the file (worked example, offset index, 8-byte entries,
// max_index_bytes 64 -> 8 slots):
//
//   Open(kWritable), new file       size 64: [ - - - - - - - - ]  entries 0
//   Append x3                       size 64: [ a b c - - - - - ]  entries 3
//   TrimToValidSize (segment roll)  size 24: [ a b c ]            entries 3, full
//   Close; Open(kReadOnly)          size 24: [ a b c ]            entries 3
//
//   After a crash instead of a trim, the file keeps its preallocated size:
//   Open                            size 64: [ a b c 0 0 0 0 0 ]  entries 8
//   CheckEntries -> CORRUPT_MESSAGE (a zero entry does not follow c)
//   Reset                           size 64: [ 0 0 0 0 0 0 0 0 ]  entries 0
//   Append ... (the segment rebuilds from its .log)
//
// Thread-safety: the const observers (entries, Floor, Ceiling, EntryAt, ...)
// may run on any number of threads concurrently with at most one Append:
// Append writes the entry's bytes first and then publishes the new count
// with a release store, which readers load with acquire, so a reader never
// sees a half-written entry. Everything else that changes the index
// (TruncateToOffset, Reset, TrimToValidSize, Close, RenameTo) remaps or
// rewrites entries readers may be looking at, and needs the caller to
// exclude all other calls (the owning segment holds its lock exclusively).
// Append calls must be serialised by the caller.
#pragma once

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/io/file_system.h"
#include "evlog/status.h"
#include "evlog/storage/index_format.h"
#include "evlog/types.h"

namespace evlog {

// How an index file is opened.
enum class IndexMode {
  // Existing file only (NotFound otherwise), exactly as found; no changes.
  kReadOnly,
  // Created when missing, preallocated to max_index_bytes and mapped for
  // appends. The index of a segment that can still grow (the active one),
  // or one being truncated or rebuilt.
  kWritable,
};

namespace internal {

// What SparseIndex needs to know about an entry type:
//   Entry, Key        decoded entry; its search key (totally ordered)
//   kEntryBytes       size of an encoded entry
//   kName             "offset index", for messages
//   KeyOf(e)          the key Floor/Ceiling search by; never decreases
//   OffsetOf(e)       the entry's absolute offset; never decreases
//   Encode(e, base, out) / Decode(in, base)
//                     kEntryBytes bytes at out/in; offsets relative to base
//   EntryProblem(e)   why e is invalid on its own, or nullopt
//   OrderProblem(prev, next)
//                     why next may not follow prev, or nullopt
template <typename T>
concept SparseIndexTraits = requires(const typename T::Entry& e, Offset base, const std::byte* in,
                                     std::byte* out) {
  requires std::totally_ordered<typename T::Key>;
  requires std::copyable<typename T::Entry>;
  { T::kEntryBytes } -> std::convertible_to<size_t>;
  { T::kName } -> std::convertible_to<std::string_view>;
  { T::KeyOf(e) } -> std::same_as<typename T::Key>;
  { T::OffsetOf(e) } -> std::same_as<Offset>;
  T::Encode(e, base, out);
  { T::Decode(in, base) } -> std::same_as<typename T::Entry>;
  { T::EntryProblem(e) } -> std::same_as<std::optional<std::string>>;
  { T::OrderProblem(e, e) } -> std::same_as<std::optional<std::string>>;
};

// A sparse index over one file. See the file comment for the lifecycle and
// thread-safety. Not copyable or movable (readers hold pointers into it).
template <SparseIndexTraits Traits>
class SparseIndex {
 public:
  using Entry = typename Traits::Entry;
  using Key = typename Traits::Key;
  static constexpr size_t kEntryBytes = Traits::kEntryBytes;

  // Opens the index file `path` of the segment based at `base_offset`.
  //
  // kWritable: creates the file when missing; entries = existing size /
  //   kEntryBytes; then grows the file to max(existing entries,
  //   max_index_bytes / kEntryBytes) entries and maps it.
  // kReadOnly: maps (or, where the file system cannot map a read-only file,
  //   reads) the existing entries; max_index_bytes is not used.
  //
  // A file whose contents are inconsistent still opens: CheckEntries says
  // so, and Reset starts over. `fs` must outlive the index.
  //
  // Errors: NotFound (kReadOnly, no file); INVALID_REQUEST for a negative
  // base offset or one within 2^31 of the largest offset; INVALID_CONFIG
  // when kWritable and max_index_bytes < kEntryBytes; I/O errors of `fs`.
  static absl::StatusOr<std::unique_ptr<SparseIndex>> Open(FileSystem& fs, std::string path,
                                                           Offset base_offset,
                                                           uint32_t max_index_bytes,
                                                           IndexMode mode);

  // Unmaps and closes the file without trimming it or reporting errors: the
  // file is left as a crash would leave it. Call Close for a clean finish.
  ~SparseIndex();

  SparseIndex(const SparseIndex&) = delete;
  SparseIndex& operator=(const SparseIndex&) = delete;

  // --- Observers: safe concurrently with one Append -----------------------

  Offset base_offset() const { return base_offset_; }
  IndexMode mode() const { return mode_; }
  // The file's current path (changes with RenameTo).
  const std::string& path() const { return path_; }
  // Number of entries; 0 after Close.
  size_t entries() const { return entries_.load(std::memory_order_acquire); }
  // Number of entries the file has room for at the moment.
  size_t max_entries() const { return capacity_entries_; }
  // True when there is no room for another entry.
  bool IsFull() const { return entries() >= capacity_entries_; }
  // Bytes the valid entries take (the file's size once trimmed).
  uint64_t valid_size_bytes() const { return uint64_t{entries()} * kEntryBytes; }

  // Entry `i`. REQUIRES: i < entries().
  Entry EntryAt(size_t i) const {
    EVLOG_CHECK_LT(i, entries());
    return Load(i);
  }
  // The last entry, or nullopt when empty.
  std::optional<Entry> LastEntry() const {
    const size_t n = entries();
    if (n == 0) return std::nullopt;
    return Load(n - 1);
  }

  // Searches with a predicate that holds for a prefix of the entries (and
  // for no entry after the first one it rejects), e.g. "key <= target".
  // LastSatisfying: the last entry of that prefix, or nullopt when empty.
  // FirstNotSatisfying: the first entry after it, or nullopt when none.
  template <typename Pred>
  std::optional<Entry> LastSatisfying(Pred pred) const {
    const size_t n = entries();
    const size_t i = PartitionPoint(n, pred);
    if (i == 0) return std::nullopt;
    return Load(i - 1);
  }
  template <typename Pred>
  std::optional<Entry> FirstNotSatisfying(Pred pred) const {
    const size_t n = entries();
    const size_t i = PartitionPoint(n, pred);
    if (i == n) return std::nullopt;
    return Load(i);
  }

  // The entry with the greatest key <= target, or nullopt.
  std::optional<Entry> Floor(const Key& target) const {
    return LastSatisfying([&target](const Entry& e) { return Traits::KeyOf(e) <= target; });
  }
  // The entry with the smallest key >= target, or nullopt.
  std::optional<Entry> Ceiling(const Key& target) const {
    return FirstNotSatisfying([&target](const Entry& e) { return Traits::KeyOf(e) < target; });
  }

  // Checks every entry: the size of the file at open was a multiple of
  // kEntryBytes, each entry's offset is in [base, base + 2^31 - 1], it
  // passes Traits::EntryProblem and `extra` (a callable taking an Entry and
  // returning std::optional<std::string>), and each follows its
  // predecessor as Traits::OrderProblem requires. O(entries).
  // Returns CORRUPT_MESSAGE naming the first bad entry;
  // FailedPrecondition after Close or an I/O error that unmapped the index.
  template <typename Extra>
  absl::Status CheckEntries(Extra extra) const;
  absl::Status CheckEntries() const {
    return CheckEntries([](const Entry&) { return std::optional<std::string>(); });
  }

  // --- Mutators: kWritable only ---------------------------------------------
  // All return FailedPrecondition on a kReadOnly or closed index, or after
  // an I/O error left the index without a mapping (reopen it then).

  // Appends `e` (serialised by the caller; safe against concurrent readers),
  // leaving at least `reserved_slots` free slots for later appends that
  // pass 0.
  // Errors: INVALID_REQUEST when e's offset is outside [base, base + 2^31 - 1],
  // e fails Traits::EntryProblem, or e may not follow the last entry
  // (Traits::OrderProblem); FailedPrecondition when full. Changes nothing on
  // error.
  absl::Status Append(const Entry& e, size_t reserved_slots = 0);

  // Drops the entries whose offset is >= `offset` (zeroing their bytes), and
  // restores the full capacity if the file was trimmed, since a truncated
  // segment becomes the active one. Needs exclusive access.
  absl::Status TruncateToOffset(Offset offset);

  // Drops all entries (zeroing their bytes), forgets a corruption found at
  // open, and restores the full capacity: the state a rebuild starts from.
  // Needs exclusive access.
  absl::Status Reset();

  // Cuts the file to the valid entries (entries() * kEntryBytes) and remaps
  // it; the index is then full until TruncateToOffset or Reset. On a
  // kReadOnly index: OK when the file already has that size,
  // FailedPrecondition otherwise. Needs exclusive access.
  absl::Status TrimToValidSize();

  // Makes the entries and the file size durable (msync + fdatasync).
  // OK and a no-op on a kReadOnly index.
  absl::Status Sync();

  // Trims a kWritable index (TrimToValidSize), unmaps and closes the file.
  // Does not Sync: for a clean shutdown call TrimToValidSize, Sync, Close.
  // Afterwards the index reads as empty and mutators fail; Close again is
  // OK. Needs exclusive access.
  absl::Status Close();

  // Renames the file (open or closed) through the FileSystem; later calls
  // use the new path. Durable after SyncDir on the parent. Needs exclusive
  // access.
  absl::Status RenameTo(std::string new_path);

 private:
  // Why the first probe goes to the tail: most lookups (appends, consumers
  // near the head, truncation) target the last entries. Probing the last
  // 8 KiB first keeps a search within a few pages that stay resident,
  // instead of touching cold pages in the middle of a large file.
  static constexpr size_t kWarmSectionBytes = 8192;
  static constexpr size_t kWarmEntries = kWarmSectionBytes / kEntryBytes;

  SparseIndex(FileSystem& fs, std::string path, Offset base_offset, size_t configured_max_entries,
              IndexMode mode)
      : fs_(fs),
        path_(std::move(path)),
        base_offset_(base_offset),
        configured_max_entries_(configured_max_entries),
        mode_(mode) {}

  absl::Status Load();
  // Resizes the file to `capacity` entries and maps all of it (kWritable).
  absl::Status MapWritable(size_t capacity);
  // Maps or reads the whole file (kReadOnly).
  absl::Status MapReadOnly(size_t capacity);
  // Drops the mapping after a failed remap, leaving an empty, unusable index.
  void MarkBroken();
  absl::Status CheckMutable(std::string_view action) const;
  absl::Status Corrupt(size_t i, std::string_view problem) const;

  Entry Load(size_t i) const { return Traits::Decode(data_ + i * kEntryBytes, base_offset_); }

  // First index in [0, n) whose entry fails `pred`, or n.
  template <typename Pred>
  size_t PartitionPoint(size_t n, Pred& pred) const {
    size_t lo = 0;
    size_t hi = n;
    if (n > kWarmEntries) {
      const size_t warm_begin = n - kWarmEntries;
      if (pred(Load(warm_begin))) {
        lo = warm_begin + 1;
      } else {
        hi = warm_begin;
      }
    }
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (pred(Load(mid))) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  FileSystem& fs_;
  std::string path_;
  const Offset base_offset_;
  // max_index_bytes / kEntryBytes: the capacity a writable index grows to.
  const size_t configured_max_entries_;
  const IndexMode mode_;

  std::unique_ptr<File> file_;
  std::unique_ptr<MappedRegion> region_;
  // A copy of the entries, used when a read-only file could not be mapped.
  std::vector<std::byte> copy_;
  std::byte* data_ = nullptr;
  size_t capacity_entries_ = 0;
  uint64_t file_size_bytes_ = 0;
  std::atomic<size_t> entries_{0};
  // Set at open when the file's size is not a multiple of kEntryBytes.
  std::optional<std::string> open_problem_;
  bool closed_ = false;
  bool broken_ = false;
};

// ---------------------------------------------------------------------------
// Implementation.

template <SparseIndexTraits Traits>
absl::StatusOr<std::unique_ptr<SparseIndex<Traits>>> SparseIndex<Traits>::Open(
    FileSystem& fs, std::string path, Offset base_offset, uint32_t max_index_bytes,
    IndexMode mode) {
  if (base_offset < Offset(0) || base_offset > Offset::Max() - kMaxRelativeOffset) {
    return MakeError(ErrorCode::kInvalidRequest,
                     absl::StrCat(ToAbsl(Traits::kName), " ", path, ": base offset ",
                                  base_offset.value(), " is out of range"));
  }
  const size_t configured_max_entries = max_index_bytes / kEntryBytes;
  if (mode == IndexMode::kWritable && configured_max_entries == 0) {
    return MakeError(
        ErrorCode::kInvalidConfig,
        absl::StrCat(ToAbsl(Traits::kName), " ", path, ": max_index_bytes ", max_index_bytes,
                     " is smaller than one entry (", kEntryBytes, " bytes)"));
  }
  std::unique_ptr<SparseIndex> index(
      new SparseIndex(fs, std::move(path), base_offset, configured_max_entries, mode));
  EVLOG_RETURN_IF_ERROR(index->Load());
  return index;
}

template <SparseIndexTraits Traits>
SparseIndex<Traits>::~SparseIndex() {
  region_.reset();  // before the file it maps
  file_.reset();
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::Load() {
  const bool writable = mode_ == IndexMode::kWritable;
  EVLOG_ASSIGN_OR_RETURN(file_,
                         fs_.Open(path_, writable ? OpenMode::kCreate : OpenMode::kReadOnly));
  EVLOG_ASSIGN_OR_RETURN(file_size_bytes_, file_->Size());
  if (file_size_bytes_ % kEntryBytes != 0) {
    open_problem_ = absl::StrCat("file size ", file_size_bytes_,
                                 " is not a multiple of the entry size ", kEntryBytes);
  }
  const size_t existing = static_cast<size_t>(file_size_bytes_ / kEntryBytes);
  if (writable) {
    EVLOG_RETURN_IF_ERROR(MapWritable(std::max(existing, configured_max_entries_)));
  } else {
    EVLOG_RETURN_IF_ERROR(MapReadOnly(existing));
  }
  // A read-only file may have shrunk between Size and the read.
  entries_.store(std::min(existing, capacity_entries_), std::memory_order_release);
  return absl::OkStatus();
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::MapWritable(size_t capacity) {
  EVLOG_CHECK(mode_ == IndexMode::kWritable);
  EVLOG_CHECK_LE(entries(), capacity);
  // The mapping goes first: a file must not shrink under its mapping.
  region_.reset();
  data_ = nullptr;
  const uint64_t bytes = uint64_t{capacity} * kEntryBytes;
  if (file_size_bytes_ != bytes) {
    if (absl::Status s = file_->Truncate(bytes); !s.ok()) {
      MarkBroken();
      return s;
    }
    file_size_bytes_ = bytes;
  }
  if (bytes > 0) {
    absl::StatusOr<std::unique_ptr<MappedRegion>> region = file_->Map(0, bytes);
    if (!region.ok()) {
      MarkBroken();
      return region.status();
    }
    region_ = *std::move(region);
    EVLOG_CHECK_GE(region_->data().size(), bytes);
    data_ = region_->data().data();
  }
  capacity_entries_ = capacity;
  return absl::OkStatus();
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::MapReadOnly(size_t capacity) {
  const uint64_t bytes = uint64_t{capacity} * kEntryBytes;
  if (bytes > 0) {
    absl::StatusOr<std::unique_ptr<MappedRegion>> region = file_->Map(0, bytes);
    if (region.ok()) {
      region_ = *std::move(region);
      EVLOG_CHECK_GE(region_->data().size(), bytes);
      data_ = region_->data().data();
    } else {
      // File::Map maps read-write, which a read-only file may refuse; a
      // copy serves the same lookups.
      copy_.resize(bytes);
      EVLOG_ASSIGN_OR_RETURN(const size_t read, file_->ReadAt(0, copy_));
      capacity = read / kEntryBytes;
      data_ = copy_.data();
    }
  }
  capacity_entries_ = capacity;
  return absl::OkStatus();
}

template <SparseIndexTraits Traits>
void SparseIndex<Traits>::MarkBroken() {
  entries_.store(0, std::memory_order_release);
  region_.reset();
  data_ = nullptr;
  capacity_entries_ = 0;
  broken_ = true;
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::CheckMutable(std::string_view action) const {
  std::string_view why;
  if (closed_) {
    why = "it is closed";
  } else if (broken_) {
    why = "an earlier I/O error unmapped it";
  } else if (mode_ != IndexMode::kWritable) {
    why = "it is read-only";
  } else {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot ", ToAbsl(action), " ", ToAbsl(Traits::kName), " ", path_, ": ", ToAbsl(why)));
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::Corrupt(size_t i, std::string_view problem) const {
  return MakeError(
      ErrorCode::kCorruptMessage,
      absl::StrCat(ToAbsl(Traits::kName), " ", path_, " (base offset ", base_offset_.value(), ", ",
                   entries(), " entries): entry ", i, ": ", ToAbsl(problem)));
}

template <SparseIndexTraits Traits>
template <typename Extra>
absl::Status SparseIndex<Traits>::CheckEntries(Extra extra) const {
  if (closed_ || broken_) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot check ", ToAbsl(Traits::kName), " ", path_, ": it is ",
                     closed_ ? "closed" : "unmapped after an I/O error"));
  }
  if (open_problem_.has_value()) {
    return MakeError(ErrorCode::kCorruptMessage,
                     absl::StrCat(ToAbsl(Traits::kName), " ", path_, ": ", *open_problem_));
  }
  const size_t n = entries();
  std::optional<Entry> prev;
  for (size_t i = 0; i < n; ++i) {
    const Entry e = Load(i);
    const Offset offset = Traits::OffsetOf(e);
    if (offset < base_offset_) {
      return Corrupt(i, absl::StrCat("offset ", offset.value(), " is below the base offset"));
    }
    if (std::optional<std::string> p = Traits::EntryProblem(e)) return Corrupt(i, *p);
    if (std::optional<std::string> p = extra(e)) return Corrupt(i, *p);
    if (prev.has_value()) {
      if (std::optional<std::string> p = Traits::OrderProblem(*prev, e)) return Corrupt(i, *p);
    }
    prev = e;
  }
  return absl::OkStatus();
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::Append(const Entry& e, size_t reserved_slots) {
  EVLOG_RETURN_IF_ERROR(CheckMutable("append to"));
  const Offset offset = Traits::OffsetOf(e);
  if (offset < base_offset_ || offset - base_offset_ > kMaxRelativeOffset) {
    return MakeError(ErrorCode::kInvalidRequest,
                     absl::StrCat(ToAbsl(Traits::kName), " ", path_, ": offset ", offset.value(),
                                  " is outside [base offset ", base_offset_.value(),
                                  ", base offset + 2^31 - 1]"));
  }
  if (std::optional<std::string> p = Traits::EntryProblem(e)) {
    return MakeError(ErrorCode::kInvalidRequest,
                     absl::StrCat(ToAbsl(Traits::kName), " ", path_, ": ", *p));
  }
  // Only this (serialised) writer changes the count, so relaxed suffices.
  const size_t n = entries_.load(std::memory_order_relaxed);
  if (n > 0) {
    if (std::optional<std::string> p = Traits::OrderProblem(Load(n - 1), e)) {
      return MakeError(ErrorCode::kInvalidRequest,
                       absl::StrCat(ToAbsl(Traits::kName), " ", path_, ": ", *p));
    }
  }
  if (n + reserved_slots >= capacity_entries_) {
    return absl::FailedPreconditionError(absl::StrCat(ToAbsl(Traits::kName), " ", path_,
                                                      " is full (", capacity_entries_, " entries, ",
                                                      reserved_slots, " of them reserved)"));
  }
  std::byte* slot = data_ + n * kEntryBytes;
  Traits::Encode(e, base_offset_, slot);
  EVLOG_DCHECK(Traits::Decode(slot, base_offset_) == e);
  // Publishes the bytes written above to readers that load the count.
  entries_.store(n + 1, std::memory_order_release);
  return absl::OkStatus();
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::TruncateToOffset(Offset offset) {
  EVLOG_RETURN_IF_ERROR(CheckMutable("truncate"));
  const size_t n = entries();
  auto below = [offset](const Entry& e) { return Traits::OffsetOf(e) < offset; };
  const size_t keep = PartitionPoint(n, below);
  entries_.store(keep, std::memory_order_release);
  // Zeroed, so a crash cannot leave stale entries that look valid.
  if (keep < n) std::memset(data_ + keep * kEntryBytes, 0, (n - keep) * kEntryBytes);
  if (capacity_entries_ < configured_max_entries_) {
    return MapWritable(configured_max_entries_);
  }
  return absl::OkStatus();
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::Reset() {
  EVLOG_RETURN_IF_ERROR(CheckMutable("reset"));
  const size_t n = entries();
  entries_.store(0, std::memory_order_release);
  if (n > 0) std::memset(data_, 0, n * kEntryBytes);
  open_problem_.reset();
  if (capacity_entries_ < configured_max_entries_) {
    return MapWritable(configured_max_entries_);
  }
  return absl::OkStatus();
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::TrimToValidSize() {
  const size_t n = entries();
  const uint64_t valid_bytes = uint64_t{n} * kEntryBytes;
  if (mode_ == IndexMode::kReadOnly && !closed_ && file_size_bytes_ == valid_bytes) {
    return absl::OkStatus();
  }
  EVLOG_RETURN_IF_ERROR(CheckMutable("trim"));
  if (capacity_entries_ == n && file_size_bytes_ == valid_bytes) return absl::OkStatus();
  return MapWritable(n);
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::Sync() {
  if (closed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot sync ", ToAbsl(Traits::kName), " ", path_, ": it is closed"));
  }
  if (mode_ == IndexMode::kReadOnly) return absl::OkStatus();
  EVLOG_RETURN_IF_ERROR(CheckMutable("sync"));
  if (region_ != nullptr) EVLOG_RETURN_IF_ERROR(region_->Sync());
  return file_->Sync();
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::Close() {
  if (closed_) return absl::OkStatus();
  absl::Status status;
  if (mode_ == IndexMode::kWritable && !broken_) status = TrimToValidSize();
  entries_.store(0, std::memory_order_release);
  region_.reset();
  data_ = nullptr;
  copy_.clear();
  copy_.shrink_to_fit();
  capacity_entries_ = 0;
  closed_ = true;
  absl::Status close_status = file_->Close();
  file_.reset();
  return status.ok() ? close_status : status;
}

template <SparseIndexTraits Traits>
absl::Status SparseIndex<Traits>::RenameTo(std::string new_path) {
  EVLOG_RETURN_IF_ERROR(fs_.Rename(path_, new_path));
  path_ = std::move(new_path);
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace evlog
