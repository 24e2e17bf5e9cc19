// Consumer-group benchmarks (issue 5): rebalances of real Consumers on one
// Broker, the longest pause a rebalance puts into a member's consumption,
// and offset commits and auto-commit through a group member, each beside a
// baseline measured in the same run.
//
//   build/<dir>/bench/evlog_rebalance_bench
//   build/<dir>/bench/evlog_rebalance_bench --benchmark_filter=BM_Rebalance/
//
// Rows:
//   BM_Rebalance/<protocol>_<scenario>
//       100 members, 10 topics x 100 partitions, every member subscribed to
//       all ten; all polled round-robin from one thread with Poll(0),
//       heartbeat_interval_ms 10, auto-commit on (the default), no records.
//       protocol: cooperative (the default: cooperative-sticky, KIP-429),
//       eager_range, eager_sticky. scenario: form (100 members subscribe to
//       a new group), join (a steady group of 100, one more subscribes),
//       leave (a steady group of 101, the newest member closes). Time (manual)
//       from the first call of the change until every member holds the
//       final assignment of a Stable group; counters per rebalance:
//       generations, moved (partitions whose owner changed), revoked
//       (partitions handed to OnPartitionsRevoked, the leaver's own
//       included), poll_rounds.
//   BM_RebalanceGap/<protocol>
//       10 members of one 100-partition topic, each Polling on its own
//       thread (heartbeat_interval_ms 100, members started 10 ms apart so
//       that their heartbeats are spread as those of consumers started at
//       different times), while a thread appends a 100-byte record to
//       every partition every 2 ms. One member joins; for each partition whose
//       owner is the same before and after, the longest time between two Polls that returned its
//       records, over gaps that overlap the rebalance window (the join until the last member took
//       its final assignment): gap_max_ms is the longest over those partitions, gap_median_ms their
//       median. Baseline: the steady 2 s before the join, cut into
//       windows as long as the rebalance's, the same statistics per window;
//       base_gap_max_ms is the median window's longest gap, base_gap_worst_ms
//       the worst window's. gap_ratio = gap_max_ms / base_gap_max_ms.
//       append_gap_max_ms: the appender's own longest pause between ticks in
//       the window (base_: in the median steady window), a gap that no
//       consumer causes. One rebalance per iteration, manual time = the
//       window.
//   BM_OffsetCommit/<fs>_<via>/partitions:<n>
//       one commit of n partitions' offsets per iteration, through
//       Consumer::CommitSync or Consumer::CommitAsync of a group member
//       (async: 64 commits issued, then Poll(0) until their callbacks ran),
//       against OffsetStore::CommitOffsets on a store of its own and a raw
//       Partition append of the same batch to a topic configured as
//       `__consumer_offsets` (as bench/offset_commit_bench.cc measures
//       them). fs: mem (MemFileSystem) or posix ($TMPDIR; every commit is
//       fdatasync'ed there).
//   BM_ConsumeAutoCommit/<fs>
//       three group members (each in a group of its own) take turns, in
//       every iteration, reading 100,000 records (10 partitions, 100-byte
//       values, in memory or the page cache) from the beginning with
//       Poll(100): auto-commit off, every 5,000 ms (the default) and every
//       10 ms. Counters per reader: records_per_s_<off|5000|10>,
//       ratio_<5000|10> (its rate over the rate with auto-commit off) and
//       commit_records_<...> (offset records it wrote per iteration).
//
// Threads or one thread. The rebalance rows poll every member from one
// thread: the time a rebalance takes is decided by the protocol's round
// trips (heartbeat, join, sync), and one thread keeps 100 members from
// fighting over 2 CPUs. The gap rows cannot: from one thread, the leader's
// Assign() and every member's rejoin would stall all the others' Polls, a
// gap the loop makes, not the library. Applications run one consumer per
// thread, so the gap rows do too, and the baseline is measured with the
// same threads in the same run. That is also why the gap rows have 10
// members, not 100: 100 polling threads on 2 vCPUs would measure the
// scheduler.
//
// EVLOG_BENCH_LOG=1 prints the brokers' group log (joins, syncs, states)
// to stderr with timestamps, to take a slow or hung rebalance apart.
//
// Everything is on a MemFileSystem (a 1,000-partition topic on ext4 would
// spend most of a minute creating 3,000 files) except the `posix` commit
// and consume rows, under $TMPDIR (or /tmp), removed at the end. A smoke
// run (--benchmark_min_time below 0.05, as the CTest smoke test) shrinks
// the groups, topics and windows (see SmokeRun).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench_support.h"
#include "evlog/broker/broker.h"
#include "evlog/bytes.h"
#include "evlog/client/consumer.h"
#include "evlog/group/consumer_protocol.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/group/offset_commit_record.h"
#include "evlog/group/offset_store.h"
#include "evlog/group/range_assignor.h"
#include "evlog/group/sticky_assignor.h"
#include "evlog/io/log_sink.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/partition/topic_config.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/types.h"

namespace evlog {
namespace {

using bench::Die;
using bench::Must;
using bench::SmokeRun;
using bench::TempDir;

// Heartbeats tell members that a rebalance started: the interval bounds
// how soon a member that is not itself changing notices one.
constexpr int64_t kHeartbeatIntervalMs = 10;
// A rebalance that has not finished after this long is a hang, not a
// figure: the row fails.
constexpr int64_t kSettleTimeoutMs = 30'000;

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// --- The broker ------------------------------------------------------------------

// Every row has one group, whose commits all go to one partition of
// `__consumer_offsets`: one partition instead of the default 8 changes no
// figure and saves creating 21 files per broker (10-16 ms each on ext4).
OffsetStoreOptions OffsetStoreRowOptions() {
  OffsetStoreOptions options;
  options.partition_count = 1;
  return options;
}

// With EVLOG_BENCH_LOG set, the brokers' diagnostics (group states,
// joins, syncs) go to stderr, stamped with ms since the process started:
// how a slow or hung rebalance is taken apart.
class StampedLogSink final : public LogSink {
 public:
  void Log(LogLevel level, std::string_view component, std::string_view message) override {
    std::lock_guard lock(mu_);
    std::fprintf(stderr, "%10.3f %s %.*s: %.*s\n", Ms(SteadyNs() - start_ns_),
                 std::string(LogLevelName(level)).c_str(), static_cast<int>(component.size()),
                 component.data(), static_cast<int>(message.size()), message.data());
  }
  bool Enabled(LogLevel level) const override { return level >= LogLevel::kInfo; }

