#include "evlog/io/clock.h"

#include <time.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <string>

#include "evlog/check.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#define EVLOG_HAVE_TSC 1
#else
#define EVLOG_HAVE_TSC 0
#endif

namespace evlog {
namespace {

constexpr int64_t kNsPerMs = 1'000'000;

int64_t ReadNs(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

#if EVLOG_HAVE_TSC

// WallMs() is read for every record a producer sends, and clock_gettime
// costs ~18 ns where the TSC costs ~8. A thread remembers when (in TSC
// ticks) its last reading's millisecond ends and answers from that until
// then, so a reading is never older than the millisecond it names. That
// needs the TSC's rate, measured here against CLOCK_MONOTONIC_RAW, and a
// TSC the kernel itself trusts (invariant, and the clocksource).
class TscRate {
 public:
  // Ticks per ns, under-estimated a little; 0 until measured or when the
  // TSC is not to be trusted.
  double TicksPerNs() {
    const double rate = rate_.load(std::memory_order_acquire);
    if (rate != 0 || !usable_) return rate;
    Sample now;
    if (!Take(now)) return 0;
    if (!have_start_.load(std::memory_order_acquire)) {
      std::lock_guard lock(mu_);
      if (!have_start_.load(std::memory_order_relaxed)) {
        start_ = now;
        have_start_.store(true, std::memory_order_release);
      }
      return 0;
    }
    // Each sample may be off by up to half of Take()'s 20,000-tick bound,
    // so the two by up to 20,000 ticks: at most 0.2% of this interval on a
    // TSC of 1 GHz or more, well inside the 1% margin below. Until then
    // every reading pays for a sample and the OS clock, so it is no longer
    // than that needs.
    if (now.ns - start_.ns < kCalibrationNs) return 0;
    const double measured =
        static_cast<double>(now.tsc - start_.tsc) / static_cast<double>(now.ns - start_.ns);
    // 1% under: a millisecond is taken to end a little early, never late.
    const double safe = measured * 0.99;
    rate_.store(safe > 0 ? safe : -1, std::memory_order_release);
    return safe > 0 ? safe : 0;
  }

 private:
  static constexpr int64_t kCalibrationNs = 10 * kNsPerMs;
  struct Sample {
    uint64_t tsc;
    int64_t ns;
  };

  static bool Trusted() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx) == 0 || (edx & (1u << 8)) == 0) {
      return false;  // no invariant TSC: its rate follows the CPU's
    }
    std::ifstream in("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string source;
    return static_cast<bool>(in >> source) && source == "tsc";
  }

  // A TSC reading and the monotonic time at the same moment, or false
  // when the thread was held up between them.
  static bool Take(Sample& out) {
    const uint64_t before = __rdtsc();
    out.ns = ReadNs(CLOCK_MONOTONIC_RAW);
    const uint64_t after = __rdtsc();
    out.tsc = before + (after - before) / 2;
    return after - before < 20'000;
  }

  const bool usable_ = Trusted();
  std::atomic<double> rate_{0};
  std::mutex mu_;
  std::atomic<bool> have_start_{false};
  Sample start_{};
};

TscRate& Tsc() {
  static TscRate rate;
  return rate;
}

struct WallCache {
  uint64_t tsc = 0;    // when the reading was taken
  uint64_t ticks = 0;  // how long after that its millisecond surely lasts
  int64_t ms = 0;
};

thread_local WallCache wall_cache;

#endif

}  // namespace

int64_t SystemClock::WallMs() const {
#if EVLOG_HAVE_TSC
  WallCache& cache = wall_cache;
  // Unsigned: a TSC behind the cached reading (another core's, or reset)
  // reads as far ahead and takes the slow path.
  const uint64_t now = __rdtsc();
  if (now - cache.tsc < cache.ticks) return cache.ms;
  const int64_t wall_ns = ReadNs(CLOCK_REALTIME);
  const int64_t ms = wall_ns / kNsPerMs;
  if (const double rate = Tsc().TicksPerNs(); rate > 0 && wall_ns >= 0) {
    // `now` was read before the wall clock, so the millisecond ends at
    // least this long after it.
    const int64_t ns_left = kNsPerMs - wall_ns % kNsPerMs;
    cache = {now, static_cast<uint64_t>(static_cast<double>(ns_left) * rate), ms};
  }
  return ms;
#else
  return ReadNs(CLOCK_REALTIME) / kNsPerMs;
#endif
}

int64_t SystemClock::MonotonicNs() const { return ReadNs(CLOCK_MONOTONIC); }

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
