#include "evlog/io/clock.h"

#include <time.h>

#include "evlog/check.h"

namespace evlog {

int64_t SystemClock::WallMs() const {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

int64_t SystemClock::MonotonicNs() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

SystemClock& SystemClock::Default() {
  static SystemClock clock;
  return clock;
}

void ManualClock::AdvanceMs(int64_t ms) {
  EVLOG_CHECK_GE(ms, 0);
  AdvanceNs(ms * kNsPerMs);
}

void ManualClock::AdvanceNs(int64_t ns) {
  EVLOG_CHECK_GE(ns, 0);
  wall_ns_.fetch_add(ns, std::memory_order_acq_rel);
  monotonic_ns_.fetch_add(ns, std::memory_order_acq_rel);
}

}  // namespace evlog
