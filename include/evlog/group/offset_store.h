// evlog/group/offset_store.h — consumer groups' committed offsets, kept in
// the internal compacted topic `__consumer_offsets` of a Broker or a
// Cluster, as Kafka keeps them.
//
//   EVLOG_ASSIGN_OR_RETURN(auto store, evlog::OffsetStore::Open(*broker));
//   std::map<evlog::TopicPartition, evlog::OffsetAndMetadata> offsets;
//   offsets[{"orders", 0}] = {evlog::Offset(42), evlog::LeaderEpoch(3), "checkpoint-7"};
//   EVLOG_RETURN_IF_ERROR(store->CommitOffsets("billing", offsets, clock.WallMs()));
//   auto committed = store->FetchOffsets("billing");   // {orders-0: 42, ...}
//
// Every group lives on one partition of the topic, PartitionFor(group)
// (Kafka's rule, so a group maps where Kafka would map it). A commit is one
// record per (topic, partition) — key (group, topic, partition), value the
// offset (evlog/group/offset_commit_record.h) — and all records of one
// CommitOffsets call go to the log as one batch, durable before the call
// returns: after a crash at any byte the commit is there whole or not at
// all. Deleting an offset appends a tombstone (a null value); compaction
// then keeps only each key's newest record. Open() replays every partition
// into an in-memory cache, which FetchOffsets reads.
//
// The store knows nothing of members, generations or group states: the
// coordinator above it checks those before it commits, and tells
// ExpireOffsets which groups are empty.
//
// Offsets in transactions (Kafka's TxnOffsetCommit, KIP-98/KIP-447).
// TxnCommitOffsets writes a transactional batch under the producer's id and
// epoch; its offsets stay pending — FetchOffsets does not see them, and
// FetchStableOffsets of those partitions fails with UNSTABLE_OFFSET_COMMIT —
// until the transaction coordinator's marker for that producer reaches the
// group's partition (CompleteTransaction): COMMIT makes them committed
// offsets, at the position of their own record (so a plain commit written
// after them still wins), ABORT drops them. Open() replays the same way, so
// a transaction still open at a crash stays pending until its coordinator
// finishes it.
//
// Where the topic lives is a CoordinatorLog (evlog/broker/coordinator_log.h):
// a Broker's own logs, synced at every append, or a Cluster's replicas,
// appended with acks=all. The cache changes only once an append is
// durable, so it never holds what a crash or a failover could take back.
//
// Ordering. Commits of one group may run concurrently (their appends share
// an fsync on a Broker) and a Cluster's appends may complete out of order;
// the cache applies each key's records in log order (by their offsets,
// tombstones and transaction markers included), so a FetchOffsets after
// CommitOffsets returns never sees an older offset than the log keeps for
// that key, and a replay gives the same cache.
//
// The synchronous calls wait for their append: on a Cluster they must not
// run on its executor (a one-thread pool, or a ManualExecutor, would never
// get to the replication they wait for); use the Async calls there.
//
// Lifetime: the broker or cluster must outlive the store. The store owns
// the topic: deleting `__consumer_offsets` behind its back loses the
// offsets (its cache is not told).
//
// Thread-safety: every method is thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/broker/broker.h"
#include "evlog/broker/coordinator_log.h"
#include "evlog/group/offset_commit_record.h"
#include "evlog/partition/partition.h"
#include "evlog/record/control_record.h"
#include "evlog/types.h"

