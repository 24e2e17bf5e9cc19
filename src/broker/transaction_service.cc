// The transaction coordinator of a Broker: a TransactionHost
// (coordinator_services.h) whose state is the broker's compacted topic
// `__transaction_state` (one partition, every append synced), whose markers
// go straight to the broker's partitions and whose producer ids come from
// the broker's allocator.
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator_services.h"
#include "evlog/broker/broker.h"
#include "evlog/broker/coordinator_log.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/group/offset_store.h"
#include "evlog/record/control_record.h"
#include "evlog/status.h"
#include "evlog/txn/transaction_coordinator.h"

namespace evlog {
namespace {

using broker_internal::kTransactionStateTopic;
using broker_internal::TransactionHost;

// Markers appended straight to the broker's partitions.
class PartitionMarkerWriter final : public MarkerWriter {
 public:
  explicit PartitionMarkerWriter(Broker& broker) : broker_(broker) {}
  void WriteMarker(const TopicPartition& tp, ProducerId producer_id, ProducerEpoch epoch,
                   ControlRecordType type, WriteCallback done) override {
    if (tp.topic == OffsetStore::kTopic) {
      broker_internal::WriteOffsetsMarker(GroupCoordinator::ForBroker(broker_), tp.partition,
                                          producer_id, epoch, type, std::move(done));
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

// The broker keeps its TransactionHost as a service, shut down with it.
class TransactionService final : public BrokerService {
 public:
  static constexpr std::string_view kServiceName = "transaction-coordinator";

  explicit TransactionService(std::unique_ptr<TransactionHost> host) : host_(std::move(host)) {}
  void Shutdown() override { host_->StopTimers(); }
  TransactionCoordinator* coordinator() const { return host_->coordinator(); }

 private:
  const std::unique_ptr<TransactionHost> host_;
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
        EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<TransactionHost> host,
                               TransactionHost::Start(
                                   MakeCoordinatorLog(*this, kTransactionStateTopic),
                                   std::make_unique<PartitionMarkerWriter>(*this),
                                   [this] { return InitProducerId(); }, clock(), executor(),
                                   /*create_topic=*/false));
        return std::make_shared<TransactionService>(std::move(host));
      }));
  // The service lives until Close(), as the broker keeps it.
  return service->coordinator();
}

}  // namespace evlog
