#include "evlog/client/consumer.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/record/record_batch.h"
#include "evlog/status.h"

namespace evlog {
namespace {

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

absl::Status NotAssigned(const TopicPartition& tp) {
  return absl::FailedPreconditionError(
      absl::StrCat("partition ", tp.ToString(), " is not assigned to this consumer"));
}

std::string Copy(ByteView b) { return std::string(AsStringView(b)); }

}  // namespace

OwnedRecord ConsumerRecord::ToOwned() const {
  OwnedRecord r;
  r.topic = std::string(topic);
  r.partition = partition;
  r.offset = offset;
  r.timestamp_ms = timestamp_ms;
  r.timestamp_type = timestamp_type;
  if (key) r.key = Copy(*key);
  if (value) r.value = Copy(*value);
  for (const RecordHeaderView& h : headers) {
    std::optional<std::string> v;
    if (h.value) v = Copy(*h.value);
    r.headers.emplace_back(std::string(h.key), std::move(v));
  }
  return r;
}

std::vector<OwnedRecord> ConsumerRecords::ToOwned() const {
  std::vector<OwnedRecord> out;
  out.reserve(records_.size());
  for (const ConsumerRecord& r : records_) out.push_back(r.ToOwned());
  return out;
}

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(Broker& broker,
                                                           ConsumerOptions options) {
  return Create(MakeClientBackend(broker), std::move(options));
}

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(Cluster& cluster,
                                                           ConsumerOptions options) {
  return Create(MakeClientBackend(cluster), std::move(options));
}

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(std::unique_ptr<ClientBackend> backend,
                                                           ConsumerOptions options) {
  EVLOG_CHECK(backend != nullptr);
  auto bad = [](std::string_view what) { return MakeError(ErrorCode::kInvalidConfig, what); };
  if (options.max_poll_records < 1) return bad("max_poll_records must be >= 1");
  if (options.fetch_max_bytes < 1) return bad("fetch_max_bytes must be >= 1");
  if (options.max_partition_fetch_bytes < 1) return bad("max_partition_fetch_bytes must be >= 1");
  if (options.poll_spin_us < 0) return bad("poll_spin_us must be >= 0");
  if (options.adaptive_spin_us < 0) return bad("adaptive_spin_us must be >= 0");
  if (!options.group_id.empty()) {
    if (options.session_timeout_ms < 1) return bad("session_timeout_ms must be >= 1");
    if (options.heartbeat_interval_ms < 1 ||
        options.heartbeat_interval_ms >= options.session_timeout_ms) {
      return bad("heartbeat_interval_ms must be >= 1 and below session_timeout_ms");
    }
    if (options.max_poll_interval_ms < 1) return bad("max_poll_interval_ms must be >= 1");
    if (options.auto_commit_interval_ms < 1) return bad("auto_commit_interval_ms must be >= 1");
    if (options.retry_backoff_ms < 0) return bad("retry_backoff_ms must be >= 0");
    if (options.partition_assignment_strategy.empty()) {
      return bad("partition_assignment_strategy needs at least one assignor");
    }
    if (options.group_instance_id.has_value() && options.group_instance_id->empty()) {
      return bad("group_instance_id must not be empty when set");
    }
  } else if (options.group_instance_id.has_value()) {
    return bad("group_instance_id needs group_id");
  }
  std::unique_ptr<Consumer> consumer(new Consumer(std::move(backend), std::move(options)));
  if (!consumer->options_.group_id.empty()) EVLOG_RETURN_IF_ERROR(consumer->CreateMembership());
  return consumer;
}

absl::StatusOr<std::shared_ptr<ClientPartition>> Consumer::Lookup(const TopicPartition& tp) const {
  EVLOG_RETURN_IF_ERROR(ValidateTopicName(tp.topic));
  EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<ClientTopic> topic,
                         backend_->GetTopic(tp.topic, /*auto_create=*/false));
  return topic->partition(tp.partition);
}

Consumer::PartitionState* Consumer::Find(const TopicPartition& tp) const {
  for (const auto& s : assigned_) {
    if (s->tp == tp) return s.get();
  }
  return nullptr;
}

