// Transactions on a Cluster: the cluster's transaction coordinator keeps
// its state in the replicated `__transaction_state` and writes its markers
// at each partition's leader with acks=all; read_committed consumers see a
// transaction whole or not at all, across a failover of the partitions it
// wrote and of the coordinator's own log. Everything runs on one
// ManualExecutor: the producer's blocking calls drive it (AwaitOn).
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evlog/broker/cluster.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/status.h"
#include "evlog/txn/transaction_coordinator.h"
#include "tests/support/catch.h"
#include "tests/support/cluster_env.h"

namespace evlog {
namespace {

using testing::ClusterEnv;

void CreateTopic(Cluster& cluster, const std::string& name, int partitions) {
  NewTopic topic(partitions, /*replication_factor=*/3);
  topic.config.min_insync_replicas = 2;
  auto created = cluster.CreateTopic(name, topic);
  INFO(created.status());
  REQUIRE(created.ok());
}

std::unique_ptr<Producer> Transactional(Cluster& cluster, const std::string& id) {
  ProducerOptions o;
  o.transactional_id = id;
  o.linger_ms = 0;
  o.retry_backoff_ms = 50;
  o.request_timeout_ms = 2'000;
  auto producer = Producer::Create(cluster, o);
  INFO(producer.status());
  REQUIRE(producer.ok());
  return *std::move(producer);
}

// Calls `call` until it is not retriable any more (the coordinator's log
// failing over answers COORDINATOR_NOT_AVAILABLE or
// COORDINATOR_LOAD_IN_PROGRESS), running the cluster in between.
template <typename Call>
absl::Status Retrying(ClusterEnv& env, Call call) {
  absl::Status s;
  for (int attempt = 0; attempt < 50; ++attempt) {
    s = call();
    if (s.ok() || !IsRetriable(GetErrorCode(s))) return s;
    env.Run(100);
  }
  return s;
}

std::unique_ptr<Consumer> Reader(Cluster& cluster, const std::string& topic, int partitions,
                                 IsolationLevel isolation) {
  ConsumerOptions o;
  o.auto_offset_reset = OffsetResetPolicy::kEarliest;
  o.isolation_level = isolation;
  auto consumer = Consumer::Create(cluster, o);
  REQUIRE(consumer.ok());
  std::vector<TopicPartition> all;
  for (int p = 0; p < partitions; ++p) all.emplace_back(topic, p);
  REQUIRE((*consumer)->Assign(all).ok());
  return *std::move(consumer);
}

// Every value readable now (the cluster run between polls), sorted.
std::vector<std::string> ReadAll(ClusterEnv& env, Consumer& consumer) {
  std::vector<std::string> values;
  for (int i = 0; i < 50; ++i) {
    auto records = consumer.Poll(0);
    INFO(records.status());
    REQUIRE(records.ok());
    for (const auto& r : *records) values.emplace_back(r.ToOwned().value.value_or(""));
    env.Run(20);
  }
  std::sort(values.begin(), values.end());
  return values;
}

void Send(Producer& producer, const std::string& topic, int partition, const std::string& value) {
  ProducerRecord record(topic, value);
  record.partition = PartitionId(partition);
  absl::Status sent = producer.Send(record, nullptr);
  INFO(sent);
  REQUIRE(sent.ok());
}

TEST_CASE("a transaction on a cluster is seen whole by read_committed readers, across a failover") {
  ClusterEnv env;
  auto cluster = env.Open();
  CreateTopic(*cluster, "invoices", 2);
  auto producer = Transactional(*cluster, "billing-1");
  REQUIRE(producer->InitTransactions().ok());
  auto state = cluster->Describe("__transaction_state");
  REQUIRE(state.ok());
  CHECK(state->partitions.at(0).replicas.size() == 3);

  REQUIRE(producer->BeginTransaction().ok());
  const std::vector<std::string> values = {"a0", "a1", "a2", "b0", "b1"};
  for (const std::string& v : values) Send(*producer, "invoices", v[0] == 'a' ? 0 : 1, v);
  REQUIRE(producer->Flush().ok());
  auto committed_reader = Reader(*cluster, "invoices", 2, IsolationLevel::kReadCommitted);
  auto uncommitted_reader = Reader(*cluster, "invoices", 2, IsolationLevel::kReadUncommitted);
  // Open: the records are replicated but held back from read_committed.
  CHECK(ReadAll(env, *uncommitted_reader).size() == 5);
  CHECK(ReadAll(env, *committed_reader).empty());

  // The leader of one written partition loses its power before the
  // commit: its marker goes to the new leader.
  const BrokerId victim = cluster->Metadata({"invoices", 0})->leader;
  REQUIRE(cluster->CrashBroker(victim).ok());
  REQUIRE(Retrying(env, [&] { return producer->CommitTransaction(); }).ok());
  CHECK(ReadAll(env, *committed_reader) == values);

  // An aborted transaction never reaches read_committed readers; the next
  // one does.
  REQUIRE(producer->BeginTransaction().ok());
  Send(*producer, "invoices", 0, "x0");
  Send(*producer, "invoices", 1, "x1");
  REQUIRE(Retrying(env, [&] { return producer->AbortTransaction(); }).ok());
  REQUIRE(producer->BeginTransaction().ok());
  Send(*producer, "invoices", 1, "y1");
  REQUIRE(Retrying(env, [&] { return producer->CommitTransaction(); }).ok());
  CHECK(ReadAll(env, *committed_reader) == std::vector<std::string>{"y1"});
  CHECK(ReadAll(env, *uncommitted_reader) == std::vector<std::string>{"x0", "x1", "y1"});

  // A second instance fences the first: its next transaction cannot start
  // writing.
  REQUIRE(cluster->RestartBroker(victim).ok());
  auto successor = Transactional(*cluster, "billing-1");
  REQUIRE(Retrying(env, [&] { return successor->InitTransactions(); }).ok());
  REQUIRE(producer->BeginTransaction().ok());
  ProducerRecord zombie("invoices", "zombie");
  zombie.partition = PartitionId(0);
  CHECK(HasErrorCode(producer->Send(zombie, nullptr), ErrorCode::kProducerFenced));
  CHECK(HasErrorCode(producer->CommitTransaction(), ErrorCode::kProducerFenced));

  // The coordinator's state is in its log: a reopened cluster knows the id
  // and its epoch, and fences the previous instance again.
  auto coordinator = cluster->transaction_coordinator();
  REQUIRE(coordinator.ok());
  auto before = (*coordinator)->Describe("billing-1");
  REQUIRE(before.ok());
  REQUIRE(producer->Close().ok());
  REQUIRE(successor->Close().ok());
  REQUIRE(uncommitted_reader->Close().ok());
  REQUIRE(committed_reader->Close().ok());
  REQUIRE(cluster->Close().ok());
  cluster.reset();
  cluster = env.Open();
  absl::StatusOr<TransactionCoordinator*> reloaded;
  REQUIRE(env.RunUntil(
      [&] {
        reloaded = cluster->transaction_coordinator();
        return reloaded.ok();
      },
      10'000));
  auto after = (*reloaded)->Describe("billing-1");
  REQUIRE(after.ok());
  CHECK(after->producer_id == before->producer_id);
  CHECK(after->epoch == before->epoch);
  CHECK(after->state == before->state);
  REQUIRE(cluster->Close().ok());
}

// Reads with `consumer` (a group member) until `count` records came, the
// cluster running between polls.
std::vector<OwnedRecord> PollRecords(ClusterEnv& env, Consumer& consumer, size_t count) {
  std::vector<OwnedRecord> out;
  env.RunUntil(
      [&] {
        auto records = consumer.Poll(0);
        INFO(records.status());
        REQUIRE(records.ok());
        for (const auto& r : *records) out.push_back(r.ToOwned());
        return out.size() >= count;
      },
      20'000);
  return out;
}

std::unique_ptr<Consumer> BillingMember(ClusterEnv& env, Cluster& cluster) {
  ConsumerOptions o;
  o.group_id = "billing";
  o.enable_auto_commit = false;
  o.auto_offset_reset = OffsetResetPolicy::kEarliest;
  o.isolation_level = IsolationLevel::kReadCommitted;
  std::unique_ptr<Consumer> member;
  REQUIRE(env.RunUntil(
      [&] {
        auto c = Consumer::Create(cluster, o);
        if (c.ok()) member = *std::move(c);
        return c.ok();
      },
      10'000));
  REQUIRE(member->Subscribe({"orders"}).ok());
  return member;
}

TEST_CASE("consume-transform-produce on a cluster commits output and input offsets together") {
  ClusterEnv env;
  auto cluster = env.Open();
  CreateTopic(*cluster, "orders", 2);
  CreateTopic(*cluster, "invoices", 2);
  {
    ProducerOptions o;
    o.linger_ms = 0;
    auto plain = Producer::Create(*cluster, o);
    REQUIRE(plain.ok());
    for (int p = 0; p < 2; ++p) {
      for (int i = 0; i < 6; ++i) {
        const std::string value = "o" + std::to_string(p) + std::to_string(i);
        ProducerRecord record("orders", value);
        record.partition = PartitionId(p);
        REQUIRE((*plain)->Send(record, nullptr).ok());
      }
    }
    REQUIRE((*plain)->Close().ok());  // flushes, driving the executor
  }
  auto member = BillingMember(env, *cluster);
  auto producer = Transactional(*cluster, "invoicer");
  REQUIRE(producer->InitTransactions().ok());
  auto groups = cluster->group_coordinator();
  REQUIRE(groups.ok());
  const TopicPartition offsets_partition("__consumer_offsets",
                                         (*groups)->OffsetsPartitionFor("billing"));

  // One transaction per poll: the invoices and the orders' offsets.
  auto process = [&](const std::vector<OwnedRecord>& records) {
    REQUIRE(producer->BeginTransaction().ok());
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    for (const OwnedRecord& r : records) {
      const std::string invoice = "inv-" + r.value.value_or("");
      ProducerRecord out("invoices", invoice);
      out.partition = r.partition;
      REQUIRE(producer->Send(out, nullptr).ok());
      offsets[TopicPartition(r.topic, r.partition)] =
          OffsetAndMetadata{r.offset + 1, kNoLeaderEpoch, ""};
    }
    REQUIRE(producer->SendOffsetsToTransaction(offsets, member->GroupMetadata()).ok());
    REQUIRE(Retrying(env, [&] { return producer->CommitTransaction(); }).ok());
  };
  process(PollRecords(env, *member, 12));

  // The leader of the group's offsets partition crashes; a second round of
  // input goes through the new leader.
  const BrokerId victim = cluster->Metadata(offsets_partition)->leader;
  REQUIRE(cluster->CrashBroker(victim).ok());
  {
    ProducerOptions o;
    o.linger_ms = 0;
    auto plain = Producer::Create(*cluster, o);
    REQUIRE(plain.ok());
    for (int p = 0; p < 2; ++p) {
      const std::string value = "n" + std::to_string(p);
      ProducerRecord record("orders", value);
      record.partition = PartitionId(p);
      REQUIRE((*plain)->Send(record, nullptr).ok());
    }
    REQUIRE((*plain)->Close().ok());
  }
  process(PollRecords(env, *member, 2));
  REQUIRE(member->Close().ok());
  REQUIRE(producer->Close().ok());

  // Every input became exactly one visible invoice.
  auto reader = Reader(*cluster, "invoices", 2, IsolationLevel::kReadCommitted);
  const std::vector<std::string> invoices = ReadAll(env, *reader);
  CHECK(invoices.size() == 14);
  CHECK(std::adjacent_find(invoices.begin(), invoices.end()) == invoices.end());
  for (const std::string& v : invoices) CHECK(v.starts_with("inv-"));
  // And the group resumes after all of its input.
  auto next = BillingMember(env, *cluster);
  auto committed = next->Committed({{"orders", 0}, {"orders", 1}});
  INFO(committed.status());
  REQUIRE(committed.ok());
  CHECK((*committed)[TopicPartition("orders", 0)].offset == Offset(7));
  CHECK((*committed)[TopicPartition("orders", 1)].offset == Offset(7));
  REQUIRE(next->Close().ok());
  REQUIRE(reader->Close().ok());
  REQUIRE(cluster->Close().ok());
}

}  // namespace
}  // namespace evlog
