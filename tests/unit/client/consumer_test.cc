#include "evlog/client/consumer.h"

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/unit/client/client_env.h"

namespace evlog {
namespace {

using testing::ClientEnv;
using testing::PollAll;

void Produce(Producer& producer, const std::string& topic, int partition, int count,
             int64_t timestamp_ms = -1) {
  for (int i = 0; i < count; ++i) {
    REQUIRE(producer
                .Send(ProducerRecord(topic, "r" + std::to_string(i))
                          .WithPartition(partition)
                          .WithTimestamp(timestamp_ms < 0 ? -1 : timestamp_ms + i),
                      nullptr)
                .ok());
  }
  REQUIRE(producer.Flush().ok());
}

TEST_CASE("a poll returns at most max_poll_records, and the next poll continues from there") {
  ClientEnv env;
  env.CreateTopic("t", 2);
  auto producer = env.MakeProducer();
  Produce(*producer, "t", 0, 30);
  Produce(*producer, "t", 1, 30);
  ConsumerOptions options;
  options.max_poll_records = 7;
  auto consumer = env.MakeConsumer(options);
  REQUIRE(consumer->Assign({{"t", 0}, {"t", 1}}).ok());
  REQUIRE(consumer->SeekToBeginning().ok());
  std::map<int32_t, std::vector<int64_t>> offsets;
  size_t total = 0;
  while (total < 60) {
    auto records = consumer->Poll(1000);
    REQUIRE(records.ok());
    REQUIRE(!records->empty());
    CHECK(records->size() <= 7);
    for (const auto& r : *records) offsets[r.partition.value()].push_back(r.offset.value());
    total += records->size();
  }
  for (int p = 0; p < 2; ++p) {
    REQUIRE(offsets[p].size() == 30);
    for (int64_t i = 0; i < 30; ++i) CHECK(offsets[p][static_cast<size_t>(i)] == i);
  }
  auto position = consumer->Position({"t", 1});
  REQUIRE(position.ok());
  CHECK(*position == Offset(30));
  auto m = consumer->metrics();
  CHECK(m.records_consumed == 60);
  CHECK(m.partitions.size() == 2);
  CHECK(m.partitions[0].lag == 0);
}

TEST_CASE("a parked poll wakes when a record is appended, and times out otherwise") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"t", 0}}).ok());
  const auto start = std::chrono::steady_clock::now();
  auto empty = consumer->Poll(50);
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(50));

  auto producer = env.MakeProducer();
  // Catch2's assertions are not thread-safe: other threads report back.
  absl::Status sent;
  std::thread sender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    sent = producer->SendSync(ProducerRecord("t", "wake")).status();
  });
  const auto before = std::chrono::steady_clock::now();
  auto records = consumer->Poll(30'000);
  const auto waited = std::chrono::steady_clock::now() - before;
  sender.join();
  REQUIRE(sent.ok());
  REQUIRE(records.ok());
  REQUIRE(records->size() == 1);
  CHECK((*records)[0].value_string() == "wake");
  CHECK(waited < std::chrono::seconds(10));  // woken, not timed out
}

TEST_CASE("an adaptive spin keeps to the poll's timeout, stops after one, and still wakes") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  ConsumerOptions options;
  // Every wait counts as short: after the first, each poll spins all the
  // way to its timeout.
  options.adaptive_spin_us = 60'000'000;
  auto consumer = env.MakeConsumer(options);
  REQUIRE(consumer->Assign({{"t", 0}}).ok());
  auto producer = env.MakeProducer();
  auto poll_with_send_after = [&](int64_t send_after_ms, int64_t timeout_ms) {
    absl::Status sent;
    std::thread sender;
    if (send_after_ms >= 0) {
      sender = std::thread([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(send_after_ms));
        sent = producer->SendSync(ProducerRecord("t", "v")).status();
      });
    }
    const auto before = std::chrono::steady_clock::now();
    auto records = consumer->Poll(timeout_ms);
    const auto waited = std::chrono::steady_clock::now() - before;
    if (sender.joinable()) sender.join();
    REQUIRE(sent.ok());
    REQUIRE(records.ok());
    return std::make_pair(records->size(), waited);
  };
  // Parks (nothing learned yet) and is woken.
  auto [first, first_wait] = poll_with_send_after(20, 30'000);
  CHECK(first == 1);
  CHECK(first_wait < std::chrono::seconds(10));
  // Spins now, but no further than the timeout.
  auto [none, spun] = poll_with_send_after(-1, 50);
  CHECK(none == 0);
  CHECK(spun >= std::chrono::milliseconds(50));
  CHECK(spun < std::chrono::seconds(10));
  // The timeout ended the spinning: this one parks, and is woken.
  auto [woken, woken_wait] = poll_with_send_after(20, 30'000);
  CHECK(woken == 1);
  CHECK(woken_wait < std::chrono::seconds(10));

  ConsumerOptions bad;
  bad.adaptive_spin_us = -1;
  CHECK(HasErrorCode(Consumer::Create(*env.broker, bad).status(), ErrorCode::kInvalidConfig));
}

TEST_CASE("Wakeup makes a blocked poll return Cancelled") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"t", 0}}).ok());
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    consumer->Wakeup();
  });
  auto result = consumer->Poll(30'000);
  waker.join();
  CHECK(result.status().code() == absl::StatusCode::kCancelled);
  auto next = consumer->Poll(0);
  CHECK(next.ok());
}

