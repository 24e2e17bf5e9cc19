// Where a new partition's replicas go: the Controller's placement rule,
// Kafka's AdminUtils assignment (the ZooKeeper-era rule, which the brief
// asks for; KRaft's StripedReplicaPlacer reaches the same spread).
//
// Rack-unaware, over brokers b[0..n) sorted by id, partition p gets
//   first   = (p + start_index) % n                         its preferred leader
//   shift   = shift_seed + p / n                            moves every n partitions
//   replica j >= 1: b[(first + 1 + (shift + j - 1) % (n - 1)) % n]
// so leaders go round-robin over the brokers and the followers of
// consecutive partitions differ (n = 3, start 0, seed 0:
// p0 [0 1 2], p1 [1 2 0], p2 [2 0 1], p3 [0 2 1], ...).
//
// Rack-aware, when every broker has a rack: the brokers are first listed
// alternating racks (rack a's first broker, rack b's first, ..., then each
// rack's second, ...), the same walk runs over that list, and a candidate
// is skipped while it sits on a rack that already holds a replica of the
// partition and some rack holds none. With replication_factor <= racks,
// every replica of a partition is on a different rack.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/types.h"

namespace evlog::internal {

struct PlacementBroker {
  BrokerId id{0};
  std::optional<std::string> rack;
};

// Replica lists of partitions first_partition .. first_partition + count - 1,
// over `brokers` (distinct ids, any order: they are sorted by id first).
// `start_index` and `shift_seed` spread different topics differently (Kafka
// draws them at random; the Controller derives them from the topic's name,
// so placement is deterministic). Errors: INVALID_REPLICATION_FACTOR when
// replication_factor < 1 or more than brokers.size(); INVALID_PARTITIONS
// when count < 0 or first_partition < 0.
[[nodiscard]] absl::StatusOr<std::vector<std::vector<BrokerId>>> PlaceReplicas(
    std::span<const PlacementBroker> brokers, int32_t first_partition, int32_t count,
    int32_t replication_factor, uint32_t start_index, uint32_t shift_seed);

// 32-bit FNV-1a of `s`: a fixed, platform-independent hash for deriving
// placement seeds from a topic's name.
[[nodiscard]] uint32_t PlacementHash(std::string_view s);

}  // namespace evlog::internal
