// evlog/client/producer.h — sends records to a broker's topics.
//
//   EVLOG_ASSIGN_OR_RETURN(auto producer, evlog::Producer::Create(*broker));
//   // fire and forget, with a callback when the record is in the log:
//   EVLOG_RETURN_IF_ERROR(producer->Send(evlog::ProducerRecord("orders", "order-17", json),
//       [](const absl::StatusOr<evlog::RecordMetadata>& m) { ... }));
//   // or wait for it:
//   EVLOG_ASSIGN_OR_RETURN(evlog::RecordMetadata m,
//                          producer->SendSync(evlog::ProducerRecord("orders", "order-17", json)));
//
// The path of a record. Send() picks the partition (the record's own, or
// the partitioner's: murmur2 of the key as Kafka's Java client, sticky for
// null keys) and encodes the record straight into the partition's open
// batch — RecordBatch v2, the format the log stores, so this is the one
// copy of the caller's bytes. Each sending thread fills a batch of its own
// per partition (a lane; threads share lanes only beyond
// open_batches_per_partition threads), so threads sending to the same
// partitions do not pass a batch, and the cache lines under it, back and
// forth for every record; the batches then go to the log one after
// another in the order they were closed. A batch is appended to the
// partition's log when it reaches batch_size, when linger_ms has passed
// since its first record, or at once with linger_ms = 0 (while one thread
// appends a batch, records sent meanwhile gather in the next one, so
// batches still form under load). The append runs on the thread that closed the
// batch — no thread hop — except for batches closed by the linger timer
// (an executor task), when async_send is set, and when one thread has
// appended 64 batches in a row that others filled meanwhile (the rest goes
// to the executor so that its own Send() returns).
//
// Against a Cluster (Create(Cluster&)), a batch goes to its partition's
// leader and completes when `acks` is satisfied there. Errors Kafka calls
// retriable (leader moving: NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE;
// NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT, ...) are retried every
// retry_backoff_ms until delivery_timeout_ms after the batch was opened;
// then the last error reaches the callbacks. Up to max_in_flight batches
// per partition are sent before the first is acknowledged (Kafka's
// max.in.flight.requests.per.connection, 5). When one fails retriably, the
// partition stops sending, waits for the rest of its window, and sends the
// failed batches again in their order, one at a time, before it pipelines
// again: with idempotence a batch behind a failed one is refused as out of
// sequence and retried after it, so retries never reorder a partition's
// records (without idempotence, as in Kafka, a batch behind a failed one
// may land first; set max_in_flight to 1 to forbid that). A retry after a
// lost acknowledgement would write the batch twice; with idempotence (the
// default with acks=all) the partition recognises the retry by its
// producer id and sequence and answers with the first copy's offsets.
// After a batch fails for good, its partition's later batches continue
// under a new producer id (a sequence gap would otherwise refuse them;
// KIP-360 does the same with an epoch bump).
//
// Transactions: a partition joins the transaction at the coordinator
// (Kafka's AddPartitionsToTxn) before its first batch of it goes out. On a
// Broker its batches' drain does that, adding every new partition of a
// flush in one write; on a Cluster, whose write of `__transaction_state` is
// replicated, the first Send to the partition does it on the sending
// thread, before the record is accepted. Blocking calls
// (InitTransactions, CommitTransaction, Flush, ...) on a Cluster that runs
// on a ManualExecutor drive it while they wait (AwaitOn), so a
// single-threaded test can make them.
//
// Completion: the callback (or the future) gets RecordMetadata, or the
// error that kept the record out of the log; exactly once per record
// Send() accepted, in offset order within a partition, on the thread that
// appended its batch (against a Cluster, perhaps an executor thread).
// Callbacks should be quick: they hold up that thread.
//
// Ordering: records sent from one thread to one partition are appended in
// the order sent.
//
// Memory: the bytes of records not yet appended are bounded by
// buffer_memory; Send() blocks up to max_block_ms for room, then fails.
//
// Thread-safety: every method is thread-safe; one producer is meant to be
// shared by all the threads of an application.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/broker/broker.h"
#include "evlog/bytes.h"
#include "evlog/client/client_backend.h"
#include "evlog/io/executor.h"
#include "evlog/partition/partitioner.h"
#include "evlog/record/record.h"
#include "evlog/record/record_format.h"
#include "evlog/types.h"

