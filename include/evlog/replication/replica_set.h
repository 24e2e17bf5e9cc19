// evlog/replication/replica_set.h — one broker's replica of one partition:
// the leader side (acks, in-sync replicas, high watermark) and the follower
// side (pulling from the leader, truncating where the logs diverge).
//
// The controller decides who leads and who is in sync (PartitionState);
// every broker hosting a replica has a ReplicaSet and hands it each new
// decision through Update(). Then:
//
//   - the leader appends produced batches stamped with its leader epoch,
//     answers followers' fetches, tracks each follower's log end offset,
//     and moves the high watermark to the smallest log end offset in the
//     ISR (never while the ISR is below min_insync_replicas). An acks=all
//     append completes once the high watermark passes it. It proposes ISR
//     changes — a follower caught up within replica_lag_time_max_ms joins,
//     one that is not leaves — through an IsrChangeSender that carries them
//     to the controller (AlterPartition); the controller's answer is the
//     truth.
//   - a follower fetches from its log end offset, naming the epoch of its
//     last batch. When the leader says the logs diverge (KIP-320 style
//     DivergingEpoch) it truncates to where they agree — found by leader
//     epoch, never by high watermark alone (KIP-101/KIP-279) — and fetches
//     again; otherwise it appends the batches as they are and takes the
//     leader's high watermark.
//
//   ReplicaSet<> replica(self, {"orders", 0}, partition, transport, executor,
//                        clock, send_isr_change_to_controller, options);
//   replica.Update(leadership_from_controller);
//   replica.Append(batch, Acks::kAll, /*timeout_ms=*/30'000,
//                  [](absl::StatusOr<AppendResult> r) { ... });
//
// The owner routes fetch requests addressed to this replica to
// HandleFetch (api key replica_api::kFetch on the Transport).
//
// Execution: timers (ISR checks, request timeouts, fetch backoff) are tasks
// on the executor; followers' fetches and their answers go through the
// transport. With a ManualExecutor, a ManualClock and an InProcessTransport
// the whole exchange is deterministic.
//
// Thread-safety: every method is thread-safe. Callbacks (append
// completions, fetch responders) run without the replica's locks held,
// possibly on the calling thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/io/spinning_lock.h"
#include "evlog/partition/partition.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/record/record_batch.h"
#include "evlog/replication/partition_state.h"
#include "evlog/replication/replica_messages.h"
#include "evlog/status.h"
#include "evlog/storage/leader_epoch_cache.h"
#include "evlog/transport/transport.h"
#include "evlog/types.h"

namespace evlog {

// Carries an IsrChange to the controller and calls `done` with the
// partition's state after it (or the controller's error), from any thread,
// at most once. Dropping `done` uncalled is allowed: the leader proposes
// again later.
using IsrChangeSender = absl::AnyInvocable<void(
    IsrChange change, absl::AnyInvocable<void(absl::StatusOr<PartitionState>)> done)>;

struct ReplicaSetOptions {
  // A follower that has not caught up with the leader's log end for this
  // long leaves the ISR (Kafka replica.lag.time.max.ms).
  int64_t replica_lag_time_max_ms = 30'000;
  // An acks=all append fails with NOT_ENOUGH_REPLICAS while fewer replicas
  // are in sync (Kafka min.insync.replicas).
  int32_t min_insync_replicas = 1;
  // How long a leader holds a follower's fetch when it has nothing new
  // (replica.fetch.wait.max.ms), and how much one fetch carries.
  int32_t fetch_max_wait_ms = 500;
  int32_t fetch_max_bytes = 1 << 20;
  // Pause before a follower fetches again after an error (replica.fetch.backoff.ms).
  int64_t fetch_backoff_ms = 1'000;
  // A fetch without an answer for this long (beyond its max wait) is given
  // up and sent again.
  int64_t fetch_timeout_ms = 30'000;
};

// A snapshot for tests, metrics and admin calls.
struct ReplicaStatus {
  enum class Role { kNone, kLeader, kFollower };
  Role role = Role::kNone;
  BrokerId leader{-1};
  LeaderEpoch leader_epoch = kNoLeaderEpoch;
  int32_t partition_epoch = -1;
  std::vector<BrokerId> replicas;
  std::vector<BrokerId> isr;
  // The ISR change waiting for the controller, if any.
  std::optional<std::vector<BrokerId>> pending_isr;
  Offset high_watermark;
  Offset log_end_offset;
  // Leader only: each follower's log end offset as the leader last heard
  // it (-1: not since this leader took over).
  std::vector<std::pair<BrokerId, Offset>> follower_log_end_offsets;
};

// What ReplicaSet needs of a partition's log; Partition provides it.
template <typename L>
concept ReplicaLogLike = requires(L& log, const L& clog, MutableByteView batch,
                                  const AppendOptions& append_options, Offset offset,
                                  std::vector<std::byte>& buffer, LogReadOptions read_options,
                                  LeaderEpoch epoch) {
  { log.Append(batch, append_options) } -> std::same_as<absl::StatusOr<AppendResult>>;
  { log.ReadReplica(offset, buffer, read_options) } -> std::same_as<absl::StatusOr<LogReadResult>>;
  { log.TruncateTo(offset) } -> std::same_as<absl::Status>;
  { log.TruncateFullyAndStartAt(offset) } -> std::same_as<absl::Status>;
  {log.SetHighWatermark(offset)};
  {log.ManageHighWatermark(offset)};
  { clog.log_start_offset() } -> std::same_as<Offset>;
  { clog.log_end_offset() } -> std::same_as<Offset>;
  { clog.high_watermark() } -> std::same_as<Offset>;
  { clog.latest_epoch() } -> std::same_as<std::optional<LeaderEpoch>>;
  { clog.EndOffsetForEpoch(epoch) } -> std::same_as<EpochEndOffset>;
  { log.BeginLeaderEpoch(epoch) } -> std::same_as<absl::Status>;
};

template <ReplicaLogLike Log = Partition, TransportLike TransportT = Transport>
class ReplicaSet {
 public:
  using AppendCallback = absl::AnyInvocable<void(absl::StatusOr<AppendResult>)>;
  using FetchResponder = absl::AnyInvocable<void(FetchResponse)>;

