// evlog/txn/transaction_coordinator.h — Kafka's transaction coordinator:
// transactional ids, their producer ids and epochs, and the two-phase end of
// a transaction (KIP-98, with KIP-890's epoch bump per transaction).
//
//   evlog::TransactionCoordinator coordinator(log, markers, ids, clock);  // via Open
//   auto id = coordinator.InitProducerId("billing-1", /*timeout_ms=*/60'000);
//   EVLOG_RETURN_IF_ERROR(coordinator.AddPartitions("billing-1", id->producer_id,
//                                                   id->epoch, {{"invoices", 0}}));
//   ... the producer appends transactional batches ...
//   auto next = coordinator.EndTransaction("billing-1", id->producer_id, id->epoch,
//                                          /*commit=*/true);   // the epoch to use next
//
// State per transactional id (Kafka's TransactionMetadata): producer id,
// epoch, timeout, state and the partitions of the ongoing transaction.
// Every change is written to a TransactionLog (the broker's
// `__transaction_state`) before it takes effect, so a reopened coordinator
// (Open) has every id back and finishes what a crash interrupted: a
// transaction in PrepareCommit or PrepareAbort gets its markers and its
// Complete record.
//
// Ending a transaction: a PrepareCommit (PrepareAbort) record, then a COMMIT
// (ABORT) marker on every partition of the transaction (MarkerWriter), then
// CompleteCommit (CompleteAbort) with the epoch bumped (KIP-890), which
// fences any request still carrying the transaction's epoch. InitProducerId
// of an id with an ongoing transaction — a restarted instance — aborts it and
// bumps the epoch: the previous instance is fenced (PRODUCER_FENCED).
//
// Consumer offsets in a transaction (Kafka AddOffsetsToTxn) are one more
// partition of it: the group's partition of `__consumer_offsets`, whose
// marker the group coordinator writes and applies (Broker wiring:
// src/broker/transaction_service.cc; GroupCoordinator::TxnCommitOffsets).
//
// Thread-safety: thread-safe. Operations on different transactional ids
// run concurrently; on one id they do not (CONCURRENT_TRANSACTIONS).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/record/record_format.h"
#include "evlog/txn/producer_id_manager.h"
#include "evlog/types.h"

namespace evlog {

enum class TransactionState : int8_t {
  kEmpty,
  kOngoing,
  kPrepareCommit,
  kPrepareAbort,
  kCompleteCommit,
  kCompleteAbort,
};

std::string_view TransactionStateName(TransactionState state);

struct TransactionMetadata {
  std::string transactional_id;
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch epoch{0};
  int64_t timeout_ms = 60'000;
  TransactionState state = TransactionState::kEmpty;
  // The partitions of the ongoing (or ending) transaction.
  std::set<TopicPartition> partitions;
  // When the ongoing transaction began, and when the state last changed
  // (the coordinator's clock, wall ms).
  int64_t start_ms = -1;
  int64_t last_update_ms = -1;

  friend bool operator==(const TransactionMetadata&, const TransactionMetadata&) = default;
};

// The record format of `__transaction_state` values (versioned, checked).
std::vector<std::byte> EncodeTransactionMetadata(const TransactionMetadata& metadata);
// Errors: CORRUPT_MESSAGE.
absl::StatusOr<TransactionMetadata> DecodeTransactionMetadata(ByteView bytes);

// Where the coordinator's state lives.
class TransactionLog {
 public:
  using WriteCallback = absl::AnyInvocable<void(absl::Status)>;
  virtual ~TransactionLog() = default;
  // Appends `metadata` and calls `done` once it is durable (synced, or
  // replicated acks=all) — perhaps before Write returns; the last record of
  // an id wins.
  virtual void Write(const TransactionMetadata& metadata, WriteCallback done) = 0;
  // Every id's last record.
  [[nodiscard]] virtual absl::StatusOr<std::vector<TransactionMetadata>> Load() = 0;
};

// Appends the end-transaction markers.
class MarkerWriter {
 public:
  using WriteCallback = absl::AnyInvocable<void(absl::Status)>;
  virtual ~MarkerWriter() = default;
  // Appends a COMMIT or ABORT marker of `producer_id` at `epoch` to
  // `partition` and calls `done` once it is durable (acks=all where
  // replicated), perhaps before WriteMarker returns.
  virtual void WriteMarker(const TopicPartition& partition, ProducerId producer_id,
                           ProducerEpoch epoch, ControlRecordType type, WriteCallback done) = 0;
};

struct TransactionCoordinatorOptions {
  // The longest transaction_timeout_ms a producer may ask for
  // (transaction.max.timeout.ms).
  int64_t max_transaction_timeout_ms = 15 * 60 * 1000;
};

struct ProducerIdAndEpoch {
  ProducerId producer_id;
  ProducerEpoch epoch;
};

class TransactionCoordinator {
 public:
  using StatusCallback = absl::AnyInvocable<void(absl::Status)>;
  using InitCallback = absl::AnyInvocable<void(absl::StatusOr<ProducerIdAndEpoch>)>;
  using EndCallback = absl::AnyInvocable<void(absl::StatusOr<ProducerEpoch>)>;

  // Loads every id's state from `log` and starts finishing the
  // transactions a crash left between their phases (done before Open
  // returns where the log and markers answer at once, as on a Broker).
  // `executor` is where the log's and markers' answers arrive: the
  // synchronous calls below drive it while they wait (AwaitOn). The
  // arguments must outlive it. Errors: the log's; a marker that cannot be
  // written leaves that transaction to the next call on its id.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TransactionCoordinator>> Open(
      TransactionLog& log, MarkerWriter& markers, ProducerIdSource& ids, Clock& clock,
      Executor& executor, TransactionCoordinatorOptions options = {});

