#include "evlog/io/executor.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "evlog/check.h"
#include "evlog/io/spinning_lock.h"

namespace evlog {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNotWatching = std::numeric_limits<int64_t>::max();

}  // namespace

// ThreadPoolExecutor -------------------------------------------------------

ThreadPoolExecutor::ThreadPoolExecutor(size_t threads, int64_t idle_spin_us)
    : idle_spin_ns_(idle_spin_us * 1'000) {
  EVLOG_CHECK(threads >= 1);
  EVLOG_CHECK(idle_spin_us >= 0);
  sleeping_until_.assign(threads, kNotWatching);
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { Work(i); });
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  {
    std::unique_lock lock = LockSpinning(mu_);
    stopping_ = true;
    changes_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ThreadPoolExecutor::Schedule(Task task) {
  bool notify;
  {
    std::unique_lock lock = LockSpinning(mu_);
    if (stopping_) return;
    ready_.push_back(std::move(task));
    changes_.fetch_add(1, std::memory_order_release);
    notify = spinning_ == 0;
  }
  if (notify) cv_.notify_one();
}

Executor::TaskId ThreadPoolExecutor::ScheduleAfter(int64_t delay_ms, Task task) {
  EVLOG_CHECK(delay_ms >= 0);
  TaskId id;
  bool unwatched;
  {
    std::unique_lock lock = LockSpinning(mu_);
    id = next_id_++;
    if (stopping_) return id;
    const int64_t deadline = NowNs() + delay_ms * kNsPerMs;
    unwatched = deadline < WatchedDeadlineLocked() && spinning_ == 0;
    timers_.emplace(std::make_pair(deadline, id), std::move(task));
    pending_ids_.emplace(id, deadline);
    changes_.fetch_add(1, std::memory_order_release);
  }
  // A worker already sleeping until this deadline or sooner runs it, and
  // wakes another to watch the rest (Work). One woken worker is enough
  // otherwise. (Waking every worker for every timer — linger, request
  // timeouts — cost a wake-up per worker per batch.)
  if (unwatched) cv_.notify_one();
  return id;
}

bool ThreadPoolExecutor::Cancel(TaskId id) {
  std::unique_lock lock = LockSpinning(mu_);
  auto it = pending_ids_.find(id);
  if (it == pending_ids_.end()) return false;
  const size_t erased = timers_.erase(std::make_pair(it->second, id));
  EVLOG_CHECK(erased == 1);
  pending_ids_.erase(it);
  return true;
}

void ThreadPoolExecutor::Spin(std::unique_lock<std::mutex>& lock, int64_t until_ns) {
  ++spinning_;
  const uint64_t seen = changes_.load(std::memory_order_relaxed);
  lock.unlock();
  // Yielding, not pausing: on two cores the thread that will hand this one
  // work may be waiting for the core it spins on.
  while (changes_.load(std::memory_order_acquire) == seen && NowNs() < until_ns) {
    std::this_thread::yield();
  }
  LockSpinning(lock);
  --spinning_;
}

int64_t ThreadPoolExecutor::WatchedDeadlineLocked() const {
  return *std::min_element(sleeping_until_.begin(), sleeping_until_.end());
}

void ThreadPoolExecutor::Work(size_t worker) {
  std::unique_lock lock(mu_);
  // When this worker's idle spin ends; 0 while it has work.
  int64_t spin_until = 0;
  while (true) {
    if (stopping_) return;
    if (!timers_.empty() && timers_.begin()->first.first <= NowNs()) {
      auto node = timers_.extract(timers_.begin());
      pending_ids_.erase(node.key().second);
      ready_.push_back(std::move(node.mapped()));
    }
    if (!ready_.empty()) {
      Task task = std::move(ready_.front());
      ready_.pop_front();
      // ScheduleAfter wakes one worker, and not at all for a timer some
      // sleeper watches: the worker that was woken must pass on what it
      // leaves behind before it runs this one, or a task queued behind this
      // one, or a timer no sleeper watches, waits while another sleeps.
      // A spinning worker needs no notify: it sees the change.
      const bool hand_off =
          spinning_ == 0 && (!ready_.empty() || (!timers_.empty() && timers_.begin()->first.first <
                                                                         WatchedDeadlineLocked()));
      spin_until = 0;
      lock.unlock();
      if (hand_off) cv_.notify_one();
      task();
      // Destroy captures outside the lock: they may schedule or cancel.
      task = nullptr;
      LockSpinning(lock);
      continue;
    }
    if (idle_spin_ns_ > 0) {
      const int64_t now = NowNs();
      if (spin_until == 0) spin_until = now + idle_spin_ns_;
      const int64_t until =
          timers_.empty() ? spin_until : std::min(spin_until, timers_.begin()->first.first);
      if (now < until) {
        Spin(lock, until);
        continue;
      }
    }
    if (timers_.empty()) {
      cv_.wait(lock);
    } else {
      const int64_t deadline = timers_.begin()->first.first;
      sleeping_until_[worker] = deadline;
      cv_.wait_for(lock, std::chrono::nanoseconds(deadline - NowNs()));
      sleeping_until_[worker] = kNotWatching;
    }
  }
}

// ManualExecutor -----------------------------------------------------------

void ManualExecutor::Schedule(Task task) { ScheduleAfter(0, std::move(task)); }

Executor::TaskId ManualExecutor::ScheduleAfter(int64_t delay_ms, Task task) {
  EVLOG_CHECK(delay_ms >= 0);
  std::lock_guard lock(mu_);
  const TaskId id = next_id_++;
  const int64_t deadline = clock_.MonotonicNs() + delay_ms * kNsPerMs;
  tasks_.emplace(std::make_pair(deadline, id), std::move(task));
  pending_ids_.emplace(id, deadline);
  return id;
}

bool ManualExecutor::Cancel(TaskId id) {
  std::lock_guard lock(mu_);
  auto it = pending_ids_.find(id);
  if (it == pending_ids_.end()) return false;
  const size_t erased = tasks_.erase(std::make_pair(it->second, id));
  EVLOG_CHECK(erased == 1);
  pending_ids_.erase(it);
  return true;
}

bool ManualExecutor::RunOne() {
  Task task;
  {
    std::lock_guard lock(mu_);
    if (tasks_.empty() || tasks_.begin()->first.first > clock_.MonotonicNs()) return false;
    auto node = tasks_.extract(tasks_.begin());
    pending_ids_.erase(node.key().second);
    task = std::move(node.mapped());
  }
  task();
  return true;
}

size_t ManualExecutor::RunReady() {
  size_t ran = 0;
  while (RunOne()) ++ran;
  return ran;
}

size_t ManualExecutor::AdvanceMs(int64_t ms) {
  EVLOG_CHECK(ms >= 0);
  const int64_t target = clock_.MonotonicNs() + ms * kNsPerMs;
  size_t ran = RunReady();
  while (true) {
    int64_t next;
    {
      std::lock_guard lock(mu_);
      if (tasks_.empty() || tasks_.begin()->first.first > target) break;
      next = tasks_.begin()->first.first;
    }
    if (next > clock_.MonotonicNs()) clock_.AdvanceNs(next - clock_.MonotonicNs());
    ran += RunReady();
  }
  if (target > clock_.MonotonicNs()) clock_.AdvanceNs(target - clock_.MonotonicNs());
  return ran + RunReady();
}

bool ManualExecutor::RunNextOnCaller() {
  int64_t next;
  {
    std::lock_guard lock(mu_);
    EVLOG_CHECK(!tasks_.empty() &&
                "a blocking call waits on a ManualExecutor with nothing left to run");
    next = tasks_.begin()->first.first;
  }
  if (next > clock_.MonotonicNs()) clock_.AdvanceNs(next - clock_.MonotonicNs());
  return RunOne();
}

size_t ManualExecutor::pending() const {
  std::lock_guard lock(mu_);
  return tasks_.size();
}

// TaskGroup ----------------------------------------------------------------

Executor::Task TaskGroup::Track(std::shared_ptr<State> state, Executor::Task task, uint64_t token) {
  return [state = std::move(state), token, task = std::move(task)]() mutable {
    {
      std::unique_lock lock = LockSpinning(state->mu);
      const bool was_delayed = state->delayed.erase(token) > 0;
      const bool was_queued = state->queued.erase(token) > 0;
      if (state->closed || (!was_delayed && !was_queued)) return;
      ++state->running;
    }
    task();
    task = nullptr;
    std::unique_lock lock = LockSpinning(state->mu);
    if (--state->running == 0) state->idle_cv.notify_all();
  };
}

bool TaskGroup::Schedule(Executor::Task task) {
  uint64_t token;
  {
    std::unique_lock lock = LockSpinning(state_->mu);
    if (state_->closed) return false;
    token = state_->next_token++;
    state_->queued.insert(token);
  }
  executor_.Schedule(Track(state_, std::move(task), token));
  return true;
}

Executor::TaskId TaskGroup::ScheduleAfter(int64_t delay_ms, Executor::Task task) {
  // The executor id is recorded under the lock that the wrapper takes
  // first, so a task that fires at once still finds its entry.
  std::unique_lock lock = LockSpinning(state_->mu);
  if (state_->closed) return 0;
  const uint64_t token = state_->next_token++;
  state_->delayed[token] = executor_.ScheduleAfter(delay_ms, Track(state_, std::move(task), token));
  return token;
}

bool TaskGroup::Cancel(Executor::TaskId token) {
  Executor::TaskId id;
  {
    std::unique_lock lock = LockSpinning(state_->mu);
    auto it = state_->delayed.find(token);
    if (it == state_->delayed.end()) return false;
    id = it->second;
    state_->delayed.erase(it);
  }
  // If it fires anyway, the wrapper finds no entry and does nothing.
  (void)executor_.Cancel(id);
  return true;
}

void TaskGroup::Close() {
  std::vector<Executor::TaskId> ids;
  std::unique_lock lock(state_->mu);
  if (!state_->closed) {
    state_->closed = true;
    for (const auto& [token, id] : state_->delayed) ids.push_back(id);
    state_->delayed.clear();
    state_->queued.clear();
  }
  state_->idle_cv.wait(lock, [this] { return state_->running == 0; });
  lock.unlock();
  for (Executor::TaskId id : ids) (void)executor_.Cancel(id);
}

}  // namespace evlog