TEST_CASE("auto_offset_reset decides where a consumer without a position starts") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  auto producer = env.MakeProducer();
  Produce(*producer, "t", 0, 5);

  ConsumerOptions earliest;
  earliest.auto_offset_reset = OffsetResetPolicy::kEarliest;
  auto a = env.MakeConsumer(earliest);
  REQUIRE(a->Assign({{"t", 0}}).ok());
  CHECK(PollAll(*a, 5, 3).size() == 5);

  auto b = env.MakeConsumer();  // latest
  REQUIRE(b->Assign({{"t", 0}}).ok());
  auto pos = b->Position({"t", 0});
  REQUIRE(pos.ok());
  CHECK(*pos == Offset(5));
  Produce(*producer, "t", 0, 1);
  auto late = PollAll(*b, 1, 3);
  REQUIRE(late.size() == 1);
  CHECK(late[0].offset == Offset(5));

  ConsumerOptions none;
  none.auto_offset_reset = OffsetResetPolicy::kNone;
  auto c = env.MakeConsumer(none);
  REQUIRE(c->Assign({{"t", 0}}).ok());
  CHECK(HasErrorCode(c->Poll(0).status(), ErrorCode::kOffsetOutOfRange));
  REQUIRE(c->Seek({"t", 0}, Offset(2)).ok());
  auto from_two = c->Poll(100);
  REQUIRE(from_two.ok());
  REQUIRE(!from_two->empty());
  CHECK((*from_two)[0].offset == Offset(2));
}

TEST_CASE("a seek past the end is reset by the policy, or fails with OFFSET_OUT_OF_RANGE") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  auto producer = env.MakeProducer();
  Produce(*producer, "t", 0, 3);
  ConsumerOptions earliest;
  earliest.auto_offset_reset = OffsetResetPolicy::kEarliest;
  auto a = env.MakeConsumer(earliest);
  REQUIRE(a->Assign({{"t", 0}}).ok());
  REQUIRE(a->Seek({"t", 0}, Offset(100)).ok());
  auto records = PollAll(*a, 3, 3);
  REQUIRE(records.size() == 3);
  CHECK(records[0].offset == Offset(0));
  CHECK(a->metrics().offset_resets == 1);

  ConsumerOptions none;
  none.auto_offset_reset = OffsetResetPolicy::kNone;
  auto b = env.MakeConsumer(none);
  REQUIRE(b->Assign({{"t", 0}}).ok());
  REQUIRE(b->Seek({"t", 0}, Offset(100)).ok());
  CHECK(HasErrorCode(b->Poll(0).status(), ErrorCode::kOffsetOutOfRange));
}

TEST_CASE("seeking or asking the position of an unassigned partition is refused") {
  ClientEnv env;
  env.CreateTopic("t", 2);
  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"t", 0}}).ok());
  CHECK(consumer->Seek({"t", 1}, Offset(0)).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(consumer->Seek({"t", 0}, Offset(-1)).code() == absl::StatusCode::kInvalidArgument);
  CHECK(consumer->Position({"t", 1}).status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(consumer->SeekToEnd({{"t", 1}}).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(HasErrorCode(consumer->Assign({{"t", 0}, {"t", 2}}), ErrorCode::kUnknownTopicOrPartition));
  CHECK(HasErrorCode(consumer->Assign({{"nope", 0}}), ErrorCode::kUnknownTopicOrPartition));
  CHECK(consumer->Assignment() == std::vector<TopicPartition>{{"t", 0}});  // unchanged
}

TEST_CASE("a kept partition keeps its position across Assign calls") {
  ClientEnv env;
  env.CreateTopic("t", 2);
  auto producer = env.MakeProducer();
  Produce(*producer, "t", 0, 4);
  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"t", 0}}).ok());
  REQUIRE(consumer->Seek({"t", 0}, Offset(3)).ok());
  REQUIRE(consumer->Assign({{"t", 1}, {"t", 0}}).ok());
  auto pos = consumer->Position({"t", 0});
  REQUIRE(pos.ok());
  CHECK(*pos == Offset(3));
}

