// evlog/replication/metadata_records.h — the controller's decisions, as
// records of the metadata log (KRaft style).
//
// Every change the Controller makes to the cluster — a broker registered,
// fenced or unfenced, a topic created or removed, a partition's ISR or
// leader changed — is one of these records, appended to the metadata log
// before it takes effect. Replaying the log in order rebuilds the cluster's
// state (MetadataImage), on the controller after a restart and on every
// broker that follows the log.
//
//   evlog::PartitionChangeRecord change;
//   change.topic_id = id;
//   change.partition = evlog::PartitionId(2);
//   change.isr = std::vector<evlog::BrokerId>{evlog::BrokerId(1), evlog::BrokerId(3)};
//   EVLOG_ASSIGN_OR_RETURN(std::vector<std::byte> bytes, evlog::EncodeMetadataRecord(change));
//   EVLOG_ASSIGN_OR_RETURN(evlog::MetadataRecord back, evlog::DecodeMetadataRecord(bytes));
//
// The record types and their numbers are Kafka's (MetadataRecordType:
// RegisterBrokerRecord 0, UnregisterBrokerRecord 1, TopicRecord 2,
// PartitionRecord 3, PartitionChangeRecord 5, FenceBrokerRecord 7,
// UnfenceBrokerRecord 8, RemoveTopicRecord 9); the byte layout is evlog's
// own (docs/format/metadata_records.md), each record opening with its type
// and a version so that a reader can refuse what it does not know instead
// of misreading it. Decoding is strict: input that is short, has a bad
// length or count, or bytes left over is CORRUPT_MESSAGE; a type or version
// this build does not know is UNSUPPORTED_VERSION. Neither ever crashes or
// reads past the input.
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/replication/partition_state.h"
#include "evlog/types.h"

namespace evlog {

struct TopicIdTag {};
// A topic's identity, distinct from its name: a topic deleted and created
// again under the same name gets a new id (Kafka's topic UUID, here 64
// bits). kNoTopicId (0) is never assigned.
using TopicId = StrongInt<TopicIdTag, uint64_t>;
inline constexpr TopicId kNoTopicId{0};

namespace metadata_format {

// Record types (Kafka's MetadataRecordType numbers).
inline constexpr int16_t kRegisterBrokerType = 0;
inline constexpr int16_t kUnregisterBrokerType = 1;
inline constexpr int16_t kTopicType = 2;
inline constexpr int16_t kPartitionType = 3;
inline constexpr int16_t kPartitionChangeType = 5;
inline constexpr int16_t kFenceBrokerType = 7;
inline constexpr int16_t kUnfenceBrokerType = 8;
inline constexpr int16_t kRemoveTopicType = 9;

// The one version of every record type this build writes and reads.
inline constexpr int16_t kRecordVersion = 0;

// Every record starts with type:int16 version:int16.
inline constexpr size_t kHeaderBytes = 2 + 2;
// Strings are an int16 length then the bytes.
inline constexpr size_t kMaxStringBytes = 32767;
// Replica lists longer than this are refused by the encoder: Kafka caps a
// replication factor at Short.MAX_VALUE, and no real cluster comes near.
inline constexpr size_t kMaxReplicas = 32767;
static_assert(kHeaderBytes == 4);

}  // namespace metadata_format

// A broker joined (or joined again): it gets epoch `broker_epoch` and
// starts fenced. Kafka's broker epoch is the offset of this record in the
// metadata log, which the Controller follows, so every registration gets a
// larger epoch than any before it.
struct RegisterBrokerRecord {
  BrokerId broker_id{0};
  int64_t broker_epoch = 0;
  // Chosen by the broker process at start-up; tells a restarted broker
  // (a new incarnation) from a retry of the same one.
  uint64_t incarnation_id = 0;
  // The rack (availability zone) for rack-aware placement; nullopt: none.
  std::optional<std::string> rack;
  // How to reach the broker, opaque to the controller ("host:port").
  std::string endpoint;

  friend bool operator==(const RegisterBrokerRecord&, const RegisterBrokerRecord&) = default;
};

// The broker left the cluster for good (Kafka UnregisterBroker).
struct UnregisterBrokerRecord {
  BrokerId broker_id{0};
  int64_t broker_epoch = 0;

