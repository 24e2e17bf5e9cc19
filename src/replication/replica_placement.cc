#include "evlog/replication/internal/replica_placement.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/status.h"

namespace evlog::internal {

namespace {

// Brokers alternating racks: each rack's first broker (racks by name,
// brokers by id), then each rack's second, and so on.
std::vector<PlacementBroker> RackAlternated(const std::vector<PlacementBroker>& sorted) {
  std::map<std::string, std::vector<const PlacementBroker*>> by_rack;
  for (const PlacementBroker& b : sorted) by_rack[*b.rack].push_back(&b);
  std::vector<PlacementBroker> out;
  out.reserve(sorted.size());
  for (size_t round = 0; out.size() < sorted.size(); ++round) {
    for (const auto& [rack, members] : by_rack) {
      if (round < members.size()) out.push_back(*members[round]);
    }
  }
  return out;
}

}  // namespace

uint32_t PlacementHash(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

absl::StatusOr<std::vector<std::vector<BrokerId>>> PlaceReplicas(
    std::span<const PlacementBroker> brokers, int32_t first_partition, int32_t count,
    int32_t replication_factor, uint32_t start_index, uint32_t shift_seed) {
  if (first_partition < 0 || count < 0) {
    return MakeError(ErrorCode::kInvalidPartitions,
                     absl::StrCat("cannot place ", count, " partitions from ", first_partition));
  }
  if (replication_factor < 1 || static_cast<size_t>(replication_factor) > brokers.size()) {
    return MakeError(ErrorCode::kInvalidReplicationFactor,
                     absl::StrCat("replication factor ", replication_factor, " with ",
                                  brokers.size(), " usable broker(s)"));
  }
  std::vector<PlacementBroker> sorted(brokers.begin(), brokers.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const PlacementBroker& a, const PlacementBroker& b) { return a.id < b.id; });
  const bool rack_aware = std::all_of(sorted.begin(), sorted.end(),
                                      [](const PlacementBroker& b) { return b.rack.has_value(); });
  const std::vector<PlacementBroker> list = rack_aware ? RackAlternated(sorted) : sorted;
  const size_t n = list.size();
  std::set<std::string> all_racks;
  if (rack_aware) {
    for (const PlacementBroker& b : list) all_racks.insert(*b.rack);
  }
  const size_t rack_count = all_racks.size();

  std::vector<std::vector<BrokerId>> result;
  result.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    const size_t p = static_cast<size_t>(first_partition) + static_cast<size_t>(i);
    const size_t first = (p + start_index) % n;
    const size_t shift = shift_seed + p / n;
    std::vector<BrokerId> replicas{list[first].id};
    std::set<size_t> used{first};
    std::set<std::string> racks_used;
    if (rack_aware) racks_used.insert(*list[first].rack);
    // The walk visits every other broker once per n - 1 steps; two rounds
    // are enough to fill every rack first and then any broker.
    const size_t max_steps = 2 * n;
    size_t step = 0;
    while (replicas.size() < static_cast<size_t>(replication_factor)) {
      EVLOG_CHECK_LT(step, max_steps);
      const size_t offset = rack_aware ? (shift * rack_count + step) : (shift + step);
      const size_t candidate = (first + 1 + offset % (n - 1)) % n;
      ++step;
      if (used.contains(candidate)) continue;
      if (rack_aware && racks_used.contains(*list[candidate].rack) &&
          racks_used.size() < rack_count) {
        continue;
      }
      used.insert(candidate);
      if (rack_aware) racks_used.insert(*list[candidate].rack);
      replicas.push_back(list[candidate].id);
    }
    result.push_back(std::move(replicas));
  }
  return result;
}

}  // namespace evlog::internal