TEST_CASE("offsets for times, beginning and end offsets") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  auto producer = env.MakeProducer();
  Produce(*producer, "t", 0, 10, /*timestamp_ms=*/1000);  // timestamps 1000..1009
  auto consumer = env.MakeConsumer();
  auto found = consumer->OffsetsForTimes({{{"t", 0}, 1004}});
  REQUIRE(found.ok());
  REQUIRE((*found)[{"t", 0}].has_value());
  CHECK((*found)[{"t", 0}]->offset == Offset(4));
  CHECK((*found)[{"t", 0}]->timestamp_ms == 1004);
  auto none = consumer->OffsetsForTimes({{{"t", 0}, 5000}});
  REQUIRE(none.ok());
  CHECK_FALSE((*none)[{"t", 0}].has_value());
  auto begin = consumer->BeginningOffsets({{"t", 0}});
  auto end = consumer->EndOffsets({{"t", 0}});
  REQUIRE(begin.ok());
  REQUIRE(end.ok());
  CHECK((*begin)[{"t", 0}] == Offset(0));
  CHECK((*end)[{"t", 0}] == Offset(10));
  CHECK(HasErrorCode(consumer->EndOffsets({{"nope", 0}}).status(),
                     ErrorCode::kUnknownTopicOrPartition));
}

TEST_CASE("records after a log start moved by DeleteRecords are still read, earlier ones not") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  auto producer = env.MakeProducer();
  Produce(*producer, "t", 0, 10);
  REQUIRE(env.broker->DeleteRecordsBefore({"t", 0}, Offset(6)).ok());
  ConsumerOptions earliest;
  earliest.auto_offset_reset = OffsetResetPolicy::kEarliest;
  auto consumer = env.MakeConsumer(earliest);
  REQUIRE(consumer->Assign({{"t", 0}}).ok());
  REQUIRE(consumer->Seek({"t", 0}, Offset(2)).ok());  // now below the log start
  auto records = PollAll(*consumer, 4, 3);
  REQUIRE(records.size() == 4);
  CHECK(records[0].offset == Offset(6));
}

TEST_CASE("a consumer of a deleted topic gets UNKNOWN_TOPIC_OR_PARTITION") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"t", 0}}).ok());
  REQUIRE(consumer->Poll(0).ok());
  REQUIRE(env.broker->DeleteTopic("t").ok());
  CHECK(HasErrorCode(consumer->Poll(10).status(), ErrorCode::kUnknownTopicOrPartition));
}

TEST_CASE("a poll's records stay valid until the next poll and can be copied out") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  auto producer = env.MakeProducer();
  Produce(*producer, "t", 0, 3);
  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"t", 0}}).ok());
  REQUIRE(consumer->SeekToBeginning().ok());
  auto records = consumer->Poll(1000);
  REQUIRE(records.ok());
  REQUIRE(records->size() == 3);
  CHECK((*records)[2].value_string() == "r2");
  auto owned = records->ToOwned();
  REQUIRE(consumer->Poll(0).ok());
  CHECK(owned[2].value == "r2");
  CHECK(owned[2].topic == "t");
}

// Changes the first byte of the last `value` in partition 0 of `topic`'s
// segment file, under the log's feet, to `to`.
void DamageLastValue(ClientEnv& env, const std::string& topic, std::string_view value, char to) {
  const std::string dir = "/data/" + topic + "-0";
  auto names = env.fs.ListDir(dir);
  REQUIRE(names.ok());
  std::string log;
  for (const std::string& name : *names) {
    if (name.ends_with(".log")) log = dir + "/" + name;
  }
  REQUIRE(!log.empty());
  auto file = env.fs.Open(log, OpenMode::kReadWrite);
  REQUIRE(file.ok());
  auto size = (*file)->Size();
  REQUIRE(size.ok());
  std::string bytes(*size, '\0');
  auto n = (*file)->ReadAt(0, MutableByteView(reinterpret_cast<std::byte*>(bytes.data()), *size));
  REQUIRE(n.ok());
  const size_t at = bytes.rfind(value);
  REQUIRE(at != std::string::npos);
  const auto damaged = static_cast<std::byte>(to);
  REQUIRE((*file)->WriteAt(at, ByteView(&damaged, 1)).ok());
}

