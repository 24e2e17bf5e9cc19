#include "evlog/client/producer.h"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "evlog/broker/cluster.h"
#include "evlog/io/executor.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/partition/murmur2_partitioner.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"
#include "tests/support/broker_options.h"
#include "tests/support/catch.h"
#include "tests/unit/client/client_env.h"

namespace evlog {
namespace {

using testing::ClientEnv;
using testing::PollAll;

TEST_CASE("a sent record comes back with its offset, partition and timestamp") {
  ClientEnv env;
  env.CreateTopic("orders", 3);
  auto producer = env.MakeProducer();
  auto m = producer->SendSync(ProducerRecord("orders", "order-1", "hello").WithTimestamp(1234));
  REQUIRE(m.ok());
  CHECK(m->topic == "orders");
  CHECK(m->offset == Offset(0));
  CHECK(m->timestamp_ms == 1234);
  auto m2 = producer->SendSync(ProducerRecord("orders", "order-1", "again"));
  REQUIRE(m2.ok());
  CHECK(m2->partition == m->partition);  // same key, same partition
  CHECK(m2->offset == Offset(1));

  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"orders", m->partition}}).ok());
  REQUIRE(consumer->SeekToBeginning().ok());
  auto records = PollAll(*consumer, 2);
  REQUIRE(records.size() == 2);
  CHECK(records[0].key == "order-1");
  CHECK(records[0].value == "hello");
  CHECK(records[0].timestamp_ms == 1234);
  CHECK(records[1].value == "again");
  CHECK(records[1].offset == Offset(1));
}

TEST_CASE("keyed records land where Kafka's Java producer would put them") {
  ClientEnv env;
  env.CreateTopic("keys", 7);
  auto producer = env.MakeProducer();
  for (const std::string key : {"21", "foobar", "abc", "customer-42", ""}) {
    auto m = producer->SendSync(ProducerRecord("keys", key, "v"));
    REQUIRE(m.ok());
    const int32_t expected = (Murmur2(AsBytes(key)) & 0x7fffffff) % 7;
    CHECK(m->partition == PartitionId(expected));
  }
}

TEST_CASE("a key keeps its partition across restarts and producer instances") {
  ClientEnv env;
  env.CreateTopic("sticky-keys", 5);
  std::map<std::string, PartitionId> first;
  {
    auto producer = env.MakeProducer();
    for (int i = 0; i < 50; ++i) {
      const std::string key = "k" + std::to_string(i);
      auto m = producer->SendSync(ProducerRecord("sticky-keys", key, "v"));
      REQUIRE(m.ok());
      first[key] = m->partition;
    }
  }
  env.Reopen();
  ProducerOptions other_seed;
  other_seed.partitioner_seed = 99;  // the seed only steers null keys
  auto producer = env.MakeProducer(other_seed);
  for (const auto& [key, partition] : first) {
    auto m = producer->SendSync(ProducerRecord("sticky-keys", key, "v"));
    REQUIRE(m.ok());
    CHECK(m->partition == partition);
  }
}

TEST_CASE("default producers spread null keys over different partitions, a set seed replays") {
  ClientEnv env;
  env.CreateTopic("spread", 64);
  auto first_partition = [&](ProducerOptions options) {
    auto producer = env.MakeProducer(std::move(options));
    auto m = producer->SendSync(ProducerRecord("spread", "v"));
    REQUIRE(m.ok());
    return m->partition.value();
  };
  // A fixed default seed would put all eight on one partition; eight
  // independent choices all alike has probability 64^-7.
  std::set<int32_t> chosen;
  for (int i = 0; i < 8; ++i) chosen.insert(first_partition({}));
  CHECK(chosen.size() > 1);
  ProducerOptions seeded;
  seeded.partitioner_seed = 42;
  const int32_t replayed = first_partition(seeded);
  for (int i = 0; i < 3; ++i) CHECK(first_partition(seeded) == replayed);
}

