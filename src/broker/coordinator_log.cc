#include "evlog/broker/coordinator_log.h"

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "evlog/broker/broker.h"
#include "evlog/broker/cluster.h"
#include "evlog/status.h"
#include "evlog/storage/internal/scan_batches.h"

namespace evlog {
namespace {

class BrokerCoordinatorLog final : public CoordinatorLog {
 public:
  BrokerCoordinatorLog(Broker& broker, std::string_view topic) : broker_(broker), topic_(topic) {}

  const std::string& topic() const override { return topic_; }

  int32_t partition_count() const override {
    absl::StatusOr<std::shared_ptr<Topic>> topic = broker_.GetTopic(topic_);
    return topic.ok() ? (*topic)->partition_count() : 0;
  }

  absl::Status Create(int32_t partitions, const TopicConfig& config) override {
    NewTopic topic(partitions);
    topic.config = config;
    return broker_.CreateTopic(topic_, topic);
  }

  void Append(PartitionId partition, MutableByteView batch, const AppendOptions& options,
              AppendCallback done) override {
    absl::StatusOr<std::shared_ptr<Partition>> log = Find(partition);
    if (!log.ok()) {
      done(log.status());
      return;
    }
    done((*log)->Append(batch, options));
  }

  absl::Status Scan(PartitionId partition, const BatchVisitor& visit) override {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Partition> log, Find(partition));
    return internal::ScanBatches(*log, log->log_start_offset(), log->high_watermark(), visit);
  }

  Clock& clock() const override { return broker_.clock(); }
  Executor& executor() const override { return broker_.executor(); }
  LogSink& log_sink() const override { return broker_.log_sink(); }

 private:
  // The broker's lookup takes its topic lock; the partitions of an
  // internal topic never change once there, so they are kept.
  absl::StatusOr<std::shared_ptr<Partition>> Find(PartitionId partition) {
    const auto index = static_cast<size_t>(partition.value());
    {
      std::lock_guard lock(mu_);
      if (partition.value() >= 0 && index < partitions_.size()) return partitions_[index];
    }
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Topic> topic, broker_.GetTopic(topic_));
    std::vector<std::shared_ptr<Partition>> partitions = topic->partitions();
    if (partition.value() < 0 || index >= partitions.size()) {
      return MakeError(ErrorCode::kUnknownTopicOrPartition,
                       absl::StrCat(topic_, "-", partition.value(), " does not exist"));
    }
    std::shared_ptr<Partition> found = partitions[index];
    std::lock_guard lock(mu_);
    partitions_ = std::move(partitions);
    return found;
  }

  Broker& broker_;
  const std::string topic_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Partition>> partitions_;
};

class ClusterCoordinatorLog final : public CoordinatorLog {
 public:
  ClusterCoordinatorLog(Cluster& cluster, std::string_view topic, int16_t replication_factor,
                        int64_t timeout_ms)
      : cluster_(cluster),
        topic_(topic),
        replication_factor_(replication_factor),
        timeout_ms_(timeout_ms) {}

  const std::string& topic() const override { return topic_; }

  int32_t partition_count() const override {
    absl::StatusOr<TopicMetadata> topic = cluster_.Describe(topic_);
    return topic.ok() ? static_cast<int32_t>(topic->partitions.size()) : 0;
  }

  absl::Status Create(int32_t partitions, const TopicConfig& config) override {
    int16_t factor = replication_factor_;
    if (factor < 1) factor = static_cast<int16_t>(std::min(3, cluster_.options().brokers));
    NewTopic topic(partitions, factor);
    topic.config = config;
    absl::Status created = cluster_.CreateTopic(topic_, topic).status();
    if (HasErrorCode(created, ErrorCode::kInvalidReplicationFactor)) {
      // Too few brokers up for now: Kafka's coordinators answer
      // COORDINATOR_NOT_AVAILABLE until enough are.
      return MakeError(ErrorCode::kCoordinatorNotAvailable,
                       absl::StrCat("creating ", topic_, ": ", created.message()));
    }
    return created;
  }

  void Append(PartitionId partition, MutableByteView batch, const AppendOptions& options,
              AppendCallback done) override {
    cluster_.Produce(TopicPartition(topic_, partition), batch, Acks::kAll, timeout_ms_,
                     std::move(done), options.origin);
  }

  absl::Status Scan(PartitionId partition, const BatchVisitor& visit) override {
    const TopicPartition tp(topic_, partition);
    absl::StatusOr<LeaderReplica> leader = cluster_.Leader(tp);
    if (!leader.ok()) {
      if (HasErrorCode(leader.status(), ErrorCode::kLeaderNotAvailable) ||
          HasErrorCode(leader.status(), ErrorCode::kNotLeaderOrFollower)) {
        return MakeError(
            ErrorCode::kCoordinatorLoadInProgress,
            absl::StrCat(tp.ToString(), " cannot be loaded yet: ", leader.status().message()));
      }
      return leader.status();
    }
    Partition& log = *leader->partition;
    const Offset end = log.log_end_offset();
    if (log.high_watermark() < end) {
      // What the new leader holds above its high watermark commits once
      // its followers have it; loaded earlier, it could still be
      // truncated away by a further failover.
      return MakeError(ErrorCode::kCoordinatorLoadInProgress,
                       absl::StrCat(tp.ToString(), " has uncommitted records (high watermark ",
                                    log.high_watermark().value(), ", log end ", end.value(), ")"));
    }
    return internal::ScanBatches(log, log.log_start_offset(), end, visit);
  }

  Clock& clock() const override { return cluster_.clock(); }
  Executor& executor() const override { return cluster_.executor(); }
  LogSink& log_sink() const override { return cluster_.log_sink(); }

 private:
  Cluster& cluster_;
  const std::string topic_;
  const int16_t replication_factor_;
  const int64_t timeout_ms_;
};

}  // namespace

std::unique_ptr<CoordinatorLog> MakeCoordinatorLog(Broker& broker, std::string_view topic) {
  return std::make_unique<BrokerCoordinatorLog>(broker, topic);
}

std::unique_ptr<CoordinatorLog> MakeCoordinatorLog(Cluster& cluster, std::string_view topic,
                                                   int16_t replication_factor, int64_t timeout_ms) {
  return std::make_unique<ClusterCoordinatorLog>(cluster, topic, replication_factor, timeout_ms);
}

}  // namespace evlog
