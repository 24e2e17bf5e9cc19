#include "evlog/storage/log_segment.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "evlog/check.h"
#include "evlog/record/internal/big_endian.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_format.h"
#include "evlog/status.h"
#include "evlog/storage/index_format.h"
#include "evlog/storage/internal/batch_reader.h"

namespace evlog {
namespace {

// Batch headers are read in chunks when scanning. A lookup scans about one
// index interval from its index entry, so the first read covers that much;
// longer scans (rebuilding an index) double the chunk up to this size.
constexpr size_t kMaxScanChunkBytes = 64 << 10;
// The largest batch a scan accepts: positions are 32-bit, so no batch in a
// segment can be larger.
constexpr size_t kMaxScanBatchBytes = kMaxIndexedFilePosition;

absl::Status Corrupt(std::string_view path, uint64_t position, std::string_view what) {
  return MakeError(
      ErrorCode::kCorruptMessage,
      absl::StrCat(internal::ToAbsl(path), " at byte ", position, ": ", internal::ToAbsl(what)));
}

// The fields of a batch header that the storage layer needs, read without
// checking the CRC. REQUIRES: header.size() >= kRecordBatchOverhead.
BatchPosition DecodeHeader(ByteView header, uint64_t position, uint32_t size) {
  BatchPosition batch;
  batch.position = position;
  batch.size = size;
  batch.base_offset =
      Offset(internal::LoadBigEndian<int64_t>(header.data() + record_format::kBaseOffsetOffset));
  batch.last_offset =
      batch.base_offset +
      internal::LoadBigEndian<int32_t>(header.data() + record_format::kLastOffsetDeltaOffset);
  batch.max_timestamp =
      internal::LoadBigEndian<int64_t>(header.data() + record_format::kMaxTimestampOffset);
  batch.leader_epoch = LeaderEpoch(
      internal::LoadBigEndian<int32_t>(header.data() + record_format::kPartitionLeaderEpochOffset));
  return batch;
}

}  // namespace

namespace internal {

std::string SegmentFileName(Offset base, std::string_view extension) {
  return absl::StrFormat("%020d%s", base.value(), internal::ToAbsl(extension));
}

std::optional<Offset> ParseSegmentFileName(std::string_view name, std::string_view extension) {
  constexpr size_t kDigits = 20;
  if (name.size() != kDigits + extension.size()) return std::nullopt;
  if (name.substr(kDigits) != extension) return std::nullopt;
  int64_t base = 0;
  for (char c : name.substr(0, kDigits)) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  if (!absl::SimpleAtoi(ToAbsl(name.substr(0, kDigits)), &base)) return std::nullopt;
  return Offset(base);
}

}  // namespace internal

LogSegment::LogSegment(FileSystem& fs, std::string dir, Offset base, Options options,
                       uint64_t size_bytes, int64_t now_ms)
    : fs_(fs),
      dir_(std::move(dir)),
      base_(base),
      options_(options),
      log_path_(JoinPath(dir_, internal::SegmentFileName(base, ".log"))),
      index_path_(JoinPath(dir_, internal::SegmentFileName(base, ".index"))),
      time_index_path_(JoinPath(dir_, internal::SegmentFileName(base, ".timeindex"))),
      size_bytes_(size_bytes),
      file_bytes_(size_bytes),
      created_ms_(now_ms),
      offset_of_max_timestamp_(base) {}

LogSegment::~LogSegment() = default;

absl::StatusOr<std::unique_ptr<LogSegment>> LogSegment::Create(FileSystem& fs, std::string dir,
                                                               Offset base, Options options,
                                                               int64_t now_ms) {
  std::unique_ptr<LogSegment> segment(new LogSegment(fs, std::move(dir), base, options, 0, now_ms));
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> log,
                         fs.Open(segment->log_path_, OpenMode::kCreateNew));
  segment->log_ = std::move(log);
  segment->sealed_ = false;
  segment->max_timestamp_known_ = true;  // empty: nothing to learn
  // Leftover index files of an earlier segment with this base (deleted
  // while the process crashed) must not be mistaken for this one's.
  for (const std::string* path : {&segment->index_path_, &segment->time_index_path_}) {
    absl::Status removed = fs.Remove(*path);
    if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
  }
  EVLOG_RETURN_IF_ERROR(segment->OpenIndexes(/*writable=*/true));
  return segment;
}

