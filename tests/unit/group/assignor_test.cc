#include "evlog/group/assignor.h"

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "assignor_test_util.h"
#include "evlog/group/cooperative_sticky_assignor.h"
#include "evlog/group/range_assignor.h"
#include "evlog/group/round_robin_assignor.h"
#include "evlog/group/sticky_assignor.h"
#include "evlog/status.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::Member;
using testing::Parts;
using testing::Violation;

std::vector<AnyAssignor> AllAssignors() {
  return {RangeAssignor(), RoundRobinAssignor(), StickyAssignor(), CooperativeStickyAssignor()};
}

// A user's policy: everything to the member that sorts first, counting calls.
struct AllToFirst {
  std::shared_ptr<int> calls = std::make_shared<int>(0);
  std::string_view name() const { return "all-to-first"; }
  std::vector<RebalanceProtocol> supported_protocols() const {
    return {RebalanceProtocol::kCooperative};
  }
  absl::StatusOr<GroupAssignment> Assign(const AssignmentRequest& request) const {
    ++*calls;
    GroupAssignment assignment;
    for (const MemberSubscription& member : request.members) assignment[member.member_id];
    for (const auto& [topic, count] : request.partitions_per_topic) {
      for (int32_t p = 0; p < count; ++p) assignment.begin()->second.emplace_back(topic, p);
    }
    return assignment;
  }
};

TEST_CASE("RebalanceProtocolName names the protocols as Kafka does") {
  CHECK(RebalanceProtocolName(RebalanceProtocol::kEager) == "EAGER");
  CHECK(RebalanceProtocolName(RebalanceProtocol::kCooperative) == "COOPERATIVE");
}

TEST_CASE("the assignors have Kafka's names and protocols") {
  using P = RebalanceProtocol;
  CHECK(RangeAssignor().name() == "range");
  CHECK(RoundRobinAssignor().name() == "roundrobin");
  CHECK(StickyAssignor().name() == "sticky");
  CHECK(CooperativeStickyAssignor().name() == "cooperative-sticky");
  CHECK(RangeAssignor().supported_protocols() == std::vector<P>{P::kEager});
  CHECK(RoundRobinAssignor().supported_protocols() == std::vector<P>{P::kEager});
  CHECK(StickyAssignor().supported_protocols() == std::vector<P>{P::kEager});
  CHECK(CooperativeStickyAssignor().supported_protocols() ==
        std::vector<P>{P::kCooperative, P::kEager});
  CHECK(SupportsProtocol(CooperativeStickyAssignor(), P::kCooperative));
  CHECK_FALSE(SupportsProtocol(StickyAssignor(), P::kCooperative));
}

TEST_CASE("a default AnyAssignor is cooperative-sticky") {
  AnyAssignor assignor;
  CHECK(assignor.name() == "cooperative-sticky");
  CHECK(SupportsProtocol(assignor, RebalanceProtocol::kCooperative));
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 4}};
  request.members = {Member("a", {"t0"}, "t0-0 t0-1 t0-2 t0-3", Generation(3)),
                     Member("b", {"t0"})};
  absl::StatusOr<GroupAssignment> assignment = assignor.Assign(request);
  REQUIRE(assignment.ok());
  // Cooperative: b gets nothing until a has revoked the two it gives up.
  CHECK(assignment->at("a") == Parts("t0-0 t0-1"));
  CHECK(assignment->at("b").empty());
}

TEST_CASE("AnyAssignor holds a user's assignor and copies share it") {
  AllToFirst policy;
  AnyAssignor assignor(policy);
  AnyAssignor copy = assignor;
  CHECK(copy.name() == "all-to-first");
  CHECK(copy.supported_protocols() ==
        std::vector<RebalanceProtocol>{RebalanceProtocol::kCooperative});
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 2}};
  request.members = {Member("b", {"t0"}), Member("a", {"t0"})};
  absl::StatusOr<GroupAssignment> assignment = copy.Assign(request);
  REQUIRE(assignment.ok());
  CHECK(assignment->at("a") == Parts("t0-0 t0-1"));
  CHECK(*policy.calls == 1);

  auto shared = std::make_shared<const AllToFirst>();
  AnyAssignor sharing(shared);
  REQUIRE(sharing.Assign(request).ok());
  CHECK(*shared->calls == 1);
}

