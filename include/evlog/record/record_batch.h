// evlog/record/record_batch.h — reading RecordBatch v2 bytes without copying.
//
// RecordBatchView::Parse checks a batch's framing (size, batchLength,
// magic) and its CRC, then exposes the header fields straight from the
// bytes. Records() walks the records, validating each one completely before
// handing it out; Validate() walks them all and reports the first problem.
// Malformed input of any kind yields CORRUPT_MESSAGE (ErrorCode
// kCorruptMessage), never a crash or a read out of bounds. The one
// exception: a valid batch compressed with a codec evlog does not implement
// (gzip, snappy, lz4) parses, but reading its records gives
// UNSUPPORTED_COMPRESSION_TYPE.
//
//   EVLOG_ASSIGN_OR_RETURN(evlog::RecordBatchView batch,
//                          evlog::RecordBatchView::Parse(bytes));
//   EVLOG_ASSIGN_OR_RETURN(evlog::RecordIterator it, batch.Records());
//   for (const evlog::RecordView& r : it) {
//     Use(r.offset, r.key, r.value);
//   }
//   EVLOG_RETURN_IF_ERROR(it.status());
//
// The storage layer also uses the free functions at the bottom: scanning a
// file batch by batch (PeekBatchSize) and stamping a batch on append
// (SetBaseOffset, SetPartitionLeaderEpoch, SetLogAppendTime).
//
// Thread-safety: a RecordBatchView is an immutable view; const methods may
// be called concurrently. A RecordIterator is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/record/internal/big_endian.h"
#include "evlog/record/record.h"
#include "evlog/record/record_format.h"
#include "evlog/types.h"

namespace evlog {

// The default bound on a batch's decompressed records section. It bounds
// the memory a small compressed input can make a reader allocate (a
// "decompression bomb"); 64 MiB is 64x Kafka's default max.message.bytes.
inline constexpr size_t kDefaultMaxDecompressedBytes = size_t{64} << 20;

// Limits applied while reading records.
struct RecordReadOptions {
  // A compressed records section that inflates past this many bytes is
  // CORRUPT_MESSAGE. Uncompressed sections are bounded by their batch.
  size_t max_decompressed_bytes = kDefaultMaxDecompressedBytes;
};

class RecordIterator;

// Whether RecordBatchView::Parse computes the batch's CRC. kSkip is for
// bytes whose CRC was checked as they were read (a log read with
// LogReadOptions::verify), or that a reader chose not to check (a
// consumer's check_crcs = false): computing it again costs as much as
// the first time, over every byte.
enum class CrcCheck : bool { kSkip = false, kCheck = true };

// A parsed RecordBatch v2, CRC-checked unless asked not to. Does not own its bytes: they must
// outlive the view and every RecordView read from it, and must not change.
class RecordBatchView {
 public:
  // Parses the batch at the front of `bytes`; bytes after its end (as given
  // by batchLength) are ignored, so a caller can parse a batch at the front
  // of a read buffer and advance by size_bytes().
  //
  // Checks: at least kRecordBatchOverhead bytes; batchLength >= 49 and not
  // past the end of `bytes`; magic == 2; the CRC (with CrcCheck::kCheck); a
  // known compression codec (0-4); recordsCount >= 0 and lastOffsetDelta >=
  // recordsCount - 1; for an uncompressed batch, enough bytes for
  // recordsCount records. Records are not decoded (see Validate); their
  // decoding stays bounds-checked either way. Errors: CORRUPT_MESSAGE.
  [[nodiscard]] static absl::StatusOr<RecordBatchView> Parse(ByteView bytes,
                                                             CrcCheck crc = CrcCheck::kCheck);

  // Decodes every record (decompressing if needed) and checks it; OK when a
  // RecordIterator would read all of them without error. Errors:
  // CORRUPT_MESSAGE, UNSUPPORTED_COMPRESSION_TYPE.
  [[nodiscard]] absl::Status Validate(const RecordReadOptions& options = {}) const;