absl::Status Consumer::Assign(const std::vector<TopicPartition>& partitions) {
  if (closed_) return absl::FailedPreconditionError("the consumer is closed");
  if (Subscribed()) {
    return absl::FailedPreconditionError("the consumer is subscribed: Unsubscribe before Assign");
  }
  return SetAssignment(partitions);
}

absl::Status Consumer::SetAssignment(const std::vector<TopicPartition>& partitions) {
  std::set<TopicPartition> wanted(partitions.begin(), partitions.end());
  std::vector<std::unique_ptr<PartitionState>> next;
  for (const TopicPartition& tp : wanted) {
    auto state = std::make_unique<PartitionState>();
    state->tp = tp;
    // A partition kept keeps its handle and position, unless its topic was
    // deleted (and perhaps created again).
    if (PartitionState* old = Find(tp); old != nullptr && !old->partition->deleted()) {
      state->partition = old->partition;
      state->position = old->position;
      state->buffer = std::move(old->buffer);
    } else {
      EVLOG_ASSIGN_OR_RETURN(state->partition, Lookup(tp));
    }
    next.push_back(std::move(state));
  }
  for (const auto& s : assigned_) s->partition->RemoveWaiter(&waiter_);
  assigned_ = std::move(next);
  for (const auto& s : assigned_) s->partition->AddWaiter(&waiter_);
  records_.clear();
  next_start_ = 0;
  return absl::OkStatus();
}

std::vector<TopicPartition> Consumer::Assignment() const {
  std::vector<TopicPartition> out;
  for (const auto& s : assigned_) out.push_back(s->tp);
  return out;  // assigned_ is built from a std::set: sorted
}

absl::Status Consumer::Seek(const TopicPartition& tp, Offset offset) {
  if (offset.value() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot seek ", tp.ToString(), " to a negative offset ", offset.value()));
  }
  PartitionState* s = Find(tp);
  if (s == nullptr) return NotAssigned(tp);
  s->position = offset;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Consumer::PartitionState*>> Consumer::Targets(
    const std::vector<TopicPartition>& partitions) const {
  std::vector<PartitionState*> targets;
  if (partitions.empty()) {
    for (const auto& s : assigned_) targets.push_back(s.get());
  }
  for (const TopicPartition& tp : partitions) {
    PartitionState* s = Find(tp);
    if (s == nullptr) return NotAssigned(tp);
    targets.push_back(s);
  }
  return targets;
}

absl::Status Consumer::SeekToBeginning(const std::vector<TopicPartition>& partitions) {
  EVLOG_ASSIGN_OR_RETURN(std::vector<PartitionState*> targets, Targets(partitions));
  for (PartitionState* s : targets) {
    EVLOG_ASSIGN_OR_RETURN(PartitionOffsets offsets, s->partition->Offsets());
    s->position = offsets.log_start_offset;
  }
  return absl::OkStatus();
}

absl::Status Consumer::SeekToEnd(const std::vector<TopicPartition>& partitions) {
  EVLOG_ASSIGN_OR_RETURN(std::vector<PartitionState*> targets, Targets(partitions));
  for (PartitionState* s : targets) {
    EVLOG_ASSIGN_OR_RETURN(PartitionOffsets offsets, s->partition->Offsets());
    s->position = ReadableEnd(offsets);
  }
  return absl::OkStatus();
}

absl::Status Consumer::ResetPosition(PartitionState& s, bool out_of_range) {
  EVLOG_ASSIGN_OR_RETURN(PartitionOffsets offsets, s.partition->Offsets());
  switch (options_.auto_offset_reset) {
    case OffsetResetPolicy::kEarliest:
      s.position = offsets.log_start_offset;
      break;
    case OffsetResetPolicy::kLatest:
      s.position = ReadableEnd(offsets);
      break;
    case OffsetResetPolicy::kNone:
      return MakeError(
          ErrorCode::kOffsetOutOfRange,
          out_of_range
              ? absl::StrCat("position ", s.position->value(), " of ", s.tp.ToString(),
                             " is outside [", offsets.log_start_offset.value(), ", ",
                             offsets.high_watermark.value(), "] and auto_offset_reset is none")
              : absl::StrCat(s.tp.ToString(),
                             " has no position and auto_offset_reset is none: Seek first"));
  }
  ++offset_resets_;
  return absl::OkStatus();
}

Offset Consumer::ReadableEnd(const PartitionOffsets& offsets) const {
  return options_.isolation_level == IsolationLevel::kReadCommitted ? offsets.last_stable_offset
                                                                    : offsets.high_watermark;
}

absl::StatusOr<Offset> Consumer::Position(const TopicPartition& tp) {
  PartitionState* s = Find(tp);
  if (s == nullptr) return NotAssigned(tp);
  if (!s->position) EVLOG_RETURN_IF_ERROR(ResetPosition(*s, /*out_of_range=*/false));
  return *s->position;
}

absl::StatusOr<std::map<TopicPartition, std::optional<TimestampAndOffset>>>
Consumer::OffsetsForTimes(const std::map<TopicPartition, int64_t>& timestamps_ms) {
  std::map<TopicPartition, std::optional<TimestampAndOffset>> out;
  for (const auto& [tp, ts] : timestamps_ms) {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<ClientPartition> partition, Lookup(tp));
    EVLOG_ASSIGN_OR_RETURN(out[tp], partition->OffsetForTimestamp(ts));
  }
  return out;
}

