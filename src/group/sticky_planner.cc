// The sticky assignment shared by StickyAssignor and
// CooperativeStickyAssignor (see sticky_assignor.h for the contract).
#include "sticky_planner.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "evlog/check.h"

namespace evlog::internal {
namespace {

struct Claims {
  // Per partition: the claimant of the newest generation when it is the
  // only one of that generation and still subscribed to the topic.
  std::vector<int32_t> owner;
  // Per partition: some claimant, and whether there is another one.
  std::vector<int32_t> first_claimant;
  std::vector<bool> several_claimants;
};

Claims SettleClaims(const AssignmentModel& model) {
  const auto partitions = static_cast<size_t>(model.total_partitions);
  Claims claims;
  claims.owner.assign(partitions, kNoMember);
  claims.first_claimant.assign(partitions, kNoMember);
  claims.several_claimants.assign(partitions, false);
  std::vector<int32_t> newest(partitions, kNoMember);
  std::vector<Generation> newest_generation(partitions, Generation::Min());
  std::vector<bool> tied(partitions, false);
  for (int32_t m = 0; m < model.member_count(); ++m) {
    const MemberSubscription& member = *model.members[static_cast<size_t>(m)];
    for (const TopicPartition& tp : member.owned_partitions) {
      const int32_t index = model.PartitionIndex(tp);
      if (index < 0) continue;
      const auto p = static_cast<size_t>(index);
      if (claims.first_claimant[p] == kNoMember) {
        claims.first_claimant[p] = m;
      } else if (claims.first_claimant[p] != m) {
        claims.several_claimants[p] = true;
      }
      if (newest[p] == kNoMember || member.generation > newest_generation[p]) {
        newest[p] = m;
        newest_generation[p] = member.generation;
        tied[p] = false;
      } else if (member.generation == newest_generation[p] && newest[p] != m) {
        tied[p] = true;
      }
    }
  }
  for (size_t p = 0; p < partitions; ++p) {
    if (newest[p] == kNoMember || tied[p]) continue;
    if (!model.IsSubscribed(newest[p], model.partition_topic[p])) continue;
    claims.owner[p] = newest[p];
  }
  return claims;
}

// All members subscribe to all topics (Kafka's constrained fast path):
// quotas are known up front, so each member keeps what it owns up to its
// quota and the rest is dealt out.
std::vector<int32_t> EqualSubscriptionsTarget(const AssignmentModel& model,
                                              const std::vector<int32_t>& owner) {
  const int32_t members = model.member_count();
  const int32_t partitions = model.total_partitions;
  const int32_t min_quota = partitions / members;
  const int32_t max_quota = min_quota + (partitions % members == 0 ? 0 : 1);
  const int32_t expected_at_max = partitions % members;

  std::vector<std::vector<int32_t>> owned(static_cast<size_t>(members));
  for (int32_t p = 0; p < partitions; ++p) {
    const int32_t m = owner[static_cast<size_t>(p)];
    if (m != kNoMember) owned[static_cast<size_t>(m)].push_back(p);
  }
  // Kafka keeps the lowest partition numbers across topics: (number, topic).
  auto number = [&model](int32_t p) {
    return p -
           model
               .first_partition[static_cast<size_t>(model.partition_topic[static_cast<size_t>(p)])];
  };
  auto by_number_then_topic = [&number](int32_t a, int32_t b) {
    const int32_t na = number(a);
    const int32_t nb = number(b);
    return na != nb ? na < nb : a < b;  // a < b orders topics: global order is topic-major
  };

  std::vector<int32_t> target(static_cast<size_t>(partitions), kNoMember);
  std::vector<int32_t> count(static_cast<size_t>(members), 0);
  std::vector<int32_t> under_min;
  // Members at min_quota that may still take one more, first come first.
  std::vector<int32_t> at_min;
  int32_t at_max = 0;
  for (int32_t m = 0; m < members; ++m) {
    std::vector<int32_t>& list = owned[static_cast<size_t>(m)];
    std::sort(list.begin(), list.end(), by_number_then_topic);
    const auto has = static_cast<int32_t>(list.size());
    int32_t keep = 0;
    if (has < min_quota) {
      keep = has;
      under_min.push_back(m);
    } else if (has >= max_quota && at_max < expected_at_max) {
      keep = max_quota;
      if (++at_max == expected_at_max) at_min.clear();
    } else {
      keep = min_quota;
      if (at_max < expected_at_max) at_min.push_back(m);
    }
    for (int32_t i = 0; i < keep; ++i)
      target[static_cast<size_t>(list[static_cast<size_t>(i)])] = m;
    count[static_cast<size_t>(m)] = keep;
  }

  std::vector<int32_t> unassigned;
  for (int32_t p = 0; p < partitions; ++p) {
    if (target[static_cast<size_t>(p)] == kNoMember) unassigned.push_back(p);
  }
  size_t next = 0;
  // Deal one partition per member per lap, so a new member gets a spread of
  // topics rather than one topic's tail.
  while (!under_min.empty()) {
    std::vector<int32_t> still_under;
    for (int32_t m : under_min) {
      EVLOG_CHECK_LT(next, unassigned.size());
      target[static_cast<size_t>(unassigned[next++])] = m;
      if (++count[static_cast<size_t>(m)] < min_quota) {
        still_under.push_back(m);
      } else if (at_max < expected_at_max) {
        at_min.push_back(m);
      }
    }
    under_min.swap(still_under);
  }
  for (size_t i = 0; next < unassigned.size(); ++i, ++next) {
    EVLOG_CHECK_LT(i, at_min.size());
    const int32_t m = at_min[i];
    target[static_cast<size_t>(unassigned[next])] = m;
    ++count[static_cast<size_t>(m)];
    ++at_max;
  }
  EVLOG_CHECK_EQ(at_max, expected_at_max);
  return target;
}

// Subscriptions differ. Keep every valid ownership, give each unowned
// partition to the least loaded subscriber, then shift partitions along
// chains of members until no chain leads from a member to one with two
// fewer: that is the most balanced assignment the subscriptions allow.
class GeneralBalancer {
 public:
  GeneralBalancer(const AssignmentModel& model, const std::vector<int32_t>& owner)
      : model_(model),
        count_(static_cast<size_t>(model.member_count()), 0),
        slot_base_(static_cast<size_t>(model.member_count()) + 1, 0) {
    for (int32_t m = 0; m < model.member_count(); ++m) {
      slot_base_[static_cast<size_t>(m) + 1] =
          slot_base_[static_cast<size_t>(m)] +
          static_cast<int32_t>(model.member_topics[static_cast<size_t>(m)].size());
    }
    kept_.resize(static_cast<size_t>(slot_base_.back()));
    fresh_.resize(kept_.size());
    for (int32_t p = 0; p < model.total_partitions; ++p) {
      const int32_t m = owner[static_cast<size_t>(p)];
      if (m == kNoMember) continue;
      kept_[Slot(m, model.partition_topic[static_cast<size_t>(p)])].push_back(p);
      ++count_[static_cast<size_t>(m)];
    }
  }

