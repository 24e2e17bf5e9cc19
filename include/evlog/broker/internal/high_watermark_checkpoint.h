// `high-watermark-checkpoint`: the high watermarks of a cluster broker's
// replicas (Kafka's replication-offset-checkpoint, plus the topic id), so
// that a restarted broker's readers see what was committed before the
// restart at once, instead of nothing until its replica sets learn the high
// watermark again (docs/format/cluster_directory.md).
//
//   file  = "0\n" count "\n" *(entry "\n")        (checkpoint_text.h)
//   entry = topic " " partition " " high_watermark " " topic_id
//           topic as ValidateTopicName allows (no blanks); partition int32,
//           high_watermark int64 and topic_id uint64, decimal, >= 0 (topic
//           id > 0)
//
// The topic id keeps an entry from applying to another topic of the same
// name (deleted and created again while the broker was down).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/io/file_system.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/replication/metadata_records.h"
#include "evlog/types.h"

namespace evlog::internal {

inline constexpr std::string_view kHighWatermarkCheckpointFileName = "high-watermark-checkpoint";
inline constexpr int32_t kHighWatermarkCheckpointVersion = 0;
// Far above any broker's replica count times a line (~300 bytes).
inline constexpr size_t kMaxHighWatermarkCheckpointBytes = size_t{64} << 20;

struct HighWatermarkEntry {
  TopicPartition topic_partition;
  TopicId topic_id;
  Offset high_watermark;

  friend bool operator==(const HighWatermarkEntry&, const HighWatermarkEntry&) = default;
};

// The file's text for `entries`, in their order.
std::string EncodeHighWatermarkCheckpoint(const std::vector<HighWatermarkEntry>& entries);

// The entries of `text`. Errors: DataLoss naming the wrong line and why
// (grammar above; a repeated partition is wrong too).
absl::StatusOr<std::vector<HighWatermarkEntry>> DecodeHighWatermarkCheckpoint(
    std::string_view text);

// Reads `dir`/high-watermark-checkpoint; empty when there is none. Errors:
// DataLoss for a damaged file (the caller starts without it: every high
// watermark then restarts at its log start, which is safe, only slower to
// show data); I/O errors.
absl::StatusOr<std::vector<HighWatermarkEntry>> ReadHighWatermarkCheckpoint(FileSystem& fs,
                                                                            std::string_view dir);

// Replaces `dir`/high-watermark-checkpoint atomically and durably
// (ReplaceFileAtomically). Errors: I/O errors.
[[nodiscard]] absl::Status WriteHighWatermarkCheckpoint(
    FileSystem& fs, std::string_view dir, const std::vector<HighWatermarkEntry>& entries);

}  // namespace evlog::internal
