#include "evlog/group/round_robin_assignor.h"

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
  absl::StatusOr<GroupAssignment> assignment = RoundRobinAssignor().Assign(request);
  REQUIRE(assignment.ok());
  INFO(testing::Describe(*assignment));
  REQUIRE(testing::Violation(request, *assignment).empty());
  return *assignment;
}

TEST_CASE("roundrobin matches Kafka's javadoc example with equal subscriptions") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 3}, {"t1", 3}};
  request.members = {Member("C1", {"t1", "t0"}), Member("C0", {"t0", "t1"})};
  const GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("C0") == Parts("t0-0 t0-2 t1-1"));
  CHECK(assignment.at("C1") == Parts("t0-1 t1-0 t1-2"));
}

TEST_CASE("roundrobin matches Kafka's javadoc example with unequal subscriptions") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 1}, {"t1", 2}, {"t2", 3}};
  request.members = {Member("C2", {"t0", "t1", "t2"}), Member("C0", {"t0"}),
                     Member("C1", {"t0", "t1"})};
  const GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("C0") == Parts("t0-0"));
  CHECK(assignment.at("C1") == Parts("t1-0"));
  CHECK(assignment.at("C2") == Parts("t1-1 t2-0 t2-1 t2-2"));
}

TEST_CASE("roundrobin deals to static members in instance id order") {
  // Kafka's javadoc: C0, C1, C2 came back as C5, C3, C4; with instance ids
  // I0, I1, I2 each gets what it had.
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 3}, {"t1", 3}};
  request.members = {Member("C5", {"t0", "t1"}, "", kNoGeneration, "I0"),
                     Member("C3", {"t0", "t1"}, "", kNoGeneration, "I1"),
                     Member("C4", {"t0", "t1"}, "", kNoGeneration, "I2")};
  GroupAssignment assignment = MustAssign(request);
  CHECK(assignment.at("C5") == Parts("t0-0 t1-0"));
  CHECK(assignment.at("C3") == Parts("t0-1 t1-1"));
  CHECK(assignment.at("C4") == Parts("t0-2 t1-2"));

  // Without instance ids the member ids decide, and everything shuffles.
  for (MemberSubscription& member : request.members) member.group_instance_id.reset();
  assignment = MustAssign(request);
  CHECK(assignment.at("C3") == Parts("t0-0 t1-0"));
  CHECK(assignment.at("C4") == Parts("t0-1 t1-1"));
  CHECK(assignment.at("C5") == Parts("t0-2 t1-2"));
}

TEST_CASE("roundrobin balances equal subscriptions within one partition") {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    INFO("--seed=" << seed);
    std::mt19937 rng(seed);
    const AssignmentRequest request = testing::RandomGroup(rng, testing::RandomGroupOptions{});
    const GroupAssignment assignment = MustAssign(request);
    REQUIRE(testing::Spread(assignment) <= 1);
  }
}

}  // namespace
}  // namespace evlog