  // An iterator over the records. For an uncompressed batch the RecordViews
  // point into this batch's bytes. For a compressed batch the records
  // section is decompressed here, in full, into `decompression_buffer` when
  // given (its contents are replaced; reusing one buffer across batches
  // avoids an allocation per batch), else into a buffer the iterator owns;
  // the RecordViews then point into that buffer and stay valid until it is
  // next modified or destroyed (for the owned buffer: until the iterator is
  // destroyed; moving the iterator keeps them valid). Errors:
  // CORRUPT_MESSAGE (bad compressed data, or larger than
  // options.max_decompressed_bytes), UNSUPPORTED_COMPRESSION_TYPE. Errors in
  // the records themselves are reported by the iterator's status().
  [[nodiscard]] absl::StatusOr<RecordIterator> Records(
      const RecordReadOptions& options = {},
      std::vector<std::byte>* decompression_buffer = nullptr) const;

  // --- Header fields. ---
  [[nodiscard]] Offset base_offset() const {
    return Offset(Field<int64_t>(record_format::kBaseOffsetOffset));
  }
  // base_offset() + last_offset_delta(): the offset the next batch follows.
  [[nodiscard]] Offset last_offset() const { return base_offset() + last_offset_delta(); }
  [[nodiscard]] int32_t batch_length() const {
    return Field<int32_t>(record_format::kBatchLengthOffset);
  }
  [[nodiscard]] LeaderEpoch partition_leader_epoch() const {
    return LeaderEpoch(Field<int32_t>(record_format::kPartitionLeaderEpochOffset));
  }
  [[nodiscard]] int8_t magic() const { return Field<int8_t>(record_format::kMagicOffset); }
  [[nodiscard]] uint32_t crc() const { return Field<uint32_t>(record_format::kCrcOffset); }
  [[nodiscard]] uint16_t attributes() const {
    return Field<uint16_t>(record_format::kAttributesOffset);
  }
  [[nodiscard]] int32_t last_offset_delta() const {
    return Field<int32_t>(record_format::kLastOffsetDeltaOffset);
  }
  [[nodiscard]] int64_t base_timestamp() const {
    return Field<int64_t>(record_format::kBaseTimestampOffset);
  }
  [[nodiscard]] int64_t max_timestamp() const {
    return Field<int64_t>(record_format::kMaxTimestampOffset);
  }
  [[nodiscard]] ProducerId producer_id() const {
    return ProducerId(Field<int64_t>(record_format::kProducerIdOffset));
  }
  [[nodiscard]] ProducerEpoch producer_epoch() const {
    return ProducerEpoch(Field<int16_t>(record_format::kProducerEpochOffset));
  }
  [[nodiscard]] Sequence base_sequence() const {
    return Sequence(Field<int32_t>(record_format::kBaseSequenceOffset));
  }
  // baseSequence + lastOffsetDelta, wrapping at INT32_MAX to 0 as Kafka's
  // sequences do; kNoSequence when the batch has none.
  [[nodiscard]] Sequence last_sequence() const;
  [[nodiscard]] int32_t record_count() const {
    return Field<int32_t>(record_format::kRecordsCountOffset);
  }

  [[nodiscard]] CompressionType compression() const {
    return static_cast<CompressionType>(attributes() & record_format::kCompressionCodecMask);
  }
  [[nodiscard]] TimestampType timestamp_type() const {
    return (attributes() & record_format::kTimestampTypeMask) != 0 ? TimestampType::kLogAppendTime
                                                                   : TimestampType::kCreateTime;
  }
  [[nodiscard]] bool is_transactional() const {
    return (attributes() & record_format::kTransactionalFlagMask) != 0;
  }
  [[nodiscard]] bool is_control() const {
    return (attributes() & record_format::kControlFlagMask) != 0;
  }
  [[nodiscard]] bool has_delete_horizon() const {
    return (attributes() & record_format::kDeleteHorizonFlagMask) != 0;
  }

  // The whole batch (size_bytes() == batchLength + 12).
  [[nodiscard]] ByteView bytes() const { return bytes_; }
  [[nodiscard]] size_t size_bytes() const { return bytes_.size(); }
  // The (possibly compressed) bytes after the header.
  [[nodiscard]] ByteView records_section() const {
    return bytes_.subspan(record_format::kRecordBatchOverhead);
  }

 private:
  template <typename T>
  T Field(size_t offset) const {
    return internal::LoadBigEndian<T>(bytes_.data() + offset);
  }

  explicit RecordBatchView(ByteView bytes) : bytes_(bytes) {}