  friend bool operator==(const UnregisterBrokerRecord&, const UnregisterBrokerRecord&) = default;
};

// The broker may no longer lead or be in an ISR: it missed its session
// timeout, asked to be fenced, or is shutting down.
struct FenceBrokerRecord {
  BrokerId broker_id{0};
  int64_t broker_epoch = 0;

  friend bool operator==(const FenceBrokerRecord&, const FenceBrokerRecord&) = default;
};

// The broker caught up with the metadata log and may lead again.
struct UnfenceBrokerRecord {
  BrokerId broker_id{0};
  int64_t broker_epoch = 0;

  friend bool operator==(const UnfenceBrokerRecord&, const UnfenceBrokerRecord&) = default;
};

// A topic was created. Its partitions follow as PartitionRecords.
struct TopicRecord {
  std::string name;
  TopicId topic_id;
  // Overrides of topic settings by their Kafka names ("retention.ms").
  std::map<std::string, std::string> configs;
  // Kafka unclean.leader.election.enable: when every ISR member is gone,
  // elect any live replica (losing what only the ISR had) rather than leave
  // the partition offline.
  bool allow_unclean_election = false;

  friend bool operator==(const TopicRecord&, const TopicRecord&) = default;
};

// A partition's complete state: written when the partition is created.
struct PartitionRecord {
  TopicId topic_id;
  PartitionId partition{0};
  // In preference order: replicas[0] is the preferred leader.
  std::vector<BrokerId> replicas;
  std::vector<BrokerId> isr;
  BrokerId leader = kNoLeader;
  LeaderEpoch leader_epoch{0};
  // Bumped by every change to the partition (Kafka's partition epoch), so
  // an AlterPartition based on an older state is refused.
  int32_t partition_epoch = 0;

  friend bool operator==(const PartitionRecord&, const PartitionRecord&) = default;
};

// A change to an existing partition; fields left nullopt keep their value.
// Applying it always bumps partition_epoch by one, and bumps leader_epoch
// by one when `leader` is set (even to the same broker or to kNoLeader:
// Kafka bumps the leader epoch whenever the record names a leader).
struct PartitionChangeRecord {
  TopicId topic_id;
  PartitionId partition{0};
  std::optional<std::vector<BrokerId>> isr;
  std::optional<BrokerId> leader;
  std::optional<std::vector<BrokerId>> replicas;

  friend bool operator==(const PartitionChangeRecord&, const PartitionChangeRecord&) = default;
};

// A topic and all its partitions were deleted.
struct RemoveTopicRecord {
  TopicId topic_id;

  friend bool operator==(const RemoveTopicRecord&, const RemoveTopicRecord&) = default;
};

using MetadataRecord = std::variant<RegisterBrokerRecord, UnregisterBrokerRecord, FenceBrokerRecord,
                                    UnfenceBrokerRecord, TopicRecord, PartitionRecord,
                                    PartitionChangeRecord, RemoveTopicRecord>;

// Kafka's type number of `record` (metadata_format::k*Type).
[[nodiscard]] int16_t MetadataRecordType(const MetadataRecord& record);

// "PartitionChangeRecord(topic_id=7, partition=2, isr=[1,3])" for logs and
// test failures.
[[nodiscard]] std::string MetadataRecordToString(const MetadataRecord& record);

// Encodes `record` (type, version, fields). Errors: INVALID_REQUEST when a
// string is longer than metadata_format::kMaxStringBytes or a replica list
// longer than kMaxReplicas.
[[nodiscard]] absl::StatusOr<std::vector<std::byte>> EncodeMetadataRecord(
    const MetadataRecord& record);

// Decodes one record that fills `bytes` exactly. Errors: CORRUPT_MESSAGE
// (short input, a negative or overlong length or count, a bool that is
// neither 0 nor 1, trailing bytes); UNSUPPORTED_VERSION (a type or version
// this build does not know).
[[nodiscard]] absl::StatusOr<MetadataRecord> DecodeMetadataRecord(ByteView bytes);

}  // namespace evlog
