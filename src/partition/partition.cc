#include "evlog/partition/partition.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "evlog/check.h"
#include "evlog/record/internal/big_endian.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_format.h"
#include "evlog/status.h"

namespace evlog {

template class SegmentedLog<FileSystem, Clock>;

bool DataWaiter::Wait(Ticket ticket, int64_t deadline_ns) {
  std::unique_lock lock(mu_);
  const auto deadline =
      std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns));
  const bool woken = cv_.wait_until(lock, deadline, [&] { return wakeups_ != ticket; });
  sleeping_.store(false, std::memory_order_relaxed);
  return woken;
}

Partition::Partition(std::string topic, PartitionId id, std::unique_ptr<PartitionLog> log,
                     TopicSettings settings)
    : topic_(std::move(topic)),
      id_(id),
      log_(std::move(log)),
      settings_(std::move(settings)),
      high_watermark_(log_->log_end_offset().value()) {
  EVLOG_CHECK(log_ != nullptr);
}

absl::Status Partition::ClosedError() const {
  return MakeError(ErrorCode::kUnknownTopicOrPartition,
                   absl::StrCat("partition ", topic_, "-", id_.value(), " is closed"));
}

absl::StatusOr<AppendResult> Partition::Append(MutableByteView batch,
                                               const AppendOptions& options) {
  if (closed()) return ClosedError();
  std::unique_lock<std::mutex> producer_lock;
  if (hook_ != nullptr && hook_->Concerns(batch)) {
    producer_lock = std::unique_lock(producer_mu_);
    if (options.assign_offsets) {
      absl::StatusOr<std::optional<AppendResult>> earlier = hook_->Check(batch, options.origin);
      if (!earlier.ok()) {
        append_errors_.fetch_add(1, std::memory_order_relaxed);
        return earlier.status();
      }
      if (earlier->has_value()) {
        AppendResult duplicate = **earlier;
        duplicate.log_start_offset = log_->log_start_offset();
        return duplicate;
      }
    }
  }
  absl::StatusOr<AppendResult> result = log_->Append(batch, options);
  if (producer_lock.owns_lock() && result.ok()) {
    NoteTransactional(batch);
    hook_->Appended(batch, *result);
    MaybeCheckpointLocked();
  }
  if (producer_lock.owns_lock()) producer_lock.unlock();
  if (!result.ok()) {
    append_errors_.fetch_add(1, std::memory_order_relaxed);
    if (closed()) return ClosedError();
    return result;
  }
  if (!high_watermark_managed()) {
    // Appends are serialised by the log, but two appenders may publish out
    // of order: keep the maximum.
    const int64_t end = result->last_offset.value() + 1;
    int64_t seen = high_watermark_.load(std::memory_order_relaxed);
    while (seen < end &&
           !high_watermark_.compare_exchange_weak(seen, end, std::memory_order_seq_cst)) {
    }
  }
  batches_appended_.fetch_add(1, std::memory_order_relaxed);
  records_appended_.fetch_add(static_cast<uint64_t>(result->last_offset - result->base_offset + 1),
                              std::memory_order_relaxed);
  bytes_appended_.fetch_add(batch.size(), std::memory_order_relaxed);
  WakeWaiters();
  // Readers know of the batch: whatever the log does to the file's tail now
  // delays no one waiting for it.
  log_->PrepareTail();
  return result;
}

void Partition::ManageHighWatermark(Offset restored) {
  // A checkpoint never runs ahead of what committed, but the log may have
  // lost its tail since (unsynced bytes at a crash) or moved its start.
  const Offset start = log_->log_start_offset();
  const Offset hw = std::max(start, std::min(restored, log_->log_end_offset()));
  high_watermark_.store(hw.value(), std::memory_order_seq_cst);
  hw_managed_.store(true, std::memory_order_release);
}

void Partition::SetHighWatermark(Offset offset) {
  const int64_t target = std::min(offset, log_->log_end_offset()).value();
  const int64_t before = high_watermark_.exchange(target, std::memory_order_seq_cst);
  if (target > before) WakeWaiters();
}

absl::StatusOr<LogReadResult> Partition::ReadReplica(Offset offset, std::vector<std::byte>& buffer,
                                                     LogReadOptions options) {
  if (closed()) return ClosedError();
  return OrClosed(log_->Read(offset, buffer, options));
}

void Partition::NoteTransactional(ByteView batch) {
  const auto attributes =
      internal::LoadBigEndian<uint16_t>(batch.data() + record_format::kAttributesOffset);
  if ((attributes & record_format::kTransactionalFlagMask) != 0) {
    transactional_.store(true, std::memory_order_release);
  }
}