  std::vector<int32_t> Run(const std::vector<int32_t>& owner) {
    AssignUnowned(owner);
    Balance();
    std::vector<int32_t> target(static_cast<size_t>(model_.total_partitions), kNoMember);
    for (int32_t m = 0; m < model_.member_count(); ++m) {
      for (int32_t s = slot_base_[static_cast<size_t>(m)];
           s < slot_base_[static_cast<size_t>(m) + 1]; ++s) {
        for (int32_t p : kept_[static_cast<size_t>(s)]) target[static_cast<size_t>(p)] = m;
        for (int32_t p : fresh_[static_cast<size_t>(s)]) target[static_cast<size_t>(p)] = m;
      }
    }
    return target;
  }

 private:
  static constexpr int32_t kUnreached = std::numeric_limits<int32_t>::max();

  size_t Slot(int32_t member, int32_t topic) const {
    const std::vector<int32_t>& topics = model_.member_topics[static_cast<size_t>(member)];
    auto it = std::lower_bound(topics.begin(), topics.end(), topic);
    EVLOG_DCHECK(it != topics.end() && *it == topic);
    return static_cast<size_t>(slot_base_[static_cast<size_t>(member)] + (it - topics.begin()));
  }

  void AssignUnowned(const std::vector<int32_t>& owner) {
    // Topics with the fewest subscribers first (as Kafka): they have the
    // least choice, the others can even out around them.
    std::vector<int32_t> topics(static_cast<size_t>(model_.topic_count()));
    std::iota(topics.begin(), topics.end(), 0);
    std::stable_sort(topics.begin(), topics.end(), [this](int32_t a, int32_t b) {
      return model_.topic_members[static_cast<size_t>(a)].size() <
             model_.topic_members[static_cast<size_t>(b)].size();
    });
    // (count, member) of the topic's subscribers as a min-heap: the least
    // loaded, the lowest index among equals (as Kafka's sorted set).
    std::vector<std::pair<int32_t, int32_t>> heap;
    auto greater = std::greater<std::pair<int32_t, int32_t>>();
    for (int32_t t : topics) {
      heap.clear();
      for (int32_t m : model_.topic_members[static_cast<size_t>(t)]) {
        heap.emplace_back(count_[static_cast<size_t>(m)], m);
      }
      std::make_heap(heap.begin(), heap.end(), greater);
      const int32_t first = model_.first_partition[static_cast<size_t>(t)];
      for (int32_t p = first; p < first + model_.partition_counts[static_cast<size_t>(t)]; ++p) {
        if (owner[static_cast<size_t>(p)] != kNoMember) continue;
        std::pop_heap(heap.begin(), heap.end(), greater);
        const int32_t best = heap.back().second;
        fresh_[Slot(best, t)].push_back(p);
        heap.back().first = ++count_[static_cast<size_t>(best)];
        std::push_heap(heap.begin(), heap.end(), greater);
      }
    }
  }

