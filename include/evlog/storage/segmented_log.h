// evlog/storage/segmented_log.h — one partition's durable log.
//
// A SegmentedLog is an append-only sequence of RecordBatch v2 batches with
// dense offsets, kept in a directory as segments (see log_segment.h). It
// assigns offsets on append, serves reads of whole batches from any offset,
// rolls segments by size, age or full index, deletes old segments by time
// and size, truncates for replicas, and recovers after a crash.
//
//   evlog::PosixFileSystem fs;
//   evlog::SystemClock clock;
//   EVLOG_ASSIGN_OR_RETURN(auto log, evlog::SegmentedLog<>::Open(fs, clock, "/data/orders-0",
//                                                                evlog::LogConfig{}));
//   std::vector<std::byte> batch = ...;   // encoded by RecordBatchBuilder
//   EVLOG_ASSIGN_OR_RETURN(evlog::AppendResult r, log->Append(batch));
//   std::vector<std::byte> buffer;
//   EVLOG_ASSIGN_OR_RETURN(evlog::LogReadResult read, log->Read(r.base_offset, buffer));
//   // read.batches: whole batches, starting with the one holding r.base_offset
//
// Offsets and their order. For every log:
//
//   log_start_offset <= durable_offset <= log_end_offset
//
// log_start_offset is the first readable offset (retention and
// DeleteRecordsBefore move it forward); log_end_offset is the offset the
// next appended record gets; durable_offset (the recovery point) is the end
// of what is known to be on stable storage. Reads are served from
// [log_start_offset, log_end_offset); asking outside that range is
// OFFSET_OUT_OF_RANGE, asking exactly at log_end_offset returns no batches.
//
// Segments before and after TruncateTo(Offset{35}), with batches
// [0..9] [10..29] [30..39] [40..99] in segments {0: [0..9] [10..29]},
// {30: [30..39] [40..99]}:
//
//   before: {0: [0..9][10..29]}  {30: [30..39][40..99]}   log_end_offset = 100
//   after:  {0: [0..9][10..29]}  {30: }                   log_end_offset = 30
//
// (the batch holding offset 35 goes as a whole; a replica then fetches from
// 30 again).
//
// Crash recovery. A clean Close() records the log end offset in
// log.checkpoint, and the next Open() reads no segment at all. Otherwise
// Open() trusts the segments wholly below the checkpointed recovery point and
// scans every later one batch by batch (size, offsets, CRC), rebuilding their
// indexes; the first bad batch and everything after it is cut off and
// reported through OpenOptions::reporter (filler written ahead of the
// appends is cut off unreported when no batch can be missing before it).
// So after a crash at any byte the
// log holds every batch that was synced, and never a corrupt one.
//
// Durability (LogConfig::durability): with kEveryAppend, Append returns once
// its batch is synced, and appenders that arrive while a sync is running
// share the next one (group commit). If a sync fails, the batches it
// covered are cut off again and every appender waiting on them gets the
// error: an error from Append always means the batch is not in the log.
//
// Files are opened lazily: Open() opens none (after a clean shutdown), and
// at most max_open_sealed_segments sealed segments keep their files open.
//
// Thread-safety: all methods are thread-safe. Appends are serialised; a
// read takes the log's state lock only to find its batch, and does its
// pread without it, and an append holds that lock only to place its batch
// and then to publish it, not across its write, so readers and the
// appender overlap.
//
// FS and ClockT are the plug points (io/file_system.h, io/clock.h); the
// default instantiation is compiled into the library.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "evlog/bytes.h"
#include "evlog/check.h"
#include "evlog/io/cache_line.h"
#include "evlog/io/clock.h"
#include "evlog/io/file_system.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/io/spinning_lock.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_format.h"
#include "evlog/status.h"
#include "evlog/storage/internal/log_checkpoint.h"
#include "evlog/storage/leader_epoch_cache.h"
#include "evlog/storage/log_cleaner.h"
#include "evlog/storage/log_config.h"
#include "evlog/storage/log_segment.h"
#include "evlog/types.h"

namespace evlog {

// Who asks for an append, for the producer-state checks a Partition makes
// before the log sees the batch (Kafka's AppendOrigin).
enum class AppendOrigin : int8_t {
  // A producer: an idempotent batch must follow its producer's sequence.
  kClient,
  // A coordinator writing on a producer's behalf — the group coordinator's
  // transactional offset commits — with the producer's id and epoch but no
  // sequence: only the epoch is checked, so a fenced producer's commit is
  // still refused.
  kCoordinator,
};

// How an append treats the batch's offsets and epoch.
struct AppendOptions {
  // True (a leader, or a log without replication): the log sets the batch's
  // base offset to log_end_offset. False (a follower copying its leader):
  // the batch keeps its offsets, which must start at or after
  // log_end_offset.
  bool assign_offsets = true;
  // When set, stamped into the batch's partitionLeaderEpoch.
  std::optional<LeaderEpoch> leader_epoch;
  // True when the caller built the batch itself with RecordBatchBuilder in
  // this process (an embedded producer): the CRC and the records are not
  // checked again; the framing (length, magic) still is. Never set it for
  // bytes that came from outside the process.
  bool trusted = false;
  // For a batch that is not trusted: false checks its framing and CRC but
  // does not decode each record. For a follower copying its leader's
  // batches, which the leader's append checked record by record: the CRC
  // covers the records, so a copy damaged on the way is still refused, and
  // decoding them again would cost each follower as much as the leader.
  bool verify_records = true;
  // Ignored by the log; see AppendOrigin.
  AppendOrigin origin = AppendOrigin::kClient;
};

struct AppendResult {
  Offset base_offset;
  Offset last_offset;
  // The time stamped into the batch under TimestampType::kLogAppendTime,
  // else -1.
  int64_t log_append_time_ms = -1;
  Offset log_start_offset;
};

struct LogReadOptions {
  // Stop adding batches once this many bytes are collected...
  size_t max_bytes = size_t{1} << 20;
  // ...except that the first batch is returned whole even when larger, so a
  // reader always makes progress (Kafka KIP-74).
  bool min_one_batch = true;
  // Exclusive upper bound: only batches whose last offset is below it are
  // returned (a high watermark or last stable offset). Defaults to the log
  // end offset.
  std::optional<Offset> max_offset;
  // Check each returned batch's CRC, and that offsets increase, before
  // returning it. A bad first batch is CORRUPT_MESSAGE; a bad later batch
  // ends the result before it (the next read starting there reports it).
  bool verify = true;
};

struct LogReadResult {
  // Whole batches, back to back, at the start of the caller's buffer. Empty
  // at the end of the log (or of max_offset).
  ByteView batches;
  // The offset after the last returned batch (== the read offset when none).
  Offset next_offset;
  Offset log_start_offset;
  Offset log_end_offset;
};

struct TimestampAndOffset {
  int64_t timestamp_ms = -1;
  Offset offset;
};

struct LogOpenOptions {
  // Told about every byte range recovery drops, except filler the log wrote
  // ahead of its appends (PrepareTail), which holds no data. May be empty.
  RecoveryReporter reporter;
};

namespace internal {
// The [base, last] offsets of the one batch `batch`; with `verify`, also
// checks its CRC and that it follows `previous_last`. CORRUPT_MESSAGE when
// not.
absl::StatusOr<std::pair<Offset, Offset>> CheckReadBatch(ByteView batch, Offset previous_last,
                                                         bool verify);
}  // namespace internal

template <FileSystemLike FS = PosixFileSystem, ClockLike ClockT = SystemClock>
class SegmentedLog {
 public:
  // Opens the log in directory `dir` (created when missing), recovering it
  // if it was not closed cleanly. `fs` and `clock` must outlive the log.
  // Errors: INVALID_CONFIG for a bad `config`; I/O errors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SegmentedLog>> Open(
      FS& fs, ClockT& clock, std::string dir, LogConfig config, LogOpenOptions options = {});

