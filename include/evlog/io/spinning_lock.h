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
}  // namespace internal

// Takes the mutex of `lock` (which must not own it): tries it up to `spins`
// times, pausing between tries, then blocks on it.
inline void LockSpinning(std::unique_lock<std::mutex>& lock, int spins = 200) {
  for (int i = 0; i < spins; ++i) {
    if (lock.try_lock()) return;
    internal::CpuRelax();
  }
  lock.lock();
}

// The same for `mu`; returns it locked.
inline std::unique_lock<std::mutex> LockSpinning(std::mutex& mu, int spins = 200) {
  std::unique_lock<std::mutex> lock(mu, std::defer_lock);
  LockSpinning(lock, spins);
  return lock;
}

}  // namespace evlog