TEST_CASE("an explicit partition overrides the partitioner, and one out of range is refused") {
  ClientEnv env;
  env.CreateTopic("t", 4);
  auto producer = env.MakeProducer();
  auto m = producer->SendSync(ProducerRecord("t", "k", "v").WithPartition(3));
  REQUIRE(m.ok());
  CHECK(m->partition == PartitionId(3));
  CHECK(HasErrorCode(producer->SendSync(ProducerRecord("t", "k", "v").WithPartition(4)).status(),
                     ErrorCode::kUnknownTopicOrPartition));
  CHECK(HasErrorCode(producer->Send(ProducerRecord("t", "k", "v").WithPartition(-1), nullptr),
                     ErrorCode::kUnknownTopicOrPartition));
}

TEST_CASE("bad sends fail at once with Kafka's codes and nothing is written") {
  ClientEnv env;
  TopicConfig small;
  small.max_message_bytes = 1000;
  env.CreateTopic("small", 1, small);
  ProducerOptions options;
  options.max_request_size = 5000;
  auto producer = env.MakeProducer(options);
  const std::string big(2000, 'x');
  const std::string huge(6000, 'x');
  CHECK(HasErrorCode(producer->Send(ProducerRecord("nope", "v"), nullptr),
                     ErrorCode::kUnknownTopicOrPartition));
  CHECK(HasErrorCode(producer->Send(ProducerRecord("bad name", "v"), nullptr),
                     ErrorCode::kInvalidTopicException));
  CHECK(HasErrorCode(producer->Send(ProducerRecord("small", big), nullptr),
                     ErrorCode::kMessageTooLarge));
  CHECK(HasErrorCode(producer->Send(ProducerRecord("small", huge), nullptr),
                     ErrorCode::kMessageTooLarge));
  CHECK(HasErrorCode(producer->Send(ProducerRecord("small", "v").WithTimestamp(-7), nullptr),
                     ErrorCode::kInvalidTimestamp));
  auto future = producer->Send(ProducerRecord("nope", "v"));
  CHECK(HasErrorCode(future.get().status(), ErrorCode::kUnknownTopicOrPartition));
  REQUIRE(producer->Flush().ok());
  auto d = env.broker->DescribeTopic("small");
  REQUIRE(d.ok());
  CHECK(d->partitions[0].log_end_offset == Offset(0));
  CHECK(producer->metrics().send_rejections == 6);

  REQUIRE(producer->Close().ok());
  CHECK(producer->Send(ProducerRecord("small", "v"), nullptr).code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("bad producer options are INVALID_CONFIG") {
  ClientEnv env;
  ProducerOptions o;
  o.batch_size = 0;
  CHECK(HasErrorCode(Producer::Create(*env.broker, o).status(), ErrorCode::kInvalidConfig));
  o = ProducerOptions();
  o.linger_ms = -1;
  CHECK(HasErrorCode(Producer::Create(*env.broker, o).status(), ErrorCode::kInvalidConfig));
  o = ProducerOptions();
  o.compression = CompressionType::kGzip;
  CHECK(HasErrorCode(Producer::Create(*env.broker, o).status(), ErrorCode::kInvalidConfig));
  o = ProducerOptions();
  o.open_batches_per_partition = -1;
  CHECK(HasErrorCode(Producer::Create(*env.broker, o).status(), ErrorCode::kInvalidConfig));
  o.open_batches_per_partition = 65;
  CHECK(HasErrorCode(Producer::Create(*env.broker, o).status(), ErrorCode::kInvalidConfig));
  o.open_batches_per_partition = 64;
  CHECK(Producer::Create(*env.broker, o).ok());
  o = ProducerOptions();
  o.acks = static_cast<Acks>(2);
  CHECK(HasErrorCode(Producer::Create(*env.broker, o).status(), ErrorCode::kInvalidRequiredAcks));
}

// A broker in memory whose time moves only when the test advances it,
// with topic "t" of one partition: linger timers fire exactly on time.
struct ManualTimeBroker {
  ManualTimeBroker() {
    auto opened = Broker::Open(testing::InMemoryBrokerOptions(fs, executor, &clock));
    REQUIRE(opened.ok());
    broker = *std::move(opened);
    REQUIRE(broker->CreateTopic("t", NewTopic(1)).ok());
  }

  MemFileSystem fs;
  ManualClock clock{1'000'000};
  ManualExecutor executor{clock};
  std::unique_ptr<Broker> broker;
};

TEST_CASE("records wait for linger_ms and go out together as one batch") {
  ManualTimeBroker env;
  ManualExecutor& executor = env.executor;
  Broker& broker = *env.broker;
  ProducerOptions options;
  options.linger_ms = 10;
  auto producer = Producer::Create(broker, options);
  REQUIRE(producer.ok());
  std::vector<Offset> offsets;
  for (int i = 0; i < 5; ++i) {
    REQUIRE((*producer)
                ->Send(ProducerRecord("t", "v").WithPartition(0),
                       [&](const absl::StatusOr<RecordMetadata>& m) {
                         REQUIRE(m.ok());
                         offsets.push_back(m->offset);
                       })
                .ok());
  }
  auto partition = broker.GetPartition({"t", 0});
  REQUIRE(partition.ok());
  executor.AdvanceMs(9);
  CHECK((*partition)->log_end_offset() == Offset(0));
  CHECK(offsets.empty());
  executor.AdvanceMs(1);
  CHECK((*partition)->log_end_offset() == Offset(5));
  CHECK(offsets == std::vector<Offset>{Offset(0), Offset(1), Offset(2), Offset(3), Offset(4)});
  CHECK((*producer)->metrics().batches_sent == 1);
  REQUIRE((*producer)->Close().ok());
}

TEST_CASE("a batch opened after a full one still waits its own linger_ms") {
  ManualTimeBroker env;
  ManualExecutor& executor = env.executor;
  Broker& broker = *env.broker;
  ProducerOptions options;
  options.linger_ms = 10;
  options.batch_size = 1000;
  auto producer = Producer::Create(broker, options);
  REQUIRE(producer.ok());
  auto partition = broker.GetPartition({"t", 0});
  REQUIRE(partition.ok());
  const std::string value(90, 'v');
  auto send = [&] {
    REQUIRE((*producer)->Send(ProducerRecord("t", value).WithPartition(0), nullptr).ok());
  };
  // t=0: a batch opens; the partition's linger timer is armed for t=10.
  send();
  // t=4: it fills and goes out at once; the record that did not fit opens
  // the next batch, whose linger ends at t=14, not when the timer armed
  // for the first batch fires.
  executor.AdvanceMs(4);
  while ((*partition)->log_end_offset() == Offset(0)) send();
  const Offset full = (*partition)->log_end_offset();
  executor.AdvanceMs(6);  // t=10
  CHECK((*partition)->log_end_offset() == full);
  executor.AdvanceMs(3);  // t=13
  CHECK((*partition)->log_end_offset() == full);
  executor.AdvanceMs(1);  // t=14
  CHECK((*partition)->log_end_offset() > full);
  // Every batch goes out eventually: the timer is armed again for the next.
  const Offset second = (*partition)->log_end_offset();
  executor.AdvanceMs(100);
  send();
  executor.AdvanceMs(9);
  CHECK((*partition)->log_end_offset() == second);
  executor.AdvanceMs(1);
  CHECK((*partition)->log_end_offset() == second + 1);
  REQUIRE((*producer)->Close().ok());
}

TEST_CASE("each sending thread fills a batch of its own, which waits out its own linger_ms") {
  for (const int lanes : {1, 2}) {
    INFO("open_batches_per_partition " << lanes);
    ManualTimeBroker env;
    ManualExecutor& executor = env.executor;
    ProducerOptions options;
    options.linger_ms = 10;
    options.open_batches_per_partition = lanes;
    auto producer = Producer::Create(*env.broker, options);
    REQUIRE(producer.ok());
    auto partition = env.broker->GetPartition({"t", 0});
    REQUIRE(partition.ok());
    auto send = [&](const std::string& value) {
      REQUIRE((*producer)->Send(ProducerRecord("t", value).WithPartition(0), nullptr).ok());
    };
    send("main-0");  // t=0
    executor.AdvanceMs(4);
    // Another live thread: it takes the lowest slot the test's thread does
    // not hold, so with two lanes it fills the other one.
    std::thread([&] { send("helper-0"); }).join();  // t=4
    executor.AdvanceMs(5);
    send("main-1");  // t=9
    CHECK((*partition)->log_end_offset() == Offset(0));
    executor.AdvanceMs(1);  // t=10: the first batch's linger is over
    if (lanes == 1) {
      // One batch for all three, as Kafka's producer makes.
      CHECK((*partition)->log_end_offset() == Offset(3));
      CHECK((*producer)->metrics().batches_sent == 1);
    } else {
      // The helper's batch opened at t=4 and waits until t=14.
      CHECK((*partition)->log_end_offset() == Offset(2));
      executor.AdvanceMs(3);
      CHECK((*partition)->log_end_offset() == Offset(2));
      executor.AdvanceMs(1);
      CHECK((*partition)->log_end_offset() == Offset(3));
      CHECK((*producer)->metrics().batches_sent == 2);
    }
    auto consumer = Consumer::Create(*env.broker);
    REQUIRE(consumer.ok());
    REQUIRE((*consumer)->Assign({TopicPartition{"t", PartitionId(0)}}).ok());
    REQUIRE((*consumer)->SeekToBeginning().ok());
    const std::vector<std::string> values = testing::PollValuesNow(**consumer);
    const std::vector<std::string> in_one{"main-0", "helper-0", "main-1"};
    const std::vector<std::string> per_lane{"main-0", "main-1", "helper-0"};
    CHECK(values == (lanes == 1 ? in_one : per_lane));
    CHECK((*producer)->metrics().records_in_flight == 0);
    REQUIRE((*producer)->Close().ok());
  }
}

TEST_CASE("SendSync returns while other threads' appends are running, whatever linger_ms") {
  ClientEnv env;
  env.CreateTopic("sync", 1);
  ProducerOptions options;
  options.linger_ms = 100'000;  // only SendSync and full batches send
  options.delivery_timeout_ms = 200'000;
  options.batch_size = 512;
  auto producer = env.MakeProducer(options);
  constexpr int kThreads = 4;
  constexpr int kSends = 300;
  std::atomic<int> done{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSends; ++i) {
        // Records that fill batches (appended by their senders), between
        // SendSyncs that may find one of those appends running.
        if (i % 3 != 0) {
          if (!producer->Send(ProducerRecord("sync", std::string(100, 'a' + t)), nullptr).ok()) {
            failures++;
          }
          continue;
        }
        if (!producer->SendSync(ProducerRecord("sync", std::string(100, 'a' + t))).ok()) {
          failures++;
        }
      }
      done++;
    });
  }
  // A SendSync left waiting for the linger would wait 100 s: after a
  // generous while, a Flush lets it go and the test fails instead of
  // hanging.
  bool stuck = false;
  for (int i = 0; i < 3000 && done.load() < kThreads; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (done.load() < kThreads) {
    stuck = true;
    REQUIRE(producer->Flush().ok());
  }
  for (auto& t : threads) t.join();
  CHECK_FALSE(stuck);
  CHECK(failures == 0);
  REQUIRE(producer->Close().ok());
  CHECK(producer->metrics().records_sent == kThreads * kSends);
}

