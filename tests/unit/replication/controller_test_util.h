// Helpers for the controller tests: a controller on a manual clock with a
// few brokers registered and unfenced.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evlog/replication/controller.h"
#include "evlog/replication/metadata_log.h"
#include "evlog/io/clock.h"
#include "evlog/status.h"
#include "tests/support/catch.h"

namespace evlog::test {

inline std::vector<BrokerId> Ids(std::initializer_list<int32_t> ids) {
  std::vector<BrokerId> out;
  for (int32_t id : ids) out.emplace_back(id);
  return out;
}

// A controller whose brokers the test drives by hand.
struct TestCluster {
  explicit TestCluster(ControllerOptions options = Defaults()) {
    auto log = std::make_unique<MemoryMetadataLog>();
    memory_log = log.get();
    auto opened = Controller::Open(clock, std::move(log), options);
    REQUIRE(opened.ok());
    controller = *std::move(opened);
  }

  // No automatic rebalance unless a test asks: it would move leaders
  // behind the test's back.
  static ControllerOptions Defaults() {
    ControllerOptions options;
    options.auto_leader_rebalance_enable = false;
    return options;
  }

  // Registers `id` and unfences it with a caught-up heartbeat.
  int64_t AddBroker(int32_t id, std::optional<std::string> rack = std::nullopt) {
    auto epoch = controller->RegisterBroker(BrokerId(id), std::move(rack),
                                            "host" + std::to_string(id) + ":9092",
                                            /*incarnation_id=*/1000 + static_cast<uint64_t>(id));
    REQUIRE(epoch.ok());
    epochs[id] = *epoch;
    auto reply = controller->Heartbeat(BrokerId(id), *epoch);
    REQUIRE(reply.ok());
    REQUIRE(!reply->fenced);
    return *epoch;
  }

  // Heartbeats from every broker in `ids` (with their latest epochs).
  void Beat(std::initializer_list<int32_t> ids) {
    for (int32_t id : ids) {
      auto reply = controller->Heartbeat(BrokerId(id), epochs.at(id));
      REQUIRE(reply.ok());
    }
  }

  // Advances the clock by `ms`, heartbeating from `alive` first, then ticks.
  void Advance(int64_t ms, std::initializer_list<int32_t> alive = {}) {
    Beat(alive);
    clock.AdvanceMs(ms);
    Beat(alive);
    REQUIRE(controller->Tick().ok());
  }

  PartitionState State(const std::string& topic, int32_t partition) const {
    MetadataImage image = controller->image();
    const PartitionState* p = image.partition(TopicPartition(topic, partition));
    REQUIRE(p != nullptr);
    return *p;
  }

  bool Fenced(int32_t id) const {
    MetadataImage image = controller->image();
    const BrokerRegistration* b = image.broker(BrokerId(id));
    REQUIRE(b != nullptr);
    return b->fenced;
  }

  ManualClock clock{/*wall_ms=*/1'700'000'000'000};
  MemoryMetadataLog* memory_log = nullptr;
  std::unique_ptr<Controller> controller;
  std::map<int32_t, int64_t> epochs;
};

}  // namespace evlog::test