namespace evlog {

// evlog/client/consumer.h and evlog/group/offset_store.h.
struct ConsumerGroupMetadata;
struct OffsetAndMetadata;

struct ProducerOptions {
  // Target size of a batch in bytes (Kafka batch.size); a record larger
  // than this gets a batch of its own.
  int32_t batch_size = 16384;
  // How long a batch waits for more records (Kafka linger.ms; 5 as in
  // Kafka 4.0). 0 sends at once.
  int64_t linger_ms = 5;
  // How many batches of one partition may be filling at once: each
  // sending thread fills its own (a lane), and threads beyond this many
  // share them. Rounded down to a power of two. 0: the machine's cores,
  // at most 8. 1: every thread fills the same batch, as in Kafka's
  // producer, which makes the fewest batches when many threads send
  // little, but passes the batch between cores for every record when they
  // send much. At most 64.
  int32_t open_batches_per_partition = 0;
  Acks acks = Acks::kAll;
  // Codec of this producer's batches (kNone or kZstd) and its zstd level;
  // a topic whose compression.type is not "producer" overrides it.
  CompressionType compression = CompressionType::kNone;
  int compression_level = 3;
  // Bytes of batches being filled or waiting to be appended (Kafka
  // buffer.memory). As in Kafka, a batch takes batch_size of it when it
  // opens (or what is left, if less); unlike Kafka, it gives back what its
  // records did not use once it is sealed, so that batches sent early
  // (linger_ms 0, Flush) hold only their encoded size.
  int64_t buffer_memory = 32 << 20;
  // How long Send() waits for buffer room, then fails (max.block.ms).
  int64_t max_block_ms = 60'000;
  // Largest record, encoded, that Send() accepts (max.request.size).
  int32_t max_request_size = 1 << 20;
  // Append on the executor instead of the sending thread.
  bool async_send = false;
  // Batches per partition sent and not yet acknowledged (Kafka
  // max.in.flight.requests.per.connection). 1 to 5 with idempotence, as in
  // Kafka (a partition remembers a producer's last five batches); any
  // number >= 1 without. One broker acknowledges at once, so this matters
  // against a Cluster, where acks=all waits for the followers.
  int32_t max_in_flight = 5;
  // How long an append waits for `acks` at the leader before it fails with
  // REQUEST_TIMED_OUT (request.timeout.ms).
  int64_t request_timeout_ms = 30'000;
  // Retriable errors are retried until this long after the batch was
  // opened (delivery.timeout.ms). REQUIRES: >= linger_ms +
  // request_timeout_ms, as Kafka checks.
  int64_t delivery_timeout_ms = 120'000;
  // Wait before sending a batch again (retry.backoff.ms).
  int64_t retry_backoff_ms = 100;
  // Idempotence (enable.idempotence): batches carry a producer id and
  // sequence numbers, so a partition recognises a retry of a batch it
  // already holds and answers with the original offsets instead of writing
  // it twice. Unset: on when acks is all, as in Kafka 3.x. REQUIRES: acks
  // all when set to true.
  std::optional<bool> enable_idempotence;
  // Transactions (transactional.id): with an id, sends happen inside
  // BeginTransaction ... CommitTransaction / AbortTransaction, after one
  // InitTransactions; the records of a transaction become visible to
  // read_committed consumers together, when it commits. Needs idempotence
  // (and so acks all). Broker only for now.
  std::optional<std::string> transactional_id;
  // How long a transaction may stay open before the coordinator aborts it
  // and fences this producer (transaction.timeout.ms).
  int64_t transaction_timeout_ms = 60'000;
  // Picks partitions for records without one. Unset: murmur2 for keyed
  // records, sticky (batch_size bytes per partition) for null keys, seeded
  // with partitioner_seed.
  std::optional<AnyPartitioner> partitioner;
  // Seeds the default partitioner's choices for null keys. Unset: derived
  // from client_id and a per-process count of producers, so that two
  // producers do not stick to the same partitions (Kafka picks at random);
  // set it to replay the same choices.
  std::optional<uint64_t> partitioner_seed;
  // Shown in metrics.
  std::string client_id = "evlog-producer";
};

// A record to send. Only views: the bytes need to live until Send()
// returns (they are copied into a batch by then).
struct ProducerRecord {
  ProducerRecord() = default;
  ProducerRecord(std::string_view topic_in, std::string_view value_in)
      : topic(topic_in), value(AsBytes(value_in)) {}
  ProducerRecord(std::string_view topic_in, std::string_view key_in, std::string_view value_in)
      : topic(topic_in), key(AsBytes(key_in)), value(AsBytes(value_in)) {}
  ProducerRecord(std::string_view topic_in, std::optional<ByteView> key_in,
                 std::optional<ByteView> value_in)
      : topic(topic_in), key(key_in), value(value_in) {}

