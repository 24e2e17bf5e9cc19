// evlog/client/consumer.h — reads records from assigned partitions.
//
//   EVLOG_ASSIGN_OR_RETURN(auto consumer, evlog::Consumer::Create(*broker));
//   EVLOG_RETURN_IF_ERROR(consumer->Assign({{"orders", 0}, {"orders", 1}}));
//   EVLOG_RETURN_IF_ERROR(consumer->SeekToBeginning());
//   while (running) {
//     EVLOG_ASSIGN_OR_RETURN(evlog::ConsumerRecords records, consumer->Poll(/*timeout_ms=*/100));
//     for (const evlog::ConsumerRecord& r : records) handle(r.partition, r.offset, r.value);
//   }
//
// Partitions are assigned by the application (Assign, Kafka's assign()) or
// by a consumer group (Subscribe, with options.group_id set): the group's
// members share the subscribed topics' partitions, each partition read by
// one member, and rebalance when members come and go or partitions are
// added (evlog/group/group_coordinator.h runs the group on the broker).
//
//   evlog::ConsumerOptions options;
//   options.group_id = "billing";
//   EVLOG_ASSIGN_OR_RETURN(auto consumer, evlog::Consumer::Create(*broker, options));
//   EVLOG_RETURN_IF_ERROR(consumer->Subscribe({"orders"}));
//   while (running) {
//     EVLOG_ASSIGN_OR_RETURN(evlog::ConsumerRecords records, consumer->Poll(100));
//     for (const evlog::ConsumerRecord& r : records) handle(r);
//   }  // offsets are committed every auto_commit_interval_ms, and by Close()
//
// Rebalancing is incremental and cooperative by default (KIP-429, with
// the cooperative-sticky assignor): a rebalance takes from a member only
// the partitions that move, and the member keeps reading all the others
// while it runs. With only eager assignors (range, roundrobin, sticky),
// every member gives up everything first, as Kafka's classic rebalance.
// Membership runs inside Poll: join and sync requests are sent and their
// answers taken there, and the listener is called there (on the polling
// thread); heartbeats go from a task on the broker's executor, which also
// makes a member that has not called Poll for max_poll_interval_ms leave.
//
// Each assigned partition has a position, the offset of the next record
// to return. A new assignment has none: the first Poll or Position sets it
// from the group's committed offset, or when there is none by
// auto_offset_reset, as does a position found out of range (below the log
// start after retention, or past the end after a Seek there).
//
// Poll reads in place: each partition's batches are read (pread) into a
// buffer the consumer reuses, and the ConsumerRecords point into it —
// valid until the next Poll, Assign or Close. ToOwned() copies them.
// When there is nothing to read, Poll parks until an append to an assigned
// partition wakes it (microseconds, no sleep loop) or the timeout passes;
// poll_spin_us makes it spin first, trading a core for latency; by
// default it spins briefly only while records keep coming within
// adaptive_spin_us of each other (adaptive_spin_us).
//
// Against a Cluster (Create(Cluster&)), each partition is read at its
// leader of the moment, in place as on one broker, below its high
// watermark. While a partition's leader moves, Poll returns nothing from
// it (no error) and looks again when the cluster's metadata changes; the
// position stays. Groups use the cluster's group coordinator, whose
// offsets live in the replicated `__consumer_offsets`; its blocking calls
// (CommitSync, Close) drive a ManualExecutor while they wait, so a
// single-threaded test can make them.
//
// Thread-safety: not thread-safe (one consumer per thread, as in Kafka),
// except Wakeup(), which any thread may call.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/broker/broker.h"
#include "evlog/bytes.h"
#include "evlog/client/client_backend.h"
#include "evlog/group/assignor.h"
#include "evlog/group/offset_store.h"
#include "evlog/partition/partition.h"
#include "evlog/record/record.h"
#include "evlog/record/record_format.h"
#include "evlog/types.h"

