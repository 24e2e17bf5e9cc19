// evlog/record/record_format.h — constants of Kafka's RecordBatch v2 format.
//
// A batch is a fixed 61-byte big-endian header followed by the records
// section (varint-encoded records, possibly compressed as a whole). The
// grammar, with what each field means, is in docs/format/record_batch.md;
// this header holds only the numbers, so that the encoder, the decoder and
// the storage layer agree on them by construction.
//
//   offset  size  field
//        0     8  baseOffset            (not covered by the CRC)
//        8     4  batchLength           bytes after this field
//       12     4  partitionLeaderEpoch  (not covered by the CRC)
//       16     1  magic = 2
//       17     4  crc                   CRC32C of bytes [21, end)
//       21     2  attributes
//       23     4  lastOffsetDelta
//       27     8  baseTimestamp
//       35     8  maxTimestamp
//       43     8  producerId
//       51     2  producerEpoch
//       53     4  baseSequence
//       57     4  recordsCount
//       61        records...
//
// Thread-safety: constants only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace evlog {

// Compression codec in attribute bits 0-2. evlog reads and writes kNone and
// kZstd; the others are valid Kafka codecs that evlog does not implement
// (UNSUPPORTED_COMPRESSION_TYPE), and values 5-7 are undefined (corrupt).
enum class CompressionType : uint8_t {
  kNone = 0,
  kGzip = 1,
  kSnappy = 2,
  kLz4 = 3,
  kZstd = 4,
};

// Attribute bit 3: where the records' timestamps come from.
enum class TimestampType : uint8_t {
  kCreateTime = 0,     // per record: baseTimestamp + timestampDelta
  kLogAppendTime = 1,  // every record: maxTimestamp, stamped by the log
};

// The `type` field of a control record's key.
enum class ControlRecordType : int16_t {
  kAbort = 0,
  kCommit = 1,
  // Used by KRaft metadata logs; evlog neither writes nor interprets them.
  kLeaderChange = 2,
  kSnapshotHeader = 3,
  kSnapshotFooter = 4,
  kKraftVersion = 5,
  kKraftVoters = 6,
};