  ProducerRecord& WithPartition(int32_t p) {
    partition = PartitionId(p);
    return *this;
  }
  ProducerRecord& WithTimestamp(int64_t ms) {
    timestamp_ms = ms;
    return *this;
  }
  ProducerRecord& WithHeaders(std::span<const RecordHeader> h) {
    headers = h;
    return *this;
  }

  std::string_view topic;
  // Overrides the partitioner when set.
  std::optional<PartitionId> partition;
  // std::nullopt is null (a null value is a tombstone on compacted topics).
  std::optional<ByteView> key;
  std::optional<ByteView> value;
  std::span<const RecordHeader> headers;
  // Create time; -1: the producer's clock at Send().
  int64_t timestamp_ms = -1;
};

struct RecordMetadata {
  // Valid as long as the producer.
  std::string_view topic;
  PartitionId partition;
  // -1 with acks = kNone.
  Offset offset{-1};
  // The record's create time, or the log-append time of a LogAppendTime topic.
  int64_t timestamp_ms = -1;
};

using SendCallback = absl::AnyInvocable<void(const absl::StatusOr<RecordMetadata>&)>;

struct ProducerMetrics {
  std::string client_id;
  uint64_t records_sent = 0;  // accepted and appended
  uint64_t bytes_sent = 0;    // batch bytes appended
  uint64_t batches_sent = 0;
  uint64_t record_errors = 0;      // records whose callback got an error
  uint64_t send_rejections = 0;    // Send() calls that returned an error
  uint64_t retries = 0;            // batches sent again after a retriable error
  uint64_t buffer_bytes_used = 0;  // of buffer_memory, by batches not yet completed
  uint64_t records_in_flight = 0;  // accepted by Send() and not yet completed
};

class Producer {
 public:
  // A producer of `broker`'s topics; `broker` must outlive it.
  // Errors: INVALID_CONFIG naming a bad option.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Producer>> Create(
      Broker& broker, ProducerOptions options = {});
  // A producer of `cluster`'s topics (which it does not create: a topic
  // must exist); `cluster` must outlive it. Errors: as above.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Producer>> Create(
      Cluster& cluster, ProducerOptions options = {});
  // A producer over any backend (evlog/client/client_backend.h), which it
  // owns. Errors: as above.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Producer>> Create(
      std::unique_ptr<ClientBackend> backend, ProducerOptions options = {});

  // Flushes and closes (errors dropped).
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Accepts `record` for sending; `callback` (may be empty) is called once
  // with the outcome. When Send() itself fails, the record was not
  // accepted and the callback is not called. Errors: FailedPrecondition
  // after Close(); INVALID_TOPIC_EXCEPTION; UNKNOWN_TOPIC_OR_PARTITION
  // (no such topic and no auto-creation, or a partition out of range);
  // INVALID_TIMESTAMP (negative other than -1); MESSAGE_TOO_LARGE (over
  // max_request_size, the topic's max.message.bytes, or buffer_memory);
  // REQUEST_TIMED_OUT (no buffer room within max_block_ms).
  [[nodiscard]] absl::Status Send(const ProducerRecord& record, SendCallback callback);

  // As above, with the outcome (including Send()'s own errors) in a future.
  [[nodiscard]] std::future<absl::StatusOr<RecordMetadata>> Send(const ProducerRecord& record);

  // Sends `record`, appends its batch now (without waiting for linger_ms)
  // and waits for the outcome.
  [[nodiscard]] absl::StatusOr<RecordMetadata> SendSync(const ProducerRecord& record);

  // Appends every open batch now and waits until every record accepted
  // before the call has completed. Returns OK even when some records
  // failed (their callbacks say so), FailedPrecondition after Close().
  [[nodiscard]] absl::Status Flush();

  // Refuses further sends (FailedPrecondition, also for senders blocked
  // for memory), then appends every record accepted before and waits for
  // their callbacks. Always OK; idempotent.
  [[nodiscard]] absl::Status Close();

  // --- Transactions (options.transactional_id) --------------------------------

  // Registers the transactional id with the coordinator: fences any other
  // producer with the same id and aborts its open transaction. Call once,
  // before the first transaction. Errors: FailedPrecondition (no
  // transactional_id, or called twice); the coordinator's
  // (CONCURRENT_TRANSACTIONS: retry; on a Cluster also
  // COORDINATOR_LOAD_IN_PROGRESS and COORDINATOR_NOT_AVAILABLE while its log
  // fails over: retry).
  [[nodiscard]] absl::Status InitTransactions();
  // Starts a transaction: sends until the next Commit/Abort belong to it.
  // Errors: INVALID_TXN_STATE (not initialised, or one is open).
  [[nodiscard]] absl::Status BeginTransaction();
  // Sends what is pending, then commits: every record sent in the
  // transaction becomes visible to read_committed consumers at once.
  // Errors: INVALID_TXN_STATE (none open); TRANSACTION_ABORTABLE (a record
  // of it failed: AbortTransaction, then start again); PRODUCER_FENCED
  // (another instance took over: this producer can only be closed).
  [[nodiscard]] absl::Status CommitTransaction();
  // Sends what is pending, then aborts: no record of the transaction ever
  // reaches read_committed consumers. Errors: as CommitTransaction, but
  // not TRANSACTION_ABORTABLE.
  [[nodiscard]] absl::Status AbortTransaction();

  // Puts a consumer group's offsets in the open transaction (Kafka
  // sendOffsetsToTransaction): they become the group's committed offsets
  // when the transaction commits, together with its records, and never if
  // it aborts. Consuming input and producing its output then happen exactly
  // once: `offsets` are those of the input the transaction's records were
  // made from (the next offset to read), `group` the consumer's
  // GroupMetadata(). Blocks until the offsets are written.
  // Errors: INVALID_TXN_STATE (no transaction open); PRODUCER_FENCED (as
  // CommitTransaction); ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID or
  // FENCED_INSTANCE_ID when the consumer has lost its partitions to a
  // rebalance since (KIP-447: another member may be processing them), after
  // which the transaction can only be aborted (CommitTransaction says
  // TRANSACTION_ABORTABLE); the offsets' own (INVALID_GROUP_ID,
  // INVALID_REQUEST, OFFSET_METADATA_TOO_LARGE); COORDINATOR_NOT_AVAILABLE
  // on a Cluster whose offsets partition could not take the write. After
  // any error but INVALID_TXN_STATE and PRODUCER_FENCED the transaction can
  // only be aborted (TRANSACTION_ABORTABLE), as after Kafka's abortable
  // errors: its offsets are missing, or may be in the log without the
  // coordinator knowing.
  [[nodiscard]] absl::Status SendOffsetsToTransaction(
      const std::map<TopicPartition, OffsetAndMetadata>& offsets,
      const ConsumerGroupMetadata& group);

  [[nodiscard]] ProducerMetrics metrics() const;

 private:
  enum class TxnPhase { kUninitialized, kReady, kInTransaction, kEnding, kFenced };
  absl::Status EndTransaction(bool commit);
  // Gives every partition the producer id and epoch a transaction ended
  // with, sequences from 0.
  void ApplyEpoch(ProducerId producer_id, ProducerEpoch epoch);
  struct PendingCallback;
  struct Batch;
  struct Lane;
  struct Accumulator;
  struct AccumulatorTable;
  struct TopicEntry;

  Producer(std::unique_ptr<ClientBackend> backend, ProducerOptions options,
           AnyPartitioner partitioner);

  // The fast paths check the entry found last, and the accumulator table;
  // the slow ones take locks and may create them.
  absl::StatusOr<TopicEntry*> FindTopic(std::string_view name);
  absl::StatusOr<TopicEntry*> FindTopicSlow(std::string_view name);
  absl::StatusOr<Accumulator*> FindAccumulator(TopicEntry& entry, PartitionId partition);
  absl::StatusOr<Accumulator*> FindAccumulatorSlow(TopicEntry& entry, PartitionId partition);
  // What Send() works out before touching a batch.
  struct Prepared {
    Accumulator* accumulator = nullptr;
    int64_t timestamp_ms = -1;
    size_t record_bytes = 0;
  };
  // Validates `record`, stamps it and picks its partition and accumulator.
  absl::Status Prepare(const ProducerRecord& record, Prepared& prepared);
  // Takes as much of buffer_memory as is free, up to `max_bytes`, if that
  // is at least `min_bytes` (> 0); returns what it took, else 0. Never
  // blocks.
  size_t TryReserve(size_t min_bytes, size_t max_bytes);
  // Takes `bytes` of buffer_memory, waiting up to max_block_ms for room.
  // Errors: REQUEST_TIMED_OUT, or FAILED_PRECONDITION once closed.
  absl::Status ReserveMemory(size_t bytes);
  // Gives back buffer_memory and wakes blocked senders.
  void Release(size_t bytes);
  // Adds the record to the open batch of the calling thread's lane of
  // `acc`, or to a new one (reserving its memory, waiting for it if need
  // be), and starts sending what is ready.
  absl::Status Enqueue(Accumulator& acc, const ProducerRecord& record, int64_t timestamp_ms,
                       size_t record_bytes, SendCallback& callback, bool flush_now);
  // Appends the record to `batch` (a lane's open one) if it fits
  // batch_size and the memory the batch holds, or more it can take without
  // waiting. REQUIRES: the lane's mu held.
  bool TryAddLocked(Accumulator& acc, Batch& batch, const ProducerRecord& record,
                    int64_t timestamp_ms, size_t record_bytes, SendCallback& callback);
  // Moves `lane`'s open batch to acc's ready queue and gives back the
  // memory its records did not use. REQUIRES: lane.mu and acc.mu held.
  void SealLocked(Accumulator& acc, Lane& lane);
  // Seals every lane's open batch (each lane's mu, then acc.mu, one lane
  // at a time). REQUIRES: no lock of acc held.
  void SealOpenLanes(Accumulator& acc);
  // acc's lanes: lane_count_ of them, as every accumulator has.
  std::span<Lane> LanesOf(Accumulator& acc) const;
  struct Sent;
  // Works acc's batches as far as it can: settles the outcomes that came
  // in, in send order; sends batches again after a failure; sends ready
  // batches while fewer than max_in_flight are out. The caller claimed
  // acc.draining, which this releases when nothing is left to do now (an
  // outcome arriving later claims it again).
  void Drain(Accumulator& acc);
  void StartDrain(Accumulator& acc);
  // Whether a sealed batch could go out now. REQUIRES: acc.mu held.
  bool CanSendLocked(const Accumulator& acc) const;
  // Sends `sent` (in acc.in_flight); its outcome comes to OnOutcome.
  void Transmit(Accumulator& acc, Sent& sent);
  void OnOutcome(Accumulator& acc, Sent& sent, absl::StatusOr<AppendResult> result);
  // Takes the outcome of the oldest batch in flight: completes it, or
  // keeps it to be sent again. Called by the drain's owner, without acc.mu.
  void Settle(Accumulator& acc, std::unique_ptr<Sent> sent);
  // Completes `sent`'s records with `result` and recycles its buffers.
  void Finish(Accumulator& acc, Sent& sent, const absl::StatusOr<AppendResult>& result);
  // Lets the batches kept for a retry go after retry_backoff_ms.
  void ScheduleRetry(Accumulator& acc);
  void Complete(Accumulator& acc, Batch& batch, const absl::StatusOr<AppendResult>& result);
  // A lane's linger timer: seals its open batch once its linger has
  // passed, or waits again for a batch opened after the timer was armed.
  void OnLinger(Accumulator& acc, Lane& lane);
  std::vector<Accumulator*> AllAccumulators() const;
  // Adds the partitions of `claimed` (drains the caller owns) that are not
  // in the open transaction yet, in one call to the coordinator (Kafka's
  // AddPartitionsToTxn), so that it writes a marker there when the
  // transaction ends. Errors: the coordinator's.
  absl::Status AddToTransaction(const std::vector<Accumulator*>& claimed);
  // Adds `acc`'s partition to the open transaction before a record for it
  // is accepted (Send): waiting for the coordinator there, on the caller's
  // thread, keeps the drains from waiting on it. Errors: the
  // coordinator's (PRODUCER_FENCED also marks the producer fenced).
  absl::Status AddToTransaction(Accumulator& acc);
  // Appends every open batch and waits for those accepted so far.
  void FlushAll();

  const std::unique_ptr<ClientBackend> backend_;
  const ProducerOptions options_;
  const AnyPartitioner partitioner_;
  Clock& clock_;  // backend_->clock(), read for every record
  // Lanes per partition: options_.open_batches_per_partition resolved.
  const size_t lane_count_;
  TaskGroup tasks_;

  mutable std::shared_mutex topics_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<TopicEntry>> topics_;
  // Entries of deleted topics: RecordMetadata::topic and last_topic_ may
  // still point at them.
  std::vector<std::unique_ptr<TopicEntry>> retired_;
  // The entry FindTopic found last, checked before the map.
  std::atomic<TopicEntry*> last_topic_{nullptr};

  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> buffer_used_{0};
  // Senders blocked in ReserveMemory, waiting on state_cv_ under state_mu_.
  std::mutex state_mu_;
  std::condition_variable state_cv_;
  std::atomic<int> memory_waiters_{0};

  std::atomic<uint64_t> records_sent_{0};
  std::atomic<uint64_t> bytes_sent_{0};
  std::atomic<uint64_t> batches_sent_{0};
  std::atomic<uint64_t> record_errors_{0};
  std::atomic<uint64_t> send_rejections_{0};
  std::atomic<uint64_t> retries_{0};
  // enable_idempotence as resolved at Create, and the producer id new
  // partitions start with.
  bool idempotent_ = false;
  // Read without a lock when a partition's accumulator is made; written by
  // InitTransactions and the end of a transaction.
  std::atomic<int64_t> producer_id_{kNoProducerId.value()};
  std::atomic<int16_t> epoch_{0};

  // Transactions.
  bool transactional_ = false;
  TransactionCoordinator* coordinator_ = nullptr;
  std::mutex txn_mu_;
  std::atomic<TxnPhase> phase_{TxnPhase::kUninitialized};
  // Incremented by BeginTransaction: a partition's first batch in a newer
  // transaction adds the partition to it.
  std::atomic<uint64_t> txn_generation_{0};
  std::atomic<uint64_t> txn_errors_{0};
  // Partitions of `__consumer_offsets` in the open transaction, and the
  // txn_generation_ they were added in. Under txn_mu_.
  std::vector<PartitionId> offsets_partitions_;
  uint64_t offsets_generation_ = 0;
};

}  // namespace evlog
