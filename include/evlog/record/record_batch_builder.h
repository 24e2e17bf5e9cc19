// evlog/record/record_batch_builder.h — encoding a RecordBatch v2.
//
// A RecordBatchBuilder writes records in their final wire format as they
// are appended, either into memory the caller provides (e.g. the free tail
// of a segment's write buffer, so a produced record is copied exactly once)
// or into a buffer it owns and grows. Finish() fills in the header (lengths,
// lastOffsetDelta, timestamps, count, CRC), compressing the records section
// first when asked to.
//
//   evlog::RecordBatchOptions options;
//   options.compression = evlog::CompressionType::kZstd;
//   evlog::RecordBatchBuilder builder(options);          // owns its buffer
//   EVLOG_RETURN_IF_ERROR(builder.Append(now_ms, evlog::AsBytes("user-1"),
//                                        evlog::AsBytes(R"({"op":"login"})")));
//   EVLOG_RETURN_IF_ERROR(builder.Append(now_ms, std::nullopt, std::nullopt));
//   EVLOG_ASSIGN_OR_RETURN(evlog::ByteView batch, builder.Finish());
//
// Into caller memory: `RecordBatchBuilder builder(free_space, options);` —
// Append returns RECORD_LIST_TOO_LARGE when the record does not fit and
// leaves the builder as it was, so the caller can Finish() what it has.
//
// Offsets: records get offset deltas 0, 1, 2, ... (Append), or explicit
// increasing offsets (AppendWithOffset, for rewriting compacted batches).
// The log assigns the real base offset on append (SetBaseOffset).
//
// Cost: Append of a record without headers is inline (defined at the end of
// this file): it sizes the record once, checks the room once and writes the
// varints and bytes straight into the buffer, with no allocation (caller
// memory, or an owned buffer that already has room). Records with headers,
// and every error, take an out-of-line path.
//
// Thread-safety: not thread-safe; one builder per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/check.h"
#include "evlog/record/record.h"
#include "evlog/record/record_format.h"
#include "evlog/record/varint.h"
#include "evlog/types.h"

namespace evlog {

// The batch-level fields of a batch to build.
struct RecordBatchOptions {
  Offset base_offset{0};
  LeaderEpoch partition_leader_epoch = kNoLeaderEpoch;
  // Idempotent / transactional producers set these; others leave the "none"
  // sentinels.
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch = kNoProducerEpoch;
  Sequence base_sequence = kNoSequence;
  bool is_transactional = false;
  // Control batches hold markers, never application records; prefer
  // BuildEndTransactionMarkerBatch (control_record.h).
  bool is_control = false;
  // kNone or kZstd (others: UNSUPPORTED_COMPRESSION_TYPE from Finish).
  CompressionType compression = CompressionType::kNone;
  // zstd level (1 fastest ... 19+ smallest; 3 is zstd's default).
  int compression_level = 3;
  // When set, the batch is marked LogAppendTime with this maxTimestamp (the
  // per-record timestamps are still written, as Kafka does).
  std::optional<int64_t> log_append_time_ms;
};

class RecordBatchBuilder {
 public:
  // Encodes into `buffer`, which must stay alive and untouched by others
  // until the builder is destroyed. The finished batch starts at
  // buffer.data(). If `buffer` cannot hold even the 61-byte header, every
  // Append and Finish fails with RECORD_LIST_TOO_LARGE.
  RecordBatchBuilder(MutableByteView buffer, const RecordBatchOptions& options);
  // Encodes into a buffer the builder owns and grows as needed, starting
  // with `initial_capacity_bytes`.
  explicit RecordBatchBuilder(const RecordBatchOptions& options = {},
                              size_t initial_capacity_bytes = 1024);

  RecordBatchBuilder(RecordBatchBuilder&&) noexcept;
  RecordBatchBuilder& operator=(RecordBatchBuilder&&) noexcept;
  RecordBatchBuilder(const RecordBatchBuilder&) = delete;
  RecordBatchBuilder& operator=(const RecordBatchBuilder&) = delete;
  ~RecordBatchBuilder();

  // Appends a record with the next offset delta. `key`/`value` std::nullopt
  // means null (distinct from an empty ByteView). The bytes are copied.
  // Errors: RECORD_LIST_TOO_LARGE (does not fit the caller's buffer, or the
  // batch would pass 2 GiB); INVALID_RECORD (a key, value or header larger
  // than INT32_MAX bytes, too many records). On error nothing is written.
  // REQUIRES: Finish() not called yet.
  [[nodiscard]] absl::Status Append(int64_t timestamp_ms, std::optional<ByteView> key,
                                    std::optional<ByteView> value,
                                    std::span<const RecordHeader> headers = {}) {
    if (headers.empty() && last_offset_delta_ != std::numeric_limits<int32_t>::max() &&
        TryAppendWithoutHeaders(last_offset_delta_ + 1, timestamp_ms, key, value)) [[likely]] {
      return absl::OkStatus();
    }
    return AppendSlow(timestamp_ms, key, value, headers);
  }

