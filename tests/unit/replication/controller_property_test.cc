// Seeded random histories against the controller, checking its invariants
// after every step. A failure prints --seed=N; RunHistory(N) replays it.
#include <algorithm>
#include <initializer_list>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "evlog/io/mem_file_system.h"
#include "evlog/replication/controller.h"
#include "evlog/replication/segmented_metadata_log.h"
#include "evlog/status.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

constexpr int kSeeds = 200;
constexpr int kStepsPerSeed = 120;
constexpr int32_t kBrokerIds = 6;
const char* const kTopics[] = {"t0", "t1", "t2", "t3"};

bool Contains(const std::vector<BrokerId>& ids, BrokerId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// How often each interesting event happened over all seeds: a history
// that never fences a broker or elects uncleanly tests little.
struct Coverage {
  int fencings = 0;
  int unfencings = 0;
  int clean_leader_moves = 0;
  int unclean_leader_moves = 0;
  int offline = 0;
  int isr_changes = 0;
  int duplicate_registrations = 0;
};
Coverage coverage;

// What the test knows of a broker process.
struct SimBroker {
  int64_t epoch = -1;
  uint64_t incarnation = 0;
  // Heartbeats when the clock moves.
  bool alive = true;
};

class History {
 public:
  explicit History(uint64_t seed) : rng_(seed) {
    options_.auto_leader_rebalance_enable = Chance(2);
    options_.leader_imbalance_check_interval_ms = 2000;
    options_.leader_imbalance_per_broker_percentage = static_cast<int32_t>(Pick(30));
    racks_ = Chance(2);
    // One history in four keeps its log on a (memory) disk and restarts
    // the controller now and then.
    on_disk_ = seed % 4 == 0;
    Open();
  }

  void Open() {
    std::unique_ptr<MetadataLog> log;
    if (on_disk_) {
      auto opened = SegmentedMetadataLog::Open(fs_, clock_, "/metadata");
      REQUIRE(opened.ok());
      log = *std::move(opened);
    } else {
      log = std::make_unique<MemoryMetadataLog>();
    }
    auto opened = Controller::Open(clock_, std::move(log), options_);
    REQUIRE(opened.ok());
    controller_ = *std::move(opened);
    controller_->SetListener([this](const MetadataLogEntry& e) { delivered_.push_back(e.offset); });
  }

  void Run() {
    for (int step = 0; step < kStepsPerSeed; ++step) {
      INFO("step " << step);
      unclean_requested_ = false;
      const MetadataImage before = controller_->image();
      DoRandomOperation();
      CheckInvariants(before);
    }
  }

 private:
  uint64_t Pick(uint64_t n) { return rng_() % n; }
  bool Chance(uint64_t one_in) { return Pick(one_in) == 0; }

  // Fails the test unless `s` is OK or carries one of `allowed`.
  static void Expect(const absl::Status& s, std::initializer_list<ErrorCode> allowed) {
    if (s.ok()) return;
    const ErrorCode code = GetErrorCode(s);
    if (std::find(allowed.begin(), allowed.end(), code) == allowed.end()) {
      FAIL("unexpected error " << s.ToString());
    }
  }

  std::vector<TopicPartition> AllPartitions(const MetadataImage& image) {
    std::vector<TopicPartition> out;
    for (const auto& [name, t] : image.topics()) {
      for (size_t i = 0; i < t.partitions.size(); ++i) {
        out.emplace_back(name, static_cast<int32_t>(i));
      }
    }
    return out;
  }

  void DoRandomOperation() {
    const MetadataImage image = controller_->image();
    switch (Pick(on_disk_ ? 12 : 11)) {
      case 0: {  // (re)register, sometimes as a new incarnation
        const int32_t id = static_cast<int32_t>(Pick(kBrokerIds));
        SimBroker& b = brokers_[id];
        if (b.incarnation == 0 || Chance(3)) b.incarnation = rng_() | 1;
        std::optional<std::string> rack;
        if (racks_) rack = std::string(1, static_cast<char>('a' + id % 3));
        auto epoch = controller_->RegisterBroker(BrokerId(id), rack, "h", b.incarnation);
        Expect(epoch.status(), {ErrorCode::kDuplicateBrokerRegistration});
        if (!epoch.ok()) ++coverage.duplicate_registrations;
        if (epoch.ok()) {
          b.epoch = *epoch;
          b.alive = true;
        }
        break;
      }
      case 1:
      case 2: {  // a heartbeat, usually caught up, sometimes stale or asking to be fenced
        if (brokers_.empty()) break;
        auto it = std::next(brokers_.begin(), static_cast<long>(Pick(brokers_.size())));
        HeartbeatRequest request;
        request.broker_id = BrokerId(it->first);
        request.broker_epoch = Chance(8) ? it->second.epoch - 1 : it->second.epoch;
        request.want_fence = Chance(10);
        request.want_shut_down = Chance(25);
        request.caught_up = !Chance(5);
        Expect(controller_->Heartbeat(request).status(),
               {ErrorCode::kStaleBrokerEpoch, ErrorCode::kBrokerIdNotRegistered});
        break;
      }
      case 3: {  // time passes; live brokers heartbeat
        const int64_t ms = static_cast<int64_t>(Pick(6000));
        BeatAlive();
        clock_.AdvanceMs(ms);
        BeatAlive();
        Expect(controller_->Tick(), {});
        break;
      }
      case 4: {
        const char* name = kTopics[Pick(std::size(kTopics))];
        const auto partitions = static_cast<int32_t>(1 + Pick(4));
        const auto rf = static_cast<int16_t>(1 + Pick(3));
        Expect(controller_->CreateTopic(name, partitions, rf, {}, Chance(3)).status(),
               {ErrorCode::kTopicAlreadyExists, ErrorCode::kInvalidReplicationFactor});
        break;
      }
      case 5: {
        const char* name = kTopics[Pick(std::size(kTopics))];
        const TopicImage* t = image.topic(name);
        const auto total = static_cast<int32_t>((t ? t->partitions.size() : 0) + Pick(3));
        Expect(controller_->CreatePartitions(name, total),
               {ErrorCode::kUnknownTopicOrPartition, ErrorCode::kInvalidPartitions,
                ErrorCode::kInvalidReplicationFactor});
        break;
      }
      case 6: {
        if (!Chance(3)) break;  // deletions are rarer
        Expect(controller_->DeleteTopic(kTopics[Pick(std::size(kTopics))]),
               {ErrorCode::kUnknownTopicOrPartition});
        break;
      }
      case 7:
      case 8: {  // a leader (or an impostor) changes an ISR
        const std::vector<TopicPartition> all = AllPartitions(image);
        if (all.empty()) break;
        const TopicPartition tp = all[Pick(all.size())];
        const PartitionState& s = *image.partition(tp);
        IsrChange ch;
        ch.topic_partition = tp;
        ch.leader = Chance(6) ? s.replicas[Pick(s.replicas.size())] : s.leader;
        ch.leader_epoch = Chance(8) ? s.leader_epoch - 1 : s.leader_epoch;
        ch.partition_epoch = Chance(8) ? s.partition_epoch - 1 : s.partition_epoch;
        if (s.leader != kNoLeader) ch.new_isr.push_back(s.leader);
        for (BrokerId r : s.replicas) {
          if (r == s.leader) continue;
          // Mostly live replicas (a leader adds caught-up followers), at
          // times a fenced one (a stale view of the cluster).
          if ((image.IsActive(r) || Chance(6)) && Chance(2)) ch.new_isr.push_back(r);
        }
        Expect(controller_->AlterPartition(ch).status(),
               {ErrorCode::kInvalidRequest, ErrorCode::kFencedLeaderEpoch,
                ErrorCode::kInvalidUpdateVersion, ErrorCode::kIneligibleReplica});
        break;
      }
      case 9: {  // an operator's election
        const ElectionType type = Chance(4) ? ElectionType::kUnclean : ElectionType::kPreferred;
        unclean_requested_ = type == ElectionType::kUnclean;
        std::vector<TopicPartition> wanted;
        if (!Chance(3)) {
          const std::vector<TopicPartition> all = AllPartitions(image);
          for (int i = 0; i < 2 && !all.empty(); ++i) wanted.push_back(all[Pick(all.size())]);
        }
        auto result = controller_->ElectLeaders(wanted, type);
        REQUIRE(result.ok());
        for (const auto& [tp, status] : *result) {
          Expect(status, {ErrorCode::kElectionNotNeeded, ErrorCode::kPreferredLeaderNotAvailable,
                          ErrorCode::kEligibleLeadersNotAvailable});
        }
        break;
      }
      case 10: {  // a broker process dies or comes back; rarely one leaves for good
        if (brokers_.empty()) break;
        auto it = std::next(brokers_.begin(), static_cast<long>(Pick(brokers_.size())));
        if (Chance(12)) {
          Expect(controller_->UnregisterBroker(BrokerId(it->first)),
                 {ErrorCode::kBrokerIdNotRegistered});
          brokers_.erase(it);
        } else {
          it->second.alive = !it->second.alive;
        }
        break;
      }
      case 11: {  // the controller restarts on its log
        controller_.reset();
        Open();
        CHECK(controller_->image() == image);
        break;
      }
    }
  }

  void BeatAlive() {
    for (const auto& [id, b] : brokers_) {
      if (!b.alive) continue;
      Expect(controller_->Heartbeat(BrokerId(id), b.epoch).status(),
             {ErrorCode::kStaleBrokerEpoch, ErrorCode::kBrokerIdNotRegistered});
    }
  }

  void CheckInvariants(const MetadataImage& before) {
    const MetadataImage image = controller_->image();
    // Leaders are ISR members that are registered and unfenced (or there is
    // none); ISRs are non-empty subsets of the replicas.
    absl::Status s = image.CheckInvariants();
    if (!s.ok()) FAIL(s.ToString());

    for (const auto& [id, b] : image.brokers()) {
      const BrokerRegistration* was = before.broker(id);
      if (was == nullptr || was->epoch != b.epoch || was->fenced == b.fenced) continue;
      ++(b.fenced ? coverage.fencings : coverage.unfencings);
    }
    for (const auto& [name, t] : image.topics()) {
      const TopicImage* old = before.topic(name);
      if (old == nullptr || old->id != t.id) continue;
      for (size_t i = 0; i < old->partitions.size(); ++i) {
        INFO(name << "-" << i);
        const PartitionState& was = old->partitions[i];
        const PartitionState& now = t.partitions[i];
        // Epochs never go back, and every change moves the partition epoch.
        CHECK(now.leader_epoch >= was.leader_epoch);
        CHECK(now.partition_epoch >= was.partition_epoch);
        if (now != was) CHECK(now.partition_epoch > was.partition_epoch);
        if (now.leader != was.leader) CHECK(now.leader_epoch > was.leader_epoch);
        if (now.isr != was.isr) ++coverage.isr_changes;
        if (now.leader != was.leader) {
          if (now.leader == kNoLeader) {
            ++coverage.offline;
          } else if (Contains(was.isr, now.leader)) {
            ++coverage.clean_leader_moves;
          } else {
            ++coverage.unclean_leader_moves;
          }
        }
        // Without unclean election, a new leader comes from the old ISR.
        if (!t.allow_unclean_election && !unclean_requested_ && now.leader != was.leader &&
            now.leader != kNoLeader) {
          CHECK(Contains(was.isr, now.leader));
        }
      }
    }

    // Replaying the whole log from scratch gives the same image.
    auto records = controller_->RecordsSince(Offset(0), 1'000'000);
    REQUIRE(records.ok());
    MetadataImage replayed;
    for (const MetadataLogEntry& e : *records) {
      absl::Status applied = replayed.Apply(e.record);
      if (!applied.ok()) FAIL(applied.ToString());
    }
    CHECK(replayed == image);
    CHECK(controller_->last_offset() == Offset(static_cast<int64_t>(records->size()) - 1));
    // The listener saw every record, once, in order.
    REQUIRE(delivered_.size() == records->size());
    for (size_t i = 0; i < delivered_.size(); ++i) {
      CHECK(delivered_[i] == Offset(static_cast<int64_t>(i)));
    }
  }

  std::mt19937_64 rng_;
  ManualClock clock_;
  MemFileSystem fs_;
  ControllerOptions options_;
  bool on_disk_ = false;
  std::unique_ptr<Controller> controller_;
  std::map<int32_t, SimBroker> brokers_;
  std::vector<Offset> delivered_;
  bool racks_ = false;
  bool unclean_requested_ = false;
};

void RunHistory(uint64_t seed) {
  INFO("--seed=" << seed);
  History history(seed);
  history.Run();
}

TEST_CASE("random histories keep the controller's invariants and its log replays to its image") {
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) RunHistory(seed);
  INFO("fencings " << coverage.fencings << ", unfencings " << coverage.unfencings
                   << ", clean moves " << coverage.clean_leader_moves << ", unclean moves "
                   << coverage.unclean_leader_moves << ", offline " << coverage.offline
                   << ", ISR changes " << coverage.isr_changes << ", duplicates "
                   << coverage.duplicate_registrations);
  CHECK(coverage.fencings > 100);
  CHECK(coverage.unfencings > 100);
  CHECK(coverage.clean_leader_moves > 100);
  CHECK(coverage.unclean_leader_moves > 10);
  CHECK(coverage.offline > 10);
  CHECK(coverage.isr_changes > 100);
  CHECK(coverage.duplicate_registrations > 10);
}

}  // namespace
}  // namespace evlog
