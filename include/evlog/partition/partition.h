// evlog/partition/partition.h — one partition of a topic, as the broker
// hosts it: its log, the offset readers may read up to, and the consumers
// waiting for more.
//
// The producer's path into a partition is a direct call on the producer's
// thread (Append), and so is the consumer's (Read); a consumer that finds
// nothing to read parks on a DataWaiter that every append to a partition it
// watches wakes, so a poll returns within microseconds of a new batch
// without a sleep loop:
//
//   evlog::DataWaiter waiter;
//   partition->AddWaiter(&waiter);
//   auto ticket = waiter.Prepare();                 // before looking
//   if (partition->high_watermark() <= position) waiter.Wait(ticket, deadline_ns);
//   partition->RemoveWaiter(&waiter);
//
// Offsets: log_start_offset <= high_watermark <= log_end_offset. Readers
// see [log_start_offset, high_watermark). With one replica the high
// watermark is the log end offset; replication makes it lag (issue
// "ReplicaSet").
//
// Thread-safety: every method is thread-safe.
#pragma once

#include <atomic>
#include <compare>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "evlog/io/cache_line.h"
#include "evlog/io/clock.h"
#include "evlog/io/file_system.h"
#include "evlog/partition/topic_config.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/storage/segmented_log.h"
#include "evlog/types.h"

namespace evlog {

// The log a broker keeps for each partition: any FileSystem and Clock
// behind their interfaces (a syscall sits behind every call anyway).
using PartitionLog = SegmentedLog<FileSystem, Clock>;
extern template class SegmentedLog<FileSystem, Clock>;

// A consumer's parking spot. Partitions it is added to wake it after each
// append; Prepare() before checking for data and Wait() after finding none
// closes the window in which a wake-up could be missed.
class alignas(kCacheLineBytes) DataWaiter {
 public:
  using Ticket = uint64_t;

  // Call before checking whether there is data to read.
  Ticket Prepare() {
    std::lock_guard lock(mu_);
    sleeping_.store(true, std::memory_order_seq_cst);
    return wakeups_;
  }
  // Blocks until a wake-up after Prepare() returned `ticket`, Wake(), or
  // the monotonic deadline (steady_clock ns). True when woken.
  bool Wait(Ticket ticket, int64_t deadline_ns);
  // Ends a Prepare() that did not lead to Wait().
  void Cancel() { sleeping_.store(false, std::memory_order_relaxed); }
  // Wakes a waiter (any thread); cheap when it is not waiting.
  void Wake() {
    if (!sleeping_.load(std::memory_order_seq_cst)) return;
    {
      std::lock_guard lock(mu_);
      ++wakeups_;
    }
    cv_.notify_one();
  }

 private:
  // Read by every append to a partition the waiter's reader is assigned.
  // The waiter is aligned, so its owner's own members, which it writes as
  // it polls, start on a line after it (evlog/io/cache_line.h).
  std::atomic<bool> sleeping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  Ticket wakeups_ = 0;
};

// Counters of one partition since it was opened (monotonic; an exporter
// derives rates from two snapshots).
struct PartitionMetrics {
  TopicPartition topic_partition;
  Offset log_start_offset;
  Offset high_watermark;
  Offset log_end_offset;
  uint64_t size_bytes = 0;
  uint64_t segments = 0;
  uint64_t batches_appended = 0;
  uint64_t records_appended = 0;
  uint64_t bytes_appended = 0;
  uint64_t append_errors = 0;
  uint64_t bytes_read = 0;
  uint64_t reads = 0;
};

// What the partition tells the layer that tracks producers (the txn
// layer's idempotence, MakeProducerStateHook in evlog/txn/idempotent_sequencer.h)
// about its batches.
// The partition calls it under its own producer-state lock, so its calls
// never overlap. `batch` is a whole RecordBatch v2 batch.
class ProducerStateHook {
 public:
  virtual ~ProducerStateHook() = default;
  // A batch a client asks to append (AppendOptions::assign_offsets), before
  // it is appended: nullopt to append it; an AppendResult for a retry
  // already in the log (nothing is appended, the caller gets that result);
  // an error to refuse it (nothing is appended).
  // `origin` says whether a producer (sequence checked) or a coordinator on
  // its behalf (epoch only) asks.
  virtual absl::StatusOr<std::optional<AppendResult>> Check(ByteView batch,
                                                            AppendOrigin origin) = 0;
  // `batch` is in the log at `result`: a client's append, a follower's copy
  // of its leader's, or the replay of the log when the hook is installed.
  virtual void Appended(ByteView batch, const AppendResult& result) = 0;
  // The log now ends at `end` (truncated); everything from `end` on is gone.
  // After a full truncation (nothing remains) `end` is 0.
  virtual void Truncated(Offset end) = 0;
  // The log now starts at `log_start` (retention, DeleteRecordsBefore):
  // what lies wholly before it can be forgotten.
  virtual void LogStartMoved(Offset log_start) = 0;
  // Whether `batch` concerns the hook at all (cheap, no lock): the
  // partition skips its lock and the hook for the rest.
  virtual bool Concerns(ByteView batch) const = 0;
  // The first offset of the earliest transaction not yet stable: no marker
  // yet, or a marker at or past `high_watermark` (not yet replicated).
  // nullopt when every transaction is stable.
  virtual std::optional<Offset> FirstUnstableOffset(Offset high_watermark) const = 0;
  // The aborted transactions with batches in [from, to), by marker offset.
  virtual std::vector<AbortedTransaction> AbortedTransactions(Offset from, Offset to) const = 0;
  // Loads the state it saved last (Checkpoint) for a log that now spans
  // [log_start, log_end) and returns where the partition replays the log
  // into it from: log_start when nothing usable was saved.
  virtual Offset Restore(Offset log_start, Offset log_end) = 0;
  // Saves the state as of `end` (the log end offset), so that a reopen
  // replays only what follows: at segment rolls and clean closes.
  [[nodiscard]] virtual absl::Status Checkpoint(Offset end) = 0;
};

class Partition {
 public:
  // Takes the opened `log` of partition `id` of `topic`.
  Partition(std::string topic, PartitionId id, std::unique_ptr<PartitionLog> log,
            TopicSettings settings);
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  const std::string& topic() const { return topic_; }
  PartitionId id() const { return id_; }
  const TopicSettings& settings() const { return settings_; }