  static LogSink* IfWanted() {
    static StampedLogSink sink;
    return std::getenv("EVLOG_BENCH_LOG") != nullptr ? &sink : nullptr;
  }

 private:
  const int64_t start_ns_ = SteadyNs();
  std::mutex mu_;
};

enum class Fs { kMemory, kPosix };

// A broker on a MemFileSystem or under $TMPDIR, durability none for the
// data topics (the offsets topic syncs every commit whatever the default).
class GroupBroker {
 public:
  explicit GroupBroker(Fs fs) {
    BrokerOptions options;
    if (fs == Fs::kMemory) {
      options.data_dir = "/data";
      options.file_system = &mem_;
      // A MemFileSystem holds each preallocated index at its full size
      // (10 MiB by default): keep them small, as the tests do.
      options.topic_defaults.log.segment_index_bytes = 64 << 10;
    } else {
      dir_ = std::make_unique<TempDir>("broker");
      options.data_dir = dir_->Sub("data");
      options.file_system = &posix_;
    }
    options.topic_defaults.log.durability = Durability::kNone;
    options.topic_defaults.log.retention_ms = -1;
    options.log_sink = StampedLogSink::IfWanted();
    broker_ = Must(Broker::Open(std::move(options)), "Broker::Open");
  }
  ~GroupBroker() { Must(broker_->Close(), "Broker::Close"); }
  GroupBroker(const GroupBroker&) = delete;
  GroupBroker& operator=(const GroupBroker&) = delete;

  Broker& broker() { return *broker_; }

  // Starts the coordinator; initial_rebalance_delay_ms is 0, the default
  // here (Kafka's broker waits 3 s for more members of a new group).
  GroupCoordinator& StartCoordinator() {
    GroupCoordinatorOptions options;
    options.initial_rebalance_delay_ms = 0;
    options.offset_store = OffsetStoreRowOptions();
    coordinator_ = Must(GroupCoordinator::ForBroker(*broker_, &options), "ForBroker");
    return *coordinator_;
  }
  GroupCoordinator& coordinator() { return *coordinator_; }

  // Topics <prefix>-0.. of `partitions` partitions each.
  std::vector<std::string> CreateTopics(std::string_view prefix, int topics, int32_t partitions) {
    std::vector<std::string> names;
    for (int t = 0; t < topics; ++t) {
      names.push_back(absl::StrCat(std::string(prefix), "-", t));
      Must(broker_->CreateTopic(names.back(), NewTopic(partitions)), "CreateTopic");
    }
    return names;
  }

  std::shared_ptr<Partition> GetPartition(const std::string& topic, int32_t partition) {
    return Must(broker_->GetPartition(TopicPartition(topic, partition)), "GetPartition");
  }

 private:
  MemFileSystem mem_;
  PosixFileSystem posix_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Broker> broker_;
  std::shared_ptr<GroupCoordinator> coordinator_;
};

// A batch of `records` records of `value_bytes` each (null keys), reusable:
// Partition::Append rewrites only the base offset and leader epoch, which
// the CRC does not cover.
class Batch {
 public:
  Batch(int records, size_t value_bytes) : value_(value_bytes, std::byte{'v'}) {
    for (int i = 0; i < records; ++i) {
      Must(builder_.Append(1'700'000'000'000, std::nullopt, ByteView(value_)), "Append");
    }
    batch_ = Must(builder_.Finish(), "Finish");
  }
  void AppendTo(Partition& partition) {
    AppendOptions options;
    options.trusted = true;
    Must(partition.Append(batch_, options).status(), "Partition::Append");
  }

 private:
  std::vector<std::byte> value_;
  RecordBatchBuilder builder_;
  MutableByteView batch_;
};

// --- Group members -----------------------------------------------------------------

enum class Protocol { kCooperative, kEagerRange, kEagerSticky };

ConsumerOptions MemberOptions(std::string group_id, Protocol protocol, int id,
                              int64_t heartbeat_interval_ms = kHeartbeatIntervalMs) {
  ConsumerOptions options;
  options.group_id = std::move(group_id);
  options.client_id = absl::StrCat("member-", id);
  options.heartbeat_interval_ms = heartbeat_interval_ms;
  switch (protocol) {
    case Protocol::kCooperative:
      break;  // the default: cooperative-sticky
    case Protocol::kEagerRange:
      options.partition_assignment_strategy = {AnyAssignor(RangeAssignor())};
      break;
    case Protocol::kEagerSticky:
      options.partition_assignment_strategy = {AnyAssignor(StickyAssignor())};
      break;
  }
  return options;
}

// Adds what OnPartitionsRevoked is given to a counter shared by a group.
class CountingListener final : public ConsumerRebalanceListener {
 public:
  explicit CountingListener(int64_t& revoked) : revoked_(revoked) {}
  void OnPartitionsRevoked(const std::vector<TopicPartition>& partitions) override {
    revoked_ += static_cast<int64_t>(partitions.size());
  }
  void OnPartitionsAssigned(const std::vector<TopicPartition>&) override {}

