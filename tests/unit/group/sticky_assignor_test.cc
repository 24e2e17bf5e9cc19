#include "evlog/group/sticky_assignor.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "assignor_test_util.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::Member;
using testing::Parts;

GroupAssignment MustAssign(const AssignmentRequest& request) {
  absl::StatusOr<GroupAssignment> assignment = StickyAssignor().Assign(request);
  REQUIRE(assignment.ok());
  INFO(testing::Describe(*assignment));
  REQUIRE(testing::Violation(request, *assignment).empty());
  return *assignment;
}

// Every member keeps as many of its (valid) owned partitions as its new
// count allows; "" or the first member that does not.
std::string LostMoreThanNeeded(const AssignmentRequest& request,
                               const GroupAssignment& assignment) {
  for (const auto& [id, owned] : testing::ValidOwned(request)) {
    const std::vector<TopicPartition>& now = assignment.at(id);
    size_t kept = 0;
    for (const TopicPartition& tp : now) kept += owned.count(tp);
    if (kept != std::min(owned.size(), now.size())) return id;
  }
  return "";
}

// Kafka's stickiness check: no two partitions of one topic moved in
// opposite directions between the same two members.
std::string OppositeMoves(const AssignmentRequest& request, const GroupAssignment& assignment) {
  std::map<TopicPartition, std::string> before;
  for (const auto& [id, owned] : testing::ValidOwned(request)) {
    for (const TopicPartition& tp : owned) before[tp] = id;
  }
  std::set<std::tuple<std::string, std::string, std::string>> moves;  // topic, from, to
  for (const auto& [id, parts] : assignment) {
    for (const TopicPartition& tp : parts) {
      auto it = before.find(tp);
      if (it != before.end() && it->second != id) moves.emplace(tp.topic, it->second, id);
    }
  }
  for (const auto& [topic, from, to] : moves) {
    if (moves.count({topic, to, from}) != 0) return topic + " between " + from + " and " + to;
  }
  return "";
}

TEST_CASE("sticky moves two partitions when a third member joins two (worked example)") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 6}};
  request.members = {Member("C0", {"t0"}, "t0-0 t0-1 t0-2", Generation(7)),
                     Member("C1", {"t0"}, "t0-3 t0-4 t0-5", Generation(7)), Member("C2", {"t0"})};
  const GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("C0") == Parts("t0-0 t0-1"));
  CHECK(assignment.at("C1") == Parts("t0-3 t0-4"));
  CHECK(assignment.at("C2") == Parts("t0-2 t0-5"));
}

TEST_CASE("sticky deals a fresh group's partitions round robin across topics") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 3}, {"t1", 3}};
  request.members = {Member("b", {"t0", "t1"}), Member("a", {"t0", "t1"})};
  const GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("a") == Parts("t0-0 t0-2 t1-1"));
  CHECK(assignment.at("b") == Parts("t0-1 t1-0 t1-2"));
}

TEST_CASE("sticky gives a contested partition to the claim of the newest generation") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 2}};
  request.members = {Member("A", {"t0"}, "t0-0", Generation(5)),
                     Member("B", {"t0"}, "t0-0 t0-1", Generation(4))};
  GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("A") == Parts("t0-0"));
  CHECK(assignment.at("B") == Parts("t0-1"));

  // The same claims with the generations swapped: B owns both, keeps the
  // lower one, and A gets the other.
  request.members[0].generation = Generation(4);
  request.members[1].generation = Generation(5);
  assignment = MustAssign(request);
  CHECK(assignment.at("A") == Parts("t0-1"));
  CHECK(assignment.at("B") == Parts("t0-0"));
}

TEST_CASE("sticky treats a partition two members claim in the same generation as unowned") {
  // Were B's or C's claim honoured, A would get t0-1.
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 3}};
  request.members = {Member("A", {"t0"}, "", Generation(3)),
                     Member("B", {"t0"}, "t0-0", Generation(3)),
                     Member("C", {"t0"}, "t0-0", Generation(3))};
  const GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("A") == Parts("t0-0"));
  CHECK(assignment.at("B") == Parts("t0-1"));
  CHECK(assignment.at("C") == Parts("t0-2"));
}