  // Appends one batch (see SegmentedLog::Append for the edits made to it
  // and the errors), then moves the high watermark and wakes the waiters.
  // With a producer-state hook, a client's batch (assign_offsets) is
  // checked first: a retry of a batch already in the log returns that
  // batch's result and appends nothing. Errors additionally:
  // UNKNOWN_TOPIC_OR_PARTITION once the partition is closed (its topic was
  // deleted or the broker closed); the hook's (OUT_OF_ORDER_SEQUENCE_NUMBER,
  // INVALID_PRODUCER_EPOCH, ...), with nothing appended.
  [[nodiscard]] absl::StatusOr<AppendResult> Append(MutableByteView batch,
                                                    const AppendOptions& options = {});

  // Reads whole batches from `offset`, no further than the high watermark
  // (options.max_offset lowers it further). Errors as SegmentedLog::Read,
  // OFFSET_OUT_OF_RANGE past the high watermark, UNKNOWN_TOPIC_OR_PARTITION
  // once closed.
  [[nodiscard]] absl::StatusOr<LogReadResult> Read(Offset offset, std::vector<std::byte>& buffer,
                                                   LogReadOptions options = {});

  // The first record with a timestamp >= `timestamp_ms` (Kafka ListOffsets).
  [[nodiscard]] absl::StatusOr<std::optional<TimestampAndOffset>> OffsetForTimestamp(
      int64_t timestamp_ms);

  Offset log_start_offset() const { return log_->log_start_offset(); }
  Offset log_end_offset() const { return log_->log_end_offset(); }
  // The end of what readers may see; lock-free.
  Offset high_watermark() const { return Offset(high_watermark_.load(std::memory_order_seq_cst)); }
  // The last stable offset: the high watermark, or the first offset of the
  // earliest transaction still open (or whose marker is not yet below the
  // high watermark) when that is lower. read_committed readers stop here.
  [[nodiscard]] Offset last_stable_offset();
  // The aborted transactions with batches in [from, to) (empty without a
  // producer-state hook).
  [[nodiscard]] std::vector<AbortedTransaction> AbortedTransactions(Offset from, Offset to);

  // --- Replication (issue "ReplicaSet") ---
  //
  // A replicated partition's high watermark is its ReplicaSet's to move:
  // after ManageHighWatermark(), Append leaves it alone and readers see
  // only what SetHighWatermark published. It starts at `restored` (what the
  // broker's high-watermark checkpoint had; pass the log start offset when
  // there is none), clamped to the log, since what this replica appended
  // past it may never have committed; the replica set moves it up again
  // (readers wait meanwhile; nothing uncommitted shows).
  void ManageHighWatermark(Offset restored);
  bool high_watermark_managed() const { return hw_managed_.load(std::memory_order_acquire); }
  // Publishes `offset` (clamped to the log end offset) as the high
  // watermark and wakes the waiters when it moved forward. A follower's
  // may move back after a truncation.
  void SetHighWatermark(Offset offset);
  // Reads from `offset` up to the log end offset, past the high watermark:
  // what a leader sends its followers. Errors as Read.
  [[nodiscard]] absl::StatusOr<LogReadResult> ReadReplica(Offset offset,
                                                          std::vector<std::byte>& buffer,
                                                          LogReadOptions options = {});
  // SegmentedLog::TruncateTo and TruncateFullyAndStartAt, for a follower
  // whose log diverged from its leader's; the high watermark is pulled back
  // to the new log end when above it.
  [[nodiscard]] absl::Status TruncateTo(Offset offset);
  [[nodiscard]] absl::Status TruncateFullyAndStartAt(Offset offset);
  // The log's leader epochs (SegmentedLog::latest_epoch, EndOffsetForEpoch,
  // BeginLeaderEpoch).
  std::optional<LeaderEpoch> latest_epoch() const { return log_->latest_epoch(); }
  EpochEndOffset EndOffsetForEpoch(LeaderEpoch epoch) const {
    return log_->EndOffsetForEpoch(epoch);
  }
  [[nodiscard]] absl::Status BeginLeaderEpoch(LeaderEpoch epoch);

