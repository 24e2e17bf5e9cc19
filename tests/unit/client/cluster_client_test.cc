// The Producer and Consumer against a Cluster: routing to leaders,
// retries across a failover, delivery timeouts, positions kept while
// leadership moves.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "evlog/broker/cluster.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/partition/murmur2_partitioner.h"
#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/support/cluster_env.h"
#include "tests/unit/client/client_env.h"

namespace evlog {
namespace {

using testing::ClusterEnv;
using testing::PollNow;

using Outcome = std::shared_ptr<std::optional<absl::StatusOr<RecordMetadata>>>;

void CreateTopic(Cluster& cluster, const std::string& name, int partitions, int min_isr = 2) {
  NewTopic topic(partitions, /*replication_factor=*/3);
  topic.config.min_insync_replicas = min_isr;
  auto created = cluster.CreateTopic(name, topic);
  INFO(created.status());
  REQUIRE(created.ok());
}

ProducerOptions FastRetries() {
  ProducerOptions o;
  o.linger_ms = 0;
  o.retry_backoff_ms = 50;
  o.request_timeout_ms = 2'000;
  o.delivery_timeout_ms = 30'000;
  return o;
}

std::unique_ptr<Producer> MakeProducer(Cluster& cluster, ProducerOptions options = FastRetries()) {
  auto p = Producer::Create(cluster, std::move(options));
  INFO(p.status());
  REQUIRE(p.ok());
  return *std::move(p);
}

std::unique_ptr<Consumer> MakeConsumer(Cluster& cluster) {
  ConsumerOptions o;
  o.auto_offset_reset = OffsetResetPolicy::kEarliest;
  auto c = Consumer::Create(cluster, std::move(o));
  INFO(c.status());
  REQUIRE(c.ok());
  return *std::move(c);
}

Outcome Send(Producer& producer, const ProducerRecord& record) {
  auto outcome = std::make_shared<std::optional<absl::StatusOr<RecordMetadata>>>();
  absl::Status sent =
      producer.Send(record, [outcome](const absl::StatusOr<RecordMetadata>& m) { *outcome = m; });
  INFO(sent);
  REQUIRE(sent.ok());
  return outcome;
}

bool AllDone(const std::vector<Outcome>& outcomes) {
  for (const Outcome& o : outcomes) {
    if (!o->has_value()) return false;
  }
  return true;
}

std::vector<TopicPartition> Partitions(const std::string& topic, int n) {
  std::vector<TopicPartition> out;
  for (int p = 0; p < n; ++p) out.emplace_back(topic, p);
  return out;
}

TEST_CASE("a producer and a consumer run unchanged against a cluster") {
  ClusterEnv env;
  auto cluster = env.Open();
  CreateTopic(*cluster, "orders", 3);
  auto producer = MakeProducer(*cluster);

  std::vector<Outcome> outcomes;
  for (int i = 0; i < 30; ++i) {
    const std::string key = "order-" + std::to_string(i);
    outcomes.push_back(Send(*producer, ProducerRecord("orders", key, "v" + std::to_string(i))));
  }
  REQUIRE(env.RunUntil([&] { return AllDone(outcomes); }, 5'000));
  std::map<int32_t, int64_t> next_offset;
  for (int i = 0; i < 30; ++i) {
    const absl::StatusOr<RecordMetadata>& m = **outcomes[static_cast<size_t>(i)];
    INFO(m.status());
    REQUIRE(m.ok());
    const std::string key = "order-" + std::to_string(i);
    // Where Kafka's Java producer puts the key, and in order per partition.
    CHECK(m->partition.value() == static_cast<int32_t>((Murmur2(AsBytes(key)) & 0x7fffffff) % 3));
    CHECK(m->offset.value() == next_offset[m->partition.value()]++);
  }

  auto consumer = MakeConsumer(*cluster);
  REQUIRE(consumer->Assign(Partitions("orders", 3)).ok());
  std::vector<OwnedRecord> read = PollNow(*consumer);
  REQUIRE(read.size() == 30);
  std::set<std::string> values;
  for (const OwnedRecord& r : read) {
    const int i = std::stoi(r.key->substr(6));
    CHECK(r.value == "v" + std::to_string(i));
    values.insert(*r.value);
  }
  CHECK(values.size() == 30);
  auto ends = consumer->EndOffsets(Partitions("orders", 3));
  REQUIRE(ends.ok());
  for (const auto& [tp, end] : *ends) CHECK(end.value() == next_offset[tp.partition.value()]);

  // A topic grown after the producer looked it up is seen at its next Send.
  REQUIRE(cluster->CreatePartitions("orders", 5).ok());
  Outcome grown = Send(*producer, ProducerRecord("orders", "k", "new").WithPartition(4));
  REQUIRE(env.RunUntil([&] { return grown->has_value(); }, 5'000));
  REQUIRE((*grown)->ok());
  CHECK((**grown)->partition == PartitionId(4));
  REQUIRE(producer->Close().ok());
}

TEST_CASE("sends retry through a leader crash and nothing is lost, reordered or written twice") {
  ClusterEnv env;
  auto cluster = env.Open();
  CreateTopic(*cluster, "events", 1);
  const TopicPartition tp("events", 0);
  auto producer = MakeProducer(*cluster);

  std::vector<Outcome> outcomes;
  for (int i = 0; i < 20; ++i) {
    outcomes.push_back(Send(*producer, ProducerRecord("events", "v" + std::to_string(i))));
  }
  REQUIRE(env.RunUntil([&] { return AllDone(outcomes); }, 5'000));
  const BrokerId old_leader = cluster->Metadata(tp)->leader;
  REQUIRE(cluster->CrashBroker(old_leader).ok());
  // Sent while the partition has no reachable leader: each batch fails
  // with a retriable error until the controller moves leadership.
  for (int i = 20; i < 40; ++i) {
    outcomes.push_back(Send(*producer, ProducerRecord("events", "v" + std::to_string(i))));
  }
  REQUIRE(env.RunUntil([&] { return AllDone(outcomes); }, 20'000));
  for (const Outcome& o : outcomes) {
    INFO((*o)->status());
    CHECK((*o)->ok());
  }
  CHECK(cluster->Metadata(tp)->leader != old_leader);
  CHECK(producer->metrics().retries >= 1);
  CHECK(producer->metrics().record_errors == 0);

  auto consumer = MakeConsumer(*cluster);
  REQUIRE(consumer->Assign({tp}).ok());
  std::vector<OwnedRecord> read = PollNow(*consumer);
  // Idempotent (the default): a batch retried after its acknowledgement
  // was lost is recognised, so each record is there once, in send order.
  std::vector<std::string> firsts;
  std::set<std::string> seen;
  for (const OwnedRecord& r : read) {
    if (seen.insert(*r.value).second) firsts.push_back(*r.value);
  }
  CHECK(read.size() == 40);
  REQUIRE(firsts.size() == 40);
  for (int i = 0; i < 40; ++i) CHECK(firsts[static_cast<size_t>(i)] == "v" + std::to_string(i));
  REQUIRE(producer->Close().ok());
}

TEST_CASE("a consumer keeps its position while the leader moves and reads on at the new leader") {
  ClusterEnv env;
  auto cluster = env.Open();
  CreateTopic(*cluster, "moves", 1);
  const TopicPartition tp("moves", 0);
  auto producer = MakeProducer(*cluster);
  auto consumer = MakeConsumer(*cluster);
  REQUIRE(consumer->Assign({tp}).ok());

  std::vector<Outcome> first;
  for (int i = 0; i < 10; ++i) first.push_back(Send(*producer, ProducerRecord("moves", "a")));
  REQUIRE(env.RunUntil([&] { return AllDone(first); }, 5'000));
  CHECK(PollNow(*consumer).size() == 10);

  REQUIRE(cluster->CrashBroker(cluster->Metadata(tp)->leader).ok());
  // No leader to read from: nothing, and no error.
  CHECK(PollNow(*consumer).empty());
  std::vector<Outcome> second;
  for (int i = 0; i < 5; ++i) second.push_back(Send(*producer, ProducerRecord("moves", "b")));
  REQUIRE(env.RunUntil([&] { return AllDone(second); }, 20'000));
  std::vector<OwnedRecord> read = PollNow(*consumer);
  REQUIRE(read.size() == 5);
  for (size_t i = 0; i < read.size(); ++i) {
    CHECK(read[i].value == "b");
    CHECK(read[i].offset == Offset(10 + static_cast<int64_t>(i)));
  }
  CHECK(consumer->metrics().offset_resets == 1);  // the first position only
  REQUIRE(producer->Close().ok());
}

TEST_CASE("records fail with the last retriable error once delivery_timeout_ms has passed") {
  ClusterEnv env;
  auto cluster = env.Open();
  // Every replica must acknowledge: one follower down stops acks=all.
  CreateTopic(*cluster, "strict", 1, /*min_isr=*/3);
  const TopicPartition tp("strict", 0);
  const PartitionMetadata m = *cluster->Metadata(tp);
  REQUIRE(cluster->CrashBroker(m.replicas[1] == m.leader ? m.replicas[2] : m.replicas[1]).ok());
  // The leader drops the silent follower from its ISR.
  REQUIRE(env.RunUntil([&] { return cluster->Metadata(tp)->isr.size() == 2; }, 10'000));

  ProducerOptions options = FastRetries();
  options.request_timeout_ms = 500;
  options.delivery_timeout_ms = 3'000;
  auto producer = MakeProducer(*cluster, options);
  Outcome outcome = Send(*producer, ProducerRecord("strict", "x"));
  const int64_t start = env.clock.MonotonicNs();
  REQUIRE(env.RunUntil([&] { return outcome->has_value(); }, 10'000));
  const absl::Status& status = (*outcome)->status();
  INFO(status);
  CHECK(HasErrorCode(status, ErrorCode::kNotEnoughReplicas));
  CHECK(absl::StrContains(status.message(), "delivery_timeout_ms"));
  // Retried until the timeout, not given up at the first error.
  CHECK(env.clock.MonotonicNs() - start >= int64_t{2'900} * 1'000'000);
  CHECK(producer->metrics().retries >= 10);
  CHECK(producer->metrics().record_errors == 1);
  REQUIRE(producer->Close().ok());
}

TEST_CASE("a cluster client does not create topics by sending to them") {
  ClusterEnv env;
  auto cluster = env.Open();
  auto producer = MakeProducer(*cluster);
  // Topics of a cluster are created through it, never by a first send.
  CHECK(HasErrorCode(producer->Send(ProducerRecord("nope", "x"), nullptr),
                     ErrorCode::kUnknownTopicOrPartition));
  CHECK(cluster->ListTopics().empty());
  CHECK(HasErrorCode(MakeConsumer(*cluster)->Assign({{"nope", 0}}),
                     ErrorCode::kUnknownTopicOrPartition));
  REQUIRE(producer->Close().ok());
}

TEST_CASE("on a thread pool a parked Poll wakes for a record committed at the leader") {
  // The cluster's own thread pool and clock, in memory.
  ClusterEnv env;
  ClusterOptions options = env.Options();
  options.clock = nullptr;
  options.executor = nullptr;
  options.transport = nullptr;
  auto cluster = env.Open(options);
  CreateTopic(*cluster, "live", 1);
  auto consumer = MakeConsumer(*cluster);
  REQUIRE(consumer->Assign({{"live", 0}}).ok());
  REQUIRE(consumer->Poll(0).ok());  // sets the position

  std::atomic<bool> got{false};
  std::thread reader([&] {
    // Long enough that only a wake-up, not the timeout, explains an early
    // return with a record.
    auto records = consumer->Poll(60'000);
    got = records.ok() && records->size() == 1;
  });
  ProducerOptions po;
  po.linger_ms = 0;
  auto producer = Producer::Create(*cluster, po);
  REQUIRE(producer.ok());
  auto sent = (*producer)->SendSync(ProducerRecord("live", "hello"));
  INFO(sent.status());
  CHECK(sent.ok());
  reader.join();
  CHECK(got);
  REQUIRE((*producer)->Close().ok());
  REQUIRE(cluster->Close().ok());
}

}  // namespace
}  // namespace evlog