  SegmentedLog(const SegmentedLog&) = delete;
  SegmentedLog& operator=(const SegmentedLog&) = delete;
  // Closes the log if Close() was not called (errors are dropped).
  ~SegmentedLog() { (void)Close(); }

  // Appends one encoded batch (exactly one: RecordBatchBuilder output). The
  // batch is edited in place (base offset, leader epoch, log-append time)
  // and then written, so the bytes are copied once, into the file.
  // Errors: MESSAGE_TOO_LARGE (over max_message_bytes), CORRUPT_MESSAGE
  // (bad framing, CRC or records, or bytes after the batch), INVALID_REQUEST
  // (assign_offsets = false with offsets before log_end_offset), I/O errors
  // (KAFKA_STORAGE_ERROR), FailedPrecondition after Close(). On error the log
  // is unchanged.
  [[nodiscard]] absl::StatusOr<AppendResult> Append(MutableByteView batch,
                                                    const AppendOptions& options = {});

  // Reads whole batches starting with the one that holds `offset`, into
  // `buffer`. The buffer is grown when it is too small and never shrunk, so
  // a reused buffer costs neither an allocation nor zero-filling on later
  // calls; its size says nothing about the result: result.batches (a
  // prefix of `buffer`) is the data, and the bytes after it are unspecified.
  // Errors: OFFSET_OUT_OF_RANGE outside [log_start_offset, log_end_offset];
  // CORRUPT_MESSAGE when the first batch read fails verification; I/O.
  [[nodiscard]] absl::StatusOr<LogReadResult> Read(Offset offset, std::vector<std::byte>& buffer,
                                                   const LogReadOptions& options = {});

  // The first record whose timestamp is >= `timestamp_ms`, with its
  // timestamp; nullopt when every record is older (Kafka ListOffsets).
  [[nodiscard]] absl::StatusOr<std::optional<TimestampAndOffset>> OffsetForTimestamp(
      int64_t timestamp_ms);

  // Lock-free: a reader polling for new data never waits for an append.
  Offset log_start_offset() const {
    return Offset(log_start_published_.load(std::memory_order_acquire));
  }
  Offset log_end_offset() const {
    return Offset(log_end_published_.load(std::memory_order_acquire));
  }
  // End of what is known to be synced (the recovery point).
  Offset durable_offset() const {
    std::lock_guard lock(mu_);
    return durable_end_;
  }
  // Total bytes in the log's segments.
  uint64_t size_bytes() const;
  size_t segment_count() const {
    std::lock_guard lock(mu_);
    return segments_.size();
  }
  // Base offsets of the segments, oldest first.
  std::vector<Offset> segment_base_offsets() const;
  // Segments whose files are open right now.
  size_t open_segment_count() const;
  const LogConfig& config() const { return config_; }
  const std::string& dir() const { return dir_; }

  // Syncs everything appended so far and records the recovery point.
  [[nodiscard]] absl::Status Flush();

  // Leader epochs. The log keeps its LeaderEpochCache (leader_epoch_cache.h)
  // in step with its batches: a batch whose partitionLeaderEpoch is newer
  // than every epoch seen so far is recorded before it is written, and
  // truncation, retention and DeleteRecordsBefore cut the cache with the log.
  // Opening a log without a readable leader-epoch-checkpoint rebuilds it from
  // the batch headers (reporting a corrupt file through the reporter).

  // The newest epoch the log knows, nullopt when no batch carried one and no
  // epoch was begun.
  std::optional<LeaderEpoch> latest_epoch() const;
  // Where `epoch` ended in this log, by Kafka's OffsetsForLeaderEpoch rules
  // (LeaderEpochCache::EndOffsetFor with the current log end offset).
  EpochEndOffset EndOffsetForEpoch(LeaderEpoch epoch) const;
  // The cache's entries, oldest first.
  std::vector<EpochEntry> epoch_entries() const;
  // Records that `epoch` starts at log_end_offset, for a replica that becomes
  // leader: a follower asking where the previous epoch ended gets the right
  // answer before the new leader has written anything. No-op when `epoch` is
  // not newer than latest_epoch(). Errors: I/O errors writing the
  // checkpoint (nothing changes); FailedPrecondition after Close().
  [[nodiscard]] absl::Status BeginLeaderEpoch(LeaderEpoch epoch);

  // Starts a new segment at log_end_offset (nothing happens when the active
  // segment is empty).
  [[nodiscard]] absl::Status Roll();

  // Writes filler past the end of the active segment's file, when small
  // appends are coming, so that the page-cache pages the next ones land in
  // exist already: a small write that starts a new page costs the kernel an
  // allocation (~2 µs, against ~0.25 µs into a cached page), every ~27th
  // 150-byte batch. Call it after an append has been published (Partition
  // does, once it has woken its readers): the allocation then falls between
  // appends instead of on one of them. Cheap when there is nothing to do
  // (it then takes no lock that readers take), and does nothing while
  // another append or change of the files is under way (that thread calls
  // it next) or after Close. Nothing reads the filler; sealing, closing
  // and recovery cut it off (see LogSegment).
  // Best effort: a failed write is ignored, since it is past the end of the
  // log and loses nothing. Thread-safe.
  void PrepareTail();

  // Applies retention: deletes the oldest segments while their newest
  // record is older than retention_ms, or while the log without them is
  // still at least retention_bytes (only under a delete cleanup policy),
  // and segments wholly below log_start_offset. The active segment is
  // rolled first when it must go too. Returns the number deleted.
  [[nodiscard]] absl::StatusOr<size_t> DeleteOldSegments();

  // Moves log_start_offset forward to `offset` (Kafka DeleteRecords),
  // durably, and deletes the segments wholly below it. No-op when `offset`
  // is not above log_start_offset. Errors: OFFSET_OUT_OF_RANGE past
  // log_end_offset.
  [[nodiscard]] absl::Status DeleteRecordsBefore(Offset offset);

  // Removes every batch from the one holding `offset` on (see the worked
  // example above); at or past log_end_offset only epochs begun at the log
  // end without a batch are forgotten. Below log_start_offset it empties the
  // log and restarts it at `offset`. Errors: the file system's; when
  // deleting the segments past `offset` fails part way, every later call
  // fails with that error until the log is reopened (its files and its
  // state no longer match).
  [[nodiscard]] absl::Status TruncateTo(Offset offset);

  // Deletes every segment and restarts the log, empty, at `offset`:
  // log_start_offset = log_end_offset = offset.
  [[nodiscard]] absl::Status TruncateFullyAndStartAt(Offset offset);

  // Compacts the sealed segments (see log_cleaner.h): keeps the newest
  // record of every key, drops tombstones older than delete_retention_ms.
  // Segments younger than min_compaction_lag_ms, the active segment, and
  // segments reaching options.max_offset are left alone; without
  // options.force nothing happens while the part not yet compacted is below
  // min_cleanable_dirty_ratio of the whole. Appends and reads go on while it
  // runs; the result is swapped in at the end under the log's lock. Meant
  // to be run by the owner's background executor; one run at a time.
  [[nodiscard]] absl::StatusOr<CompactionResult> Compact(const CompactionOptions& options = {});

  // Syncs, trims the indexes, writes the clean-shutdown checkpoint and
  // closes every file. Later calls fail with FailedPrecondition; Close()
  // itself is idempotent.
  [[nodiscard]] absl::Status Close();

  // Closes the log for an owner that removes its files next (a deleted
  // topic): as Close(), but nothing is synced, trimmed or checkpointed,
  // since writing back a segment's worth of bytes only to unlink them costs
  // seconds of disk time. Opened again instead, the log recovers as after a
  // crash. Later calls fail with FailedPrecondition; nothing happens on a
  // closed log.
  void Discard();

 private:
  using SegmentMap = std::map<Offset, std::shared_ptr<LogSegment>>;

  SegmentedLog(FS& fs, ClockT& clock, std::string dir, LogConfig config, LogOpenOptions options)
      : fs_(fs),
        clock_(clock),
        dir_(std::move(dir)),
        config_(config),
        options_(std::move(options)),
        segment_options_{config.index_interval_bytes, config.segment_index_bytes},
        epochs_(fs_, dir_) {}

