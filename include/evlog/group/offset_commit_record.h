// evlog/group/offset_commit_record.h — the records of `__consumer_offsets`:
// a committed offset is a record whose key names (group, topic, partition)
// and whose value holds the offset, in Kafka's own layout, so a log written
// here reads with Kafka's tools and a Kafka log replays here
// (docs/format/consumer_offsets.md has the grammar).
//
//   OffsetCommitKey key{"billing", "orders", PartitionId(3)};
//   OffsetCommitValue value;
//   value.offset = Offset(42);
//   value.commit_timestamp_ms = now_ms;
//   EVLOG_ASSIGN_OR_RETURN(std::vector<std::byte> k, EncodeOffsetCommitKey(key));
//   EVLOG_ASSIGN_OR_RETURN(std::vector<std::byte> v, EncodeOffsetCommitValue(value));
//   // ... a record (k, v) in the group's partition; (k, null) deletes it.
//
// Every record key of the topic starts with a big-endian int16 that Kafka
// calls the key version but uses as the record type: 0 and 1 are offset
// commits, 2 group metadata, 3 and up the records of newer group protocols.
// Decoding is strict: input that is short, has a bad length, an unknown
// version or bytes left over is CORRUPT_MESSAGE, never a crash or a read
// past the input.
//
// Thread-safety: pure functions on values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/types.h"

namespace evlog {

namespace consumer_offsets_format {

// Record types by key version (Kafka GroupCoordinatorRecordSerde).
inline constexpr int16_t kOffsetCommitKeyVersion0 = 0;
// What Kafka (and evlog) writes; the same layout as version 0.
inline constexpr int16_t kOffsetCommitKeyVersion = 1;
inline constexpr int16_t kGroupMetadataKeyVersion = 2;
// Versions 3 to this one are Kafka's KIP-848 consumer-group and share-group
// records (as of Kafka 4.0); the offset store skips them.
inline constexpr int16_t kLastKnownGroupRecordKeyVersion = 15;

// OffsetCommitValue versions: 0 (offset, metadata, commit timestamp), 1
// (+ expire timestamp), 2 (as 0), 3 (+ leader epoch, what Kafka 2.1+ and
// evlog write). Version 4 is Kafka's first "flexible" version, which Kafka
// itself does not write; it is refused like any unknown version.
inline constexpr int16_t kOffsetCommitValueVersion = 3;
inline constexpr int16_t kMaxOffsetCommitValueVersion = 3;

// Strings are an int16 length then the bytes: at most INT16_MAX bytes.
inline constexpr size_t kMaxStringBytes = 32767;
// The fixed part of a key: version, two string lengths, partition.
inline constexpr size_t kKeyFixedBytes = 2 + 2 + 2 + 4;
// The fixed part of a version 3 value: version, offset, leader epoch,
// metadata length, commit timestamp.
inline constexpr size_t kValueV3FixedBytes = 2 + 8 + 4 + 2 + 8;
static_assert(kKeyFixedBytes == 10);
static_assert(kValueV3FixedBytes == 24);

}  // namespace consumer_offsets_format

// The key of a committed offset (Kafka OffsetCommitKey).
struct OffsetCommitKey {
  std::string group;
  std::string topic;
  PartitionId partition{0};

  friend bool operator==(const OffsetCommitKey&, const OffsetCommitKey&) = default;
};

// The value of a committed offset (Kafka OffsetCommitValue); it is also
// what the offset store hands back as a committed offset.
struct OffsetCommitValue {
  // The next offset the group will consume.
  Offset offset{0};
  // Leader epoch of the record before `offset` as the consumer saw it
  // (KIP-320, to detect log truncation); kNoLeaderEpoch when unknown.
  LeaderEpoch leader_epoch = kNoLeaderEpoch;
  // The application's string, at most offset.metadata.max.bytes.
  std::string metadata;
  // When the commit was made (the coordinator's clock).
  int64_t commit_timestamp_ms = -1;
  // Only in version 1 values, from clients that asked for a retention
  // of their own (before Kafka 2.1): the offset expires then.
  std::optional<int64_t> expire_timestamp_ms;

  friend bool operator==(const OffsetCommitValue&, const OffsetCommitValue&) = default;
};

// The key version (record type) at the front of `key`, without decoding
// the rest. Errors: CORRUPT_MESSAGE when shorter than 2 bytes.
[[nodiscard]] absl::StatusOr<int16_t> PeekConsumerOffsetsKeyVersion(ByteView key);

// Encodes `key` with key version 1. Errors: INVALID_REQUEST when the group
// or topic is longer than kMaxStringBytes.
[[nodiscard]] absl::StatusOr<std::vector<std::byte>> EncodeOffsetCommitKey(
    const OffsetCommitKey& key);

// Decodes a key of version 0 or 1. Errors: CORRUPT_MESSAGE (short, a
// negative or overlong string length, another version, trailing bytes).
[[nodiscard]] absl::StatusOr<OffsetCommitKey> DecodeOffsetCommitKey(ByteView key);

// Encodes `value` in `version` (0 to 3; 3 unless a test needs an old
// layout). Fields the version lacks are dropped; version 1 writes
// expire_timestamp_ms or -1. Errors: INVALID_REQUEST when the metadata is
// longer than kMaxStringBytes or the version is not 0 to 3.
[[nodiscard]] absl::StatusOr<std::vector<std::byte>> EncodeOffsetCommitValue(
    const OffsetCommitValue& value,
    int16_t version = consumer_offsets_format::kOffsetCommitValueVersion);

// Decodes a value of version 0 to 3. Fields the version lacks take their
// defaults (no leader epoch, no expire timestamp; version 1's -1 expire
// timestamp also means none). Errors: CORRUPT_MESSAGE (short, a negative
// or overlong string length, an unknown version, trailing bytes).
[[nodiscard]] absl::StatusOr<OffsetCommitValue> DecodeOffsetCommitValue(ByteView value);

}  // namespace evlog
