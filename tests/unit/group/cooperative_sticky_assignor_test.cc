#include "evlog/group/cooperative_sticky_assignor.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "assignor_test_util.h"
#include "evlog/group/sticky_assignor.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::Member;
using testing::Parts;

// One cooperative rebalance: the assignment, checked valid with partitions
// possibly left out.
GroupAssignment Round(const AssignmentRequest& request) {
  absl::StatusOr<GroupAssignment> assignment = CooperativeStickyAssignor().Assign(request);
  REQUIRE(assignment.ok());
  INFO(testing::Describe(*assignment));
  REQUIRE(testing::Violation(request, *assignment, /*may_leave_out=*/true).empty());
  return *assignment;
}

// "" when no member is given a partition that another member owned before
// the round (listed it in owned_partitions), i.e. when members revoking
// what they lost and taking what they got never share a partition.
std::string SharedPartition(const AssignmentRequest& before, const GroupAssignment& assignment) {
  const std::map<TopicPartition, std::vector<std::string>> owners = testing::Owners(before);
  for (const auto& [id, parts] : assignment) {
    for (const TopicPartition& tp : parts) {
      auto it = owners.find(tp);
      if (it == owners.end()) continue;
      for (const std::string& owner : it->second) {
        if (owner != id) return tp.ToString() + " given to " + id + " while " + owner + " owns it";
      }
    }
  }
  return "";
}

bool Contains(const std::vector<TopicPartition>& outer, const std::vector<TopicPartition>& inner) {
  return std::includes(outer.begin(), outer.end(), inner.begin(), inner.end());
}

TEST_CASE("cooperative-sticky hands over moved partitions in a second round (worked example)") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 6}};
  request.members = {Member("C0", {"t0"}, "t0-0 t0-1 t0-2", Generation(7)),
                     Member("C1", {"t0"}, "t0-3 t0-4 t0-5", Generation(7)), Member("C2", {"t0"})};
  const GroupAssignment first = Round(request);
  CHECK(first.at("C0") == Parts("t0-0 t0-1"));
  CHECK(first.at("C1") == Parts("t0-3 t0-4"));
  CHECK(first.at("C2").empty());

  testing::Adopt(request, first, Generation(8));
  const GroupAssignment second = Round(request);
  CHECK(second.at("C0") == Parts("t0-0 t0-1"));
  CHECK(second.at("C1") == Parts("t0-3 t0-4"));
  CHECK(second.at("C2") == Parts("t0-2 t0-5"));
}

TEST_CASE("cooperative-sticky assigns everything at once when nobody owns anything") {
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937 rng(seed);
    testing::RandomGroupOptions options;
    options.equal_subscriptions = seed % 2 == 0;
    const AssignmentRequest request = testing::RandomGroup(rng, options);
    const GroupAssignment assignment = Round(request);
    REQUIRE(testing::Violation(request, assignment).empty());
    REQUIRE(assignment == *StickyAssignor().Assign(request));
  }
}

TEST_CASE("cooperative-sticky reaches the balanced sticky assignment in two safe rounds") {
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937 rng(seed);
    AssignmentRequest start = testing::RandomGroup(rng, testing::RandomGroupOptions{});
    testing::OwnRandomly(rng, start, Generation(10));
    if (seed % 3 == 0) start.members.push_back(Member("joiner", start.members.front().topics));

    const GroupAssignment first = Round(start);
    REQUIRE(SharedPartition(start, first).empty());

    AssignmentRequest after_first = start;
    testing::Adopt(after_first, first, Generation(11));
    const GroupAssignment second = Round(after_first);
    REQUIRE(SharedPartition(after_first, second).empty());
    REQUIRE(testing::Violation(after_first, second).empty());
    REQUIRE(testing::Spread(second) <= 1);
    for (const auto& [id, parts] : first) REQUIRE(Contains(second.at(id), parts));
    // Over both rounds, only what balance forced changed owner.
    REQUIRE(testing::MovedPartitions(start, second) == testing::ForcedMoves(start));

    AssignmentRequest after_second = after_first;
    testing::Adopt(after_second, second, Generation(12));
    REQUIRE(Round(after_second) == second);
  }
}

TEST_CASE("cooperative-sticky with unequal subscriptions converges in safe rounds") {
  constexpr int kMaxRounds = 4;  // two expected; a few more allowed for chains
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937 rng(seed);
    testing::RandomGroupOptions options;
    options.equal_subscriptions = false;
    AssignmentRequest request = testing::RandomGroup(rng, options);
    testing::OwnRandomly(rng, request, Generation(1));
    GroupAssignment current;
    int rounds = 0;
    for (;;) {
      const GroupAssignment next = Round(request);
      REQUIRE(SharedPartition(request, next).empty());
      ++rounds;
      if (rounds > 1 && next == current) break;
      REQUIRE(rounds <= kMaxRounds);
      current = next;
      testing::Adopt(request, current, Generation(1 + rounds));
    }
    REQUIRE(testing::Violation(request, current).empty());
    REQUIRE(testing::ImprovingChain(request, current).empty());
  }
}

TEST_CASE(
    "cooperative-sticky leaves out for a round a partition two members claim in one generation") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 3}};
  request.members = {Member("A", {"t0"}, "", Generation(3)),
                     Member("B", {"t0"}, "t0-0", Generation(3)),
                     Member("C", {"t0"}, "t0-0", Generation(3))};
  const GroupAssignment first = Round(request);
  CHECK(first.at("A").empty());
  CHECK(first.at("B") == Parts("t0-1"));
  CHECK(first.at("C") == Parts("t0-2"));
  testing::Adopt(request, first, Generation(4));
  const GroupAssignment second = Round(request);
  CHECK(second.at("A") == Parts("t0-0"));
}

TEST_CASE("cooperative-sticky keeps a contested partition with the newest claim's member") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 2}};
  request.members = {Member("A", {"t0"}, "t0-0", Generation(5)),
                     Member("B", {"t0"}, "t0-0 t0-1", Generation(4))};
  const GroupAssignment first = Round(request);
  CHECK(first.at("A") == Parts("t0-0"));
  CHECK(first.at("B") == Parts("t0-1"));
}

TEST_CASE("cooperative-sticky waits for a member that unsubscribed to revoke before moving") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 2}, {"t1", 1}};
  request.members = {Member("A", {"t0"}, "t0-0 t1-0", Generation(5)),
                     Member("B", {"t0", "t1"}, "t0-1", Generation(5))};
  const GroupAssignment first = Round(request);
  // B is t1's only subscriber, but A may still be reading t1-0.
  CHECK(first.at("A") == Parts("t0-0"));
  CHECK(first.at("B") == Parts("t0-1"));
  testing::Adopt(request, first, Generation(6));
  const GroupAssignment second = Round(request);
  CHECK(second.at("B") == Parts("t0-1 t1-0"));
}

}  // namespace
}  // namespace evlog
