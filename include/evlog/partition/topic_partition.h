// evlog/partition/topic_partition.h — the name of one partition of a topic.
//
// A value type on its own so that layers which only name partitions (the
// group assignors, configuration) need not include the partition's log.
//
// Thread-safety: a value; no shared state.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/types.h"

namespace evlog {

// A (topic, partition) pair, ordered by topic then partition.
struct TopicPartition {
  TopicPartition() = default;
  TopicPartition(std::string topic_in, PartitionId partition_in)
      : topic(std::move(topic_in)), partition(partition_in) {}
  TopicPartition(std::string topic_in, int32_t partition_in)
      : topic(std::move(topic_in)), partition(partition_in) {}

  std::string topic;
  PartitionId partition{0};

  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
  friend bool operator==(const TopicPartition&, const TopicPartition&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const TopicPartition& tp) {
    return H::combine(std::move(h), tp.topic, tp.partition);
  }
  // "orders-2", the name of the partition's directory.
  std::string ToString() const { return absl::StrCat(topic, "-", partition.value()); }
};

}  // namespace evlog
