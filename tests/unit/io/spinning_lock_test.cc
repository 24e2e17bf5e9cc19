#include "evlog/io/spinning_lock.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/support/catch.h"

namespace evlog {
namespace {

TEST_CASE("LockSpinning returns the mutex locked, and relocks an unlocked lock") {
  std::mutex mu;
  std::unique_lock lock = LockSpinning(mu);
  CHECK(lock.owns_lock());
  CHECK(lock.mutex() == &mu);
  CHECK_FALSE(mu.try_lock());
  lock.unlock();
  LockSpinning(lock);
  CHECK(lock.owns_lock());
  CHECK_FALSE(mu.try_lock());
}

TEST_CASE("LockSpinning waits out a holder that keeps the mutex past the spin") {
  std::mutex mu;
  std::unique_lock held(mu);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    std::unique_lock lock = LockSpinning(mu, /*spins=*/10);
    got = true;
  });
  // Far longer than ten pauses: the waiter has gone to sleep on the mutex.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(got.load());
  held.unlock();
  waiter.join();
  CHECK(got.load());
}

// Runs `increments(counter, i)` under test from four threads, 20,000
// times each, and returns the counter: a plain int64, so that a lost
// update shows as a short count (and under TSan).
template <typename Increments>
int64_t CountFromThreads(Increments increments) {
  int64_t counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) increments(counter, i);
    });
  }
  for (std::thread& t : threads) t.join();
  return counter;
}

TEST_CASE("LockSpinning excludes: counters under it add up across threads") {
  std::mutex mu;
  const int64_t counted = CountFromThreads([&](int64_t& counter, int i) {
    std::unique_lock lock = LockSpinning(mu);
    ++counter;
    if (i % 2 == 1) {
      lock.unlock();
      LockSpinning(lock);
      ++counter;
    }
  });
  CHECK(counted == 4 * 20'000 * 3 / 2);
}

TEMPLATE_TEST_CASE("try_lock fails while the lock is held and succeeds after unlock", "",
                   SpinningMutex, SpinLock) {
  TestType mu;
  CHECK(mu.try_lock());
  CHECK_FALSE(mu.try_lock());
  mu.unlock();
  std::unique_lock lock(mu);
  CHECK_FALSE(mu.try_lock());
  lock.unlock();
  CHECK(mu.try_lock());
  mu.unlock();
}

TEMPLATE_TEST_CASE("every waiter a long holder kept out gets the lock after it", "", SpinningMutex,
                   SpinLock) {
  // Three waiters outlast the spin (and SpinLock's yields) and sleep; each
  // unlock must let the next in, or join() hangs (CTest's timeout fails
  // it).
  TestType mu;
  std::unique_lock held(mu);
  std::atomic<int> got{0};
  std::vector<std::thread> waiters;
  for (int t = 0; t < 3; ++t) {
    waiters.emplace_back([&] {
      std::lock_guard lock(mu);
      got.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the next sleeps on
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(got.load() == 0);
  held.unlock();
  for (auto& w : waiters) w.join();
  CHECK(got.load() == 3);
}

TEMPLATE_TEST_CASE("the lock excludes: counters under it add up across threads", "", SpinningMutex,
                   SpinLock) {
  // Four threads on the reference machine's two cores: holders are
  // preempted in their sections, and waiters spin, yield and sleep.
  TestType mu;
  const int64_t counted = CountFromThreads([&](int64_t& counter, int) {
    std::lock_guard lock(mu);
    ++counter;
  });
  CHECK(counted == 4 * 20'000);
}

}  // namespace
}  // namespace evlog
