// What the transaction coordinator runs on, for a Broker and for a Cluster:
// its state log over a CoordinatorLog of `__transaction_state`, and a
// Cluster's marker writer and service (a Broker's are in
// transaction_service.cc).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/broker/coordinator_log.h"
#include "evlog/io/executor.h"
#include "evlog/txn/transaction_coordinator.h"

namespace evlog {

class Cluster;

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

// The transaction coordinator of a Cluster: its state in the replicated
// `__transaction_state`, its markers appended with acks=all at each
// partition's leader (retried while the leader moves), those of
// `__consumer_offsets` through the cluster's group coordinator, its
// producer ids from the cluster's, and a task aborting timed-out
// transactions.
class ClusterTransactions {
 public:
  // Errors: creating or loading `__transaction_state`
  // (COORDINATOR_LOAD_IN_PROGRESS: retriable).
  static absl::StatusOr<std::unique_ptr<ClusterTransactions>> Start(Cluster& cluster);
  ~ClusterTransactions();

  TransactionCoordinator* coordinator() const { return coordinator_.get(); }

  // Stops the timers and fails the markers waiting to be retried; the
  // writes in flight fail as the brokers stop. Then the destructor waits
  // for the operations in flight.
  void Shutdown();

 private:
  class Markers;
  class Ids;
  explicit ClusterTransactions(Cluster& cluster);
  void ScheduleTimeoutCheck();

  Cluster& cluster_;
  std::unique_ptr<CoordinatorTransactionLog> log_;
  std::unique_ptr<Markers> markers_;
  std::unique_ptr<Ids> ids_;
  TaskGroup tasks_;
  std::unique_ptr<TransactionCoordinator> coordinator_;
};

}  // namespace broker_internal
}  // namespace evlog
