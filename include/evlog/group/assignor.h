// evlog/group/assignor.h — who in a consumer group reads which partition.
//
// When a group rebalances, its coordinator collects every member's
// subscription and asks an Assignor to split the subscribed topics'
// partitions among the members. The policies, one header each, reproduce
// the Kafka Java client's assignors of the same name:
//
//   RangeAssignor              "range": per topic, contiguous ranges; the
//                              members that sort first get one extra.
//   RoundRobinAssignor         "roundrobin": all partitions dealt in turn.
//   StickyAssignor             "sticky": balanced, and keeps as many current
//                              ownerships as balance allows (eager protocol).
//   CooperativeStickyAssignor  "cooperative-sticky": the sticky target, but a
//                              partition changing hands is first only
//                              revoked, and handed over by the next
//                              rebalance (KIP-429). evlog's default.
//
// Example:
//
//   evlog::AssignmentRequest request;
//   request.partitions_per_topic = {{"orders", 6}};
//   request.members.push_back({.member_id = "c0", .topics = {"orders"}});
//   request.members.push_back({.member_id = "c1", .topics = {"orders"}});
//   evlog::AnyAssignor assignor;  // a CooperativeStickyAssignor
//   absl::StatusOr<evlog::GroupAssignment> assignment = assignor.Assign(request);
//   // (*assignment)["c0"] == {orders-0, orders-2, orders-4}, c1 gets the rest.
//
// A user's own policy is any type satisfying the `Assignor` concept below;
// wrap it in an AnyAssignor to hand it to a group.
//
// Rules every policy here follows (as Kafka's do):
//   * A topic some member subscribes to but `partitions_per_topic` does not
//     list (or lists with 0 partitions) is not assigned: its metadata is not
//     known yet, and the next rebalance picks it up.
//   * A partition goes only to a member subscribed to its topic, and every
//     partition of a subscribed, known topic goes to exactly one member
//     (CooperativeStickyAssignor: at most one, see its header).
//   * Members are told apart by member id; a static member
//     (group_instance_id, KIP-345) sorts by its instance id where the policy
//     depends on order, so it gets the same partitions back after a restart
//     under a new member id.
//   * Strings compare by bytes. Kafka's Java compares UTF-16 units, which
//     orders the same for the ASCII names Kafka allows for topics and the
//     member ids its clients generate.
//
// Thread-safety: every policy here is immutable; Assign() may be called
// concurrently on one object.
#pragma once

#include <concepts>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/check.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/types.h"

namespace evlog {

// How a group moves partitions between members when it rebalances.
enum class RebalanceProtocol : uint8_t {
  // Every member gives up all its partitions before the assignment, and
  // takes the new assignment as a whole: the group stops consuming for the
  // duration of the rebalance ("stop the world").
  kEager,
  // Members keep consuming what they own; an assignment only takes away a
  // partition (the member revokes it) or hands over one nobody owns, so a
  // partition moves over two rebalances and the rest keep flowing (KIP-429).
  kCooperative,
};

// "EAGER" or "COOPERATIVE", as Kafka's enum names them.
std::string_view RebalanceProtocolName(RebalanceProtocol protocol);

// The generation of a member that owns nothing from any generation (a new
// member), Kafka's DEFAULT_GENERATION.
inline constexpr Generation kNoGeneration{-1};

// What one member asks for when the group rebalances.
struct MemberSubscription {
  // The id the coordinator gave the member. REQUIRES non-empty and unique in
  // the group.
  std::string member_id;
  // A static member's group.instance.id (KIP-345); std::nullopt for a
  // dynamic member. REQUIRES non-empty and unique when set.
  std::optional<std::string> group_instance_id = std::nullopt;
  // The topics it subscribes to, in any order; duplicates are ignored.
  std::vector<std::string> topics = {};
  // The partitions it owns now: what the sticky policies try to keep with
  // it. Entries of unknown topics or beyond a topic's partition count are
  // ignored (a stale claim is not an error); so are duplicates.
  std::vector<TopicPartition> owned_partitions = {};
  // The generation in which it was assigned `owned_partitions`. When two
  // members claim one partition, the claim of the newer generation wins (the
  // older one is stale, e.g. from a member that missed a rebalance); when
  // the newest generation claiming it has two claimants, neither keeps it.
  // kNoGeneration when the member owns nothing.
  Generation generation = kNoGeneration;
};

// Everything an assignor looks at.
struct AssignmentRequest {
  // The members of the group, in any order.
  std::vector<MemberSubscription> members;
  // The number of partitions of each topic known to the cluster metadata
  // (>= 0); topics no member subscribes to are ignored.
  std::map<std::string, int32_t, std::less<>> partitions_per_topic;
};

// Member id -> the partitions it is assigned, sorted by (topic, partition).
// Every member of the request has an entry, possibly empty.
using GroupAssignment = std::map<std::string, std::vector<TopicPartition>, std::less<>>;

// Limits a request must stay within. Bounds with reasons: a group assignment
// is held in memory several times over while it is computed and then sent to
// every member, so a request beyond these is a bug in the caller, not a
// workload.
//
// Subscribed partitions: 2^24, over a thousand times the 10,000-partition
// node this library plans for; the sticky policies keep a few ints per
// partition.
inline constexpr int64_t kMaxAssignedPartitions = int64_t{1} << 24;

// An assignment policy.
//
//   name()                 Kafka's name of the policy, which members list in
//                          their JoinGroup and the group agrees on.
//   supported_protocols()  the rebalance protocols it can be used with, most
//                          preferred first. A group rebalances cooperatively
//                          only when the chosen policy lists kCooperative.
//   Assign(request)        the assignment for `request`: a pure function of
//                          the request, callable concurrently.
//
// Errors Assign() must report rather than assign around (each policy here
// returns these, with ErrorCode INVALID_REQUEST unless said otherwise):
//   * a member id that is empty or appears twice;
//   * a group_instance_id that is empty or held by two members;
//   * a negative partition count (INVALID_PARTITIONS);
//   * more than kMaxAssignedPartitions partitions of subscribed topics.
template <typename A>
concept Assignor = requires(const A& a, const AssignmentRequest& request) {
  { a.name() } -> std::convertible_to<std::string_view>;
  { a.supported_protocols() } -> std::convertible_to<std::vector<RebalanceProtocol>>;
  { a.Assign(request) } -> std::same_as<absl::StatusOr<GroupAssignment>>;
};

// Holds any Assignor behind one type, so a group and its configuration need
// no template parameter for it. Copies share the policy object. A
// default-constructed AnyAssignor holds a CooperativeStickyAssignor: it
// balances like "sticky" and never stops the whole group to rebalance. (The
// Java client defaults to "range", listing "cooperative-sticky" second only
// so that a group of existing consumers can switch later with one rolling
// bounce; evlog has no such installed base to stay compatible with.)
//
// A moved-from AnyAssignor holds nothing: assign to it or destroy it.
//
// Thread-safety: as thread-safe as the held policy (every policy here may be
// called concurrently).
class AnyAssignor {
 public:
  AnyAssignor();