absl::StatusOr<std::map<TopicPartition, Offset>> Consumer::BeginningOffsets(
    const std::vector<TopicPartition>& partitions) {
  std::map<TopicPartition, Offset> out;
  for (const TopicPartition& tp : partitions) {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<ClientPartition> partition, Lookup(tp));
    EVLOG_ASSIGN_OR_RETURN(PartitionOffsets offsets, partition->Offsets());
    out[tp] = offsets.log_start_offset;
  }
  return out;
}

absl::StatusOr<std::map<TopicPartition, Offset>> Consumer::EndOffsets(
    const std::vector<TopicPartition>& partitions) {
  std::map<TopicPartition, Offset> out;
  for (const TopicPartition& tp : partitions) {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<ClientPartition> partition, Lookup(tp));
    EVLOG_ASSIGN_OR_RETURN(PartitionOffsets offsets, partition->Offsets());
    out[tp] = ReadableEnd(offsets);
  }
  return out;
}

namespace {

// A read that failed only because the partition's leader is moving: the
// consumer waits for the metadata to settle instead of failing the poll.
bool LeaderMoving(const absl::Status& status) {
  const ErrorCode code = GetErrorCode(status);
  return code == ErrorCode::kLeaderNotAvailable || code == ErrorCode::kNotLeaderOrFollower;
}

}  // namespace

