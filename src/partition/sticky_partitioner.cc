#include "evlog/partition/sticky_partitioner.h"

#include <algorithm>
#include <mutex>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "evlog/check.h"
#include "random.h"
#include "topic_table.h"

namespace evlog {
namespace {

struct TopicState {
  std::mutex mu;
  int32_t partition = -1;  // -1: none chosen yet
  size_t bytes = 0;        // counted on `partition` since it was chosen
  uint64_t draws = 0;      // SplitMix64 counter of this topic
};

}  // namespace

struct StickyPartitioner::State {
  uint64_t seed;
  internal::TopicTable<TopicState> topics;
};

StickyPartitioner::StickyPartitioner(size_t batch_size_bytes, uint64_t seed)
    : batch_size_bytes_(batch_size_bytes), state_(std::make_unique<State>()) {
  state_->seed = seed;
}

StickyPartitioner::~StickyPartitioner() = default;
StickyPartitioner::StickyPartitioner(StickyPartitioner&&) noexcept = default;
StickyPartitioner& StickyPartitioner::operator=(StickyPartitioner&&) noexcept = default;

PartitionId StickyPartitioner::Partition(const PartitionRequest& request) {
  EVLOG_DCHECK(state_ != nullptr);
  EVLOG_DCHECK(request.partition_count > 0);
  const auto n = static_cast<uint32_t>(request.partition_count);
  TopicState& topic = state_->topics.Get(request.topic, [this](std::string_view name) {
    auto s = std::make_unique<TopicState>();
    // Seeded per topic so that one topic's sequence does not depend on how
    // requests for other topics interleave with it.
    s->draws = state_->seed ^ XXH3_64bits(name.data(), name.size());
    return s;
  });

  std::lock_guard lock(topic.mu);
  auto draw = [&topic] { return internal::SplitMixMix(topic.draws += internal::kSplitMixGamma); };
  if (topic.partition < 0 || static_cast<uint32_t>(topic.partition) >= n) {
    topic.partition = static_cast<int32_t>(internal::DrawBelow(draw(), n));
    topic.bytes = 0;
  } else if (topic.bytes >= batch_size_bytes_) {
    // Never the same partition again: uniform over the n - 1 others.
    if (n > 1) {
      uint32_t next = internal::DrawBelow(draw(), n - 1);
      if (next >= static_cast<uint32_t>(topic.partition)) ++next;
      topic.partition = static_cast<int32_t>(next);
    }
    topic.bytes = 0;
  }
  topic.bytes += std::max<size_t>(request.record_bytes, 1);
  return PartitionId(topic.partition);
}

}  // namespace evlog