 private:
  int64_t& revoked_;
};

using Owners = std::map<TopicPartition, int>;

int64_t Moved(const Owners& before, const Owners& after) {
  int64_t moved = 0;
  for (const auto& [tp, owner] : after) {
    auto it = before.find(tp);
    if (it == before.end() || it->second != owner) ++moved;
  }
  return moved;
}

// What one member has, as a settled group must show it.
struct MemberView {
  int id = -1;
  std::string member_id;
  Generation generation{-1};
  std::vector<TopicPartition> assignment;
};

// True when the coordinator's group is Stable at the members' generation,
// every member holds exactly what the coordinator handed it, and together
// they own all `partitions`. The consumers' view alone is not enough: in a
// cooperative first round every member still holds its old partitions, a
// full cover, until its SyncGroup answer arrives.
bool Settled(GroupCoordinator& coordinator, std::string_view group_id,
             const std::vector<MemberView>& members, size_t partitions) {
  if (members.empty()) return false;
  const Generation generation = members.front().generation;
  if (generation.value() < 1) return false;
  size_t owned = 0;
  for (const MemberView& m : members) {
    if (m.generation != generation) return false;
    owned += m.assignment.size();
  }
  if (owned != partitions) return false;
  absl::StatusOr<GroupDescription> d = coordinator.DescribeGroup(group_id);
  if (!d.ok() || d->state != GroupState::kStable || d->generation != generation ||
      d->members.size() != members.size()) {
    return false;
  }
  std::map<std::string_view, const GroupMemberDescription*> by_id;
  for (const GroupMemberDescription& m : d->members) by_id[m.member_id] = &m;
  for (const MemberView& m : members) {
    auto it = by_id.find(m.member_id);
    if (it == by_id.end()) return false;
    absl::StatusOr<ConsumerAssignment> given = DecodeAssignment(it->second->assignment);
    if (!given.ok() || given->partitions != m.assignment) return false;
  }
  return true;
}

// --- 1. Rebalance time, round-robin from one thread ------------------------------------

struct Shape {
  int members;
  int topics;
  int32_t partitions_per_topic;
  size_t partitions() const {
    return static_cast<size_t>(topics) * static_cast<size_t>(partitions_per_topic);
  }
};

Shape RebalanceShape() { return SmokeRun() ? Shape{10, 2, 10} : Shape{100, 10, 100}; }

// A group whose members are all polled from the calling thread.
class RoundRobinGroup {
 public:
  RoundRobinGroup(GroupBroker& env, std::string group_id, Protocol protocol,
                  std::vector<std::string> topics, size_t partitions)
      : env_(env),
        group_id_(std::move(group_id)),
        protocol_(protocol),
        topics_(std::move(topics)),
        partitions_(partitions) {}
  ~RoundRobinGroup() {
    for (Member& m : members_) Must(m.consumer->Close(), "Close");
  }
  RoundRobinGroup(const RoundRobinGroup&) = delete;
  RoundRobinGroup& operator=(const RoundRobinGroup&) = delete;

  void Join() {
    Member& m = members_.emplace_back();
    m.id = next_id_++;
    m.listener = std::make_unique<CountingListener>(revoked_);
    m.consumer = Must(Consumer::Create(env_.broker(), MemberOptions(group_id_, protocol_, m.id)),
                      "Consumer::Create");
    Must(m.consumer->Subscribe(topics_, m.listener.get()), "Subscribe");
  }

  // The newest member closes (leaves the group).
  void LeaveNewest() {
    Must(members_.back().consumer->Close(), "Close");
    members_.pop_back();
  }

  // Polls every member once per round until the group has settled; false
  // after kSettleTimeoutMs.
  bool PollUntilSettled(int64_t& rounds) {
    const int64_t deadline = SteadyNs() + kSettleTimeoutMs * 1'000'000;
    for (rounds = 1; SteadyNs() < deadline; ++rounds) {
      for (Member& m : members_) {
        absl::StatusOr<ConsumerRecords> records = m.consumer->Poll(0);
        if (!records.ok()) Die("Poll", records.status());
      }
      if (Settled(env_.coordinator(), group_id_, Views(), partitions_)) return true;
      // The heartbeats and the coordinator's callbacks run on the broker's
      // executor thread: leave it the CPU when there is one to share.
      std::this_thread::yield();
    }
    return false;
  }

  std::vector<MemberView> Views() const {
    std::vector<MemberView> views;
    views.reserve(members_.size());
    for (const Member& m : members_) {
      const ConsumerGroupMetadata meta = m.consumer->GroupMetadata();
      views.push_back(MemberView{m.id, meta.member_id, meta.generation, m.consumer->Assignment()});
    }
    return views;
  }

  Owners CurrentOwners() const {
    Owners owners;
    for (const Member& m : members_) {
      for (TopicPartition& tp : m.consumer->Assignment()) owners[std::move(tp)] = m.id;
    }
    return owners;
  }

  int64_t generation() const {
    return members_.empty() ? 0 : members_.front().consumer->GroupMetadata().generation.value();
  }
  int64_t revoked() const { return revoked_; }

  // For a hang report.
  std::string Describe() const {
    std::string out = absl::StrCat("group ", group_id_, ":");
    if (absl::StatusOr<GroupDescription> d = env_.coordinator().DescribeGroup(group_id_); d.ok()) {
      absl::StrAppend(&out, " coordinator ", std::string(GroupStateName(d->state)), " generation ",
                      d->generation.value(), ", ", d->members.size(), " members;");
    }
    std::map<std::pair<int64_t, size_t>, int> census;
    for (const MemberView& v : Views()) ++census[{v.generation.value(), v.assignment.size()}];
    for (const auto& [key, n] : census) {
      absl::StrAppend(&out, " ", n, " at generation ", key.first, " holding ", key.second, ";");
    }
    return out;
  }

 private:
  struct Member {
    int id = 0;
    // Before the consumer: Close() calls it.
    std::unique_ptr<CountingListener> listener;
    std::unique_ptr<Consumer> consumer;
  };