absl::StatusOr<size_t> Consumer::FetchFrom(PartitionState& s, size_t max_bytes) {
  if (s.partition->deleted()) {
    return MakeError(ErrorCode::kUnknownTopicOrPartition,
                     absl::StrCat(s.tp.ToString(), " no longer exists (its topic was deleted)"));
  }
  if (s.awaiting_committed) return 0;
  absl::StatusOr<PartitionOffsets> offsets = s.partition->Offsets();
  if (!offsets.ok()) {
    if (LeaderMoving(offsets.status())) return 0;
    return offsets.status();
  }
  if (!s.position) EVLOG_RETURN_IF_ERROR(ResetPosition(s, /*out_of_range=*/false));
  // Nothing new (or, past a new leader's high watermark, nothing yet).
  const Offset end = ReadableEnd(*offsets);
  if (*s.position >= end && *s.position <= offsets->log_end_offset) return 0;
  const bool committed_only = options_.isolation_level == IsolationLevel::kReadCommitted;
  LogReadOptions read_options;
  read_options.max_bytes = max_bytes;
  read_options.verify = options_.check_crcs;
  if (committed_only) read_options.max_offset = end;
  absl::StatusOr<LogReadResult> read = s.partition->Read(*s.position, s.buffer, read_options);
  if (!read.ok()) {
    if (LeaderMoving(read.status())) return 0;
    if (!HasErrorCode(read.status(), ErrorCode::kOffsetOutOfRange)) return read.status();
    EVLOG_RETURN_IF_ERROR(ResetPosition(s, /*out_of_range=*/true));
    read = s.partition->Read(*s.position, s.buffer, read_options);
    if (!read.ok()) {
      if (LeaderMoving(read.status())) return 0;
      return read.status();
    }
  }
  // read_committed: the aborted transactions among what was read.
  std::vector<AbortedTransaction> aborted;
  if (committed_only && !read->batches.empty()) {
    absl::StatusOr<std::vector<AbortedTransaction>> found =
        s.partition->AbortedTransactions(*s.position, read->next_offset);
    if (!found.ok()) {
      if (LeaderMoving(found.status())) return 0;
      return found.status();
    }
    aborted = *std::move(found);
  }
  auto is_aborted = [&aborted](const RecordBatchView& batch) {
    if (!batch.is_transactional()) return false;
    for (const AbortedTransaction& t : aborted) {
      if (t.producer_id == batch.producer_id() && t.first_offset <= batch.base_offset() &&
          batch.base_offset() <= t.last_offset) {
        return true;
      }
    }
    return false;
  };
  const size_t limit = static_cast<size_t>(options_.max_poll_records);
  ByteView rest = read->batches;
  Offset next = read->next_offset;
  while (!rest.empty() && records_.size() < limit) {
    // The read checked each CRC when check_crcs asks for that (verify).
    EVLOG_ASSIGN_OR_RETURN(RecordBatchView batch, RecordBatchView::Parse(rest, CrcCheck::kSkip));
    rest = rest.subspan(batch.size_bytes());
    if (batch.is_control() || batch.last_offset() < *s.position) continue;
    if (!aborted.empty() && is_aborted(batch)) continue;
    std::vector<std::byte>* decompressed = nullptr;
    if (batch.compression() != CompressionType::kNone) {
      if (decompression_buffers_used_ == decompression_buffers_.size()) {
        decompression_buffers_.emplace_back();
      }
      decompressed = &decompression_buffers_[decompression_buffers_used_++];
    }
    EVLOG_ASSIGN_OR_RETURN(RecordIterator it, batch.Records({}, decompressed));
    const TimestampType type = batch.timestamp_type();
    for (; it.Valid(); it.Next()) {
      const RecordView& r = it.record();
      if (r.offset < *s.position) continue;
      if (records_.size() == limit) {
        next = r.offset;
        break;
      }
      ConsumerRecord& c = records_.emplace_back();
      c.topic = s.tp.topic;
      c.partition = s.tp.partition;
      c.offset = r.offset;
      c.timestamp_ms = r.timestamp_ms;
      c.timestamp_type = type;
      c.key = r.key;
      c.value = r.value;
      c.headers = r.headers;
    }
    EVLOG_RETURN_IF_ERROR(it.status());
    if (records_.size() == limit && !rest.empty() && next == read->next_offset) {
      // Stopped at a batch boundary: the next batch starts after this one.
      next = batch.last_offset() + 1;
    }
  }
  s.position = std::max(*s.position, next);
  return read->batches.size();
}

absl::Status Consumer::FetchAll() {
  const size_t n = assigned_.size();
  // Fixed for the whole pass: each partition is fetched at most once per
  // pass, because a second read would reuse the buffer that the records
  // already collected from it point into.
  const size_t start = next_start_;
  size_t budget = static_cast<size_t>(options_.fetch_max_bytes);
  for (size_t i = 0; i < n && budget > 0; ++i) {
    if (records_.size() >= static_cast<size_t>(options_.max_poll_records)) break;
    PartitionState& s = *assigned_[(start + i) % n];
    const size_t max_bytes =
        std::min(budget, static_cast<size_t>(options_.max_partition_fetch_bytes));
    const size_t before = records_.size();
    absl::StatusOr<size_t> bytes = FetchFrom(s, max_bytes);
    if (!bytes.ok()) {
      ++errors_;
      if (records_.size() > 0) {
        // Hand out what was collected; the error comes with the next Poll.
        deferred_error_ = bytes.status();
        break;
      }
      return bytes.status();
    }
    budget -= std::min(budget, *bytes);
    bytes_fetched_ += *bytes;
    // The next poll starts after the last partition that gave records, so
    // one busy partition cannot starve the others.
    if (records_.size() > before) next_start_ = (start + i + 1) % n;
  }
  return absl::OkStatus();
}

