// evlog/storage/log_config.h — per-log settings, with Kafka's names and
// defaults (topic-level configs such as segment.bytes become segment_bytes).
//
//   evlog::LogConfig config;
//   config.segment_bytes = 64 << 20;
//   config.durability = evlog::Durability::kEveryAppend;   // group-committed fsync
//   EVLOG_RETURN_IF_ERROR(config.Validate());
//
// Thread-safety: a plain value.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "evlog/record/record_format.h"  // TimestampType

namespace evlog {

// What happens to old data (Kafka cleanup.policy).
enum class CleanupPolicy : int8_t {
  kDelete,         // whole old segments are deleted by time and size
  kCompact,        // only the last record per key is kept
  kCompactDelete,  // both
};

// When appended data is forced to disk. Kafka leaves this to the page cache
// and relies on replication; an embedded log often has no replicas, so the
// choice is the user's.
enum class Durability : int8_t {
  kNone,         // page cache only; a clean Close(), Flush() or segment roll syncs
  kInterval,     // an append syncs when flush_interval_ms has passed since the last sync
  kEveryAppend,  // Append returns after its bytes are synced; concurrent
                 // appenders share one fdatasync (group commit)
};

struct LogConfig {
  // A new segment is started when the active one would exceed this size.
  uint64_t segment_bytes = uint64_t{1} << 30;
  // ... or when the active segment is this old (and not empty).
  int64_t segment_ms = 7LL * 24 * 60 * 60 * 1000;
  // Maximum size of each segment's offset and time index files.
  uint32_t segment_index_bytes = 10u << 20;
  // Bytes of log between two offset index entries.
  uint32_t index_interval_bytes = 4096;
  // Delete segments whose newest record is older than this; -1: keep forever.
  int64_t retention_ms = 7LL * 24 * 60 * 60 * 1000;
  // Delete the oldest segments while the log is larger than this; -1: no limit.
  int64_t retention_bytes = -1;
  // Largest batch accepted by Append, in bytes (Kafka max.message.bytes).
  uint32_t max_message_bytes = (1u << 20) + 12;
  // kCreateTime keeps the producer's timestamps; kLogAppendTime stamps the
  // log's clock on every appended batch (Kafka message.timestamp.type).
  TimestampType timestamp_type = TimestampType::kCreateTime;
  CleanupPolicy cleanup_policy = CleanupPolicy::kDelete;
  // How long tombstones survive compaction.
  int64_t delete_retention_ms = 24LL * 60 * 60 * 1000;
  // A record younger than this is never compacted away.
  int64_t min_compaction_lag_ms = 0;
  // Compaction runs when dirty bytes / (clean + dirty) reaches this.
  double min_cleanable_dirty_ratio = 0.5;
  Durability durability = Durability::kNone;
  // For Durability::kInterval.
  int64_t flush_interval_ms = 1000;
  // Sealed segments whose files a log keeps open at once; older ones are
  // closed and reopened on demand, so that many logs fit in the process's
  // descriptor limit.
  uint32_t max_open_sealed_segments = 2;

  // OK, or InvalidArgument (ErrorCode::kInvalidConfig) naming the first bad
  // setting.
  [[nodiscard]] absl::Status Validate() const;
};

}  // namespace evlog
