// evlog/partition/topic.h — a topic as a broker hosts it: a name, its
// settings and its partitions.
//
// The broker creates, grows and deletes topics; clients hold a
// shared_ptr<Topic> they looked up once and check deleted() before using
// it again, so the produce path does no map lookup per record.
//
// Thread-safety: every method is thread-safe. The partition list only
// grows (CreatePartitions), and a partition, once listed, stays at its
// index until the topic is deleted.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "evlog/partition/partition.h"
#include "evlog/partition/topic_config.h"
#include "evlog/types.h"

namespace evlog {

class Topic {
 public:
  Topic(std::string name, int16_t replication_factor, TopicConfig config, TopicSettings settings)
      : name_(std::move(name)),
        replication_factor_(replication_factor),
        config_(std::move(config)),
        settings_(std::move(settings)) {}
  Topic(const Topic&) = delete;
  Topic& operator=(const Topic&) = delete;

  const std::string& name() const { return name_; }
  int16_t replication_factor() const { return replication_factor_; }
  // The overrides the topic was created with.
  const TopicConfig& config() const { return config_; }
  // The broker's defaults with the overrides applied.
  const TopicSettings& settings() const { return settings_; }

  // Partitions listed so far; lock-free.
  int32_t partition_count() const { return partition_count_.load(std::memory_order_acquire); }
  // Partition `id`, or nullptr when out of range.
  std::shared_ptr<Partition> partition(PartitionId id) const {
    std::lock_guard lock(mu_);
    if (id.value() < 0 || static_cast<size_t>(id.value()) >= partitions_.size()) return nullptr;
    return partitions_[static_cast<size_t>(id.value())];
  }
  std::vector<std::shared_ptr<Partition>> partitions() const {
    std::lock_guard lock(mu_);
    return partitions_;
  }

  // True once the topic was deleted (its partitions are closed): drop the
  // pointer and look the name up again.
  bool deleted() const { return deleted_.load(std::memory_order_acquire); }

  // For the broker: appends partitions partition_count() and up, in order.
  void AddPartitions(std::vector<std::shared_ptr<Partition>> added) {
    std::lock_guard lock(mu_);
    for (auto& p : added) partitions_.push_back(std::move(p));
    partition_count_.store(static_cast<int32_t>(partitions_.size()), std::memory_order_release);
  }
  void MarkDeleted() { deleted_.store(true, std::memory_order_release); }

 private:
  const std::string name_;
  const int16_t replication_factor_;
  const TopicConfig config_;
  const TopicSettings settings_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Partition>> partitions_;
  std::atomic<int32_t> partition_count_{0};
  std::atomic<bool> deleted_{false};
};

}  // namespace evlog