  absl::Status Load();
  absl::Status LoadEpochsLocked();
  void PublishOffsetsLocked() {
    log_start_published_.store(log_start_.value(), std::memory_order_release);
    log_end_published_.store(log_end_.value(), std::memory_order_release);
  }
  absl::Status RecoverLocked(const std::optional<internal::LogCheckpoint>& checkpoint);
  absl::Status CheckUsableLocked() const;
  absl::Status MarkUncleanLocked();
  absl::Status WriteCheckpointLocked(bool clean);
  LogSegment& ActiveLocked() { return *segments_.rbegin()->second; }
  // `lock`, when given, holds mu_: the roll lets go of it while it syncs
  // the sealed segment, so that readers are not held up for a segment's
  // worth of fdatasync. REQUIRES: append_mu_ held (the segments do not
  // change meanwhile).
  absl::Status MaybeRollLocked(size_t batch_bytes, Offset base_offset, Offset last_offset,
                               std::unique_lock<std::mutex>* lock);
  absl::Status RollLocked(Offset new_base, std::unique_lock<std::mutex>* lock = nullptr);
  std::vector<std::shared_ptr<File>> UnsyncedFilesLocked(absl::Status& status);
  absl::Status DeleteSegmentsLocked(const std::vector<Offset>& bases);
  absl::Status TruncateToLocked(Offset offset);
  absl::Status TruncateFullyLocked(Offset offset);
  void TouchLocked(LogSegment& segment);
  void ForgetOpenLocked(LogSegment& segment);
  // The whole batches of `read` (bytes of `path` from `first` on), below
  // `upper` and within options.max_bytes, into `result` (which views
  // `read`). Needs no lock: it looks at the bytes only.
  static absl::Status ParseReadBatches(std::string_view path, const BatchPosition& first,
                                       Offset upper, ByteView read, const LogReadOptions& options,
                                       LogReadResult& result);
  void NotifyTruncated();

  // One group-commit round: syncs everything appended so far.
  absl::Status SyncRound(bool roll_back_on_failure);
  absl::Status WaitDurable(Offset end, uint64_t truncations_at_append);

  FS& fs_;
  ClockT& clock_;
  const std::string dir_;
  const LogConfig config_;
  const LogOpenOptions options_;
  const LogSegment::Options segment_options_;

  // Lock order: append_mu_, then mu_. append_mu_ serialises whatever
  // changes the log's files or segments (appends, rolls, truncation,
  // retention, epochs begun, compaction's swap, a sync's roll-back, Close);
  // mu_ guards the state below, and an append holds it to place its batch
  // and to publish it, not across its write, so readers, who take only
  // mu_, never wait for an append's I/O. Each on a line of its own
  // (evlog/io/cache_line.h): a reader's lock of mu_ must not take from the
  // appender the line append_mu_ is on.
  alignas(kCacheLineBytes) std::mutex append_mu_;
  // The last append left the active segment wanting filler (guarded by
  // append_mu_): PrepareTail takes mu_, which readers poll, only then. A
  // hint: a roll or truncation since may have changed the segment, so
  // PrepareTail asks the segment again under mu_.
  bool tail_fill_due_ = false;
  alignas(kCacheLineBytes) mutable std::mutex mu_;
  SegmentMap segments_;
  LeaderEpochCache epochs_;
  // Bumped whenever segments are deleted or cut, so that a compaction run
  // that started before can tell its sources changed.
  uint64_t segments_epoch_ = 0;
  // Offsets below this were compacted by this process (not persisted: after
  // a restart the first run compacts everything once more).
  Offset first_dirty_offset_{0};
  // One compaction at a time.
  std::mutex compact_mu_;
  Offset log_start_{0};
  Offset log_end_{0};
  Offset durable_end_{0};
  // True once log.checkpoint says "not clean" for this open.
  bool marked_unclean_ = false;
  bool closed_ = false;
  // Set when the files may no longer match the in-memory state (a failed
  // cut-off after a failed write): every later call fails with it.
  absl::Status failed_;
  // Sealed segments with open files, most recently used first.
  std::list<LogSegment*> open_sealed_;
  std::atomic<int64_t> last_sync_ms_{0};

  // Group commit. Lock order: sync_mu_ before mu_.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool sync_in_progress_ = false;
  // Published under mu_, read under sync_mu_ by waiting appenders.
  std::atomic<int64_t> durable_end_published_{0};
  // Bumped whenever appended-but-not-durable data is cut off.
  std::atomic<uint64_t> truncations_{0};

  // log_start_ and log_end_ as of the last change, for the lock-free
  // accessors (PublishOffsetsLocked after every write of either). On a line
  // of their own (evlog/io/cache_line.h): readers poll them, and must not
  // take away from the appender the line holding its locks and state.
  alignas(kCacheLineBytes) std::atomic<int64_t> log_start_published_{0};
  std::atomic<int64_t> log_end_published_{0};
};

// ---------------------------------------------------------------------------
// Implementation.

template <FileSystemLike FS, ClockLike ClockT>
absl::StatusOr<std::unique_ptr<SegmentedLog<FS, ClockT>>> SegmentedLog<FS, ClockT>::Open(
    FS& fs, ClockT& clock, std::string dir, LogConfig config, LogOpenOptions options) {
  EVLOG_RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<SegmentedLog> log(
      new SegmentedLog(fs, clock, std::move(dir), config, std::move(options)));
  EVLOG_RETURN_IF_ERROR(Annotate(log->Load(), absl::StrCat("opening log ", log->dir_)));
  return log;
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::Load() {
  std::lock_guard lock(mu_);
  EVLOG_RETURN_IF_ERROR(fs_.CreateDir(dir_));
  EVLOG_RETURN_IF_ERROR(internal::CompleteInterruptedSwaps(fs_, dir_));
  EVLOG_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.ListDir(dir_));
  const int64_t now = clock_.WallMs();

  std::vector<Offset> bases;
  for (const std::string& name : names) {
    if (std::optional<Offset> base = internal::ParseSegmentFileName(name, ".log")) {
      bases.push_back(*base);
    }
  }
  // Index files without their .log are leftovers of a deletion that a crash
  // interrupted.
  for (const std::string& name : names) {
    std::optional<Offset> base = internal::ParseSegmentFileName(name, ".index");
    if (!base) base = internal::ParseSegmentFileName(name, ".timeindex");
    if (base && !std::binary_search(bases.begin(), bases.end(), *base)) {
      EVLOG_RETURN_IF_ERROR(fs_.Remove(JoinPath(dir_, name)));
    }
  }
  for (Offset base : bases) {
    EVLOG_ASSIGN_OR_RETURN(uint64_t size,
                           fs_.FileSize(JoinPath(dir_, internal::SegmentFileName(base, ".log"))));
    segments_.emplace(base, LogSegment::Existing(fs_, dir_, base, segment_options_, size, now));
  }

  EVLOG_ASSIGN_OR_RETURN(std::optional<internal::LogCheckpoint> checkpoint,
                         internal::ReadLogCheckpoint(fs_, dir_));
  if (segments_.empty()) {
    const Offset start = checkpoint ? checkpoint->log_start_offset : Offset(0);
    EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<LogSegment> segment,
                           LogSegment::Create(fs_, dir_, start, segment_options_, now));
    EVLOG_RETURN_IF_ERROR(fs_.SyncDir(dir_));
    segments_.emplace(start, std::move(segment));
    log_start_ = log_end_ = durable_end_ = start;
  } else if (checkpoint && checkpoint->clean &&
             checkpoint->log_end_offset >= segments_.rbegin()->first &&
             checkpoint->last_segment_bytes == segments_.rbegin()->second->size_bytes()) {
    log_end_ = checkpoint->log_end_offset;
    durable_end_ = log_end_;
    log_start_ = std::max(checkpoint->log_start_offset, segments_.begin()->first);
  } else {
    EVLOG_RETURN_IF_ERROR(RecoverLocked(checkpoint));
  }
  log_start_ = std::min(log_start_, log_end_);
  PublishOffsetsLocked();
  durable_end_published_.store(durable_end_.value());
  last_sync_ms_.store(now);
  return LoadEpochsLocked();
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::LoadEpochsLocked() {
  absl::StatusOr<LeaderEpochCache> loaded = LeaderEpochCache::Load(fs_, dir_);
  if (loaded.ok()) {
    epochs_ = *std::move(loaded);
    // The file may run ahead of the log: an epoch is recorded before its
    // first batch is written, and recovery may have cut batches since.
    EVLOG_RETURN_IF_ERROR(epochs_.TruncateFromEnd(log_end_));
    return epochs_.TruncateFromStart(log_start_);
  }
  if (!absl::IsNotFound(loaded.status()) && !absl::IsDataLoss(loaded.status())) {
    return loaded.status();
  }
  if (absl::IsDataLoss(loaded.status()) && options_.reporter) {
    options_.reporter(
        RecoveryEvent{epochs_.path(), 0, 0,
                      absl::StrCat("unreadable leader-epoch-checkpoint (",
                                   loaded.status().message(), "), rebuilt from the batches")});
  }
  // Rebuilt from the batch headers: each epoch starts at the first batch
  // that carries it. Epochs only grow along a valid log; an older one after
  // a newer (which no replica writes) does not start anything.
  std::vector<EpochEntry> entries;
  for (auto& [base, segment] : segments_) {
    if (segment->size_bytes() == 0) continue;
    EVLOG_RETURN_IF_ERROR(segment->ScanHeaders(0, [&](const BatchPosition& batch) {
      if (batch.last_offset >= log_start_ && batch.leader_epoch.value() >= 0 &&
          (entries.empty() || batch.leader_epoch > entries.back().epoch)) {
        entries.push_back(EpochEntry{batch.leader_epoch, std::max(batch.base_offset, log_start_)});
      }
      return true;
    }));
    TouchLocked(*segment);
  }
  return epochs_.Reset(std::move(entries));
}