  ByteView bytes_;
};

// Reads records one at a time, validating each before it is exposed.
//
//   for (; it.Valid(); it.Next()) Use(it.record());
//   if (!it.status().ok()) ...;   // CORRUPT_MESSAGE
//
// or with range-for, as in the example at the top of this file. Iteration
// stops at the first malformed record, with status() saying why; a batch
// whose records end before recordsCount, or that has bytes left after the
// last one, ends with CORRUPT_MESSAGE too.
class RecordIterator {
 public:
  RecordIterator(RecordIterator&&) noexcept = default;
  RecordIterator& operator=(RecordIterator&&) noexcept = default;
  RecordIterator(const RecordIterator&) = delete;
  RecordIterator& operator=(const RecordIterator&) = delete;

  // True while record() is a record; false at the end or after an error.
  [[nodiscard]] bool Valid() const { return valid_; }
  // REQUIRES: Valid(). Invalidated by Next().
  [[nodiscard]] const RecordView& record() const { return record_; }
  // REQUIRES: Valid().
  void Next();
  // OK, or why iteration stopped early.
  [[nodiscard]] const absl::Status& status() const { return status_; }
  // Records read so far, including the current one.
  [[nodiscard]] int32_t records_read() const { return read_; }

  // Range-for support; the range ends at the end or the first error.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = RecordView;
    using difference_type = std::ptrdiff_t;
    using pointer = const RecordView*;
    using reference = const RecordView&;
    Iterator() = default;
    const RecordView& operator*() const { return it_->record(); }
    const RecordView* operator->() const { return &it_->record(); }
    Iterator& operator++() {
      it_->Next();
      return *this;
    }
    void operator++(int) { it_->Next(); }
    friend bool operator==(const Iterator& a, const Iterator& b) {
      return a.at_end() == b.at_end();
    }

   private:
    friend class RecordIterator;
    explicit Iterator(RecordIterator* it) : it_(it) {}
    bool at_end() const { return it_ == nullptr || !it_->Valid(); }
    RecordIterator* it_ = nullptr;
  };
  Iterator begin() { return Iterator(this); }
  Iterator end() { return Iterator(); }

 private:
  friend class RecordBatchView;
  RecordIterator() = default;

  void Fail(std::string_view what);

  // The batch header fields the records depend on.
  Offset base_offset_;
  int64_t base_timestamp_ = 0;
  std::optional<int64_t> log_append_time_ms_;
  int32_t last_offset_delta_ = 0;
  int32_t count_ = 0;
  bool control_ = false;

  std::vector<std::byte> owned_;  // decompressed section when the caller gave no buffer
  ByteView rest_;                 // undecoded records
  int32_t read_ = 0;
  int32_t previous_offset_delta_ = -1;
  bool valid_ = false;
  RecordView record_{};
  absl::Status status_;
};

// Returns the total size (batchLength + 12) of the batch whose first bytes
// are `prefix`, reading only baseOffset and batchLength (and magic, when
// `prefix` has at least 17 bytes). Lets a scanner step through a file batch
// by batch before reading whole batches. Errors (CORRUPT_MESSAGE): `prefix`
// shorter than kLogOverhead (12) bytes; batchLength < 49; a total above
// `max_batch_bytes`; magic != 2.
[[nodiscard]] absl::StatusOr<size_t> PeekBatchSize(ByteView prefix,
                                                   size_t max_batch_bytes = size_t{1} << 31);

// In-place edits of an encoded batch, for the log's append path.
// REQUIRES (all three): batch.size() >= kRecordBatchOverhead (checked).
//
// baseOffset and partitionLeaderEpoch are outside the CRC, so these two
// leave the CRC valid.
void SetBaseOffset(MutableByteView batch, Offset base_offset);
void SetPartitionLeaderEpoch(MutableByteView batch, LeaderEpoch epoch);
// Marks the batch LogAppendTime with maxTimestamp = `timestamp_ms` (every
// record then reads that timestamp) and recomputes the CRC over the whole
// batch. REQUIRES: `batch` is exactly one batch (batchLength + 12 bytes).
void SetLogAppendTime(MutableByteView batch, int64_t timestamp_ms);

// Recomputes and stores the CRC of `batch` (exactly one batch). For code
// that edits CRC-covered fields.
void UpdateBatchCrc(MutableByteView batch);

// Stamps a finished batch with another producer id, epoch and base
// sequence and recomputes its CRC (a producer re-sequencing a batch under
// a new producer id). REQUIRES: `batch` is exactly one batch.
void SetBatchProducer(MutableByteView batch, ProducerId producer_id, ProducerEpoch epoch,
                      Sequence base_sequence);

}  // namespace evlog