  // `log`, `transport`, `executor` and `clock` must outlive the replica.
  // The replica takes over the log's high watermark, starting it at
  // `restored_high_watermark` (ManageHighWatermark: the broker's checkpoint
  // of it, or 0 for none), and does nothing until the first Update().
  ReplicaSet(BrokerId self, TopicPartition topic_partition, Log& log, TransportT& transport,
             Executor& executor, Clock& clock, IsrChangeSender send_isr_change,
             ReplicaSetOptions options = {}, Offset restored_high_watermark = Offset(0));
  ~ReplicaSet() { Close(); }
  ReplicaSet(const ReplicaSet&) = delete;
  ReplicaSet& operator=(const ReplicaSet&) = delete;

  // Applies the controller's decision: becomes leader or follower when the
  // leader epoch is new, takes a new ISR when only the partition epoch is.
  // Decisions older than the one applied (lower leader epoch, or the same
  // with a lower partition epoch) are ignored. A leader that becomes a
  // follower fails its waiting acks=all appends with NOT_LEADER_OR_FOLLOWER.
  // Errors: INVALID_REQUEST when this broker is not among the replicas.
  absl::Status Update(const PartitionState& leadership);

  // Leader only: appends `batch` (one RecordBatchBuilder batch; edited in
  // place, see SegmentedLog::Append) stamped with the leader epoch, and
  // calls `done` when `acks` is satisfied: at once for kNone and kLeader;
  // for kAll when every ISR member has the batch. Errors:
  // NOT_LEADER_OR_FOLLOWER (not the leader, or leadership lost while
  // waiting); NOT_ENOUGH_REPLICAS (ISR below min_insync_replicas, nothing
  // appended); NOT_ENOUGH_REPLICAS_AFTER_APPEND (the ISR shrank below it
  // before the batch was replicated: it is in the leader's log and may
  // still commit); REQUEST_TIMED_OUT after `timeout_ms`; the log's errors.
  // `origin` goes to the log's append (AppendOptions::origin): a
  // coordinator's transactional offsets are checked by epoch only.
  void Append(MutableByteView batch, Acks acks, int64_t timeout_ms, AppendCallback done,
              AppendOrigin origin = AppendOrigin::kClient);

  // Leader side of a follower's fetch: answers through `respond`, at once or,
  // when there is nothing new, after new data, a high watermark move, or
  // request.max_wait_ms. The answer's error is NOT_LEADER_OR_FOLLOWER
  // (not the leader, or the fetcher is not a replica), FENCED_LEADER_EPOCH /
  // UNKNOWN_LEADER_EPOCH (the follower's epoch is older / newer),
  // OFFSET_OUT_OF_RANGE (fetch offset outside the leader's log), or NONE
  // with records or a divergence. The answer's `records` view is valid only
  // during the call to `respond`, which must encode or copy them before it
  // returns (the buffer they are read into is reused).
  void HandleFetch(const FetchRequest& request, FetchResponder respond);

  ReplicaStatus status() const;
  bool is_leader() const;
  const TopicPartition& topic_partition() const { return topic_partition_; }

  // Stops fetching and timers; fails waiting appends with
  // NOT_LEADER_OR_FOLLOWER and answers held fetches. Idempotent; after it
  // every call fails as if this broker were not a replica.
  void Close();

 private:
  enum class Role { kNone, kLeader, kFollower };

  struct FollowerState {
    Offset log_end_offset{-1};
    int64_t last_caught_up_ms = 0;
    int64_t last_fetch_ms = 0;
    Offset leader_end_at_last_fetch{-1};
  };
  struct PendingAppend {
    AppendResult result;
    AppendCallback done;
    Executor::TaskId timer = 0;
  };
  struct HeldFetch {
    FetchRequest request;
    FetchResponder respond;
    Executor::TaskId timer = 0;
  };
  // Work decided under the locks and done after releasing them.
  using Deferred = std::vector<absl::AnyInvocable<void()>>;

  // Keeps transport callbacks from touching a closed replica; Close() takes
  // the mutex, so it waits for a callback that is running.
  struct Lifeline {
    std::mutex mu;
    bool alive = true;
  };
  template <typename F>
  auto Guarded(F f) {
    return [life = lifeline_, f = std::move(f)](auto&&... args) mutable {
      std::lock_guard lock(life->mu);
      if (life->alive) f(std::forward<decltype(args)>(args)...);
    };
  }

