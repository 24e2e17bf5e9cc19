#include "evlog/replication/metadata_records.h"

#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "evlog/record/internal/wire.h"
#include "evlog/status.h"

namespace evlog {

using internal::ToAbsl;
using internal::WireReader;
using internal::WireWriter;
namespace mf = metadata_format;

namespace {

template <typename>
inline constexpr bool kAlwaysFalse = false;

absl::Status TooLong(std::string_view what, size_t size, size_t limit) {
  return MakeError(ErrorCode::kInvalidRequest,
                   absl::StrCat(ToAbsl(what), " is ", size, " long, the limit is ", limit));
}

// Encoding helpers: each checks the limit the wire format imposes, so that
// what is written can always be read back.
class Encoder {
 public:
  absl::Status String(std::string_view what, std::string_view s) {
    if (s.size() > mf::kMaxStringBytes) return TooLong(what, s.size(), mf::kMaxStringBytes);
    out_.String(s);
    return absl::OkStatus();
  }
  absl::Status NullableString(std::string_view what, const std::optional<std::string>& s) {
    if (s && s->size() > mf::kMaxStringBytes) {
      return TooLong(what, s->size(), mf::kMaxStringBytes);
    }
    out_.NullableString(s);
    return absl::OkStatus();
  }
  absl::Status Brokers(std::string_view what, const std::vector<BrokerId>& ids) {
    if (ids.size() > mf::kMaxReplicas) return TooLong(what, ids.size(), mf::kMaxReplicas);
    out_.Count(ids.size());
    for (BrokerId id : ids) out_.Int(id);
    return absl::OkStatus();
  }
  // present:bool, then the list when present.
  absl::Status OptionalBrokers(std::string_view what,
                               const std::optional<std::vector<BrokerId>>& ids) {
    out_.Bool(ids.has_value());
    return ids ? Brokers(what, *ids) : absl::OkStatus();
  }
  WireWriter& out() { return out_; }

