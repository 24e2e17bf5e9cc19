// evlog/storage/log_cleaner.h — log compaction (cleanup.policy=compact).
//
// Compaction keeps, for every key, at least the record with the highest
// offset, and drops the older records of that key. A record with a null
// value (a tombstone) says "this key is deleted": it is kept for
// delete_retention_ms, so that consumers that are behind still see the
// delete, and then dropped too. Offsets never change; compaction only
// leaves gaps. Records without a key are always kept.
//
// Worked example, keys and values as k=v, offsets as @n, one batch per line:
//
//   before:  @0 a=1  @1 b=1  |  @2 a=2  @3 c=1  |  @4 b=null  |  (active) @5 a=3
//   after:   @2 a=2  @3 c=1  |  @4 b=null  |  (active) @5 a=3
//
// (@0 and @1 are superseded; @2 stays because what supersedes it is in the
// active segment, which is neither compacted nor consulted, as in Kafka;
// the tombstone @4 stays until it is older than delete_retention_ms.) Batches keep
// their base offset, last offset and producer fields even when records are
// removed from them; an idempotent producer's newest batch is kept even when
// it becomes empty, so its last sequence number survives (as in Kafka).
//
// The cleaner works on sealed segments only, reads them through its own file
// handles and writes its output to new files (".cleaned", then ".swap"), so
// appends go on while it runs; SegmentedLog::Compact swaps the result in
// under the log's lock, and Open completes or discards a swap a crash
// interrupted. This header holds the parts that do not depend on the log's
// template parameters.
//
// Thread-safety: the functions here are pure apart from their file I/O;
// callers serialise runs on one log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "evlog/io/file_system.h"
#include "evlog/types.h"

namespace evlog {

struct CompactionOptions {
  // Compact even when the dirty ratio is below min_cleanable_dirty_ratio.
  bool force = false;
  // Records at or above this offset are not compacted (e.g. the high
  // watermark or last stable offset); segments reaching it are left alone.
  std::optional<Offset> max_offset;
  // The transactions below max_offset that ended with an ABORT marker. Their
  // batches are removed, and their records never count as a newer value of
  // their key: an aborted write must not make compaction drop the committed
  // value it would have replaced (Kafka's cleaner does the same). The
  // markers themselves are kept.
  std::vector<AbortedTransaction> aborted_transactions;
};

struct CompactionResult {
  // False when there was nothing to do (no sealed segment old enough, or a
  // dirty ratio below the threshold without `force`), or when the log
  // changed underneath (retention, truncation) and the run was abandoned.
  bool ran = false;
  size_t segments_before = 0;
  size_t segments_after = 0;
  uint64_t bytes_before = 0;
  uint64_t bytes_after = 0;
  int64_t records_removed = 0;
  int64_t tombstones_removed = 0;
  // Records removed because their transaction was aborted.
  int64_t aborted_records_removed = 0;
};

namespace internal {

// A sealed segment as the cleaner sees it.
struct CleanerSource {
  Offset base;
  Offset end;  // the next segment's base offset: offsets here are below it
  uint64_t size_bytes = 0;
  std::string log_path;
};

struct CleanerParams {
  int64_t now_ms = 0;
  int64_t delete_retention_ms = 0;
  // Output segments are grouped so each stays below this many input bytes.
  uint64_t segment_bytes = 0;
  // As CompactionOptions::aborted_transactions.
  std::vector<AbortedTransaction> aborted_transactions;
};

// One output segment: it replaces `replaced` (oldest first; the first has
// the output's base offset) and is at `swap_path` (<base>.log.swap), durably.
struct CleanedSegment {
  std::vector<Offset> replaced;
  std::string swap_path;
  uint64_t size_bytes = 0;
};

// The newest offset of every key in `sources`, keyed by a 128-bit hash of
// the key (a collision would drop a record wrongly; at 128 bits it does not
// happen in practice).
using KeyOffsetMap = absl::flat_hash_map<std::pair<uint64_t, uint64_t>, int64_t>;

// Records of aborted transactions (params.aborted_transactions) are left out.
absl::StatusOr<KeyOffsetMap> BuildKeyOffsetMap(FileSystem& fs,
                                               const std::vector<CleanerSource>& sources,
                                               const CleanerParams& params);

// Writes the compacted form of `sources` (consecutive sealed segments, oldest
// first) into new files in `dir`, grouped by params.segment_bytes, and
// renames each to its .swap name after syncing it (and the directory).
// Updates the removal counters of `result`. On error, removes what it wrote.
absl::StatusOr<std::vector<CleanedSegment>> WriteCleanedSegments(
    FileSystem& fs, std::string_view dir, const std::vector<CleanerSource>& sources,
    const KeyOffsetMap& latest, const CleanerParams& params, CompactionResult& result);

// The suffixes of the cleaner's temporary files.
inline constexpr std::string_view kCleanedSuffix = ".cleaned";
inline constexpr std::string_view kSwapSuffix = ".swap";

// For Open: finishes the swaps a crash interrupted and removes unfinished
// .cleaned files in `dir`. A "<base>.log.swap" replaces every segment whose
// base offset lies in [base, last offset in the swap file].
absl::Status CompleteInterruptedSwaps(FileSystem& fs, std::string_view dir);

}  // namespace internal
}  // namespace evlog