TEST_CASE("sticky with equal subscriptions balances and moves only what balance forces") {
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937 rng(seed);
    AssignmentRequest request = testing::RandomGroup(rng, testing::RandomGroupOptions{});
    testing::OwnRandomly(rng, request, Generation(static_cast<int32_t>(seed)));
    const GroupAssignment assignment = MustAssign(request);
    REQUIRE(testing::Spread(assignment) <= 1);
    REQUIRE(testing::MovedPartitions(request, assignment) == testing::ForcedMoves(request));
    REQUIRE(LostMoreThanNeeded(request, assignment).empty());
  }
}

TEST_CASE("sticky moves only what balance forces when a member joins or leaves") {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937 rng(seed);
    AssignmentRequest request = testing::RandomGroup(rng, testing::RandomGroupOptions{});
    testing::Adopt(request, MustAssign(request), Generation(1));
    if (seed % 2 == 0 && request.members.size() > 1) {
      request.members.erase(request.members.begin() +
                            static_cast<std::ptrdiff_t>(seed % request.members.size()));
    } else {
      request.members.push_back(Member("joiner", request.members.front().topics));
    }
    const GroupAssignment assignment = MustAssign(request);
    REQUIRE(testing::Spread(assignment) <= 1);
    REQUIRE(testing::MovedPartitions(request, assignment) == testing::ForcedMoves(request));
    REQUIRE(LostMoreThanNeeded(request, assignment).empty());
  }
}

TEST_CASE("sticky changes nothing when the group does not change") {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937 rng(seed);
    testing::RandomGroupOptions options;
    options.equal_subscriptions = seed % 2 == 0;
    AssignmentRequest request = testing::RandomGroup(rng, options);
    testing::OwnRandomly(rng, request, Generation(1));
    const GroupAssignment first = MustAssign(request);
    testing::Adopt(request, first, Generation(2));
    REQUIRE(MustAssign(request) == first);
  }
}

TEST_CASE("sticky with unequal subscriptions leaves no chain of moves that would balance better") {
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937 rng(seed);
    testing::RandomGroupOptions options;
    options.equal_subscriptions = false;
    AssignmentRequest request = testing::RandomGroup(rng, options);
    if (seed % 3 != 0) testing::OwnRandomly(rng, request, Generation(1));
    const GroupAssignment assignment = MustAssign(request);
    const std::string chain = testing::ImprovingChain(request, assignment);
    INFO(testing::Describe(assignment));
    REQUIRE(chain.empty());
    REQUIRE(OppositeMoves(request, assignment).empty());
  }
}

TEST_CASE("sticky hands over partitions of a topic a member unsubscribed from") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 2}, {"t1", 2}};
  request.members = {Member("A", {"t0"}, "t0-0 t1-0 t1-1", Generation(2)),
                     Member("B", {"t0", "t1"}, "t0-1", Generation(2))};
  const GroupAssignment assignment = MustAssign(request);
  CHECK(testing::ImprovingChain(request, assignment).empty());
  // B must take t1; balance then wants A to hold both of t0.
  CHECK(assignment.at("A") == Parts("t0-0 t0-1"));
  CHECK(assignment.at("B") == Parts("t1-0 t1-1"));
}

TEST_CASE("sticky balances through a chain of members when no direct move helps") {
  // A holds 3 of t0, only B shares t0 with A; B holds 3 of t1 and C shares
  // t1 with B only. Balance needs A -> B (t0) and B -> C (t1).
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 4}, {"t1", 2}};
  request.members = {Member("A", {"t0"}, "t0-0 t0-1 t0-2 t0-3", Generation(1)),
                     Member("B", {"t0", "t1"}, "t1-0 t1-1", Generation(1)),
                     Member("C", {"t1"}, "", Generation(1))};
  const GroupAssignment assignment = MustAssign(request);
  CHECK(testing::Counts(assignment) ==
        std::map<std::string, int64_t>{{"A", 2}, {"B", 2}, {"C", 2}});
  CHECK(assignment.at("A") == Parts("t0-0 t0-1"));
  CHECK(assignment.at("C") == Parts("t1-0 t1-1"));
}

}  // namespace
}  // namespace evlog
