// evlog/io/executor.h — where background work runs.
//
// Components never start threads of their own. Timers (a producer's
// linger), periodic work (retention, flush) and anything else that must
// happen later are tasks handed to an Executor, so the same component runs
// on a thread pool in production and, deterministically, on a
// ManualExecutor driven by a ManualClock in tests:
//
//   evlog::ManualClock clock;
//   evlog::ManualExecutor executor(clock);
//   executor.ScheduleAfter(5, [] { ... });   // linger of 5 ms
//   executor.AdvanceMs(5);                    // runs it, on this thread
//
// A component that schedules tasks owns a TaskGroup over the executor and
// closes it before it goes away: Close() cancels what has not started and
// waits for what is running, so no task outlives the object it touches.
//
// Thread-safety: every method of every class here is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "evlog/io/clock.h"

namespace evlog {

class Executor {
 public:
  using Task = absl::AnyInvocable<void()>;
  // Identifies a delayed task for Cancel; never 0.
  using TaskId = uint64_t;

  virtual ~Executor() = default;

  // Runs `task` soon, on an executor thread (ManualExecutor: on the thread
  // that next calls RunReady or AdvanceMs).
  virtual void Schedule(Task task) = 0;

  // Runs `task` once `delay_ms` (>= 0) has passed on the executor's clock.
  virtual TaskId ScheduleAfter(int64_t delay_ms, Task task) = 0;

  // Removes a task scheduled with ScheduleAfter. True when it had not
  // started (it never will); false when it ran, is running or is unknown.
  virtual bool Cancel(TaskId id) = 0;

  // For a caller about to wait for work of this executor's (a blocking
  // client call whose answer comes from tasks): an executor that runs only
  // when driven (ManualExecutor) runs its next task on the calling thread,
  // moving its clock to that task's deadline, and returns true (it
  // check-fails when it has nothing left to run: the wait could never
  // end). An executor with threads of its own returns false at once: the
  // caller just waits. Never call it from one of the executor's tasks.
  virtual bool RunNextOnCaller() { return false; }
};

// Waits until `ready()` holds, its answer coming from tasks on `executor`:
// drives the executor while it runs only when driven (RunNextOnCaller), so
// that blocking calls work in a single-threaded deterministic test too;
// otherwise calls `wait()`, which must block until ready() holds.
template <typename Ready, typename Wait>
void AwaitUntil(Executor& executor, Ready ready, Wait wait) {
  while (!ready()) {
    if (!executor.RunNextOnCaller()) {
      wait();
      return;
    }
  }
}

// Waits, as AwaitUntil, until `ready()` holds under `mu`, which the tasks
// that make it hold signal through `cv`.
template <typename Mutex, typename CondVar, typename Ready>
void AwaitCondition(Executor& executor, Mutex& mu, CondVar& cv, Ready ready) {
  AwaitUntil(
      executor,
      [&] {
        std::lock_guard lock(mu);
        return ready();
      },
      [&] {
        std::unique_lock lock(mu);
        cv.wait(lock, ready);
      });
}

// Waits for `result` (fulfilled by tasks on `executor`), as AwaitUntil.
template <typename T>
T AwaitOn(Executor& executor, std::future<T> result) {
  AwaitUntil(
      executor,
      [&] { return result.wait_for(std::chrono::seconds(0)) == std::future_status::ready; },
      [&] { result.wait(); });
  return result.get();
}

// Calls `start` with a callback taking a T, and waits (AwaitOn) until that
// callback has run: the synchronous form of an asynchronous call.
template <typename T, typename Start>
T AwaitCallback(Executor& executor, Start&& start) {
  std::promise<T> promise;
  std::future<T> result = promise.get_future();
  start([&promise](T value) { promise.set_value(std::move(value)); });
  return AwaitOn(executor, std::move(result));
}

// A fixed number of threads serving an immediate queue and a timer queue
// in real (monotonic) time. The destructor stops the threads after the
// tasks that are running finish; tasks not yet started are dropped
// (owners close their TaskGroup first, so none of theirs are left).
//
// A worker that runs out of work first spins for `idle_spin_us` (polling,
// yielding its core to other runnable threads) before it sleeps on a
// condition variable. Work handed between threads in quick succession — a
// request and its answer, a follower's fetch — then costs no futex wake-up
// (tens of microseconds on a virtual machine) on either side. 0 disables
// it: an idle worker sleeps at once, and costs no CPU.
class ThreadPoolExecutor final : public Executor {
 public:
  static constexpr int64_t kDefaultIdleSpinUs = 50;

