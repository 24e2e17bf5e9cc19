// Per-topic state of a partitioner, created on a topic's first request.
#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "evlog/status.h"

namespace evlog::internal {

// Maps a topic name to a `State` that lives as long as the table, so a
// caller may use the reference after the lookup without holding any lock of
// the table (State guards itself).
//
// Bound: one entry per topic ever passed in, never removed. A producer
// writes to the topics of its application, so this stays at the size of the
// topic list; a deleted and re-created topic reuses its entry.
//
// Thread-safety: Get() is thread-safe. Lookups of known topics share a
// reader lock; only a topic's first request takes the writer lock.
template <typename State>
class TopicTable {
 public:
  // The state of `topic`, made by `make(topic)` on the first call for it.
  template <typename MakeState>
  State& Get(std::string_view topic, MakeState make) {
    {
      std::shared_lock lock(mu_);
      auto it = states_.find(ToAbsl(topic));
      if (it != states_.end()) return *it->second;
    }
    std::unique_lock lock(mu_);
    auto [it, inserted] = states_.try_emplace(std::string(topic), nullptr);
    if (inserted) it->second = make(topic);
    return *it->second;
  }

 private:
  std::shared_mutex mu_;
  // unique_ptr: references handed out must survive rehashing.
  absl::flat_hash_map<std::string, std::unique_ptr<State>> states_;
};

}  // namespace evlog::internal