TEST_CASE("a batch is closed when it reaches batch_size, and a large record gets its own") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  ProducerOptions options;
  options.batch_size = 1000;
  options.linger_ms = 60'000;
  auto producer = env.MakeProducer(options);
  const std::string value(90, 'v');
  for (int i = 0; i < 30; ++i) {
    REQUIRE(producer->Send(ProducerRecord("t", value).WithPartition(0), nullptr).ok());
  }
  // About ten 100-byte records fill a 1000-byte batch: the first ones are
  // in the log before any linger expires.
  CHECK(producer->metrics().batches_sent >= 2);
  const std::string big(5000, 'b');
  REQUIRE(producer->Send(ProducerRecord("t", big).WithPartition(0), nullptr).ok());
  REQUIRE(producer->Flush().ok());
  CHECK(producer->metrics().records_sent == 31);
  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"t", 0}}).ok());
  REQUIRE(consumer->SeekToBeginning().ok());
  auto records = PollAll(*consumer, 31);
  REQUIRE(records.size() == 31);
  CHECK(records.back().value == big);
}

TEST_CASE("Send blocks for max_block_ms when buffer_memory is full, then fails") {
  MemFileSystem fs;
  ManualClock clock;
  ManualExecutor executor(clock);  // never run: async appends stay queued
  auto broker = Broker::Open(testing::InMemoryBrokerOptions(fs, executor));
  REQUIRE(broker.ok());
  REQUIRE((*broker)->CreateTopic("t", NewTopic(1)).ok());
  const std::string value(300, 'x');
  // One record per batch: each takes its record and a batch header.
  const size_t per_batch =
      RecordBatchBuilder::EncodedRecordSize(0, 0, std::nullopt, AsBytes(value)) +
      record_format::kRecordBatchOverhead;
  ProducerOptions options;
  options.async_send = true;
  options.linger_ms = 0;
  options.batch_size = static_cast<int32_t>(per_batch);
  options.buffer_memory = static_cast<int64_t>(3 * per_batch + per_batch / 2);
  options.max_block_ms = 20;
  auto producer = Producer::Create(**broker, options);
  REQUIRE(producer.ok());
  int sent = 0;
  absl::Status status;
  while (status.ok() && sent < 10) {
    status = (*producer)->Send(ProducerRecord("t", value), nullptr);
    if (status.ok()) ++sent;
  }
  CHECK(sent == 3);
  CHECK(HasErrorCode(status, ErrorCode::kRequestTimedOut));
  // Once the queued appends run, the memory is back.
  executor.RunReady();
  CHECK((*producer)->Send(ProducerRecord("t", value), nullptr).ok());
  executor.RunReady();
  REQUIRE((*producer)->Flush().ok());
  CHECK((*producer)->metrics().records_sent == 4);
  auto partition = (*broker)->GetPartition({"t", 0});
  REQUIRE(partition.ok());
  CHECK((*partition)->log_end_offset() == Offset(4));
}

