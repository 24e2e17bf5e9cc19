#include "evlog/storage/internal/batch_reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_format.h"
#include "evlog/status.h"
#include "evlog/storage/index_format.h"

namespace evlog::internal {

BatchReader::BatchReader(File& file, uint64_t file_size, uint64_t start, size_t chunk_bytes)
    : file_(file),
      file_size_(file_size),
      chunk_bytes_(chunk_bytes),
      buffer_start_(start),
      position_(start) {}

absl::Status BatchReader::Fill(size_t need) {
  // Keep the unread tail, then read up to a chunk (or `need`) after it.
  const size_t tail = buffer_used_ - at_;
  if (at_ > 0 && tail > 0) std::memmove(buffer_.data(), buffer_.data() + at_, tail);
  buffer_start_ += at_;
  at_ = 0;
  buffer_used_ = tail;
  const uint64_t left_in_file = file_size_ - (buffer_start_ + buffer_used_);
  const size_t want = static_cast<size_t>(
      std::min<uint64_t>(std::max(need, chunk_bytes_) - std::min(need, tail), left_in_file));
  if (buffer_.size() < buffer_used_ + want) buffer_.resize(buffer_used_ + want);
  EVLOG_ASSIGN_OR_RETURN(size_t n,
                         file_.ReadAt(buffer_start_ + buffer_used_,
                                      MutableByteView(buffer_.data() + buffer_used_, want)));
  buffer_used_ += n;
  if (n < want) {
    return MakeError(ErrorCode::kCorruptMessage,
                     absl::StrCat("the file ended ", want - n, " bytes before its size said"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ByteView>> BatchReader::Next() {
  position_ = buffer_start_ + at_;
  if (position_ >= file_size_) return std::optional<ByteView>();
  if (buffer_used_ - at_ < record_format::kLogOverhead) {
    EVLOG_RETURN_IF_ERROR(Fill(record_format::kRecordBatchOverhead));
  }
  const uint64_t left = file_size_ - position_;
  ByteView rest(buffer_.data() + at_, buffer_used_ - at_);
  absl::StatusOr<size_t> size = PeekBatchSize(rest, kMaxIndexedFilePosition);
  if (!size.ok()) return size.status();
  if (*size > left) {
    return MakeError(ErrorCode::kCorruptMessage,
                     absl::StrCat("torn batch: ", left, " of ", *size, " bytes present"));
  }
  if (*size > rest.size()) {
    EVLOG_RETURN_IF_ERROR(Fill(*size));
    rest = ByteView(buffer_.data() + at_, buffer_used_ - at_);
  }
  ByteView batch = rest.first(*size);
  at_ += *size;
  return std::optional<ByteView>(batch);
}

}  // namespace evlog::internal