namespace evlog {

// What a consumer commits for one partition.
struct OffsetAndMetadata {
  // The next offset to consume (>= 0).
  Offset offset{0};
  // Leader epoch of the last consumed record, kNoLeaderEpoch when unknown.
  LeaderEpoch leader_epoch = kNoLeaderEpoch;
  // The application's string; at most OffsetStoreOptions::metadata_max_bytes.
  std::string metadata;
};

// A committed offset as stored: what was committed, plus when.
using CommittedOffset = OffsetCommitValue;

// Kafka's String.hashCode() of the group id `utf8` as Java would compute
// it: over UTF-16 code units of the decoded string, wrapping at 32 bits.
// Bytes that are not valid UTF-8 count as U+FFFD, one per maximal invalid
// subsequence, as Java's decoder replaces them.
[[nodiscard]] int32_t JavaStringHashCode(std::string_view utf8);

// Kafka's coordinator partition of `group` among `partition_count`:
// Utils.abs(group.hashCode()) % partition_count, where Utils.abs maps
// INT32_MIN to 0. REQUIRES: partition_count >= 1.
[[nodiscard]] PartitionId OffsetsPartitionFor(std::string_view group, int32_t partition_count);

struct OffsetStoreOptions {
  // Partitions of `__consumer_offsets` when the store creates it (Kafka
  // offsets.topic.num.partitions). An existing topic keeps its count:
  // changing it would move groups to other partitions and lose their
  // offsets, as in Kafka.
  //
  // Kafka's default is 50, chosen to spread coordinators over the brokers
  // of a cluster. Here a partition is not free: each one that has been
  // written keeps its active segment open (a .log and two mapped index
  // files preallocated to the broker's segment_index_bytes, 10 MiB each by
  // default, and real memory on a MemFileSystem), is read at every Open,
  // and is visited by every compaction pass; more partitions only buy
  // parallel fsyncs, and commits to one partition already share theirs
  // (group commit). Measured with the broker's defaults on ext4, one group
  // per partition: 50 partitions hold 153 descriptors and 1000 MiB of index
  // mappings, and a broker close + reopen takes 2.2 s; 8 hold 27
  // descriptors and 160 MiB, and take 0.3 s. 8 still spreads groups over a
  // few logs (and, later, over a few nodes).
  int32_t partition_count = 8;
  // Segment size of the topic (Kafka offsets.topic.segment.bytes). Only
  // rolled segments are compacted.
  uint64_t segment_bytes = 100 << 20;
  // Longest metadata string a commit may carry, in bytes (Kafka
  // offset.metadata.max.bytes, counted there in UTF-16 units).
  size_t metadata_max_bytes = 4096;
};

// What the last Open() found in the topic.
struct OffsetStoreReplayStats {
  int64_t batches = 0;
  int64_t offset_commits = 0;   // values applied
  int64_t tombstones = 0;       // null values applied
  int64_t group_metadata = 0;   // Kafka group metadata records (key version 2), skipped
  int64_t other_records = 0;    // other key versions (Kafka's newer group records), skipped
  int64_t control_batches = 0;  // transaction markers
  int64_t transactional_offset_commits = 0;  // values in transactional batches
};

// An offset ExpireOffsets deleted.
struct ExpiredOffset {
  std::string group;
  TopicPartition topic_partition;
  friend bool operator==(const ExpiredOffset&, const ExpiredOffset&) = default;
};

// ExpireOffsets asks this of every group with offsets: std::nullopt when
// the group has members (its offsets are kept), else the time it became
// empty, or kEmptySinceUnknown when that is not known (a group that never
// had members, such as standalone consumers committing offsets).
using GroupEmptySince = std::function<std::optional<int64_t>(std::string_view group)>;
inline constexpr int64_t kEmptySinceUnknown = -1;

class OffsetStore {
 public:
  static constexpr std::string_view kTopic = "__consumer_offsets";

  using StatusCallback = absl::AnyInvocable<void(absl::Status)>;
  using ExpiredCallback = absl::AnyInvocable<void(absl::StatusOr<std::vector<ExpiredOffset>>)>;

