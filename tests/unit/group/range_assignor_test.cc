#include "evlog/group/range_assignor.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "assignor_test_util.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::Member;
using testing::Parts;

GroupAssignment MustAssign(const AssignmentRequest& request) {
  absl::StatusOr<GroupAssignment> assignment = RangeAssignor().Assign(request);
  REQUIRE(assignment.ok());
  INFO(testing::Describe(*assignment));
  REQUIRE(testing::Violation(request, *assignment).empty());
  return *assignment;
}

TEST_CASE("range matches Kafka's javadoc example") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 3}, {"t1", 3}};
  request.members = {Member("C1", {"t0", "t1"}), Member("C0", {"t1", "t0"})};
  const GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("C0") == Parts("t0-0 t0-1 t1-0 t1-1"));
  CHECK(assignment.at("C1") == Parts("t0-2 t1-2"));
}

TEST_CASE("range gives the first members of each topic one partition more") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 8}};
  request.members = {Member("c", {"t0"}), Member("a", {"t0"}), Member("b", {"t0"})};
  const GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("a") == Parts("t0-0 t0-1 t0-2"));
  CHECK(assignment.at("b") == Parts("t0-3 t0-4 t0-5"));
  CHECK(assignment.at("c") == Parts("t0-6 t0-7"));
}

TEST_CASE("range splits each topic among its own subscribers") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 5}, {"t1", 3}};
  request.members = {Member("a", {"t0"}), Member("b", {"t0", "t1"}), Member("c", {"t1", "t0"})};
  const GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("a") == Parts("t0-0 t0-1"));
  CHECK(assignment.at("b") == Parts("t0-2 t0-3 t1-0 t1-1"));
  CHECK(assignment.at("c") == Parts("t0-4 t1-2"));
}

TEST_CASE("range orders static members by instance id ahead of dynamic members") {
  // Kafka's javadoc: after a rolling bounce C0 and C1 come back as C3 and
  // C2; with instance ids I0 and I1 they keep their partitions.
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 3}, {"t1", 3}};
  request.members = {Member("C3", {"t0", "t1"}, "", kNoGeneration, "I0"),
                     Member("C2", {"t0", "t1"}, "", kNoGeneration, "I1")};
  GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("C3") == Parts("t0-0 t0-1 t1-0 t1-1"));
  CHECK(assignment.at("C2") == Parts("t0-2 t1-2"));

  request.partitions_per_topic = {{"t0", 3}};
  request.members = {Member("a", {"t0"}), Member("z", {"t0"}, "", kNoGeneration, "x")};
  assignment = MustAssign(request);
  CHECK(assignment.at("z") == Parts("t0-0 t0-1"));
  CHECK(assignment.at("a") == Parts("t0-2"));
}

TEST_CASE("range ignores what members own") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 2}};
  request.members = {Member("a", {"t0"}, "t0-1", Generation(4)),
                     Member("b", {"t0"}, "t0-0", Generation(4))};
  const GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("a") == Parts("t0-0"));
  CHECK(assignment.at("b") == Parts("t0-1"));
}

TEST_CASE("range cuts every topic into contiguous ranges in member order") {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937 rng(seed);
    testing::RandomGroupOptions options;
    options.equal_subscriptions = false;
    const AssignmentRequest request = testing::RandomGroup(rng, options);
    const GroupAssignment assignment = MustAssign(request);
    for (const auto& [topic, count] : request.partitions_per_topic) {
      std::vector<const MemberSubscription*> subscribers;
      for (const MemberSubscription& member : request.members) {
        if (std::find(member.topics.begin(), member.topics.end(), topic) != member.topics.end()) {
          subscribers.push_back(&member);
        }
      }
      if (subscribers.empty()) continue;
      std::sort(subscribers.begin(), subscribers.end(),
                [](const MemberSubscription* a, const MemberSubscription* b) {
                  const bool sa = a->group_instance_id.has_value();
                  const bool sb = b->group_instance_id.has_value();
                  if (sa != sb) return sa;
                  if (sa) return *a->group_instance_id < *b->group_instance_id;
                  return a->member_id < b->member_id;
                });
      // Walk the subscribers in order: each holds the next contiguous run,
      // of size count/n or one more, the larger ones first.
      const auto n = static_cast<int32_t>(subscribers.size());
      int32_t next = 0;
      for (int32_t i = 0; i < n; ++i) {
        std::vector<int32_t> mine;
        for (const TopicPartition& tp :
             assignment.at(subscribers[static_cast<size_t>(i)]->member_id)) {
          if (tp.topic == topic) mine.push_back(tp.partition.value());
        }
        const int32_t expected = count / n + (i < count % n ? 1 : 0);
        REQUIRE(static_cast<int32_t>(mine.size()) == expected);
        for (int32_t p : mine) REQUIRE(p == next++);
      }
      REQUIRE(next == count);
    }
  }
}

}  // namespace
}  // namespace evlog