std::unique_ptr<LogSegment> LogSegment::Existing(FileSystem& fs, std::string dir, Offset base,
                                                 Options options, uint64_t size_bytes,
                                                 int64_t now_ms) {
  return std::unique_ptr<LogSegment>(
      new LogSegment(fs, std::move(dir), base, options, size_bytes, now_ms));
}

absl::Status LogSegment::EnsureLogOpen() {
  if (log_ != nullptr) return absl::OkStatus();
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> log, fs_.Open(log_path_, OpenMode::kReadWrite));
  log_ = std::move(log);
  return absl::OkStatus();
}

absl::Status LogSegment::EnsureIndexes() {
  if (offset_index_ != nullptr) return absl::OkStatus();
  return OpenIndexes(/*writable=*/!sealed_);
}

absl::Status LogSegment::OpenIndexes(bool writable) {
  offset_index_.reset();
  time_index_.reset();
  const IndexMode mode = writable ? IndexMode::kWritable : IndexMode::kReadOnly;
  absl::StatusOr<std::unique_ptr<OffsetIndex>> offsets =
      OffsetIndex::Open(fs_, index_path_, base_, options_.max_index_bytes, mode);
  absl::StatusOr<std::unique_ptr<TimeIndex>> times =
      TimeIndex::Open(fs_, time_index_path_, base_, options_.max_index_bytes, mode);
  absl::Status sane = offsets.status();
  sane.Update(times.status());
  if (sane.ok()) sane = (*offsets)->SanityCheck(size_bytes_);
  if (sane.ok()) sane = (*times)->SanityCheck();
  if (sane.ok()) {
    offset_index_ = *std::move(offsets);
    time_index_ = *std::move(times);
    indexes_writable_ = writable;
    return absl::OkStatus();
  }
  // Missing, short or inconsistent index files are rebuilt from the log,
  // which is the source of truth (Kafka keeps no checksum on indexes either).
  // An I/O error is the caller's to see.
  if (GetErrorCode(sane) == ErrorCode::kKafkaStorageError) return sane;
  return RebuildIndexes(size_bytes_);
}

absl::Status LogSegment::RebuildIndexes(uint64_t valid_bytes) {
  offset_index_.reset();
  time_index_.reset();
  for (const std::string* path : {&index_path_, &time_index_path_}) {
    absl::Status removed = fs_.Remove(*path);
    if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
  }
  EVLOG_ASSIGN_OR_RETURN(
      offset_index_,
      OffsetIndex::Open(fs_, index_path_, base_, options_.max_index_bytes, IndexMode::kWritable));
  EVLOG_ASSIGN_OR_RETURN(time_index_,
                         TimeIndex::Open(fs_, time_index_path_, base_, options_.max_index_bytes,
                                         IndexMode::kWritable));
  indexes_writable_ = true;
  bytes_since_index_entry_ = 0;
  max_timestamp_ = -1;
  offset_of_max_timestamp_ = base_;
  const uint64_t saved_size = size_bytes_;
  size_bytes_ = valid_bytes;
  absl::Status s = ScanHeaders(0, [this](const BatchPosition& batch) {
    IndexBatch(batch);
    return true;
  });
  size_bytes_ = saved_size;
  EVLOG_RETURN_IF_ERROR(s);
  max_timestamp_known_ = true;
  if (sealed_) {
    if (max_timestamp_ >= 0) {
      EVLOG_RETURN_IF_ERROR(
          time_index_->MaybeAppendOnRoll(max_timestamp_, offset_of_max_timestamp_).status());
    }
    EVLOG_RETURN_IF_ERROR(offset_index_->TrimToValidSize());
    EVLOG_RETURN_IF_ERROR(time_index_->TrimToValidSize());
  }
  return absl::OkStatus();
}