bool Consumer::HasData() const {
  for (const auto& s : assigned_) {
    if (s->partition->deleted()) return true;
    // Its committed offset is fetched again on a timer (GroupWaitBudgetMs).
    if (s->awaiting_committed) continue;
    absl::StatusOr<PartitionOffsets> offsets = s->partition->Offsets();
    // A moving leader: the waiter is woken when the metadata changes.
    if (!offsets.ok()) continue;
    // A position to set, records to read, or a position out of range.
    if (!s->position || *s->position < ReadableEnd(*offsets) ||
        *s->position > offsets->log_end_offset) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<ConsumerRecords> Consumer::Poll(int64_t timeout_ms) {
  if (closed_) return absl::FailedPreconditionError("the consumer is closed");
  GroupPollStarted();
  absl::StatusOr<ConsumerRecords> records = PollOnce(timeout_ms);
  GroupPollEnded();
  return records;
}

absl::StatusOr<ConsumerRecords> Consumer::PollOnce(int64_t timeout_ms) {
  ++polls_;
  records_.clear();
  decompression_buffers_used_ = 0;
  if (!deferred_error_.ok()) {
    absl::Status error = std::move(deferred_error_);
    deferred_error_ = absl::OkStatus();
    return error;
  }
  const int64_t deadline_ns = SteadyNowNs() + std::max<int64_t>(timeout_ms, 0) * 1'000'000;
  int64_t spin_ns = options_.poll_spin_us * 1'000;
  if (spin_ns == 0 && adaptive_spin_) spin_ns = options_.adaptive_spin_us * 1'000;
  // Set at the first pass that finds nothing: the wait starts there.
  int64_t wait_start_ns = -1;
  int64_t spin_until_ns = 0;
  while (true) {
    if (wakeup_.exchange(false)) return absl::CancelledError("Wakeup() was called");
    if (group_ != nullptr) EVLOG_RETURN_IF_ERROR(PollGroup());
    EVLOG_RETURN_IF_ERROR(FetchAll());
    if (!records_.empty()) break;
    const int64_t now_ns = SteadyNowNs();
    if (wait_start_ns < 0) {
      wait_start_ns = now_ns;
      spin_until_ns = std::min(deadline_ns, now_ns + spin_ns);
    }
    if (now_ns >= deadline_ns) break;
    if (now_ns < spin_until_ns) continue;
    const DataWaiter::Ticket ticket = waiter_.Prepare();
    if (wakeup_.load(std::memory_order_seq_cst) || HasData()) {
      waiter_.Cancel();
      continue;
    }
    int64_t wait_until_ns = deadline_ns;
    if (const int64_t budget_ms = GroupWaitBudgetMs(); budget_ms >= 0) {
      wait_until_ns = std::min(wait_until_ns, SteadyNowNs() + budget_ms * 1'000'000);
    }
    waiter_.Wait(ticket, wait_until_ns);
  }
  // A Poll that found records at once says nothing about the gaps between
  // them; one that timed out ends the spinning.
  if (wait_start_ns >= 0) {
    adaptive_spin_ =
        !records_.empty() && SteadyNowNs() - wait_start_ns <= options_.adaptive_spin_us * 1'000;
  }
  records_consumed_ += records_.size();
  return ConsumerRecords(records_);
}

void Consumer::Wakeup() {
  wakeup_.store(true, std::memory_order_seq_cst);
  waiter_.Wake();
}

absl::Status Consumer::Close() {
  if (closed_) return absl::OkStatus();
  if (group_ != nullptr) CloseGroup();
  closed_ = true;
  for (const auto& s : assigned_) s->partition->RemoveWaiter(&waiter_);
  assigned_.clear();
  records_.clear();
  return absl::OkStatus();
}

ConsumerMetrics Consumer::metrics() const {
  ConsumerMetrics m;
  m.client_id = options_.client_id;
  m.polls = polls_;
  m.records_consumed = records_consumed_;
  m.bytes_fetched = bytes_fetched_;
  m.offset_resets = offset_resets_;
  m.errors = errors_;
  for (const auto& s : assigned_) {
    ConsumerPartitionMetrics p;
    p.topic_partition = s->tp;
    absl::StatusOr<PartitionOffsets> offsets = s->partition->Offsets();
    if (offsets.ok()) p.high_watermark = offsets->high_watermark;
    if (s->position) {
      p.position = *s->position;
      p.lag = std::max<int64_t>(0, p.high_watermark - *s->position);
    }
    m.partitions.push_back(std::move(p));
  }
  return m;
}

}  // namespace evlog
