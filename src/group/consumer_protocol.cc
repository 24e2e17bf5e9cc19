#include "evlog/group/consumer_protocol.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/record/internal/wire.h"
#include "evlog/status.h"

namespace evlog {

namespace fmt = consumer_protocol_format;

namespace {

// The consumer protocol's bytes travel as std::string (JoinGroup metadata).
using Writer = internal::BasicWireWriter<std::string>;
using Reader = internal::WireReader;

absl::Status Corrupt(std::string_view what, std::string_view why) {
  return MakeError(
      ErrorCode::kCorruptMessage,
      absl::StrCat("consumer protocol ", internal::ToAbsl(what), ": ", internal::ToAbsl(why)));
}

absl::Status Invalid(std::string_view why) {
  return MakeError(ErrorCode::kInvalidRequest,
                   absl::StrCat("consumer protocol: ", internal::ToAbsl(why)));
}

absl::Status CheckVersion(int16_t version) {
  if (version < 0 || version > fmt::kMaxConsumerProtocolVersion) {
    return Invalid(
        absl::StrCat("version ", version, " is not 0 to ", fmt::kMaxConsumerProtocolVersion));
  }
  return absl::OkStatus();
}

absl::Status CheckString(std::string_view field, std::string_view s) {
  if (s.size() > fmt::kMaxStringBytes) {
    return Invalid(absl::StrCat(internal::ToAbsl(field), " of ", s.size(), " bytes is longer than ",
                                fmt::kMaxStringBytes));
  }
  return absl::OkStatus();
}

absl::Status CheckUserData(const std::optional<std::string>& user_data) {
  if (user_data && user_data->size() > fmt::kMaxBytes) {
    return Invalid(
        absl::StrCat("user data of ", user_data->size(), " bytes is longer than ", fmt::kMaxBytes));
  }
  return absl::OkStatus();
}

size_t NullableSize(const std::optional<std::string>& s) { return s ? s->size() : 0; }

// One topic's entry of a [TopicPartition] array.
struct TopicEntry {
  std::string_view topic;
  std::vector<int32_t> partitions;
};

// `partitions` as the wire groups them: by topic, both in ascending order.
// The result views the topic names of `partitions`.
absl::StatusOr<std::vector<TopicEntry>> GroupByTopic(
    const std::vector<TopicPartition>& partitions) {
  if (partitions.size() > fmt::kMaxBytes) {
    return Invalid(absl::StrCat(partitions.size(), " partitions do not fit an int32 count"));
  }
  std::vector<const TopicPartition*> sorted;
  sorted.reserve(partitions.size());
  for (const TopicPartition& tp : partitions) {
    EVLOG_RETURN_IF_ERROR(CheckString("topic name", tp.topic));
    if (tp.partition.value() < 0) {
      return Invalid(absl::StrCat("partition ", tp.ToString(), " has a negative id"));
    }
    sorted.push_back(&tp);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const TopicPartition* a, const TopicPartition* b) { return *a < *b; });
  std::vector<TopicEntry> entries;
  for (const TopicPartition* tp : sorted) {
    if (entries.empty() || entries.back().topic != tp->topic) entries.push_back({tp->topic, {}});
    entries.back().partitions.push_back(tp->partition.value());
  }
  return entries;
}

size_t TopicEntriesSize(const std::vector<TopicEntry>& entries) {
  size_t size = 4;
  for (const TopicEntry& e : entries) {
    size +=
        fmt::kMinTopicPartitionsBytes + e.topic.size() + fmt::kPartitionBytes * e.partitions.size();
  }
  return size;
}

void WriteTopicEntries(Writer& out, const std::vector<TopicEntry>& entries) {
  out.Count(entries.size());
  for (const TopicEntry& e : entries) {
    out.String(e.topic);
    out.Count(e.partitions.size());
    for (int32_t p : e.partitions) out.Int(p);
  }
}

// Reads a [TopicPartition] array as flat (topic, partition) pairs, in (topic,
// partition) order.
absl::StatusOr<std::vector<TopicPartition>> ReadTopicEntries(Reader& in, std::string_view what) {
  std::vector<TopicPartition> out;
  size_t topic_count;
  if (!in.Count(fmt::kMinTopicPartitionsBytes, topic_count)) {
    return Corrupt(what, "bad or truncated topic count");
  }
  size_t name_bytes = 0;
  for (size_t i = 0; i < topic_count; ++i) {
    std::string topic;
    size_t partition_count;
    if (!in.String(topic)) return Corrupt(what, "bad or truncated topic name");
    if (!in.Count(fmt::kPartitionBytes, partition_count)) {
      return Corrupt(what, absl::StrCat("bad or truncated partition count of topic ", topic));
    }
    if (!topic.empty() &&
        partition_count > (fmt::kMaxDecodedPartitionNameBytes - name_bytes) / topic.size()) {
      return Corrupt(
          what, absl::StrCat("partitions would copy more than ", fmt::kMaxDecodedPartitionNameBytes,
                             " bytes of topic names"));
    }
    name_bytes += partition_count * topic.size();
    for (size_t j = 0; j < partition_count; ++j) {
      int32_t partition;
      // Count() checked that the input holds every id.
      const bool read = in.Int(partition);
      EVLOG_CHECK(read);
      out.emplace_back(topic, PartitionId(partition));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The version at the front, and the version to read the rest as.
absl::StatusOr<int16_t> ReadVersion(Reader& in, std::string_view what) {
  int16_t version;
  if (!in.Int(version)) return Corrupt(what, "shorter than its 2-byte version");
  if (version < 0) return Corrupt(what, absl::StrCat("unsupported version ", version));
  // Kafka's rule: a newer version only appends fields.
  return std::min(version, fmt::kMaxConsumerProtocolVersion);
}

}  // namespace

absl::StatusOr<int16_t> PeekConsumerProtocolVersion(std::string_view bytes) {
  Reader in(bytes);
  int16_t version;
  if (!in.Int(version)) return Corrupt("message", "shorter than its 2-byte version");
  return version;
}

absl::StatusOr<std::string> EncodeSubscription(const ConsumerSubscription& subscription,
                                               int16_t version) {
  EVLOG_RETURN_IF_ERROR(CheckVersion(version));
  if (subscription.topics.size() > fmt::kMaxBytes) {
    return Invalid(absl::StrCat(subscription.topics.size(), " topics do not fit an int32 count"));
  }
  std::vector<std::string_view> topics;
  topics.reserve(subscription.topics.size());
  size_t size = 2 + 4 + 4 + NullableSize(subscription.user_data);
  for (const std::string& topic : subscription.topics) {
    EVLOG_RETURN_IF_ERROR(CheckString("topic name", topic));
    topics.push_back(topic);
    size += fmt::kMinStringBytes + topic.size();
  }
  std::sort(topics.begin(), topics.end());
  EVLOG_RETURN_IF_ERROR(CheckUserData(subscription.user_data));
  std::vector<TopicEntry> owned;
  if (version >= 1) {
    EVLOG_ASSIGN_OR_RETURN(owned, GroupByTopic(subscription.owned_partitions));
    size += TopicEntriesSize(owned);
  }
  if (version >= 2) size += 4;
  if (version >= 3) {
    if (subscription.rack_id) EVLOG_RETURN_IF_ERROR(CheckString("rack id", *subscription.rack_id));
    size += fmt::kMinStringBytes + NullableSize(subscription.rack_id);
  }

  Writer out(size);
  out.Int(version);
  out.Count(topics.size());
  for (std::string_view topic : topics) out.String(topic);
  out.NullableBytes(subscription.user_data);
  if (version >= 1) WriteTopicEntries(out, owned);
  if (version >= 2) out.Int(subscription.generation.value());
  if (version >= 3) out.NullableString(subscription.rack_id);
  return std::move(out).Take();
}

absl::StatusOr<ConsumerSubscription> DecodeSubscription(std::string_view bytes) {
  constexpr std::string_view kWhat = "subscription";
  Reader in(bytes);
  EVLOG_ASSIGN_OR_RETURN(const int16_t version, ReadVersion(in, kWhat));
  ConsumerSubscription subscription;
  size_t topic_count;
  if (!in.Count(fmt::kMinStringBytes, topic_count)) {
    return Corrupt(kWhat, "bad or truncated topic count");
  }
  subscription.topics.resize(topic_count);
  for (std::string& topic : subscription.topics) {
    if (!in.String(topic)) return Corrupt(kWhat, "bad or truncated topic name");
  }
  if (!in.NullableBytes(subscription.user_data)) {
    return Corrupt(kWhat, "bad or truncated user data");
  }
  if (version >= 1) {
    EVLOG_ASSIGN_OR_RETURN(subscription.owned_partitions, ReadTopicEntries(in, kWhat));
  }
  if (version >= 2) {
    int32_t generation;
    if (!in.Int(generation)) return Corrupt(kWhat, "truncated generation");
    subscription.generation = Generation(generation);
  }
  if (version >= 3) {
    if (!in.NullableString(subscription.rack_id)) {
      return Corrupt(kWhat, "bad or truncated rack id");
    }
    if (subscription.rack_id && subscription.rack_id->empty()) subscription.rack_id.reset();
  }
  // Bytes left over are a newer version's fields (or ignored, as Kafka does).
  return subscription;
}

absl::StatusOr<std::string> EncodeAssignment(const ConsumerAssignment& assignment,
                                             int16_t version) {
  EVLOG_RETURN_IF_ERROR(CheckVersion(version));
  EVLOG_RETURN_IF_ERROR(CheckUserData(assignment.user_data));
  EVLOG_ASSIGN_OR_RETURN(std::vector<TopicEntry> entries, GroupByTopic(assignment.partitions));
  Writer out(2 + TopicEntriesSize(entries) + 4 + NullableSize(assignment.user_data));
  out.Int(version);
  WriteTopicEntries(out, entries);
  out.NullableBytes(assignment.user_data);
  return std::move(out).Take();
}

absl::StatusOr<ConsumerAssignment> DecodeAssignment(std::string_view bytes) {
  constexpr std::string_view kWhat = "assignment";
  Reader in(bytes);
  // Every version so far has the same fields.
  EVLOG_RETURN_IF_ERROR(ReadVersion(in, kWhat).status());
  ConsumerAssignment assignment;
  EVLOG_ASSIGN_OR_RETURN(assignment.partitions, ReadTopicEntries(in, kWhat));
  if (!in.NullableBytes(assignment.user_data)) return Corrupt(kWhat, "bad or truncated user data");
  return assignment;
}

}  // namespace evlog