  static void Run(Deferred& deferred) {
    for (auto& d : deferred) d();
    deferred.clear();
  }
  FetchResponse BaseResponseLocked() const;
  void BecomeLeaderLocked(Deferred& deferred);
  void StopLeadingLocked(Deferred& deferred, ErrorCode error);
  // The ISR plus any member a pending change adds: what the high watermark
  // waits for while the controller decides (Kafka's "maximal ISR").
  std::vector<BrokerId> MaximalIsrLocked() const;
  void MaybeAdvanceHighWatermarkLocked(Deferred& deferred);
  void CompleteAppendsLocked(Deferred& deferred);
  void FailAppendsLocked(Deferred& deferred, ErrorCode error, std::string_view why);
  void WakeHeldFetchesLocked(Deferred& deferred);
  void ProposeIsrLocked(std::vector<BrokerId> new_isr, Deferred& deferred);
  void OnIsrChangeResult(uint64_t session, absl::StatusOr<PartitionState> result);
  void ScheduleIsrCheckLocked();
  void CheckIsr(uint64_t session);
  // Serves a fetch now; with `may_hold`, parks it when there is nothing new.
  void ServeFetch(FetchRequest request, FetchResponder respond, bool may_hold);

  void SendFetch(uint64_t session);
  void ScheduleFetchLocked(uint64_t session, int64_t delay_ms);
  void OnFetchResponse(uint64_t session, Offset fetch_offset, absl::StatusOr<Message> message);
  // Follower: applies a fetch answer whose batches are `records` (its
  // `records`, writable); returns the delay before the next fetch.
  int64_t ApplyFetchResponse(const FetchResponse& response, MutableByteView records,
                             Offset fetch_offset);

  const BrokerId self_;
  const TopicPartition topic_partition_;
  Log& log_;
  TransportT& transport_;
  Clock& clock_;
  const ReplicaSetOptions options_;
  IsrChangeSender send_isr_change_;
  TaskGroup tasks_;
  std::shared_ptr<Lifeline> lifeline_ = std::make_shared<Lifeline>();

