#include "coordinator_services.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "evlog/broker/cluster.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/group/offset_store.h"
#include "evlog/record/control_record.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"

namespace evlog::broker_internal {
namespace {

// Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms.
constexpr int64_t kTimeoutCheckIntervalMs = 10'000;
// How long a marker is retried while its partition's leader moves before
// the transaction is left in Prepare*, for the next call on its id or the
// coordinator's periodic pass to finish.
constexpr int64_t kMarkerRetryMs = 10'000;
constexpr int64_t kMarkerBackoffMs = 100;
// Each attempt's acks=all wait.
constexpr int64_t kMarkerTimeoutMs = 5'000;

TopicConfig TransactionStateConfig() {
  TopicConfig config;
  config.cleanup_policy = CleanupPolicy::kCompact;
  // A decision must survive a crash: on one node only the disk keeps it
  // (and on a cluster, a power loss of every replica).
  config.durability = Durability::kEveryAppend;
  config.compression = TopicCompression::kNone;
  return config;
}

// A replicated write that failed but may succeed again once leadership
// settles: what Kafka's coordinator answers as COORDINATOR_NOT_AVAILABLE.
bool ReplicationError(const absl::Status& s) {
  switch (GetErrorCode(s)) {
    case ErrorCode::kNotLeaderOrFollower:
    case ErrorCode::kLeaderNotAvailable:
    case ErrorCode::kNotEnoughReplicas:
    case ErrorCode::kNotEnoughReplicasAfterAppend:
    case ErrorCode::kRequestTimedOut:
    case ErrorCode::kCoordinatorNotAvailable:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::Status CoordinatorTransactionLog::EnsureTopic() {
  // Lock-free once the topic is there: Write runs in replication's
  // completions, under locks that creating a topic takes in another order.
  if (have_topic_.load(std::memory_order_acquire)) return absl::OkStatus();
  std::lock_guard lock(create_mu_);
  if (have_topic_.load(std::memory_order_relaxed)) return absl::OkStatus();
  if (log_->partition_count() == 0) {
    absl::Status created = log_->Create(1, TransactionStateConfig());
    if (!created.ok() && !HasErrorCode(created, ErrorCode::kTopicAlreadyExists)) return created;
  }
  have_topic_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

void CoordinatorTransactionLog::Write(const TransactionMetadata& m, WriteCallback done) {
  if (absl::Status s = EnsureTopic(); !s.ok()) {
    done(std::move(s));
    return;
  }
  RecordBatchBuilder builder;
  const std::vector<std::byte> value = EncodeTransactionMetadata(m);
  if (absl::Status s =
          builder.Append(log_->clock().WallMs(), AsBytes(m.transactional_id), ByteView(value));
      !s.ok()) {
    done(std::move(s));
    return;
  }
  absl::StatusOr<MutableByteView> batch = builder.Finish();
  if (!batch.ok()) {
    done(batch.status());
    return;
  }
  AppendOptions options;
  options.trusted = true;
  log_->Append(PartitionId(0), *batch, options,
               [done = std::move(done)](absl::StatusOr<AppendResult> r) mutable {
                 if (r.ok() || !ReplicationError(r.status())) {
                   done(r.status());
                   return;
                 }
                 done(MakeError(ErrorCode::kCoordinatorNotAvailable,
                                absl::StrCat("writing ", internal::ToAbsl(kTransactionStateTopic),
                                             ": ", r.status().message())));
               });
}

absl::StatusOr<std::vector<TransactionMetadata>> CoordinatorTransactionLog::Load() {
  std::vector<TransactionMetadata> out;
  if (log_->partition_count() == 0) return out;
  std::map<std::string, TransactionMetadata> last;
  EVLOG_RETURN_IF_ERROR(
      log_->Scan(PartitionId(0), [&last](const RecordBatchView& batch) -> absl::Status {
        EVLOG_ASSIGN_OR_RETURN(RecordIterator it, batch.Records());
        for (; it.Valid(); it.Next()) {
          if (!it.record().value) continue;
          EVLOG_ASSIGN_OR_RETURN(TransactionMetadata m,
                                 DecodeTransactionMetadata(*it.record().value));
          last[m.transactional_id] = std::move(m);
        }
        return it.status();
      }));
  for (auto& [id, m] : last) out.push_back(std::move(m));
  return out;
}

void WriteOffsetsMarker(absl::StatusOr<std::shared_ptr<GroupCoordinator>> groups,
                        PartitionId partition, ProducerId producer_id, ProducerEpoch epoch,
                        ControlRecordType type, MarkerWriter::WriteCallback done) {
  if (!groups.ok()) {
    done(groups.status());
    return;
  }
  (*groups)->CompleteTransactionAsync(partition, producer_id, epoch, type, std::move(done));
}

// --- TransactionHost -----------------------------------------------------

class TransactionHost::Ids final : public ProducerIdSource {
 public:
  explicit Ids(std::function<absl::StatusOr<ProducerId>()> next) : next_(std::move(next)) {}
  absl::StatusOr<ProducerId> NextId() override { return next_(); }

 private:
  const std::function<absl::StatusOr<ProducerId>()> next_;
};

TransactionHost::TransactionHost(std::unique_ptr<CoordinatorLog> log,
                                 std::unique_ptr<MarkerWriter> markers,
                                 std::function<absl::StatusOr<ProducerId>()> next_id,
                                 Executor& executor)
    : log_(std::move(log)),
      markers_(std::move(markers)),
      ids_(std::make_unique<Ids>(std::move(next_id))),
      tasks_(executor) {}

TransactionHost::~TransactionHost() {
  tasks_.Close();
  coordinator_.reset();
}

absl::StatusOr<std::unique_ptr<TransactionHost>> TransactionHost::Start(
    std::unique_ptr<CoordinatorLog> log, std::unique_ptr<MarkerWriter> markers,
    std::function<absl::StatusOr<ProducerId>()> next_id, Clock& clock, Executor& executor,
    bool create_topic) {
  std::unique_ptr<TransactionHost> host(
      new TransactionHost(std::move(log), std::move(markers), std::move(next_id), executor));
  if (create_topic) EVLOG_RETURN_IF_ERROR(host->log_.EnsureTopic());
  EVLOG_ASSIGN_OR_RETURN(
      host->coordinator_,
      TransactionCoordinator::Open(host->log_, *host->markers_, *host->ids_, clock, executor));
  host->ScheduleTimeoutCheck();
  return host;
}

void TransactionHost::ScheduleTimeoutCheck() {
  tasks_.ScheduleAfter(kTimeoutCheckIntervalMs, [this] {
    // `this` outlives the pass: the coordinator waits for its operations.
    coordinator_->AbortTimedOutAsync([this](size_t) { ScheduleTimeoutCheck(); });
  });
}

// --- ClusterTransactions -------------------------------------------------

// Markers go to each partition's leader with acks=all and are retried,
// every kMarkerBackoffMs for up to kMarkerRetryMs, while the leader moves;
// after that the coordinator's periodic pass starts again (Kafka's marker
// channel retries them until they land). Writing a marker
// twice is harmless: the second finds no transaction of that producer open.
class ClusterTransactions::Markers final : public MarkerWriter {
 public:
  explicit Markers(Cluster& cluster) : cluster_(cluster), tasks_(cluster.executor()) {}

  void WriteMarker(const TopicPartition& tp, ProducerId producer_id, ProducerEpoch epoch,
                   ControlRecordType type, WriteCallback done) override {
    auto marker = std::make_shared<Pending>();
    marker->tp = tp;
    marker->producer_id = producer_id;
    marker->epoch = epoch;
    marker->type = type;
    marker->deadline_ms = cluster_.clock().MonotonicNs() / 1'000'000 + kMarkerRetryMs;
    marker->done = std::move(done);
    Attempt(std::move(marker));
  }

  void Shutdown() {
    std::set<std::shared_ptr<Pending>> waiting;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      waiting.swap(waiting_);
    }
    tasks_.Close();
    for (const auto& marker : waiting) {
      std::move(marker->done)(absl::FailedPreconditionError("the cluster is closing"));
    }
  }

 private:
  struct Pending {
    TopicPartition tp;
    ProducerId producer_id;
    ProducerEpoch epoch;
    ControlRecordType type;
    int64_t deadline_ms;
    WriteCallback done;
  };

  void Attempt(std::shared_ptr<Pending> marker) {
    auto answered = [this, marker](absl::Status s) {
      if (s.ok() || !ReplicationError(s) ||
          cluster_.clock().MonotonicNs() / 1'000'000 >= marker->deadline_ms) {
        std::move(marker->done)(std::move(s));
        return;
      }
      Retry(marker);
    };
    if (marker->tp.topic == OffsetStore::kTopic) {
      WriteOffsetsMarker(cluster_.group_coordinator(), marker->tp.partition, marker->producer_id,
                         marker->epoch, marker->type, std::move(answered));
      return;
    }
    std::vector<std::byte> batch =
        BuildEndTransactionMarkerBatch({marker->type, /*coordinator_epoch=*/0}, marker->producer_id,
                                       marker->epoch, cluster_.clock().WallMs());
    cluster_.Produce(marker->tp, MutableByteView(batch), Acks::kAll, kMarkerTimeoutMs,
                     [answered = std::move(answered)](absl::StatusOr<AppendResult> r) mutable {
                       answered(r.status());
                     });
  }

  void Retry(const std::shared_ptr<Pending>& marker) {
    {
      std::lock_guard lock(mu_);
      if (!closed_) {
        waiting_.insert(marker);
        tasks_.ScheduleAfter(kMarkerBackoffMs, [this, marker] {
          {
            std::lock_guard lock(mu_);
            // Shutdown answered it already.
            if (waiting_.erase(marker) == 0) return;
          }
          Attempt(marker);
        });
        return;
      }
    }
    std::move(marker->done)(absl::FailedPreconditionError("the cluster is closing"));
  }

  Cluster& cluster_;
  TaskGroup tasks_;
  std::mutex mu_;
  bool closed_ = false;
  std::set<std::shared_ptr<Pending>> waiting_;
};

ClusterTransactions::~ClusterTransactions() {
  Shutdown();
  // Waits for the operations in flight, failed by now (the brokers having
  // stopped).
  host_.reset();
}

absl::StatusOr<std::unique_ptr<ClusterTransactions>> ClusterTransactions::Start(Cluster& cluster) {
  std::unique_ptr<ClusterTransactions> service(new ClusterTransactions());
  auto markers = std::make_unique<Markers>(cluster);
  service->markers_ = markers.get();
  EVLOG_ASSIGN_OR_RETURN(
      service->host_, TransactionHost::Start(
                          MakeCoordinatorLog(cluster, kTransactionStateTopic), std::move(markers),
                          [&cluster] { return cluster.InitProducerId(); }, cluster.clock(),
                          cluster.executor(), /*create_topic=*/true));
  return service;
}

void ClusterTransactions::Shutdown() {
  if (host_ == nullptr) return;
  host_->StopTimers();
  markers_->Shutdown();
}

}  // namespace evlog::broker_internal
