// The controller on a SegmentedMetadataLog: restarts replay the log, and
// crashes keep every acknowledged decision and never half of one.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/replication/controller.h"
#include "evlog/replication/segmented_metadata_log.h"
#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/unit/replication/controller_test_util.h"

namespace evlog {
namespace {

constexpr char kDir[] = "/controller";

ControllerOptions Options() {
  ControllerOptions options;
  options.auto_leader_rebalance_enable = false;
  return options;
}

std::unique_ptr<Controller> OpenController(FileSystem& fs, Clock& clock) {
  auto log = SegmentedMetadataLog::Open(fs, clock, kDir);
  REQUIRE(log.ok());
  auto controller = Controller::Open(clock, *std::move(log), Options());
  REQUIRE(controller.ok());
  return *std::move(controller);
}

// A fixed history of decisions, each writing at least one record.
struct Script {
  std::map<int32_t, int64_t> epochs;

  static constexpr int kSteps = 14;

  absl::Status Step(int step, Controller& c, ManualClock& clock) {
    auto beat = [&](int32_t id, bool want_fence = false) {
      return c.Heartbeat(BrokerId(id), epochs[id], want_fence).status();
    };
    auto reg = [&](int32_t id, std::string rack) -> absl::Status {
      EVLOG_ASSIGN_OR_RETURN(epochs[id], c.RegisterBroker(BrokerId(id), rack, "host", 77));
      return absl::OkStatus();
    };
    switch (step) {
      case 0:
        return reg(1, "a");
      case 1:
        return reg(2, "b");
      case 2:
        return reg(3, "c");
      case 3:
        return beat(1);
      case 4:
        return beat(2);
      case 5:
        return beat(3);
      case 6:
        return c.CreateTopic("orders", 3, 3).status();
      case 7:
        return c.CreateTopic("audit", 2, 2, {{"retention.ms", "60000"}}, true).status();
      case 8: {
        const PartitionState s = *c.image().partition(TopicPartition("orders", 0));
        IsrChange ch;
        ch.topic_partition = TopicPartition("orders", 0);
        ch.leader = s.leader;
        ch.leader_epoch = s.leader_epoch;
        ch.partition_epoch = s.partition_epoch;
        ch.new_isr = {s.leader};
        return c.AlterPartition(ch).status();
      }
      case 9:
        return beat(3, /*want_fence=*/true);
      case 10:
        return c.DeleteTopic("audit");
      case 11:
        return beat(3);
      case 12:
        return c.CreatePartitions("orders", 5);
      case 13: {
        // Broker 3 goes silent; 1 and 2 keep beating.
        EVLOG_RETURN_IF_ERROR(beat(1));
        EVLOG_RETURN_IF_ERROR(beat(2));
        clock.AdvanceMs(9001);
        EVLOG_RETURN_IF_ERROR(beat(1));
        EVLOG_RETURN_IF_ERROR(beat(2));
        return c.Tick();
      }
    }
    FAIL("no step " << step);
    return absl::OkStatus();
  }
};

TEST_CASE("a controller restarted on its metadata log directory has the same image and goes on") {
  MemFileSystem fs;
  ManualClock clock;
  Script script;
  MetadataImage image;
  std::vector<MetadataLogEntry> records;
  {
    auto c = OpenController(fs, clock);
    for (int step = 0; step < Script::kSteps; ++step) {
      const Offset before = c->last_offset();
      REQUIRE(script.Step(step, *c, clock).ok());
      REQUIRE(c->last_offset() > before);  // every step is a decision
    }
    image = c->image();
    records = *c->RecordsSince(Offset(0), 100000);
    CHECK(c->image().broker(BrokerId(3))->fenced);
  }
  auto c = OpenController(fs, clock);
  CHECK(c->image() == image);
  CHECK(*c->RecordsSince(Offset(0), 100000) == records);
  CHECK(c->last_offset() == records.back().offset);

  // Sessions are not in the log: every broker has a fresh one, so an
  // immediate tick fences nobody.
  REQUIRE(c->Tick().ok());
  CHECK(c->image() == image);
  // The controller goes on where it stopped: new epochs are larger.
  auto epoch = c->RegisterBroker(BrokerId(3), "c", "host", 78);
  REQUIRE(epoch.ok());
  CHECK(*epoch > script.epochs[3]);
  CHECK(*epoch == records.back().offset.value() + 1);
  // And sessions do expire after the restart.
  clock.AdvanceMs(9001);
  REQUIRE(c->Tick().ok());
  CHECK(c->image().broker(BrokerId(1))->fenced);
  CHECK(c->image().CheckInvariants().ok());
}

TEST_CASE("a crash keeps every decision the controller acknowledged") {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    INFO("--seed=" << seed);
    MemFileSystem mem;
    FaultyFileSystem fs(mem);
    ManualClock clock;
    Script script;
    auto c = OpenController(fs, clock);
    const int steps = 4 + static_cast<int>(seed) % (Script::kSteps - 3);
    for (int step = 0; step < steps; ++step) REQUIRE(script.Step(step, *c, clock).ok());
    const MetadataImage image = c->image();
    fs.SimulateCrash(seed);
    c.reset();  // its files died with the crash
    auto reopened = OpenController(fs, clock);
    CHECK(reopened->image() == image);
  }
}

TEST_CASE(
    "a decision whose write fails is not acknowledged and a crash then keeps exactly the "
    "decisions before it") {
  for (int fail_at = 0; fail_at < Script::kSteps; ++fail_at) {
    for (FsOp op : {FsOp::kSync, FsOp::kWriteAt}) {
      const uint64_t seed = static_cast<uint64_t>(fail_at) * 2 + (op == FsOp::kSync ? 0 : 1);
      INFO("--seed=" << seed << " failing step " << fail_at << " at " << FsOpName(op));
      MemFileSystem mem;
      FaultyFileSystem fs(mem);
      ManualClock clock;
      Script script;
      auto c = OpenController(fs, clock);
      for (int step = 0; step < fail_at; ++step) REQUIRE(script.Step(step, *c, clock).ok());
      const MetadataImage image = c->image();
      const Offset last = c->last_offset();
      // A segment file, not the checkpoints.
      fs.AddFault(FaultRule(op).PathContains(".log"));
      CHECK(!script.Step(fail_at, *c, clock).ok());
      CHECK(c->image() == image);
      CHECK(c->last_offset() == last);
      fs.SimulateCrash(seed);
      c.reset();
      fs.ClearFaults();
      auto reopened = OpenController(fs, clock);
      CHECK(reopened->image() == image);
      CHECK(reopened->last_offset() == last);
    }
  }
}

TEST_CASE("the segmented metadata log reads from any offset, mid-decision too") {
  MemFileSystem fs;
  ManualClock clock;
  auto log = SegmentedMetadataLog::Open(fs, clock, kDir);
  REQUIRE(log.ok());
  std::vector<MetadataRecord> first = {RegisterBrokerRecord{BrokerId(1), 0, 5, "r", "h"},
                                       UnfenceBrokerRecord{BrokerId(1), 0}};
  std::vector<MetadataRecord> second = {TopicRecord{"t", TopicId(3), {{"a", "b"}}, false},
                                        RemoveTopicRecord{TopicId(3)},
                                        FenceBrokerRecord{BrokerId(1), 0}};
  CHECK((*log)->Append(first).value() == Offset(0));
  CHECK((*log)->Append(second).value() == Offset(2));
  CHECK((*log)->end_offset() == Offset(5));
  CHECK(GetErrorCode((*log)->Append({}).status()) == ErrorCode::kInvalidRequest);

  auto all = (*log)->Read(Offset(0), 100);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 5);
  CHECK((*all)[1].record == first[1]);
  CHECK((*all)[4].record == second[2]);
  auto middle = (*log)->Read(Offset(1), 2);
  REQUIRE(middle.ok());
  REQUIRE(middle->size() == 2);
  CHECK((*middle)[0].offset == Offset(1));
  CHECK((*middle)[1].offset == Offset(2));
  CHECK((*middle)[1].record == second[0]);
  CHECK((*log)->Read(Offset(5), 10)->empty());
  CHECK(GetErrorCode((*log)->Read(Offset(-1), 10).status()) == ErrorCode::kOffsetOutOfRange);

  // A record too long for the format is refused before anything is written.
  std::vector<MetadataRecord> bad = {
      RegisterBrokerRecord{BrokerId(1), 0, 5, std::nullopt, std::string(40000, 'x')}};
  CHECK(GetErrorCode((*log)->Append(bad).status()) == ErrorCode::kInvalidRequest);
  CHECK((*log)->end_offset() == Offset(5));
  REQUIRE((*log)->Close().ok());
  CHECK(!(*log)->Append(first).ok());
}

TEST_CASE("a metadata log whose records contradict each other does not open") {
  ManualClock clock;
  auto log = std::make_unique<MemoryMetadataLog>();
  PartitionChangeRecord orphan;
  orphan.topic_id = TopicId(9);
  std::vector<MetadataRecord> records = {RegisterBrokerRecord{BrokerId(1), 0, 1, std::nullopt, ""},
                                         orphan};
  REQUIRE(log->Append(records).ok());
  auto c = Controller::Open(clock, std::move(log));
  CHECK(GetErrorCode(c.status()) == ErrorCode::kCorruptMessage);
}

}  // namespace
}  // namespace evlog
