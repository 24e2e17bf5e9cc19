#include "evlog/io/spinning_lock.h"

#include <chrono>
#include <thread>

namespace evlog {

void SpinLock::LockContended() {
  // As SpinningMutex, spin first.
  if (internal::TryLockSpinning(*this, internal::kLockSpins)) return;
  // Then the holder has probably been preempted: give way to it, for
  // about as long again as a time slice takes to come round, then sleep.
  constexpr int kYields = 100;
  for (int tries = 0;; ++tries) {
    if (try_lock()) return;
    if (tries < kYields) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

}  // namespace evlog