  // Each round either shifts one partition's worth of load from a member
  // with the most to one with at least two fewer (the sum of squared counts
  // drops, so this ends), or finds that nothing reachable from the most
  // loaded members has two fewer and freezes everything it reached: those
  // members hold at least max - 1 and reach only each other, so no later
  // chain can usefully start, pass or end there.
  void Balance() {
    const auto members = static_cast<size_t>(model_.member_count());
    // Bytes, not vector<bool>: these are read in the innermost loop.
    std::vector<uint8_t> frozen(members, 0);
    std::vector<int32_t> distance(members);
    std::vector<uint8_t> done(members);
    std::vector<int32_t> parent(members);
    std::vector<int32_t> parent_topic(members);
    std::vector<int32_t> topic_offer(static_cast<size_t>(model_.topic_count()));
    std::deque<int32_t> queue;
    for (;;) {
      int32_t high = -1;
      int32_t low = kUnreached;
      for (size_t m = 0; m < members; ++m) {
        if (frozen[m] != 0) continue;
        high = std::max(high, count_[m]);
        low = std::min(low, count_[m]);
      }
      if (high < 0 || high - low <= 1) return;

      std::fill(distance.begin(), distance.end(), kUnreached);
      std::fill(done.begin(), done.end(), 0);
      std::fill(topic_offer.begin(), topic_offer.end(), kUnreached);
      queue.clear();
      for (size_t m = 0; m < members; ++m) {
        if (frozen[m] != 0 || count_[m] != high) continue;
        distance[m] = 0;
        parent[m] = kNoMember;
        queue.push_back(static_cast<int32_t>(m));
      }
      // 0-1 breadth-first search: a hop costs 1 when it must move a
      // partition its holder owned before this rebalance, 0 when it can move
      // one it was only just given, so the chosen chain revokes the fewest.
      int32_t found = kNoMember;
      while (!queue.empty()) {
        const int32_t x = queue.front();
        queue.pop_front();
        const auto ux = static_cast<size_t>(x);
        if (done[ux] != 0) continue;
        done[ux] = 1;
        if (count_[ux] <= high - 2) {
          found = x;
          break;
        }
        const std::vector<int32_t>& topics = model_.member_topics[ux];
        for (size_t k = 0; k < topics.size(); ++k) {
          const auto s = static_cast<size_t>(slot_base_[ux]) + k;
          if (fresh_[s].empty() && kept_[s].empty()) continue;
          const int32_t cost = fresh_[s].empty() ? 1 : 0;
          const int32_t offer = distance[ux] + cost;
          const auto t = static_cast<size_t>(topics[k]);
          // Every subscriber of t already got this offer or a better one.
          if (offer >= topic_offer[t]) continue;
          topic_offer[t] = offer;
          for (int32_t w : model_.topic_members[t]) {
            const auto uw = static_cast<size_t>(w);
            if (frozen[uw] != 0 || done[uw] != 0 || offer >= distance[uw]) continue;
            distance[uw] = offer;
            parent[uw] = x;
            parent_topic[uw] = topics[k];
            if (cost == 0) {
              queue.push_front(w);
            } else {
              queue.push_back(w);
            }
          }
        }
      }
      if (found == kNoMember) {
        for (size_t m = 0; m < members; ++m) {
          if (done[m] != 0) frozen[m] = 1;
        }
        continue;
      }
      for (int32_t w = found; parent[static_cast<size_t>(w)] != kNoMember;
           w = parent[static_cast<size_t>(w)]) {
        Move(parent[static_cast<size_t>(w)], w, parent_topic[static_cast<size_t>(w)]);
      }
    }
  }

