#include "evlog/replication/metadata_records.h"

#include <string>
#include <vector>

#include "evlog/record/internal/wire.h"
#include "evlog/status.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

std::vector<BrokerId> Ids(std::initializer_list<int32_t> ids) {
  std::vector<BrokerId> out;
  for (int32_t id : ids) out.emplace_back(id);
  return out;
}

// One record of every type, with optional fields both set and unset.
std::vector<MetadataRecord> Samples() {
  std::vector<MetadataRecord> out;
  out.push_back(RegisterBrokerRecord{BrokerId(3), 17, 0xfeedfacecafebeefULL, std::string("rack-a"),
                                     "host3:9092"});
  out.push_back(RegisterBrokerRecord{BrokerId(0), 0, 0, std::nullopt, ""});
  out.push_back(UnregisterBrokerRecord{BrokerId(3), 17});
  out.push_back(FenceBrokerRecord{BrokerId(4), 1LL << 40});
  out.push_back(UnfenceBrokerRecord{BrokerId(4), 1LL << 40});
  out.push_back(TopicRecord{"orders", TopicId(42), {{"retention.ms", "1000"}, {"a", ""}}, true});
  out.push_back(TopicRecord{"t", TopicId(~uint64_t{0}), {}, false});
  PartitionRecord p;
  p.topic_id = TopicId(42);
  p.partition = PartitionId(5);
  p.replicas = Ids({1, 2, 3});
  p.isr = Ids({2, 1});
  p.leader = BrokerId(2);
  p.leader_epoch = LeaderEpoch(7);
  p.partition_epoch = 9;
  out.push_back(p);
  PartitionChangeRecord c;
  c.topic_id = TopicId(42);
  c.partition = PartitionId(5);
  out.push_back(c);  // no field set
  c.isr = Ids({1});
  out.push_back(c);
  c.leader = kNoLeader;
  out.push_back(c);
  c.replicas = Ids({1, 4});
  c.isr = Ids({});
  out.push_back(c);
  out.push_back(RemoveTopicRecord{TopicId(42)});
  return out;
}

TEST_CASE("every metadata record type encodes and decodes back to an equal record") {
  for (const MetadataRecord& record : Samples()) {
    INFO(MetadataRecordToString(record));
    auto bytes = EncodeMetadataRecord(record);
    REQUIRE(bytes.ok());
    auto back = DecodeMetadataRecord(*bytes);
    REQUIRE(back.ok());
    CHECK(*back == record);
    CHECK(MetadataRecordType(*back) == MetadataRecordType(record));
  }
}

TEST_CASE("metadata records open with Kafka's record type and version 0 big-endian") {
  auto bytes = EncodeMetadataRecord(FenceBrokerRecord{BrokerId(1), 2});
  REQUIRE(bytes.ok());
  // type 7, version 0, broker id 1, epoch 2.
  const std::vector<std::byte> expected = {std::byte{0}, std::byte{7}, std::byte{0}, std::byte{0},
                                           std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1},
                                           std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0},
                                           std::byte{0}, std::byte{0}, std::byte{0}, std::byte{2}};
  CHECK(*bytes == expected);
  CHECK(MetadataRecordType(RegisterBrokerRecord{}) == 0);
  CHECK(MetadataRecordType(UnregisterBrokerRecord{}) == 1);
  CHECK(MetadataRecordType(TopicRecord{}) == 2);
  CHECK(MetadataRecordType(PartitionRecord{}) == 3);
  CHECK(MetadataRecordType(PartitionChangeRecord{}) == 5);
  CHECK(MetadataRecordType(UnfenceBrokerRecord{}) == 8);
  CHECK(MetadataRecordType(RemoveTopicRecord{}) == 9);
}

TEST_CASE("every truncation of every metadata record is CORRUPT_MESSAGE") {
  for (const MetadataRecord& record : Samples()) {
    INFO(MetadataRecordToString(record));
    auto bytes = EncodeMetadataRecord(record);
    REQUIRE(bytes.ok());
    for (size_t n = 0; n < bytes->size(); ++n) {
      INFO("truncated to " << n << " of " << bytes->size() << " bytes");
      auto back = DecodeMetadataRecord(ByteView(bytes->data(), n));
      REQUIRE(!back.ok());
      CHECK(GetErrorCode(back.status()) == ErrorCode::kCorruptMessage);
    }
  }
}