  // Waits for the operations in flight.
  ~TransactionCoordinator();

  // Each call below has an asynchronous form, whose callback gets the same
  // outcome once every write it needs is durable (before it returns when
  // they answer at once), and a synchronous form that waits for it. While
  // an operation on a transactional id is in flight (its writes under way,
  // as Kafka's pending state), other calls on that id fail with
  // CONCURRENT_TRANSACTIONS, retriable, with nothing changed.

  // The producer id and epoch for `transactional_id`: a new id at epoch 0,
  // or the id's next epoch — aborting its ongoing transaction first, which
  // fences the instance that ran it. Errors: INVALID_REQUEST (empty id);
  // INVALID_TRANSACTION_TIMEOUT; CONCURRENT_TRANSACTIONS (a transaction is
  // still ending: retry); the log's and the id source's.
  [[nodiscard]] absl::StatusOr<ProducerIdAndEpoch> InitProducerId(std::string_view transactional_id,
                                                                  int64_t timeout_ms);
  void InitProducerIdAsync(std::string_view transactional_id, int64_t timeout_ms,
                           InitCallback done);

  // Adds partitions to the transaction, beginning it if none is ongoing.
  // Errors: INVALID_PRODUCER_ID_MAPPING (unknown id, or another producer
  // id); PRODUCER_FENCED (an older epoch); INVALID_PRODUCER_EPOCH (a newer
  // one); CONCURRENT_TRANSACTIONS (the last transaction is still ending);
  // the log's. Nothing changes on error.
  [[nodiscard]] absl::Status AddPartitions(std::string_view transactional_id,
                                           ProducerId producer_id, ProducerEpoch epoch,
                                           const std::vector<TopicPartition>& partitions);
  void AddPartitionsAsync(std::string_view transactional_id, ProducerId producer_id,
                          ProducerEpoch epoch, const std::vector<TopicPartition>& partitions,
                          StatusCallback done);

  // Commits or aborts the ongoing transaction and returns the epoch the
  // producer uses from now on (bumped, KIP-890). A retry of an EndTransaction
  // that completed (the previous epoch, the same outcome) returns the same
  // epoch again. Errors: as AddPartitions; INVALID_TXN_STATE (no ongoing
  // transaction, or the other outcome was already decided); a marker's
  // write error (the transaction stays Prepare*, finished by a later call).
  [[nodiscard]] absl::StatusOr<ProducerEpoch> EndTransaction(std::string_view transactional_id,
                                                             ProducerId producer_id,
                                                             ProducerEpoch epoch, bool commit);
  void EndTransactionAsync(std::string_view transactional_id, ProducerId producer_id,
                           ProducerEpoch epoch, bool commit, EndCallback done);

  // Aborts the transactions ongoing for longer than their timeout
  // (transaction.timeout.ms), bumping their epochs so that their producers
  // are fenced. Returns (gives `done`) how many were aborted. Also finishes
  // the transactions whose markers failed earlier (left in Prepare*).
  size_t AbortTimedOut();
  void AbortTimedOutAsync(absl::AnyInvocable<void(size_t)> done);

  // The state of `transactional_id`. Errors: INVALID_PRODUCER_ID_MAPPING.
  [[nodiscard]] absl::StatusOr<TransactionMetadata> Describe(
      std::string_view transactional_id) const;

 private:
  // An id's state, and whether an operation on it is in flight.
  struct Entry {
    // Unset until the id's first record is durable.
    std::optional<TransactionMetadata> metadata;
    bool busy = false;
  };
  // An operation on one id, holding it busy until it ends.
  class Operation;

  TransactionCoordinator(TransactionLog& log, MarkerWriter& markers, ProducerIdSource& ids,
                         Clock& clock, Executor& executor, TransactionCoordinatorOptions options)
      : log_(log),
        markers_(markers),
        ids_(ids),
        clock_(clock),
        executor_(executor),
        options_(options) {}

  // Marks `transactional_id` busy (creating its entry when `create`).
  // Errors: CONCURRENT_TRANSACTIONS; INVALID_PRODUCER_ID_MAPPING (unknown
  // id, not `create`). REQUIRES: mu_ held.
  absl::Status AcquireLocked(std::string_view transactional_id, bool create);
  // The checks of a producer's request. REQUIRES: mu_ held.
  absl::Status CheckProducerLocked(std::string_view transactional_id, ProducerId producer_id,
                                   ProducerEpoch epoch) const;
  // The id's state now. REQUIRES: it is busy with the caller's operation.
  TransactionMetadata Current(const std::string& transactional_id) const;
  // Writes `next` to the log, then makes it the id's state.
  void Commit(const std::string& transactional_id, TransactionMetadata next, StatusCallback done);
  // From Ongoing: Prepare*, markers, Complete* with the epoch bumped.
  void End(const std::string& transactional_id, bool commit, StatusCallback done);
  // From Prepare*: markers, then Complete* with the epoch bumped.
  void Finish(const std::string& transactional_id, StatusCallback done);
  // Bumps the epoch, then aborts the ongoing transaction with it.
  void FenceAndAbort(const std::string& transactional_id, StatusCallback done);
  // The epoch after m's (a new producer id at epoch 0 past INT16_MAX).
  absl::Status NextEpoch(TransactionMetadata& m);
  // Ends an operation: the id is free again.
  void Release(const std::string& transactional_id);

  TransactionLog& log_;
  MarkerWriter& markers_;
  ProducerIdSource& ids_;
  Clock& clock_;
  Executor& executor_;
  const TransactionCoordinatorOptions options_;
  mutable std::mutex mu_;
  std::condition_variable idle_;
  int64_t in_flight_ = 0;
  std::map<std::string, Entry, std::less<>> transactions_;
};

}  // namespace evlog
