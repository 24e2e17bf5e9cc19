// Consumer groups on a Cluster: the cluster's group coordinator keeps its
// offsets in the replicated `__consumer_offsets`, so a group carries on
// through the crash of the broker leading its partition of that topic, and
// a reopened cluster gives its members their committed positions back.
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
#include "tests/support/catch.h"
#include "tests/support/cluster_env.h"

namespace evlog {
namespace {

using testing::ClusterEnv;

const TopicPartition kOrders0("orders", 0);
const TopicPartition kOrders1("orders", 1);

void CreateOrders(Cluster& cluster) {
  NewTopic topic(/*partitions=*/2, /*replication_factor=*/3);
  topic.config.min_insync_replicas = 2;
  auto created = cluster.CreateTopic("orders", topic);
  INFO(created.status());
  REQUIRE(created.ok());
}

// Sends `per_partition` records to each partition of `orders` and runs the
// cluster until every one is acknowledged.
void Produce(ClusterEnv& env, Cluster& cluster, int per_partition, const std::string& tag) {
  ProducerOptions o;
  o.linger_ms = 0;
  o.retry_backoff_ms = 50;
  o.request_timeout_ms = 2'000;
  auto producer = Producer::Create(cluster, o);
  REQUIRE(producer.ok());
  int acked = 0;
  for (int p = 0; p < 2; ++p) {
    for (int i = 0; i < per_partition; ++i) {
      // The record views its value: the string must outlive Send.
      const std::string value = tag + "-" + std::to_string(p) + "-" + std::to_string(i);
      ProducerRecord record("orders", value);
      record.partition = PartitionId(p);
      REQUIRE((*producer)
                  ->Send(record,
                         [&acked](const absl::StatusOr<RecordMetadata>& m) {
                           INFO(m.status());
                           CHECK(m.ok());
                           ++acked;
                         })
                  .ok());
    }
  }
  REQUIRE(env.RunUntil([&] { return acked == 2 * per_partition; }, 30'000));
  REQUIRE((*producer)->Close().ok());
}

ConsumerOptions Billing() {
  ConsumerOptions o;
  o.group_id = "billing";
  o.enable_auto_commit = false;
  o.auto_offset_reset = OffsetResetPolicy::kEarliest;
  return o;
}

// Creating a member first loads the coordinator, which a reopened cluster
// can do only once its offsets partitions have leaders and nothing
// uncommitted: until then creation is retriable.
std::unique_ptr<Consumer> Member(ClusterEnv& env, Cluster& cluster) {
  std::unique_ptr<Consumer> consumer;
  absl::Status last;
  REQUIRE(env.RunUntil(
      [&] {
        auto c = Consumer::Create(cluster, Billing());
        if (!c.ok()) {
          last = c.status();
          CHECK(HasErrorCode(last, ErrorCode::kCoordinatorLoadInProgress));
          return false;
        }
        consumer = *std::move(c);
        return true;
      },
      10'000));
  REQUIRE(consumer->Subscribe({"orders"}).ok());
  return consumer;
}

// Polls while running the cluster until `count` records arrived.
std::vector<std::string> Read(ClusterEnv& env, Consumer& consumer, size_t count) {
  std::vector<std::string> values;
  env.RunUntil(
      [&] {
        auto records = consumer.Poll(0);
        INFO(records.status());
        REQUIRE(records.ok());
        for (const auto& r : *records) values.emplace_back(r.ToOwned().value.value_or(""));
        return values.size() >= count;
      },
      20'000);
  return values;
}

// Commits what `consumer` consumed, asynchronously, and runs the cluster
// until the commit is answered; retries what is retriable (the offsets
// partition failing over). Returns the last answer.
absl::Status Commit(ClusterEnv& env, Consumer& consumer) {
  absl::Status answer = absl::UnknownError("no answer");
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::optional<absl::Status> result;
    consumer.CommitAsync([&result](const std::map<TopicPartition, OffsetAndMetadata>&,
                                   const absl::Status& s) { result = s; });
    env.RunUntil(
        [&] {
          REQUIRE(consumer.Poll(0).ok());  // runs the callback
          return result.has_value();
        },
        5'000);
    if (!result) continue;
    answer = *result;
    if (answer.ok() || !IsRetriable(GetErrorCode(answer))) return answer;
    env.Run(100);
  }
  return answer;
}

TEST_CASE(
    "a group on a cluster commits through a failover of its offsets partition and resumes "
    "after a reopen") {
  ClusterEnv env;
  auto cluster = env.Open();
  CreateOrders(*cluster);
  GroupCoordinatorOptions options;
  options.offset_store.partition_count = 4;
  auto coordinator = cluster->group_coordinator(&options);
  INFO(coordinator.status());
  REQUIRE(coordinator.ok());
  // Options are taken only by the call that makes it.
  CHECK(!cluster->group_coordinator(&options).ok());

  // The offsets topic is replicated like any other.
  auto offsets_topic = cluster->Describe(OffsetStore::kTopic);
  REQUIRE(offsets_topic.ok());
  REQUIRE(offsets_topic->partitions.size() == 4);
  for (const PartitionMetadata& p : offsets_topic->partitions) CHECK(p.replicas.size() == 3);
  const TopicPartition offsets_partition(std::string(OffsetStore::kTopic),
                                         (*coordinator)->OffsetsPartitionFor("billing"));
  coordinator->reset();

  Produce(env, *cluster, 10, "a");
  auto member = Member(env, *cluster);
  CHECK(Read(env, *member, 20).size() == 20);
  REQUIRE(Commit(env, *member).ok());
  auto committed = member->Committed({kOrders0, kOrders1});
  REQUIRE(committed.ok());
  CHECK((*committed)[kOrders0].offset == Offset(10));
  CHECK((*committed)[kOrders1].offset == Offset(10));

  // A blocking commit drives a manual executor until it is replicated.
  Produce(env, *cluster, 1, "s");
  CHECK(Read(env, *member, 2).size() == 2);
  REQUIRE(member->CommitSync().ok());
  committed = member->Committed({kOrders0, kOrders1});
  REQUIRE(committed.ok());
  CHECK((*committed)[kOrders0].offset == Offset(11));

  // The broker leading the group's offsets partition loses its power; the
  // group's next commit lands on the new leader.
  auto leader = cluster->Metadata(offsets_partition);
  REQUIRE(leader.ok());
  REQUIRE(cluster->CrashBroker(leader->leader).ok());
  Produce(env, *cluster, 5, "b");
  const std::vector<std::string> after = Read(env, *member, 10);
  CHECK(after.size() == 10);
  for (const std::string& v : after) CHECK(v.starts_with("b-"));
  const absl::Status after_crash = Commit(env, *member);
  INFO(after_crash);
  REQUIRE(after_crash.ok());
  auto moved = cluster->Metadata(offsets_partition);
  REQUIRE(moved.ok());
  CHECK(moved->leader != leader->leader);
  REQUIRE(member->Close().ok());
  member.reset();

  // Every live replica of the offsets partition has the commits.
  for (BrokerId replica : moved->isr) {
    auto log = cluster->ReplicaLog(replica, offsets_partition);
    REQUIRE(log.ok());
    CHECK((*log)->log_end_offset() >= Offset(4));
  }

  // A reopened cluster reloads the offsets: a new member starts where the
  // group stopped, and reads only what came after.
  REQUIRE(cluster->Close().ok());
  cluster.reset();
  cluster = env.Open();
  auto next = Member(env, *cluster);
  auto reloaded = next->Committed({kOrders0, kOrders1});
  REQUIRE(reloaded.ok());
  CHECK((*reloaded)[kOrders0].offset == Offset(16));
  CHECK((*reloaded)[kOrders1].offset == Offset(16));
  Produce(env, *cluster, 1, "c");
  std::vector<std::string> read = Read(env, *next, 2);
  std::sort(read.begin(), read.end());
  CHECK(read == std::vector<std::string>{"c-0-0", "c-1-0"});
  REQUIRE(next->Close().ok());
  REQUIRE(cluster->Close().ok());
}

// OffsetDelete decides under the group's lock and waits for replication
// without it: a JoinGroup that the wait runs (the manual executor runs
// every task, the join among them, on this thread) must not find the lock
// still held, which would hang.
TEST_CASE("deleting a group's offsets on a cluster waits for replication without the group lock") {
  ClusterEnv env;
  auto cluster = env.Open();
  CreateOrders(*cluster);
  Produce(env, *cluster, 3, "a");
  {
    auto member = Member(env, *cluster);
    CHECK(Read(env, *member, 6).size() == 6);
    REQUIRE(Commit(env, *member).ok());
    REQUIRE(member->Close().ok());
  }
  auto coordinator = cluster->group_coordinator();
  REQUIRE(coordinator.ok());
  REQUIRE((*coordinator)->FetchOffsets("billing").size() == 2);

  std::optional<JoinGroupResponse> joined;
  env.executor.Schedule([&] {
    JoinGroupRequest request;
    request.group_id = "billing";
    request.client_id = "late";
    request.protocol_type = "consumer";
    request.protocols = {GroupProtocol{"range", ""}};
    request.session_timeout_ms = 10'000;
    (*coordinator)->JoinGroup(std::move(request), [&](JoinGroupResponse response) {
      joined = std::move(response);
    });
  });
  const TopicPartition partitions[] = {kOrders0};
  const absl::Status deleted = (*coordinator)->DeleteOffsets("billing", partitions);
  INFO(deleted);
  REQUIRE(deleted.ok());
  const auto left = (*coordinator)->FetchOffsets("billing");
  CHECK(!left.contains(kOrders0));
  CHECK(left.contains(kOrders1));
  // The join went ahead while the tombstone was replicated, and ends as a
  // rebalance of its own.
  REQUIRE(env.RunUntil([&] { return joined.has_value(); }, 20'000));
  CHECK(joined->status.ok());
  // With a member in it, the group's offsets are no longer deletable.
  const TopicPartition rest[] = {kOrders1};
  CHECK(HasErrorCode((*coordinator)->DeleteOffsets("billing", rest), ErrorCode::kNonEmptyGroup));
}

}  // namespace
}  // namespace evlog