  // Takes ownership of `policy`.
  template <Assignor A>
  requires(!std::same_as<std::remove_cvref_t<A>, AnyAssignor>)
      AnyAssignor(A policy)  // NOLINT(google-explicit-constructor): a policy is an AnyAssignor
      : AnyAssignor(std::make_shared<const A>(std::move(policy))) {}

  // Shares `policy` with the caller. REQUIRES: policy != nullptr.
  template <Assignor A>
  explicit AnyAssignor(std::shared_ptr<const A> policy)
      : name_(&CallName<A>),
        protocols_(&CallProtocols<A>),
        assign_(&CallAssign<A>),
        policy_(std::move(policy)) {
    EVLOG_CHECK(policy_ != nullptr);
  }

  // The held policy's name(), e.g. "cooperative-sticky". The view lives as
  // long as the policy.
  std::string_view name() const { return name_(policy_.get()); }

  // The held policy's supported_protocols(), most preferred first.
  std::vector<RebalanceProtocol> supported_protocols() const { return protocols_(policy_.get()); }

  // The held policy's Assign(request); see the Assignor concept for errors.
  [[nodiscard]] absl::StatusOr<GroupAssignment> Assign(const AssignmentRequest& request) const {
    return assign_(policy_.get(), request);
  }

 private:
  template <typename A>
  static std::string_view CallName(const void* policy) {
    return static_cast<const A*>(policy)->name();
  }
  template <typename A>
  static std::vector<RebalanceProtocol> CallProtocols(const void* policy) {
    return static_cast<const A*>(policy)->supported_protocols();
  }
  template <typename A>
  static absl::StatusOr<GroupAssignment> CallAssign(const void* policy,
                                                    const AssignmentRequest& request) {
    return static_cast<const A*>(policy)->Assign(request);
  }

  // Function pointers rather than a virtual base: policies need not derive
  // from anything (as AnyPartitioner).
  std::string_view (*name_)(const void*);
  std::vector<RebalanceProtocol> (*protocols_)(const void*);
  absl::StatusOr<GroupAssignment> (*assign_)(const void*, const AssignmentRequest&);
  std::shared_ptr<const void> policy_;
};

static_assert(Assignor<AnyAssignor>);

// True when `assignor` lists `protocol` among its supported protocols.
template <Assignor A>
bool SupportsProtocol(const A& assignor, RebalanceProtocol protocol) {
  for (RebalanceProtocol p : assignor.supported_protocols()) {
    if (p == protocol) return true;
  }
  return false;
}

}  // namespace evlog