  GroupBroker& env_;
  const std::string group_id_;
  const Protocol protocol_;
  const std::vector<std::string> topics_;
  const size_t partitions_;
  std::vector<Member> members_;
  int next_id_ = 0;
  int64_t revoked_ = 0;
};

enum class Scenario { kForm, kJoin, kLeave };

void BM_Rebalance(benchmark::State& state, Protocol protocol, Scenario scenario) {
  const Shape shape = RebalanceShape();
  GroupBroker env(Fs::kMemory);
  env.StartCoordinator();
  const std::vector<std::string> topics =
      env.CreateTopics("topic", shape.topics, shape.partitions_per_topic);

  auto settle = [&](RoundRobinGroup& group, int64_t& rounds) {
    if (group.PollUntilSettled(rounds)) return true;
    const std::string why = "did not settle: " + group.Describe();
    std::fprintf(stderr, "%s\n", why.c_str());
    state.SkipWithError(why.c_str());
    return false;
  };

  std::unique_ptr<RoundRobinGroup> steady;
  int64_t rounds = 0;
  if (scenario != Scenario::kForm) {
    steady = std::make_unique<RoundRobinGroup>(env, "steady", protocol, topics, shape.partitions());
    for (int i = 0; i < shape.members; ++i) steady->Join();
    if (!settle(*steady, rounds)) return;
  }

  int64_t generations = 0;
  int64_t moved = 0;
  int64_t revoked = 0;
  int64_t poll_rounds = 0;
  int formed = 0;
  for (auto _ : state) {
    RoundRobinGroup* group = steady.get();
    std::unique_ptr<RoundRobinGroup> fresh;
    if (scenario == Scenario::kForm) {
      fresh = std::make_unique<RoundRobinGroup>(env, absl::StrCat("form-", formed++), protocol,
                                                topics, shape.partitions());
      group = fresh.get();
    } else if (scenario == Scenario::kLeave) {
      group->Join();  // untimed: the member that will leave
      if (!settle(*group, rounds)) break;
    }
    const Owners before = group->CurrentOwners();
    const int64_t generation_before = group->generation();
    const int64_t revoked_before = group->revoked();

    const int64_t start = SteadyNs();
    switch (scenario) {
      case Scenario::kForm:
        for (int i = 0; i < shape.members; ++i) group->Join();
        break;
      case Scenario::kJoin:
        group->Join();
        break;
      case Scenario::kLeave:
        group->LeaveNewest();
        break;
    }
    if (!settle(*group, rounds)) break;
    state.SetIterationTime(static_cast<double>(SteadyNs() - start) / 1e9);

    generations += group->generation() - generation_before;
    moved += Moved(before, group->CurrentOwners());
    revoked += group->revoked() - revoked_before;
    poll_rounds += rounds;
    if (scenario == Scenario::kJoin) {
      group->LeaveNewest();  // untimed: back to the steady group
      if (!settle(*group, rounds)) break;
    }
    // A formed group closes its members here, untimed.
  }
  const auto avg = benchmark::Counter::kAvgIterations;
  state.counters["generations"] = benchmark::Counter(static_cast<double>(generations), avg);
  state.counters["moved"] = benchmark::Counter(static_cast<double>(moved), avg);
  state.counters["revoked"] = benchmark::Counter(static_cast<double>(revoked), avg);
  state.counters["poll_rounds"] = benchmark::Counter(static_cast<double>(poll_rounds), avg);
  state.counters["members"] = shape.members;
  state.counters["partitions"] = static_cast<double>(shape.partitions());
  // Items: the group's partitions, assigned anew by every rebalance. No
  // bytes: a rebalance moves no record bytes.
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(shape.partitions()));
}

int RebalanceIterations() { return SmokeRun() ? 1 : 10; }

#define EVLOG_REBALANCE_BENCH(name, protocol, scenario)                                 \
  BENCHMARK_CAPTURE(BM_Rebalance, name, protocol, scenario)                             \
      ->Iterations(scenario == Scenario::kForm ? std::max(1, RebalanceIterations() / 2) \
                                               : RebalanceIterations())                 \
      ->UseManualTime()                                                                 \
      ->Unit(benchmark::kMillisecond)

EVLOG_REBALANCE_BENCH(eager_range_form, Protocol::kEagerRange, Scenario::kForm);
EVLOG_REBALANCE_BENCH(eager_sticky_form, Protocol::kEagerSticky, Scenario::kForm);
EVLOG_REBALANCE_BENCH(cooperative_form, Protocol::kCooperative, Scenario::kForm);
EVLOG_REBALANCE_BENCH(eager_range_join, Protocol::kEagerRange, Scenario::kJoin);
EVLOG_REBALANCE_BENCH(eager_sticky_join, Protocol::kEagerSticky, Scenario::kJoin);
EVLOG_REBALANCE_BENCH(cooperative_join, Protocol::kCooperative, Scenario::kJoin);
EVLOG_REBALANCE_BENCH(eager_range_leave, Protocol::kEagerRange, Scenario::kLeave);
EVLOG_REBALANCE_BENCH(eager_sticky_leave, Protocol::kEagerSticky, Scenario::kLeave);
EVLOG_REBALANCE_BENCH(cooperative_leave, Protocol::kCooperative, Scenario::kLeave);

// --- 2. The longest gap in consumption during a rebalance, one thread per member ------

struct GapShape {
  int members;
  int32_t partitions;
  // Every partition gets a record this often.
  int64_t tick_us;
  // The steady window before the join (the baseline), and how long the
  // run goes on after the rebalance (so that a gap running past the
  // window's end is seen whole).
  int64_t baseline_ms;
  int64_t tail_ms;
  // Between the baseline window and the join.
  int64_t separation_ms;
  // Long enough that an eager rebalance's stop (a member stops reading when
  // its heartbeat tells it of the rebalance, and resumes when every member
  // has rejoined, i.e. up to one interval) stands out of the scheduling
  // noise of a loaded 2-vCPU machine (there the worst window of a steady
  // 2 s holds gaps of 15-90 ms).
  int64_t heartbeat_interval_ms;
};

GapShape TheGapShape() {
  return SmokeRun() ? GapShape{3, 12, 2'000, 100, 50, 20, kHeartbeatIntervalMs}
                    : GapShape{10, 100, 2'000, 2'000, 300, 100, 100};
}

// Appends a one-record batch to every partition each tick, from its own
// thread; a tick that starts late is not made up for (no bursts). Notes
// when each tick started: a pause of the appender is a gap for every
// consumer that no consumer causes.
class PacedAppender {
 public:
  PacedAppender(std::vector<std::shared_ptr<Partition>> partitions, int64_t tick_us)
      : partitions_(std::move(partitions)), tick_us_(tick_us), thread_([this] { Run(); }) {}
  ~PacedAppender() { Stop(); }
  PacedAppender(const PacedAppender&) = delete;
  PacedAppender& operator=(const PacedAppender&) = delete;

  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // After Stop(): when each tick started.
  const std::vector<int64_t>& tick_ns() const { return tick_ns_; }

 private:
  void Run() {
    Batch batch(1, 100);
    auto next = std::chrono::steady_clock::now();
    while (!stop_.load()) {
      tick_ns_.push_back(SteadyNs());
      for (const std::shared_ptr<Partition>& p : partitions_) batch.AppendTo(*p);
      next += std::chrono::microseconds(tick_us_);
      const auto now = std::chrono::steady_clock::now();
      if (next < now) next = now;
      std::this_thread::sleep_until(next);
    }
  }

  const std::vector<std::shared_ptr<Partition>> partitions_;
  const int64_t tick_us_;
  std::atomic<bool> stop_{false};
  std::vector<int64_t> tick_ns_;
  std::thread thread_;
};

// A member Polling on its own thread (Poll(100), parked between appends),
// noting when each Poll returned records of each partition, and publishing
// its generation and assignment after every Poll.
class ThreadedMember {
 public:
  ThreadedMember(GroupBroker& env, ConsumerOptions options, std::string topic, int32_t partitions,
                 int id)
      : topic_(std::move(topic)),
        seen_ns_(static_cast<size_t>(partitions)),
        consumer_(Must(Consumer::Create(env.broker(), std::move(options)), "Consumer::Create")) {
    view_.id = id;
  }
  ~ThreadedMember() {
    Stop();
    Must(consumer_->Close(), "Close");
  }
  ThreadedMember(const ThreadedMember&) = delete;
  ThreadedMember& operator=(const ThreadedMember&) = delete;

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  // Asks the thread to stop; Stop() also waits for it.
  void RequestStop() {
    stop_.store(true);
    consumer_->Wakeup();
  }
  void Stop() {
    RequestStop();
    if (thread_.joinable()) thread_.join();
  }

  MemberView view() const {
    std::lock_guard lock(mu_);
    return view_;
  }
  // When the view last changed.
  int64_t changed_ns() const {
    std::lock_guard lock(mu_);
    return changed_ns_;
  }
  // After Stop(): per partition number, the times a Poll returned its records.
  const std::vector<std::vector<int64_t>>& seen_ns() const { return seen_ns_; }

 private:
  void Run() {
    Must(consumer_->Subscribe({topic_}), "Subscribe");
    std::vector<uint64_t> last_poll(seen_ns_.size(), 0);
    for (uint64_t poll = 1; !stop_.load(); ++poll) {
      absl::StatusOr<ConsumerRecords> records = consumer_->Poll(100);
      const int64_t now = SteadyNs();
      if (!records.ok()) {
        if (stop_.load()) break;
        Die("Poll", records.status());
      }
      for (const ConsumerRecord& r : *records) {
        const auto p = static_cast<size_t>(r.partition.value());
        if (last_poll[p] == poll) continue;
        last_poll[p] = poll;
        seen_ns_[p].push_back(now);
      }
      Publish(now);
    }
  }

  void Publish(int64_t now) {
    const ConsumerGroupMetadata meta = consumer_->GroupMetadata();
    std::vector<TopicPartition> assignment = consumer_->Assignment();
    std::lock_guard lock(mu_);
    if (meta.generation == view_.generation && meta.member_id == view_.member_id &&
        assignment == view_.assignment) {
      return;
    }
    view_.member_id = meta.member_id;
    view_.generation = meta.generation;
    view_.assignment = std::move(assignment);
    changed_ns_ = now;
  }

  const std::string topic_;
  std::vector<std::vector<int64_t>> seen_ns_;
  std::unique_ptr<Consumer> consumer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  MemberView view_;
  int64_t changed_ns_ = 0;
};

// Waits (1 ms steps) until the threaded group has settled; false after
// kSettleTimeoutMs.
bool WaitSettled(GroupCoordinator& coordinator, std::string_view group_id,
                 const std::vector<std::unique_ptr<ThreadedMember>>& members, size_t partitions) {
  const int64_t deadline = SteadyNs() + kSettleTimeoutMs * 1'000'000;
  while (SteadyNs() < deadline) {
    std::vector<MemberView> views;
    for (const auto& m : members) views.push_back(m->view());
    if (Settled(coordinator, group_id, views, partitions)) return true;
    SleepMs(1);
  }
  return false;
}

struct GapSummary {
  double max_ms = 0;
  double median_ms = 0;
};

// The longest interval between consecutive times in `t` (sorted; `end_ns`
// closes the last one) that overlaps [from_ns, to_ns].
int64_t LongestGap(const std::vector<int64_t>& t, int64_t from_ns, int64_t to_ns, int64_t end_ns) {
  int64_t gap = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    const int64_t next = i + 1 < t.size() ? t[i + 1] : end_ns;
    if (next > from_ns && t[i] < to_ns) gap = std::max(gap, next - t[i]);
  }
  return gap;
}

// LongestGap of each partition in `which`; the max and median over them.
GapSummary LongestGaps(const std::vector<std::vector<int64_t>>& seen,
                       const std::vector<size_t>& which, int64_t from_ns, int64_t to_ns,
                       int64_t end_ns) {
  std::vector<int64_t> longest;
  for (size_t p : which) longest.push_back(LongestGap(seen[p], from_ns, to_ns, end_ns));
  GapSummary summary;
  if (longest.empty()) return summary;
  std::sort(longest.begin(), longest.end());
  summary.max_ms = Ms(longest.back());
  summary.median_ms = Ms(longest[longest.size() / 2]);
  return summary;
}

void BM_RebalanceGap(benchmark::State& state, Protocol protocol) {
  const GapShape shape = TheGapShape();
  const std::string group_id = "gap";
  for (auto _ : state) {
    GroupBroker env(Fs::kMemory);
    GroupCoordinator& coordinator = env.StartCoordinator();
    const std::string topic = env.CreateTopics("gap", 1, shape.partitions).front();
    std::vector<std::shared_ptr<Partition>> partitions;
    for (int32_t p = 0; p < shape.partitions; ++p) {
      partitions.push_back(env.GetPartition(topic, p));
    }
    PacedAppender appender(partitions, shape.tick_us);

    std::vector<std::unique_ptr<ThreadedMember>> members;
    auto add_member = [&] {
      const int id = static_cast<int>(members.size());
      members.push_back(std::make_unique<ThreadedMember>(
          env, MemberOptions(group_id, protocol, id, shape.heartbeat_interval_ms), topic,
          shape.partitions, id));
      members.back()->Start();
    };
    auto fail = [&](const char* when) {
      const std::string why = absl::StrCat("the group did not settle ", when);
      std::fprintf(stderr, "%s\n", why.c_str());
      state.SkipWithError(why.c_str());
    };
    auto owners = [&] {
      Owners o;
      for (const auto& m : members) {
        MemberView view = m->view();
        for (TopicPartition& tp : view.assignment) o[std::move(tp)] = view.id;
      }
      return o;
    };
    // Members started over one heartbeat interval, as consumers started at
    // different times are: their heartbeats, which tell them of a
    // rebalance, are then spread over the interval rather than bunched.
    for (int i = 0; i < shape.members; ++i) {
      add_member();
      SleepMs(shape.heartbeat_interval_ms / shape.members);
    }
    if (!WaitSettled(coordinator, group_id, members, partitions.size())) {
      fail("at the start");
      break;
    }
    SleepMs(shape.tail_ms);  // warm-up
    const int64_t generation_before = members.front()->view().generation.value();
    const Owners before = owners();
    const int64_t baseline_from = SteadyNs();
    SleepMs(shape.baseline_ms);
    const int64_t baseline_to = SteadyNs();
    // A gap that straddles the end of the baseline must not reach into the
    // rebalance window too.
    SleepMs(shape.separation_ms);

    const int64_t join = SteadyNs();
    add_member();
    if (!WaitSettled(coordinator, group_id, members, partitions.size())) {
      fail("after the join");
      break;
    }
    int64_t settled = join;
    for (const auto& m : members) settled = std::max(settled, m->changed_ns());
    const Owners after = owners();
    const int64_t generations = members.front()->view().generation.value() - generation_before;
    SleepMs(shape.tail_ms);
    for (const auto& m : members) m->RequestStop();
    for (const auto& m : members) m->Stop();
    appender.Stop();
    const int64_t end = SteadyNs();
    state.SetIterationTime(static_cast<double>(settled - join) / 1e9);

    // Every member's record times, merged per partition.
    std::vector<std::vector<int64_t>> seen(partitions.size());
    for (const auto& m : members) {
      for (size_t p = 0; p < seen.size(); ++p) {
        seen[p].insert(seen[p].end(), m->seen_ns()[p].begin(), m->seen_ns()[p].end());
      }
    }
    for (std::vector<int64_t>& t : seen) std::sort(t.begin(), t.end());
    std::vector<size_t> unmoved;
    for (const auto& [tp, owner] : after) {
      auto it = before.find(tp);
      if (it != before.end() && it->second == owner) {
        unmoved.push_back(static_cast<size_t>(tp.partition.value()));
      }
    }
    const int64_t window = settled - join;
    const GapSummary during = LongestGaps(seen, unmoved, join, settled, end);
    // The baseline: the steady period cut into windows as long as the
    // rebalance's; the median window's figures, and the worst window's.
    std::vector<GapSummary> steady;
    std::vector<double> steady_append;
    for (int64_t from = baseline_from; from + window <= baseline_to || steady.empty();
         from += std::max<int64_t>(window, 1)) {
      const int64_t to = std::min(from + window, baseline_to);
      steady.push_back(LongestGaps(seen, unmoved, from, to, end));
      steady_append.push_back(Ms(LongestGap(appender.tick_ns(), from, to, end)));
    }
    auto median_and_worst = [&steady](double GapSummary::*field) {
      std::vector<double> v;
      for (const GapSummary& g : steady) v.push_back(g.*field);
      std::sort(v.begin(), v.end());
      return std::pair(v[v.size() / 2], v.back());
    };
    const auto [base_max, base_worst] = median_and_worst(&GapSummary::max_ms);
    const double base_median = median_and_worst(&GapSummary::median_ms).first;
    std::sort(steady_append.begin(), steady_append.end());

    state.counters["rebalance_ms"] = Ms(window);
    state.counters["generations"] = static_cast<double>(generations);
    state.counters["moved"] = static_cast<double>(Moved(before, after));
    state.counters["unmoved"] = static_cast<double>(unmoved.size());
    state.counters["gap_max_ms"] = during.max_ms;
    state.counters["gap_median_ms"] = during.median_ms;
    state.counters["base_gap_max_ms"] = base_max;
    state.counters["base_gap_worst_ms"] = base_worst;
    state.counters["base_gap_median_ms"] = base_median;
    state.counters["base_windows"] = static_cast<double>(steady.size());
    state.counters["gap_ratio"] = base_max > 0 ? during.max_ms / base_max : 0.0;
    state.counters["append_gap_max_ms"] = Ms(LongestGap(appender.tick_ns(), join, settled, end));
    state.counters["base_append_gap_max_ms"] = steady_append[steady_append.size() / 2];
    members.clear();
  }
}

BENCHMARK_CAPTURE(BM_RebalanceGap, cooperative, Protocol::kCooperative)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RebalanceGap, eager_sticky, Protocol::kEagerSticky)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RebalanceGap, eager_range, Protocol::kEagerRange)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// --- 3. Offset commits through a group member, and auto-commit ------------------------

