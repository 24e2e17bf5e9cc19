#include "evlog/storage/log_config.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "evlog/status.h"

namespace evlog {
namespace {

// The smallest segment that can hold one maximal record batch header and
// index interval; anything smaller makes every append roll.
constexpr uint64_t kMinSegmentBytes = 1024;
// Index entries are 12 bytes at most; an index must hold a few of them.
constexpr uint32_t kMinIndexBytes = 4 * 12;

absl::Status Bad(std::string_view what) { return MakeError(ErrorCode::kInvalidConfig, what); }

}  // namespace

absl::Status LogConfig::Validate() const {
  if (segment_bytes < kMinSegmentBytes) {
    return Bad(absl::StrCat("segment_bytes must be at least ", kMinSegmentBytes));
  }
  // Positions in the offset index are 32-bit.
  if (segment_bytes > uint64_t{INT32_MAX}) return Bad("segment_bytes must be below 2 GiB");
  if (segment_ms <= 0) return Bad("segment_ms must be positive");
  if (segment_index_bytes < kMinIndexBytes) {
    return Bad(absl::StrCat("segment_index_bytes must be at least ", kMinIndexBytes));
  }
  if (index_interval_bytes == 0) return Bad("index_interval_bytes must be positive");
  if (retention_ms < -1) return Bad("retention_ms must be -1 or non-negative");
  if (retention_bytes < -1) return Bad("retention_bytes must be -1 or non-negative");
  if (max_message_bytes < 61) return Bad("max_message_bytes must hold a batch header (61)");
  if (delete_retention_ms < 0) return Bad("delete_retention_ms must be non-negative");
  if (min_compaction_lag_ms < 0) return Bad("min_compaction_lag_ms must be non-negative");
  if (!(min_cleanable_dirty_ratio >= 0.0 && min_cleanable_dirty_ratio <= 1.0)) {
    return Bad("min_cleanable_dirty_ratio must be within [0, 1]");
  }
  if (durability == Durability::kInterval && flush_interval_ms <= 0) {
    return Bad("flush_interval_ms must be positive");
  }
  if (max_open_sealed_segments == 0) return Bad("max_open_sealed_segments must be positive");
  return absl::OkStatus();
}

}  // namespace evlog
