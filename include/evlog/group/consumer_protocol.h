// evlog/group/consumer_protocol.h — Kafka's consumer embedded protocol: the
// bytes a consumer puts in its JoinGroup protocol metadata (its
// subscription) and the bytes the group leader hands each member through
// SyncGroup (its assignment). The group coordinator treats both as opaque;
// only members and the assigning leader read them, so the layout is Kafka's
// own and a Kafka client and an evlog member can share a group
// (docs/format/consumer_protocol.md has the grammar).
//
//   ConsumerSubscription sub;
//   sub.topics = {"orders", "payments"};
//   sub.owned_partitions = {{"orders", 0}, {"orders", 3}};
//   sub.generation = Generation(7);
//   EVLOG_ASSIGN_OR_RETURN(std::string metadata, EncodeSubscription(sub));
//   // ... JoinGroup with protocol type kConsumerProtocolType and `metadata`.
//   // The leader: DecodeSubscription(member.metadata) for each member, runs
//   // an Assignor, then EncodeAssignment(...) for each member's SyncGroup.
//
// Versions 0 to 3, the same numbers for both messages (Kafka keeps them in
// step). Version 1 added owned partitions (KIP-429), 2 the generation they
// were owned in, 3 the member's rack (KIP-881); assignments did not change.
//
// Decoding follows Kafka's ConsumerProtocol: a version newer than 3 is read
// as version 3, and bytes after the last field are ignored, so a newer
// client that appends fields still joins. Within the fields a version has,
// decoding is strict: input that is short, a negative version, a length
// below 0 (other than -1 for the nullable user data and rack id), or a
// count more than the remaining bytes could hold is CORRUPT_MESSAGE, never
// a crash, a read past the input or an allocation the input cannot back.
//
// Thread-safety: pure functions on values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/types.h"

namespace evlog {

// The protocol type consumers name in JoinGroup (Kafka's
// ConsumerProtocol.PROTOCOL_TYPE); the group's protocols are then assignor
// names ("range", "cooperative-sticky", ...) with these messages as metadata.
inline constexpr std::string_view kConsumerProtocolType = "consumer";

namespace consumer_protocol_format {

// What Kafka 3.5 and later write, and the newest version this build reads
// field by field; newer versions are read as this one.
inline constexpr int16_t kConsumerProtocolVersion = 3;
inline constexpr int16_t kMaxConsumerProtocolVersion = 3;

// Strings are an int16 length then the bytes: at most INT16_MAX bytes.
inline constexpr size_t kMaxStringBytes = 32767;
// Bytes and arrays are an int32 length or count.
inline constexpr size_t kMaxBytes = 2147483647;

// The least an array element can take, which bounds a count by the bytes
// left: a string (its length), a partition id, and a topic's partitions
// (topic length and partition count).
inline constexpr size_t kMinStringBytes = 2;
inline constexpr size_t kPartitionBytes = 4;
inline constexpr size_t kMinTopicPartitionsBytes = kMinStringBytes + 4;
static_assert(kMinTopicPartitionsBytes == 6);

// A decoded partition copies its topic name, so a long name followed by a
// long run of 4-byte partition ids would turn a small input into gigabytes
// (a 32 KiB name costs 8,000 times its id). Decoding refuses input whose
// partitions would copy more than this many bytes of names: a member owning
// 100,000 partitions of 249-character topics (Kafka's longest) needs 25 MB.
inline constexpr size_t kMaxDecodedPartitionNameBytes = size_t{64} << 20;

}  // namespace consumer_protocol_format

// A member's subscription (Kafka ConsumerProtocolSubscription), the
// metadata of each protocol it lists in JoinGroup.
struct ConsumerSubscription {
  // The topics it subscribes to. Encoded sorted, as Kafka does; decoded in
  // the order they were written.
  std::vector<std::string> topics;
  // The assignor's opaque data (e.g. the sticky assignor's state); null
  // and empty are different values on the wire and stay so.
  std::optional<std::string> user_data;
  // Version 1+: the partitions it owns now. Any order and duplicates on
  // encode; decoded sorted by (topic, partition), duplicates kept.
  std::vector<TopicPartition> owned_partitions;
  // Version 2+: the generation in which it was assigned `owned_partitions`;
  // -1 (kNoGeneration) when it owns nothing or the version lacks the field.
  Generation generation{-1};
  // Version 3+: the member's client.rack, for rack-aware assignment.
  // Decoding an empty rack id gives std::nullopt, as Kafka's consumer does:
  // an empty client.rack means "no rack".
  std::optional<std::string> rack_id;

  friend bool operator==(const ConsumerSubscription&, const ConsumerSubscription&) = default;
};

// What the leader assigns one member (Kafka ConsumerProtocolAssignment),
// carried by SyncGroup.
struct ConsumerAssignment {
  // The member's partitions. Any order and duplicates on encode; decoded
  // sorted by (topic, partition), duplicates kept.
  std::vector<TopicPartition> partitions;
  // The assignor's opaque data; null and empty stay different.
  std::optional<std::string> user_data;

  friend bool operator==(const ConsumerAssignment&, const ConsumerAssignment&) = default;
};

// The version at the front of a subscription or assignment, as written
// (possibly negative or newer than this build reads), without decoding the
// rest. Errors: CORRUPT_MESSAGE when shorter than 2 bytes.
[[nodiscard]] absl::StatusOr<int16_t> PeekConsumerProtocolVersion(std::string_view bytes);

// Encodes `subscription` in `version` (0 to 3; 3 unless the group has older
// members that must read it). Topics are written sorted and owned
// partitions grouped by topic, sorted, so equal subscriptions encode to
// equal bytes, as they do from Kafka's client. Fields the version lacks are
// dropped. Errors: INVALID_REQUEST for a version outside 0 to 3 (Kafka's
// client writes 3 instead; a caller asking for a version it cannot have is
// a bug here), a topic name or rack id longer than kMaxStringBytes, user
// data longer than kMaxBytes, or a negative partition id.
[[nodiscard]] absl::StatusOr<std::string> EncodeSubscription(
    const ConsumerSubscription& subscription,
    int16_t version = consumer_protocol_format::kConsumerProtocolVersion);

// Decodes a subscription of any version >= 0 (see the top of this file for
// newer versions and trailing bytes). Fields the version lacks take their
// defaults: no owned partitions, generation -1, no rack id. Partition ids
// are not checked for sign, as Kafka does not; assignors ignore claims to
// partitions that do not exist. Errors: CORRUPT_MESSAGE (short input, a
// negative version, a bad length or count, owned partitions whose topic
// names would copy more than kMaxDecodedPartitionNameBytes).
[[nodiscard]] absl::StatusOr<ConsumerSubscription> DecodeSubscription(std::string_view bytes);

// Encodes `assignment` in `version` (0 to 3; all have the same layout),
// partitions grouped by topic, sorted. Errors: INVALID_REQUEST for a
// version outside 0 to 3, a topic name longer than kMaxStringBytes, user
// data longer than kMaxBytes, or a negative partition id.
[[nodiscard]] absl::StatusOr<std::string> EncodeAssignment(
    const ConsumerAssignment& assignment,
    int16_t version = consumer_protocol_format::kConsumerProtocolVersion);

// Decodes an assignment of any version >= 0, as DecodeSubscription does.
// Errors: CORRUPT_MESSAGE (short input, a negative version, a bad length or
// count, partitions whose topic names would copy more than
// kMaxDecodedPartitionNameBytes).
[[nodiscard]] absl::StatusOr<ConsumerAssignment> DecodeAssignment(std::string_view bytes);

}  // namespace evlog