  // Moves one partition of `topic` from `from` to `to`: one it was only
  // just given if it has one, else its highest-numbered owned one (keeping
  // the lowest, as the equal-subscriptions path does).
  void Move(int32_t from, int32_t to, int32_t topic) {
    std::vector<int32_t>& fresh = fresh_[Slot(from, topic)];
    std::vector<int32_t>& kept = kept_[Slot(from, topic)];
    std::vector<int32_t>& source = fresh.empty() ? kept : fresh;
    EVLOG_CHECK(!source.empty());
    const int32_t p = source.back();
    source.pop_back();
    fresh_[Slot(to, topic)].push_back(p);
    --count_[static_cast<size_t>(from)];
    ++count_[static_cast<size_t>(to)];
  }

  const AssignmentModel& model_;
  std::vector<int32_t> count_;
  // Member m's holdings of its k-th subscribed topic are in slot
  // slot_base_[m] + k: partitions it owned before (kept_) and ones it was
  // given in this rebalance (fresh_).
  std::vector<int32_t> slot_base_;
  std::vector<std::vector<int32_t>> kept_;
  std::vector<std::vector<int32_t>> fresh_;
};

}  // namespace

StickyPlan PlanStickyAssignment(const AssignmentModel& model) {
  Claims claims = SettleClaims(model);
  StickyPlan plan;
  if (model.total_partitions > 0) {
    plan.target = model.AllSubscriptionsEqual()
                      ? EqualSubscriptionsTarget(model, claims.owner)
                      : GeneralBalancer(model, claims.owner).Run(claims.owner);
  }
  const auto partitions = static_cast<size_t>(model.total_partitions);
  plan.claimed_by_other.assign(partitions, false);
  for (size_t p = 0; p < partitions; ++p) {
    EVLOG_CHECK_NE(plan.target[p], kNoMember);
    plan.claimed_by_other[p] =
        claims.several_claimants[p] ||
        (claims.first_claimant[p] != kNoMember && claims.first_claimant[p] != plan.target[p]);
  }
  plan.current_owner = std::move(claims.owner);
  return plan;
}

}  // namespace evlog::internal
