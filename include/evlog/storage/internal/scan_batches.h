// evlog/storage/internal/scan_batches.h — reads a log from one offset to
// another, batch by batch: the loop every replay of an internal log runs
// (the broker's metadata, `__consumer_offsets`, `__transaction_state`).
#pragma once

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "evlog/bytes.h"
#include "evlog/record/record_batch.h"
#include "evlog/status.h"
#include "evlog/storage/segmented_log.h"
#include "evlog/types.h"

namespace evlog::internal {

// Calls `visit(const RecordBatchView&)` for each batch of `log` (a
// SegmentedLog or a Partition: anything with Read(offset, buffer)) from
// `from` until `end`, in offset order, and stops at its first error. A read
// that returns nothing new ends the scan, so a log that stops short of
// `end` cannot loop it. Errors: the log's, CORRUPT_MESSAGE from parsing,
// the visitor's.
template <typename Log, typename Visit>
absl::Status ScanBatches(Log& log, Offset from, Offset end, Visit&& visit) {
  std::vector<std::byte> buffer;
  for (Offset at = from; at < end;) {
    EVLOG_ASSIGN_OR_RETURN(LogReadResult read, log.Read(at, buffer));
    ByteView rest = read.batches;
    while (!rest.empty()) {
      EVLOG_ASSIGN_OR_RETURN(RecordBatchView batch, RecordBatchView::Parse(rest));
      rest = rest.subspan(batch.size_bytes());
      EVLOG_RETURN_IF_ERROR(visit(batch));
    }
    if (read.next_offset <= at) break;
    at = read.next_offset;
  }
  return absl::OkStatus();
}

}  // namespace evlog::internal
