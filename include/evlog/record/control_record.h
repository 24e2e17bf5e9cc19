// evlog/record/control_record.h — control batches and transaction markers.
//
// A control batch (attribute bit 5) carries one control record that the log
// writes for its own bookkeeping and that never reaches an application. The
// ones evlog writes are end-transaction markers: after a transaction
// commits or aborts, the coordinator appends a COMMIT or ABORT marker to
// every partition the transaction touched, in a control batch with the
// producer's id and epoch and the transactional flag set.
//
//   key   = version int16 (0), type int16 (ABORT = 0, COMMIT = 1)
//   value = version int16 (0), coordinatorEpoch int32       (6 bytes)
//
//   auto batch = evlog::BuildEndTransactionMarkerBatch(
//       {.type = evlog::ControlRecordType::kCommit, .coordinator_epoch = 3},
//       evlog::ProducerId(42), evlog::ProducerEpoch(0), now_ms);
//
// Thread-safety: pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/record/record.h"
#include "evlog/record/record_format.h"
#include "evlog/types.h"

namespace evlog {

// The marker ending a transaction on one partition.
struct EndTransactionMarker {
  ControlRecordType type = ControlRecordType::kAbort;  // kCommit or kAbort
  int32_t coordinator_epoch = 0;
};

// The size of an end-transaction-marker batch (it does not depend on the
// arguments beyond the timestamp delta, which is always 0).
[[nodiscard]] size_t EndTransactionMarkerBatchSize();

// Writes a control batch holding `marker` at the start of `out` and returns
// its size: base offset 0 (the log assigns it), the given producer, base
// sequence -1, transactional and control flags set, no compression, one
// record at `timestamp_ms`. Errors: RECORD_LIST_TOO_LARGE when `out` is
// smaller than EndTransactionMarkerBatchSize(); INVALID_RECORD when
// marker.type is not kCommit or kAbort.
[[nodiscard]] absl::StatusOr<size_t> WriteEndTransactionMarkerBatch(
    MutableByteView out, const EndTransactionMarker& marker, ProducerId producer_id,
    ProducerEpoch producer_epoch, int64_t timestamp_ms,
    LeaderEpoch partition_leader_epoch = kNoLeaderEpoch);

// As WriteEndTransactionMarkerBatch, into a new vector.
// REQUIRES: marker.type is kCommit or kAbort.
[[nodiscard]] std::vector<std::byte> BuildEndTransactionMarkerBatch(
    const EndTransactionMarker& marker, ProducerId producer_id, ProducerEpoch producer_epoch,
    int64_t timestamp_ms, LeaderEpoch partition_leader_epoch = kNoLeaderEpoch);

// The type of a control record, from its key. Types evlog does not know
// are returned as they are (the caller decides to skip them). Errors:
// CORRUPT_MESSAGE for a null key or one shorter than 4 bytes.
[[nodiscard]] absl::StatusOr<ControlRecordType> ParseControlRecordType(const RecordView& record);

// The end-transaction marker in `record`. Errors: CORRUPT_MESSAGE when the
// key is malformed, the type is not COMMIT/ABORT, or the value is null or
// shorter than 6 bytes. (Newer marker versions may append fields; extra
// value bytes are ignored, as Kafka does.)
[[nodiscard]] absl::StatusOr<EndTransactionMarker> ParseEndTransactionMarker(
    const RecordView& record);

}  // namespace evlog