TEST_CASE("a metadata record with bytes after it is CORRUPT_MESSAGE") {
  for (const MetadataRecord& record : Samples()) {
    auto bytes = EncodeMetadataRecord(record);
    REQUIRE(bytes.ok());
    bytes->push_back(std::byte{0});
    auto back = DecodeMetadataRecord(*bytes);
    REQUIRE(!back.ok());
    CHECK(GetErrorCode(back.status()) == ErrorCode::kCorruptMessage);
  }
}

TEST_CASE("an unknown metadata record type or version is UNSUPPORTED_VERSION") {
  auto bytes = EncodeMetadataRecord(RemoveTopicRecord{TopicId(1)});
  REQUIRE(bytes.ok());
  std::vector<std::byte> newer = *bytes;
  newer[3] = std::byte{1};  // version 1
  CHECK(GetErrorCode(DecodeMetadataRecord(newer).status()) == ErrorCode::kUnsupportedVersion);
  std::vector<std::byte> config_record = *bytes;
  config_record[1] = std::byte{4};  // Kafka's ConfigRecord, which evlog does not write
  CHECK(GetErrorCode(DecodeMetadataRecord(config_record).status()) ==
        ErrorCode::kUnsupportedVersion);
}

TEST_CASE("malformed lengths, counts and bools in a metadata record are CORRUPT_MESSAGE") {
  // A PartitionRecord whose replica count claims more than the input holds.
  internal::WireWriter huge_count;
  huge_count.Int<int16_t>(metadata_format::kPartitionType);
  huge_count.Int<int16_t>(0);
  huge_count.Int<uint64_t>(1);
  huge_count.Int<int32_t>(0);
  huge_count.Int<int32_t>(1 << 30);
  auto bytes = std::move(huge_count).Take();
  CHECK(GetErrorCode(DecodeMetadataRecord(bytes).status()) == ErrorCode::kCorruptMessage);

  // A negative count.
  internal::WireWriter negative;
  negative.Int<int16_t>(metadata_format::kPartitionType);
  negative.Int<int16_t>(0);
  negative.Int<uint64_t>(1);
  negative.Int<int32_t>(0);
  negative.Int<int32_t>(-1);
  bytes = std::move(negative).Take();
  CHECK(GetErrorCode(DecodeMetadataRecord(bytes).status()) == ErrorCode::kCorruptMessage);

  // A bool that is 2.
  PartitionChangeRecord empty_change;
  empty_change.topic_id = TopicId(1);
  auto change = EncodeMetadataRecord(empty_change);
  REQUIRE(change.ok());
  bytes = *change;
  bytes[4 + 8 + 4] = std::byte{2};  // the isr-present flag
  CHECK(GetErrorCode(DecodeMetadataRecord(bytes).status()) == ErrorCode::kCorruptMessage);

  // A config name given twice.
  internal::WireWriter twice;
  twice.Int<int16_t>(metadata_format::kTopicType);
  twice.Int<int16_t>(0);
  twice.String("t");
  twice.Int<uint64_t>(1);
  twice.Count(2);
  twice.String("a");
  twice.String("1");
  twice.String("a");
  twice.String("2");
  twice.Bool(false);
  bytes = std::move(twice).Take();
  CHECK(GetErrorCode(DecodeMetadataRecord(bytes).status()) == ErrorCode::kCorruptMessage);
}

TEST_CASE("encoding refuses strings and replica lists the format cannot hold") {
  RegisterBrokerRecord r;
  r.endpoint = std::string(metadata_format::kMaxStringBytes + 1, 'x');
  CHECK(GetErrorCode(EncodeMetadataRecord(r).status()) == ErrorCode::kInvalidRequest);
  r.endpoint = std::string(metadata_format::kMaxStringBytes, 'x');
  CHECK(EncodeMetadataRecord(r).ok());
  PartitionRecord p;
  p.replicas.resize(metadata_format::kMaxReplicas + 1);
  CHECK(GetErrorCode(EncodeMetadataRecord(p).status()) == ErrorCode::kInvalidRequest);
}

TEST_CASE("metadata records print their fields") {
  PartitionChangeRecord c;
  c.topic_id = TopicId(7);
  c.partition = PartitionId(2);
  c.isr = Ids({1, 3});
  CHECK(MetadataRecordToString(c) == "PartitionChangeRecord(topic_id=7, partition=2, isr=[1,3])");
  CHECK(MetadataRecordToString(FenceBrokerRecord{BrokerId(1), 5}) ==
        "FenceBrokerRecord(broker=1, epoch=5)");
}

}  // namespace
}  // namespace evlog