namespace evlog {

// Where a position without a valid offset goes (Kafka auto.offset.reset).
enum class OffsetResetPolicy : int8_t {
  kEarliest,  // the log start offset
  kLatest,    // the high watermark: only records appended from now on
  kNone,      // Poll fails with OFFSET_OUT_OF_RANGE
};

// Which records Poll returns (Kafka isolation.level).
enum class IsolationLevel : int8_t {
  // Everything below the high watermark, aborted transactions included.
  kReadUncommitted,
  // Only below the last stable offset, and nothing of aborted
  // transactions: a transaction's records appear once it commits.
  kReadCommitted,
};

struct ConsumerOptions {
  // Most records one Poll returns (max.poll.records).
  int32_t max_poll_records = 500;
  // Most batch bytes one Poll reads in all (fetch.max.bytes) and per
  // partition (max.partition.fetch.bytes); a first batch larger than
  // either is still returned whole, so a consumer never gets stuck.
  int32_t fetch_max_bytes = 50 << 20;
  int32_t max_partition_fetch_bytes = 1 << 20;
  OffsetResetPolicy auto_offset_reset = OffsetResetPolicy::kLatest;
  // Check each batch's CRC as it is read (check.crcs): a damaged batch is
  // CORRUPT_MESSAGE. false skips the check, and a damaged record is handed
  // out as it is (its framing is still checked, so never a read out of
  // bounds).
  bool check_crcs = true;
  // read_uncommitted (Kafka's default) or read_committed. With
  // read_committed, SeekToEnd, EndOffsets and auto_offset_reset latest use
  // the last stable offset instead of the high watermark, and a group
  // member given a partition whose committed offset is still in an open
  // transaction (SendOffsetsToTransaction) waits for the transaction to end
  // rather than start from an offset that may be about to move (KIP-447).
  IsolationLevel isolation_level = IsolationLevel::kReadUncommitted;
  // Spin this long looking for data before parking (0: park at once).
  int64_t poll_spin_us = 0;
  // With poll_spin_us 0: when the last wait for data ended within this
  // long, the next one spins this long before it parks. Waking a parked
  // consumer costs the appending thread a futex call per append and this
  // one tens of µs (more on a VM), while records that come this close
  // together are cheaper to wait for awake; a consumer whose waits run
  // longer parks at once. 0: never spin.
  int64_t adaptive_spin_us = 50;
  // Shown in metrics; the prefix of the group member id.
  std::string client_id = "evlog-consumer";

  // Consumer groups. The group (Kafka group.id): needed by Subscribe and
  // the commit calls; with Assign it only names where offsets go.
  std::string group_id;
  // Static membership (KIP-345, group.instance.id): a consumer restarting
  // with the same id within session_timeout_ms gets its partitions back
  // without a rebalance. Two live consumers with one id: the older one is
  // fenced (its Poll fails with FENCED_INSTANCE_ID). Close() does not leave
  // the group, so that a restart does not rebalance.
  std::optional<std::string> group_instance_id;
  // A member that sends no heartbeat for this long is removed from the
  // group (session.timeout.ms); heartbeats go every heartbeat_interval_ms.
  int64_t session_timeout_ms = 45'000;
  int64_t heartbeat_interval_ms = 3'000;
  // A member that does not call Poll for this long leaves the group, and
  // its partitions go to others (max.poll.interval.ms); it is also how long
  // a rebalance waits for members to rejoin.
  int64_t max_poll_interval_ms = 300'000;
  // The assignors this member supports, most preferred first (Kafka
  // partition.assignment.strategy); the group uses one all members list.
  // Cooperative rebalancing when every one of them supports it.
  std::vector<AnyAssignor> partition_assignment_strategy = {AnyAssignor()};
  // Commit the positions of the assigned partitions every
  // auto_commit_interval_ms (asynchronously, checked in Poll), and
  // synchronously before partitions are revoked and at Close
  // (enable.auto.commit).
  bool enable_auto_commit = true;
  int64_t auto_commit_interval_ms = 5'000;
  // Wait before retrying a join the coordinator could not take.
  int64_t retry_backoff_ms = 100;
};

// Told of assignment changes, on the thread that calls Poll (Kafka
// ConsumerRebalanceListener). The consumer may be called from these
// methods (e.g. CommitSync in OnPartitionsRevoked), except Poll and Close.
struct JoinGroupResponse;  // evlog/group/group_coordinator.h
struct SyncGroupResponse;

class ConsumerRebalanceListener {
 public:
  virtual ~ConsumerRebalanceListener() = default;
  // `partitions` are being taken away (still assigned during the call):
  // commit what was processed of them. Cooperative rebalancing passes only
  // those that move; it is not called when none do.
  virtual void OnPartitionsRevoked(const std::vector<TopicPartition>& partitions) = 0;
  // `partitions` were added (cooperative: only the new ones; may be empty).
  // Their positions come from the committed offsets unless Seek is called
  // here.
  virtual void OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) = 0;
  // `partitions` were lost: another member may already own them (the
  // session timed out, or the member was fenced), so committing them now
  // would fail. Default: OnPartitionsRevoked.
  virtual void OnPartitionsLost(const std::vector<TopicPartition>& partitions) {
    OnPartitionsRevoked(partitions);
  }
};

