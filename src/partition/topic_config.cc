#include "evlog/partition/topic_config.h"

#include <algorithm>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "evlog/status.h"

namespace evlog {
namespace {

using internal::ToAbsl;

// Kafka: Topic.MAX_NAME_LENGTH.
constexpr size_t kMaxTopicNameBytes = 249;

absl::Status BadConfig(std::string_view name, std::string_view value, std::string_view why) {
  return MakeError(ErrorCode::kInvalidConfig,
                   absl::StrCat(ToAbsl(name), "=", ToAbsl(value), ": ", ToAbsl(why)));
}

template <typename T>
absl::Status ParseNumber(std::string_view name, std::string_view value, std::optional<T>& out) {
  int64_t parsed;
  if (!absl::SimpleAtoi(ToAbsl(value), &parsed) ||
      parsed < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
      (parsed > 0 && static_cast<uint64_t>(parsed) > std::numeric_limits<T>::max())) {
    return BadConfig(name, value, "not a number in range");
  }
  out = static_cast<T>(parsed);
  return absl::OkStatus();
}

std::string_view CleanupPolicyName(CleanupPolicy p) {
  switch (p) {
    case CleanupPolicy::kDelete:
      return "delete";
    case CleanupPolicy::kCompact:
      return "compact";
    case CleanupPolicy::kCompactDelete:
      return "compact,delete";
  }
  return "delete";
}

std::string_view CompressionName(TopicCompression c) {
  switch (c) {
    case TopicCompression::kProducer:
      return "producer";
    case TopicCompression::kNone:
      return "none";
    case TopicCompression::kZstd:
      return "zstd";
  }
  return "producer";
}

std::string_view DurabilityName(Durability d) {
  switch (d) {
    case Durability::kNone:
      return "none";
    case Durability::kInterval:
      return "interval";
    case Durability::kEveryAppend:
      return "every_append";
  }
  return "none";
}

std::string_view TimestampTypeName(TimestampType t) {
  return t == TimestampType::kLogAppendTime ? "LogAppendTime" : "CreateTime";
}

}  // namespace

absl::Status ValidateTopicName(std::string_view name) {
  if (name.empty()) return MakeError(ErrorCode::kInvalidTopicException, "topic name is empty");
  if (name == "." || name == "..") {
    return MakeError(ErrorCode::kInvalidTopicException,
                     absl::StrCat("topic name cannot be \"", ToAbsl(name), "\""));
  }
  if (name.size() > kMaxTopicNameBytes) {
    return MakeError(ErrorCode::kInvalidTopicException,
                     absl::StrCat("topic name is ", name.size(), " characters, the limit is ",
                                  kMaxTopicNameBytes));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return MakeError(
          ErrorCode::kInvalidTopicException,
          absl::StrCat("topic name \"", ToAbsl(name), "\" has a character outside [a-zA-Z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status TopicConfig::Set(std::string_view name, std::string_view value) {
  TopicConfig next = *this;
  if (name == "retention.ms") {
    EVLOG_RETURN_IF_ERROR(ParseNumber(name, value, next.retention_ms));
  } else if (name == "retention.bytes") {
    EVLOG_RETURN_IF_ERROR(ParseNumber(name, value, next.retention_bytes));
  } else if (name == "segment.bytes") {
    EVLOG_RETURN_IF_ERROR(ParseNumber(name, value, next.segment_bytes));
  } else if (name == "segment.ms") {
    EVLOG_RETURN_IF_ERROR(ParseNumber(name, value, next.segment_ms));
  } else if (name == "max.message.bytes") {
    EVLOG_RETURN_IF_ERROR(ParseNumber(name, value, next.max_message_bytes));
  } else if (name == "min.insync.replicas") {
    EVLOG_RETURN_IF_ERROR(ParseNumber(name, value, next.min_insync_replicas));
  } else if (name == "flush.ms") {
    EVLOG_RETURN_IF_ERROR(ParseNumber(name, value, next.flush_interval_ms));
  } else if (name == "delete.retention.ms") {
    EVLOG_RETURN_IF_ERROR(ParseNumber(name, value, next.delete_retention_ms));
  } else if (name == "min.compaction.lag.ms") {
    EVLOG_RETURN_IF_ERROR(ParseNumber(name, value, next.min_compaction_lag_ms));
  } else if (name == "cleanup.policy") {
    if (value == "delete") {
      next.cleanup_policy = CleanupPolicy::kDelete;
    } else if (value == "compact") {
      next.cleanup_policy = CleanupPolicy::kCompact;
    } else if (value == "compact,delete" || value == "delete,compact") {
      next.cleanup_policy = CleanupPolicy::kCompactDelete;
    } else {
      return BadConfig(name, value, "expected delete, compact or compact,delete");
    }
  } else if (name == "compression.type") {
    if (value == "producer") {
      next.compression = TopicCompression::kProducer;
    } else if (value == "none" || value == "uncompressed") {
      next.compression = TopicCompression::kNone;
    } else if (value == "zstd") {
      next.compression = TopicCompression::kZstd;
    } else {
      return BadConfig(name, value, "expected producer, none, uncompressed or zstd");
    }
  } else if (name == "message.timestamp.type") {
    if (value == "CreateTime") {
      next.timestamp_type = TimestampType::kCreateTime;
    } else if (value == "LogAppendTime") {
      next.timestamp_type = TimestampType::kLogAppendTime;
    } else {
      return BadConfig(name, value, "expected CreateTime or LogAppendTime");
    }
  } else if (name == "durability") {
    if (value == "none") {
      next.durability = Durability::kNone;
    } else if (value == "interval") {
      next.durability = Durability::kInterval;
    } else if (value == "every_append") {
      next.durability = Durability::kEveryAppend;
    } else {
      return BadConfig(name, value, "expected none, interval or every_append");
    }
  } else {
    return BadConfig(name, value, "unknown topic config");
  }
  *this = std::move(next);
  return absl::OkStatus();
}

std::vector<std::pair<std::string, std::string>> TopicConfig::ToStrings() const {
  std::vector<std::pair<std::string, std::string>> out;
  auto number = [&](std::string_view name, const auto& v) {
    if (v) out.emplace_back(std::string(name), absl::StrCat(*v));
  };
  auto named = [&](std::string_view name, const auto& v, auto to_name) {
    if (v) out.emplace_back(std::string(name), std::string(to_name(*v)));
  };
  number("retention.ms", retention_ms);
  number("retention.bytes", retention_bytes);
  number("segment.bytes", segment_bytes);
  number("segment.ms", segment_ms);
  named("cleanup.policy", cleanup_policy, CleanupPolicyName);
  named("compression.type", compression, CompressionName);
  number("max.message.bytes", max_message_bytes);
  number("min.insync.replicas", min_insync_replicas);
  named("message.timestamp.type", timestamp_type, TimestampTypeName);
  named("durability", durability, DurabilityName);
  number("flush.ms", flush_interval_ms);
  number("delete.retention.ms", delete_retention_ms);
  number("min.compaction.lag.ms", min_compaction_lag_ms);
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<TopicSettings> TopicConfig::ApplyTo(const TopicSettings& defaults) const {
  TopicSettings s = defaults;
  if (retention_ms) s.log.retention_ms = *retention_ms;
  if (retention_bytes) s.log.retention_bytes = *retention_bytes;
  if (segment_bytes) s.log.segment_bytes = *segment_bytes;
  if (segment_ms) s.log.segment_ms = *segment_ms;
  if (cleanup_policy) s.log.cleanup_policy = *cleanup_policy;
  if (compression) s.compression = *compression;
  if (max_message_bytes) s.log.max_message_bytes = *max_message_bytes;
  if (min_insync_replicas) s.min_insync_replicas = *min_insync_replicas;
  if (timestamp_type) s.log.timestamp_type = *timestamp_type;
  if (durability) s.log.durability = *durability;
  if (flush_interval_ms) s.log.flush_interval_ms = *flush_interval_ms;
  if (delete_retention_ms) s.log.delete_retention_ms = *delete_retention_ms;
  if (min_compaction_lag_ms) s.log.min_compaction_lag_ms = *min_compaction_lag_ms;
  if (s.min_insync_replicas < 1) {
    return BadConfig("min.insync.replicas", absl::StrCat(s.min_insync_replicas), "must be >= 1");
  }
  EVLOG_RETURN_IF_ERROR(s.log.Validate());
  return s;
}

}  // namespace evlog
