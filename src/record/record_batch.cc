#include "evlog/record/record_batch.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "evlog/check.h"
#include "evlog/record/crc32c.h"
#include "evlog/record/varint.h"
#include "evlog/status.h"
#include "zstd_codec.h"

namespace evlog {
namespace {

namespace F = record_format;
using internal::LoadBigEndian;
using internal::StoreBigEndian;

absl::Status Corrupt(std::string_view what) { return MakeError(ErrorCode::kCorruptMessage, what); }

// Bounds-checked readers over [p, end) that advance `p` past what they
// read and return false on malformed or truncated input (leaving `p`
// unspecified). Written over raw pointers because they run several times
// per record; the one- and two-byte varints (every length under 8 KiB, every
// delta under 64 in a batch) are decoded inline, longer ones by the
// general DecodeVarint/DecodeVarlong, which also rejects overlong and
// overflowing encodings.
// The general decoders, for three bytes or more and near the end of the
// input; kept out of line so that the inline fast paths stay small. They
// return the position after the varint (nullptr when it is malformed) and
// its value in registers, so the caller's cursor never has its address
// taken.
struct VarintRead {
  const std::byte* next;
  int64_t value;
};

[[gnu::noinline]] VarintRead ReadVarintSlow(const std::byte* p, const std::byte* end) {
  const auto d = DecodeVarint(ByteView(p, static_cast<size_t>(end - p)));
  if (!d) return {nullptr, 0};
  return {p + d->size, d->value};
}

[[gnu::noinline]] VarintRead ReadVarlongSlow(const std::byte* p, const std::byte* end) {
  const auto d = DecodeVarlong(ByteView(p, static_cast<size_t>(end - p)));
  if (!d) return {nullptr, 0};
  return {p + d->size, d->value};
}

[[gnu::always_inline]] inline bool ReadVarint(const std::byte*& p, const std::byte* end,
                                              int32_t* v) {
  if (p < end) [[likely]] {
    const auto b0 = static_cast<uint8_t>(p[0]);
    if (b0 < 0x80) {
      *v = ZigZagDecode32(b0);
      p += 1;
      return true;
    }
    if (end - p >= 2) {
      const auto b1 = static_cast<uint8_t>(p[1]);
      if (b1 < 0x80) {
        *v = ZigZagDecode32((b0 & 0x7Fu) | (uint32_t{b1} << 7));
        p += 2;
        return true;
      }
    }
  }
  const VarintRead r = ReadVarintSlow(p, end);
  if (r.next == nullptr) return false;
  *v = static_cast<int32_t>(r.value);
  p = r.next;
  return true;
}

[[gnu::always_inline]] inline bool ReadVarlong(const std::byte*& p, const std::byte* end,
                                               int64_t* v) {
  if (p < end) [[likely]] {
    const auto b0 = static_cast<uint8_t>(p[0]);
    if (b0 < 0x80) {
      *v = ZigZagDecode64(b0);
      p += 1;
      return true;
    }
    if (end - p >= 2) {
      const auto b1 = static_cast<uint8_t>(p[1]);
      if (b1 < 0x80) {
        *v = ZigZagDecode64((b0 & 0x7Fu) | (uint64_t{b1} << 7));
        p += 2;
        return true;
      }
    }
  }
  const VarintRead r = ReadVarlongSlow(p, end);
  if (r.next == nullptr) return false;
  *v = r.value;
  p = r.next;
  return true;
}

// A length-prefixed field; -1 is null, other negatives are corrupt.
[[gnu::always_inline]] inline bool ReadField(const std::byte*& p, const std::byte* end,
                                             std::optional<ByteView>* out) {
  int32_t length;
  if (!ReadVarint(p, end, &length)) return false;
  if (length < 0) {
    if (length != F::kNullLength) return false;
    out->reset();
    return true;
  }
  if (static_cast<size_t>(length) > static_cast<size_t>(end - p)) return false;
  *out = ByteView(p, static_cast<size_t>(length));
  p += length;
  return true;
}

// Smallest encoded header: keyLength 0 and valueLength -1, one byte each.
constexpr size_t kMinHeaderBytes = 2;

}  // namespace

// --- RecordHeadersView ---

void RecordHeadersView::Iterator::Load() {
  if (left_ <= 0) return;
  const std::byte* p = rest_.data();
  const std::byte* const end = p + rest_.size();
  std::optional<ByteView> key;
  std::optional<ByteView> value;
  // Validated when the record was read; a failure here is a bug.
  EVLOG_CHECK(ReadField(p, end, &key));
  EVLOG_CHECK(key.has_value());
  EVLOG_CHECK(ReadField(p, end, &value));
  current_.key = AsStringView(*key);
  current_.value = value;
  rest_ = ByteView(p, static_cast<size_t>(end - p));
}

// --- RecordBatchView ---

absl::StatusOr<RecordBatchView> RecordBatchView::Parse(ByteView bytes, CrcCheck crc) {
  if (bytes.size() < F::kRecordBatchOverhead) {
    return Corrupt("batch of " + std::to_string(bytes.size()) +
                   " bytes is shorter than the 61-byte header");
  }
  const auto batch_length = LoadBigEndian<int32_t>(bytes.data() + F::kBatchLengthOffset);
  if (batch_length < F::kMinBatchLength) {
    return Corrupt("batchLength " + std::to_string(batch_length) + " is below 49");
  }
  const size_t total = static_cast<size_t>(batch_length) + F::kLogOverhead;
  if (total > bytes.size()) {
    return Corrupt("batchLength " + std::to_string(batch_length) + " runs past the " +
                   std::to_string(bytes.size()) + " bytes available");
  }
  const auto magic = LoadBigEndian<int8_t>(bytes.data() + F::kMagicOffset);
  if (magic != F::kMagicV2) {
    return Corrupt("magic " + std::to_string(magic) + " is not 2");
  }
  RecordBatchView view(bytes.first(total));
  if (crc == CrcCheck::kCheck) {
    const uint32_t computed =
        Crc32c(bytes.subspan(F::kCrcCoveredOffset, total - F::kCrcCoveredOffset));
    if (computed != view.crc()) {
      return Corrupt("CRC mismatch: stored " + std::to_string(view.crc()) + ", computed " +
                     std::to_string(computed));
    }
  }
  const auto codec = static_cast<unsigned>(view.attributes() & F::kCompressionCodecMask);
  if (codec > static_cast<unsigned>(CompressionType::kZstd)) {
    return Corrupt("unknown compression codec " + std::to_string(codec));
  }
  if (view.base_offset().value() >
      std::numeric_limits<int64_t>::max() - std::max(view.last_offset_delta(), 0)) {
    return Corrupt("baseOffset + lastOffsetDelta overflows");
  }
  const int32_t count = view.record_count();
  if (count < 0) return Corrupt("negative recordsCount " + std::to_string(count));
  if (view.last_offset_delta() < 0 || view.last_offset_delta() < count - 1) {
    return Corrupt("lastOffsetDelta " + std::to_string(view.last_offset_delta()) +
                   " is too small for " + std::to_string(count) + " records");
  }
  if (view.compression() == CompressionType::kNone &&
      static_cast<size_t>(count) > view.records_section().size() / F::kMinRecordBytes) {
    return Corrupt("recordsCount " + std::to_string(count) + " cannot fit in " +
                   std::to_string(view.records_section().size()) + " bytes");
  }
  return view;
}

Sequence RecordBatchView::last_sequence() const {
  const Sequence base = base_sequence();
  if (base == kNoSequence) return kNoSequence;
  const int64_t last = int64_t{base.value()} + last_offset_delta();
  constexpr int64_t kWrap = int64_t{std::numeric_limits<int32_t>::max()} + 1;
  return Sequence(static_cast<int32_t>(last >= kWrap ? last - kWrap : last));
}

absl::StatusOr<RecordIterator> RecordBatchView::Records(
    const RecordReadOptions& options, std::vector<std::byte>* decompression_buffer) const {
  RecordIterator it;
  it.base_offset_ = base_offset();
  it.base_timestamp_ = base_timestamp();
  if (timestamp_type() == TimestampType::kLogAppendTime) it.log_append_time_ms_ = max_timestamp();
  it.last_offset_delta_ = last_offset_delta();
  it.count_ = record_count();
  it.control_ = is_control();

  const ByteView section = records_section();
  switch (compression()) {
    case CompressionType::kNone:
      it.rest_ = section;
      break;
    case CompressionType::kZstd: {
      if (section.empty() && it.count_ == 0) break;
      std::vector<std::byte>* out = decompression_buffer ? decompression_buffer : &it.owned_;
      EVLOG_RETURN_IF_ERROR(internal::ZstdDecompress(section, options.max_decompressed_bytes, out));
      it.rest_ = ByteView(out->data(), out->size());
      break;
    }
    case CompressionType::kGzip:
    case CompressionType::kSnappy:
    case CompressionType::kLz4:
      return MakeError(ErrorCode::kUnsupportedCompressionType,
                       "evlog reads only uncompressed and zstd batches");
    default:
      return Corrupt("unknown compression codec");
  }
  it.valid_ = true;  // Next() requires it
  it.Next();
  return it;
}

absl::Status RecordBatchView::Validate(const RecordReadOptions& options) const {
  EVLOG_ASSIGN_OR_RETURN(RecordIterator it, Records(options));
  while (it.Valid()) it.Next();
  return it.status();
}

// --- RecordIterator ---

void RecordIterator::Fail(std::string_view what) {
  valid_ = false;
  status_ = Corrupt("record " + std::to_string(read_) + " of batch at offset " +
                    std::to_string(base_offset_.value()) + ": " + std::string(what));
}

void RecordIterator::Next() {
  EVLOG_DCHECK(valid_);
  if (read_ == count_) {
    valid_ = false;
    if (!rest_.empty()) Fail(std::to_string(rest_.size()) + " bytes after the last record");
    return;
  }
  const std::byte* p = rest_.data();
  const std::byte* const section_end = p + rest_.size();
  int32_t length;
  if (!ReadVarint(p, section_end, &length)) return Fail("bad or truncated record length");
  if (length < static_cast<int32_t>(F::kMinRecordBodyBytes)) {
    return Fail("record length " + std::to_string(length) + " is too small");
  }
  if (static_cast<size_t>(length) > static_cast<size_t>(section_end - p)) {
    return Fail("record length " + std::to_string(length) + " runs past the records section");
  }
  const std::byte* const end = p + length;

  int64_t timestamp_delta;
  int32_t offset_delta;
  int32_t header_count;
  std::optional<ByteView> key;
  std::optional<ByteView> value;
  if (p == end) return Fail("truncated attributes");
  ++p;  // attributes: unused
  if (!ReadVarlong(p, end, &timestamp_delta)) return Fail("bad timestampDelta");
  if (!ReadVarint(p, end, &offset_delta)) return Fail("bad offsetDelta");
  if (offset_delta <= previous_offset_delta_ || offset_delta > last_offset_delta_) {
    return Fail("offsetDelta " + std::to_string(offset_delta) + " out of order or past " +
                "lastOffsetDelta " + std::to_string(last_offset_delta_));
  }
  if (!ReadField(p, end, &key)) return Fail("bad key length");
  if (!ReadField(p, end, &value)) return Fail("bad value length");
  if (!ReadVarint(p, end, &header_count)) return Fail("bad header count");
  if (header_count < 0 ||
      static_cast<size_t>(header_count) > static_cast<size_t>(end - p) / kMinHeaderBytes) {
    return Fail("header count " + std::to_string(header_count) + " does not fit the record");
  }
  const std::byte* const headers_start = p;
  for (int32_t i = 0; i < header_count; ++i) {
    std::optional<ByteView> header_key;
    std::optional<ByteView> header_value;
    if (!ReadField(p, end, &header_key)) return Fail("bad header key length");
    if (!header_key) return Fail("null header key");
    if (!ReadField(p, end, &header_value)) return Fail("bad header value length");
  }
  if (p != end) {
    return Fail(std::to_string(end - p) + " bytes left over inside the record");
  }
  if (control_ && (!key || key->size() < F::kControlRecordKeyBytes)) {
    return Fail("control record without a 4-byte key");
  }

  record_.offset = base_offset_ + offset_delta;
  record_.timestamp_ms = log_append_time_ms_
                             ? *log_append_time_ms_
                             : static_cast<int64_t>(static_cast<uint64_t>(base_timestamp_) +
                                                    static_cast<uint64_t>(timestamp_delta));
  record_.key = key;
  record_.value = value;
  record_.headers = RecordHeadersView(
      ByteView(headers_start, static_cast<size_t>(p - headers_start)), header_count);
  previous_offset_delta_ = offset_delta;
  rest_ = ByteView(end, static_cast<size_t>(section_end - end));
  ++read_;
}

// --- Free functions ---

absl::StatusOr<size_t> PeekBatchSize(ByteView prefix, size_t max_batch_bytes) {
  if (prefix.size() < F::kLogOverhead) {
    return Corrupt("truncated batch: " + std::to_string(prefix.size()) +
                   " bytes, fewer than the 12-byte offset and length");
  }
  const auto batch_length = LoadBigEndian<int32_t>(prefix.data() + F::kBatchLengthOffset);
  if (batch_length < F::kMinBatchLength) {
    return Corrupt("batchLength " + std::to_string(batch_length) + " is below 49");
  }
  const size_t total = static_cast<size_t>(batch_length) + F::kLogOverhead;
  if (total > max_batch_bytes) {
    return Corrupt("batch of " + std::to_string(total) + " bytes is above the limit of " +
                   std::to_string(max_batch_bytes));
  }
  if (prefix.size() > F::kMagicOffset) {
    const auto magic = LoadBigEndian<int8_t>(prefix.data() + F::kMagicOffset);
    if (magic != F::kMagicV2) return Corrupt("magic " + std::to_string(magic) + " is not 2");
  }
  return total;
}

void SetBaseOffset(MutableByteView batch, Offset base_offset) {
  EVLOG_CHECK_GE(batch.size(), F::kRecordBatchOverhead);
  StoreBigEndian<int64_t>(batch.data() + F::kBaseOffsetOffset, base_offset.value());
}

void SetPartitionLeaderEpoch(MutableByteView batch, LeaderEpoch epoch) {
  EVLOG_CHECK_GE(batch.size(), F::kRecordBatchOverhead);
  StoreBigEndian<int32_t>(batch.data() + F::kPartitionLeaderEpochOffset, epoch.value());
}

void UpdateBatchCrc(MutableByteView batch) {
  EVLOG_CHECK_GE(batch.size(), F::kRecordBatchOverhead);
  const uint32_t crc = Crc32c(ByteView(batch).subspan(F::kCrcCoveredOffset));
  StoreBigEndian<uint32_t>(batch.data() + F::kCrcOffset, crc);
}

void SetBatchProducer(MutableByteView batch, ProducerId producer_id, ProducerEpoch epoch,
                      Sequence base_sequence) {
  EVLOG_CHECK_GE(batch.size(), F::kRecordBatchOverhead);
  StoreBigEndian<int64_t>(batch.data() + F::kProducerIdOffset, producer_id.value());
  StoreBigEndian<int16_t>(batch.data() + F::kProducerEpochOffset, epoch.value());
  StoreBigEndian<int32_t>(batch.data() + F::kBaseSequenceOffset, base_sequence.value());
  UpdateBatchCrc(batch);
}

void SetLogAppendTime(MutableByteView batch, int64_t timestamp_ms) {
  EVLOG_CHECK_GE(batch.size(), F::kRecordBatchOverhead);
  auto attributes = LoadBigEndian<uint16_t>(batch.data() + F::kAttributesOffset);
  attributes = static_cast<uint16_t>(attributes | F::kTimestampTypeMask);
  StoreBigEndian<uint16_t>(batch.data() + F::kAttributesOffset, attributes);
  StoreBigEndian<int64_t>(batch.data() + F::kMaxTimestampOffset, timestamp_ms);
  UpdateBatchCrc(batch);
}

}  // namespace evlog
