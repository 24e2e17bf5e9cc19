#include "evlog/client/client_backend.h"

#include <atomic>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/broker/broker.h"
#include "evlog/broker/cluster.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/status.h"

namespace evlog {
namespace {

absl::Status NoPartition(const std::string& topic, PartitionId id) {
  return MakeError(ErrorCode::kUnknownTopicOrPartition,
                   absl::StrCat("topic \"", topic, "\" has no partition ", id.value()));
}

// --- One broker: its Partition objects, used directly ------------------------

class BrokerPartition final : public ClientPartition {
 public:
  explicit BrokerPartition(std::shared_ptr<Partition> partition)
      : ClientPartition(TopicPartition(partition->topic(), partition->id())),
        partition_(std::move(partition)) {}

  void Append(MutableByteView batch, Acks /*acks*/, int64_t /*timeout_ms*/,
              AppendCallback done) override {
    // One replica: the append is acknowledged by every acks level once in
    // the log. The producer's batches come from RecordBatchBuilder, so the
    // CRC check of untrusted input is skipped.
    AppendOptions options;
    options.trusted = true;
    done(partition_->Append(batch, options));
  }

  absl::StatusOr<LogReadResult> Read(Offset offset, std::vector<std::byte>& buffer,
                                     const LogReadOptions& options) override {
    return partition_->Read(offset, buffer, options);
  }

  absl::StatusOr<PartitionOffsets> Offsets() override {
    if (partition_->closed()) {
      return MakeError(ErrorCode::kUnknownTopicOrPartition,
                       absl::StrCat(topic_partition().ToString(), " is closed"));
    }
    return PartitionOffsets{partition_->log_start_offset(), partition_->high_watermark(),
                            partition_->log_end_offset(), partition_->last_stable_offset()};
  }

  absl::StatusOr<std::vector<AbortedTransaction>> AbortedTransactions(Offset from,
                                                                      Offset to) override {
    return partition_->AbortedTransactions(from, to);
  }

  absl::StatusOr<std::optional<TimestampAndOffset>> OffsetForTimestamp(
      int64_t timestamp_ms) override {
    return partition_->OffsetForTimestamp(timestamp_ms);
  }

  void AddWaiter(DataWaiter* waiter) override { partition_->AddWaiter(waiter); }
  void RemoveWaiter(DataWaiter* waiter) override { partition_->RemoveWaiter(waiter); }
  bool deleted() const override { return partition_->closed(); }

 private:
  const std::shared_ptr<Partition> partition_;
};

class BrokerTopic final : public ClientTopic {
 public:
  explicit BrokerTopic(std::shared_ptr<Topic> topic)
      : ClientTopic(topic->name(), topic->settings()), topic_(std::move(topic)) {}

  int32_t partition_count() const override { return topic_->partition_count(); }
  bool deleted() const override { return topic_->deleted(); }
  absl::StatusOr<std::shared_ptr<ClientPartition>> partition(PartitionId id) override {
    std::shared_ptr<Partition> p = topic_->partition(id);
    if (p == nullptr || topic_->deleted()) return NoPartition(name(), id);
    return std::make_shared<BrokerPartition>(std::move(p));
  }

 private:
  const std::shared_ptr<Topic> topic_;
};

class BrokerBackend final : public ClientBackend {
 public:
  explicit BrokerBackend(Broker& broker) : broker_(broker) {}

  Clock& clock() const override { return broker_.clock(); }
  Executor& executor() const override { return broker_.executor(); }
  LogSink& log_sink() const override { return broker_.log_sink(); }
  std::vector<std::string> ListTopics() const override { return broker_.ListTopics(); }

  absl::StatusOr<std::shared_ptr<ClientTopic>> GetTopic(std::string_view name,
                                                        bool auto_create) override {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Topic> topic, broker_.GetTopic(name, auto_create));
    return std::make_shared<BrokerTopic>(std::move(topic));
  }

  absl::StatusOr<ProducerId> InitProducerId() override { return broker_.InitProducerId(); }
  absl::StatusOr<TransactionCoordinator*> transaction_coordinator() override {
    return broker_.transaction_coordinator();
  }

  absl::StatusOr<std::shared_ptr<GroupCoordinator>> group_coordinator() override {
    return GroupCoordinator::ForBroker(broker_);
  }
  bool coordinators_answer_inline() const override { return true; }

