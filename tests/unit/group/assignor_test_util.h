// Helpers for the assignor tests: building requests, random groups, and
// checkers of the properties every assignment must have. The checkers are
// written independently of src/group (plain maps and sets, brute force) so
// they can catch the library's mistakes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "evlog/group/assignor.h"
#include "evlog/partition/topic_partition.h"

namespace evlog::testing {

// "t0-0 t0-1 t1-2" -> {t0-0, t0-1, t1-2}. The partition is after the last '-'.
inline std::vector<TopicPartition> Parts(std::string_view spec) {
  std::vector<TopicPartition> parts;
  std::istringstream in{std::string(spec)};
  std::string word;
  while (in >> word) {
    const size_t dash = word.rfind('-');
    parts.emplace_back(word.substr(0, dash), std::stoi(word.substr(dash + 1)));
  }
  return parts;
}

inline MemberSubscription Member(std::string id, std::vector<std::string> topics,
                                 std::string_view owned = "", Generation generation = kNoGeneration,
                                 std::optional<std::string> instance = std::nullopt) {
  MemberSubscription member;
  member.member_id = std::move(id);
  member.group_instance_id = std::move(instance);
  member.topics = std::move(topics);
  member.owned_partitions = Parts(owned);
  member.generation = generation;
  return member;
}

inline std::string Describe(const std::vector<TopicPartition>& parts) {
  std::string out = "[";
  for (const TopicPartition& tp : parts) out += (out.size() > 1 ? " " : "") + tp.ToString();
  return out + "]";
}

inline std::string Describe(const GroupAssignment& assignment) {
  std::string out;
  for (const auto& [member, parts] : assignment) out += member + ": " + Describe(parts) + "\n";
  return out;
}

// The partitions of every topic some member subscribes to and the metadata
// lists.
inline std::set<TopicPartition> SubscribedPartitions(const AssignmentRequest& request) {
  std::set<TopicPartition> all;
  for (const MemberSubscription& member : request.members) {
    for (const std::string& topic : member.topics) {
      auto it = request.partitions_per_topic.find(topic);
      if (it == request.partitions_per_topic.end()) continue;
      for (int32_t p = 0; p < it->second; ++p) all.emplace(topic, p);
    }
  }
  return all;
}

inline const MemberSubscription* FindMember(const AssignmentRequest& request, std::string_view id) {
  for (const MemberSubscription& member : request.members) {
    if (member.member_id == id) return &member;
  }
  return nullptr;
}

// The first broken rule of a valid assignment, or "" when there is none:
// exactly the request's members, lists sorted without duplicates, only
// partitions of known topics the member subscribes to, none twice, and
// (unless `may_leave_out`) every subscribed partition assigned.
inline std::string Violation(const AssignmentRequest& request, const GroupAssignment& assignment,
                             bool may_leave_out = false) {
  if (assignment.size() != request.members.size()) return "wrong number of members";
  const std::set<TopicPartition> subscribed = SubscribedPartitions(request);
  std::set<TopicPartition> seen;
  for (const auto& [id, parts] : assignment) {
    const MemberSubscription* member = FindMember(request, id);
    if (member == nullptr) return "unknown member " + id;
    if (!std::is_sorted(parts.begin(), parts.end())) return id + "'s list is not sorted";
    for (const TopicPartition& tp : parts) {
      if (subscribed.count(tp) == 0) return tp.ToString() + " is not a subscribed partition";
      if (std::find(member->topics.begin(), member->topics.end(), tp.topic) ==
          member->topics.end()) {
        return tp.ToString() + " went to " + id + ", not subscribed to its topic";
      }
      if (!seen.insert(tp).second) return tp.ToString() + " is assigned twice";
    }
  }
  if (!may_leave_out && seen.size() != subscribed.size()) return "a partition is not assigned";
  return "";
}

inline std::map<std::string, int64_t> Counts(const GroupAssignment& assignment) {
  std::map<std::string, int64_t> counts;
  for (const auto& [id, parts] : assignment) counts[id] = static_cast<int64_t>(parts.size());
  return counts;
}

inline int64_t Spread(const GroupAssignment& assignment) {
  int64_t low = INT64_MAX;
  int64_t high = 0;
  for (const auto& [id, parts] : assignment) {
    low = std::min(low, static_cast<int64_t>(parts.size()));
    high = std::max(high, static_cast<int64_t>(parts.size()));
  }
  return assignment.empty() ? 0 : high - low;
}

// "" when no chain of moves (x gives a partition to w subscribed to its
// topic, w gives one on, ...) leads from a member to one with at least two
// fewer partitions; otherwise the pair found. Brute force over every start.
inline std::string ImprovingChain(const AssignmentRequest& request,
                                  const GroupAssignment& assignment) {
  std::map<std::string, std::set<std::string>> reach;  // x -> direct targets
  for (const auto& [x, parts] : assignment) {
    for (const TopicPartition& tp : parts) {
      for (const MemberSubscription& w : request.members) {
        if (w.member_id == x) continue;
        if (std::find(w.topics.begin(), w.topics.end(), tp.topic) != w.topics.end()) {
          reach[x].insert(w.member_id);
        }
      }
    }
  }
  for (const auto& [start, parts] : assignment) {
    std::set<std::string> visited{start};
    std::vector<std::string> stack{start};
    while (!stack.empty()) {
      const std::string x = stack.back();
      stack.pop_back();
      if (assignment.at(x).size() + 2 <= parts.size()) return start + " -> ... -> " + x;
      for (const std::string& w : reach[x]) {
        if (visited.insert(w).second) stack.push_back(w);
      }
    }
  }
  return "";
}

// Ownership as the members report it: partition -> owners.
inline std::map<TopicPartition, std::vector<std::string>> Owners(const AssignmentRequest& request) {
  std::map<TopicPartition, std::vector<std::string>> owners;
  for (const MemberSubscription& member : request.members) {
    for (const TopicPartition& tp : member.owned_partitions) owners[tp].push_back(member.member_id);
  }
  return owners;
}

// For requests whose claims do not conflict: the partitions each member
// owns that it may keep (topic known and subscribed, partition in range).
inline std::map<std::string, std::set<TopicPartition>> ValidOwned(
    const AssignmentRequest& request) {
  const std::set<TopicPartition> subscribed = SubscribedPartitions(request);
  std::map<std::string, std::set<TopicPartition>> owned;
  for (const MemberSubscription& member : request.members) {
    std::set<TopicPartition>& mine = owned[member.member_id];
    for (const TopicPartition& tp : member.owned_partitions) {
      if (subscribed.count(tp) == 0) continue;
      if (std::find(member.topics.begin(), member.topics.end(), tp.topic) == member.topics.end()) {
        continue;
      }
      mine.insert(tp);
    }
  }
  return owned;
}

// Partitions some member validly owned that the assignment gives to
// another member.
inline int64_t MovedPartitions(const AssignmentRequest& request,
                               const GroupAssignment& assignment) {
  std::map<TopicPartition, std::string> new_owner;
  for (const auto& [id, parts] : assignment) {
    for (const TopicPartition& tp : parts) new_owner[tp] = id;
  }
  int64_t moved = 0;
  for (const auto& [id, owned] : ValidOwned(request)) {
    for (const TopicPartition& tp : owned) {
      auto it = new_owner.find(tp);
      if (it != new_owner.end() && it->second != id) ++moved;
    }
  }
  return moved;
}

// With equal subscriptions and non-conflicting claims: the fewest owned
// partitions that must change owner for the member counts to differ by at
// most one. Each member may keep floor(P/M), and P % M members one more;
// those slots go best to members that own more than floor(P/M).
inline int64_t ForcedMoves(const AssignmentRequest& request) {
  const auto total = static_cast<int64_t>(SubscribedPartitions(request).size());
  const auto members = static_cast<int64_t>(request.members.size());
  const int64_t min_quota = total / members;
  const int64_t extra_slots = total % members;
  int64_t excess = 0;
  int64_t above_min = 0;
  for (const auto& [id, owned] : ValidOwned(request)) {
    const auto has = static_cast<int64_t>(owned.size());
    excess += std::max<int64_t>(0, has - min_quota);
    if (has > min_quota) ++above_min;
  }
  return excess - std::min(extra_slots, above_min);
}

struct RandomGroupOptions {
  bool equal_subscriptions = true;
  int max_members = 10;
  int max_topics = 5;
  int max_partitions_per_topic = 12;
};

// A random group: topics t0.. with 0..max partitions (some members also
// subscribe to a topic missing from the metadata), members with random ids
// (so id order differs from creation order), some static, owning nothing.
inline AssignmentRequest RandomGroup(std::mt19937& rng, const RandomGroupOptions& options) {
  AssignmentRequest request;
  auto uniform = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int topics = uniform(1, options.max_topics);
  std::vector<std::string> names;
  for (int t = 0; t < topics; ++t) {
    names.push_back("t" + std::to_string(t));
    request.partitions_per_topic[names.back()] = uniform(0, options.max_partitions_per_topic);
  }
  const bool with_missing = uniform(0, 3) == 0;
  const int members = uniform(1, options.max_members);
  std::set<std::string> ids;
  while (static_cast<int>(ids.size()) < members)
    ids.insert("m" + std::to_string(uniform(100, 999)));
  int instance = 0;
  for (const std::string& id : ids) {
    MemberSubscription member;
    member.member_id = id;
    if (uniform(0, 2) == 0)
      member.group_instance_id =
          "i" + std::to_string(uniform(0, 9)) + "-" + std::to_string(instance++);
    if (options.equal_subscriptions) {
      member.topics = names;
    } else {
      for (const std::string& name : names) {
        if (uniform(0, 1) == 1) member.topics.push_back(name);
      }
      if (member.topics.empty())
        member.topics.push_back(names[static_cast<size_t>(uniform(0, topics - 1))]);
    }
    if (with_missing) member.topics.push_back("missing");
    std::shuffle(member.topics.begin(), member.topics.end(), rng);
    request.members.push_back(std::move(member));
  }
  std::shuffle(request.members.begin(), request.members.end(), rng);
  return request;
}

// Gives each subscribed partition, with probability 3/4, to a random member
// subscribed to its topic: a valid but arbitrarily unbalanced current
// ownership, all in `generation`.
inline void OwnRandomly(std::mt19937& rng, AssignmentRequest& request, Generation generation) {
  for (MemberSubscription& member : request.members) {
    member.owned_partitions.clear();
    member.generation = generation;
  }
  for (const TopicPartition& tp : SubscribedPartitions(request)) {
    if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) continue;
    std::vector<MemberSubscription*> subscribers;
    for (MemberSubscription& member : request.members) {
      if (std::find(member.topics.begin(), member.topics.end(), tp.topic) != member.topics.end()) {
        subscribers.push_back(&member);
      }
    }
    const auto pick = std::uniform_int_distribution<size_t>(0, subscribers.size() - 1)(rng);
    subscribers[pick]->owned_partitions.push_back(tp);
  }
}

// Each member now owns what `assignment` gave it, from `generation`.
inline void Adopt(AssignmentRequest& request, const GroupAssignment& assignment,
                  Generation generation) {
  for (MemberSubscription& member : request.members) {
    member.owned_partitions = assignment.at(member.member_id);
    member.generation = generation;
  }
}

}  // namespace evlog::testing