template <FileSystemLike FS, ClockLike ClockT>
std::optional<LeaderEpoch> SegmentedLog<FS, ClockT>::latest_epoch() const {
  std::lock_guard lock(mu_);
  return epochs_.LatestEpoch();
}

template <FileSystemLike FS, ClockLike ClockT>
EpochEndOffset SegmentedLog<FS, ClockT>::EndOffsetForEpoch(LeaderEpoch epoch) const {
  std::lock_guard lock(mu_);
  return epochs_.EndOffsetFor(epoch, log_end_);
}

template <FileSystemLike FS, ClockLike ClockT>
std::vector<EpochEntry> SegmentedLog<FS, ClockT>::epoch_entries() const {
  std::lock_guard lock(mu_);
  return epochs_.entries();
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::BeginLeaderEpoch(LeaderEpoch epoch) {
  std::lock_guard append_lock(append_mu_);
  std::lock_guard lock(mu_);
  EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
  EVLOG_RETURN_IF_ERROR(epochs_.Flush());
  if (!epochs_.IsNewerThanLatest(epoch)) return absl::OkStatus();
  return epochs_.Assign(epoch, log_end_);
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::RecoverLocked(
    const std::optional<internal::LogCheckpoint>& checkpoint) {
  const Offset recovery_point = checkpoint ? checkpoint->recovery_point : Offset(0);
  std::vector<Offset> doomed;
  bool cut = false;
  Offset end = segments_.begin()->first;
  for (auto it = segments_.begin(); it != segments_.end(); ++it) {
    LogSegment& segment = *it->second;
    auto next = std::next(it);
    std::optional<Offset> next_base;
    if (next != segments_.end()) next_base = next->first;
    // Once a segment had to be cut, the later ones follow data that is
    // gone: they go too (their offsets would leave a hole).
    if (cut) {
      doomed.push_back(it->first);
      continue;
    }
    if (next_base && *next_base <= recovery_point) continue;  // wholly synced: trusted
    bool dropped = false;
    auto report = [&](const RecoveryEvent& event) {
      dropped = true;
      if (options_.reporter) options_.reporter(event);
    };
    EVLOG_ASSIGN_OR_RETURN(end, segment.Recover(next_base, report));
    cut = dropped;
  }
  for (Offset base : doomed) {
    auto it = segments_.find(base);
    if (it == segments_.end()) continue;
    if (options_.reporter) {
      options_.reporter(RecoveryEvent{it->second->log_path(), 0, it->second->size_bytes(),
                                      "segment follows a truncated one"});
    }
  }
  EVLOG_RETURN_IF_ERROR(DeleteSegmentsLocked(doomed));
  log_end_ = end;
  log_start_ =
      std::max(checkpoint ? checkpoint->log_start_offset : Offset(0), segments_.begin()->first);
  PublishOffsetsLocked();
  // What recovery kept is what the files hold now; make it durable so the
  // recovery point can move past it.
  for (auto& [base, segment] : segments_) {
    if (segment->files_open()) {
      EVLOG_RETURN_IF_ERROR(segment->Sync());
      if (base != segments_.rbegin()->first) EVLOG_RETURN_IF_ERROR(segment->CloseFiles());
    }
  }
  durable_end_ = log_end_;
  marked_unclean_ = true;  // the checkpoint written next says "not clean"
  return WriteCheckpointLocked(/*clean=*/false);
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::CheckUsableLocked() const {
  if (closed_) return absl::FailedPreconditionError("the log is closed");
  return failed_;
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::WriteCheckpointLocked(bool clean) {
  internal::LogCheckpoint checkpoint;
  checkpoint.clean = clean;
  checkpoint.recovery_point = durable_end_;
  checkpoint.log_start_offset = log_start_;
  checkpoint.log_end_offset = clean ? log_end_ : Offset(0);
  checkpoint.last_segment_bytes = clean ? segments_.rbegin()->second->size_bytes() : 0;
  return internal::WriteLogCheckpoint(fs_, dir_, checkpoint);
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::MarkUncleanLocked() {
  if (marked_unclean_) return absl::OkStatus();
  EVLOG_RETURN_IF_ERROR(WriteCheckpointLocked(/*clean=*/false));
  marked_unclean_ = true;
  return absl::OkStatus();
}

template <FileSystemLike FS, ClockLike ClockT>
absl::StatusOr<AppendResult> SegmentedLog<FS, ClockT>::Append(MutableByteView batch,
                                                              const AppendOptions& options) {
  if (batch.size() > config_.max_message_bytes) {
    return MakeError(ErrorCode::kMessageTooLarge,
                     absl::StrCat("batch of ", batch.size(), " bytes exceeds max_message_bytes ",
                                  config_.max_message_bytes));
  }
  EVLOG_ASSIGN_OR_RETURN(const size_t batch_size, PeekBatchSize(batch, config_.max_message_bytes));
  if (batch_size != batch.size() || batch_size < record_format::kRecordBatchOverhead) {
    return MakeError(ErrorCode::kCorruptMessage,
                     absl::StrCat("the batch says it has ", batch_size, " bytes but ", batch.size(),
                                  " were given; Append takes exactly one batch"));
  }
  if (!options.trusted) {
    EVLOG_ASSIGN_OR_RETURN(RecordBatchView view, RecordBatchView::Parse(batch));
    if (options.verify_records) EVLOG_RETURN_IF_ERROR(view.Validate());
  }
  const int32_t last_offset_delta =
      internal::LoadBigEndian<int32_t>(batch.data() + record_format::kLastOffsetDeltaOffset);

  if (config_.durability == Durability::kInterval &&
      clock_.WallMs() - last_sync_ms_.load() >= config_.flush_interval_ms) {
    // Sync what came before this batch first: if it fails, this append
    // fails with nothing written, and acknowledged data stays.
    EVLOG_RETURN_IF_ERROR(SyncRound(/*roll_back_on_failure=*/false));
  }

  AppendResult result;
  uint64_t truncations = 0;
  Offset end;
  {
    // The write runs under append_mu_ only: readers, who take mu_, find
    // and read the batches before it meanwhile.
    std::lock_guard append_lock(append_mu_);
    std::unique_lock lock = LockSpinning(mu_);
    EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
    Offset base = log_end_;
    if (options.assign_offsets) {
      SetBaseOffset(batch, base);
    } else {
      base = Offset(internal::LoadBigEndian<int64_t>(batch.data()));
      if (base < log_end_) {
        return MakeError(ErrorCode::kInvalidRequest,
                         absl::StrCat("batch base offset ", base.value(),
                                      " is below the log end offset ", log_end_.value()));
      }
    }
    LeaderEpoch epoch;
    if (options.leader_epoch) {
      SetPartitionLeaderEpoch(batch, *options.leader_epoch);
      epoch = *options.leader_epoch;
    } else {
      epoch = LeaderEpoch(internal::LoadBigEndian<int32_t>(
          batch.data() + record_format::kPartitionLeaderEpochOffset));
    }
    if (config_.timestamp_type == TimestampType::kLogAppendTime && options.assign_offsets) {
      result.log_append_time_ms = clock_.WallMs();
      SetLogAppendTime(batch, result.log_append_time_ms);
    }
    const Offset last = base + last_offset_delta;
    EVLOG_RETURN_IF_ERROR(MarkUncleanLocked());
    // A follower may append after a gap (its leader's log was compacted);
    // gaps inside a segment are fine, its index is sparse anyway.
    EVLOG_RETURN_IF_ERROR(MaybeRollLocked(batch.size(), base, last, &lock));
    // The epoch is on disk before its first batch, so the file never misses
    // an epoch the log holds (one it holds too many is cut on open). A file
    // left stale by a failed write is rewritten before anything is appended.
    EVLOG_RETURN_IF_ERROR(epochs_.Flush());
    if (epochs_.IsNewerThanLatest(epoch)) EVLOG_RETURN_IF_ERROR(epochs_.Assign(epoch, base));
    LogSegment& active = ActiveLocked();
    BatchPosition position;
    position.size = static_cast<uint32_t>(batch.size());
    position.base_offset = base;
    position.last_offset = last;
    position.max_timestamp =
        internal::LoadBigEndian<int64_t>(batch.data() + record_format::kMaxTimestampOffset);
    position.leader_epoch = epoch;
    // Not closed before this append's CommitAppend: closing the active
    // segment's files (a roll, Close, a truncation) takes append_mu_, and
    // the least-recently-used closing of sealed ones (TouchLocked) skips it.
    EVLOG_ASSIGN_OR_RETURN(File* const file, active.PrepareAppend());
    const uint64_t at = active.size_bytes();
    lock.unlock();
    absl::Status s = LogSegment::WriteBatch(*file, active.log_path(), at, batch);
    lock.lock();
    if (!s.ok()) {
      active.AppendFailed();
      if (absl::StrContains(s.message(), "unrecoverable")) failed_ = s;
      return s;
    }
    active.CommitAppend(batch, position);
    tail_fill_due_ = active.TailToFill().has_value();
    log_end_ = last + 1;
    PublishOffsetsLocked();
    end = log_end_;
    truncations = truncations_.load();
    result.base_offset = base;
    result.last_offset = last;
    result.log_start_offset = log_start_;
  }
  if (config_.durability == Durability::kEveryAppend) {
    EVLOG_RETURN_IF_ERROR(WaitDurable(end, truncations));
  }
  return result;
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::WaitDurable(Offset end, uint64_t truncations_at_append) {
  std::unique_lock lock(sync_mu_);
  while (true) {
    if (truncations_.load() != truncations_at_append) {
      return MakeError(ErrorCode::kKafkaStorageError,
                       "the batch was cut off before it could be synced (a sync failed or "
                       "the log was truncated); it is not in the log");
    }
    if (durable_end_published_.load() >= end.value()) return absl::OkStatus();
    if (!sync_in_progress_) {
      sync_in_progress_ = true;
      lock.unlock();
      absl::Status s = SyncRound(/*roll_back_on_failure=*/true);
      lock.lock();
      sync_in_progress_ = false;
      sync_cv_.notify_all();
      if (!s.ok()) return s;
      continue;
    }
    sync_cv_.wait(lock);
  }
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::SyncRound(bool roll_back_on_failure) {
  std::vector<std::shared_ptr<File>> files;
  Offset upto;
  uint64_t truncations;
  absl::Status s;
  {
    std::lock_guard lock(mu_);
    EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
    upto = log_end_;
    truncations = truncations_.load();
    files = UnsyncedFilesLocked(s);
    if (!s.ok()) return s;
  }
  for (const std::shared_ptr<File>& file : files) {
    s = file->Sync();
    if (!s.ok()) break;
  }
  // A failed sync leaves the interval due, so the next append tries again.
  if (s.ok()) last_sync_ms_.store(clock_.WallMs());
  {
    // Cutting the batches off again changes the files: no append may be
    // writing meanwhile.
    std::unique_lock<std::mutex> append_lock(append_mu_, std::defer_lock);
    if (!s.ok() && roll_back_on_failure) append_lock.lock();
    std::lock_guard lock(mu_);
    if (s.ok()) {
      if (truncations_.load() == truncations && upto > durable_end_) {
        durable_end_ = upto;
        durable_end_published_.store(durable_end_.value());
      }
      return absl::OkStatus();
    }
    if (roll_back_on_failure && !closed_ && failed_.ok() && log_end_ > durable_end_) {
      // Nobody was told these batches are in the log: take them out, so a
      // retry cannot duplicate them and a reader never sees them come and go.
      absl::Status cut = TruncateToLocked(durable_end_);
      if (!cut.ok()) failed_ = cut;
    }
  }
  NotifyTruncated();
  return s;
}

template <FileSystemLike FS, ClockLike ClockT>
std::vector<std::shared_ptr<File>> SegmentedLog<FS, ClockT>::UnsyncedFilesLocked(
    absl::Status& status) {
  std::vector<std::shared_ptr<File>> files;
  // Every segment that may hold offsets in [durable_end_, log_end_).
  auto it = segments_.upper_bound(durable_end_);
  if (it != segments_.begin()) --it;
  for (; it != segments_.end(); ++it) {
    absl::StatusOr<std::shared_ptr<File>> file = it->second->LogFile();
    if (!file.ok()) {
      status = file.status();
      return {};
    }
    files.push_back(*std::move(file));
    TouchLocked(*it->second);
  }
  return files;
}

template <FileSystemLike FS, ClockLike ClockT>
void SegmentedLog<FS, ClockT>::NotifyTruncated() {
  std::lock_guard lock(sync_mu_);
  sync_cv_.notify_all();
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::MaybeRollLocked(size_t batch_bytes, Offset base_offset,
                                                       Offset last_offset,
                                                       std::unique_lock<std::mutex>* lock) {
  LogSegment& active = ActiveLocked();
  // Relative offsets in the indexes are 32-bit.
  const bool offsets_overflow = last_offset - active.base_offset() > kMaxRelativeOffset;
  if (active.size_bytes() == 0) {
    return offsets_overflow ? RollLocked(base_offset, lock) : absl::OkStatus();
  }
  const bool full = active.size_bytes() + batch_bytes > config_.segment_bytes;
  const bool old = clock_.WallMs() - active.created_ms() >= config_.segment_ms;
  EVLOG_ASSIGN_OR_RETURN(bool index_full, active.IndexFull());
  if (full || old || offsets_overflow || index_full) return RollLocked(base_offset, lock);
  return absl::OkStatus();
}

template <FileSystemLike FS, ClockLike ClockT>
void SegmentedLog<FS, ClockT>::PrepareTail() {
  // The tail belongs to whoever changes the files; one that is at it now
  // either fills it next or makes this filling moot (a roll, a truncation).
  std::unique_lock append_lock(append_mu_, std::try_to_lock);
  if (!append_lock.owns_lock() || !tail_fill_due_) return;
  tail_fill_due_ = false;
  std::unique_lock lock = LockSpinning(mu_);
  if (!CheckUsableLocked().ok()) return;
  LogSegment& active = ActiveLocked();
  const std::optional<LogSegment::TailFill> fill = active.TailToFill();
  if (!fill) return;
  // Readers, who read below the segment's size, need not wait for it.
  lock.unlock();
  (void)active.FillTail(*fill);
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::Roll() {
  std::lock_guard append_lock(append_mu_);
  std::unique_lock lock(mu_);
  EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
  EVLOG_RETURN_IF_ERROR(MarkUncleanLocked());
  return RollLocked(log_end_, &lock);
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::RollLocked(Offset new_base,
                                                  std::unique_lock<std::mutex>* lock) {
  EVLOG_CHECK_GE(new_base, log_end_);
  LogSegment& old = ActiveLocked();
  if (old.size_bytes() == 0 && old.base_offset() == new_base) return absl::OkStatus();
  const Offset base = new_base;
  // An empty active segment is replaced rather than sealed.
  const bool replace_empty = old.size_bytes() == 0;
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<LogSegment> fresh,
                         LogSegment::Create(fs_, dir_, base, segment_options_, clock_.WallMs()));
  absl::Status s = replace_empty ? absl::OkStatus() : old.Seal();
  // A sealed segment is synced whatever the durability setting (Kafka flushes
  // it on roll too): otherwise a crash could keep the new segment's bytes and
  // lose the old one's tail, and the log would come back with a hole that
  // recovery cannot see (a segment may legitimately end below the next
  // one's base after compaction).
  if (s.ok()) {
    // Sealed, the old segment is only read until the new one joins below,
    // and append_mu_ keeps every other change out.
    if (lock != nullptr) lock->unlock();
    if (!replace_empty) s = old.Sync();
    if (s.ok()) s = fs_.SyncDir(dir_);
    if (lock != nullptr) lock->lock();
  }
  if (!s.ok()) {
    (void)fresh->DeleteFiles();
    return s;
  }
  // The new segment is on disk now: it joins the log before anything else
  // can fail, or a reopen would find it without the log knowing of it (a
  // later roll to the same base would fail, and its offsets could follow a
  // hole).
  const Offset old_base = old.base_offset();
  segments_.emplace(base, std::move(fresh));
  if (replace_empty) {
    const bool only_segment = segments_.size() == 2;
    EVLOG_RETURN_IF_ERROR(DeleteSegmentsLocked({old_base}));
    if (only_segment) log_start_ = std::max(log_start_, base);
    PublishOffsetsLocked();
    return absl::OkStatus();
  }
  TouchLocked(old);
  if (durable_end_ >= old_base) {
    durable_end_ = base;
    durable_end_published_.store(durable_end_.value());
    return WriteCheckpointLocked(/*clean=*/false);
  }
  return absl::OkStatus();
}

template <FileSystemLike FS, ClockLike ClockT>
void SegmentedLog<FS, ClockT>::TouchLocked(LogSegment& segment) {
  // Never the active segment: an append writes through its file without
  // mu_ (Append's File*), and this runs under mu_ alone.
  if (&segment == &ActiveLocked()) return;
  open_sealed_.remove(&segment);
  if (!segment.files_open()) return;
  open_sealed_.push_front(&segment);
  while (open_sealed_.size() > config_.max_open_sealed_segments) {
    LogSegment* victim = open_sealed_.back();
    open_sealed_.pop_back();
    if (victim == &ActiveLocked()) continue;
    // Closing only gives descriptors back; a failure to trim an index is
    // harmless (the index is checked when reopened), so it is not fatal.
    (void)victim->CloseFiles();
  }
}

template <FileSystemLike FS, ClockLike ClockT>
void SegmentedLog<FS, ClockT>::ForgetOpenLocked(LogSegment& segment) {
  open_sealed_.remove(&segment);
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::DeleteSegmentsLocked(const std::vector<Offset>& bases) {
  if (bases.empty()) return absl::OkStatus();
  ++segments_epoch_;
  for (Offset base : bases) {
    auto it = segments_.find(base);
    if (it == segments_.end()) continue;
    ForgetOpenLocked(*it->second);
    std::shared_ptr<LogSegment> segment = it->second;
    segments_.erase(it);
    EVLOG_RETURN_IF_ERROR(segment->DeleteFiles());
  }
  return fs_.SyncDir(dir_);
}

template <FileSystemLike FS, ClockLike ClockT>
absl::StatusOr<LogReadResult> SegmentedLog<FS, ClockT>::Read(Offset offset,
                                                             std::vector<std::byte>& buffer,
                                                             const LogReadOptions& options) {
  LogReadResult result;
  // Found under the lock; read without it, so that readers (consumers, a
  // leader's followers) and the appender do not wait on each other's I/O.
  // What is read lies below the segment's size at the time, which appends
  // never change; a deleted segment's file stays readable while held. A
  // truncation racing the read (a deposed leader cutting its tail, then
  // appending its new leader's batches there) can hand back bytes being
  // rewritten, as in Kafka: a follower's append checks every batch's CRC,
  // and consumers read below the high watermark, which truncation never
  // crosses unless an unclean election already lost those records.
  std::shared_ptr<LogSegment> segment;
  std::shared_ptr<File> file;
  BatchPosition first;
  Offset upper;
  size_t want = 0;
  {
    std::unique_lock lock = LockSpinning(mu_);
    EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
    result.log_start_offset = log_start_;
    result.log_end_offset = log_end_;
    result.next_offset = offset;
    if (offset < log_start_ || offset > log_end_) {
      return MakeError(ErrorCode::kOffsetOutOfRange,
                       absl::StrCat("offset ", offset.value(), " is outside the log [",
                                    log_start_.value(), ", ", log_end_.value(), ")"));
    }
    upper = std::min(options.max_offset.value_or(log_end_), log_end_);
    if (offset >= upper) return result;
    auto it = segments_.upper_bound(offset);
    if (it != segments_.begin()) --it;
    for (; it != segments_.end(); ++it) {
      LogSegment& candidate = *it->second;
      absl::StatusOr<std::optional<BatchPosition>> found = candidate.FindBatch(offset);
      TouchLocked(candidate);
      if (!found.ok()) return Annotate(found.status(), candidate.log_path());
      if (!found->has_value()) continue;  // offset is past this segment's last batch
      first = **found;
      if (first.last_offset >= upper) return result;
      const uint64_t available = candidate.size_bytes() - first.position;
      want = static_cast<size_t>(std::min<uint64_t>(options.max_bytes, available));
      if (want < first.size && options.min_one_batch) want = first.size;
      EVLOG_ASSIGN_OR_RETURN(file, candidate.LogFile());
      // Found among its recent batches, a sealed segment opens its file
      // only now: count it among the open ones.
      TouchLocked(candidate);
      segment = it->second;
      break;
    }
  }
  if (segment == nullptr) return result;
  // Grown, never shrunk: resizing a reused vector back up would zero-fill
  // the regrown bytes on every read that follows a shorter one.
  if (buffer.size() < want) buffer.resize(want);
  const MutableByteView read(buffer.data(), want);
  EVLOG_RETURN_IF_ERROR(
      LogSegment::ReadExactly(*file, segment->log_path(), first.position, read).status());
  EVLOG_RETURN_IF_ERROR(ParseReadBatches(segment->log_path(), first, upper, read, options, result));
  return result;
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::ParseReadBatches(std::string_view path,
                                                        const BatchPosition& first, Offset upper,
                                                        ByteView read,
                                                        const LogReadOptions& options,
                                                        LogReadResult& result) {
  size_t used = 0;
  Offset previous_last = first.base_offset - 1;
  Offset next = result.next_offset;
  while (read.size() - used >= record_format::kLogOverhead) {
    ByteView rest = read.subspan(used);
    absl::StatusOr<size_t> size = PeekBatchSize(rest, kMaxIndexedFilePosition);
    if (size.ok() && *size > rest.size()) break;  // ends beyond what was read
    absl::StatusOr<std::pair<Offset, Offset>> range =
        size.ok() ? internal::CheckReadBatch(rest.first(*size), previous_last, options.verify)
                  : absl::StatusOr<std::pair<Offset, Offset>>(size.status());
    if (!range.ok()) {
      // Report it only when nothing precedes it: the caller then knows the
      // exact offset that cannot be read, and the next read starts there.
      if (used > 0) break;
      return Annotate(range.status(),
                      absl::StrCat(internal::ToAbsl(path), " at byte ", first.position));
    }
    const auto [base, last] = *range;
    if (last >= upper) break;
    if (used > 0 && used + *size > options.max_bytes) break;
    used += *size;
    previous_last = last;
    next = last + 1;
  }
  result.batches = read.first(used);
  result.next_offset = next;
  return absl::OkStatus();
}

template <FileSystemLike FS, ClockLike ClockT>
absl::StatusOr<std::optional<TimestampAndOffset>> SegmentedLog<FS, ClockT>::OffsetForTimestamp(
    int64_t timestamp_ms) {
  std::lock_guard lock(mu_);
  EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
  std::vector<std::byte> buffer;
  for (auto& [base, segment] : segments_) {
    EVLOG_ASSIGN_OR_RETURN(int64_t max_timestamp, segment->MaxTimestamp());
    TouchLocked(*segment);
    if (max_timestamp < timestamp_ms) continue;
    EVLOG_ASSIGN_OR_RETURN(std::optional<BatchPosition> batch,
                           segment->FindBatchByTimestamp(timestamp_ms));
    if (!batch) continue;
    buffer.resize(batch->size);
    EVLOG_ASSIGN_OR_RETURN(size_t n, segment->ReadAt(batch->position, buffer));
    EVLOG_ASSIGN_OR_RETURN(RecordBatchView view,
                           RecordBatchView::Parse(ByteView(buffer.data(), n)));
    EVLOG_ASSIGN_OR_RETURN(RecordIterator records, view.Records());
    for (const RecordView& record : records) {
      if (record.timestamp_ms >= timestamp_ms && record.offset >= log_start_) {
        return std::optional<TimestampAndOffset>(
            TimestampAndOffset{record.timestamp_ms, record.offset});
      }
    }
    EVLOG_RETURN_IF_ERROR(records.status());
  }
  return std::optional<TimestampAndOffset>();
}

template <FileSystemLike FS, ClockLike ClockT>
uint64_t SegmentedLog<FS, ClockT>::size_bytes() const {
  std::lock_guard lock(mu_);
  uint64_t total = 0;
  for (const auto& [base, segment] : segments_) total += segment->size_bytes();
  return total;
}

template <FileSystemLike FS, ClockLike ClockT>
std::vector<Offset> SegmentedLog<FS, ClockT>::segment_base_offsets() const {
  std::lock_guard lock(mu_);
  std::vector<Offset> bases;
  for (const auto& [base, segment] : segments_) bases.push_back(base);
  return bases;
}

template <FileSystemLike FS, ClockLike ClockT>
size_t SegmentedLog<FS, ClockT>::open_segment_count() const {
  std::lock_guard lock(mu_);
  size_t open = 0;
  for (const auto& [base, segment] : segments_) open += segment->files_open() ? 1 : 0;
  return open;
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::Flush() {
  EVLOG_RETURN_IF_ERROR(SyncRound(/*roll_back_on_failure=*/false));
  std::lock_guard lock(mu_);
  EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
  marked_unclean_ = true;
  return WriteCheckpointLocked(/*clean=*/false);
}

template <FileSystemLike FS, ClockLike ClockT>
absl::StatusOr<size_t> SegmentedLog<FS, ClockT>::DeleteOldSegments() {
  std::lock_guard append_lock(append_mu_);
  std::lock_guard lock(mu_);
  EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
  const bool by_policy = config_.cleanup_policy != CleanupPolicy::kCompact;
  const int64_t now = clock_.WallMs();
  uint64_t total = 0;
  for (const auto& [base, segment] : segments_) total += segment->size_bytes();

  std::vector<Offset> doomed;
  for (auto it = segments_.begin(); it != segments_.end(); ++it) {
    LogSegment& segment = *it->second;
    auto next = std::next(it);
    const Offset segment_end = next == segments_.end() ? log_end_ : next->first;
    bool drop = segment_end <= log_start_ && segment.size_bytes() > 0;
    if (!drop && by_policy && config_.retention_ms >= 0 && segment.size_bytes() > 0) {
      EVLOG_ASSIGN_OR_RETURN(int64_t newest, segment.MaxTimestamp());
      drop = newest < now - config_.retention_ms;
    }
    if (!drop && by_policy && config_.retention_bytes >= 0 && segment.size_bytes() > 0) {
      drop = total - segment.size_bytes() >= static_cast<uint64_t>(config_.retention_bytes);
    }
    TouchLocked(segment);
    if (!drop) break;
    doomed.push_back(it->first);
    total -= segment.size_bytes();
  }
  if (doomed.empty()) return size_t{0};
  EVLOG_RETURN_IF_ERROR(MarkUncleanLocked());
  if (doomed.back() == segments_.rbegin()->first) {
    // Every segment goes: a fresh active segment takes over at log_end_.
    EVLOG_RETURN_IF_ERROR(RollLocked(log_end_));
  }
  EVLOG_RETURN_IF_ERROR(DeleteSegmentsLocked(doomed));
  log_start_ = std::max(log_start_, segments_.begin()->first);
  PublishOffsetsLocked();
  durable_end_ = std::max(durable_end_, log_start_);
  durable_end_published_.store(durable_end_.value());
  EVLOG_RETURN_IF_ERROR(WriteCheckpointLocked(/*clean=*/false));
  EVLOG_RETURN_IF_ERROR(epochs_.TruncateFromStart(log_start_));
  return doomed.size();
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::DeleteRecordsBefore(Offset offset) {
  {
    std::lock_guard append_lock(append_mu_);
    std::lock_guard lock(mu_);
    EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
    if (offset > log_end_) {
      return MakeError(ErrorCode::kOffsetOutOfRange,
                       absl::StrCat("cannot delete records before ", offset.value(),
                                    ": the log ends at ", log_end_.value()));
    }
    if (offset <= log_start_) return absl::OkStatus();
    EVLOG_RETURN_IF_ERROR(MarkUncleanLocked());
    log_start_ = offset;
    PublishOffsetsLocked();
    EVLOG_RETURN_IF_ERROR(WriteCheckpointLocked(/*clean=*/false));
    EVLOG_RETURN_IF_ERROR(epochs_.TruncateFromStart(log_start_));
  }
  return DeleteOldSegments().status();
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::TruncateTo(Offset offset) {
  absl::Status s;
  {
    std::lock_guard append_lock(append_mu_);
    std::lock_guard lock(mu_);
    EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
    // Nothing to cut, but an epoch begun at the log end and never written
    // (a leader deposed before its first append) goes: kept, it would make
    // the log claim an epoch its batches do not hold, and a follower
    // comparing epochs with its new leader would truncate here forever.
    if (offset >= log_end_) return epochs_.TruncateFromEnd(log_end_);
    EVLOG_RETURN_IF_ERROR(MarkUncleanLocked());
    s = offset < log_start_ ? TruncateFullyLocked(offset) : TruncateToLocked(offset);
  }
  NotifyTruncated();
  return s;
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::TruncateFullyAndStartAt(Offset offset) {
  absl::Status s;
  {
    std::lock_guard append_lock(append_mu_);
    std::lock_guard lock(mu_);
    EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
    EVLOG_RETURN_IF_ERROR(MarkUncleanLocked());
    s = TruncateFullyLocked(offset);
  }
  NotifyTruncated();
  return s;
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::TruncateToLocked(Offset offset) {
  EVLOG_CHECK_GE(offset, log_start_);
  if (offset < segments_.begin()->first) return TruncateFullyLocked(offset);
  std::vector<Offset> doomed;
  for (auto it = segments_.upper_bound(offset); it != segments_.end(); ++it) {
    doomed.push_back(it->first);
  }
  truncations_.fetch_add(1);
  if (absl::Status deleted = DeleteSegmentsLocked(doomed); !deleted.ok()) {
    // Some of the doomed segments left the map, perhaps not the disk, and
    // the last one left, now the active one, was never truncated: the
    // state no longer matches the files. Reopening the log sorts it out.
    failed_ = Annotate(deleted, "a truncation failed part way");
    return failed_;
  }
  ++segments_epoch_;
  LogSegment& active = ActiveLocked();
  ForgetOpenLocked(active);
  EVLOG_ASSIGN_OR_RETURN(log_end_, active.TruncateTo(offset));
  PublishOffsetsLocked();
  // The cut must survive a crash, or cut-off batches could come back.
  EVLOG_RETURN_IF_ERROR(active.Sync());
  if (durable_end_ > log_end_) {
    durable_end_ = log_end_;
    durable_end_published_.store(durable_end_.value());
  }
  return epochs_.TruncateFromEnd(log_end_);
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::TruncateFullyLocked(Offset offset) {
  if (offset.value() < 0) {
    return MakeError(ErrorCode::kInvalidRequest, "a log cannot start at a negative offset");
  }
  // Without the file a crash part way through rebuilds the cache from
  // whatever batches are left, instead of pairing old entries with a log
  // that no longer holds them.
  EVLOG_RETURN_IF_ERROR(epochs_.RemoveFile());
  truncations_.fetch_add(1);
  std::vector<Offset> doomed;
  for (const auto& [base, segment] : segments_) doomed.push_back(base);
  absl::Status s = DeleteSegmentsLocked(doomed);
  absl::StatusOr<std::unique_ptr<LogSegment>> fresh =
      s.ok() ? LogSegment::Create(fs_, dir_, offset, segment_options_, clock_.WallMs())
             : absl::StatusOr<std::unique_ptr<LogSegment>>(s);
  if (fresh.ok()) s = fs_.SyncDir(dir_);
  if (!fresh.ok() || !s.ok()) {
    // The log has lost its segments: nothing can be appended or read until
    // it is reopened (which recovers from the files that are left).
    failed_ = fresh.ok() ? s : fresh.status();
    return failed_;
  }
  segments_.emplace(offset, *std::move(fresh));
  log_start_ = log_end_ = durable_end_ = offset;
  PublishOffsetsLocked();
  durable_end_published_.store(durable_end_.value());
  EVLOG_RETURN_IF_ERROR(WriteCheckpointLocked(/*clean=*/false));
  return epochs_.Clear();
}

template <FileSystemLike FS, ClockLike ClockT>
absl::StatusOr<CompactionResult> SegmentedLog<FS, ClockT>::Compact(
    const CompactionOptions& options) {
  std::lock_guard compact_lock(compact_mu_);
  CompactionResult result;
  std::vector<internal::CleanerSource> sources;
  internal::CleanerParams params;
  uint64_t epoch = 0;
  {
    std::lock_guard lock(mu_);
    EVLOG_RETURN_IF_ERROR(CheckUsableLocked());
    params.now_ms = clock_.WallMs();
    params.delete_retention_ms = config_.delete_retention_ms;
    params.segment_bytes = config_.segment_bytes;
    params.aborted_transactions = options.aborted_transactions;
    uint64_t dirty_bytes = 0;
    for (auto it = segments_.begin(); std::next(it) != segments_.end(); ++it) {
      LogSegment& segment = *it->second;
      const Offset end = std::next(it)->first;
      if (options.max_offset && end > *options.max_offset) break;
      EVLOG_ASSIGN_OR_RETURN(int64_t newest, segment.MaxTimestamp());
      TouchLocked(segment);
      if (newest > params.now_ms - config_.min_compaction_lag_ms) break;
      sources.push_back({it->first, end, segment.size_bytes(), segment.log_path()});
      result.bytes_before += segment.size_bytes();
      if (end > first_dirty_offset_) dirty_bytes += segment.size_bytes();
    }
    if (sources.empty()) return result;
    if (!options.force &&
        static_cast<double>(dirty_bytes) <
            config_.min_cleanable_dirty_ratio * static_cast<double>(result.bytes_before)) {
      return result;
    }
    EVLOG_RETURN_IF_ERROR(MarkUncleanLocked());
    epoch = segments_epoch_;
  }
  result.segments_before = sources.size();
  EVLOG_ASSIGN_OR_RETURN(internal::KeyOffsetMap latest,
                         internal::BuildKeyOffsetMap(fs_, sources, params));
  EVLOG_ASSIGN_OR_RETURN(
      std::vector<internal::CleanedSegment> cleaned,
      internal::WriteCleanedSegments(fs_, dir_, sources, latest, params, result));
  std::lock_guard append_lock(append_mu_);
  std::lock_guard lock(mu_);
  if (epoch != segments_epoch_ || closed_ || !failed_.ok()) {
    for (const internal::CleanedSegment& c : cleaned) (void)fs_.Remove(c.swap_path);
    return CompactionResult{};
  }
  // Old files go first, then each .swap takes its final name; a crash in
  // between is finished by Open (CompleteInterruptedSwaps).
  const int64_t now = clock_.WallMs();
  for (const internal::CleanedSegment& c : cleaned) {
    for (Offset base : c.replaced) {
      auto it = segments_.find(base);
      EVLOG_CHECK(it != segments_.end());
      ForgetOpenLocked(*it->second);
      absl::Status s = it->second->DeleteFiles();
      segments_.erase(it);
      if (!s.ok()) {
        failed_ = s;  // reopening finishes the swap
        return s;
      }
    }
    const Offset base = c.replaced.front();
    absl::Status s =
        fs_.Rename(c.swap_path, JoinPath(dir_, internal::SegmentFileName(base, ".log")));
    if (!s.ok()) {
      failed_ = s;
      return s;
    }
    segments_.emplace(base,
                      LogSegment::Existing(fs_, dir_, base, segment_options_, c.size_bytes, now));
    result.bytes_after += c.size_bytes;
  }
  ++segments_epoch_;
  first_dirty_offset_ = sources.back().end;
  result.segments_after = cleaned.size();
  result.ran = true;
  absl::Status synced = fs_.SyncDir(dir_);
  if (!synced.ok()) failed_ = synced;
  return synced.ok() ? absl::StatusOr<CompactionResult>(result) : synced;
}

template <FileSystemLike FS, ClockLike ClockT>
absl::Status SegmentedLog<FS, ClockT>::Close() {
  std::lock_guard append_lock(append_mu_);
  std::lock_guard lock(mu_);
  if (closed_) return absl::OkStatus();
  closed_ = true;
  absl::Status status = failed_;
  // Before the sync, so that the cut is durable with the rest and a clean
  // reopen finds the file the size the checkpoint says. Should it fail, the
  // sync still runs, and the log is not marked clean: the next open cuts
  // the filler off.
  const absl::Status trimmed = status.ok() ? ActiveLocked().TrimTail() : absl::OkStatus();
  if (status.ok()) {
    for (const std::shared_ptr<File>& file : UnsyncedFilesLocked(status)) {
      if (status.ok()) status = file->Sync();
    }
  }
  status.Update(trimmed);
  for (auto& [base, segment] : segments_) {
    if (segment->files_open()) status.Update(segment->CloseFiles());
  }
  open_sealed_.clear();
  if (!status.ok()) return status;
  durable_end_ = log_end_;
  return WriteCheckpointLocked(/*clean=*/true);
}

template <FileSystemLike FS, ClockLike ClockT>
void SegmentedLog<FS, ClockT>::Discard() {
  std::lock_guard append_lock(append_mu_);
  std::lock_guard lock(mu_);
  if (closed_) return;
  closed_ = true;
  for (auto& [base, segment] : segments_) segment->DropFiles();
  open_sealed_.clear();
}

extern template class SegmentedLog<PosixFileSystem, SystemClock>;

}  // namespace evlog