Offset Partition::last_stable_offset() {
  const Offset hw = high_watermark();
  // Without a transactional batch ever, nothing is unstable: readers of
  // partitions that never see transactions do not take the lock.
  if (hook_ == nullptr || !transactional_.load(std::memory_order_acquire)) return hw;
  std::lock_guard lock(producer_mu_);
  const std::optional<Offset> unstable = hook_->FirstUnstableOffset(hw);
  return unstable ? std::min(*unstable, hw) : hw;
}

std::vector<AbortedTransaction> Partition::AbortedTransactions(Offset from, Offset to) {
  if (hook_ == nullptr) return {};
  std::lock_guard lock(producer_mu_);
  return hook_->AbortedTransactions(from, to);
}

absl::Status Partition::SetProducerStateHook(std::unique_ptr<ProducerStateHook> hook) {
  EVLOG_CHECK(hook != nullptr);
  std::lock_guard lock(producer_mu_);
  EVLOG_CHECK(hook_ == nullptr);
  // Replays the log's batch headers after the saved state; the records are
  // not decoded.
  std::vector<std::byte> buffer;
  Offset at = std::max(hook->Restore(log_->log_start_offset(), log_->log_end_offset()),
                       log_->log_start_offset());
  while (at < log_->log_end_offset()) {
    EVLOG_ASSIGN_OR_RETURN(LogReadResult read, log_->Read(at, buffer));
    if (read.batches.empty()) break;
    ByteView rest = read.batches;
    while (!rest.empty()) {
      EVLOG_ASSIGN_OR_RETURN(RecordBatchView view, RecordBatchView::Parse(rest));
      const ByteView one = rest.first(view.size_bytes());
      if (hook->Concerns(one)) {
        AppendResult placed;
        placed.base_offset = view.base_offset();
        placed.last_offset = view.last_offset();
        if (view.timestamp_type() == TimestampType::kLogAppendTime) {
          placed.log_append_time_ms = view.max_timestamp();
        }
        NoteTransactional(one);
        hook->Appended(one, placed);
      }
      rest = rest.subspan(view.size_bytes());
    }
    at = read.next_offset;
  }
  // Transactions the hook restored from its saved state (no replay told us).
  if (hook->FirstUnstableOffset(Offset(std::numeric_limits<int64_t>::max()))) {
    transactional_.store(true, std::memory_order_release);
  }
  hook_ = std::move(hook);
  checkpointed_segments_ = log_->segment_count();
  return absl::OkStatus();
}

void Partition::MaybeCheckpointLocked() {
  // Rolls are rare: look for one every 64 producer batches rather than
  // taking the log's lock on every append for it.
  if (++appends_since_roll_check_ < 64) return;
  appends_since_roll_check_ = 0;
  const size_t segments = log_->segment_count();
  if (segments == checkpointed_segments_) return;
  checkpointed_segments_ = segments;
  // A failed checkpoint only makes the next open replay more of the log.
  (void)hook_->Checkpoint(log_->log_end_offset());
}

absl::Status Partition::TruncateTo(Offset offset) {
  if (closed()) return ClosedError();
  std::lock_guard producer_lock(producer_mu_);
  EVLOG_RETURN_IF_ERROR(OrClosed(log_->TruncateTo(offset)));
  if (hook_ != nullptr) hook_->Truncated(log_->log_end_offset());
  PullBackHighWatermark();
  return absl::OkStatus();
}

absl::Status Partition::TruncateFullyAndStartAt(Offset offset) {
  if (closed()) return ClosedError();
  std::lock_guard producer_lock(producer_mu_);
  EVLOG_RETURN_IF_ERROR(OrClosed(log_->TruncateFullyAndStartAt(offset)));
  if (hook_ != nullptr) hook_->Truncated(Offset(0));
  // The log is empty from `offset` on: nothing before it can be read.
  high_watermark_.store(offset.value(), std::memory_order_seq_cst);
  return absl::OkStatus();
}

void Partition::PullBackHighWatermark() {
  const int64_t end = log_->log_end_offset().value();
  int64_t seen = high_watermark_.load(std::memory_order_relaxed);
  while (seen > end &&
         !high_watermark_.compare_exchange_weak(seen, end, std::memory_order_seq_cst)) {
  }
}

void Partition::WakeWaiters() {
  if (waiter_count_.load(std::memory_order_seq_cst) == 0) return;
  std::lock_guard lock(waiters_mu_);
  for (DataWaiter* w : waiters_) w->Wake();
}

absl::StatusOr<LogReadResult> Partition::Read(Offset offset, std::vector<std::byte>& buffer,
                                              LogReadOptions options) {
  if (closed()) return ClosedError();
  const Offset hw = high_watermark();
  if (offset > hw) {
    return MakeError(ErrorCode::kOffsetOutOfRange,
                     absl::StrCat("offset ", offset.value(), " is past the high watermark ",
                                  hw.value(), " of ", topic_, "-", id_.value()));
  }
  options.max_offset = options.max_offset ? std::min(*options.max_offset, hw) : hw;
  absl::StatusOr<LogReadResult> result = OrClosed(log_->Read(offset, buffer, options));
  if (!result.ok()) return result;
  reads_.fetch_add(1, std::memory_order_relaxed);
  bytes_read_.fetch_add(result->batches.size(), std::memory_order_relaxed);
  return result;
}

