#include "evlog/io/clock.h"

#include <time.h>

#include <cstdint>
#include <thread>

#include "tests/support/catch.h"

namespace evlog {
namespace {

TEST_CASE("a manual clock moves only when advanced, both readings together") {
  ManualClock clock(/*wall_ms=*/1'700'000'000'000, /*monotonic_ns=*/5);
  CHECK(clock.WallMs() == 1'700'000'000'000);
  CHECK(clock.MonotonicNs() == 5);
  clock.AdvanceMs(30'000);
  CHECK(clock.WallMs() == 1'700'000'030'000);
  CHECK(clock.MonotonicNs() == 5 + 30'000'000'000);
  clock.AdvanceNs(1);
  CHECK(clock.MonotonicNs() == 5 + 30'000'000'001);
}

TEST_CASE("small manual advances add up exactly on the wall clock") {
  ManualClock clock(/*wall_ms=*/1000);
  for (int i = 0; i < 1000; ++i) clock.AdvanceNs(999'999);
  CHECK(clock.WallMs() == 1000 + 999);  // 999'999'000 ns
  clock.AdvanceNs(1000);
  CHECK(clock.WallMs() == 2000);
}

TEST_CASE("a wall clock jump does not move the monotonic clock") {
  ManualClock clock(/*wall_ms=*/10'000, /*monotonic_ns=*/7);
  clock.SetWallMs(3'000);
  CHECK(clock.WallMs() == 3'000);
  CHECK(clock.MonotonicNs() == 7);
  clock.SetWallMs(50'000);
  CHECK(clock.WallMs() == 50'000);
  CHECK(clock.MonotonicNs() == 7);
  clock.AdvanceMs(1);
  CHECK(clock.WallMs() == 50'001);
  CHECK(clock.MonotonicNs() == 1'000'007);
}

TEST_CASE("the system clock's monotonic reading never decreases") {
  SystemClock& clock = SystemClock::Default();
  int64_t last = clock.MonotonicNs();
  for (int i = 0; i < 10'000; ++i) {
    const int64_t now = clock.MonotonicNs();
    REQUIRE(now >= last);
    last = now;
  }
  // Any machine running this test is past 2020-01-01.
  CHECK(clock.WallMs() > 1'577'836'800'000);
}

TEST_CASE("the system clock's wall reading is the millisecond the OS clock names at that moment") {
  // Long enough for WallMs() to have measured the TSC and answer from it:
  // a reading it keeps past its millisecond shows up as one older than
  // the OS clock's just before it.
  auto os_ms = [] {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
  };
  SystemClock& clock = SystemClock::Default();
  auto check_for = [&](int64_t duration_ms) {
    int64_t stale = 0;
    int64_t ahead = 0;
    int64_t readings = 0;
    const int64_t end = os_ms() + duration_ms;
    for (int64_t before = os_ms(); before < end; before = os_ms()) {
      const int64_t wall = clock.WallMs();
      const int64_t after = os_ms();
      // A clock step while reading leaves `before` > `after`: no verdict.
      if (before > after) continue;
      stale += wall < before;
      ahead += wall > after;
      ++readings;
    }
    CHECK(readings > 1000);
    CHECK(stale == 0);
    CHECK(ahead == 0);
  };
  check_for(400);
  std::thread other([&] { check_for(50); });  // each thread keeps its own reading
  check_for(50);
  other.join();
}

}  // namespace
}  // namespace evlog