 private:
  Broker& broker_;
};

// --- A cluster: every call goes to the partition's leader of the moment -----

class ClusterTopic;

class ClusterPartition final : public ClientPartition {
 public:
  ClusterPartition(Cluster& cluster, TopicPartition tp, std::shared_ptr<const ClusterTopic> topic)
      : ClientPartition(std::move(tp)), cluster_(cluster), topic_(std::move(topic)) {}

  ~ClusterPartition() override {
    std::lock_guard lock(mu_);
    SetWaiterLocked(nullptr, nullptr);
  }

  void Append(MutableByteView batch, Acks acks, int64_t timeout_ms, AppendCallback done) override {
    // The cluster routes by its own metadata, which is what this client's
    // cache would be.
    cluster_.Produce(topic_partition(), batch, acks, timeout_ms, std::move(done));
  }

  absl::StatusOr<LogReadResult> Read(Offset offset, std::vector<std::byte>& buffer,
                                     const LogReadOptions& options) override {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Partition> leader, Leader());
    // A new leader's high watermark may lag what it already holds (and what
    // its predecessor let consumers read): wait there, as Kafka's leader
    // answers such a fetch with no records rather than out of range.
    const Offset hw = leader->high_watermark();
    if (offset >= hw && offset <= leader->log_end_offset()) {
      LogReadResult empty;
      empty.next_offset = offset;
      empty.log_start_offset = leader->log_start_offset();
      empty.log_end_offset = leader->log_end_offset();
      return empty;
    }
    absl::StatusOr<LogReadResult> read = leader->Read(offset, buffer, options);
    if (!read.ok() && leader->closed()) return Moving("its leader closed during the read");
    return read;
  }

  absl::StatusOr<PartitionOffsets> Offsets() override {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Partition> leader, Leader());
    return PartitionOffsets{leader->log_start_offset(), leader->high_watermark(),
                            leader->log_end_offset(), leader->last_stable_offset()};
  }

  absl::StatusOr<std::vector<AbortedTransaction>> AbortedTransactions(Offset from,
                                                                      Offset to) override {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Partition> leader, Leader());
    return leader->AbortedTransactions(from, to);
  }

  absl::StatusOr<std::optional<TimestampAndOffset>> OffsetForTimestamp(
      int64_t timestamp_ms) override {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Partition> leader, Leader());
    return leader->OffsetForTimestamp(timestamp_ms);
  }

  void AddWaiter(DataWaiter* waiter) override {
    std::lock_guard lock(mu_);
    SetWaiterLocked(waiter, leader_);
  }
  void RemoveWaiter(DataWaiter* waiter) override {
    std::lock_guard lock(mu_);
    if (waiter_ == waiter) SetWaiterLocked(nullptr, nullptr);
  }

  bool deleted() const override;

 private:
  absl::Status Moving(std::string_view why) const {
    return MakeError(ErrorCode::kLeaderNotAvailable,
                     absl::StrCat(topic_partition().ToString(), ": ", internal::ToAbsl(why)));
  }

  // The leader's log, cached until the cluster's metadata version moves.
  // Also keeps the waiter on the leader's log, so that its appends and
  // high watermark moves wake the consumer.
  absl::StatusOr<std::shared_ptr<Partition>> Leader() {
    const uint64_t version = cluster_.metadata_version();
    std::lock_guard lock(mu_);
    if (leader_ != nullptr && version == version_ && !leader_->closed()) return leader_;
    // A topic created again under the name is another topic: never read
    // its leader for this one.
    absl::StatusOr<LeaderReplica> leader =
        deleted() ? MakeError(ErrorCode::kUnknownTopicOrPartition,
                              absl::StrCat(topic_partition().ToString(), " no longer exists"))
                  : cluster_.Leader(topic_partition());
    if (!leader.ok()) {
      leader_ = nullptr;
      SetWaiterLocked(waiter_, nullptr);
      return leader.status();
    }
    leader_ = std::move(leader->partition);
    version_ = version;
    SetWaiterLocked(waiter_, leader_);
    return leader_;
  }

  // Registers `waiter` with `log` (and with the cluster, for leader moves),
  // moving it from where it was.
  void SetWaiterLocked(DataWaiter* waiter, const std::shared_ptr<Partition>& log) {
    if (waiter_ != waiter) {
      if (waiter_ != nullptr) cluster_.RemoveMetadataWaiter(waiter_);
      if (waiter != nullptr) cluster_.AddMetadataWaiter(waiter);
    }
    const std::shared_ptr<Partition> target = waiter != nullptr ? log : nullptr;
    if (waiter_ != waiter || waiting_on_ != target) {
      if (waiting_on_ != nullptr) waiting_on_->RemoveWaiter(waiter_);
      if (target != nullptr) target->AddWaiter(waiter);
    }
    waiter_ = waiter;
    waiting_on_ = target;
  }

  Cluster& cluster_;
  const std::shared_ptr<const ClusterTopic> topic_;
  std::mutex mu_;
  std::shared_ptr<Partition> leader_;
  uint64_t version_ = 0;
  DataWaiter* waiter_ = nullptr;
  std::shared_ptr<Partition> waiting_on_;
};