void LogSegment::IndexBatch(const BatchPosition& batch) {
  RememberBatch(batch);
  if (batch.max_timestamp > max_timestamp_) {
    max_timestamp_ = batch.max_timestamp;
    offset_of_max_timestamp_ = batch.last_offset;
  }
  if (bytes_since_index_entry_ > options_.index_interval_bytes) {
    // A skipped entry only lengthens later scans; the log rolls before an
    // index fills, so these do not fail in practice, and an index is never
    // worth failing an append for.
    (void)offset_index_->Append(batch.last_offset, static_cast<uint32_t>(batch.position));
    if (max_timestamp_ >= 0) {
      (void)time_index_->MaybeAppend(max_timestamp_, offset_of_max_timestamp_);
    }
    bytes_since_index_entry_ = 0;
  }
  bytes_since_index_entry_ += batch.size;
}

absl::Status LogSegment::Activate() {
  EVLOG_RETURN_IF_ERROR(EnsureLogOpen());
  if (sealed_ || !indexes_writable_ || offset_index_ == nullptr) {
    sealed_ = false;
    EVLOG_RETURN_IF_ERROR(OpenIndexes(/*writable=*/true));
  }
  if (!max_timestamp_known_) EVLOG_RETURN_IF_ERROR(RecomputeRunningState());
  return absl::OkStatus();
}

absl::Status LogSegment::RecomputeRunningState() {
  // The last index entries say where to start; the batches after them
  // finish the picture.
  const TimestampOffset last = time_index_->last_entry();
  max_timestamp_ = last.timestamp_ms;
  offset_of_max_timestamp_ = last.offset;
  const uint64_t from = offset_index_->Lookup(Offset::Max()).position;
  bytes_since_index_entry_ = 0;
  EVLOG_RETURN_IF_ERROR(ScanHeaders(from, [this](const BatchPosition& batch) {
    if (batch.max_timestamp > max_timestamp_) {
      max_timestamp_ = batch.max_timestamp;
      offset_of_max_timestamp_ = batch.last_offset;
    }
    bytes_since_index_entry_ += batch.size;
    return true;
  }));
  max_timestamp_known_ = true;
  return absl::OkStatus();
}

absl::Status LogSegment::Append(ByteView bytes, const BatchPosition& batch) {
  EVLOG_ASSIGN_OR_RETURN(File* const file, PrepareAppend());
  if (absl::Status written = WriteBatch(*file, log_path_, size_bytes_, bytes); !written.ok()) {
    AppendFailed();
    return written;
  }
  CommitAppend(bytes, batch);
  return absl::OkStatus();
}

absl::StatusOr<File*> LogSegment::PrepareAppend() {
  EVLOG_RETURN_IF_ERROR(Activate());
  return log_.get();
}

absl::Status LogSegment::WriteBatch(File& file, std::string_view path, uint64_t position,
                                    ByteView bytes) {
  EVLOG_CHECK_LE(position + bytes.size(), uint64_t{kMaxIndexedFilePosition});
  // The segment knows its size, so a positioned write saves the file system
  // from finding the end (an fstat per append on POSIX).
  absl::Status written = file.WriteAt(position, bytes);
  if (written.ok()) return absl::OkStatus();
  // Cut off whatever part of the batch reached the file, so the next
  // append does not land after a torn batch.
  absl::Status cut = file.Truncate(position);
  if (!cut.ok()) {
    return MakeError(
        ErrorCode::kKafkaStorageError,
        absl::StrCat("unrecoverable: appending to ", internal::ToAbsl(path), " failed (",
                     written.message(), ") and cutting the partial batch off ", "failed too (",
                     cut.message(), ")"));
  }
  return written;
}

