// What the transaction coordinator runs on, for a Broker and for a Cluster:
// its state log over a CoordinatorLog of `__transaction_state`, the host
// that runs it with its markers and its periodic pass, and a Cluster's
// marker writer (a Broker's is in transaction_service.cc).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/broker/coordinator_log.h"
#include "evlog/io/executor.h"
#include "evlog/record/control_record.h"
#include "evlog/txn/transaction_coordinator.h"

namespace evlog {

class Cluster;
class GroupCoordinator;

namespace broker_internal {

inline constexpr std::string_view kTransactionStateTopic = "__transaction_state";

// The coordinator's records in partition 0 of `log`'s topic, keyed by
// transactional id (compacted: the last record of an id is its state).
class CoordinatorTransactionLog final : public TransactionLog {
 public:
  explicit CoordinatorTransactionLog(std::unique_ptr<CoordinatorLog> log) : log_(std::move(log)) {}

  // Creates the topic when it does not exist (the first Write does too; on
  // a Cluster that must happen before, off the executor). Errors: the
  // creation's.
  absl::Status EnsureTopic();

  void Write(const TransactionMetadata& metadata, WriteCallback done) override;
  absl::StatusOr<std::vector<TransactionMetadata>> Load() override;

 private:
  const std::unique_ptr<CoordinatorLog> log_;
  std::mutex create_mu_;
  std::atomic<bool> have_topic_{false};
};

// A marker for `__consumer_offsets`: the group coordinator (`groups`, or
// the error of finding it) writes it and makes the offsets it ends
// committed, or drops them, as Kafka's WriteTxnMarkers hands that topic to
// its group coordinator.
void WriteOffsetsMarker(absl::StatusOr<std::shared_ptr<GroupCoordinator>> groups,
                        PartitionId partition, ProducerId producer_id, ProducerEpoch epoch,
                        ControlRecordType type, MarkerWriter::WriteCallback done);

// A transaction coordinator and what it runs on, for a Broker or a
// Cluster: its state log over `log` (`__transaction_state`), `markers`,
// producer ids from `next_id`, and a task aborting timed-out transactions
// (and finishing those whose markers failed) every
// transaction.abort.timed.out.transaction.cleanup.interval.ms.
class TransactionHost {
 public:
  // `create_topic`: create `__transaction_state` now, on the caller's thread
  // (a Cluster's admin call must not run on its executor, where the
  // coordinator's writes complete), rather than at the first write. Errors:
  // the creation's; loading the coordinator's state.
  static absl::StatusOr<std::unique_ptr<TransactionHost>> Start(
      std::unique_ptr<CoordinatorLog> log, std::unique_ptr<MarkerWriter> markers,
      std::function<absl::StatusOr<ProducerId>()> next_id, Clock& clock, Executor& executor,
      bool create_topic);
  // Stops the timer, then waits for the coordinator's operations in flight
  // before the log and markers they use go.
  ~TransactionHost();

  TransactionCoordinator* coordinator() const { return coordinator_.get(); }
  // Stops the periodic pass (the owner shutting down).
  void StopTimers() { tasks_.Close(); }

 private:
  class Ids;
  TransactionHost(std::unique_ptr<CoordinatorLog> log, std::unique_ptr<MarkerWriter> markers,
                  std::function<absl::StatusOr<ProducerId>()> next_id, Executor& executor);
  void ScheduleTimeoutCheck();

  CoordinatorTransactionLog log_;
  const std::unique_ptr<MarkerWriter> markers_;
  const std::unique_ptr<ProducerIdSource> ids_;
  TaskGroup tasks_;
  std::unique_ptr<TransactionCoordinator> coordinator_;
};

// The transaction coordinator of a Cluster (a TransactionHost): markers go
// to each partition's leader with acks=all, retried while leadership moves,
// and those of `__consumer_offsets` through the cluster's group coordinator.
class ClusterTransactions {
 public:
  // Errors: creating or loading `__transaction_state`
  // (COORDINATOR_LOAD_IN_PROGRESS: retriable).
  static absl::StatusOr<std::unique_ptr<ClusterTransactions>> Start(Cluster& cluster);
  ~ClusterTransactions();

  TransactionCoordinator* coordinator() const { return host_->coordinator(); }

  // Stops the timers and fails the markers waiting to be retried; the
  // writes in flight fail as the brokers stop. Then the destructor waits
  // for the operations in flight.
  void Shutdown();

 private:
  class Markers;
  ClusterTransactions() = default;

  // Owned by host_.
  Markers* markers_ = nullptr;
  std::unique_ptr<TransactionHost> host_;
};

}  // namespace broker_internal
}  // namespace evlog
