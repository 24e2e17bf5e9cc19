#include "evlog/storage/segmented_log.h"

namespace evlog {
namespace internal {

absl::StatusOr<std::pair<Offset, Offset>> CheckReadBatch(ByteView batch, Offset previous_last,
                                                         bool verify) {
  Offset base;
  Offset last;
  if (verify) {
    EVLOG_ASSIGN_OR_RETURN(RecordBatchView view, RecordBatchView::Parse(batch));
    base = view.base_offset();
    last = view.last_offset();
  } else {
    base = Offset(LoadBigEndian<int64_t>(batch.data() + record_format::kBaseOffsetOffset));
    last = base + LoadBigEndian<int32_t>(batch.data() + record_format::kLastOffsetDeltaOffset);
  }
  if (verify && (base <= previous_last || last < base)) {
    return MakeError(ErrorCode::kCorruptMessage,
                     absl::StrCat("batch offsets [", base.value(), ", ", last.value(),
                                  "] do not follow offset ", previous_last.value()));
  }
  return std::make_pair(base, last);
}

}  // namespace internal

// The default configuration, compiled once so that users of it do not pay
// for the template in every translation unit.
template class SegmentedLog<PosixFileSystem, SystemClock>;

}  // namespace evlog