  // Installs `hook` (once, before any append) and replays the log's
  // batches into it from where its saved state ends (Restore), so that it
  // knows what the log already holds; it checkpoints at every segment roll
  // and at Close. Errors: the log's read errors (the hook is not installed
  // then).
  [[nodiscard]] absl::Status SetProducerStateHook(std::unique_ptr<ProducerStateHook> hook);
  ProducerStateHook* producer_state_hook() const { return hook_.get(); }

  // Registers `waiter` to be woken after every append until removed. The
  // waiter must stay alive until RemoveWaiter returns.
  void AddWaiter(DataWaiter* waiter);
  void RemoveWaiter(DataWaiter* waiter);

  // Retention (SegmentedLog::DeleteOldSegments), for the broker's
  // background task. Returns the segments deleted.
  [[nodiscard]] absl::StatusOr<size_t> DeleteOldSegments();
  // Compaction of a compacted topic's partition (no-op otherwise).
  [[nodiscard]] absl::Status MaybeCompact();
  [[nodiscard]] absl::Status DeleteRecordsBefore(Offset offset);
  [[nodiscard]] absl::Status Flush();

  PartitionMetrics metrics() const;

  // Closes the log and wakes every waiter; later appends and reads fail
  // with UNKNOWN_TOPIC_OR_PARTITION.
  [[nodiscard]] absl::Status Close();
  // The same for a partition whose directory is removed next (a deleted
  // topic, a replica moved away): nothing is written on the way out, no
  // producer-state snapshot and no sync (SegmentedLog::Discard). Nothing
  // happens on a closed partition.
  void Discard();
  bool closed() const { return closed_.load(std::memory_order_acquire); }

 private:
  absl::Status ClosedError() const;
  // A call that passed its closed() check just before Close or Discard
  // gets the closed partition's error, not the closed log's
  // FailedPrecondition.
  absl::Status OrClosed(absl::Status status) const {
    return !status.ok() && closed() ? ClosedError() : status;
  }
  template <typename T>
  absl::StatusOr<T> OrClosed(absl::StatusOr<T> result) const {
    if (!result.ok() && closed()) return ClosedError();
    return result;
  }
  void WakeWaiters();
  void WakeEveryWaiter();
  void PullBackHighWatermark();

  const std::string topic_;
  const PartitionId id_;
  const std::unique_ptr<PartitionLog> log_;
  const TopicSettings settings_;

  // Members are grouped by who writes them (evlog/io/cache_line.h): a
  // reader polling for data reads the high watermark and the flags, and
  // must not share a line with what every append or read bumps.

  // Written by every append, read by every poll.
  alignas(kCacheLineBytes) std::atomic<int64_t> high_watermark_;

  // Read by every append and poll, written seldom.
  alignas(kCacheLineBytes) std::atomic<bool> closed_{false};
  std::atomic<bool> hw_managed_{false};
  // Set once the hook may hold a transaction: a transactional batch reached
  // it (appended or replayed), or it restored one from its saved state.
  std::atomic<bool> transactional_{false};
  std::atomic<size_t> waiter_count_{0};
  // Set once, before appends.
  std::unique_ptr<ProducerStateHook> hook_;

  // The appenders' own (and, once a transactional batch was seen, taken by
  // read_committed readers in last_stable_offset()).
  // Serialises the hook's calls with the appends and truncations they
  // concern.
  alignas(kCacheLineBytes) std::mutex producer_mu_;
  // The segment count at the hook's last checkpoint (a change is a roll).
  size_t checkpointed_segments_ = 0;
  uint32_t appends_since_roll_check_ = 0;
  std::mutex waiters_mu_;
  std::vector<DataWaiter*> waiters_;
  std::atomic<uint64_t> batches_appended_{0};
  std::atomic<uint64_t> records_appended_{0};
  std::atomic<uint64_t> bytes_appended_{0};
  std::atomic<uint64_t> append_errors_{0};

  // The readers' own.
  alignas(kCacheLineBytes) std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> reads_{0};

  // Tells the producer-state hook where the log starts now.
  void NoteLogStart();
  void NoteTransactional(ByteView batch);
  void MaybeCheckpointLocked();
};

}  // namespace evlog