TEST_CASE("an open batch holds batch_size of buffer_memory and gives back what it did not use") {
  MemFileSystem fs;
  ManualClock clock;
  ManualExecutor executor(clock);  // run by hand: appends wait until then
  auto broker = Broker::Open(testing::InMemoryBrokerOptions(fs, executor, &clock));
  REQUIRE(broker.ok());
  REQUIRE((*broker)->CreateTopic("t", NewTopic(1)).ok());
  const std::string value(100, 'x');
  const size_t record = RecordBatchBuilder::EncodedRecordSize(0, 0, std::nullopt, AsBytes(value));
  ProducerOptions options;
  options.async_send = true;
  options.batch_size = 4096;

  SECTION("lingering: the open batch holds batch_size until it is appended") {
    options.linger_ms = 1000;
    auto producer = Producer::Create(**broker, options);
    REQUIRE(producer.ok());
    REQUIRE((*producer)->Send(ProducerRecord("t", value), nullptr).ok());
    REQUIRE((*producer)->Send(ProducerRecord("t", value), nullptr).ok());
    CHECK((*producer)->metrics().buffer_bytes_used == 4096);
    CHECK((*producer)->metrics().records_in_flight == 2);
    executor.AdvanceMs(1000);
    CHECK((*producer)->metrics().records_sent == 2);
    CHECK((*producer)->metrics().buffer_bytes_used == 0);
    CHECK((*producer)->metrics().records_in_flight == 0);
  }
  SECTION("linger 0: a sealed batch holds only its encoded size") {
    options.linger_ms = 0;
    auto producer = Producer::Create(**broker, options);
    REQUIRE(producer.ok());
    REQUIRE((*producer)->Send(ProducerRecord("t", value), nullptr).ok());
    CHECK((*producer)->metrics().buffer_bytes_used == record + record_format::kRecordBatchOverhead);
    CHECK((*producer)->metrics().records_in_flight == 1);
    executor.RunReady();
    CHECK((*producer)->metrics().records_sent == 1);
    CHECK((*producer)->metrics().buffer_bytes_used == 0);
  }
}

