#include "evlog/broker/broker.h"

#include <memory>
#include <string>
#include <vector>

#include "evlog/io/executor.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"
#include "tests/support/broker_options.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

// A broker on an in-memory file system, a manual clock and a manual
// executor, reopenable.
struct Env {
  MemFileSystem mem;
  FaultyFileSystem fs{mem};
  ManualClock clock{1'700'000'000'000};
  ManualExecutor executor{clock};

  BrokerOptions Options() { return testing::InMemoryBrokerOptions(fs, executor, &clock); }
  std::unique_ptr<Broker> Open() { return Open(Options()); }
  std::unique_ptr<Broker> Open(BrokerOptions o) {
    auto broker = Broker::Open(std::move(o));
    REQUIRE(broker.ok());
    return *std::move(broker);
  }
  bool DirExists(const std::string& path) {
    auto e = fs.Exists(path);
    return e.ok() && *e;
  }
};

TEST_CASE("a created topic is listed and described with its partitions and config") {
  Env env;
  auto broker = env.Open();
  NewTopic orders(3);
  orders.config.retention_ms = 60'000;
  REQUIRE(orders.config.Set("cleanup.policy", "compact,delete").ok());
  REQUIRE(broker->CreateTopic("orders", orders).ok());
  REQUIRE(broker->CreateTopic("audit", NewTopic(1)).ok());

  CHECK(broker->ListTopics() == std::vector<std::string>{"audit", "orders"});
  auto d = broker->DescribeTopic("orders");
  REQUIRE(d.ok());
  CHECK(d->partitions.size() == 3);
  CHECK(d->settings.log.retention_ms == 60'000);
  CHECK(d->settings.log.cleanup_policy == CleanupPolicy::kCompactDelete);
  CHECK(d->config == orders.config);
  for (int p = 0; p < 3; ++p) {
    CHECK(d->partitions[p].partition == PartitionId(p));
    CHECK(d->partitions[p].log_end_offset == Offset(0));
    CHECK(env.DirExists("/data/orders-" + std::to_string(p)));
  }
}

TEST_CASE("reopening the data directory restores every topic with its configuration") {
  Env env;
  TopicConfig config;
  config.segment_bytes = 1 << 20;
  config.max_message_bytes = 4096;
  {
    auto broker = env.Open();
    NewTopic t(2);
    t.config = config;
    REQUIRE(broker->CreateTopic("events", t).ok());
    REQUIRE(broker->CreateTopic("other", NewTopic(1)).ok());
    REQUIRE(broker->CreatePartitions("other", 4).ok());
    REQUIRE(broker->DeleteTopic("events").ok());
    REQUIRE(broker->CreateTopic("events", t).ok());
    REQUIRE(broker->Close().ok());
  }
  auto broker = env.Open();
  CHECK(broker->ListTopics() == std::vector<std::string>{"events", "other"});
  auto events = broker->DescribeTopic("events");
  REQUIRE(events.ok());
  CHECK(events->partitions.size() == 2);
  CHECK(events->config == config);
  CHECK(events->settings.log.max_message_bytes == 4096);
  auto other = broker->DescribeTopic("other");
  REQUIRE(other.ok());
  CHECK(other->partitions.size() == 4);
}

TEST_CASE("topics survive a power loss right after CreateTopic returns") {
  Env env;
  {
    auto broker = env.Open();
    REQUIRE(broker->CreateTopic("durable", NewTopic(2)).ok());
    env.fs.SimulateCrash(/*seed=*/7);
  }
  auto broker = env.Open();
  CHECK(broker->ListTopics() == std::vector<std::string>{"durable"});
}

TEST_CASE("invalid topic names are refused with INVALID_TOPIC_EXCEPTION and create nothing") {
  Env env;
  auto broker = env.Open();
  for (const std::string& name :
       {std::string(""), std::string("."), std::string(".."), std::string("has space"),
        std::string("slash/name"), std::string(250, 'a'), std::string("ünïcode"),
        std::string("__cluster_metadata")}) {
    absl::Status s = broker->CreateTopic(name, NewTopic(1));
    INFO(name);
    CHECK(HasErrorCode(s, ErrorCode::kInvalidTopicException));
  }
  CHECK(broker->CreateTopic(std::string(249, 'a'), NewTopic(1)).ok());
  CHECK(broker->CreateTopic("a.b_c-D9", NewTopic(1)).ok());
  CHECK(broker->ListTopics().size() == 2);
}

TEST_CASE("topic creation errors carry Kafka's codes and change nothing") {
  Env env;
  auto broker = env.Open();
  REQUIRE(broker->CreateTopic("orders", NewTopic(1)).ok());
  CHECK(HasErrorCode(broker->CreateTopic("orders", NewTopic(1)), ErrorCode::kTopicAlreadyExists));
  CHECK(HasErrorCode(broker->CreateTopic("my.topic", NewTopic(1)), ErrorCode::kNone));
  CHECK(HasErrorCode(broker->CreateTopic("my_topic", NewTopic(1)),
                     ErrorCode::kInvalidTopicException));  // collides with my.topic
  CHECK(HasErrorCode(broker->CreateTopic("zero", NewTopic(0)), ErrorCode::kInvalidPartitions));
  CHECK(HasErrorCode(broker->CreateTopic("rf2", NewTopic(1, 2)),
                     ErrorCode::kInvalidReplicationFactor));
  NewTopic bad(1);
  bad.config.segment_bytes = 0;
  CHECK(HasErrorCode(broker->CreateTopic("bad", bad), ErrorCode::kInvalidConfig));
  CHECK(broker->ListTopics() == std::vector<std::string>{"my.topic", "orders"});
  CHECK_FALSE(env.DirExists("/data/bad-0"));
  CHECK_FALSE(env.DirExists("/data/zero-0"));
}

TEST_CASE("topic configs set by Kafka name round-trip and bad ones are INVALID_CONFIG") {
  TopicConfig c;
  REQUIRE(c.Set("retention.ms", "1000").ok());
  REQUIRE(c.Set("compression.type", "zstd").ok());
  REQUIRE(c.Set("message.timestamp.type", "LogAppendTime").ok());
  REQUIRE(c.Set("durability", "every_append").ok());
  TopicConfig copy;
  for (const auto& [k, v] : c.ToStrings()) REQUIRE(copy.Set(k, v).ok());
  CHECK(copy == c);

  const TopicConfig before = c;
  CHECK(HasErrorCode(c.Set("retention.ms", "soon"), ErrorCode::kInvalidConfig));
  CHECK(HasErrorCode(c.Set("no.such.config", "1"), ErrorCode::kInvalidConfig));
  CHECK(HasErrorCode(c.Set("cleanup.policy", "shred"), ErrorCode::kInvalidConfig));
  CHECK(HasErrorCode(c.Set("max.message.bytes", "-5"), ErrorCode::kInvalidConfig));
  CHECK(c == before);
  TopicConfig low;
  low.min_insync_replicas = 0;
  CHECK(HasErrorCode(low.ApplyTo(TopicSettings{}).status(), ErrorCode::kInvalidConfig));
}

TEST_CASE("a deleted topic is gone with its data, also after reopening") {
  Env env;
  {
    auto broker = env.Open();
    REQUIRE(broker->CreateTopic("doomed", NewTopic(2)).ok());
    auto partition = broker->GetPartition({"doomed", 1});
    REQUIRE(partition.ok());
    REQUIRE(broker->DeleteTopic("doomed").ok());
    CHECK(broker->ListTopics().empty());
    CHECK(HasErrorCode(broker->DescribeTopic("doomed").status(),
                       ErrorCode::kUnknownTopicOrPartition));
    CHECK(HasErrorCode(broker->DeleteTopic("doomed"), ErrorCode::kUnknownTopicOrPartition));
    // A client still holding the partition is told it is unknown.
    std::vector<std::byte> buffer;
    CHECK(HasErrorCode((*partition)->Read(Offset(0), buffer).status(),
                       ErrorCode::kUnknownTopicOrPartition));
    for (const absl::Status& status : {(*partition)->Flush(), (*partition)->TruncateTo(Offset(0)),
                                       (*partition)->DeleteRecordsBefore(Offset(0)),
                                       (*partition)->BeginLeaderEpoch(LeaderEpoch(3)),
                                       (*partition)->OffsetForTimestamp(0).status(),
                                       (*partition)->DeleteOldSegments().status()}) {
      CHECK(HasErrorCode(status, ErrorCode::kUnknownTopicOrPartition));
    }
    CHECK_FALSE(env.DirExists("/data/doomed-0"));
    CHECK_FALSE(env.DirExists("/data/doomed-1"));
  }
  auto broker = env.Open();
  CHECK(broker->ListTopics().empty());
}

// Writing back a deleted topic's bytes would cost a segment's worth of
// disk time for files unlinked right after (SegmentedLog::Discard).
TEST_CASE("deleting a topic writes, trims and syncs none of its files") {
  Env env;
  auto append = [&env](Broker& broker, const std::string& topic, int count) {
    auto partition = broker.GetPartition({topic, 0});
    REQUIRE(partition.ok());
    for (int i = 0; i < count; ++i) {
      RecordBatchBuilder builder;
      const std::string value = topic + "-" + std::to_string(i);
      REQUIRE(builder.Append(env.clock.WallMs(), std::nullopt, AsBytes(value)).ok());
      auto batch = builder.Finish();
      REQUIRE(batch.ok());
      REQUIRE((*partition)->Append(*batch).ok());
    }
  };
  {
    auto broker = env.Open();
    REQUIRE(broker->CreateTopic("doomed", NewTopic(1)).ok());
    REQUIRE(broker->CreateTopic("kept", NewTopic(1)).ok());
    append(*broker, "doomed", 50);
    append(*broker, "kept", 7);
    // Any write, cut or sync of the doomed partition's files fails, and
    // would fail the deletion.
    for (FsOp op : {FsOp::kAppend, FsOp::kWriteAt, FsOp::kTruncate, FsOp::kSync, FsOp::kMapSync}) {
      env.fs.AddFault(FaultRule(op).PathContains("/data/doomed-0/").Forever());
    }
    const uint64_t faults = env.fs.stats().faults_injected;
    REQUIRE(broker->DeleteTopic("doomed").ok());
    CHECK(env.fs.stats().faults_injected == faults);
    CHECK_FALSE(env.DirExists("/data/doomed-0"));
    REQUIRE(broker->Close().ok());
  }
  auto broker = env.Open();
  CHECK(broker->ListTopics() == std::vector<std::string>{"kept"});
  auto kept = broker->GetPartition({"kept", 0});
  REQUIRE(kept.ok());
  CHECK((*kept)->log_end_offset() == Offset(7));
}

TEST_CASE("partition directories no topic owns are removed on open") {
  Env env;
  { env.Open()->CreateTopic("kept", NewTopic(1)).IgnoreError(); }
  REQUIRE(env.fs.CreateDir("/data/orphan-0").ok());
  REQUIRE(env.fs.CreateDir("/data/kept-5").ok());
  REQUIRE(env.fs.CreateDir("/data/not a partition").ok());
  auto broker = env.Open();
  CHECK(broker->ListTopics() == std::vector<std::string>{"kept"});
  CHECK_FALSE(env.DirExists("/data/orphan-0"));
  CHECK_FALSE(env.DirExists("/data/kept-5"));
  CHECK(env.DirExists("/data/kept-0"));
  CHECK(env.DirExists("/data/not a partition"));  // not ours: left alone
}

TEST_CASE("partitions can be added but never removed") {
  Env env;
  auto broker = env.Open();
  REQUIRE(broker->CreateTopic("grow", NewTopic(2)).ok());
  CHECK(HasErrorCode(broker->CreatePartitions("grow", 2), ErrorCode::kInvalidPartitions));
  CHECK(HasErrorCode(broker->CreatePartitions("grow", 1), ErrorCode::kInvalidPartitions));
  CHECK(HasErrorCode(broker->CreatePartitions("nope", 3), ErrorCode::kUnknownTopicOrPartition));
  auto topic = broker->GetTopic("grow");
  REQUIRE(topic.ok());
  REQUIRE(broker->CreatePartitions("grow", 5).ok());
  CHECK((*topic)->partition_count() == 5);  // a holder sees the growth
  CHECK(broker->GetPartition({"grow", 4}).ok());
  CHECK(HasErrorCode(broker->GetPartition({"grow", 5}).status(),
                     ErrorCode::kUnknownTopicOrPartition));
}

TEST_CASE("topics are created on first use only when auto-creation is on") {
  Env env;
  {
    auto broker = env.Open();
    CHECK(HasErrorCode(broker->GetTopic("auto", /*auto_create=*/true).status(),
                       ErrorCode::kUnknownTopicOrPartition));
    REQUIRE(broker->Close().ok());
  }
  BrokerOptions o = env.Options();
  o.auto_create_topics = true;
  o.auto_create_partitions = 3;
  auto broker = env.Open(o);
  CHECK(HasErrorCode(broker->GetTopic("auto").status(), ErrorCode::kUnknownTopicOrPartition));
  auto topic = broker->GetTopic("auto", /*auto_create=*/true);
  REQUIRE(topic.ok());
  CHECK((*topic)->partition_count() == 3);
  CHECK(
      HasErrorCode(broker->GetTopic("bad name", true).status(), ErrorCode::kInvalidTopicException));
}

TEST_CASE("retention runs as a background task on the broker's executor") {
  Env env;
  BrokerOptions o = env.Options();
  o.retention_check_interval_ms = 1000;
  auto broker = env.Open(o);
  NewTopic t(1);
  t.config.retention_ms = 10'000;
  t.config.segment_bytes = 1024;
  REQUIRE(broker->CreateTopic("short", t).ok());
  auto partition = broker->GetPartition({"short", 0});
  REQUIRE(partition.ok());
  for (int i = 0; i < 20; ++i) {
    RecordBatchBuilder builder;
    std::string value(200, 'x');
    REQUIRE(builder.Append(env.clock.WallMs(), std::nullopt, AsBytes(value)).ok());
    auto batch = builder.Finish();
    REQUIRE(batch.ok());
    REQUIRE((*partition)->Append(*batch).ok());
  }
  CHECK((*partition)->log_start_offset() == Offset(0));
  env.executor.AdvanceMs(20'000);  // records now older than retention_ms
  CHECK((*partition)->log_start_offset() > Offset(0));
}

// The partition writes filler ahead of its small appends once it has
// published them (SegmentedLog::PrepareTail); they never outlive a close.
TEST_CASE("a partition's log file runs ahead of its batches with filler until the broker closes") {
  Env env;
  const std::string log = "/data/t-0/00000000000000000000.log";
  std::vector<std::string> values;
  {
    auto broker = env.Open();
    REQUIRE(broker->CreateTopic("t", NewTopic(1)).ok());
    auto partition = broker->GetPartition({"t", 0});
    REQUIRE(partition.ok());
    for (int i = 0; i < 30; ++i) {
      RecordBatchBuilder builder;
      values.push_back("order-" + std::to_string(i));
      REQUIRE(builder.Append(env.clock.WallMs(), std::nullopt, AsBytes(values.back())).ok());
      auto batch = builder.Finish();
      REQUIRE(batch.ok());
      REQUIRE((*partition)->Append(*batch).ok());
      const uint64_t size = (*partition)->metrics().size_bytes;
      CHECK(*env.fs.FileSize(log) >= size + 4096);
    }
    const uint64_t size = (*partition)->metrics().size_bytes;
    REQUIRE(broker->Close().ok());
    CHECK(*env.fs.FileSize(log) == size);
  }
  auto broker = env.Open();
  auto partition = broker->GetPartition({"t", 0});
  REQUIRE(partition.ok());
  CHECK((*partition)->log_end_offset() == Offset(30));
  std::vector<std::byte> buffer;
  auto read = (*partition)->Read(Offset(0), buffer, LogReadOptions{});
  REQUIRE(read.ok());
  CHECK(read->next_offset == Offset(30));
}

TEST_CASE("bad broker options are INVALID_CONFIG") {
  Env env;
  BrokerOptions o = env.Options();
  o.auto_create_partitions = 0;
  CHECK(HasErrorCode(Broker::Open(o).status(), ErrorCode::kInvalidConfig));
  o = env.Options();
  o.topic_defaults.log.segment_bytes = 0;
  CHECK(HasErrorCode(Broker::Open(o).status(), ErrorCode::kInvalidConfig));
  o = env.Options();
  o.data_dir.clear();
  CHECK(HasErrorCode(Broker::Open(o).status(), ErrorCode::kInvalidConfig));
}

}  // namespace
}  // namespace evlog
