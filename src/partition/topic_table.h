// Per-topic state of a partitioner, created on a topic's first request.
#pragma once

#include <atomic>
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
// Thread-safety: Get() is thread-safe. The topic found last is checked
// first, without a lock or a hash (applications mostly send to one topic at
// a time); other known topics share a reader lock; only a topic's first
// request takes the writer lock.
template <typename State>
class TopicTable {
 public:
  // The state of `topic`, made by `make(topic)` on the first call for it.
  template <typename MakeState>
  State& Get(std::string_view topic, MakeState make) {
    if (const Entry* last = last_.load(std::memory_order_acquire);
        last != nullptr && last->name == topic) {
      return *last->state;
    }
    Entry* found = nullptr;
    {
      std::shared_lock lock(mu_);
      auto it = entries_.find(ToAbsl(topic));
      if (it != entries_.end()) found = it->second.get();
    }
    if (found == nullptr) {
      std::unique_lock lock(mu_);
      auto [it, inserted] = entries_.try_emplace(std::string(topic), nullptr);
      if (inserted) it->second = std::make_unique<Entry>(Entry{it->first, make(topic)});
      found = it->second.get();
    }
    last_.store(found, std::memory_order_release);
    return *found->state;
  }

 private:
  struct Entry {
    std::string name;
    std::unique_ptr<State> state;
  };
  std::shared_mutex mu_;
  // unique_ptr: entries handed out (and last_) must survive rehashing.
  absl::flat_hash_map<std::string, std::unique_ptr<Entry>> entries_;
  std::atomic<const Entry*> last_{nullptr};
};

}  // namespace evlog::internal