  // As Append, with offset `offset` (delta offset - base_offset). Errors as
  // Append, plus INVALID_RECORD when `offset` is not above the previous
  // record's, below base_offset, or more than INT32_MAX past it.
  [[nodiscard]] absl::Status AppendWithOffset(Offset offset, int64_t timestamp_ms,
                                              std::optional<ByteView> key,
                                              std::optional<ByteView> value,
                                              std::span<const RecordHeader> headers = {});

  // Completes the batch and returns it (batchLength + 12 bytes at the start
  // of the buffer). The view is valid until the builder is destroyed or
  // moved (owned buffer) / as long as the caller's buffer (caller memory).
  // A batch with no records is legal (an empty header). Errors:
  // RECORD_LIST_TOO_LARGE (the compressed section does not fit the
  // caller's buffer), UNSUPPORTED_COMPRESSION_TYPE, KAFKA_STORAGE_ERROR
  // (the compressor failed). REQUIRES: not called before.
  [[nodiscard]] absl::StatusOr<MutableByteView> Finish();

  // Sets the producer fields (RecordBatchOptions::producer_id, ...) that
  // Finish writes: an idempotent producer knows a batch's sequence only
  // once it sends the batch. REQUIRES: Finish() not called yet.
  void SetProducer(ProducerId producer_id, ProducerEpoch producer_epoch, Sequence base_sequence) {
    options_.producer_id = producer_id;
    options_.producer_epoch = producer_epoch;
    options_.base_sequence = base_sequence;
  }

  // Takes the owned buffer, holding the finished batch (exactly its bytes).
  // REQUIRES: Finish() succeeded on a builder that owns its buffer.
  [[nodiscard]] std::vector<std::byte> Release() &&;

  [[nodiscard]] int32_t record_count() const { return count_; }
  [[nodiscard]] bool empty() const { return count_ == 0; }
  // Bytes used so far: the header plus the (uncompressed) records; after
  // Finish, the batch size.
  [[nodiscard]] size_t size_bytes() const { return used_; }

  // The bytes Append would add for this record (exact, uncompressed).
  [[nodiscard]] static size_t EncodedRecordSize(int64_t timestamp_delta, int32_t offset_delta,
                                                const std::optional<ByteView>& key,
                                                const std::optional<ByteView>& value,
                                                std::span<const RecordHeader> headers = {}) {
    const size_t body = BodySize(timestamp_delta, offset_delta, key, value, headers);
    return VarintSize(static_cast<int32_t>(body)) + body;
  }

 private:
  // A batch's size is bounded by batchLength, an int32.
  static constexpr size_t kMaxBatchBytes =
      static_cast<size_t>(std::numeric_limits<int32_t>::max()) + record_format::kLogOverhead;
  static constexpr size_t kMaxFieldBytes = static_cast<size_t>(std::numeric_limits<int32_t>::max());

  // The fast path of Append/AppendWithOffset for a record without headers:
  // writes it and returns true, or returns false having changed nothing
  // when anything is unusual (finished, a field over INT32_MAX, no room
  // left without growing the buffer); AppendRecord then handles the record
  // and reports the error, if any. REQUIRES: `offset_delta` is above
  // last_offset_delta_.
  [[nodiscard]] bool TryAppendWithoutHeaders(int32_t offset_delta, int64_t timestamp_ms,
                                             const std::optional<ByteView>& key,
                                             const std::optional<ByteView>& value);
  [[nodiscard]] absl::Status AppendSlow(int64_t timestamp_ms, std::optional<ByteView> key,
                                        std::optional<ByteView> value,
                                        std::span<const RecordHeader> headers);
  [[nodiscard]] absl::Status AppendRecord(int32_t offset_delta, int64_t timestamp_ms,
                                          std::optional<ByteView> key,
                                          std::optional<ByteView> value,
                                          std::span<const RecordHeader> headers);
  // A key or value with its length varint (-1 for null).
  static size_t NullableFieldSize(const std::optional<ByteView>& bytes) {
    return bytes ? VarintSize(static_cast<int32_t>(bytes->size())) + bytes->size()
                 : VarintSize(record_format::kNullLength);
  }
  // Bytes of a record after its length varint. Inline: a producer sizes
  // every record it is sent; only headers leave it.
  static size_t BodySize(int64_t timestamp_delta, int32_t offset_delta,
                         const std::optional<ByteView>& key, const std::optional<ByteView>& value,
                         std::span<const RecordHeader> headers) {
    // attributes, then the variable parts and the headers count.
    size_t body = 1 + VarlongSize(timestamp_delta) + VarintSize(offset_delta) +
                  NullableFieldSize(key) + NullableFieldSize(value) +
                  VarintSize(static_cast<int32_t>(headers.size()));
    if (!headers.empty()) body += HeadersSize(headers);
    return body;
  }
  // The headers' keys and values with their length varints.
  static size_t HeadersSize(std::span<const RecordHeader> headers);
  // Makes room for `bytes` more bytes, growing the owned buffer if any.
  [[nodiscard]] bool Reserve(size_t bytes);
  [[nodiscard]] absl::Status CompressRecords();
  void WriteHeader();