void LogSegment::CommitAppend(ByteView bytes, const BatchPosition& batch) {
  EVLOG_CHECK_GE(batch.base_offset, base_);
  BatchPosition placed = batch;
  placed.position = size_bytes_;
  size_bytes_ += bytes.size();
  file_bytes_ = std::max(file_bytes_, size_bytes_);
  last_append_bytes_ = bytes.size();
  IndexBatch(placed);
}

std::optional<LogSegment::TailFill> LogSegment::TailToFill() const {
  constexpr uint64_t kPageBytes = 4096;
  if (log_ == nullptr || sealed_ || last_append_bytes_ == 0 || last_append_bytes_ >= kPageBytes ||
      file_bytes_ >= size_bytes_ + kFillAheadBytes) {
    return std::nullopt;
  }
  // Whole pages: the kernel then has none to read or zero in part.
  const uint64_t to = (size_bytes_ + kFillAheadBytes + kPageBytes - 1) / kPageBytes * kPageBytes;
  if (to > kMaxIndexedFilePosition) return std::nullopt;
  return TailFill{log_.get(), file_bytes_, to};
}

absl::Status LogSegment::FillTail(const TailFill& fill) {
  static const std::array<std::byte, 2 * kFillAheadBytes> kFill = [] {
    std::array<std::byte, 2 * kFillAheadBytes> bytes;
    bytes.fill(kFiller);
    return bytes;
  }();
  EVLOG_CHECK_LE(fill.to - fill.from, kFill.size());
  // Past the end either way, a part of the filler that reached the file is
  // harmless: the tail is cut back to the last batch before the file is
  // closed, sealed or recovered.
  file_bytes_ = std::max(file_bytes_, fill.to);
  return fill.file->WriteAt(fill.from, ByteView(kFill.data(), fill.to - fill.from));
}

absl::Status LogSegment::TrimTail() {
  if (file_bytes_ == size_bytes_) return absl::OkStatus();
  EVLOG_RETURN_IF_ERROR(EnsureLogOpen());
  EVLOG_RETURN_IF_ERROR(log_->Truncate(size_bytes_));
  file_bytes_ = size_bytes_;
  return absl::OkStatus();
}

absl::StatusOr<bool> LogSegment::FillerFrom(uint64_t position) {
  EVLOG_ASSIGN_OR_RETURN(const uint64_t end, log_->Size());
  std::array<std::byte, 16 << 10> chunk;
  while (position < end) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(chunk.size(), end - position));
    EVLOG_ASSIGN_OR_RETURN(const size_t n, ReadExactly(*log_, log_path_, position,
                                                       MutableByteView(chunk).first(want)));
    for (size_t i = 0; i < n; ++i) {
      if (chunk[i] != kFiller) return false;
    }
    position += n;
  }
  return true;
}

absl::StatusOr<size_t> LogSegment::ReadAt(uint64_t position, MutableByteView out) {
  EVLOG_RETURN_IF_ERROR(EnsureLogOpen());
  if (position >= size_bytes_) return size_t{0};
  const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size_bytes_ - position));
  return ReadExactly(*log_, log_path_, position, out.first(n));
}

absl::StatusOr<size_t> LogSegment::ReadExactly(File& file, std::string_view path, uint64_t position,
                                               MutableByteView out) {
  EVLOG_ASSIGN_OR_RETURN(size_t read, file.ReadAt(position, out));
  if (read < out.size()) {
    return Corrupt(path, position + read,
                   absl::StrCat("the file ends ", out.size() - read, " bytes early"));
  }
  return read;
}