  // Exclusive while the role changes or a follower truncates and appends;
  // shared by leader appends and fetch handling, so that no append lands
  // under an epoch that is no longer this broker's.
  mutable std::shared_mutex role_mu_;
  mutable std::mutex mu_;
  bool closed_ = false;
  Role role_ = Role::kNone;
  BrokerId leader_{-1};
  LeaderEpoch leader_epoch_ = kNoLeaderEpoch;
  int32_t partition_epoch_ = -1;
  std::vector<BrokerId> replicas_;
  std::vector<BrokerId> isr_;
  std::optional<std::vector<BrokerId>> pending_isr_;
  // Bumped on every role or leader change: answers to requests sent before
  // it are ignored.
  uint64_t session_ = 0;
  // Leader: the log end offset when this broker took over; a follower joins
  // the ISR only once it has everything before it (KIP-320).
  Offset epoch_start_offset_;
  absl::flat_hash_map<BrokerId, FollowerState> followers_;
  // Waiting acks=all appends by the offset the high watermark must reach.
  std::multimap<Offset, PendingAppend> pending_appends_;
  uint64_t next_held_id_ = 1;
  std::map<uint64_t, HeldFetch> held_fetches_;
  Executor::TaskId isr_check_timer_ = 0;
  bool fetch_scheduled_ = false;
};

namespace replica_internal {
inline bool Contains(const std::vector<BrokerId>& v, BrokerId id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

// The buffer a leader reads a fetch's batches into, taken from a small pool
// of this thread's and given back when done. A buffer per fetch, allocated
// by the leader's thread and freed by whichever finished with the answer,
// made the pool's threads queue on each other's malloc arena locks and fault
// fresh pages in on every round trip. A pool rather than one buffer: serving
// a fetch can serve another on the same thread (its completions append,
// which answers a held fetch).
class ReadBuffer {
 public:
  ReadBuffer() {
    std::vector<std::vector<std::byte>>& pool = Pool();
    if (!pool.empty()) {
      bytes_ = std::move(pool.back());
      pool.pop_back();
    }
  }
  ~ReadBuffer() {
    std::vector<std::vector<std::byte>>& pool = Pool();
    if (pool.size() < kPooled && bytes_.capacity() <= kMaxPooledBytes) {
      pool.push_back(std::move(bytes_));
    }
  }
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;

  std::vector<std::byte>& bytes() { return bytes_; }

 private:
  static constexpr size_t kPooled = 4;
  // A follower far behind reads up to its fetch_max_bytes; a buffer grown
  // past this is not kept.
  static constexpr size_t kMaxPooledBytes = size_t{1} << 20;
  static std::vector<std::vector<std::byte>>& Pool() {
    thread_local std::vector<std::vector<std::byte>> pool;
    return pool;
  }
  std::vector<std::byte> bytes_;
};

inline std::string Ids(const std::vector<BrokerId>& v) {
  return absl::StrJoin(v, ",",
                       [](std::string* out, BrokerId id) { absl::StrAppend(out, id.value()); });
}
}  // namespace replica_internal

// --- Implementation ---

template <ReplicaLogLike Log, TransportLike TransportT>
ReplicaSet<Log, TransportT>::ReplicaSet(BrokerId self, TopicPartition topic_partition, Log& log,
                                        TransportT& transport, Executor& executor, Clock& clock,
                                        IsrChangeSender send_isr_change, ReplicaSetOptions options,
                                        Offset restored_high_watermark)
    : self_(self),
      topic_partition_(std::move(topic_partition)),
      log_(log),
      transport_(transport),
      clock_(clock),
      options_(options),
      send_isr_change_(std::move(send_isr_change)),
      tasks_(executor) {
  log_.ManageHighWatermark(restored_high_watermark);
}

template <ReplicaLogLike Log, TransportLike TransportT>
absl::Status ReplicaSet<Log, TransportT>::Update(const PartitionState& l) {
  using replica_internal::Contains;
  if (!Contains(l.replicas, self_)) {
    return MakeError(
        ErrorCode::kInvalidRequest,
        absl::StrCat("broker ", self_.value(), " is not a replica of ", topic_partition_.ToString(),
                     " (replicas ", replica_internal::Ids(l.replicas), ")"));
  }
  Deferred deferred;
  {
    std::unique_lock role_lock(role_mu_);
    std::unique_lock lock = LockSpinning(mu_);
    if (closed_) return absl::OkStatus();
    const bool first = role_ == Role::kNone && leader_epoch_ == kNoLeaderEpoch;
    if (!first && (l.leader_epoch < leader_epoch_ ||
                   (l.leader_epoch == leader_epoch_ && l.partition_epoch <= partition_epoch_))) {
      return absl::OkStatus();  // stale or already applied
    }
    const bool new_epoch = first || l.leader_epoch != leader_epoch_;
    const Role was = role_;
    replicas_ = l.replicas;
    isr_ = l.isr;
    partition_epoch_ = l.partition_epoch;
    // Whatever was pending, the controller has moved on from it.
    pending_isr_.reset();
    leader_ = l.leader;
    leader_epoch_ = l.leader_epoch;
    if (l.leader == self_) {
      if (new_epoch || was != Role::kLeader) {
        if (was == Role::kLeader) StopLeadingLocked(deferred, ErrorCode::kNotLeaderOrFollower);
        BecomeLeaderLocked(deferred);
      } else {
        // Only the ISR changed: it may have shrunk below min ISR...
        if (static_cast<int32_t>(isr_.size()) < options_.min_insync_replicas) {
          FailAppendsLocked(deferred, ErrorCode::kNotEnoughReplicasAfterAppend,
                            "the ISR shrank below min.insync.replicas");
        }
        // ...or shrunk to members that are further along.
        MaybeAdvanceHighWatermarkLocked(deferred);
      }
    } else {
      if (was == Role::kLeader) StopLeadingLocked(deferred, ErrorCode::kNotLeaderOrFollower);
      ++session_;
      fetch_scheduled_ = false;
      if (l.leader.value() >= 0) {
        role_ = Role::kFollower;
        ScheduleFetchLocked(session_, 0);
      } else {
        role_ = Role::kNone;
      }
    }
  }
  Run(deferred);
  return absl::OkStatus();
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::BecomeLeaderLocked(Deferred& deferred) {
  ++session_;
  fetch_scheduled_ = false;
  role_ = Role::kLeader;
  epoch_start_offset_ = log_.log_end_offset();
  // Kafka records the epoch's start at once, so followers asking where
  // their epoch ended are answered from the new leader's view. A failure
  // costs nothing lasting: the first append records the epoch anyway.
  (void)log_.BeginLeaderEpoch(leader_epoch_);
  const int64_t now = clock_.WallMs();
  followers_.clear();
  for (BrokerId id : replicas_) {
    if (id == self_) continue;
    FollowerState& f = followers_[id];
    // An ISR member gets a full lag period to show up (Kafka resets it so).
    f.last_caught_up_ms = replica_internal::Contains(isr_, id) ? now : 0;
  }
  ScheduleIsrCheckLocked();
  MaybeAdvanceHighWatermarkLocked(deferred);
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::StopLeadingLocked(Deferred& deferred, ErrorCode error) {
  FailAppendsLocked(deferred, error, "leadership moved before the batch was replicated");
  for (auto& [id, held] : held_fetches_) {
    tasks_.Cancel(held.timer);
    FetchResponse response = BaseResponseLocked();
    response.error = error;
    deferred.push_back(
        [respond = std::move(held.respond), response = std::move(response)]() mutable {
          respond(std::move(response));
        });
  }
  held_fetches_.clear();
  if (isr_check_timer_ != 0) tasks_.Cancel(isr_check_timer_);
  isr_check_timer_ = 0;
  followers_.clear();
  role_ = Role::kNone;
}

template <ReplicaLogLike Log, TransportLike TransportT>
FetchResponse ReplicaSet<Log, TransportT>::BaseResponseLocked() const {
  FetchResponse r;
  r.leader_id = leader_;
  r.leader_epoch = leader_epoch_;
  r.high_watermark = log_.high_watermark();
  r.log_start_offset = log_.log_start_offset();
  r.log_end_offset = log_.log_end_offset();
  return r;
}

template <ReplicaLogLike Log, TransportLike TransportT>
std::vector<BrokerId> ReplicaSet<Log, TransportT>::MaximalIsrLocked() const {
  std::vector<BrokerId> isr = isr_;
  if (pending_isr_) {
    for (BrokerId id : *pending_isr_) {
      if (!replica_internal::Contains(isr, id)) isr.push_back(id);
    }
  }
  return isr;
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::MaybeAdvanceHighWatermarkLocked(Deferred& deferred) {
  if (role_ != Role::kLeader) return;
  // Kafka 3.7+ (KAFKA-15583): nothing commits while too few are in sync.
  if (static_cast<int32_t>(isr_.size()) < options_.min_insync_replicas) return;
  Offset candidate = log_.log_end_offset();
  for (BrokerId id : MaximalIsrLocked()) {
    if (id == self_) continue;
    auto it = followers_.find(id);
    if (it == followers_.end() || it->second.log_end_offset < Offset(0)) return;  // unknown yet
    candidate = std::min(candidate, it->second.log_end_offset);
  }
  if (candidate <= log_.high_watermark()) return;
  log_.SetHighWatermark(candidate);
  CompleteAppendsLocked(deferred);
  WakeHeldFetchesLocked(deferred);
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::CompleteAppendsLocked(Deferred& deferred) {
  const Offset hw = log_.high_watermark();
  while (!pending_appends_.empty() && pending_appends_.begin()->first <= hw) {
    PendingAppend p = std::move(pending_appends_.begin()->second);
    pending_appends_.erase(pending_appends_.begin());
    tasks_.Cancel(p.timer);
    deferred.push_back([p = std::move(p)]() mutable { p.done(p.result); });
  }
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::FailAppendsLocked(Deferred& deferred, ErrorCode error,
                                                    std::string_view why) {
  for (auto& [offset, p] : pending_appends_) {
    tasks_.Cancel(p.timer);
    absl::Status status =
        MakeError(error, absl::StrCat(topic_partition_.ToString(), " offset ",
                                      p.result.base_offset.value(), ": ", internal::ToAbsl(why)));
    deferred.push_back([done = std::move(p.done), status = std::move(status)]() mutable {
      done(std::move(status));
    });
  }
  pending_appends_.clear();
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::WakeHeldFetchesLocked(Deferred& deferred) {
  for (auto& [id, held] : held_fetches_) {
    tasks_.Cancel(held.timer);
    deferred.push_back(
        [this, request = std::move(held.request), respond = std::move(held.respond)]() mutable {
          ServeFetch(std::move(request), std::move(respond), /*may_hold=*/false);
        });
  }
  held_fetches_.clear();
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::Append(MutableByteView batch, Acks acks, int64_t timeout_ms,
                                         AppendCallback done, AppendOrigin origin) {
  Deferred deferred;
  {
    std::shared_lock role_lock(role_mu_);
    LeaderEpoch epoch;
    absl::Status refused;
    {
      std::unique_lock lock = LockSpinning(mu_);
      if (closed_ || role_ != Role::kLeader) {
        refused =
            MakeError(ErrorCode::kNotLeaderOrFollower,
                      absl::StrCat("broker ", self_.value(), " is not the leader of ",
                                   topic_partition_.ToString(), " (leader ", leader_.value(), ")"));
      } else if (acks == Acks::kAll &&
                 static_cast<int32_t>(isr_.size()) < options_.min_insync_replicas) {
        refused = MakeError(
            ErrorCode::kNotEnoughReplicas,
            absl::StrCat(topic_partition_.ToString(), " has ", isr_.size(), " in-sync replicas (",
                         replica_internal::Ids(isr_), "), fewer than min.insync.replicas ",
                         options_.min_insync_replicas));
      }
      epoch = leader_epoch_;
    }
    if (!refused.ok()) {
      // Outside every lock: `done` may append again (a client's retry).
      role_lock.unlock();
      done(std::move(refused));
      return;
    }
    AppendOptions append_options;
    append_options.leader_epoch = epoch;
    append_options.origin = origin;
    absl::StatusOr<AppendResult> result = log_.Append(batch, append_options);
    if (!result.ok()) {
      role_lock.unlock();
      done(std::move(result).status());
      return;
    }
    std::unique_lock lock = LockSpinning(mu_);
    MaybeAdvanceHighWatermarkLocked(deferred);
    // New data for followers waiting on it.
    WakeHeldFetchesLocked(deferred);
    const Offset required = result->last_offset + 1;
    if (acks != Acks::kAll || log_.high_watermark() >= required) {
      deferred.push_back([done = std::move(done), result = *std::move(result)]() mutable {
        done(std::move(result));
      });
    } else {
      PendingAppend pending;
      pending.result = *result;
      pending.done = std::move(done);
      auto it = pending_appends_.emplace(required, std::move(pending));
      const Offset base = result->base_offset;
      it->second.timer =
          tasks_.ScheduleAfter(std::max<int64_t>(timeout_ms, 0), [this, required, base] {
            AppendCallback expired;
            {
              std::unique_lock lock = LockSpinning(mu_);
              auto range = pending_appends_.equal_range(required);
              for (auto i = range.first; i != range.second; ++i) {
                if (i->second.result.base_offset == base) {
                  expired = std::move(i->second.done);
                  pending_appends_.erase(i);
                  break;
                }
              }
            }
            if (expired) {
              expired(MakeError(ErrorCode::kRequestTimedOut,
                                absl::StrCat(topic_partition_.ToString(), " offset ", base.value(),
                                             ": not replicated to the ISR in time")));
            }
          });
    }
  }
  Run(deferred);
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::HandleFetch(const FetchRequest& request, FetchResponder respond) {
  ServeFetch(request, std::move(respond), /*may_hold=*/true);
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::ServeFetch(FetchRequest request, FetchResponder respond,
                                             bool may_hold) {
  Deferred deferred;
  // Outlives `respond` below, which encodes the batches read into it.
  replica_internal::ReadBuffer read_buffer;
  FetchResponse response;
  {
    std::shared_lock role_lock(role_mu_);
    LeaderEpoch current_epoch;
    {
      std::unique_lock lock = LockSpinning(mu_);
      current_epoch = leader_epoch_;
      response = BaseResponseLocked();
      if (closed_ || role_ != Role::kLeader) {
        response.error = ErrorCode::kNotLeaderOrFollower;
      } else if (request.current_leader_epoch != kNoLeaderEpoch &&
                 request.current_leader_epoch < leader_epoch_) {
        response.error = ErrorCode::kFencedLeaderEpoch;
      } else if (request.current_leader_epoch > leader_epoch_) {
        response.error = ErrorCode::kUnknownLeaderEpoch;
      } else if (request.replica_id == self_ ||
                 !replica_internal::Contains(replicas_, request.replica_id)) {
        response.error = ErrorCode::kNotLeaderOrFollower;
      }
    }
    // Does the leader's log agree with the follower's up to fetch_offset? A
    // follower whose last batch is of this leader's own epoch got it from
    // this log, which has not cut it since: within the log it agrees. That
    // is every fetch but the first after a failover, and it spares them the
    // log's lock, which an append holds through its write.
    const bool agrees = request.last_fetched_epoch == current_epoch &&
                        request.fetch_offset <= log_.log_end_offset();
    if (response.error == ErrorCode::kNone && request.last_fetched_epoch != kNoLeaderEpoch &&
        !agrees) {
      const EpochEndOffset end = log_.EndOffsetForEpoch(request.last_fetched_epoch);
      if (end.epoch == kNoLeaderEpoch || end.epoch < request.last_fetched_epoch ||
          end.end_offset < request.fetch_offset) {
        response.diverging = true;
        response.diverging_epoch = end.epoch;
        response.diverging_end_offset = end.epoch == kNoLeaderEpoch ? Offset(-1) : end.end_offset;
      }
    }
    if (response.error == ErrorCode::kNone && !response.diverging) {
      const Offset end = log_.log_end_offset();
      if (request.fetch_offset > end || request.fetch_offset < log_.log_start_offset()) {
        response.error = ErrorCode::kOffsetOutOfRange;
      } else {
        std::unique_lock lock = LockSpinning(mu_);
        if (role_ == Role::kLeader) {
          // The fetch offset acknowledges everything before it.
          const int64_t now = clock_.WallMs();
          FollowerState& f = followers_[request.replica_id];
          f.log_end_offset = request.fetch_offset;
          if (request.fetch_offset >= end) {
            f.last_caught_up_ms = std::max(f.last_caught_up_ms, now);
          } else if (f.leader_end_at_last_fetch >= Offset(0) &&
                     request.fetch_offset >= f.leader_end_at_last_fetch) {
            f.last_caught_up_ms = std::max(f.last_caught_up_ms, f.last_fetch_ms);
          }
          f.leader_end_at_last_fetch = end;
          f.last_fetch_ms = now;
          if (!pending_isr_ && !replica_internal::Contains(isr_, request.replica_id) &&
              f.log_end_offset >= log_.high_watermark() &&
              f.log_end_offset >= epoch_start_offset_) {
            std::vector<BrokerId> grown = isr_;
            grown.push_back(request.replica_id);
            ProposeIsrLocked(std::move(grown), deferred);
          }
          MaybeAdvanceHighWatermarkLocked(deferred);
        }
      }
    }
    if (response.error == ErrorCode::kNone && !response.diverging) {
      if (request.fetch_offset < log_.log_end_offset()) {
        LogReadOptions read;
        read.max_bytes = static_cast<size_t>(std::max(request.max_bytes, 1));
        absl::StatusOr<LogReadResult> read_result =
            log_.ReadReplica(request.fetch_offset, read_buffer.bytes(), read);
        if (read_result.ok()) {
          response.records = read_result->batches;
        } else {
          response.error = GetErrorCode(read_result.status());
        }
      } else if (may_hold && request.max_wait_ms > 0) {
        std::unique_lock lock = LockSpinning(mu_);
        if (role_ == Role::kLeader && !closed_) {
          const uint64_t id = next_held_id_++;
          HeldFetch& held = held_fetches_[id];
          held.request = request;
          held.respond = std::move(respond);
          held.timer = tasks_.ScheduleAfter(request.max_wait_ms, [this, id] {
            HeldFetch expired;
            {
              std::unique_lock lock = LockSpinning(mu_);
              auto it = held_fetches_.find(id);
              if (it == held_fetches_.end()) return;
              expired = std::move(it->second);
              held_fetches_.erase(it);
            }
            ServeFetch(std::move(expired.request), std::move(expired.respond),
                       /*may_hold=*/false);
          });
          respond = nullptr;
        }
      }
    }
    {
      std::unique_lock lock = LockSpinning(mu_);
      response.high_watermark = log_.high_watermark();
      response.log_start_offset = log_.log_start_offset();
      response.log_end_offset = log_.log_end_offset();
    }
  }
  Run(deferred);
  if (respond) respond(std::move(response));
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::ProposeIsrLocked(std::vector<BrokerId> new_isr,
                                                   Deferred& deferred) {
  if (pending_isr_ || !send_isr_change_) return;
  pending_isr_ = new_isr;
  IsrChange change;
  change.topic_partition = topic_partition_;
  change.leader = self_;
  change.leader_epoch = leader_epoch_;
  change.partition_epoch = partition_epoch_;
  change.new_isr = std::move(new_isr);
  const uint64_t session = session_;
  auto done = Guarded([this, session](absl::StatusOr<PartitionState> result) {
    OnIsrChangeResult(session, std::move(result));
  });
  deferred.push_back([this, change = std::move(change), done = std::move(done)]() mutable {
    send_isr_change_(std::move(change), std::move(done));
  });
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::OnIsrChangeResult(uint64_t session,
                                                    absl::StatusOr<PartitionState> result) {
  if (result.ok()) {
    // The controller's answer is a decision like any other.
    PartitionState leadership = *std::move(result);
    {
      std::unique_lock lock = LockSpinning(mu_);
      if (session != session_) return;
      if (leadership.leader_epoch == leader_epoch_ &&
          leadership.partition_epoch <= partition_epoch_) {
        pending_isr_.reset();  // already applied through Update
        return;
      }
    }
    (void)Update(leadership);
    return;
  }
  // Refused (stale partition epoch, fenced leader epoch, ineligible
  // replica) or lost: drop the proposal; the metadata that explains the
  // refusal arrives through Update, and the next check proposes again.
  std::unique_lock lock = LockSpinning(mu_);
  if (session == session_) pending_isr_.reset();
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::ScheduleIsrCheckLocked() {
  const uint64_t session = session_;
  isr_check_timer_ =
      tasks_.ScheduleAfter(std::max<int64_t>(options_.replica_lag_time_max_ms / 2, 1),
                           [this, session] { CheckIsr(session); });
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::CheckIsr(uint64_t session) {
  Deferred deferred;
  {
    std::unique_lock lock = LockSpinning(mu_);
    if (closed_ || session != session_ || role_ != Role::kLeader) return;
    const int64_t now = clock_.WallMs();
    std::vector<BrokerId> kept;
    for (BrokerId id : isr_) {
      if (id != self_) {
        auto it = followers_.find(id);
        if (it == followers_.end() ||
            now - it->second.last_caught_up_ms > options_.replica_lag_time_max_ms) {
          continue;  // out of sync
        }
      }
      kept.push_back(id);
    }
    if (kept.size() != isr_.size()) ProposeIsrLocked(std::move(kept), deferred);
    ScheduleIsrCheckLocked();
  }
  Run(deferred);
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::ScheduleFetchLocked(uint64_t session, int64_t delay_ms) {
  if (fetch_scheduled_) return;
  fetch_scheduled_ = true;
  tasks_.ScheduleAfter(delay_ms, [this, session] { SendFetch(session); });
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::SendFetch(uint64_t session) {
  FetchRequest request;
  BrokerId leader;
  {
    std::unique_lock lock = LockSpinning(mu_);
    if (session != session_) return;  // a newer session fetches on its own
    fetch_scheduled_ = false;
    if (closed_ || role_ != Role::kFollower) return;
    leader = leader_;
    request.topic = topic_partition_.topic;
    request.partition = topic_partition_.partition;
    request.replica_id = self_;
    request.current_leader_epoch = leader_epoch_;
    request.fetch_offset = log_.log_end_offset();
    request.last_fetched_epoch = log_.latest_epoch().value_or(kNoLeaderEpoch);
    request.log_start_offset = log_.log_start_offset();
    request.max_bytes = options_.fetch_max_bytes;
    request.max_wait_ms = options_.fetch_max_wait_ms;
    // Counts as "in flight" until the answer is applied.
    fetch_scheduled_ = true;
  }
  Message message;
  message.api_key = replica_api::kFetch;
  message.api_version = replica_api::kFetchVersion;
  message.body = EncodeFetchRequest(request);
  const Offset fetch_offset = request.fetch_offset;
  transport_.Send(self_, leader, std::move(message),
                  options_.fetch_timeout_ms + options_.fetch_max_wait_ms,
                  Guarded([this, session, fetch_offset](absl::StatusOr<Message> response) {
                    OnFetchResponse(session, fetch_offset, std::move(response));
                  }));
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::OnFetchResponse(uint64_t session, Offset fetch_offset,
                                                  absl::StatusOr<Message> message) {
  int64_t delay = options_.fetch_backoff_ms;
  {
    std::unique_lock role_lock(role_mu_);
    {
      std::unique_lock lock = LockSpinning(mu_);
      if (closed_ || session != session_ || role_ != Role::kFollower) return;
    }
    if (message.ok()) {
      absl::StatusOr<FetchResponse> response =
          DecodeFetchResponse(message->body, message->api_version);
      if (response.ok()) {
        // The batches are appended in place, in the message's own bytes.
        const auto at = static_cast<size_t>(response->records.data() - message->body.data());
        delay = ApplyFetchResponse(
            *response, MutableByteView(message->body).subspan(at, response->records.size()),
            fetch_offset);
      }
    }
    std::unique_lock lock = LockSpinning(mu_);
    if (session != session_) return;
    if (delay > 0) {
      fetch_scheduled_ = false;
      ScheduleFetchLocked(session, delay);
      return;
    }
    // fetch_scheduled_ stays set: the next fetch goes out below.
  }
  // Already on the executor: sending from here saves a hop through it per
  // round trip, which at acks=all is on every produce's path.
  SendFetch(session);
}

template <ReplicaLogLike Log, TransportLike TransportT>
int64_t ReplicaSet<Log, TransportT>::ApplyFetchResponse(const FetchResponse& response,
                                                        MutableByteView records,
                                                        Offset fetch_offset) {
  // Caller holds role_mu_ exclusively: nothing else touches the log.
  if (log_.log_end_offset() != fetch_offset) return 0;  // the log moved: ask again
  switch (response.error) {
    case ErrorCode::kNone:
      break;
    case ErrorCode::kOffsetOutOfRange:
      if (fetch_offset < response.log_start_offset) {
        // The leader deleted what we would fetch next: start where it starts.
        if (!log_.TruncateFullyAndStartAt(response.log_start_offset).ok()) {
          return options_.fetch_backoff_ms;
        }
        return 0;
      }
      if (response.log_end_offset >= Offset(0) && fetch_offset > response.log_end_offset) {
        if (!log_.TruncateTo(response.log_end_offset).ok()) return options_.fetch_backoff_ms;
        return 0;
      }
      return options_.fetch_backoff_ms;
    default:
      // NOT_LEADER_OR_FOLLOWER, FENCED/UNKNOWN_LEADER_EPOCH, ...: the
      // metadata that fixes it comes through Update; keep asking meanwhile.
      return options_.fetch_backoff_ms;
  }
  if (response.diverging) {
    Offset target;
    if (response.diverging_epoch == kNoLeaderEpoch) {
      // The leader cannot say where our epoch ended (its cache knows no
      // epoch up to ours). Kafka's fallback: keep what was committed, the
      // high watermark, within the leader's log; start over when even that
      // is gone from it.
      target = std::min(log_.high_watermark(), response.log_end_offset);
      if (target < response.log_start_offset) {
        if (!log_.TruncateFullyAndStartAt(response.log_start_offset).ok()) {
          return options_.fetch_backoff_ms;
        }
        return 0;
      }
      if (!log_.TruncateTo(target).ok()) return options_.fetch_backoff_ms;
      return 0;
    }
    const EpochEndOffset ours = log_.EndOffsetForEpoch(response.diverging_epoch);
    if (ours.epoch == response.diverging_epoch) {
      target = std::min(response.diverging_end_offset, ours.end_offset);
    } else if (ours.epoch == kNoLeaderEpoch) {
      target = std::min(response.diverging_end_offset, log_.log_end_offset());
    } else {
      // KIP-279: we never had the leader's epoch; cut back to the end of our
      // largest epoch below it and let the next fetch check again from there.
      target = ours.end_offset;
    }
    target = std::min(target, log_.log_end_offset());
    if (!log_.TruncateTo(target).ok()) return options_.fetch_backoff_ms;
    return 0;
  }
  // Append the leader's batches as they are (offsets and epochs kept), in
  // place in the response's buffer.
  MutableByteView rest = records;
  while (!rest.empty()) {
    absl::StatusOr<size_t> size = PeekBatchSize(rest);
    if (!size.ok() || *size > rest.size()) return options_.fetch_backoff_ms;
    const MutableByteView batch = rest.first(*size);
    rest = rest.subspan(*size);
    // PeekBatchSize checked the header is all there.
    const Offset last =
        Offset(internal::LoadBigEndian<int64_t>(batch.data())) +
        internal::LoadBigEndian<int32_t>(batch.data() + record_format::kLastOffsetDeltaOffset);
    if (last < log_.log_end_offset()) continue;  // already have it
    AppendOptions append_options;
    append_options.assign_offsets = false;
    append_options.verify_records = false;  // the leader's append did; the CRC still counts
    if (!log_.Append(batch, append_options).ok()) return options_.fetch_backoff_ms;
  }
  log_.SetHighWatermark(std::min(response.high_watermark, log_.log_end_offset()));
  return 0;
}

template <ReplicaLogLike Log, TransportLike TransportT>
ReplicaStatus ReplicaSet<Log, TransportT>::status() const {
  std::unique_lock lock = LockSpinning(mu_);
  ReplicaStatus s;
  s.role = role_ == Role::kLeader     ? ReplicaStatus::Role::kLeader
           : role_ == Role::kFollower ? ReplicaStatus::Role::kFollower
                                      : ReplicaStatus::Role::kNone;
  s.leader = leader_;
  s.leader_epoch = leader_epoch_;
  s.partition_epoch = partition_epoch_;
  s.replicas = replicas_;
  s.isr = isr_;
  s.pending_isr = pending_isr_;
  s.high_watermark = log_.high_watermark();
  s.log_end_offset = log_.log_end_offset();
  for (const auto& [id, f] : followers_)
    s.follower_log_end_offsets.emplace_back(id, f.log_end_offset);
  std::sort(s.follower_log_end_offsets.begin(), s.follower_log_end_offsets.end());
  return s;
}

template <ReplicaLogLike Log, TransportLike TransportT>
bool ReplicaSet<Log, TransportT>::is_leader() const {
  std::unique_lock lock = LockSpinning(mu_);
  return role_ == Role::kLeader;
}

template <ReplicaLogLike Log, TransportLike TransportT>
void ReplicaSet<Log, TransportT>::Close() {
  {
    std::lock_guard life(lifeline_->mu);
    lifeline_->alive = false;
  }
  tasks_.Close();
  Deferred deferred;
  {
    std::unique_lock role_lock(role_mu_);
    std::unique_lock lock = LockSpinning(mu_);
    if (closed_) return;
    if (role_ == Role::kLeader) StopLeadingLocked(deferred, ErrorCode::kNotLeaderOrFollower);
    closed_ = true;
    role_ = Role::kNone;
    ++session_;
  }
  Run(deferred);
}

extern template class ReplicaSet<Partition, Transport>;

}  // namespace evlog
