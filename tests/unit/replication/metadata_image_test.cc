#include "evlog/replication/metadata_image.h"

#include <string>
#include <vector>

#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/unit/replication/controller_test_util.h"

namespace evlog {
namespace {

using test::Ids;

RegisterBrokerRecord Register(int32_t id, int64_t epoch) {
  return RegisterBrokerRecord{BrokerId(id), epoch, 1, std::nullopt, "h"};
}

PartitionRecord Partition(uint64_t topic, int32_t p, std::vector<BrokerId> replicas,
                          std::vector<BrokerId> isr, int32_t leader) {
  PartitionRecord r;
  r.topic_id = TopicId(topic);
  r.partition = PartitionId(p);
  r.replicas = std::move(replicas);
  r.isr = std::move(isr);
  r.leader = BrokerId(leader);
  return r;
}

PartitionChangeRecord Change(uint64_t topic, int32_t p) {
  PartitionChangeRecord r;
  r.topic_id = TopicId(topic);
  r.partition = PartitionId(p);
  return r;
}

// Brokers 1, 2, 3 unfenced; topic "t" (id 10) with partition 0 on [1 2 3]
// led by 1.
MetadataImage Example() {
  MetadataImage image;
  for (int32_t id = 1; id <= 3; ++id) {
    REQUIRE(image.Apply(Register(id, id)).ok());
    REQUIRE(image.Apply(UnfenceBrokerRecord{BrokerId(id), id}).ok());
  }
  REQUIRE(image.Apply(TopicRecord{"t", TopicId(10), {}, false}).ok());
  REQUIRE(image.Apply(Partition(10, 0, Ids({1, 2, 3}), Ids({1, 2, 3}), 1)).ok());
  REQUIRE(image.CheckInvariants().ok());
  return image;
}

// Applies `record` to a copy of Example() and checks it is refused with
// INVALID_REQUEST and leaves the image alone.
void CheckRefused(const MetadataRecord& record, const MetadataImage& start = Example()) {
  INFO(MetadataRecordToString(record));
  MetadataImage image = start;
  absl::Status s = image.Apply(record);
  CHECK(GetErrorCode(s) == ErrorCode::kInvalidRequest);
  CHECK(image == start);
}

TEST_CASE("applying records builds brokers, topics and partitions") {
  const MetadataImage image = Example();
  CHECK(image.brokers().size() == 3);
  CHECK(image.IsActive(BrokerId(2)));
  CHECK(!image.IsActive(BrokerId(4)));
  REQUIRE(image.topic("t") != nullptr);
  CHECK(image.topic(TopicId(10)) == image.topic("t"));
  CHECK(image.partition_count() == 1);
  const PartitionState* p = image.partition(TopicPartition("t", 0));
  REQUIRE(p != nullptr);
  CHECK(p->leader == BrokerId(1));
  CHECK(image.partition(TopicPartition("t", 1)) == nullptr);
  CHECK(image.partition(TopicPartition("t", -1)) == nullptr);
  CHECK(image.partition(TopicPartition("u", 0)) == nullptr);
}

TEST_CASE(
    "a partition change bumps the partition epoch always and the leader epoch with a "
    "leader") {
  MetadataImage image = Example();
  PartitionChangeRecord shrink = Change(10, 0);
  shrink.isr = Ids({1, 2});
  REQUIRE(image.Apply(shrink).ok());
  PartitionState p = *image.partition(TopicPartition("t", 0));
  CHECK(p.isr == Ids({1, 2}));
  CHECK(p.leader_epoch == LeaderEpoch(0));
  CHECK(p.partition_epoch == 1);

  PartitionChangeRecord lead = Change(10, 0);
  lead.leader = BrokerId(2);
  REQUIRE(image.Apply(lead).ok());
  p = *image.partition(TopicPartition("t", 0));
  CHECK(p.leader == BrokerId(2));
  CHECK(p.leader_epoch == LeaderEpoch(1));
  CHECK(p.partition_epoch == 2);

  PartitionChangeRecord offline = Change(10, 0);
  offline.leader = kNoLeader;
  REQUIRE(image.Apply(offline).ok());
  p = *image.partition(TopicPartition("t", 0));
  CHECK(p.leader == kNoLeader);
  CHECK(p.leader_epoch == LeaderEpoch(2));
  CHECK(p.partition_epoch == 3);
}

TEST_CASE("records that contradict the image are refused and change nothing") {
  // Partition changes for what does not exist.
  CheckRefused(Change(11, 0));
  CheckRefused(Change(10, 1));
  CheckRefused(Change(10, -1));
  // States that break an invariant.
  PartitionChangeRecord c = Change(10, 0);
  c.isr = Ids({});
  CheckRefused(c);
  c.isr = Ids({2, 4});  // 4 is not a replica
  CheckRefused(c);
  c.isr = Ids({2, 2});
  CheckRefused(c);
  c.isr = Ids({2, 3});  // the leader (1) outside the ISR
  CheckRefused(c);
  c = Change(10, 0);
  c.leader = BrokerId(4);  // not a replica, not registered
  CheckRefused(c);
  c = Change(10, 0);
  c.replicas = Ids({1, 1, 2});
  CheckRefused(c);
  c.replicas = Ids({});
  CheckRefused(c);

  // A fenced leader.
  MetadataImage fenced = Example();
  PartitionChangeRecord move = Change(10, 0);
  move.leader = BrokerId(2);
  REQUIRE(fenced.Apply(move).ok());
  REQUIRE(fenced.Apply(FenceBrokerRecord{BrokerId(3), 3}).ok());
  PartitionChangeRecord to3 = Change(10, 0);
  to3.leader = BrokerId(3);
  CheckRefused(to3, fenced);

  // Brokers.
  CheckRefused(Register(2, 2));                             // epoch not above 2
  CheckRefused(Register(1, 5));                             // 1 still leads t-0
  CheckRefused(Register(-1, 5));                            // negative id
  CheckRefused(FenceBrokerRecord{BrokerId(2), 7});          // wrong epoch
  CheckRefused(FenceBrokerRecord{BrokerId(1), 1});          // leads t-0
  CheckRefused(FenceBrokerRecord{BrokerId(4), 1});          // unknown
  CheckRefused(FenceBrokerRecord{BrokerId(3), 3}, fenced);  // already fenced
  CheckRefused(UnfenceBrokerRecord{BrokerId(2), 2});        // not fenced
  CheckRefused(UnregisterBrokerRecord{BrokerId(1), 1});     // leads t-0
  CheckRefused(UnregisterBrokerRecord{BrokerId(2), 3});     // wrong epoch

  // Topics and partitions.
  CheckRefused(TopicRecord{"t", TopicId(12), {}, false});    // name taken
  CheckRefused(TopicRecord{"u", TopicId(10), {}, false});    // id taken
  CheckRefused(TopicRecord{"u", kNoTopicId, {}, false});     // id 0
  CheckRefused(Partition(10, 0, Ids({1}), Ids({1}), 1));     // partition 0 exists
  CheckRefused(Partition(10, 2, Ids({1}), Ids({1}), 1));     // 1 comes first
  CheckRefused(Partition(11, 0, Ids({1}), Ids({1}), 1));     // no such topic
  CheckRefused(Partition(10, 1, Ids({1, 2}), Ids({2}), 1));  // leader outside the ISR
  CheckRefused(RemoveTopicRecord{TopicId(11)});
}

TEST_CASE("a removed topic's name and id are free again and its partitions are gone") {
  MetadataImage image = Example();
  REQUIRE(image.Apply(RemoveTopicRecord{TopicId(10)}).ok());
  CHECK(image.topic("t") == nullptr);
  CHECK(image.topic(TopicId(10)) == nullptr);
  CHECK(image.partition(TopicPartition("t", 0)) == nullptr);
  CHECK(image.CheckInvariants().ok());
  REQUIRE(image.Apply(TopicRecord{"t", TopicId(20), {}, false}).ok());
  CHECK(image.topic("t")->id == TopicId(20));
  // Fencing and unregistering now that the broker leads nothing.
  REQUIRE(image.Apply(FenceBrokerRecord{BrokerId(1), 1}).ok());
  REQUIRE(image.Apply(UnregisterBrokerRecord{BrokerId(1), 1}).ok());
  CHECK(image.broker(BrokerId(1)) == nullptr);
}

// --- ComputeBrokerDelta -------------------------------------------------------

std::vector<TopicPartition> Names(const std::vector<PartitionDeltaEntry>& entries) {
  std::vector<TopicPartition> out;
  for (const PartitionDeltaEntry& e : entries) out.push_back(e.topic_partition);
  return out;
}

TEST_CASE("the broker delta names new and changed partitions a broker leads or follows") {
  MetadataImage empty;
  for (int32_t id = 1; id <= 3; ++id) {
    REQUIRE(empty.Apply(Register(id, id)).ok());
    REQUIRE(empty.Apply(UnfenceBrokerRecord{BrokerId(id), id}).ok());
  }
  MetadataImage created = empty;
  REQUIRE(created.Apply(TopicRecord{"t", TopicId(10), {}, false}).ok());
  REQUIRE(created.Apply(Partition(10, 0, Ids({1, 2}), Ids({1, 2}), 1)).ok());
  REQUIRE(created.Apply(Partition(10, 1, Ids({2, 3}), Ids({2, 3}), 2)).ok());

  BrokerPartitionDelta d1 = ComputeBrokerDelta(empty, created, BrokerId(1));
  CHECK(Names(d1.leading) == std::vector<TopicPartition>{{"t", 0}});
  CHECK(d1.following.empty());
  CHECK(d1.stopped.empty());
  CHECK(d1.leading[0].topic_id == TopicId(10));
  CHECK(d1.leading[0].state == *created.partition(TopicPartition("t", 0)));
  BrokerPartitionDelta d2 = ComputeBrokerDelta(empty, created, BrokerId(2));
  CHECK(Names(d2.leading) == std::vector<TopicPartition>{{"t", 1}});
  CHECK(Names(d2.following) == std::vector<TopicPartition>{{"t", 0}});
  CHECK(ComputeBrokerDelta(empty, created, BrokerId(4)).empty());
  CHECK(ComputeBrokerDelta(created, created, BrokerId(2)).empty());

  // Leadership of t-0 moves from 1 to 2: 1 now follows it, 2 leads it; t-1
  // did not change and is left out.
  MetadataImage moved = created;
  PartitionChangeRecord change = Change(10, 0);
  change.leader = BrokerId(2);
  REQUIRE(moved.Apply(change).ok());
  d1 = ComputeBrokerDelta(created, moved, BrokerId(1));
  CHECK(d1.leading.empty());
  CHECK(Names(d1.following) == std::vector<TopicPartition>{{"t", 0}});
  d2 = ComputeBrokerDelta(created, moved, BrokerId(2));
  CHECK(Names(d2.leading) == std::vector<TopicPartition>{{"t", 0}});
  CHECK(d2.following.empty());
  CHECK(ComputeBrokerDelta(created, moved, BrokerId(3)).empty());

  // The topic is deleted and created again under the same name: the old
  // incarnation stops, the new one starts.
  MetadataImage recreated = moved;
  REQUIRE(recreated.Apply(RemoveTopicRecord{TopicId(10)}).ok());
  REQUIRE(recreated.Apply(TopicRecord{"t", TopicId(11), {}, false}).ok());
  REQUIRE(recreated.Apply(Partition(11, 0, Ids({3, 2}), Ids({3, 2}), 3)).ok());
  d2 = ComputeBrokerDelta(moved, recreated, BrokerId(2));
  CHECK(Names(d2.stopped) == std::vector<TopicPartition>{{"t", 0}, {"t", 1}});
  CHECK(d2.stopped[0].topic_id == TopicId(10));
  CHECK(Names(d2.following) == std::vector<TopicPartition>{{"t", 0}});
  CHECK(d2.following[0].topic_id == TopicId(11));
  d1 = ComputeBrokerDelta(moved, recreated, BrokerId(1));
  CHECK(Names(d1.stopped) == std::vector<TopicPartition>{{"t", 0}});
  CHECK(d1.leading.empty());
  CHECK(d1.following.empty());
}

}  // namespace
}  // namespace evlog