absl::Status LogSegment::ScanHeaders(uint64_t from_position,
                                     const std::function<bool(const BatchPosition&)>& visit) {
  // Not a vector: every byte is read from the file before it is looked at,
  // so zero-filling it (on every lookup) would be wasted.
  size_t chunk_bytes = std::min<size_t>(
      kMaxScanChunkBytes, options_.index_interval_bytes + 2 * record_format::kRecordBatchOverhead);
  std::unique_ptr<std::byte[]> chunk(new std::byte[chunk_bytes]);
  uint64_t position = from_position;
  bool first_read = true;
  while (position < size_bytes_) {
    if (!first_read && chunk_bytes < kMaxScanChunkBytes) {
      chunk_bytes = std::min(kMaxScanChunkBytes, chunk_bytes * 2);
      chunk.reset(new std::byte[chunk_bytes]);
    }
    first_read = false;
    EVLOG_ASSIGN_OR_RETURN(size_t n, ReadAt(position, MutableByteView(chunk.get(), chunk_bytes)));
    size_t at = 0;
    while (at < n) {
      const uint64_t here = position + at;
      if (n - at < record_format::kRecordBatchOverhead) {
        if (here + record_format::kRecordBatchOverhead > size_bytes_) {
          return Corrupt(log_path_, here, "a batch header is cut off by the end of the file");
        }
        break;  // read the next chunk from here
      }
      ByteView header(chunk.get() + at, n - at);
      absl::StatusOr<size_t> size = PeekBatchSize(header, kMaxScanBatchBytes);
      if (!size.ok()) {
        return Corrupt(log_path_, here, internal::FromAbsl(size.status().message()));
      }
      if (here + *size > size_bytes_) {
        return Corrupt(log_path_, here,
                       absl::StrCat("a batch of ", *size, " bytes runs past the end of the file"));
      }
      const BatchPosition batch = DecodeHeader(header, here, static_cast<uint32_t>(*size));
      if (batch.base_offset < base_ || batch.last_offset < batch.base_offset) {
        return Corrupt(
            log_path_, here,
            absl::StrCat("batch offsets [", batch.base_offset.value(), ", ",
                         batch.last_offset.value(), "] do not belong in segment ", base_.value()));
      }
      if (!visit(batch)) return absl::OkStatus();
      at += *size;
    }
    if (at == 0) return Corrupt(log_path_, position, "no batch header could be read");
    position += at;
  }
  return absl::OkStatus();
}

void LogSegment::RememberBatch(const BatchPosition& batch) {
  if (recent_count_ > 0) {
    const BatchPosition& newest = RecentBatch(0);
    if (newest.position + newest.size != batch.position) recent_count_ = 0;
  }
  if (recent_.empty()) recent_.resize(kRecentBatches);
  recent_[recent_next_] = batch;
  recent_next_ = (recent_next_ + 1) % kRecentBatches;
  recent_count_ = std::min(recent_count_ + 1, kRecentBatches);
}

std::optional<std::optional<BatchPosition>> LogSegment::FindRecentBatch(Offset target) const {
  if (recent_count_ == 0) return std::nullopt;
  const BatchPosition& newest = RecentBatch(0);
  if (newest.position + newest.size != size_bytes_) return std::nullopt;   // stale: scan
  if (newest.last_offset < target) return std::optional<BatchPosition>();  // past the last batch
  // The first batch that ends at or after `target`: back from the newest
  // while the one before it does too.
  size_t i = 0;
  while (i + 1 < recent_count_ && RecentBatch(i + 1).last_offset >= target) ++i;
  const BatchPosition& found = RecentBatch(i);
  // Before the oldest one known, an earlier batch may hold it: scan.
  if (i + 1 == recent_count_ && target < found.base_offset) return std::nullopt;
  return found;
}

absl::StatusOr<std::optional<BatchPosition>> LogSegment::FindBatch(Offset target) {
  if (std::optional<std::optional<BatchPosition>> recent = FindRecentBatch(target)) {
    return *recent;
  }
  EVLOG_RETURN_IF_ERROR(EnsureIndexes());
  const uint64_t from = target < base_ ? 0 : offset_index_->Lookup(target).position;
  std::optional<BatchPosition> found;
  EVLOG_RETURN_IF_ERROR(ScanHeaders(from, [&](const BatchPosition& batch) {
    if (batch.last_offset < target) return true;
    found = batch;
    return false;
  }));
  return found;
}