 private:
  WireWriter out_;
};

absl::Status EncodeFields(Encoder& e, const RegisterBrokerRecord& r) {
  e.out().Int(r.broker_id);
  e.out().Int(r.broker_epoch);
  e.out().Int(r.incarnation_id);
  EVLOG_RETURN_IF_ERROR(e.NullableString("rack", r.rack));
  return e.String("endpoint", r.endpoint);
}

template <typename R>
requires std::is_same_v<R, UnregisterBrokerRecord> || std::is_same_v<R, FenceBrokerRecord> ||
    std::is_same_v<R, UnfenceBrokerRecord>
        absl::Status EncodeFields(Encoder& e, const R& r) {
  e.out().Int(r.broker_id);
  e.out().Int(r.broker_epoch);
  return absl::OkStatus();
}

absl::Status EncodeFields(Encoder& e, const TopicRecord& r) {
  EVLOG_RETURN_IF_ERROR(e.String("topic name", r.name));
  e.out().Int(r.topic_id);
  e.out().Count(r.configs.size());
  for (const auto& [name, value] : r.configs) {
    EVLOG_RETURN_IF_ERROR(e.String("config name", name));
    EVLOG_RETURN_IF_ERROR(e.String("config value", value));
  }
  e.out().Bool(r.allow_unclean_election);
  return absl::OkStatus();
}

absl::Status EncodeFields(Encoder& e, const PartitionRecord& r) {
  e.out().Int(r.topic_id);
  e.out().Int(r.partition);
  EVLOG_RETURN_IF_ERROR(e.Brokers("replicas", r.replicas));
  EVLOG_RETURN_IF_ERROR(e.Brokers("isr", r.isr));
  e.out().Int(r.leader);
  e.out().Int(r.leader_epoch);
  e.out().Int(r.partition_epoch);
  return absl::OkStatus();
}

absl::Status EncodeFields(Encoder& e, const PartitionChangeRecord& r) {
  e.out().Int(r.topic_id);
  e.out().Int(r.partition);
  EVLOG_RETURN_IF_ERROR(e.OptionalBrokers("isr", r.isr));
  e.out().Bool(r.leader.has_value());
  if (r.leader) e.out().Int(*r.leader);
  return e.OptionalBrokers("replicas", r.replicas);
}

absl::Status EncodeFields(Encoder& e, const RemoveTopicRecord& r) {
  e.out().Int(r.topic_id);
  return absl::OkStatus();
}

// Decoding: each reader returns false at the first field that does not
// fit; the caller turns that into CORRUPT_MESSAGE.
bool ReadBrokers(WireReader& in, std::vector<BrokerId>& ids) {
  size_t n;
  if (!in.Count(sizeof(int32_t), n)) return false;
  ids.resize(n);
  for (BrokerId& id : ids) {
    if (!in.Int(id)) return false;
  }
  return true;
}

bool ReadOptionalBrokers(WireReader& in, std::optional<std::vector<BrokerId>>& ids) {
  bool present;
  if (!in.Bool(present)) return false;
  if (!present) {
    ids.reset();
    return true;
  }
  return ReadBrokers(in, ids.emplace());
}

bool ReadFields(WireReader& in, RegisterBrokerRecord& r) {
  return in.Int(r.broker_id) && in.Int(r.broker_epoch) && in.Int(r.incarnation_id) &&
         in.NullableString(r.rack) && in.String(r.endpoint);
}

template <typename R>
requires std::is_same_v<R, UnregisterBrokerRecord> || std::is_same_v<R, FenceBrokerRecord> ||
    std::is_same_v<R, UnfenceBrokerRecord>
bool ReadFields(WireReader& in, R& r) { return in.Int(r.broker_id) && in.Int(r.broker_epoch); }

bool ReadFields(WireReader& in, TopicRecord& r) {
  size_t n;
  if (!in.String(r.name) || !in.Int(r.topic_id) || !in.Count(2 + 2, n)) return false;
  for (size_t i = 0; i < n; ++i) {
    std::string name, value;
    if (!in.String(name) || !in.String(value)) return false;
    // A name twice would make the map hold less than was written.
    if (!r.configs.emplace(std::move(name), std::move(value)).second) return false;
  }
  return in.Bool(r.allow_unclean_election);
}

bool ReadFields(WireReader& in, PartitionRecord& r) {
  return in.Int(r.topic_id) && in.Int(r.partition) && ReadBrokers(in, r.replicas) &&
         ReadBrokers(in, r.isr) && in.Int(r.leader) && in.Int(r.leader_epoch) &&
         in.Int(r.partition_epoch);
}

bool ReadFields(WireReader& in, PartitionChangeRecord& r) {
  if (!in.Int(r.topic_id) || !in.Int(r.partition) || !ReadOptionalBrokers(in, r.isr)) {
    return false;
  }
  bool has_leader;
  if (!in.Bool(has_leader)) return false;
  if (has_leader) {
    BrokerId leader;
    if (!in.Int(leader)) return false;
    r.leader = leader;
  }
  return ReadOptionalBrokers(in, r.replicas);
}

bool ReadFields(WireReader& in, RemoveTopicRecord& r) { return in.Int(r.topic_id); }

template <typename R>
absl::StatusOr<MetadataRecord> DecodeAs(WireReader& in, std::string_view name) {
  // Built in place: GCC 12 at -O2 misreads moving a record into the variant
  // as reading uninitialised vectors (-Wmaybe-uninitialized).
  MetadataRecord out(std::in_place_type<R>);
  R& record = std::get<R>(out);
  if (!ReadFields(in, record)) {
    return MakeError(ErrorCode::kCorruptMessage,
                     absl::StrCat(ToAbsl(name), ": truncated or malformed field"));
  }
  if (!in.done()) {
    return MakeError(ErrorCode::kCorruptMessage,
                     absl::StrCat(ToAbsl(name), ": ", in.remaining(), " bytes after the record"));
  }
  return out;
}

std::string Ids(const std::vector<BrokerId>& ids) {
  return absl::StrCat(
      "[",
      absl::StrJoin(ids, ",",
                    [](std::string* out, BrokerId id) { absl::StrAppend(out, id.value()); }),
      "]");
}

}  // namespace

int16_t MetadataRecordType(const MetadataRecord& record) {
  return std::visit(
      [](const auto& r) -> int16_t {
        using R = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<R, RegisterBrokerRecord>) {
          return mf::kRegisterBrokerType;
        } else if constexpr (std::is_same_v<R, UnregisterBrokerRecord>) {
          return mf::kUnregisterBrokerType;
        } else if constexpr (std::is_same_v<R, FenceBrokerRecord>) {
          return mf::kFenceBrokerType;
        } else if constexpr (std::is_same_v<R, UnfenceBrokerRecord>) {
          return mf::kUnfenceBrokerType;
        } else if constexpr (std::is_same_v<R, TopicRecord>) {
          return mf::kTopicType;
        } else if constexpr (std::is_same_v<R, PartitionRecord>) {
          return mf::kPartitionType;
        } else if constexpr (std::is_same_v<R, PartitionChangeRecord>) {
          return mf::kPartitionChangeType;
        } else if constexpr (std::is_same_v<R, RemoveTopicRecord>) {
          return mf::kRemoveTopicType;
        } else {
          static_assert(kAlwaysFalse<R>, "a record type without a number");
        }
      },
      record);
}