TEST_CASE("acks 0 completes with offset -1") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  ProducerOptions options;
  options.acks = Acks::kNone;
  auto producer = env.MakeProducer(options);
  auto m = producer->SendSync(ProducerRecord("t", "v"));
  REQUIRE(m.ok());
  CHECK(m->offset == Offset(-1));
}

TEST_CASE("records from several threads keep each thread's order within a partition") {
  ClientEnv env;
  env.CreateTopic("ordered", 2);
  ProducerOptions options;
  options.linger_ms = 0;
  options.batch_size = 4096;
  auto producer = env.MakeProducer(options);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 3000;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string value = std::to_string(t) + ":" + std::to_string(i);
        absl::Status s = producer->Send(ProducerRecord("ordered", value).WithPartition(i % 2),
                                        [&](const absl::StatusOr<RecordMetadata>& m) {
                                          if (!m.ok()) failures++;
                                        });
        if (!s.ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(producer->Flush().ok());
  CHECK(failures == 0);

  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"ordered", 0}, {"ordered", 1}}).ok());
  REQUIRE(consumer->SeekToBeginning().ok());
  auto records = PollAll(*consumer, kThreads * kPerThread);
  REQUIRE(records.size() == static_cast<size_t>(kThreads * kPerThread));
  std::map<std::pair<int32_t, int>, int> last;  // (partition, thread) -> last sequence
  for (const auto& r : records) {
    const size_t colon = r.value->find(':');
    const int t = std::stoi(r.value->substr(0, colon));
    const int i = std::stoi(r.value->substr(colon + 1));
    CHECK(i % 2 == r.partition.value());
    auto [it, inserted] = last.try_emplace({r.partition.value(), t}, i);
    if (!inserted) {
      CHECK(i == it->second + 2);
      it->second = i;
    }
  }
}

