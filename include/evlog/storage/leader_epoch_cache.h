// evlog/storage/leader_epoch_cache.h — which leader epoch wrote which part
// of a partition's log.
//
// Every batch carries the epoch of the leader that appended it
// (partitionLeaderEpoch). A LeaderEpochCache keeps, for one replica's log,
// the first offset written in each epoch: an ordered list of
// (epoch, start offset) with both increasing. After a leadership change a
// follower asks the leader where its last epoch ended (OffsetsForLeaderEpoch,
// KIP-101 and KIP-279; DivergingEpoch in Fetch) and truncates there instead
// of at its high watermark, which could lose acknowledged records or keep
// records the new leader never had.
//
//   epochs 0, 2 and 5 wrote offsets [0, 40), [40, 90) and [90, 120):
//     entries: (0, 0) (2, 40) (5, 90)             log end offset 120
//     EndOffsetFor(5) == {5, 120}   the latest epoch ends at the log end
//     EndOffsetFor(3) == {2, 90}    3 never wrote: the largest epoch <= 3 is
//                                   2, and what follows it starts at 90
//     EndOffsetFor(6) == {-1, -1}   newer than anything known: undefined
//
// The cache is the partition directory's `leader-epoch-checkpoint`, in
// Kafka's own text format so that Kafka's tools read it
// (docs/format/log_directory.md):
//
//   0            version
//   3            number of entries
//   0 0          epoch start_offset, one entry a line, oldest first
//   2 40
//   5 90
//
// Every change is written through at once, atomically and durably (a temporary
// file, synced, renamed over the old one, the directory synced), as
// Kafka's assign does. The rules for when a write fails are in "Failed
// writes" below.
//
// The owner (SegmentedLog) keeps the cache in step with its log: Assign
// before a batch of a new epoch is written, TruncateFromEnd after the log is
// truncated, TruncateFromStart after its start moves, Clear when it restarts
// empty.
//
// Failed writes. Assign changes nothing when its write fails: it runs before
// the batch it describes is written, and that append then fails too. The
// truncations and Clear follow a change of the log that has already happened,
// so they change the entries even when the write fails. Either way a failed
// write leaves the file unknown (old or new) and needs_write() true until
// Flush() or the next successful write; the owner must not append while it is
// true. Until then the file holds at most entries the cache no longer has,
// which the log's next open cuts again (TruncateFromEnd at the log end,
// TruncateFromStart at the log start).
//
// Thread-safety: not thread-safe; the owner serialises every call (a
// SegmentedLog does so under its lock).
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/io/file_system.h"
#include "evlog/types.h"

namespace evlog {

// The first offset written by a leader epoch.
struct EpochEntry {
  LeaderEpoch epoch;
  Offset start_offset;

  friend bool operator==(const EpochEntry&, const EpochEntry&) = default;
  friend std::ostream& operator<<(std::ostream& os, const EpochEntry& e) {
    return os << "(epoch " << e.epoch << ", start " << e.start_offset << ")";
  }
};

// Kafka's UNDEFINED_EPOCH_OFFSET: no end offset is known.
inline constexpr Offset kUndefinedEpochOffset{-1};

// The answer to OffsetsForLeaderEpoch: the largest epoch the log knows that is
// <= the requested one, and the offset where it ended. Both undefined
// (kNoLeaderEpoch, kUndefinedEpochOffset) when the log cannot tell.
struct EpochEndOffset {
  LeaderEpoch epoch = kNoLeaderEpoch;
  Offset end_offset = kUndefinedEpochOffset;

  bool undefined() const { return end_offset == kUndefinedEpochOffset; }

  friend bool operator==(const EpochEndOffset&, const EpochEndOffset&) = default;
  friend std::ostream& operator<<(std::ostream& os, const EpochEndOffset& e) {
    return os << "(epoch " << e.epoch << ", end " << e.end_offset << ")";
  }
};

class LeaderEpochCache {
 public:
  // The file's name in the partition directory (Kafka's name).
  static constexpr char kFileName[] = "leader-epoch-checkpoint";

  // An empty cache for the partition directory `dir` that has not read or
  // written its file. `fs` must outlive the cache.
  LeaderEpochCache(FileSystem& fs, std::string dir);

  // Reads `dir`/leader-epoch-checkpoint.
  // Errors: NotFound when there is no such file; DataLoss (CORRUPT_MESSAGE)
  // when it is not a valid checkpoint, saying which line is wrong and how: an
  // empty or cut-off file, a version other than 0, a count that does not
  // match the lines, a malformed line, a negative value, or entries whose
  // epochs or start offsets do not increase strictly; I/O errors.
  [[nodiscard]] static absl::StatusOr<LeaderEpochCache> Load(FileSystem& fs, std::string dir);

  LeaderEpochCache(LeaderEpochCache&&) = default;
  LeaderEpochCache& operator=(LeaderEpochCache&&) = default;

  // Records that `epoch` wrote its first batch at `start_offset`, and writes
  // the file if that changed anything. Kafka's assign
  // (LeaderEpochFileCache.assign):
  //   * a negative epoch (a batch without one) is ignored;
  //   * nothing changes when `epoch` is the latest epoch already and
  //     `start_offset` is not below its start;
  //   * otherwise the entries the new one contradicts are removed from the
  //     newest back, while an entry has an epoch >= `epoch` or a start offset
  //     >= `start_offset`, and (epoch, start_offset) becomes the latest.
  //   (0, 0) (2, 40): Assign(5, 90)  -> (0, 0) (2, 40) (5, 90)
  //                   Assign(2, 60)  -> unchanged
  //                   Assign(2, 30)  -> (0, 0) (2, 30)
  //                   Assign(1, 50)  -> (0, 0) (1, 50)   (an older epoch
  //                                     rewinds the cache; a log does not
  //                                     call it so)
  // Errors: INVALID_REQUEST for a negative start offset; I/O errors, after
  // which the entries are unchanged and needs_write() is true.
  [[nodiscard]] absl::Status Assign(LeaderEpoch epoch, Offset start_offset);

