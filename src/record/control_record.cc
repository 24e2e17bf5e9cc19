#include "evlog/record/control_record.h"

#include <string>

#include "evlog/check.h"
#include "evlog/record/internal/big_endian.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"

namespace evlog {
namespace {

namespace F = record_format;
using internal::LoadBigEndian;
using internal::StoreBigEndian;

bool IsEndTransaction(ControlRecordType type) {
  return type == ControlRecordType::kCommit || type == ControlRecordType::kAbort;
}

RecordBatchOptions MarkerOptions(ProducerId producer_id, ProducerEpoch producer_epoch,
                                 LeaderEpoch partition_leader_epoch) {
  RecordBatchOptions options;
  options.producer_id = producer_id;
  options.producer_epoch = producer_epoch;
  options.partition_leader_epoch = partition_leader_epoch;
  options.is_transactional = true;
  options.is_control = true;
  return options;
}

}  // namespace

size_t EndTransactionMarkerBatchSize() {
  std::byte key[F::kControlRecordKeyBytes] = {};
  std::byte value[F::kEndTxnMarkerValueBytes] = {};
  return F::kRecordBatchOverhead +
         RecordBatchBuilder::EncodedRecordSize(0, 0, ByteView(key), ByteView(value));
}

absl::StatusOr<size_t> WriteEndTransactionMarkerBatch(
    MutableByteView out, const EndTransactionMarker& marker, ProducerId producer_id,
    ProducerEpoch producer_epoch, int64_t timestamp_ms, LeaderEpoch partition_leader_epoch) {
  if (!IsEndTransaction(marker.type)) {
    return MakeError(ErrorCode::kInvalidRecord,
                     "an end-transaction marker is COMMIT or ABORT, got type " +
                         std::to_string(static_cast<int>(marker.type)));
  }
  std::byte key[F::kControlRecordKeyBytes];
  StoreBigEndian<int16_t>(key, F::kControlRecordKeyVersion);
  StoreBigEndian<int16_t>(key + 2, static_cast<int16_t>(marker.type));
  std::byte value[F::kEndTxnMarkerValueBytes];
  StoreBigEndian<int16_t>(value, F::kEndTxnMarkerValueVersion);
  StoreBigEndian<int32_t>(value + 2, marker.coordinator_epoch);

  RecordBatchBuilder builder(out,
                             MarkerOptions(producer_id, producer_epoch, partition_leader_epoch));
  EVLOG_RETURN_IF_ERROR(builder.Append(timestamp_ms, ByteView(key), ByteView(value)));
  EVLOG_ASSIGN_OR_RETURN(MutableByteView batch, builder.Finish());
  return batch.size();
}

std::vector<std::byte> BuildEndTransactionMarkerBatch(const EndTransactionMarker& marker,
                                                      ProducerId producer_id,
                                                      ProducerEpoch producer_epoch,
                                                      int64_t timestamp_ms,
                                                      LeaderEpoch partition_leader_epoch) {
  std::vector<std::byte> out(EndTransactionMarkerBatchSize());
  absl::StatusOr<size_t> size =
      WriteEndTransactionMarkerBatch(MutableByteView(out), marker, producer_id, producer_epoch,
                                     timestamp_ms, partition_leader_epoch);
  EVLOG_CHECK(size.ok());
  EVLOG_CHECK_EQ(*size, out.size());
  return out;
}

absl::StatusOr<ControlRecordType> ParseControlRecordType(const RecordView& record) {
  if (!record.key || record.key->size() < F::kControlRecordKeyBytes) {
    return MakeError(ErrorCode::kCorruptMessage, "control record key is null or short");
  }
  // The key version is not checked: a newer version keeps the type at the
  // same place, so an unknown version is still readable.
  return static_cast<ControlRecordType>(LoadBigEndian<int16_t>(record.key->data() + 2));
}

absl::StatusOr<EndTransactionMarker> ParseEndTransactionMarker(const RecordView& record) {
  EVLOG_ASSIGN_OR_RETURN(ControlRecordType type, ParseControlRecordType(record));
  if (!IsEndTransaction(type)) {
    return MakeError(ErrorCode::kCorruptMessage, "control record type " +
                                                     std::to_string(static_cast<int>(type)) +
                                                     " is not an end-transaction marker");
  }
  if (!record.value || record.value->size() < F::kEndTxnMarkerValueBytes) {
    return MakeError(ErrorCode::kCorruptMessage, "end-transaction marker value is null or short");
  }
  EndTransactionMarker marker;
  marker.type = type;
  marker.coordinator_epoch = LoadBigEndian<int32_t>(record.value->data() + 2);
  return marker;
}

}  // namespace evlog
