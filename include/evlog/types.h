// evlog/types.h — strong types for the numbers Kafka keeps apart.
//
// An offset, a leader epoch and a producer epoch are all integers, and
// mixing them up is a classic source of replication bugs. Each gets its own
// type here; converting between them, or from a raw integer, is explicit:
//
//   evlog::Offset next = base + 3;              // Offset + delta -> Offset
//   int64_t lag = end - next;                   // Offset - Offset -> int64
//   evlog::LeaderEpoch e{7};
//   // next == e;                               // does not compile
//   // evlog::Offset o = 5;                     // does not compile
//
// Thread-safety: values; no shared state.
#pragma once

#include <compare>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <ostream>
#include <type_traits>

namespace evlog {

// An integer of representation `Rep` that only compares and combines with
// its own kind. `Tag` makes each instantiation a distinct type.
template <typename Tag, std::integral Rep>
class StrongInt {
 public:
  using rep_type = Rep;

  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep value) : value_(value) {}

  [[nodiscard]] constexpr Rep value() const { return value_; }

  static constexpr StrongInt Min() { return StrongInt(std::numeric_limits<Rep>::min()); }
  static constexpr StrongInt Max() { return StrongInt(std::numeric_limits<Rep>::max()); }

  friend constexpr auto operator<=>(StrongInt, StrongInt) = default;

  // Advancing by a delta keeps the kind; the difference of two is a count.
  friend constexpr StrongInt operator+(StrongInt a, Rep delta) {
    return StrongInt(static_cast<Rep>(a.value_ + delta));
  }
  friend constexpr StrongInt operator-(StrongInt a, Rep delta) {
    return StrongInt(static_cast<Rep>(a.value_ - delta));
  }
  friend constexpr Rep operator-(StrongInt a, StrongInt b) {
    return static_cast<Rep>(a.value_ - b.value_);
  }
  constexpr StrongInt& operator+=(Rep delta) {
    value_ = static_cast<Rep>(value_ + delta);
    return *this;
  }
  constexpr StrongInt& operator-=(Rep delta) {
    value_ = static_cast<Rep>(value_ - delta);
    return *this;
  }
  constexpr StrongInt& operator++() {
    ++value_;
    return *this;
  }
  constexpr StrongInt operator++(int) {
    StrongInt old = *this;
    ++value_;
    return old;
  }

  template <typename H>
  friend H AbslHashValue(H h, StrongInt v) {
    return H::combine(std::move(h), v.value_);
  }

  friend std::ostream& operator<<(std::ostream& os, StrongInt v) {
    // int8/int16 reps print as numbers, not characters.
    return os << +v.value_;
  }

 private:
  Rep value_{};
};

struct OffsetTag {};
struct LeaderEpochTag {};
struct ProducerIdTag {};
struct ProducerEpochTag {};
struct SequenceTag {};
struct PartitionIdTag {};
struct BrokerIdTag {};
struct GenerationTag {};

// Position of a record in a partition's log (Kafka int64 offset).
using Offset = StrongInt<OffsetTag, int64_t>;
// Epoch of a partition's leader, stamped into batches (partitionLeaderEpoch).
using LeaderEpoch = StrongInt<LeaderEpochTag, int32_t>;
// Producer id handed out by InitProducerId.
using ProducerId = StrongInt<ProducerIdTag, int64_t>;
// Producer epoch; bumped to fence an older instance.
using ProducerEpoch = StrongInt<ProducerEpochTag, int16_t>;
// Per (producer, partition) sequence number; wraps at INT32_MAX to 0.
using Sequence = StrongInt<SequenceTag, int32_t>;
// Partition number within a topic.
using PartitionId = StrongInt<PartitionIdTag, int32_t>;
// Node id of a broker in a cluster.
using BrokerId = StrongInt<BrokerIdTag, int32_t>;
// Consumer-group generation id.
using Generation = StrongInt<GenerationTag, int32_t>;

// What a produce waits for (Kafka acks): nothing, the leader's log, or
// every in-sync replica (ReplicaSet). On one broker 1 and all are the same.
enum class Acks : int8_t {
  kNone = 0,  // do not wait: the callback gets offset -1
  kLeader = 1,
  kAll = -1,
};

// Kafka's "none" sentinels, as typed constants.
inline constexpr LeaderEpoch kNoLeaderEpoch{-1};
inline constexpr ProducerId kNoProducerId{-1};
inline constexpr ProducerEpoch kNoProducerEpoch{-1};
inline constexpr Sequence kNoSequence{-1};

// A transaction that ended with an ABORT marker: its producer's
// transactional batches in [first_offset, last_offset] (the marker) are
// not for read_committed readers, and compaction removes them.
struct AbortedTransaction {
  ProducerId producer_id;
  Offset first_offset;
  Offset last_offset;

  friend bool operator==(const AbortedTransaction&, const AbortedTransaction&) = default;
};

}  // namespace evlog

template <typename Tag, typename Rep>
struct std::hash<evlog::StrongInt<Tag, Rep>> {
  size_t operator()(evlog::StrongInt<Tag, Rep> v) const noexcept {
    return std::hash<Rep>{}(v.value());
  }
};