TEST_CASE("check_crcs: a damaged batch is CORRUPT_MESSAGE, or handed out as it is when off") {
  ClientEnv env;
  env.CreateTopic("t", 1);
  auto producer = env.MakeProducer();
  Produce(*producer, "t", 0, 3);
  DamageLastValue(env, "t", "r2", 'x');

  SECTION("checked (the default): the poll fails there, and again, skipping nothing") {
    auto consumer = env.MakeConsumer();
    REQUIRE(consumer->Assign({{"t", 0}}).ok());
    REQUIRE(consumer->SeekToBeginning().ok());
    std::vector<std::string> values;
    absl::Status status;
    for (int i = 0; i < 5 && status.ok(); ++i) {
      auto records = consumer->Poll(0);
      status = records.status();
      if (records.ok()) {
        for (const auto& r : *records) values.emplace_back(r.value_string().value_or(""));
      }
    }
    INFO(status);
    CHECK(HasErrorCode(status, ErrorCode::kCorruptMessage));
    for (const std::string& v : values) CHECK(v != "x2");
    auto position = consumer->Position({"t", 0});
    REQUIRE(position.ok());
    CHECK(position->value() == static_cast<int64_t>(values.size()));
    CHECK(HasErrorCode(consumer->Poll(0).status(), ErrorCode::kCorruptMessage));
  }
  SECTION("not checked: every record comes back, the damaged one as stored") {
    ConsumerOptions options;
    options.check_crcs = false;
    auto consumer = env.MakeConsumer(options);
    REQUIRE(consumer->Assign({{"t", 0}}).ok());
    REQUIRE(consumer->SeekToBeginning().ok());
    auto records = PollAll(*consumer, 3);
    REQUIRE(records.size() == 3);
    CHECK(records[0].value == "r0");
    CHECK(records[1].value == "r1");
    CHECK(records[2].value == "x2");
  }
}

// Each partition is fetched once per pass: a second fetch of the first
// partition reused the buffer its records pointed into (records read as
// copies of others, a use-after-free under ASan) and skipped the next one.
TEST_CASE("one poll gathers records from every assigned partition, each read once") {
  ClientEnv env;
  env.CreateTopic("t", 3);
  auto producer = env.MakeProducer();
  for (int p = 0; p < 3; ++p) Produce(*producer, "t", p, 2);
  auto consumer = env.MakeConsumer();
  REQUIRE(consumer->Assign({{"t", 0}, {"t", 1}, {"t", 2}}).ok());
  REQUIRE(consumer->SeekToBeginning().ok());
  auto records = consumer->Poll(1000);
  REQUIRE(records.ok());
  std::set<std::pair<int, int64_t>> seen;
  for (const auto& r : *records) {
    CHECK(r.value_string() == "r" + std::to_string(r.offset.value()));
    CHECK(seen.emplace(r.partition.value(), r.offset.value()).second);
  }
  CHECK(seen.size() == 6);
}

TEST_CASE("producers and consumers run concurrently and every record arrives once") {
  ClientEnv env;
  env.CreateTopic("live", 4);
  ProducerOptions po;
  po.linger_ms = 0;
  auto producer = env.MakeProducer(po);
  constexpr int kThreads = 2;
  constexpr int kPerThread = 2000;
  // Catch2's assertions are not thread-safe: the threads count problems
  // and the test thread checks the counts.
  std::atomic<int> errors{0};
  std::atomic<int> duplicates{0};
  std::vector<std::future<std::set<std::string>>> consumers;
  for (int c = 0; c < 2; ++c) {
    consumers.push_back(std::async(std::launch::async, [&, c] {
      std::set<std::string> seen;
      ConsumerOptions co;
      co.auto_offset_reset = OffsetResetPolicy::kEarliest;
      co.max_poll_records = 100;
      auto consumer = Consumer::Create(*env.broker, co);
      // Two consumers, two partitions each.
      if (!consumer.ok() || !(*consumer)->Assign({{"live", 2 * c}, {"live", 2 * c + 1}}).ok()) {
        errors++;
        return seen;
      }
      int idle = 0;
      while (idle < 20) {
        auto records = (*consumer)->Poll(100);
        if (!records.ok()) {
          errors++;
          return seen;
        }
        if (records->empty()) ++idle;
        for (const auto& r : *records) {
          if (!seen.insert(std::string(*r.value_string())).second) duplicates++;
        }
      }
      return seen;
    }));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string value = std::to_string(t) + "-" + std::to_string(i);
        if (!producer->Send(ProducerRecord("live", value, value), nullptr).ok()) errors++;
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(producer->Flush().ok());
  size_t total = 0;
  for (auto& f : consumers) total += f.get().size();
  CHECK(errors == 0);
  CHECK(duplicates == 0);
  CHECK(total == static_cast<size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace evlog