  // Opens the store on `broker`'s topic. If `__consumer_offsets` exists,
  // every one of its partitions is replayed into the cache (later records
  // win, tombstones delete; batches cut off by a crash were already
  // dropped by the log's recovery); otherwise it is created by the first
  // commit. Errors: INVALID_CONFIG (bad options); CORRUPT_MESSAGE (a
  // record of the topic that does not decode); the broker's errors. The
  // broker must outlive the store.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<OffsetStore>> Open(
      Broker& broker, OffsetStoreOptions options = {});
  // The same over any coordinator log of the topic (a Cluster's:
  // MakeCoordinatorLog). Errors: as above; COORDINATOR_LOAD_IN_PROGRESS
  // when a partition cannot be read whole yet (retriable).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<OffsetStore>> Open(
      std::unique_ptr<CoordinatorLog> log, OffsetStoreOptions options = {});

  OffsetStore(const OffsetStore&) = delete;
  OffsetStore& operator=(const OffsetStore&) = delete;
  // Waits for the appends in flight to complete.
  ~OffsetStore();

  // Creates the topic now when it does not exist, as the first commit
  // would. A Cluster's coordinator does it when it starts: creating a
  // topic is an admin call there, which must not run on the executor where
  // commits may be made. Errors: the creation's; COORDINATOR_NOT_AVAILABLE
  // (the topic exists with fewer partitions than partition_count()).
  [[nodiscard]] absl::Status EnsureTopic();

  // Partitions of the topic (the existing topic's count, else the options').
  [[nodiscard]] int32_t partition_count() const { return partition_count_; }

  // The partition of `kTopic` holding `group` (OffsetsPartitionFor).
  [[nodiscard]] PartitionId PartitionFor(std::string_view group) const {
    return OffsetsPartitionFor(group, partition_count_);
  }

  // Commits `offsets` for `group` at `now_ms`: one batch of one record per
  // entry, appended to the group's partition and synced, then the cache is
  // updated; readers see all of the entries or none. An empty map is a
  // no-op. Creates the topic on first use.
  // Errors, before anything is written: INVALID_GROUP_ID (empty, or longer
  // than 32767 bytes); INVALID_TOPIC_EXCEPTION (a topic name Kafka would
  // refuse); INVALID_REQUEST (a negative partition or offset, or a leader
  // epoch below -1 — Kafka's clients refuse negative offsets before
  // sending); OFFSET_METADATA_TOO_LARGE (Kafka fails only that partition,
  // here the whole commit fails so that a commit stays all-or-nothing);
  // INVALID_COMMIT_OFFSET_SIZE (the batch is over the topic's
  // max.message.bytes, Kafka's mapping of MESSAGE_TOO_LARGE). From the
  // log: KAFKA_STORAGE_ERROR (the append or its sync failed: nothing was
  // committed), UNKNOWN_TOPIC_OR_PARTITION after the broker closed;
  // COORDINATOR_NOT_AVAILABLE when someone else created the topic since
  // Open() with fewer partitions than partition_count().
  [[nodiscard]] absl::Status CommitOffsets(
      std::string_view group, const std::map<TopicPartition, OffsetAndMetadata>& offsets,
      int64_t now_ms);

  // CommitOffsets without waiting: `done` gets the same outcome once the
  // batch is durable and applied — before this returns on a Broker, later on
  // an executor thread on a Cluster. Commits are written in the order of
  // the calls.
  void CommitOffsetsAsync(std::string_view group,
                          const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                          int64_t now_ms, StatusCallback done);

  // The committed offsets of `group`: of `partitions` when given (those
  // without a committed offset are absent), else all of them. Empty for an
  // unknown group. Reads the cache only.
  [[nodiscard]] std::map<TopicPartition, CommittedOffset> FetchOffsets(
      std::string_view group,
      std::optional<std::span<const TopicPartition>> partitions = std::nullopt) const;

  // FetchOffsets for a read_committed consumer (Kafka's OffsetFetch with
  // require_stable, KIP-447): fails with UNSTABLE_OFFSET_COMMIT (retriable)
  // while a transaction holds pending offsets of `group` for any of
  // `partitions` (any partition when not given), because the offset to
  // resume from is not decided yet.
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, CommittedOffset>> FetchStableOffsets(
      std::string_view group,
      std::optional<std::span<const TopicPartition>> partitions = std::nullopt) const;

  // Writes `offsets` of `group` in the transaction of `producer_id` at
  // `epoch`: one transactional batch, synced, whose offsets stay pending
  // until CompleteTransaction (see above). The caller (the group
  // coordinator) has checked the member and generation; the partition
  // checks the epoch. Errors: as CommitOffsets, before anything is
  // written; INVALID_PRODUCER_EPOCH when a newer epoch of the producer
  // already reached the partition (a fenced producer).
  [[nodiscard]] absl::Status TxnCommitOffsets(
      std::string_view group, ProducerId producer_id, ProducerEpoch epoch,
      const std::map<TopicPartition, OffsetAndMetadata>& offsets, int64_t now_ms);

  // Appends the COMMIT or ABORT marker of `producer_id` at `epoch` to
  // `partition` of the topic (the transaction coordinator's WriteTxnMarkers
  // for `__consumer_offsets`), then commits or drops that producer's
  // pending offsets of the groups on that partition. A marker for a
  // producer with nothing pending is written all the same. Errors:
  // UNKNOWN_TOPIC_OR_PARTITION (no such partition of the topic); the log's
  // (nothing resolved: the coordinator writes the marker again).
  [[nodiscard]] absl::Status CompleteTransaction(PartitionId partition, ProducerId producer_id,
                                                 ProducerEpoch epoch, ControlRecordType type);
  void CompleteTransactionAsync(PartitionId partition, ProducerId producer_id, ProducerEpoch epoch,
                                ControlRecordType type, StatusCallback done);

  // Deletes every committed offset of `group`: one batch of tombstones,
  // synced, then the cache. Returns how many were deleted (0: nothing
  // written). Whether the group may be deleted (Kafka NON_EMPTY_GROUP) is
  // the coordinator's call. Errors: those of the log, as CommitOffsets;
  // nothing is deleted then.
  [[nodiscard]] absl::StatusOr<size_t> DeleteGroup(std::string_view group);

  // Deletes the committed offsets of `group` for `partitions` (Kafka
  // OffsetDelete), as DeleteGroup; partitions without one are ignored.
  [[nodiscard]] absl::StatusOr<size_t> DeleteOffsets(std::string_view group,
                                                     std::span<const TopicPartition> partitions);
  // DeleteOffsets without waiting: the tombstones are in the log's order
  // (after every commit already accepted) when this returns, and `done`
  // gets the count once they are durable (on a replicated log, perhaps on
  // another thread). So a caller may decide under its own lock and wait
  // outside it.
  using CountCallback = absl::AnyInvocable<void(absl::StatusOr<size_t>)>;
  void DeleteOffsetsAsync(std::string_view group, std::span<const TopicPartition> partitions,
                          CountCallback done);

  // Deletes the offsets that have expired at `now_ms` (Kafka 2.1+, KIP-211)
  // and returns them, ordered by group then partition. An offset expires
  // when its group is empty (empty_since does not return std::nullopt) and
  //   * it carries an expire timestamp (a version 1 value) <= now_ms, or
  //   * now_ms - base >= retention_ms, where base is the later of its
  //     commit timestamp and the time the group became empty (just the
  //     commit timestamp when that time is unknown).
  // Kafka takes the empty time alone when it knows it; the later of the two
  // differs only for offsets committed while the group was already empty
  // (an admin reset, a standalone consumer), which Kafka could then delete
  // at once, seconds after acknowledging them.
  // Each group's expired offsets go as one batch of tombstones. `empty_since`
  // is called once per group with offsets, without the store's locks held.
  // Errors: INVALID_CONFIG for retention_ms < 0; those of the log (offsets
  // deleted before the error stay deleted, the rest stay).
  [[nodiscard]] absl::StatusOr<std::vector<ExpiredOffset>> ExpireOffsets(
      int64_t now_ms, int64_t retention_ms, const GroupEmptySince& empty_since);

  // ExpireOffsets without waiting; `done` gets its result.
  void ExpireOffsetsAsync(int64_t now_ms, int64_t retention_ms, const GroupEmptySince& empty_since,
                          ExpiredCallback done);

  // The groups with at least one committed offset, sorted.
  [[nodiscard]] std::vector<std::string> ListGroups() const;

  // What Open() replayed.
  [[nodiscard]] const OffsetStoreReplayStats& replay_stats() const { return replay_stats_; }

 private:
  // A cached offset and the position of its record in the partition: a
  // record applies only over an older one (concurrent commits of a key
  // may finish out of log order).
  struct Entry {
    CommittedOffset value;
    Offset record_offset;
  };
  using GroupOffsets = std::map<TopicPartition, Entry>;
  // A record to apply: a value, or std::nullopt for a tombstone.
  struct Update {
    TopicPartition topic_partition;
    std::optional<CommittedOffset> value;
  };
  // The producer of a transactional batch.
  struct TxnProducer {
    ProducerId id;
    ProducerEpoch epoch;
  };
  // What keeps the cache in the log's order while appends to one partition
  // complete out of order (a Cluster's replicated appends): the records
  // applied since the partition last had nothing in flight that a record
  // written before them, completing after them, must not override.
  struct PartitionGuard {
    struct Marker {
      Offset offset{-1};
      bool commit = false;
    };
    int64_t in_flight = 0;
    // (group, partition) -> offset of its newest tombstone applied.
    std::map<std::pair<std::string, TopicPartition>, Offset> tombstones;
    // The newest transaction marker applied, per producer.
    std::map<ProducerId, Marker> markers;
  };
  using DeletedCallback = absl::AnyInvocable<void(absl::StatusOr<std::vector<TopicPartition>>)>;

  OffsetStore(std::unique_ptr<CoordinatorLog> log, OffsetStoreOptions options);
  absl::Status Load();
  absl::Status Replay(PartitionId partition);
  // Whether the topic exists, creating it when `create`; then checks that
  // it has the store's partitions.
  absl::StatusOr<bool> EnsureTopic(bool create);
  absl::Status AdoptTopic();
  int64_t WallMs() const;
  // Appends `updates` of `group` as one batch (transactional for `txn`) to
  // partition `id` and, once it is durable, applies them (as pending
  // offsets for `txn`); then calls `done`.
  void AppendBatch(PartitionId id, std::string group, std::vector<Update> updates, int64_t now_ms,
                   std::optional<TxnProducer> txn, StatusCallback done);
  // Appends `batch` to `partition` with its guard counting it in flight;
  // once it is durable `apply_locked` runs under mu_, then `done` gets OK,
  // or `error` of the append's error.
  void GuardedAppend(PartitionId partition, MutableByteView batch, const AppendOptions& options,
                     absl::AnyInvocable<void(const AppendResult&)> apply_locked,
                     absl::AnyInvocable<absl::Status(const absl::Status&)> error,
                     StatusCallback done);
  // The error a failed append of the store's is reported as.
  static absl::Status AppendError(const absl::Status& status, std::string_view group,
                                  size_t records, size_t batch_bytes);
  // Ends one append to `partition` (see PartitionGuard). REQUIRES: mu_ held.
  void EndAppendLocked(PartitionId partition);
  // CommitOffsets, or TxnCommitOffsets when `txn` is given (its offsets
  // then stay pending).
  void Commit(std::string_view group, const std::map<TopicPartition, OffsetAndMetadata>& offsets,
              int64_t now_ms, std::optional<TxnProducer> txn, StatusCallback done);
  // Validates a commit's group and offsets, and makes its updates.
  absl::StatusOr<std::vector<Update>> PrepareCommit(
      std::string_view group, const std::map<TopicPartition, OffsetAndMetadata>& offsets,
      int64_t now_ms) const;
  // FetchOffsets. REQUIRES: mu_ held.
  std::map<TopicPartition, CommittedOffset> FetchLocked(
      std::string_view group, std::optional<std::span<const TopicPartition>> partitions) const;
  // Applies records base_offset, base_offset + 1, ... of `group` to the
  // cache. REQUIRES: mu_ held.
  void ApplyLocked(const std::string& group, const std::vector<Update>& updates,
                   Offset base_offset);
  // Applies one value of `group` at its record's position. REQUIRES: mu_
  // held.
  void ApplyValueLocked(GroupOffsets& offsets, const std::string& group, const TopicPartition& tp,
                        const Entry& entry);
  // Holds records base_offset, ... of `producer`'s transaction as pending
  // (or applies or drops them at once when its marker came first).
  // REQUIRES: mu_ held.
  void AddPendingLocked(ProducerId producer, const std::string& group,
                        const std::vector<Update>& updates, Offset base_offset);
  // Commits or drops `producer`'s pending offsets written before
  // `marker_offset` of the groups on `partition`. REQUIRES: mu_ held.
  void ResolvePendingLocked(ProducerId producer, PartitionId partition, Offset marker_offset,
                            bool commit);
  // Appends tombstones for the cached offsets of `group` that `select`
  // picks, and removes them from the cache once durable.
  void DeleteSelected(std::string_view group,
                      const std::function<bool(const TopicPartition&, const Entry&)>& select,
                      int64_t now_ms, DeletedCallback done);
  void Log(LogLevel level, std::string_view message) const;

  const std::unique_ptr<CoordinatorLog> log_;
  const OffsetStoreOptions options_;
  int32_t partition_count_ = 0;
  OffsetStoreReplayStats replay_stats_;

  // Guards creating the topic; have_topic_ is set once it exists with
  // enough partitions.
  std::mutex create_mu_;
  std::atomic<bool> have_topic_{false};

  mutable std::mutex mu_;
  // Signalled when a partition has nothing in flight (the destructor waits).
  std::condition_variable appends_done_;
  // One per partition of the topic.
  std::vector<PartitionGuard> guards_;
  std::map<std::string, GroupOffsets, std::less<>> groups_;
  // Offsets of transactions not yet ended, by producer and group.
  std::map<ProducerId, std::map<std::string, GroupOffsets, std::less<>>> pending_;
};

}  // namespace evlog