// Flush wakes a flusher only once its own target is reached: flushers
// waiting for different targets on one partition must each be woken.
// On a three-broker cluster, so that acks=all completes later, on the
// executor's threads, while the flushers wait.
TEST_CASE("threads flushing together each return once everything they sent has completed") {
  MemFileSystem fs;
  ThreadPoolExecutor executor(2);
  ClusterOptions o;
  o.brokers = 3;
  o.data_dir = "/cluster";
  o.file_system = &fs;
  o.executor = &executor;
  o.topic_defaults.log.segment_index_bytes = 64 << 10;
  auto cluster = Cluster::Open(o);
  REQUIRE(cluster.ok());
  REQUIRE((*cluster)->CreateTopic("flushed", NewTopic(1, 3)).ok());
  ProducerOptions options;
  options.linger_ms = 1;
  options.batch_size = 1024;
  auto created = Producer::Create(**cluster, options);
  REQUIRE(created.ok());
  std::unique_ptr<Producer> producer = *std::move(created);
  constexpr int kThreads = 3;
  constexpr int kRounds = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::atomic<int> completed{0};
      int sent = 0;
      for (int round = 0; round < kRounds; ++round) {
        // Rounds of different sizes, so that the threads' targets differ.
        for (int i = 0; i < 20 + 15 * t + round % 7; ++i) {
          absl::Status s = producer->Send(ProducerRecord("flushed", std::string(100, 'x')),
                                          [&](const absl::StatusOr<RecordMetadata>& m) {
                                            if (!m.ok()) failures++;
                                            completed++;
                                          });
          if (s.ok()) ++sent;
          if (!s.ok()) failures++;
        }
        if (!producer->Flush().ok()) failures++;
        if (completed.load() != sent) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  REQUIRE(producer->Close().ok());
  REQUIRE((*cluster)->Close().ok());
}

TEST_CASE("Close while other threads send: every accepted record completes, later sends fail") {
  ClientEnv env;
  env.CreateTopic("t", 3);
  ProducerOptions options;
  // Lingering batches and a small buffer: records wait in open batches and
  // senders block for memory when Close comes.
  options.linger_ms = 5;
  options.batch_size = 1024;
  options.buffer_memory = 8 << 10;
  options.max_block_ms = 60'000;
  auto producer = env.MakeProducer(options);
  constexpr int kThreads = 4;
  std::atomic<int> accepted{0};
  std::atomic<int> completed{0};
  std::atomic<int> failed_completions{0};
  std::atomic<int> wrong_refusals{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0;; ++i) {
        absl::Status s = producer->Send(ProducerRecord("t", std::string(100, 'v')),
                                        [&](const absl::StatusOr<RecordMetadata>& m) {
                                          completed++;
                                          if (!m.ok()) failed_completions++;
                                        });
        if (s.ok()) {
          accepted++;
          continue;
        }
        if (!absl::IsFailedPrecondition(s)) wrong_refusals++;
        return;
      }
    });
  }
  while (accepted < 2000) std::this_thread::yield();
  REQUIRE(producer->Close().ok());
  // Close returned: every record it accepted has completed, and it
  // accepts no more (a sender may not have counted its last one yet).
  const int completed_at_close = completed.load();
  for (auto& t : threads) t.join();
  CHECK(accepted == completed_at_close);
  CHECK(completed == completed_at_close);
  CHECK(failed_completions == 0);
  CHECK(wrong_refusals == 0);
  CHECK(absl::IsFailedPrecondition(producer->Send(ProducerRecord("t", "late"), nullptr)));
  CHECK(producer->metrics().buffer_bytes_used == 0);
  CHECK(producer->metrics().records_in_flight == 0);
  int64_t in_log = 0;
  for (int p = 0; p < 3; ++p) {
    auto partition = env.broker->GetPartition({"t", p});
    REQUIRE(partition.ok());
    in_log += (*partition)->log_end_offset().value();
  }
  CHECK(in_log == accepted.load());
}