std::string MetadataRecordToString(const MetadataRecord& record) {
  return std::visit(
      [](const auto& r) -> std::string {
        using R = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<R, RegisterBrokerRecord>) {
          return absl::StrCat("RegisterBrokerRecord(broker=", r.broker_id.value(),
                              ", epoch=", r.broker_epoch, ", incarnation=", r.incarnation_id,
                              ", rack=", r.rack ? *r.rack : "none", ", endpoint=", r.endpoint, ")");
        } else if constexpr (std::is_same_v<R, UnregisterBrokerRecord>) {
          return absl::StrCat("UnregisterBrokerRecord(broker=", r.broker_id.value(),
                              ", epoch=", r.broker_epoch, ")");
        } else if constexpr (std::is_same_v<R, FenceBrokerRecord>) {
          return absl::StrCat("FenceBrokerRecord(broker=", r.broker_id.value(),
                              ", epoch=", r.broker_epoch, ")");
        } else if constexpr (std::is_same_v<R, UnfenceBrokerRecord>) {
          return absl::StrCat("UnfenceBrokerRecord(broker=", r.broker_id.value(),
                              ", epoch=", r.broker_epoch, ")");
        } else if constexpr (std::is_same_v<R, TopicRecord>) {
          return absl::StrCat("TopicRecord(name=", r.name, ", topic_id=", r.topic_id.value(),
                              ", configs={",
                              absl::StrJoin(r.configs, ",", absl::PairFormatter("=")),
                              "}, unclean=", r.allow_unclean_election ? "true" : "false", ")");
        } else if constexpr (std::is_same_v<R, PartitionRecord>) {
          return absl::StrCat("PartitionRecord(topic_id=", r.topic_id.value(),
                              ", partition=", r.partition.value(), ", replicas=", Ids(r.replicas),
                              ", isr=", Ids(r.isr), ", leader=", r.leader.value(),
                              ", leader_epoch=", r.leader_epoch.value(),
                              ", partition_epoch=", r.partition_epoch, ")");
        } else if constexpr (std::is_same_v<R, PartitionChangeRecord>) {
          std::string s = absl::StrCat("PartitionChangeRecord(topic_id=", r.topic_id.value(),
                                       ", partition=", r.partition.value());
          if (r.isr) absl::StrAppend(&s, ", isr=", Ids(*r.isr));
          if (r.leader) absl::StrAppend(&s, ", leader=", r.leader->value());
          if (r.replicas) absl::StrAppend(&s, ", replicas=", Ids(*r.replicas));
          return s + ")";
        } else {
          static_assert(std::is_same_v<R, RemoveTopicRecord>);
          return absl::StrCat("RemoveTopicRecord(topic_id=", r.topic_id.value(), ")");
        }
      },
      record);
}

absl::StatusOr<std::vector<std::byte>> EncodeMetadataRecord(const MetadataRecord& record) {
  Encoder e;
  e.out().Int(MetadataRecordType(record));
  e.out().Int(mf::kRecordVersion);
  EVLOG_RETURN_IF_ERROR(std::visit([&e](const auto& r) { return EncodeFields(e, r); }, record));
  return std::move(e.out()).Take();
}

absl::StatusOr<MetadataRecord> DecodeMetadataRecord(ByteView bytes) {
  WireReader in(bytes);
  int16_t type, version;
  if (!in.Int(type) || !in.Int(version)) {
    return MakeError(ErrorCode::kCorruptMessage,
                     absl::StrCat("metadata record of ", bytes.size(),
                                  " bytes is shorter than its type and version"));
  }
  if (version != mf::kRecordVersion) {
    return MakeError(ErrorCode::kUnsupportedVersion,
                     absl::StrCat("metadata record type ", type, " version ", version,
                                  " (this build reads version ", mf::kRecordVersion, ")"));
  }
  switch (type) {
    case mf::kRegisterBrokerType:
      return DecodeAs<RegisterBrokerRecord>(in, "RegisterBrokerRecord");
    case mf::kUnregisterBrokerType:
      return DecodeAs<UnregisterBrokerRecord>(in, "UnregisterBrokerRecord");
    case mf::kFenceBrokerType:
      return DecodeAs<FenceBrokerRecord>(in, "FenceBrokerRecord");
    case mf::kUnfenceBrokerType:
      return DecodeAs<UnfenceBrokerRecord>(in, "UnfenceBrokerRecord");
    case mf::kTopicType:
      return DecodeAs<TopicRecord>(in, "TopicRecord");
    case mf::kPartitionType:
      return DecodeAs<PartitionRecord>(in, "PartitionRecord");
    case mf::kPartitionChangeType:
      return DecodeAs<PartitionChangeRecord>(in, "PartitionChangeRecord");
    case mf::kRemoveTopicType:
      return DecodeAs<RemoveTopicRecord>(in, "RemoveTopicRecord");
    default:
      // A type from a newer writer (Kafka has ConfigRecord, FeatureLevelRecord,
      // ...): refusing it is safer than skipping a decision.
      return MakeError(ErrorCode::kUnsupportedVersion,
                       absl::StrCat("unknown metadata record type ", type));
  }
}

}  // namespace evlog
