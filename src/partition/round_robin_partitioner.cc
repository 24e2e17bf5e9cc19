#include "evlog/partition/round_robin_partitioner.h"

#include <atomic>
#include <cstdint>
#include <string_view>

#include "evlog/check.h"
#include "topic_table.h"

namespace evlog {
namespace {

struct TopicState {
  // 64 bits: at a billion records a second it wraps after 584 years, so
  // the wrap (which would break the exact rotation for partition counts
  // that are not powers of two) never happens.
  std::atomic<uint64_t> next{0};
};

}  // namespace

struct RoundRobinPartitioner::State {
  internal::TopicTable<TopicState> topics;
};

RoundRobinPartitioner::RoundRobinPartitioner() : state_(std::make_unique<State>()) {}
RoundRobinPartitioner::~RoundRobinPartitioner() = default;
RoundRobinPartitioner::RoundRobinPartitioner(RoundRobinPartitioner&&) noexcept = default;
RoundRobinPartitioner& RoundRobinPartitioner::operator=(RoundRobinPartitioner&&) noexcept = default;

PartitionId RoundRobinPartitioner::Partition(const PartitionRequest& request) {
  EVLOG_DCHECK(state_ != nullptr);
  EVLOG_DCHECK(request.partition_count > 0);
  TopicState& topic = state_->topics.Get(
      request.topic, [](std::string_view) { return std::make_unique<TopicState>(); });
  const uint64_t position = topic.next.fetch_add(1, std::memory_order_relaxed);
  return PartitionId(
      static_cast<int32_t>(position % static_cast<uint64_t>(request.partition_count)));
}

}  // namespace evlog