  // After the log was truncated to end at `end_offset`: removes every entry
  // whose start offset is >= `end_offset` (Kafka's truncateFromEnd), and
  // writes the file if that changed anything. A negative `end_offset` is
  // ignored.
  //   (0, 0) (2, 40) (5, 90): TruncateFromEnd(90) -> (0, 0) (2, 40)
  //                           TruncateFromEnd(41) -> (0, 0) (2, 40)
  // Errors: I/O errors, after which the entries have changed all the same
  // and needs_write() is true.
  [[nodiscard]] absl::Status TruncateFromEnd(Offset end_offset);

  // After the log's start moved to `start_offset` (retention,
  // DeleteRecords): removes the entries whose start offset is <= it, then
  // puts the newest of them back starting at `start_offset`, since its epoch
  // wrote the records that now open the log (Kafka's truncateFromStart);
  // writes the file if that changed anything.
  //   (0, 0) (2, 40) (5, 90): TruncateFromStart(50) -> (2, 50) (5, 90)
  //                           TruncateFromStart(90) -> (5, 90)
  //                           TruncateFromStart(20) -> (0, 20) (2, 40) (5, 90)
  // Errors: I/O errors, after which the entries have changed all the same
  // and needs_write() is true.
  [[nodiscard]] absl::Status TruncateFromStart(Offset start_offset);

  // Removes every entry and writes the (empty) file, for a log that restarts
  // empty at some offset (TruncateFullyAndStartAt; Kafka's clearAndFlush).
  // Errors: I/O errors, after which the entries are gone all the same and
  // needs_write() is true.
  [[nodiscard]] absl::Status Clear();

  // Replaces every entry with `entries` (oldest first) and writes the file:
  // for an owner that rebuilt the cache from its batches.
  // Errors: INVALID_REQUEST when the epochs or start offsets do not increase
  // strictly or one is negative (nothing changes); I/O errors, after which the
  // entries are replaced all the same and needs_write() is true.
  [[nodiscard]] absl::Status Reset(std::vector<EpochEntry> entries);

  // Removes the file, durably, and keeps the entries. A log reopened without
  // the file rebuilds its cache from its batches, so an owner that is about
  // to replace its whole log calls this first: a crash in the middle then
  // cannot pair the old entries with the new log. The next write creates the
  // file again. OK when there is no file.
  // Errors: I/O errors (the file may be gone or not).
  [[nodiscard]] absl::Status RemoveFile();

  // Rewrites the file when needs_write(); OK at once otherwise.
  // Errors: I/O errors (needs_write() stays true).
  [[nodiscard]] absl::Status Flush();

  // True when the last write failed: the file may not match the entries.
  bool needs_write() const { return needs_write_; }

  // True when a batch of `epoch` must be recorded: it is newer than every
  // epoch the cache holds (and not negative). One comparison, for the append
  // path.
  bool IsNewerThanLatest(LeaderEpoch epoch) const { return epoch > latest_; }

  // Kafka's OffsetsForLeaderEpoch answer for `requested` on a log that ends at
  // `log_end_offset` (LeaderEpochFileCache.endOffsetFor):
  //   * `requested` negative (UNDEFINED_EPOCH): undefined;
  //   * `requested` is the latest epoch: (requested, log_end_offset), as that
  //     epoch may still be writing;
  //   * no epoch is newer than `requested` (it is newer than the latest, or
  //     the cache is empty): undefined;
  //   * `requested` is older than every entry: (requested, start offset of
  //     the first entry) — the log no longer holds what came before, and a
  //     follower must not keep anything before that offset;
  //   * otherwise: (largest epoch <= requested, start offset of the first
  //     epoch > requested).
  // Kafka singles out only -1 as UNDEFINED_EPOCH; other negative epochs
  // cannot come in a valid request and are undefined here too rather than
  // answered with an offset.
  EpochEndOffset EndOffsetFor(LeaderEpoch requested, Offset log_end_offset) const;

  // The newest epoch, nullopt when the cache is empty.
  std::optional<LeaderEpoch> LatestEpoch() const;
  // The oldest entry, nullopt when the cache is empty.
  std::optional<EpochEntry> EarliestEntry() const;
  // Every entry, oldest first.
  const std::vector<EpochEntry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }

  // The file's path.
  std::string path() const;

 private:
  LeaderEpochCache(FileSystem& fs, std::string dir, std::vector<EpochEntry> entries);

  // Makes `entries` the entries and writes them when they differ from the
  // current ones.
  absl::Status Replace(std::vector<EpochEntry> entries);
  absl::Status Write();
  void UpdateLatest();

  FileSystem* fs_;
  std::string dir_;
  std::vector<EpochEntry> entries_;
  // entries_.back().epoch, or kNoLeaderEpoch when empty: what
  // IsNewerThanLatest compares with, without touching the vector.
  LeaderEpoch latest_ = kNoLeaderEpoch;
  bool needs_write_ = false;
};

}  // namespace evlog
