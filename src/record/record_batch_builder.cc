#include "evlog/record/record_batch_builder.h"

#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "evlog/check.h"
#include "evlog/record/crc32c.h"
#include "evlog/record/internal/big_endian.h"
#include "evlog/record/varint.h"
#include "evlog/status.h"
#include "zstd_codec.h"

namespace evlog {
namespace {

namespace F = record_format;
using internal::StoreBigEndian;

// Wrapping difference: Kafka computes deltas with Java's wrapping long
// arithmetic, and readers add them back the same way.
int64_t WrappingSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

std::byte* WriteLengthPrefixed(std::byte* p, std::optional<ByteView> bytes) {
  if (!bytes) return p + EncodeVarint(F::kNullLength, p);
  p += EncodeVarint(static_cast<int32_t>(bytes->size()), p);
  if (!bytes->empty()) std::memcpy(p, bytes->data(), bytes->size());
  return p + bytes->size();
}

bool FieldTooLarge(std::optional<ByteView> bytes) {
  return bytes && bytes->size() > static_cast<size_t>(std::numeric_limits<int32_t>::max());
}

}  // namespace

RecordBatchBuilder::RecordBatchBuilder(MutableByteView buffer, const RecordBatchOptions& options)
    : options_(options), data_(buffer.data()), capacity_(buffer.size()) {
  used_ = F::kRecordBatchOverhead;
}

RecordBatchBuilder::RecordBatchBuilder(const RecordBatchOptions& options,
                                       size_t initial_capacity_bytes)
    : options_(options), owns_buffer_(true) {
  owned_.resize(std::max(initial_capacity_bytes, F::kRecordBatchOverhead));
  data_ = owned_.data();
  capacity_ = owned_.size();
  used_ = F::kRecordBatchOverhead;
}

RecordBatchBuilder::RecordBatchBuilder(RecordBatchBuilder&&) noexcept = default;
RecordBatchBuilder& RecordBatchBuilder::operator=(RecordBatchBuilder&&) noexcept = default;
RecordBatchBuilder::~RecordBatchBuilder() = default;

size_t RecordBatchBuilder::HeadersSize(std::span<const RecordHeader> headers) {
  size_t bytes = 0;
  for (const RecordHeader& h : headers) {
    bytes += NullableFieldSize(AsBytes(h.key));
    bytes += NullableFieldSize(h.value);
  }
  return bytes;
}

bool RecordBatchBuilder::Reserve(size_t bytes) {
  if (capacity_ >= used_ && capacity_ - used_ >= bytes) return true;
  if (!owns_buffer_) return false;
  size_t want = std::max(owned_.size() * 2, used_ + bytes);
  owned_.resize(want);
  data_ = owned_.data();
  capacity_ = owned_.size();
  return true;
}

absl::Status RecordBatchBuilder::AppendSlow(int64_t timestamp_ms, std::optional<ByteView> key,
                                            std::optional<ByteView> value,
                                            std::span<const RecordHeader> headers) {
  if (last_offset_delta_ == std::numeric_limits<int32_t>::max()) {
    return MakeError(ErrorCode::kInvalidRecord, "batch already holds INT32_MAX offsets");
  }
  return AppendRecord(last_offset_delta_ + 1, timestamp_ms, key, value, headers);
}

absl::Status RecordBatchBuilder::AppendWithOffset(Offset offset, int64_t timestamp_ms,
                                                  std::optional<ByteView> key,
                                                  std::optional<ByteView> value,
                                                  std::span<const RecordHeader> headers) {
  const Offset base = options_.base_offset;
  if (offset < base || offset - base > std::numeric_limits<int32_t>::max()) {
    return MakeError(ErrorCode::kInvalidRecord, "offset is outside the batch's 2^31 range");
  }
  const auto delta = static_cast<int32_t>(offset - base);
  if (delta <= last_offset_delta_) {
    return MakeError(ErrorCode::kInvalidRecord, "offsets in a batch must increase");
  }
  return AppendRecord(delta, timestamp_ms, key, value, headers);
}

absl::Status RecordBatchBuilder::AppendRecord(int32_t offset_delta, int64_t timestamp_ms,
                                              std::optional<ByteView> key,
                                              std::optional<ByteView> value,
                                              std::span<const RecordHeader> headers) {
  EVLOG_CHECK(!finished_);
  if (headers.empty() && TryAppendWithoutHeaders(offset_delta, timestamp_ms, key, value)) {
    return absl::OkStatus();
  }
  if (FieldTooLarge(key) || FieldTooLarge(value) || headers.size() > kMaxFieldBytes) {
    return MakeError(ErrorCode::kInvalidRecord, "key, value or header list over INT32_MAX");
  }
  // Guards the size sum below against overflow; a record this large could
  // not fit a batch anyway.
  size_t payload = (key ? key->size() : 0) + (value ? value->size() : 0);
  for (const RecordHeader& h : headers) {
    if (h.key.size() > kMaxFieldBytes || FieldTooLarge(h.value)) {
      return MakeError(ErrorCode::kInvalidRecord, "header over INT32_MAX bytes");
    }
    payload += h.key.size() + (h.value ? h.value->size() : 0);
    if (payload > kMaxBatchBytes) break;
  }
  if (payload > kMaxBatchBytes - F::kRecordBatchOverhead) {
    return MakeError(ErrorCode::kRecordListTooLarge, "record does not fit in a batch");
  }

  const int64_t base_timestamp = count_ == 0 ? timestamp_ms : base_timestamp_;
  const int64_t timestamp_delta = WrappingSub(timestamp_ms, base_timestamp);
  const size_t body_bytes = BodySize(timestamp_delta, offset_delta, key, value, headers);
  const size_t record_bytes = VarintSize(static_cast<int32_t>(body_bytes)) + body_bytes;
  if (record_bytes > kMaxBatchBytes - used_) {
    return MakeError(ErrorCode::kRecordListTooLarge, "batch would exceed 2 GiB");
  }
  if (!Reserve(record_bytes)) {
    return MakeError(ErrorCode::kRecordListTooLarge,
                     "record of " + std::to_string(record_bytes) + " bytes does not fit the " +
                         std::to_string(capacity_ >= used_ ? capacity_ - used_ : 0) +
                         " bytes left in the batch buffer");
  }

  std::byte* const start = data_ + used_;
  std::byte* p = start;
  p += EncodeVarint(static_cast<int32_t>(body_bytes), p);
  *p++ = std::byte{0};  // record attributes: unused
  p += EncodeVarlong(timestamp_delta, p);
  p += EncodeVarint(offset_delta, p);
  p = WriteLengthPrefixed(p, key);
  p = WriteLengthPrefixed(p, value);
  p += EncodeVarint(static_cast<int32_t>(headers.size()), p);
  for (const RecordHeader& h : headers) {
    p = WriteLengthPrefixed(p, AsBytes(h.key));
    p = WriteLengthPrefixed(p, h.value);
  }
  EVLOG_CHECK_EQ(static_cast<size_t>(p - start), record_bytes);

  used_ += record_bytes;
  ++count_;
  last_offset_delta_ = offset_delta;
  base_timestamp_ = base_timestamp;
  if (count_ == 1 || timestamp_ms > max_timestamp_) max_timestamp_ = timestamp_ms;
  return absl::OkStatus();
}

absl::Status RecordBatchBuilder::CompressRecords() {
  const size_t raw_bytes = used_ - F::kRecordBatchOverhead;
  // zstd cannot compress in place, so the raw records move to a per-thread
  // scratch buffer and are compressed back into the batch buffer.
  thread_local std::vector<std::byte> scratch;
  scratch.assign(data_ + F::kRecordBatchOverhead, data_ + used_);
  if (owns_buffer_) {
    const size_t need = F::kRecordBatchOverhead + internal::ZstdCompressBound(raw_bytes);
    if (need > capacity_) {
      owned_.resize(need);
      data_ = owned_.data();
      capacity_ = owned_.size();
    }
  }
  const size_t room = std::min(capacity_, kMaxBatchBytes) - F::kRecordBatchOverhead;
  EVLOG_ASSIGN_OR_RETURN(
      size_t compressed,
      internal::ZstdCompress(ByteView(scratch.data(), raw_bytes),
                             MutableByteView(data_ + F::kRecordBatchOverhead, room),
                             options_.compression_level));
  used_ = F::kRecordBatchOverhead + compressed;
  return absl::OkStatus();
}

void RecordBatchBuilder::WriteHeader() {
  std::byte* h = data_;
  uint16_t attributes = static_cast<uint16_t>(options_.compression);
  if (options_.log_append_time_ms) attributes |= F::kTimestampTypeMask;
  if (options_.is_transactional) attributes |= F::kTransactionalFlagMask;
  if (options_.is_control) attributes |= F::kControlFlagMask;
  const int64_t max_timestamp =
      options_.log_append_time_ms ? *options_.log_append_time_ms : max_timestamp_;

  StoreBigEndian<int64_t>(h + F::kBaseOffsetOffset, options_.base_offset.value());
  StoreBigEndian<int32_t>(h + F::kBatchLengthOffset, static_cast<int32_t>(used_ - F::kLogOverhead));
  StoreBigEndian<int32_t>(h + F::kPartitionLeaderEpochOffset,
                          options_.partition_leader_epoch.value());
  StoreBigEndian<int8_t>(h + F::kMagicOffset, F::kMagicV2);
  StoreBigEndian<uint16_t>(h + F::kAttributesOffset, attributes);
  StoreBigEndian<int32_t>(h + F::kLastOffsetDeltaOffset, count_ == 0 ? 0 : last_offset_delta_);
  StoreBigEndian<int64_t>(h + F::kBaseTimestampOffset, base_timestamp_);
  StoreBigEndian<int64_t>(h + F::kMaxTimestampOffset, max_timestamp);
  StoreBigEndian<int64_t>(h + F::kProducerIdOffset, options_.producer_id.value());
  StoreBigEndian<int16_t>(h + F::kProducerEpochOffset, options_.producer_epoch.value());
  StoreBigEndian<int32_t>(h + F::kBaseSequenceOffset, options_.base_sequence.value());
  StoreBigEndian<int32_t>(h + F::kRecordsCountOffset, count_);
  const uint32_t crc = Crc32c(ByteView(h + F::kCrcCoveredOffset, used_ - F::kCrcCoveredOffset));
  StoreBigEndian<uint32_t>(h + F::kCrcOffset, crc);
}

absl::StatusOr<MutableByteView> RecordBatchBuilder::Finish() {
  EVLOG_CHECK(!finished_);
  if (capacity_ < F::kRecordBatchOverhead) {
    return MakeError(ErrorCode::kRecordListTooLarge,
                     "batch buffer is smaller than a batch header (61 bytes)");
  }
  switch (options_.compression) {
    case CompressionType::kNone:
      break;
    case CompressionType::kZstd:
      if (count_ > 0) EVLOG_RETURN_IF_ERROR(CompressRecords());
      break;
    default:
      return MakeError(ErrorCode::kUnsupportedCompressionType,
                       "evlog writes only uncompressed or zstd batches");
  }
  WriteHeader();
  finished_ = true;
  if (owns_buffer_) {
    owned_.resize(used_);
    data_ = owned_.data();
    capacity_ = used_;
  }
  return MutableByteView(data_, used_);
}

std::vector<std::byte> RecordBatchBuilder::Release() && {
  EVLOG_CHECK(finished_);
  EVLOG_CHECK(owns_buffer_);
  data_ = nullptr;
  capacity_ = 0;
  return std::move(owned_);
}

}  // namespace evlog
