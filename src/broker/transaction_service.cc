// The transaction coordinator of a Broker: its state in the compacted
// topic `__transaction_state` (one partition, every append synced:
// coordinator_services.h), its
// markers appended straight to the broker's partitions, its producer ids
// from the broker's allocator, and a task aborting timed-out transactions.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator_services.h"
#include "evlog/broker/broker.h"
#include "evlog/broker/coordinator_log.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/group/offset_store.h"
#include "evlog/record/control_record.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"
#include "evlog/storage/internal/scan_batches.h"
#include "evlog/txn/transaction_coordinator.h"

namespace evlog {
namespace {

using broker_internal::CoordinatorTransactionLog;
using broker_internal::kTransactionStateTopic;
// Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms.
constexpr int64_t kTimeoutCheckIntervalMs = 10'000;

class PartitionMarkerWriter final : public MarkerWriter {
 public:
  explicit PartitionMarkerWriter(Broker& broker) : broker_(broker) {}
  void WriteMarker(const TopicPartition& tp, ProducerId producer_id, ProducerEpoch epoch,
                   ControlRecordType type, WriteCallback done) override {
    if (tp.topic == OffsetStore::kTopic) {
      // A transaction's consumer offsets: the group coordinator writes the
      // marker and makes them committed (or drops them) in one step, as
      // Kafka's WriteTxnMarkers hands `__consumer_offsets` to it.
      absl::StatusOr<std::shared_ptr<GroupCoordinator>> groups =
          GroupCoordinator::ForBroker(broker_);
      if (!groups.ok()) {
        done(groups.status());
        return;
      }
      (*groups)->CompleteTransactionAsync(tp.partition, producer_id, epoch, type, std::move(done));
      return;
    }
    absl::StatusOr<std::shared_ptr<Partition>> partition = broker_.GetPartition(tp);
    if (!partition.ok()) {
      done(partition.status());
      return;
    }
    std::vector<std::byte> batch = BuildEndTransactionMarkerBatch(
        {type, /*coordinator_epoch=*/0}, producer_id, epoch, broker_.clock().WallMs());
    done((*partition)->Append(batch).status());
  }

 private:
  Broker& broker_;
};

class BrokerProducerIds final : public ProducerIdSource {
 public:
  explicit BrokerProducerIds(Broker& broker) : broker_(broker) {}
  absl::StatusOr<ProducerId> NextId() override { return broker_.InitProducerId(); }

 private:
  Broker& broker_;
};

class TransactionService final : public BrokerService {
 public:
  static constexpr std::string_view kServiceName = "transaction-coordinator";

  explicit TransactionService(Broker& broker)
      : log_(MakeCoordinatorLog(broker, kTransactionStateTopic)),
        markers_(broker),
        ids_(broker),
        tasks_(broker.executor()) {}

  absl::Status Start(Broker& broker) {
    EVLOG_ASSIGN_OR_RETURN(
        coordinator_,
        TransactionCoordinator::Open(log_, markers_, ids_, broker.clock(), broker.executor()));
    ScheduleTimeoutCheck();
    return absl::OkStatus();
  }

  void Shutdown() override { tasks_.Close(); }

  TransactionCoordinator* coordinator() const { return coordinator_.get(); }

 private:
  void ScheduleTimeoutCheck() {
    tasks_.ScheduleAfter(kTimeoutCheckIntervalMs, [this] {
      // `this` outlives the pass: the coordinator waits for its operations.
      coordinator_->AbortTimedOutAsync([this](size_t) { ScheduleTimeoutCheck(); });
    });
  }

  CoordinatorTransactionLog log_;
  PartitionMarkerWriter markers_;
  BrokerProducerIds ids_;
  TaskGroup tasks_;
  std::unique_ptr<TransactionCoordinator> coordinator_;
};

}  // namespace

void Broker::ResumeTransactions() {
  // A crash may have left transactions between their two phases, or open
  // with consumer offsets pending on them: the coordinator finishes or
  // times them out only while it runs, so it starts with the broker, as
  // Kafka's loads its partitions at startup.
  // One that cannot load does not stop the broker: its clients get the
  // error, and the next call tries again.
  if (!GetTopic(kTransactionStateTopic).ok()) return;
  if (absl::Status s = transaction_coordinator().status(); !s.ok()) {
    Log(LogLevel::kError,
        absl::StrCat("the transaction coordinator did not start: ", s.ToString()));
  }
}

absl::StatusOr<TransactionCoordinator*> Broker::transaction_coordinator() {
  EVLOG_ASSIGN_OR_RETURN(
      std::shared_ptr<TransactionService> service,
      Service<TransactionService>([this]() -> absl::StatusOr<std::shared_ptr<TransactionService>> {
        auto made = std::make_shared<TransactionService>(*this);
        EVLOG_RETURN_IF_ERROR(made->Start(*this));
        return made;
      }));
  // The service lives until Close(), as the broker keeps it.
  return service->coordinator();
}

}  // namespace evlog