constexpr std::string_view kCommitGroup = "billing";

// What a member of `partitions` partitions of topic `orders` commits.
std::map<TopicPartition, OffsetAndMetadata> CommitOf(int partitions, int64_t offset) {
  std::map<TopicPartition, OffsetAndMetadata> offsets;
  for (int p = 0; p < partitions; ++p) {
    OffsetAndMetadata o;
    o.offset = Offset(offset + p);
    o.leader_epoch = LeaderEpoch(3);
    offsets[TopicPartition("orders", p)] = o;
  }
  return offsets;
}

void Advance(std::map<TopicPartition, OffsetAndMetadata>& offsets) {
  const auto n = static_cast<int64_t>(offsets.size());
  for (auto& [tp, o] : offsets) o.offset += n;
}

// A member of group `group_id` subscribed to `topic`, polled until it owns
// all `partitions` of it.
std::unique_ptr<Consumer> SoleMember(GroupBroker& env, ConsumerOptions options,
                                     const std::string& topic, size_t partitions) {
  auto consumer = Must(Consumer::Create(env.broker(), std::move(options)), "Consumer::Create");
  Must(consumer->Subscribe({topic}), "Subscribe");
  const int64_t deadline = SteadyNs() + kSettleTimeoutMs * 1'000'000;
  while (consumer->Assignment().size() != partitions) {
    if (SteadyNs() > deadline) Die("SoleMember", absl::DeadlineExceededError("no assignment"));
    Must(consumer->Poll(10).status(), "Poll");
  }
  return consumer;
}

