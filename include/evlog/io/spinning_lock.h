// evlog/io/spinning_lock.h — taking a briefly held mutex without sleeping.
//
// A std::mutex that is taken goes to sleep at once (a futex wait), and its
// holder wakes it on release: a round trip of tens of µs on a virtual
// machine, for a lock held a few hundred ns. Where threads hand work to each
// other through a mutex held that briefly — a producer's sender and the
// thread completing its batches, the thread pool's queue — LockSpinning
// first tries for a few µs, as glibc's adaptive mutexes do, and sleeps only
// if the holder is still there (it may have been preempted).
//
// Thread-safety: as the mutex's own lock().
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace evlog {

namespace internal {
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Tries before a lock gives up spinning: a few µs of pauses, which covers
// a holder that is running.
inline constexpr int kLockSpins = 200;

// Tries `lockable` up to `spins` times, pausing between tries.
template <typename Lockable>
bool TryLockSpinning(Lockable& lockable, int spins) {
  for (int i = 0; i < spins; ++i) {
    if (lockable.try_lock()) return true;
    CpuRelax();
  }
  return false;
}
}  // namespace internal

// Takes the mutex of `lock` (which must not own it): tries it up to `spins`
// times, pausing between tries, then blocks on it.
inline void LockSpinning(std::unique_lock<std::mutex>& lock, int spins = internal::kLockSpins) {
  if (!internal::TryLockSpinning(lock, spins)) lock.lock();
}

// The same for `mu`; returns it locked.
inline std::unique_lock<std::mutex> LockSpinning(std::mutex& mu, int spins = internal::kLockSpins) {
  std::unique_lock<std::mutex> lock(mu, std::defer_lock);
  LockSpinning(lock, spins);
  return lock;
}

// A mutex for sections held briefly that threads hand work through (a
// producer's accumulator, taken for every record sent). lock() and unlock()
// are one inline atomic each, without std::mutex's calls into libc; a
// contended lock() spins as LockSpinning does, then sleeps on the atomic
// (a futex), and unlock() wakes a sleeper only when one may be there.
// Satisfies Lockable; wait on it with std::condition_variable_any.
class SpinningMutex {
 public:
  SpinningMutex() = default;
  SpinningMutex(const SpinningMutex&) = delete;
  SpinningMutex& operator=(const SpinningMutex&) = delete;

  void lock() {
    uint32_t expected = kFree;
    if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire)) [[likely]] {
      return;
    }
    LockContended();
  }
  bool try_lock() {
    // Read first: spinners then share the line instead of taking it
    // from the holder on every try.
    uint32_t expected = kFree;
    return state_.load(std::memory_order_relaxed) == kFree &&
           state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire);
  }
  void unlock() {
    if (state_.exchange(kFree, std::memory_order_release) == kContended) [[unlikely]] {
      state_.notify_one();
    }
  }

 private:
  static constexpr uint32_t kFree = 0;
  static constexpr uint32_t kLocked = 1;
  // Locked, and a thread may be asleep waiting for it.
  static constexpr uint32_t kContended = 2;

  void LockContended() {
    if (internal::TryLockSpinning(*this, internal::kLockSpins)) return;
    // Whoever takes it from here on marks it contended, since other
    // sleepers may remain: an unlock then wakes one more than needed at
    // worst, never one fewer.
    while (state_.exchange(kContended, std::memory_order_acquire) != kFree) {
      state_.wait(kContended, std::memory_order_relaxed);
    }
  }

  std::atomic<uint32_t> state_{kFree};
};

// A lock for sections held well under a µs that other threads rarely want
// (a producer's lane: taken by its own thread for every record, by others
// only to close its batch). lock() is one atomic and unlock() a plain
// store: unlike SpinningMutex there is no sleeper to look for, so the
// owner's common path has one atomic read-modify-write instead of two. A
// contended lock() spins, then yields the CPU between tries (a holder
// preempted in its section gets to finish it), then sleeps 50 µs between
// tries. Never hold it across anything that waits for another thread to
// make progress. Satisfies Lockable (not for condition variables).
class SpinLock {
 public:
  SpinLock() = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock() {
    if (!locked_.exchange(true, std::memory_order_acquire)) [[likely]] {
      return;
    }
    LockContended();
  }
  bool try_lock() {
    // Read first, as SpinningMutex::try_lock.
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  void LockContended();

  std::atomic<bool> locked_{false};
};

}  // namespace evlog
