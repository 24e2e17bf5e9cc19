#include "evlog/io/executor.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "tests/support/catch.h"

namespace evlog {
namespace {

// Hands `schedule` two tasks that each wait (up to 5 s) for the other to
// start, and waits for both: true when they ran at the same time, i.e. on
// two workers.
template <typename Schedule>
bool RanSideBySide(Schedule schedule) {
  std::atomic<int> started{0};
  std::atomic<int> met{0};
  std::promise<void> first_done;
  std::promise<void> second_done;
  auto meet = [&](std::promise<void>& done) {
    ++started;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (started < 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    if (started == 2) ++met;
    done.set_value();
  };
  schedule([&] { meet(first_done); });
  schedule([&] { meet(second_done); });
  REQUIRE(first_done.get_future().wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  REQUIRE(second_done.get_future().wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  return met == 2;
}

// Schedules a task `delay_ms` from now and checks that it runs (within
// 10 s), and not before its delay.
void CheckRunsAfterDelay(Executor& executor, int64_t delay_ms) {
  const auto scheduled = std::chrono::steady_clock::now();
  std::promise<std::chrono::steady_clock::time_point> ran;
  executor.ScheduleAfter(delay_ms, [&] { ran.set_value(std::chrono::steady_clock::now()); });
  auto future = ran.get_future();
  REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(future.get() - scheduled >= std::chrono::milliseconds(delay_ms));
}

TEST_CASE("a manual executor runs delayed tasks in deadline order as time advances") {
  ManualClock clock;
  ManualExecutor executor(clock);
  std::vector<int> order;
  executor.ScheduleAfter(30, [&] { order.push_back(30); });
  executor.ScheduleAfter(10, [&] { order.push_back(10); });
  executor.ScheduleAfter(10, [&] { order.push_back(11); });  // same deadline: scheduled order
  executor.Schedule([&] { order.push_back(0); });
  CHECK(executor.RunReady() == 1);
  CHECK(order == std::vector<int>{0});
  CHECK(executor.AdvanceMs(9) == 0);
  CHECK(executor.AdvanceMs(1) == 2);
  CHECK(order == std::vector<int>{0, 10, 11});
  CHECK(executor.AdvanceMs(100) == 1);
  CHECK(order == std::vector<int>{0, 10, 11, 30});
  CHECK(clock.MonotonicNs() == 110'000'000);
  CHECK(executor.pending() == 0);
}

TEST_CASE("a task sees the clock at its own deadline, and tasks it schedules run on time") {
  ManualClock clock;
  ManualExecutor executor(clock);
  std::vector<int64_t> seen_ms;
  std::function<void()> tick = [&] {
    seen_ms.push_back(clock.MonotonicNs() / 1'000'000);
    if (seen_ms.size() < 4) executor.ScheduleAfter(7, tick);
  };
  executor.ScheduleAfter(7, tick);
  executor.AdvanceMs(100);
  CHECK(seen_ms == std::vector<int64_t>{7, 14, 21, 28});
}

TEST_CASE("a cancelled task never runs, and cancelling twice or after running says false") {
  ManualClock clock;
  ManualExecutor executor(clock);
  int ran = 0;
  const Executor::TaskId a = executor.ScheduleAfter(5, [&] { ++ran; });
  const Executor::TaskId b = executor.ScheduleAfter(5, [&] { ran += 10; });
  CHECK(executor.Cancel(a));
  CHECK_FALSE(executor.Cancel(a));
  executor.AdvanceMs(5);
  CHECK(ran == 10);
  CHECK_FALSE(executor.Cancel(b));
  CHECK_FALSE(executor.Cancel(12345));
}

TEST_CASE("a thread pool runs immediate tasks and timers, not before their delay") {
  ThreadPoolExecutor executor(2);
  std::promise<void> immediate;
  executor.Schedule([&] { immediate.set_value(); });
  CHECK(immediate.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);

  CheckRunsAfterDelay(executor, 20);
}

// Two timers due together, each waiting for the other to start: they
// finish only if they run on both threads at once. A worker woken for the
// first must not leave the second to a worker that sleeps without a
// deadline, nor a task queued behind one that is running.
TEST_CASE("a thread pool runs timers due together, and tasks queued together, side by side") {
  ThreadPoolExecutor executor(2);
  for (const bool timers : {true, false}) {
    INFO((timers ? "timers" : "immediate tasks"));
    // Both workers idle, waiting without a deadline (no timer pending).
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(RanSideBySide([&](Executor::Task task) {
      if (timers) {
        executor.ScheduleAfter(50, std::move(task));
      } else {
        executor.Schedule(std::move(task));
      }
    }));
  }
}

// Both workers sleep until a far timer. Two tasks due now arrive: the
// worker woken for the first must wake the other for the second, although
// that one is already waiting with a deadline (a stale, far one).
TEST_CASE("a thread pool wakes a worker sleeping on a far timer for a timer due sooner") {
  ThreadPoolExecutor executor(2);
  executor.ScheduleAfter(60'000, [] {});
  for (int round = 0; round < 20; ++round) {
    INFO("round " << round);
    // Both workers idle, each waiting for the 60 s timer.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(RanSideBySide([&](Executor::Task task) { executor.ScheduleAfter(0, std::move(task)); }));
  }
}

// Idle workers spin before they sleep, watching for work without a notify:
// with a spin far longer than the test, everything must still run on time,
// and the pool must still stop at once.
TEST_CASE("a thread pool whose idle workers spin still runs tasks and timers on time") {
  const auto start = std::chrono::steady_clock::now();
  {
    ThreadPoolExecutor executor(2, /*idle_spin_us=*/60'000'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // both spinning
    std::promise<void> immediate;
    executor.Schedule([&] { immediate.set_value(); });
    CHECK(immediate.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);

    // A far timer first, so the spinners' deadline is it; then a sooner one.
    executor.ScheduleAfter(60'000, [] {});
    CheckRunsAfterDelay(executor, 30);

    // Two tasks that must run side by side: the one spinner that sees them
    // takes one and leaves the other to the second worker.
    CHECK(RanSideBySide([&](Executor::Task task) { executor.Schedule(std::move(task)); }));
  }
  // The destructor did not wait out the spin.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
}

TEST_CASE("a thread pool's cancelled timer does not run") {
  ThreadPoolExecutor executor(1);
  std::atomic<int> ran{0};
  const Executor::TaskId id = executor.ScheduleAfter(50, [&] { ran = 1; });
  CHECK(executor.Cancel(id));
  std::promise<void> later;
  executor.ScheduleAfter(80, [&] { later.set_value(); });
  REQUIRE(later.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(ran == 0);
}

TEST_CASE("closing a task group cancels its timers and waits for a running task") {
  ThreadPoolExecutor executor(2);
  std::atomic<int> timer_ran{0};
  std::atomic<bool> finished{false};
  std::promise<void> started;
  {
    TaskGroup group(executor);
    group.ScheduleAfter(60'000, [&] { timer_ran = 1; });
    group.Schedule([&] {
      started.set_value();
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      finished = true;
    });
    started.get_future().wait();
    group.Close();
    CHECK(finished);  // Close waited for it
    CHECK_FALSE(group.Schedule([&] { timer_ran = 2; }));
    CHECK(group.ScheduleAfter(0, [&] { timer_ran = 3; }) == 0);
  }
  CHECK(timer_ran == 0);
}

TEST_CASE("a task group's cancelled task does not run even when its executor fires it") {
  ManualClock clock;
  ManualExecutor executor(clock);
  TaskGroup group(executor);
  int ran = 0;
  const Executor::TaskId token = group.ScheduleAfter(5, [&] { ++ran; });
  group.Schedule([&] { ran += 10; });
  CHECK(group.Cancel(token));
  CHECK_FALSE(group.Cancel(token));
  executor.AdvanceMs(10);
  CHECK(ran == 10);
  group.Close();
  group.Schedule([&] { ran += 100; });
  executor.RunReady();
  CHECK(ran == 10);
}

TEST_CASE("immediate tasks queued before a group closes become no-ops") {
  ManualClock clock;
  ManualExecutor executor(clock);
  int ran = 0;
  {
    TaskGroup group(executor);
    group.Schedule([&] { ++ran; });
  }
  CHECK(executor.RunReady() == 1);  // the wrapper runs, the task does not
  CHECK(ran == 0);
}

}  // namespace
TEST_CASE("waiting on a manual executor drives it, clock and all, until the answer comes") {
  ManualClock clock(0);
  ManualExecutor executor(clock);
  std::promise<int> promise;
  std::vector<int> ran;
  executor.ScheduleAfter(50, [&] { ran.push_back(50); });
  executor.ScheduleAfter(20, [&] {
    ran.push_back(20);
    // The answer comes from a task that a task scheduled.
    executor.ScheduleAfter(10, [&] { promise.set_value(7); });
  });
  CHECK(AwaitOn(executor, promise.get_future()) == 7);
  // It ran what came before the answer, in deadline order, and no more.
  CHECK(ran == std::vector<int>{20});
  CHECK(clock.MonotonicNs() == 30 * 1'000'000);
  CHECK(executor.pending() == 1);
}

TEST_CASE("waiting on a thread pool just waits for its threads") {
  ThreadPoolExecutor pool(1);
  std::promise<int> promise;
  pool.ScheduleAfter(5, [&] { promise.set_value(3); });
  CHECK(!pool.RunNextOnCaller());
  CHECK(AwaitOn(pool, promise.get_future()) == 3);
}

}  // namespace evlog