enum class CommitVia { kRawAppend, kOffsetStore, kCommitSync, kCommitAsync };

// Consumer::CommitAsync calls issued per iteration before waiting for them.
constexpr int kAsyncCommitsPerIteration = 64;

void BM_OffsetCommit(benchmark::State& state, Fs fs, CommitVia via) {
  const int partitions = static_cast<int>(state.range(0));
  GroupBroker env(fs);
  std::map<TopicPartition, OffsetAndMetadata> offsets = CommitOf(partitions, 0);
  int64_t commits = 0;
  auto set_counters = [&] {
    state.SetItemsProcessed(commits);
    state.counters["partitions_per_commit"] = partitions;
  };

  if (via == CommitVia::kRawAppend) {
    // The offsets topic's settings (OffsetStore: compacted, every append
    // synced), one partition, and the batch the store would build.
    NewTopic topic(1);
    topic.config.cleanup_policy = CleanupPolicy::kCompact;
    topic.config.durability = Durability::kEveryAppend;
    topic.config.segment_bytes = 100 << 20;
    Must(env.broker().CreateTopic("raw_offsets", topic), "CreateTopic");
    std::shared_ptr<Partition> partition = env.GetPartition("raw_offsets", 0);
    RecordBatchBuilder builder;
    for (const auto& [tp, o] : offsets) {
      OffsetCommitValue value;
      value.offset = o.offset;
      value.leader_epoch = o.leader_epoch;
      value.commit_timestamp_ms = 0;
      const std::vector<std::byte> key =
          Must(EncodeOffsetCommitKey({std::string(kCommitGroup), tp.topic, tp.partition}), "key");
      const std::vector<std::byte> encoded = Must(EncodeOffsetCommitValue(value), "value");
      Must(builder.Append(0, ByteView(key), ByteView(encoded)), "Append");
    }
    MutableByteView batch = Must(builder.Finish(), "Finish");
    AppendOptions append;
    append.trusted = true;
    Must(partition->Append(batch, append).status(), "Append");  // creates the files, untimed
    for (auto _ : state) {
      Must(partition->Append(batch, append).status(), "Append");
      ++commits;
    }
    state.counters["batch_bytes"] = static_cast<double>(batch.size());
    set_counters();
    return;
  }

  if (via == CommitVia::kOffsetStore) {
    auto store =
        Must(OffsetStore::Open(env.broker(), OffsetStoreRowOptions()), "OffsetStore::Open");
    int64_t now_ms = 1;
    // Creates the topic, untimed.
    Must(store->CommitOffsets(kCommitGroup, offsets, now_ms), "CommitOffsets");
    for (auto _ : state) {
      Advance(offsets);
      Must(store->CommitOffsets(kCommitGroup, offsets, ++now_ms), "CommitOffsets");
      ++commits;
    }
    set_counters();
    return;
  }

  env.StartCoordinator();
  Must(env.broker().CreateTopic("orders", NewTopic(partitions)), "CreateTopic");
  ConsumerOptions options;
  options.group_id = std::string(kCommitGroup);
  options.enable_auto_commit = false;
  auto consumer = SoleMember(env, options, "orders", static_cast<size_t>(partitions));
  Must(consumer->CommitSync(offsets), "CommitSync");  // creates the offsets topic, untimed
  if (via == CommitVia::kCommitSync) {
    for (auto _ : state) {
      Advance(offsets);
      Must(consumer->CommitSync(offsets), "CommitSync");
      ++commits;
    }
  } else {
    int64_t done = 0;
    bool failed = false;
    for (auto _ : state) {
      for (int i = 0; i < kAsyncCommitsPerIteration; ++i) {
        Advance(offsets);
        consumer->CommitAsync(offsets, [&](const auto&, const absl::Status& status) {
          ++done;
          failed |= !status.ok();
        });
      }
      commits += kAsyncCommitsPerIteration;
      // Callbacks run in Poll on this thread.
      while (done < commits) {
        Must(consumer->Poll(0).status(), "Poll");
        if (done < commits) std::this_thread::yield();
      }
    }
    if (failed) state.SkipWithError("a CommitAsync failed");
  }
  Must(consumer->Close(), "Close");
  set_counters();
}

