// evlog/io/clock.h — time, as an injectable dependency.
//
// Components never read the system clock themselves: they take a Clock, so
// tests and the simulator can drive time by hand (ManualClock) and replay a
// history exactly.
//
//   evlog::ManualClock clock(/*wall_ms=*/1'700'000'000'000);
//   clock.AdvanceMs(30'000);   // both the wall and the monotonic clock move
//
// Two readings are offered because they answer different questions:
//   WallMs()       Unix time in milliseconds: Kafka timestamps, retention.ms
//                  against record timestamps. May jump (NTP, a test).
//   MonotonicNs()  never goes backwards: timeouts, intervals, linger.
//
// Thread-safety: both implementations are thread-safe.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>

namespace evlog {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t WallMs() const = 0;
  // Nanoseconds since an arbitrary fixed point; never decreases.
  virtual int64_t MonotonicNs() const = 0;
};

// Satisfied by Clock implementations that components take as a template
// parameter (SegmentedLog<FS, ClockT>).
template <typename C>
concept ClockLike = requires(const C& c) {
  { c.WallMs() } -> std::convertible_to<int64_t>;
  { c.MonotonicNs() } -> std::convertible_to<int64_t>;
};

// The operating system's clocks (CLOCK_REALTIME, CLOCK_MONOTONIC). On
// x86-64 with an invariant TSC that the kernel uses as its clocksource,
// WallMs() answers from the TSC while the millisecond it last read lasts
// (a producer stamps every record with it); a step of the system clock is
// then seen within that millisecond.
class SystemClock final : public Clock {
 public:
  int64_t WallMs() const override;
  int64_t MonotonicNs() const override;
  // A process-wide instance, for defaults.
  static SystemClock& Default();
};

// A clock that moves only when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t wall_ms = 0, int64_t monotonic_ns = 0)
      : wall_ns_(wall_ms * kNsPerMs), monotonic_ns_(monotonic_ns) {}

  int64_t WallMs() const override { return wall_ns_.load(std::memory_order_acquire) / kNsPerMs; }
  int64_t MonotonicNs() const override { return monotonic_ns_.load(std::memory_order_acquire); }

  // Moves both clocks forward by `ms`. REQUIRES: ms >= 0.
  void AdvanceMs(int64_t ms);
  // Moves both clocks forward by `ns`. REQUIRES: ns >= 0.
  void AdvanceNs(int64_t ns);
  // Sets the wall clock, which may go backwards (a clock jump); the
  // monotonic clock is unaffected.
  void SetWallMs(int64_t wall_ms) { wall_ns_.store(wall_ms * kNsPerMs, std::memory_order_release); }

 private:
  static constexpr int64_t kNsPerMs = 1'000'000;
  // Wall time is kept in ns so that many small advances add up exactly.
  std::atomic<int64_t> wall_ns_;
  std::atomic<int64_t> monotonic_ns_;
};

static_assert(ClockLike<SystemClock>);
static_assert(ClockLike<ManualClock>);

}  // namespace evlog