absl::StatusOr<std::optional<BatchPosition>> LogSegment::FindBatchByTimestamp(
    int64_t timestamp_ms) {
  EVLOG_RETURN_IF_ERROR(EnsureIndexes());
  const TimestampOffset start = time_index_->Lookup(timestamp_ms);
  const uint64_t from = offset_index_->Lookup(start.offset).position;
  std::optional<BatchPosition> found;
  EVLOG_RETURN_IF_ERROR(ScanHeaders(from, [&](const BatchPosition& batch) {
    if (batch.max_timestamp < timestamp_ms) return true;
    found = batch;
    return false;
  }));
  return found;
}

absl::StatusOr<int64_t> LogSegment::MaxTimestamp() {
  if (max_timestamp_known_) return max_timestamp_;
  if (size_bytes_ == 0) return int64_t{-1};
  EVLOG_RETURN_IF_ERROR(EnsureIndexes());
  // A sealed segment's last time-index entry is its largest timestamp
  // (Seal writes it).
  return time_index_->last_entry().timestamp_ms;
}

absl::StatusOr<bool> LogSegment::IndexFull() {
  EVLOG_RETURN_IF_ERROR(EnsureIndexes());
  return offset_index_->IsFull() || time_index_->IsFull();
}

absl::StatusOr<Offset> LogSegment::NextOffset() {
  if (size_bytes_ == 0) return base_;
  EVLOG_RETURN_IF_ERROR(EnsureIndexes());
  const uint64_t from = offset_index_->Lookup(Offset::Max()).position;
  Offset next = base_;
  EVLOG_RETURN_IF_ERROR(ScanHeaders(from, [&next](const BatchPosition& batch) {
    next = batch.last_offset + 1;
    return true;
  }));
  return next;
}

absl::StatusOr<Offset> LogSegment::Recover(std::optional<Offset> next_segment_base,
                                           const RecoveryReporter& reporter) {
  EVLOG_RETURN_IF_ERROR(EnsureLogOpen());
  EVLOG_ASSIGN_OR_RETURN(size_bytes_, log_->Size());
  sealed_ = false;
  max_timestamp_known_ = false;
  // Indexes are rebuilt as the scan goes; start them empty.
  EVLOG_RETURN_IF_ERROR(RebuildIndexes(0));
  internal::BatchReader reader(*log_, size_bytes_);
  uint64_t position = 0;
  Offset next = base_;
  std::string problem;
  while (true) {
    absl::StatusOr<std::optional<ByteView>> bytes = reader.Next();
    position = reader.position();
    if (bytes.ok() && !bytes->has_value()) break;
    absl::StatusOr<RecordBatchView> view = bytes.ok()
                                               ? RecordBatchView::Parse(**bytes)
                                               : absl::StatusOr<RecordBatchView>(bytes.status());
    if (!view.ok()) {
      // Framing and CRC problems are what a crash leaves; an I/O error is not.
      if (GetErrorCode(view.status()) != ErrorCode::kCorruptMessage) return view.status();
      problem = std::string(view.status().message());
      break;
    }
    if (view->base_offset() < next) {
      problem = absl::StrCat("batch base offset ", view->base_offset().value(),
                             " is below the expected ", next.value());
      break;
    }
    if (next_segment_base && view->last_offset() >= *next_segment_base) {
      problem = absl::StrCat("batch last offset ", view->last_offset().value(),
                             " reaches into the next segment at ", next_segment_base->value());
      break;
    }
    if (view->last_offset() - base_ > kMaxRelativeOffset) {
      problem = "batch offsets are too far from the segment's base offset";
      break;
    }
    IndexBatch(DecodeHeader(view->bytes(), position, static_cast<uint32_t>(view->size_bytes())));
    next = view->last_offset() + 1;
  }
  if (!problem.empty()) {
    const uint64_t dropped = size_bytes_ - position;
    // Filler written ahead of the appends (PrepareTail) is no data lost,
    // unless batches that should come before the next segment are missing.
    EVLOG_ASSIGN_OR_RETURN(const bool filler, FillerFrom(position));
    const bool written_ahead = filler && (!next_segment_base || next == *next_segment_base);
    EVLOG_RETURN_IF_ERROR(log_->Truncate(position));
    size_bytes_ = position;
    if (reporter && !written_ahead) {
      reporter(RecoveryEvent{log_path_, position, dropped, problem});
    }
  }
  file_bytes_ = size_bytes_;
  max_timestamp_known_ = true;
  return next;
}