#define EVLOG_COMMIT_BENCH(name, fs, via)           \
  BENCHMARK_CAPTURE(BM_OffsetCommit, name, fs, via) \
      ->ArgName("partitions")                       \
      ->Arg(1)                                      \
      ->Arg(10)                                     \
      ->UseRealTime()

EVLOG_COMMIT_BENCH(mem_raw_append, Fs::kMemory, CommitVia::kRawAppend);
EVLOG_COMMIT_BENCH(mem_offset_store, Fs::kMemory, CommitVia::kOffsetStore);
EVLOG_COMMIT_BENCH(mem_commit_sync, Fs::kMemory, CommitVia::kCommitSync);
EVLOG_COMMIT_BENCH(mem_commit_async, Fs::kMemory, CommitVia::kCommitAsync);
EVLOG_COMMIT_BENCH(posix_raw_append, Fs::kPosix, CommitVia::kRawAppend);
EVLOG_COMMIT_BENCH(posix_offset_store, Fs::kPosix, CommitVia::kOffsetStore);
EVLOG_COMMIT_BENCH(posix_commit_sync, Fs::kPosix, CommitVia::kCommitSync);
EVLOG_COMMIT_BENCH(posix_commit_async, Fs::kPosix, CommitVia::kCommitAsync);

// The records of the auto-commit rows: 100-byte values appended in
// batches of 100 to 10 partitions (a smoke run: 5,000 records on 2).
constexpr int kConsumeBatchRecords = 100;
// Value bytes of the consumed records (null keys): the bytes of a row.
constexpr int64_t kConsumeValueBytes = 100;