class ClusterTopic final : public ClientTopic, public std::enable_shared_from_this<ClusterTopic> {
 public:
  ClusterTopic(Cluster& cluster, const TopicMetadata& topic, TopicSettings settings)
      : ClientTopic(topic.name, std::move(settings)),
        cluster_(cluster),
        id_(topic.id),
        version_(cluster.metadata_version()),
        partition_count_(static_cast<int32_t>(topic.partitions.size())) {}

  // Both are read on every Send: refreshed only when the metadata moved.
  int32_t partition_count() const override {
    Refresh();
    return partition_count_.load(std::memory_order_acquire);
  }
  bool deleted() const override {
    Refresh();
    return deleted_.load(std::memory_order_acquire);
  }

  absl::StatusOr<std::shared_ptr<ClientPartition>> partition(PartitionId id) override {
    if (id.value() < 0 || id.value() >= partition_count() || deleted()) {
      return NoPartition(name(), id);
    }
    return std::make_shared<ClusterPartition>(cluster_, TopicPartition(name(), id),
                                              shared_from_this());
  }

 private:
  void Refresh() const {
    const uint64_t version = cluster_.metadata_version();
    if (version == version_.load(std::memory_order_acquire)) return;
    std::lock_guard lock(mu_);
    if (version == version_.load(std::memory_order_relaxed)) return;
    absl::StatusOr<TopicMetadata> topic = cluster_.Describe(name());
    if (!topic.ok() || topic->id != id_) {
      deleted_.store(true, std::memory_order_release);
    } else {
      partition_count_.store(static_cast<int32_t>(topic->partitions.size()),
                             std::memory_order_release);
    }
    version_.store(version, std::memory_order_release);
  }

  Cluster& cluster_;
  const TopicId id_;
  mutable std::mutex mu_;
  mutable std::atomic<uint64_t> version_;
  mutable std::atomic<int32_t> partition_count_;
  mutable std::atomic<bool> deleted_{false};
};

bool ClusterPartition::deleted() const { return topic_->deleted(); }

class ClusterBackend final : public ClientBackend {
 public:
  explicit ClusterBackend(Cluster& cluster) : cluster_(cluster) {}

  Clock& clock() const override { return cluster_.clock(); }
  Executor& executor() const override { return cluster_.executor(); }
  LogSink& log_sink() const override { return cluster_.log_sink(); }
  std::vector<std::string> ListTopics() const override { return cluster_.ListTopics(); }

  absl::StatusOr<std::shared_ptr<ClientTopic>> GetTopic(std::string_view name,
                                                        bool /*auto_create*/) override {
    // Topics of a cluster are created through it (Cluster::CreateTopic):
    // like a Kafka cluster with auto.create.topics.enable=false.
    EVLOG_RETURN_IF_ERROR(ValidateTopicName(name));
    EVLOG_ASSIGN_OR_RETURN(TopicMetadata topic, cluster_.Describe(name));
    EVLOG_ASSIGN_OR_RETURN(TopicSettings settings, cluster_.Settings(name));
    return std::make_shared<ClusterTopic>(cluster_, topic, std::move(settings));
  }

  absl::StatusOr<ProducerId> InitProducerId() override { return cluster_.InitProducerId(); }
  absl::StatusOr<TransactionCoordinator*> transaction_coordinator() override {
    return cluster_.transaction_coordinator();
  }

  absl::StatusOr<std::shared_ptr<GroupCoordinator>> group_coordinator() override {
    return cluster_.group_coordinator();
  }
  bool coordinators_answer_inline() const override { return false; }

 private:
  Cluster& cluster_;
};

}  // namespace

std::unique_ptr<ClientBackend> MakeClientBackend(Broker& broker) {
  return std::make_unique<BrokerBackend>(broker);
}

std::unique_ptr<ClientBackend> MakeClientBackend(Cluster& cluster) {
  return std::make_unique<ClusterBackend>(cluster);
}

}  // namespace evlog