TEST_CASE("every acknowledged record is read back exactly once after a restart") {
  ClientEnv env;
  env.CreateTopic("events", 3);
  std::map<std::pair<int32_t, int64_t>, std::string> acked;
  int callback_failures = 0;
  std::mutex mu;
  {
    ProducerOptions options;
    options.linger_ms = 1;
    options.compression = CompressionType::kZstd;
    auto producer = env.MakeProducer(options);
    for (int i = 0; i < 2000; ++i) {
      const std::string key = "key-" + std::to_string(i % 37);
      const std::string value = "value-" + std::to_string(i);
      REQUIRE(producer
                  ->Send(ProducerRecord("events", key, value),
                         // Callbacks run on other threads (the linger
                         // timer's): no Catch2 assertions there.
                         [&, value](const absl::StatusOr<RecordMetadata>& m) {
                           std::lock_guard lock(mu);
                           if (!m.ok() || !acked
                                               .emplace(std::make_pair(m->partition.value(),
                                                                       m->offset.value()),
                                                        value)
                                               .second) {
                             ++callback_failures;
                           }
                         })
                  .ok());
    }
    REQUIRE(producer->Close().ok());
  }
  CHECK(callback_failures == 0);
  CHECK(acked.size() == 2000);
  env.Reopen();
  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"events", 0}, {"events", 1}, {"events", 2}}).ok());
  REQUIRE(consumer->SeekToBeginning().ok());
  auto records = PollAll(*consumer, 2000);
  REQUIRE(records.size() == 2000);
  std::map<std::pair<int32_t, int64_t>, std::string> read;
  for (const auto& r : records) {
    CHECK(read.emplace(std::make_pair(r.partition.value(), r.offset.value()), *r.value).second);
  }
  CHECK(read == acked);
}