// The group membership of a consumer, for a transactional producer's
// SendOffsetsToTransaction (Kafka ConsumerGroupMetadata).
struct ConsumerGroupMetadata {
  std::string group_id;
  Generation generation{-1};
  std::string member_id;
  std::optional<std::string> group_instance_id;
};

// The outcome of CommitAsync, given to its callback.
using OffsetCommitCallback = absl::AnyInvocable<void(
    const std::map<TopicPartition, OffsetAndMetadata>& offsets, const absl::Status& status)>;

// A record as a copy the application owns.
struct OwnedRecord {
  std::string topic;
  PartitionId partition;
  Offset offset;
  int64_t timestamp_ms = -1;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

// A record as Poll returns it: views into the consumer's read buffers.
struct ConsumerRecord {
  std::string_view topic;
  PartitionId partition;
  Offset offset;
  int64_t timestamp_ms = -1;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  std::optional<ByteView> key;
  std::optional<ByteView> value;
  RecordHeadersView headers;

  std::optional<std::string_view> key_string() const {
    if (!key) return std::nullopt;
    return AsStringView(*key);
  }
  std::optional<std::string_view> value_string() const {
    if (!value) return std::nullopt;
    return AsStringView(*value);
  }
  OwnedRecord ToOwned() const;
};

// The records of one Poll, partition by partition, each partition's in
// offset order. Valid until the consumer's next Poll, Assign or Close.
class ConsumerRecords {
 public:
  ConsumerRecords() = default;
  explicit ConsumerRecords(std::span<const ConsumerRecord> records) : records_(records) {}

  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  const ConsumerRecord& operator[](size_t i) const { return records_[i]; }
  auto begin() const { return records_.begin(); }
  auto end() const { return records_.end(); }
  std::vector<OwnedRecord> ToOwned() const;

 private:
  std::span<const ConsumerRecord> records_;
};

struct ConsumerPartitionMetrics {
  TopicPartition topic_partition;
  // -1 while not yet known.
  Offset position{-1};
  Offset high_watermark;
  // high_watermark - position (0 while the position is unknown).
  int64_t lag = 0;
};

struct ConsumerMetrics {
  std::string client_id;
  uint64_t polls = 0;
  uint64_t records_consumed = 0;
  uint64_t bytes_fetched = 0;
  uint64_t offset_resets = 0;
  uint64_t errors = 0;
  std::vector<ConsumerPartitionMetrics> partitions;
};

class Consumer {
 public:
  struct Membership;  // consumer_group.cc

  // A consumer of `broker`'s topics; `broker` must outlive it. Errors:
  // INVALID_CONFIG naming a bad option.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      Broker& broker, ConsumerOptions options = {});
  // A consumer of `cluster`'s topics; `cluster` must outlive it. Errors:
  // as above; with a group_id, COORDINATOR_LOAD_IN_PROGRESS while the
  // cluster's group coordinator cannot load its offsets yet (a reopened
  // cluster whose `__consumer_offsets` leaders are not back: retry).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      Cluster& cluster, ConsumerOptions options = {});
  // A consumer over any backend (evlog/client/client_backend.h), which it
  // owns. Errors: as above.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      std::unique_ptr<ClientBackend> backend, ConsumerOptions options = {});

  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Replaces the assignment with `partitions` (duplicates are ignored).
  // Partitions kept from the previous assignment keep their positions.
  // Errors: UNKNOWN_TOPIC_OR_PARTITION for an unknown topic or partition,
  // INVALID_TOPIC_EXCEPTION; FailedPrecondition while subscribed; on error
  // the assignment is unchanged.
  [[nodiscard]] absl::Status Assign(const std::vector<TopicPartition>& partitions);

  // Joins the group (options.group_id) for `topics`, replacing an earlier
  // subscription; the assignment follows from the next Polls. Topics that
  // do not exist yet are assigned once created. `listener` (optional) must
  // outlive the subscription. Errors: INVALID_GROUP_ID (no group_id);
  // INVALID_TOPIC_EXCEPTION; FailedPrecondition after Assign (Unsubscribe
  // or Assign({}) first) or Close.
  [[nodiscard]] absl::Status Subscribe(const std::vector<std::string>& topics,
                                       ConsumerRebalanceListener* listener = nullptr);
  // As Subscribe, for every topic whose whole name matches the ECMAScript
  // regular expression `pattern` (Java Pattern.matches), now and as topics
  // are created or deleted. Internal topics (`__consumer_offsets`, ...)
  // are left out. Errors: INVALID_REQUEST for a bad pattern; as Subscribe.
  [[nodiscard]] absl::Status SubscribePattern(std::string_view pattern,
                                              ConsumerRebalanceListener* listener = nullptr);
  // Revokes the assignment (committing first with auto-commit), leaves the
  // group and forgets the subscription. No-op when not subscribed.
  [[nodiscard]] absl::Status Unsubscribe();
  // The subscribed topics (matching ones for a pattern), sorted.
  [[nodiscard]] std::vector<std::string> Subscription() const;

