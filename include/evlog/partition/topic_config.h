// evlog/partition/topic_config.h — what a topic is created with: its name,
// partition count and the settings its partitions' logs run with.
//
// A TopicConfig holds only overrides: every unset field takes the broker's
// default (TopicSettings), as a Kafka topic's configs override the
// broker's log.* settings. Overrides can also be set by Kafka's names:
//
//   evlog::NewTopic orders(/*partitions=*/3);
//   orders.config.retention_ms = 24 * 60 * 60 * 1000;
//   EVLOG_RETURN_IF_ERROR(orders.config.Set("cleanup.policy", "compact,delete"));
//   EVLOG_RETURN_IF_ERROR(broker->CreateTopic("orders", orders));
//
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/record/record_format.h"
#include "evlog/storage/log_config.h"

namespace evlog {

// Kafka's rule: 1-249 characters of [a-zA-Z0-9._-], and not "." or "..".
// Errors: INVALID_TOPIC_EXCEPTION naming what is wrong.
[[nodiscard]] absl::Status ValidateTopicName(std::string_view name);

// Names starting with "__" are evlog's own (__consumer_offsets, ...).
inline bool IsInternalTopic(std::string_view name) { return name.starts_with("__"); }

// Which codec a topic's batches are stored with (Kafka compression.type).
enum class TopicCompression : int8_t {
  kProducer,  // as each producer chose (the default)
  kNone,
  kZstd,
};

// The complete settings of a topic's partitions.
struct TopicSettings {
  LogConfig log;
  TopicCompression compression = TopicCompression::kProducer;
  // Replicas that must have a batch before an acks=all produce succeeds.
  int32_t min_insync_replicas = 1;
};

// Overrides of the broker's TopicSettings; unset fields keep the default.
struct TopicConfig {
  std::optional<int64_t> retention_ms;           // retention.ms (-1: forever)
  std::optional<int64_t> retention_bytes;        // retention.bytes (-1: no limit)
  std::optional<uint64_t> segment_bytes;         // segment.bytes
  std::optional<int64_t> segment_ms;             // segment.ms
  std::optional<CleanupPolicy> cleanup_policy;   // cleanup.policy
  std::optional<TopicCompression> compression;   // compression.type
  std::optional<uint32_t> max_message_bytes;     // max.message.bytes
  std::optional<int32_t> min_insync_replicas;    // min.insync.replicas
  std::optional<TimestampType> timestamp_type;   // message.timestamp.type
  std::optional<Durability> durability;          // evlog: durability (none, interval, every_append)
  std::optional<int64_t> flush_interval_ms;      // flush.ms
  std::optional<int64_t> delete_retention_ms;    // delete.retention.ms
  std::optional<int64_t> min_compaction_lag_ms;  // min.compaction.lag.ms

  // Sets the override Kafka calls `name` from its string form (numbers in
  // decimal; cleanup.policy "delete", "compact" or "compact,delete";
  // compression.type "producer", "none", "uncompressed" or "zstd";
  // message.timestamp.type "CreateTime" or "LogAppendTime"; durability
  // "none", "interval" or "every_append"). Errors: INVALID_CONFIG for an
  // unknown name or a value that does not parse; nothing changes then.
  [[nodiscard]] absl::Status Set(std::string_view name, std::string_view value);

  // The overrides that are set, as (Kafka name, value) sorted by name;
  // Set() of each gives back an equal TopicConfig.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> ToStrings() const;

  // `defaults` with these overrides applied, validated. Errors:
  // INVALID_CONFIG naming the first bad setting.
  [[nodiscard]] absl::StatusOr<TopicSettings> ApplyTo(const TopicSettings& defaults) const;

  friend bool operator==(const TopicConfig&, const TopicConfig&) = default;
};

// What CreateTopic is given.
struct NewTopic {
  NewTopic() = default;
  explicit NewTopic(int32_t partitions_in, int16_t replication_factor_in = 1)
      : partitions(partitions_in), replication_factor(replication_factor_in) {}

  int32_t partitions = 1;
  int16_t replication_factor = 1;
  TopicConfig config;
};

}  // namespace evlog