namespace record_format {

// --- Batch header field offsets (bytes from the start of the batch). ---
inline constexpr size_t kBaseOffsetOffset = 0;
inline constexpr size_t kBaseOffsetLength = 8;
inline constexpr size_t kBatchLengthOffset = kBaseOffsetOffset + kBaseOffsetLength;  // 8
inline constexpr size_t kBatchLengthLength = 4;
inline constexpr size_t kPartitionLeaderEpochOffset = kBatchLengthOffset + kBatchLengthLength;
inline constexpr size_t kPartitionLeaderEpochLength = 4;
inline constexpr size_t kMagicOffset = kPartitionLeaderEpochOffset + kPartitionLeaderEpochLength;
inline constexpr size_t kMagicLength = 1;
inline constexpr size_t kCrcOffset = kMagicOffset + kMagicLength;  // 17
inline constexpr size_t kCrcLength = 4;
inline constexpr size_t kAttributesOffset = kCrcOffset + kCrcLength;  // 21
inline constexpr size_t kAttributesLength = 2;
inline constexpr size_t kLastOffsetDeltaOffset = kAttributesOffset + kAttributesLength;
inline constexpr size_t kLastOffsetDeltaLength = 4;
inline constexpr size_t kBaseTimestampOffset = kLastOffsetDeltaOffset + kLastOffsetDeltaLength;
inline constexpr size_t kBaseTimestampLength = 8;
inline constexpr size_t kMaxTimestampOffset = kBaseTimestampOffset + kBaseTimestampLength;
inline constexpr size_t kMaxTimestampLength = 8;
inline constexpr size_t kProducerIdOffset = kMaxTimestampOffset + kMaxTimestampLength;
inline constexpr size_t kProducerIdLength = 8;
inline constexpr size_t kProducerEpochOffset = kProducerIdOffset + kProducerIdLength;
inline constexpr size_t kProducerEpochLength = 2;
inline constexpr size_t kBaseSequenceOffset = kProducerEpochOffset + kProducerEpochLength;
inline constexpr size_t kBaseSequenceLength = 4;
inline constexpr size_t kRecordsCountOffset = kBaseSequenceOffset + kBaseSequenceLength;
inline constexpr size_t kRecordsCountLength = 4;
inline constexpr size_t kRecordsOffset = kRecordsCountOffset + kRecordsCountLength;

// baseOffset + batchLength: the part of a batch that precedes what
// batchLength counts (Kafka's LOG_OVERHEAD).
inline constexpr size_t kLogOverhead = kBaseOffsetLength + kBatchLengthLength;
// The header of a batch with no records (Kafka's RECORD_BATCH_OVERHEAD).
inline constexpr size_t kRecordBatchOverhead = kRecordsOffset;
// The smallest legal batchLength: a header with an empty records section.
inline constexpr int32_t kMinBatchLength =
    static_cast<int32_t>(kRecordBatchOverhead - kLogOverhead);
// The CRC covers [kCrcCoveredOffset, end of batch).
inline constexpr size_t kCrcCoveredOffset = kAttributesOffset;

static_assert(kBatchLengthOffset == 8);
static_assert(kPartitionLeaderEpochOffset == 12);
static_assert(kMagicOffset == 16);
static_assert(kCrcOffset == 17);
static_assert(kAttributesOffset == 21);
static_assert(kLastOffsetDeltaOffset == 23);
static_assert(kBaseTimestampOffset == 27);
static_assert(kMaxTimestampOffset == 35);
static_assert(kProducerIdOffset == 43);
static_assert(kProducerEpochOffset == 51);
static_assert(kBaseSequenceOffset == 53);
static_assert(kRecordsCountOffset == 57);
static_assert(kLogOverhead == 12);
static_assert(kRecordBatchOverhead == 61);
static_assert(kMinBatchLength == 49);
// The fields outside the CRC are exactly the ones the log rewrites on
// append (baseOffset, partitionLeaderEpoch) plus the length and magic that
// must be read before the CRC can be located.
static_assert(kCrcCoveredOffset == kCrcOffset + kCrcLength);

// --- Magic. ---
inline constexpr int8_t kMagicV2 = 2;

// --- Attribute bits (int16). ---
inline constexpr uint16_t kCompressionCodecMask = 0x07;
inline constexpr uint16_t kTimestampTypeMask = 0x08;
inline constexpr uint16_t kTransactionalFlagMask = 0x10;
inline constexpr uint16_t kControlFlagMask = 0x20;
inline constexpr uint16_t kDeleteHorizonFlagMask = 0x40;
static_assert((kCompressionCodecMask & kTimestampTypeMask) == 0);
static_assert(static_cast<uint16_t>(CompressionType::kZstd) <= kCompressionCodecMask);

// --- "None" sentinels in the header. ---
inline constexpr int64_t kNoTimestamp = -1;
inline constexpr int32_t kNoPartitionLeaderEpoch = -1;
inline constexpr int64_t kNoProducerId = -1;
inline constexpr int16_t kNoProducerEpoch = -1;
inline constexpr int32_t kNoSequence = -1;

// --- Records. ---
// Length of a null key, value or header value.
inline constexpr int32_t kNullLength = -1;
// A ZigZag varint of an int32 takes at most 5 bytes, of an int64 at most 10.
inline constexpr size_t kMaxVarintBytes = 5;
inline constexpr size_t kMaxVarlongBytes = 10;
// The smallest encoded record: length, attributes, timestampDelta,
// offsetDelta, keyLength, valueLength, headersCount, one byte each. Used to
// reject a recordsCount that could not fit in the bytes present.
inline constexpr size_t kMinRecordBytes = 7;
// The smallest record body (everything after the length varint).
inline constexpr size_t kMinRecordBodyBytes = kMinRecordBytes - 1;

// --- Control records. ---
// Key: version int16, type int16. End-transaction marker value: version
// int16, coordinatorEpoch int32.
inline constexpr int16_t kControlRecordKeyVersion = 0;
inline constexpr size_t kControlRecordKeyBytes = 4;
inline constexpr int16_t kEndTxnMarkerValueVersion = 0;
inline constexpr size_t kEndTxnMarkerValueBytes = 6;

}  // namespace record_format
}  // namespace evlog