absl::StatusOr<std::optional<TimestampAndOffset>> Partition::OffsetForTimestamp(
    int64_t timestamp_ms) {
  if (closed()) return ClosedError();
  return OrClosed(log_->OffsetForTimestamp(timestamp_ms));
}

absl::Status Partition::BeginLeaderEpoch(LeaderEpoch epoch) {
  if (closed()) return ClosedError();
  return OrClosed(log_->BeginLeaderEpoch(epoch));
}

void Partition::AddWaiter(DataWaiter* waiter) {
  std::lock_guard lock(waiters_mu_);
  waiters_.push_back(waiter);
  waiter_count_.store(waiters_.size(), std::memory_order_seq_cst);
}

void Partition::RemoveWaiter(DataWaiter* waiter) {
  std::lock_guard lock(waiters_mu_);
  waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), waiter), waiters_.end());
  waiter_count_.store(waiters_.size(), std::memory_order_seq_cst);
}

absl::StatusOr<size_t> Partition::DeleteOldSegments() {
  if (closed()) return ClosedError();
  absl::StatusOr<size_t> deleted = OrClosed(log_->DeleteOldSegments());
  if (deleted.ok() && *deleted > 0) NoteLogStart();
  return deleted;
}

void Partition::NoteLogStart() {
  if (hook_ == nullptr) return;
  std::lock_guard lock(producer_mu_);
  hook_->LogStartMoved(log_->log_start_offset());
}

absl::Status Partition::MaybeCompact() {
  if (closed()) return ClosedError();
  if (settings_.log.cleanup_policy == CleanupPolicy::kDelete) return absl::OkStatus();
  CompactionOptions options;
  // Not past what readers may see, nor into an open transaction: its
  // outcome decides which record of each of its keys is the newest.
  options.max_offset = last_stable_offset();
  options.aborted_transactions = AbortedTransactions(log_->log_start_offset(), *options.max_offset);
  return OrClosed(log_->Compact(options).status());
}

absl::Status Partition::DeleteRecordsBefore(Offset offset) {
  if (closed()) return ClosedError();
  if (offset > high_watermark()) {
    return MakeError(ErrorCode::kOffsetOutOfRange,
                     absl::StrCat("cannot delete records before ", offset.value(),
                                  ": past the high watermark ", high_watermark().value()));
  }
  EVLOG_RETURN_IF_ERROR(OrClosed(log_->DeleteRecordsBefore(offset)));
  NoteLogStart();
  return absl::OkStatus();
}

absl::Status Partition::Flush() {
  if (closed()) return ClosedError();
  return OrClosed(log_->Flush());
}

PartitionMetrics Partition::metrics() const {
  PartitionMetrics m;
  m.topic_partition = TopicPartition(topic_, id_);
  if (!closed()) {
    m.log_start_offset = log_->log_start_offset();
    m.log_end_offset = log_->log_end_offset();
    m.size_bytes = log_->size_bytes();
    m.segments = log_->segment_count();
  }
  m.high_watermark = high_watermark();
  m.batches_appended = batches_appended_.load(std::memory_order_relaxed);
  m.records_appended = records_appended_.load(std::memory_order_relaxed);
  m.bytes_appended = bytes_appended_.load(std::memory_order_relaxed);
  m.append_errors = append_errors_.load(std::memory_order_relaxed);
  m.bytes_read = bytes_read_.load(std::memory_order_relaxed);
  m.reads = reads_.load(std::memory_order_relaxed);
  return m;
}

absl::Status Partition::Close() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return absl::OkStatus();
  absl::Status status;
  if (hook_ != nullptr) {
    std::lock_guard lock(producer_mu_);
    status = hook_->Checkpoint(log_->log_end_offset());
  }
  absl::Status closed = log_->Close();
  if (status.ok()) status = closed;
  WakeEveryWaiter();
  return status;
}

void Partition::Discard() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  {
    // An append under producer_mu_ may be writing a producer-state snapshot
    // into the directory the caller removes next: it finishes first.
    std::unique_lock<std::mutex> producer_lock;
    if (hook_ != nullptr) producer_lock = std::unique_lock(producer_mu_);
    log_->Discard();
  }
  WakeEveryWaiter();
}

// Without WakeWaiters' shortcut on the count: closing is rare.
void Partition::WakeEveryWaiter() {
  std::lock_guard lock(waiters_mu_);
  for (DataWaiter* w : waiters_) w->Wake();
}

}  // namespace evlog