  // Commits offsets for the group and waits until they are durable:
  // `offsets`, or (no argument) the positions of every assigned partition
  // — the offsets after the records Poll has returned. Errors: INVALID_GROUP_ID
  // (no group_id); REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION,
  // UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID (the member is not, or no longer,
  // the owner: a rebalance will follow); the coordinator's and store's.
  // Also runs the callbacks of finished CommitAsync calls.
  [[nodiscard]] absl::Status CommitSync();
  [[nodiscard]] absl::Status CommitSync(const std::map<TopicPartition, OffsetAndMetadata>& offsets);
  // As CommitSync, without waiting: commits run in order on the broker's
  // executor, and `callback` runs in a later Poll, CommitSync or Close on
  // this thread. A later CommitSync (and Close) first waits for them, so
  // that an older commit never lands after a newer one.
  void CommitAsync(OffsetCommitCallback callback = nullptr);
  void CommitAsync(std::map<TopicPartition, OffsetAndMetadata> offsets,
                   OffsetCommitCallback callback = nullptr);
  // The group's committed offsets of `partitions` (absent: none
  // committed). Errors: INVALID_GROUP_ID (no group_id); for a
  // read_committed consumer, UNSTABLE_OFFSET_COMMIT (retriable) while an
  // open transaction holds offsets of these partitions (KIP-447, as
  // Kafka's committed() with read_committed).
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, OffsetAndMetadata>> Committed(
      const std::vector<TopicPartition>& partitions) const;
  // The member's group id, generation and member id now.
  [[nodiscard]] ConsumerGroupMetadata GroupMetadata() const;
  // Sorted.
  [[nodiscard]] std::vector<TopicPartition> Assignment() const;

  // Sets the position of an assigned partition; an offset outside the log
  // is handled by auto_offset_reset at the next Poll. Errors:
  // FailedPrecondition (not assigned), InvalidArgument (negative offset).
  [[nodiscard]] absl::Status Seek(const TopicPartition& partition, Offset offset);
  // To the log start / the high watermark, of `partitions` (empty: all
  // assigned). Errors: FailedPrecondition (one is not assigned).
  [[nodiscard]] absl::Status SeekToBeginning(const std::vector<TopicPartition>& partitions = {});
  [[nodiscard]] absl::Status SeekToEnd(const std::vector<TopicPartition>& partitions = {});

  // The offset of the next record Poll returns from `partition`, resolving
  // it by auto_offset_reset when unknown. Errors: FailedPrecondition (not
  // assigned); OFFSET_OUT_OF_RANGE (unknown and the policy is kNone).
  [[nodiscard]] absl::StatusOr<Offset> Position(const TopicPartition& partition);

  // For each partition, the first record with a timestamp >= the given
  // one, or nullopt when every record is older (Kafka offsetsForTimes).
  // Errors: UNKNOWN_TOPIC_OR_PARTITION; I/O.
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, std::optional<TimestampAndOffset>>>
  OffsetsForTimes(const std::map<TopicPartition, int64_t>& timestamps_ms);
  // Log start offsets / high watermarks. Errors: UNKNOWN_TOPIC_OR_PARTITION.
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, Offset>> BeginningOffsets(
      const std::vector<TopicPartition>& partitions);
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, Offset>> EndOffsets(
      const std::vector<TopicPartition>& partitions);

  // Returns the records available at the assigned partitions' positions
  // (at most max_poll_records) and moves the positions past them; waits up
  // to `timeout_ms` for some when there are none (0: never waits). Errors:
  // OFFSET_OUT_OF_RANGE (a position out of range with policy kNone);
  // UNKNOWN_TOPIC_OR_PARTITION (an assigned topic was deleted); CORRUPT_MESSAGE;
  // Cancelled (Wakeup() was called); FailedPrecondition after Close(). Records
  // already collected are returned before an error surfaces, at the next call.
  [[nodiscard]] absl::StatusOr<ConsumerRecords> Poll(int64_t timeout_ms);

  // Makes a blocked (or the next) Poll return Cancelled. Any thread.
  void Wakeup();

  // Commits (auto-commit), revokes the assignment (listener), leaves the
  // group (not a static member) and unassigns everything. Waits for
  // pending CommitAsync calls and runs their callbacks. Idempotent.
  [[nodiscard]] absl::Status Close();