TEST_CASE("sending to a deleted topic fails, and a recreated one is used afresh") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  auto producer = env.MakeProducer();
  REQUIRE(producer->SendSync(ProducerRecord("t", "1")).ok());
  REQUIRE(env.broker->DeleteTopic("t").ok());
  CHECK(HasErrorCode(producer->SendSync(ProducerRecord("t", "2")).status(),
                     ErrorCode::kUnknownTopicOrPartition));
  env.CreateTopic("t", 2);
  auto m = producer->SendSync(ProducerRecord("t", "3").WithPartition(1));
  REQUIRE(m.ok());
  CHECK(m->offset == Offset(0));
}

TEST_CASE("a topic's compression.type overrides the producer's codec") {
  ClientEnv env;
  TopicConfig zstd;
  zstd.compression = TopicCompression::kZstd;
  env.CreateTopic("z", 1, zstd);
  auto producer = env.MakeProducer();
  const std::string value(4000, 'a');  // compresses well
  for (int i = 0; i < 10; ++i) {
    REQUIRE(producer->Send(ProducerRecord("z", value), nullptr).ok());
  }
  REQUIRE(producer->Flush().ok());
  auto d = env.broker->DescribeTopic("z");
  REQUIRE(d.ok());
  CHECK(d->partitions[0].size_bytes < 4000);
  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"z", 0}}).ok());
  REQUIRE(consumer->SeekToBeginning().ok());
  auto records = PollAll(*consumer, 10);
  REQUIRE(records.size() == 10);
  CHECK(records[9].value == value);
}

TEST_CASE("headers, null keys and null values go through unchanged") {
  ClientEnv env;
  env.CreateTopic("h", 1);
  auto producer = env.MakeProducer();
  const std::string trace = "abc";
  RecordHeader headers[] = {{"trace", AsBytes(trace)}, {"empty", std::nullopt}};
  REQUIRE(producer
              ->SendSync(ProducerRecord("h", std::nullopt, AsBytes(std::string_view("v")))
                             .WithHeaders(headers))
              .ok());
  REQUIRE(
      producer->SendSync(ProducerRecord("h", AsBytes(std::string_view("k")), std::nullopt)).ok());
  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"h", 0}}).ok());
  REQUIRE(consumer->SeekToBeginning().ok());
  auto records = PollAll(*consumer, 2);
  REQUIRE(records.size() == 2);
  CHECK_FALSE(records[0].key.has_value());
  REQUIRE(records[0].headers.size() == 2);
  CHECK(records[0].headers[0].first == "trace");
  CHECK(records[0].headers[0].second == "abc");
  CHECK_FALSE(records[0].headers[1].second.has_value());
  CHECK(records[1].key == "k");
  CHECK_FALSE(records[1].value.has_value());
}

TEST_CASE("auto-created topics take the broker's partition count") {
  MemFileSystem fs;
  ThreadPoolExecutor executor(1);
  BrokerOptions bo = testing::InMemoryBrokerOptions(fs, executor);
  bo.auto_create_topics = true;
  bo.auto_create_partitions = 2;
  auto broker = Broker::Open(bo);
  REQUIRE(broker.ok());
  auto producer = Producer::Create(**broker);
  REQUIRE(producer.ok());
  REQUIRE((*producer)->SendSync(ProducerRecord("fresh", "k", "v")).ok());
  auto d = (*broker)->DescribeTopic("fresh");
  REQUIRE(d.ok());
  CHECK(d->partitions.size() == 2);
}

}  // namespace
}  // namespace evlog
