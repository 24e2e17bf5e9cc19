#include "evlog/broker/internal/high_watermark_checkpoint.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "evlog/partition/topic_config.h"
#include "evlog/status.h"
#include "evlog/storage/internal/atomic_file.h"
#include "evlog/storage/internal/checkpoint_text.h"

namespace evlog::internal {
namespace {

constexpr std::string_view kWhat = "high-watermark checkpoint";

}  // namespace

std::string EncodeHighWatermarkCheckpoint(const std::vector<HighWatermarkEntry>& entries) {
  std::vector<std::string> lines;
  lines.reserve(entries.size());
  for (const HighWatermarkEntry& e : entries) {
    lines.push_back(absl::StrCat(e.topic_partition.topic, " ", e.topic_partition.partition.value(),
                                 " ", e.high_watermark.value(), " ", e.topic_id.value()));
  }
  return JoinCheckpointText(kHighWatermarkCheckpointVersion, lines);
}

absl::StatusOr<std::vector<HighWatermarkEntry>> DecodeHighWatermarkCheckpoint(
    std::string_view text) {
  EVLOG_ASSIGN_OR_RETURN(std::vector<CheckpointLine> lines,
                         SplitCheckpointText(text, kHighWatermarkCheckpointVersion, kWhat));
  std::vector<HighWatermarkEntry> entries;
  entries.reserve(lines.size());
  std::set<TopicPartition> seen;
  for (const CheckpointLine& line : lines) {
    const std::vector<std::string_view> fields = CheckpointFields(line.text);
    int32_t partition = 0;
    int64_t high_watermark = 0;
    uint64_t topic_id = 0;
    if (fields.size() != 4 || !ValidateTopicName(fields[0]).ok() ||
        !ParseCheckpointInteger(fields[1], partition) || partition < 0 ||
        !ParseCheckpointInteger(fields[2], high_watermark) || high_watermark < 0 ||
        !ParseCheckpointInteger(fields[3], topic_id) || topic_id == 0) {
      return MalformedCheckpointLine(kWhat, line,
                                     "\"<topic> <partition> <high watermark> <topic id>\"");
    }
    HighWatermarkEntry entry{TopicPartition(std::string(fields[0]), partition), TopicId(topic_id),
                             Offset(high_watermark)};
    if (!seen.insert(entry.topic_partition).second) {
      return MalformedCheckpointLine(kWhat, line, "each partition once");
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::vector<HighWatermarkEntry>> ReadHighWatermarkCheckpoint(FileSystem& fs,
                                                                            std::string_view dir) {
  const std::string path = JoinPath(dir, kHighWatermarkCheckpointFileName);
  absl::StatusOr<std::string> text = ReadSmallFile(fs, path, kMaxHighWatermarkCheckpointBytes);
  if (absl::IsNotFound(text.status())) return std::vector<HighWatermarkEntry>();
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<HighWatermarkEntry>> entries = DecodeHighWatermarkCheckpoint(*text);
  if (!entries.ok()) return Annotate(entries.status(), absl::StrCat("reading ", path));
  return entries;
}

absl::Status WriteHighWatermarkCheckpoint(FileSystem& fs, std::string_view dir,
                                          const std::vector<HighWatermarkEntry>& entries) {
  return ReplaceFileAtomically(fs, dir, kHighWatermarkCheckpointFileName,
                               AsBytes(EncodeHighWatermarkCheckpoint(entries)));
}

}  // namespace evlog::internal