absl::StatusOr<Offset> LogSegment::TruncateTo(Offset offset) {
  EVLOG_RETURN_IF_ERROR(Activate());
  EVLOG_ASSIGN_OR_RETURN(std::optional<BatchPosition> found, FindBatch(offset));
  if (!found) return NextOffset();
  EVLOG_RETURN_IF_ERROR(log_->Truncate(found->position));
  size_bytes_ = found->position;
  file_bytes_ = size_bytes_;
  last_append_bytes_ = 0;  // what comes next is unknown: no filling ahead before it
  EVLOG_RETURN_IF_ERROR(offset_index_->TruncateTo(offset));
  EVLOG_RETURN_IF_ERROR(time_index_->TruncateTo(offset));
  EVLOG_RETURN_IF_ERROR(RecomputeRunningState());
  return std::min(offset, found->base_offset);
}

absl::Status LogSegment::Seal() {
  if (sealed_) return absl::OkStatus();
  EVLOG_RETURN_IF_ERROR(TrimTail());
  EVLOG_RETURN_IF_ERROR(EnsureIndexes());
  if (max_timestamp_ >= 0) {
    EVLOG_RETURN_IF_ERROR(
        time_index_->MaybeAppendOnRoll(max_timestamp_, offset_of_max_timestamp_).status());
  }
  EVLOG_RETURN_IF_ERROR(offset_index_->TrimToValidSize());
  EVLOG_RETURN_IF_ERROR(time_index_->TrimToValidSize());
  sealed_ = true;
  return absl::OkStatus();
}

absl::Status LogSegment::Sync() {
  if (log_ != nullptr) EVLOG_RETURN_IF_ERROR(log_->Sync());
  if (offset_index_ != nullptr) EVLOG_RETURN_IF_ERROR(offset_index_->Sync());
  if (time_index_ != nullptr) EVLOG_RETURN_IF_ERROR(time_index_->Sync());
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<File>> LogSegment::LogFile() {
  EVLOG_RETURN_IF_ERROR(EnsureLogOpen());
  return log_;
}

absl::Status LogSegment::CloseFiles() {
  // Left in place, the filler would be taken for part of the segment when
  // it is opened again.
  absl::Status status = TrimTail();
  if (offset_index_ != nullptr && indexes_writable_ && !sealed_ && max_timestamp_ >= 0) {
    // The final time-index entry makes the segment's largest timestamp
    // readable after a reopen without a scan.
    status.Update(
        time_index_->MaybeAppendOnRoll(max_timestamp_, offset_of_max_timestamp_).status());
  }
  if (offset_index_ != nullptr) status.Update(offset_index_->Close());
  if (time_index_ != nullptr) status.Update(time_index_->Close());
  DropFiles();
  max_timestamp_known_ = max_timestamp_known_ && !sealed_;
  return status;
}

void LogSegment::DropFiles() {
  offset_index_.reset();
  time_index_.reset();
  indexes_writable_ = false;
  std::vector<BatchPosition>().swap(recent_);
  recent_count_ = 0;
  recent_next_ = 0;
  // Dropping the reference closes the file once a group-commit leader that
  // may still be syncing it is done with it (closing it here would fail
  // that sync).
  log_.reset();
}

absl::Status LogSegment::DeleteFiles() {
  DropFiles();
  absl::Status status;
  for (const std::string* path : {&log_path_, &index_path_, &time_index_path_}) {
    absl::Status removed = fs_.Remove(*path);
    if (!removed.ok() && !absl::IsNotFound(removed)) status.Update(removed);
  }
  return status;
}

}  // namespace evlog
