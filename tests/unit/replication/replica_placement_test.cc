#include "evlog/replication/internal/replica_placement.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/unit/replication/controller_test_util.h"

namespace evlog::internal {
namespace {

using test::Ids;

std::vector<PlacementBroker> Brokers(int32_t n, std::vector<std::string> racks = {}) {
  std::vector<PlacementBroker> out;
  for (int32_t i = 0; i < n; ++i) {
    PlacementBroker b;
    b.id = BrokerId(i);
    if (!racks.empty()) b.rack = racks[static_cast<size_t>(i) % racks.size()];
    out.push_back(b);
  }
  return out;
}

TEST_CASE("rack-unaware placement is round-robin with a shift every n partitions") {
  auto placed = PlaceReplicas(Brokers(3), 0, 6, 3, /*start_index=*/0, /*shift_seed=*/0);
  REQUIRE(placed.ok());
  // The worked example of the header.
  CHECK((*placed)[0] == Ids({0, 1, 2}));
  CHECK((*placed)[1] == Ids({1, 2, 0}));
  CHECK((*placed)[2] == Ids({2, 0, 1}));
  CHECK((*placed)[3] == Ids({0, 2, 1}));
  CHECK((*placed)[4] == Ids({1, 0, 2}));
  CHECK((*placed)[5] == Ids({2, 1, 0}));
  // Growing the topic later continues the same sequence.
  auto more = PlaceReplicas(Brokers(3), 3, 3, 3, 0, 0);
  REQUIRE(more.ok());
  CHECK((*more)[0] == (*placed)[3]);
  CHECK((*more)[2] == (*placed)[5]);
}

TEST_CASE("placement uses the brokers in id order whatever order they come in") {
  std::vector<PlacementBroker> shuffled = Brokers(4);
  std::swap(shuffled[0], shuffled[3]);
  CHECK(*PlaceReplicas(shuffled, 0, 8, 2, 5, 9) == *PlaceReplicas(Brokers(4), 0, 8, 2, 5, 9));
}

TEST_CASE("every placement has distinct replicas and leaders spread evenly") {
  for (int32_t n = 1; n <= 7; ++n) {
    for (int32_t rf = 1; rf <= n; ++rf) {
      for (uint32_t seed : {0u, 1u, 12345u}) {
        for (bool racks : {false, true}) {
          INFO("brokers " << n << " rf " << rf << " seed " << seed << " racks " << racks);
          auto brokers = racks ? Brokers(n, {"x", "y", "z"}) : Brokers(n);
          auto placed = PlaceReplicas(brokers, 0, 4 * n, rf, seed, seed * 7);
          REQUIRE(placed.ok());
          std::map<BrokerId, int> leaders;
          for (const std::vector<BrokerId>& replicas : *placed) {
            REQUIRE(replicas.size() == static_cast<size_t>(rf));
            CHECK(std::set<BrokerId>(replicas.begin(), replicas.end()).size() == replicas.size());
            ++leaders[replicas[0]];
            if (racks) {
              std::set<std::string> used;
              for (BrokerId r : replicas)
                used.insert(*brokers[static_cast<size_t>(r.value())].rack);
              // As many racks as possible: min(rf, racks present).
              CHECK(used.size() == std::min<size_t>(static_cast<size_t>(rf),
                                                    std::min<size_t>(3, static_cast<size_t>(n))));
            }
          }
          CHECK(leaders.size() == static_cast<size_t>(n));
          for (const auto& [b, count] : leaders) CHECK(count == 4);
        }
      }
    }
  }
}

TEST_CASE("placement ignores racks unless every broker has one") {
  std::vector<PlacementBroker> brokers = Brokers(4, {"a", "b"});
  brokers[3].rack.reset();
  std::vector<PlacementBroker> plain = Brokers(4);
  CHECK(*PlaceReplicas(brokers, 0, 8, 2, 3, 4) == *PlaceReplicas(plain, 0, 8, 2, 3, 4));
}

TEST_CASE("placement refuses impossible replication factors and partition ranges") {
  CHECK(GetErrorCode(PlaceReplicas(Brokers(2), 0, 1, 3, 0, 0).status()) ==
        ErrorCode::kInvalidReplicationFactor);
  CHECK(GetErrorCode(PlaceReplicas(Brokers(2), 0, 1, 0, 0, 0).status()) ==
        ErrorCode::kInvalidReplicationFactor);
  CHECK(GetErrorCode(PlaceReplicas({}, 0, 1, 1, 0, 0).status()) ==
        ErrorCode::kInvalidReplicationFactor);
  CHECK(GetErrorCode(PlaceReplicas(Brokers(2), -1, 1, 1, 0, 0).status()) ==
        ErrorCode::kInvalidPartitions);
  CHECK(PlaceReplicas(Brokers(2), 0, 0, 1, 0, 0)->empty());
}

TEST_CASE("the placement hash is FNV-1a") {
  CHECK(PlacementHash("") == 2166136261u);
  CHECK(PlacementHash("a") == 0xe40c292cu);
  CHECK(PlacementHash("foobar") == 0xbf9cf968u);
}

}  // namespace
}  // namespace evlog::internal