  // REQUIRES: threads >= 1, idle_spin_us >= 0.
  explicit ThreadPoolExecutor(size_t threads = 1, int64_t idle_spin_us = kDefaultIdleSpinUs);
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  void Schedule(Task task) override;
  TaskId ScheduleAfter(int64_t delay_ms, Task task) override;
  bool Cancel(TaskId id) override;

 private:
  void Work(size_t worker);
  // Polls changes_ with `lock` released until it moves or until_ns.
  void Spin(std::unique_lock<std::mutex>& lock, int64_t until_ns);
  // The earliest deadline an idle worker sleeps until (INT64_MAX if none):
  // a timer due before it has no worker watching for it.
  int64_t WatchedDeadlineLocked() const;

  const int64_t idle_spin_ns_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  // Bumped (under mu_) by everything that may give an idle worker work:
  // spinning workers poll it instead of waiting for a notify.
  std::atomic<uint64_t> changes_{0};
  // Workers spinning now: while there is one, nobody needs a notify.
  int spinning_ = 0;
  // Per worker, the deadline it sleeps until, or INT64_MAX while it runs a
  // task or sleeps until notified. A sleeper's deadline is the earliest
  // timer when it went to sleep: a sooner timer scheduled later, whose
  // notify went to another worker, is not what it watches.
  std::vector<int64_t> sleeping_until_;
  std::deque<Task> ready_;
  // Delayed tasks by (deadline in monotonic ns, id): ids grow, so ties run
  // in the order they were scheduled.
  std::map<std::pair<int64_t, TaskId>, Task> timers_;
  // id -> deadline, to find a timer to cancel.
  absl::flat_hash_map<TaskId, int64_t> pending_ids_;
  TaskId next_id_ = 1;
  std::vector<std::thread> threads_;
};

// Runs tasks only when told to, on the calling thread, in time order on a
// ManualClock: the executor of tests and of the deterministic simulator.
class ManualExecutor final : public Executor {
 public:
  // `clock` must outlive the executor; AdvanceMs moves it.
  explicit ManualExecutor(ManualClock& clock) : clock_(clock) {}

  void Schedule(Task task) override;
  TaskId ScheduleAfter(int64_t delay_ms, Task task) override;
  bool Cancel(TaskId id) override;

  // Runs every task that is due now, including tasks they schedule that
  // are due now too. Returns how many ran.
  size_t RunReady();
  // Moves the clock forward by `ms` (>= 0), stopping at each deadline on
  // the way to run the tasks due there, in deadline order (ties in the
  // order scheduled). Returns how many ran.
  size_t AdvanceMs(int64_t ms);
  // Tasks waiting (ready or delayed).
  size_t pending() const;
  // Runs the earliest task, moving the clock to its deadline first when it
  // is in the future. Check-fails when there is none.
  bool RunNextOnCaller() override;

 private:
  // Runs one due task; false when none is due.
  bool RunOne();

  ManualClock& clock_;
  mutable std::mutex mu_;
  std::map<std::pair<int64_t, TaskId>, Task> tasks_;
  // id -> deadline, to find a task to cancel.
  absl::flat_hash_map<TaskId, int64_t> pending_ids_;
  TaskId next_id_ = 1;
};

// The tasks one component has handed to an executor. Close() cancels those
// that have not started and waits for those that are running; after it,
// scheduling through the group does nothing. Close() must not be called
// from one of the group's own tasks.
class TaskGroup {
 public:
  // `executor` must outlive the group.
  explicit TaskGroup(Executor& executor) : executor_(executor) {}
  // Closes the group.
  ~TaskGroup() { Close(); }
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // As Executor::Schedule / ScheduleAfter / Cancel; returns false / 0 when
  // the group is closed.
  bool Schedule(Executor::Task task);
  Executor::TaskId ScheduleAfter(int64_t delay_ms, Executor::Task task);
  bool Cancel(Executor::TaskId id);

  void Close();
  Executor& executor() { return executor_; }

 private:
  // Shared with the wrappers handed to the executor, which may run (as
  // no-ops) after the group is gone.
  struct State {
    std::mutex mu;
    std::condition_variable idle_cv;
    bool closed = false;
    int running = 0;
    uint64_t next_token = 1;
    // Delayed tasks not yet started: token -> executor id.
    std::map<uint64_t, Executor::TaskId> delayed;
    // Immediate tasks not yet started (they cannot be cancelled at the
    // executor; a closed group turns them into no-ops).
    absl::flat_hash_set<uint64_t> queued;
  };

  static Executor::Task Track(std::shared_ptr<State> state, Executor::Task task, uint64_t token);

  Executor& executor_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace evlog