int64_t ConsumeRecords() { return SmokeRun() ? 5'000 : 100'000; }
int32_t ConsumePartitions() { return SmokeRun() ? 2 : 10; }

// Offset records in `__consumer_offsets`, all partitions.
int64_t OffsetRecords(Broker& broker) {
  absl::StatusOr<std::shared_ptr<Topic>> topic = broker.GetTopic(OffsetStore::kTopic);
  if (!topic.ok()) return 0;
  int64_t records = 0;
  for (const auto& p : (*topic)->partitions()) records += p->high_watermark().value();
  return records;
}

// Three members, each alone in a group of its own, read the same records
// in turn within every iteration (the order rotating): auto-commit off,
// every 5,000 ms (the default) and every 10 ms. Taking turns at this grain
// puts all three through the same swings of a shared machine's load, so
// their ratio holds where rows run one after another do not.
void BM_ConsumeAutoCommit(benchmark::State& state, Fs fs) {
  const int64_t records = ConsumeRecords();
  GroupBroker env(fs);
  env.StartCoordinator();
  const int32_t partitions = ConsumePartitions();
  const std::string topic = env.CreateTopics("events", 1, partitions).front();
  {
    Batch batch(kConsumeBatchRecords, kConsumeValueBytes);
    const int64_t batches = records / kConsumeBatchRecords;
    for (int64_t b = 0; b < batches; ++b) {
      batch.AppendTo(*env.GetPartition(topic, static_cast<int32_t>(b % partitions)));
    }
  }
  struct Reader {
    const char* name = "";
    int64_t auto_commit_interval_ms = 0;  // 0: off
    std::unique_ptr<Consumer> consumer;
    int64_t ns = 0;
    int64_t commit_records = 0;
  };
  std::vector<Reader> readers(3);
  readers[0].name = "off";
  readers[1].name = "5000";
  readers[1].auto_commit_interval_ms = 5'000;
  readers[2].name = "10";
  readers[2].auto_commit_interval_ms = 10;
  for (Reader& r : readers) {
    ConsumerOptions options;
    options.group_id = absl::StrCat("reader-", r.name);
    options.enable_auto_commit = r.auto_commit_interval_ms > 0;
    if (options.enable_auto_commit) options.auto_commit_interval_ms = r.auto_commit_interval_ms;
    options.auto_offset_reset = OffsetResetPolicy::kLatest;  // nothing read while joining
    r.consumer = SoleMember(env, options, topic, static_cast<size_t>(partitions));
  }

  int64_t iterations = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < readers.size(); ++k) {
      Reader& r = readers[(static_cast<size_t>(iterations) + k) % readers.size()];
      const int64_t offset_records = OffsetRecords(env.broker());
      const int64_t start = SteadyNs();
      Must(r.consumer->SeekToBeginning(), "SeekToBeginning");
      for (int64_t got = 0; got < records;) {
        absl::StatusOr<ConsumerRecords> polled = r.consumer->Poll(100);
        if (!polled.ok()) Die("Poll", polled.status());
        got += static_cast<int64_t>(polled->size());
      }
      r.ns += SteadyNs() - start;
      r.commit_records += OffsetRecords(env.broker()) - offset_records;
    }
    ++iterations;
  }
  state.SetItemsProcessed(iterations * records * static_cast<int64_t>(readers.size()));
  state.SetBytesProcessed(iterations * records * static_cast<int64_t>(readers.size()) *
                          kConsumeValueBytes);
  for (const Reader& r : readers) {
    const std::string suffix = absl::StrCat("_", r.name);
    state.counters["records_per_s" + suffix] =
        r.ns > 0 ? static_cast<double>(iterations * records) / (static_cast<double>(r.ns) / 1e9)
                 : 0.0;
    state.counters["commit_records" + suffix] = benchmark::Counter(
        static_cast<double>(r.commit_records), benchmark::Counter::kAvgIterations);
    if (r.auto_commit_interval_ms > 0) {
      state.counters["ratio" + suffix] =
          r.ns > 0 ? static_cast<double>(readers.front().ns) / static_cast<double>(r.ns) : 0.0;
    }
  }
  for (Reader& r : readers) Must(r.consumer->Close(), "Close");
}

BENCHMARK_CAPTURE(BM_ConsumeAutoCommit, mem, Fs::kMemory)->UseRealTime();
BENCHMARK_CAPTURE(BM_ConsumeAutoCommit, posix, Fs::kPosix)->UseRealTime();

}  // namespace
}  // namespace evlog