  [[nodiscard]] ConsumerMetrics metrics() const;

 private:
  struct PartitionState {
    TopicPartition tp;
    std::shared_ptr<ClientPartition> partition;
    std::optional<Offset> position;
    // A group member's partition whose committed offset is still in an
    // open transaction (read_committed): no position, and not reset by
    // auto_offset_reset either, until the offset is known.
    bool awaiting_committed = false;
    std::vector<std::byte> buffer;
  };

  Consumer(std::unique_ptr<ClientBackend> backend, ConsumerOptions options);
  // A new handle on partition `tp`. Errors: UNKNOWN_TOPIC_OR_PARTITION,
  // INVALID_TOPIC_EXCEPTION.
  absl::StatusOr<std::shared_ptr<ClientPartition>> Lookup(const TopicPartition& tp) const;
  // Replaces the assignment (Assign without the subscription check).
  absl::Status SetAssignment(const std::vector<TopicPartition>& partitions);
  // Group membership, consumer_group.cc. Called by Poll: sends and takes
  // the answers of joins and syncs, applies assignments, auto-commits.
  absl::Status PollGroup();
  absl::Status StartSubscription(ConsumerRebalanceListener* listener);
  absl::Status StartJoin();
  absl::Status OnJoinResponse(JoinGroupResponse response);
  absl::Status OnSyncResponse(SyncGroupResponse response);
  absl::Status ApplyGroupAssignment(std::vector<TopicPartition> assigned);
  // The group's committed offsets of `partitions`: stable ones only for a
  // read_committed consumer (else UNSTABLE_OFFSET_COMMIT).
  absl::StatusOr<std::map<TopicPartition, CommittedOffset>> FetchCommitted(
      const std::vector<TopicPartition>& partitions) const;
  // Positions `partitions` at their committed offsets; read_committed
  // consumers mark them awaiting_committed while a transaction holds them.
  absl::Status LoadCommittedPositions(const std::vector<TopicPartition>& partitions);
  void LoseAssignment(std::string_view why);
  void RevokeAll();
  absl::Status LeaveGroup();
  absl::Status RefreshSubscription(bool& changed);
  bool PartitionCountsChanged() const;
  std::map<TopicPartition, OffsetAndMetadata> ConsumedOffsets() const;
  absl::Status CommitNow(const std::map<TopicPartition, OffsetAndMetadata>& offsets);
  void MaybeAutoCommit(bool force);
  void RunCommitCallbacks();
  // Until every CommitAsync queued so far has run.
  void WaitForAsyncCommits();
  // How long Poll may park before group work is due (ms), or -1.
  int64_t GroupWaitBudgetMs() const;
  void CloseGroup();
  void GroupLog(std::string_view message) const;
  bool Subscribed() const;
  absl::Status CreateMembership();
  void GroupPollStarted();
  void GroupPollEnded();
  PartitionState* Find(const TopicPartition& partition) const;
  // The states of `partitions` (empty: every assigned one); FailedPrecondition
  // when one is not assigned.
  absl::StatusOr<std::vector<PartitionState*>> Targets(
      const std::vector<TopicPartition>& partitions) const;
  absl::Status ResetPosition(PartitionState& state, bool out_of_range);
  // Where reading stops: the high watermark, or the last stable offset
  // with read_committed.
  Offset ReadableEnd(const PartitionOffsets& offsets) const;
  // Reads from one partition into records_; returns the bytes read.
  absl::StatusOr<size_t> FetchFrom(PartitionState& state, size_t max_bytes);
  absl::Status FetchAll();
  absl::StatusOr<ConsumerRecords> PollOnce(int64_t timeout_ms);
  bool HasData() const;

  const std::unique_ptr<ClientBackend> backend_;
  const ConsumerOptions options_;
  std::vector<std::unique_ptr<PartitionState>> assigned_;
  // Next partition to read first, so that no partition starves.
  size_t next_start_ = 0;
  std::vector<ConsumerRecord> records_;
  std::vector<std::vector<std::byte>> decompression_buffers_;
  size_t decompression_buffers_used_ = 0;
  absl::Status deferred_error_;
  DataWaiter waiter_;
  std::atomic<bool> wakeup_{false};
  bool closed_ = false;
  // Set with options_.group_id.
  std::unique_ptr<Membership> group_;

  uint64_t polls_ = 0;
  // The last wait for data ended within adaptive_spin_us: spin next time.
  bool adaptive_spin_ = false;
  uint64_t records_consumed_ = 0;
  uint64_t bytes_fetched_ = 0;
  uint64_t offset_resets_ = 0;
  uint64_t errors_ = 0;
};

}  // namespace evlog
