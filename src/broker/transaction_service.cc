// The transaction coordinator of a Broker: its state in the compacted
// topic `__transaction_state` (one partition, every append synced), its
// markers appended straight to the broker's partitions, its producer ids
// from the broker's allocator, and a task aborting timed-out transactions.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "evlog/broker/broker.h"
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

constexpr std::string_view kTopic = "__transaction_state";
// Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms.
constexpr int64_t kTimeoutCheckIntervalMs = 10'000;

class TopicTransactionLog final : public TransactionLog {
 public:
  explicit TopicTransactionLog(Broker& broker) : broker_(broker) {}

  void Write(const TransactionMetadata& m, WriteCallback done) override { done(Append(m)); }

  absl::StatusOr<std::vector<TransactionMetadata>> Load() override {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Partition> partition, LogPartition(/*create=*/false));
    std::map<std::string, TransactionMetadata> last;
    if (partition) {
      EVLOG_RETURN_IF_ERROR(internal::ScanBatches(
          *partition, partition->log_start_offset(), partition->high_watermark(),
          [&last](const RecordBatchView& batch) -> absl::Status {
            EVLOG_ASSIGN_OR_RETURN(RecordIterator it, batch.Records());
            for (; it.Valid(); it.Next()) {
              if (!it.record().value) continue;
              EVLOG_ASSIGN_OR_RETURN(TransactionMetadata m,
                                     DecodeTransactionMetadata(*it.record().value));
              last[m.transactional_id] = std::move(m);
            }
            return it.status();
          }));
    }
    std::vector<TransactionMetadata> out;
    for (auto& [id, m] : last) out.push_back(std::move(m));
    return out;
  }

 private:
  absl::Status Append(const TransactionMetadata& m) {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Partition> partition, LogPartition(/*create=*/true));
    RecordBatchBuilder builder;
    const std::vector<std::byte> value = EncodeTransactionMetadata(m);
    EVLOG_RETURN_IF_ERROR(
        builder.Append(broker_.clock().WallMs(), AsBytes(m.transactional_id), ByteView(value)));
    EVLOG_ASSIGN_OR_RETURN(MutableByteView batch, builder.Finish());
    return partition->Append(batch).status();
  }

  // nullptr (create false) while the topic does not exist.
  absl::StatusOr<std::shared_ptr<Partition>> LogPartition(bool create) {
    std::lock_guard lock(mu_);
    if (partition_ != nullptr) return partition_;
    absl::StatusOr<std::shared_ptr<Partition>> found =
        broker_.GetPartition(TopicPartition(std::string(kTopic), 0));
    if (!found.ok() && HasErrorCode(found.status(), ErrorCode::kUnknownTopicOrPartition)) {
      if (!create) return std::shared_ptr<Partition>();
      NewTopic topic(1);
      topic.config.cleanup_policy = CleanupPolicy::kCompact;
      // A decision must survive a crash: on one node only the disk keeps it.
      topic.config.durability = Durability::kEveryAppend;
      topic.config.compression = TopicCompression::kNone;
      absl::Status created = broker_.CreateTopic(kTopic, topic);
      if (!created.ok() && !HasErrorCode(created, ErrorCode::kTopicAlreadyExists)) return created;
      found = broker_.GetPartition(TopicPartition(std::string(kTopic), 0));
    }
    if (!found.ok()) return found.status();
    partition_ = *std::move(found);
    return partition_;
  }

  Broker& broker_;
  std::mutex mu_;
  std::shared_ptr<Partition> partition_;
};

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
      : log_(broker), markers_(broker), ids_(broker), tasks_(broker.executor()) {}

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

  TopicTransactionLog log_;
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
  if (!GetTopic(kTopic).ok()) return;
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