  RecordBatchOptions options_;
  std::vector<std::byte> owned_;  // empty when writing into caller memory
  bool owns_buffer_ = false;
  std::byte* data_ = nullptr;
  size_t capacity_ = 0;
  size_t used_ = 0;

  int32_t count_ = 0;
  int32_t last_offset_delta_ = -1;
  int64_t base_timestamp_ = record_format::kNoTimestamp;
  int64_t max_timestamp_ = record_format::kNoTimestamp;
  bool finished_ = false;
};

// --- Implementation details below. ---

inline bool RecordBatchBuilder::TryAppendWithoutHeaders(int32_t offset_delta, int64_t timestamp_ms,
                                                        const std::optional<ByteView>& key,
                                                        const std::optional<ByteView>& value) {
  // Everything is read into locals first: stores through a std::byte*
  // may alias any object, so members read after the first store would be
  // reloaded.
  const std::byte* const key_data = key ? key->data() : nullptr;
  const std::byte* const value_data = value ? value->data() : nullptr;
  const size_t key_bytes = key ? key->size() : 0;
  const size_t value_bytes = value ? value->size() : 0;
  if (finished_ || (key_bytes | value_bytes) > kMaxFieldBytes) return false;
  const uint32_t key_length =
      ZigZagEncode32(key ? static_cast<int32_t>(key_bytes) : record_format::kNullLength);
  const uint32_t value_length =
      ZigZagEncode32(value ? static_cast<int32_t>(value_bytes) : record_format::kNullLength);
  const int32_t count = count_;
  // Deltas wrap as Java's long arithmetic does (readers add them back the
  // same way).
  const uint64_t timestamp_delta =
      ZigZagEncode64(count == 0 ? 0
                                : static_cast<int64_t>(static_cast<uint64_t>(timestamp_ms) -
                                                       static_cast<uint64_t>(base_timestamp_)));
  const uint32_t offset = ZigZagEncode32(offset_delta);
  // attributes (1 byte) and headersCount 0 (1 byte) plus the variable parts.
  const size_t body_bytes = 2 + UnsignedVarintSize(timestamp_delta) + UnsignedVarintSize(offset) +
                            UnsignedVarintSize(key_length) + key_bytes +
                            UnsignedVarintSize(value_length) + value_bytes;
  // The length varint is VarintSize(int32 body_bytes), and the ZigZag form
  // of a non-negative int32 is twice its value. No overflow below:
  // body_bytes < 2^33 and used_ <= kMaxBatchBytes; a body over INT32_MAX
  // fails the bound check before anything is written.
  const size_t start = used_;
  const size_t end = start + UnsignedVarintSize(uint64_t{body_bytes} << 1) + body_bytes;
  if (end > capacity_ || end > kMaxBatchBytes) return false;

  std::byte* const base = data_;
  std::byte* p = base + start;
  p = WriteUnsignedVarint(uint64_t{body_bytes} << 1, p);
  *p++ = std::byte{0};  // record attributes: unused
  p = WriteUnsignedVarint(timestamp_delta, p);
  p = WriteUnsignedVarint(offset, p);
  p = WriteUnsignedVarint(key_length, p);
  if (key_bytes != 0) std::memcpy(p, key_data, key_bytes);
  p += key_bytes;
  p = WriteUnsignedVarint(value_length, p);
  if (value_bytes != 0) std::memcpy(p, value_data, value_bytes);
  p += value_bytes;
  *p++ = std::byte{0};  // headersCount: varint 0
  EVLOG_DCHECK(p == base + end);

  used_ = end;
  last_offset_delta_ = offset_delta;
  if (count == 0) {
    base_timestamp_ = timestamp_ms;
    max_timestamp_ = timestamp_ms;
  } else if (timestamp_ms > max_timestamp_) {
    max_timestamp_ = timestamp_ms;
  }
  count_ = count + 1;
  return true;
}

}  // namespace evlog