TEST_CASE("every assignor rejects an empty or repeated member id") {
  AssignmentRequest repeated;
  repeated.partitions_per_topic = {{"t0", 3}};
  repeated.members = {Member("a", {"t0"}), Member("b", {"t0"}), Member("a", {"t0"})};
  AssignmentRequest empty;
  empty.partitions_per_topic = {{"t0", 3}};
  empty.members = {Member("", {"t0"})};
  for (const AnyAssignor& assignor : AllAssignors()) {
    INFO(assignor.name());
    absl::StatusOr<GroupAssignment> a = assignor.Assign(repeated);
    CHECK(HasErrorCode(a.status(), ErrorCode::kInvalidRequest));
    CHECK(a.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(HasErrorCode(assignor.Assign(empty).status(), ErrorCode::kInvalidRequest));
  }
}

TEST_CASE("every assignor rejects an empty or shared group instance id") {
  AssignmentRequest shared;
  shared.partitions_per_topic = {{"t0", 3}};
  shared.members = {Member("a", {"t0"}, "", kNoGeneration, "i1"),
                    Member("b", {"t0"}, "", kNoGeneration, "i1")};
  AssignmentRequest empty;
  empty.partitions_per_topic = {{"t0", 3}};
  empty.members = {Member("a", {"t0"}, "", kNoGeneration, "")};
  for (const AnyAssignor& assignor : AllAssignors()) {
    INFO(assignor.name());
    CHECK(HasErrorCode(assignor.Assign(shared).status(), ErrorCode::kInvalidRequest));
    CHECK(HasErrorCode(assignor.Assign(empty).status(), ErrorCode::kInvalidRequest));
  }
}

TEST_CASE("every assignor rejects a negative partition count") {
  AssignmentRequest request;
  // Even for a topic nobody subscribes to: the metadata itself is bad.
  request.partitions_per_topic = {{"t0", 3}, {"t1", -1}};
  request.members = {Member("a", {"t0"})};
  for (const AnyAssignor& assignor : AllAssignors()) {
    INFO(assignor.name());
    CHECK(HasErrorCode(assignor.Assign(request).status(), ErrorCode::kInvalidPartitions));
  }
}

TEST_CASE("every assignor rejects more subscribed partitions than the bound") {
  const auto half = static_cast<int32_t>(kMaxAssignedPartitions / 2);
  AssignmentRequest over;
  over.partitions_per_topic = {{"t0", half}, {"t1", half + 1}};
  over.members = {Member("a", {"t0", "t1"})};
  // Only subscribed topics count.
  AssignmentRequest unsubscribed_huge;
  unsubscribed_huge.partitions_per_topic = {{"t0", 3}, {"huge", INT32_MAX}};
  unsubscribed_huge.members = {Member("a", {"t0"})};
  for (const AnyAssignor& assignor : AllAssignors()) {
    INFO(assignor.name());
    CHECK(HasErrorCode(assignor.Assign(over).status(), ErrorCode::kInvalidRequest));
    absl::StatusOr<GroupAssignment> assignment = assignor.Assign(unsubscribed_huge);
    REQUIRE(assignment.ok());
    CHECK(assignment->at("a") == Parts("t0-0 t0-1 t0-2"));
  }
}

TEST_CASE("every assignor skips topics missing from the metadata and lists every member") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 2}, {"empty", 0}, {"nobody", 5}};
  request.members = {Member("a", {"t0", "missing"}), Member("b", {"missing", "empty"}),
                     Member("c", {})};
  for (const AnyAssignor& assignor : AllAssignors()) {
    INFO(assignor.name());
    absl::StatusOr<GroupAssignment> assignment = assignor.Assign(request);
    REQUIRE(assignment.ok());
    CHECK(Violation(request, *assignment).empty());
    CHECK(assignment->at("a") == Parts("t0-0 t0-1"));
    CHECK(assignment->at("b").empty());
    CHECK(assignment->at("c").empty());
  }
}

TEST_CASE("every assignor gives an empty group an empty assignment") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 2}};
  for (const AnyAssignor& assignor : AllAssignors()) {
    absl::StatusOr<GroupAssignment> assignment = assignor.Assign(request);
    REQUIRE(assignment.ok());
    CHECK(assignment->empty());
  }
}

TEST_CASE("every assignor assigns each partition once and only to subscribers") {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    testing::RandomGroupOptions options;
    options.equal_subscriptions = seed % 2 == 0;
    const AssignmentRequest request = testing::RandomGroup(rng, options);
    for (const AnyAssignor& assignor : AllAssignors()) {
      INFO("--seed=" << seed << " " << assignor.name());
      absl::StatusOr<GroupAssignment> assignment = assignor.Assign(request);
      REQUIRE(assignment.ok());
      const std::string violation = Violation(request, *assignment);
      INFO(testing::Describe(*assignment));
      REQUIRE(violation.empty());
    }
  }
}

TEST_CASE("every assignor ignores owned partitions of unknown topics or out of range") {
  AssignmentRequest request;
  request.partitions_per_topic = {{"t0", 2}};
  request.members = {Member("a", {"t0"}, "t0-5 gone-0", Generation(2)), Member("b", {"t0"})};
  request.members[0].owned_partitions.emplace_back("t0", -1);
  for (const AnyAssignor& assignor : AllAssignors()) {
    INFO(assignor.name());
    absl::StatusOr<GroupAssignment> assignment = assignor.Assign(request);
    REQUIRE(assignment.ok());
    CHECK(Violation(request, *assignment).empty());
  }
}

}  // namespace
}  // namespace evlog
