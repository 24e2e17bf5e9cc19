// Consumer-group assignor benchmarks: the time one Assign() takes for a
// group of 100 members and 1,000 partitions (10 topics x 100), the size the
// ConsumerGroup issue sets as its rebalance benchmark.
//
//   build/<dir>/bench/evlog_group_bench
//   build/<dir>/bench/evlog_group_bench --benchmark_filter=Sticky
//
// Scenarios, for each assignor:
//   Fresh        nobody owns anything (a group forming).
//   Join         100 members own the sticky assignment of generation 1 and
//                one more member joins (101 members): the sticky policies
//                keep what they can and move the least.
// each with equal subscriptions (every member on all 10 topics: Kafka's
// fast path for sticky) and unequal ones (each member on a seeded random 5
// of the 10 topics: the general sticky path). Range and roundrobin ignore
// ownership, so their Join rows only differ by the extra member.
//
// Each row reports the time per Assign() and, as counters, the members and
// partitions. Requests are built once, outside the timed loop.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "evlog/check.h"
#include "evlog/group/assignor.h"
#include "evlog/group/cooperative_sticky_assignor.h"
#include "evlog/group/range_assignor.h"
#include "evlog/group/round_robin_assignor.h"
#include "evlog/group/sticky_assignor.h"

namespace evlog {
namespace {

constexpr int kMembers = 100;
constexpr int kTopics = 10;
constexpr int32_t kPartitionsPerTopic = 100;
constexpr int kTopicsPerMemberUnequal = 5;

AssignmentRequest Group(bool equal_subscriptions) {
  AssignmentRequest request;
  std::vector<std::string> topics;
  for (int t = 0; t < kTopics; ++t) {
    topics.push_back("topic-" + std::to_string(t));
    request.partitions_per_topic[topics.back()] = kPartitionsPerTopic;
  }
  std::mt19937 rng(42);
  for (int m = 0; m < kMembers; ++m) {
    MemberSubscription member;
    member.member_id = "consumer-" + std::to_string(m) + "-5f0c2a7e-93b1-4c1d-8f6a-0b2d4e6f8a1c";
    member.topics = topics;
    if (!equal_subscriptions) {
      std::shuffle(member.topics.begin(), member.topics.end(), rng);
      member.topics.resize(kTopicsPerMemberUnequal);
    }
    request.members.push_back(std::move(member));
  }
  return request;
}

AssignmentRequest AfterJoin(bool equal_subscriptions) {
  AssignmentRequest request = Group(equal_subscriptions);
  absl::StatusOr<GroupAssignment> assignment = StickyAssignor().Assign(request);
  EVLOG_CHECK(assignment.ok());
  for (MemberSubscription& member : request.members) {
    member.owned_partitions = assignment->at(member.member_id);
    member.generation = Generation(1);
  }
  MemberSubscription joiner;
  joiner.member_id = "consumer-new";
  joiner.topics = request.members.front().topics;
  request.members.push_back(std::move(joiner));
  return request;
}

template <typename A>
void BM_Assign(benchmark::State& state, bool join, bool equal_subscriptions) {
  const AssignmentRequest request =
      join ? AfterJoin(equal_subscriptions) : Group(equal_subscriptions);
  const A assignor;
  for (auto _ : state) {
    absl::StatusOr<GroupAssignment> assignment = assignor.Assign(request);
    EVLOG_CHECK(assignment.ok());
    benchmark::DoNotOptimize(assignment);
  }
  // Items: partitions assigned. No bytes: an assignment computes no record
  // bytes.
  state.SetItemsProcessed(state.iterations() * kTopics * kPartitionsPerTopic);
  state.counters["members"] = static_cast<double>(request.members.size());
  state.counters["partitions"] = kTopics * kPartitionsPerTopic;
}

// BENCHMARK_CAPTURE pastes the function name into identifiers, so each
// assignor gets a plain function.
#define EVLOG_GROUP_BENCH(A)                                                                       \
  void BM_##A(benchmark::State& state, bool join, bool equal_subscriptions) {                      \
    BM_Assign<A>(state, join, equal_subscriptions);                                                \
  }                                                                                                \
  BENCHMARK_CAPTURE(BM_##A, Fresh_EqualSubscriptions, false, true)->Unit(benchmark::kMicrosecond); \
  BENCHMARK_CAPTURE(BM_##A, Join_EqualSubscriptions, true, true)->Unit(benchmark::kMicrosecond);   \
  BENCHMARK_CAPTURE(BM_##A, Fresh_UnequalSubscriptions, false, false)                              \
      ->Unit(benchmark::kMicrosecond);                                                             \
  BENCHMARK_CAPTURE(BM_##A, Join_UnequalSubscriptions, true, false)->Unit(benchmark::kMicrosecond)

EVLOG_GROUP_BENCH(RangeAssignor);
EVLOG_GROUP_BENCH(RoundRobinAssignor);
EVLOG_GROUP_BENCH(StickyAssignor);
EVLOG_GROUP_BENCH(CooperativeStickyAssignor);

}  // namespace
}  // namespace evlog
