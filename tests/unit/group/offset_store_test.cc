#include "evlog/group/offset_store.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "evlog/broker/broker.h"
#include "evlog/broker/coordinator_log.h"
#include "evlog/group/offset_commit_record.h"
#include "evlog/io/executor.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"
#include "tests/support/broker_options.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

namespace fmt = consumer_offsets_format;

std::vector<std::byte> Bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

bool IsCorrupt(const absl::Status& s) { return HasErrorCode(s, ErrorCode::kCorruptMessage); }

// A broker on an in-memory file system behind a fault injector, with a
// manual clock and executor, reopenable; and an offset store on it.
struct Env {
  MemFileSystem mem;
  std::unique_ptr<FaultyFileSystem> fs = std::make_unique<FaultyFileSystem>(mem);
  ManualClock clock{1'700'000'000'000};
  ManualExecutor executor{clock};
  OffsetStoreOptions store_options;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<OffsetStore> store;

  Env() { store_options.partition_count = 4; }

  BrokerOptions Options() { return testing::InMemoryBrokerOptions(*fs, executor, &clock); }
  void Open() {
    auto b = Broker::Open(Options());
    REQUIRE(b.ok());
    broker = *std::move(b);
    auto s = OffsetStore::Open(*broker, store_options);
    INFO(s.status());
    REQUIRE(s.ok());
    store = *std::move(s);
  }
  void Reopen() {
    store.reset();
    if (broker) REQUIRE(broker->Close().ok());
    broker.reset();
    Open();
  }
  // Power loss: only synced bytes remain. The handles die with it.
  void Crash(uint64_t seed = 7) {
    fs->SimulateCrash(seed);
    store.reset();
    broker.reset();
  }
  int64_t Now() const { return clock.WallMs(); }
  std::shared_ptr<Partition> OffsetsPartition(std::string_view group) {
    auto p = broker->GetPartition(
        TopicPartition(std::string(OffsetStore::kTopic), store->PartitionFor(group)));
    REQUIRE(p.ok());
    return *p;
  }
  Offset LogEnd(std::string_view group) { return OffsetsPartition(group)->log_end_offset(); }
};

OffsetAndMetadata At(int64_t offset, std::string metadata = "", int32_t epoch = -1) {
  OffsetAndMetadata o;
  o.offset = Offset(offset);
  o.leader_epoch = LeaderEpoch(epoch);
  o.metadata = std::move(metadata);
  return o;
}

// The committed offsets of `group` as topic-partition -> offset.
std::map<std::string, int64_t> Offsets(const OffsetStore& store, std::string_view group) {
  std::map<std::string, int64_t> out;
  for (const auto& [tp, c] : store.FetchOffsets(group)) out[tp.ToString()] = c.offset.value();
  return out;
}

// --- Record format -------------------------------------------------------

TEST_CASE("an offset commit key has Kafka's layout and round-trips") {
  OffsetCommitKey key{"g", "t", PartitionId(1)};
  auto bytes = EncodeOffsetCommitKey(key);
  REQUIRE(bytes.ok());
  CHECK(*bytes == Bytes({0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 1}));
  auto decoded = DecodeOffsetCommitKey(*bytes);
  REQUIRE(decoded.ok());
  CHECK(*decoded == key);
  auto version = PeekConsumerOffsetsKeyVersion(*bytes);
  REQUIRE(version.ok());
  CHECK(*version == fmt::kOffsetCommitKeyVersion);

  // Version 0 has the same layout.
  auto v0 = Bytes({0, 0, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 1});
  auto decoded0 = DecodeOffsetCommitKey(v0);
  REQUIRE(decoded0.ok());
  CHECK(*decoded0 == key);

  OffsetCommitKey big{"billing-service", std::string(249, 'x'), PartitionId(0x7FFFFFFF)};
  auto big_bytes = EncodeOffsetCommitKey(big);
  REQUIRE(big_bytes.ok());
  CHECK(big_bytes->size() == fmt::kKeyFixedBytes + 15 + 249);
  auto big_decoded = DecodeOffsetCommitKey(*big_bytes);
  REQUIRE(big_decoded.ok());
  CHECK(*big_decoded == big);
}

TEST_CASE("an offset commit value version 3 has Kafka's layout and round-trips") {
  OffsetCommitValue value;
  value.offset = Offset(0x0102030405060708);
  value.leader_epoch = LeaderEpoch(5);
  value.metadata = "m";
  value.commit_timestamp_ms = 0x1122334455667788;
  auto bytes = EncodeOffsetCommitValue(value);
  REQUIRE(bytes.ok());
  CHECK(*bytes == Bytes({0, 3, 1, 2,   3,    4,    5,    6,    7,    8,    0,    0,   0,
                         5, 0, 1, 'm', 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}));
  CHECK(bytes->size() == fmt::kValueV3FixedBytes + 1);
  auto decoded = DecodeOffsetCommitValue(*bytes);
  REQUIRE(decoded.ok());
  CHECK(*decoded == value);
}

TEST_CASE("older offset commit value versions decode with defaults for missing fields") {
  OffsetCommitValue value;
  value.offset = Offset(42);
  value.leader_epoch = LeaderEpoch(9);
  value.metadata = "meta";
  value.commit_timestamp_ms = 1000;
  value.expire_timestamp_ms = 5000;
  for (int16_t version = 0; version <= 3; ++version) {
    CAPTURE(version);
    auto bytes = EncodeOffsetCommitValue(value, version);
    REQUIRE(bytes.ok());
    auto decoded = DecodeOffsetCommitValue(*bytes);
    REQUIRE(decoded.ok());
    CHECK(decoded->offset == Offset(42));
    CHECK(decoded->metadata == "meta");
    CHECK(decoded->commit_timestamp_ms == 1000);
    CHECK(decoded->leader_epoch == (version >= 3 ? LeaderEpoch(9) : kNoLeaderEpoch));
    CHECK(decoded->expire_timestamp_ms ==
          (version == 1 ? std::optional<int64_t>(5000) : std::optional<int64_t>()));
  }
  // Version 1 without an expire timestamp stores -1, which reads as none.
  value.expire_timestamp_ms.reset();
  auto v1 = EncodeOffsetCommitValue(value, 1);
  REQUIRE(v1.ok());
  auto decoded = DecodeOffsetCommitValue(*v1);
  REQUIRE(decoded.ok());
  CHECK(!decoded->expire_timestamp_ms);
  CHECK(HasErrorCode(EncodeOffsetCommitValue(value, 4).status(), ErrorCode::kInvalidRequest));
}

TEST_CASE("every truncation of a valid key or value is CORRUPT_MESSAGE") {
  auto key = EncodeOffsetCommitKey({"group-1", "orders", PartitionId(7)});
  REQUIRE(key.ok());
  for (size_t n = 0; n < key->size(); ++n) {
    CAPTURE(n);
    CHECK(IsCorrupt(DecodeOffsetCommitKey(ByteView(*key).first(n)).status()));
  }
  CHECK(IsCorrupt(PeekConsumerOffsetsKeyVersion(ByteView(*key).first(1)).status()));
  CHECK(IsCorrupt(PeekConsumerOffsetsKeyVersion({}).status()));

  OffsetCommitValue value;
  value.offset = Offset(100);
  value.metadata = "some metadata";
  value.commit_timestamp_ms = 1;
  value.expire_timestamp_ms = 2;
  for (int16_t version = 0; version <= 3; ++version) {
    auto bytes = EncodeOffsetCommitValue(value, version);
    REQUIRE(bytes.ok());
    for (size_t n = 0; n < bytes->size(); ++n) {
      CAPTURE(version, n);
      CHECK(IsCorrupt(DecodeOffsetCommitValue(ByteView(*bytes).first(n)).status()));
    }
  }
}

TEST_CASE("malformed keys are CORRUPT_MESSAGE") {
  // Trailing byte.
  CHECK(IsCorrupt(
      DecodeOffsetCommitKey(Bytes({0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 1, 9})).status()));
  // Negative string length (Kafka's null, not allowed for these fields).
  CHECK(
      IsCorrupt(DecodeOffsetCommitKey(Bytes({0, 1, 0xFF, 0xFF, 0, 1, 't', 0, 0, 0, 1})).status()));
  // A length past the end.
  CHECK(IsCorrupt(DecodeOffsetCommitKey(Bytes({0, 1, 0x7F, 0xFF, 'g', 0, 0, 0, 0})).status()));
  CHECK(IsCorrupt(DecodeOffsetCommitKey(Bytes({0, 1, 0, 1, 'g', 0, 9, 't', 0, 0, 0, 1})).status()));
  // Other record types and unknown versions are not offset commit keys.
  for (int version : {2, 3, 15, 16, 0x7FFF}) {
    CAPTURE(version);
    CHECK(IsCorrupt(DecodeOffsetCommitKey(
                        Bytes({version >> 8, version & 0xFF, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 1}))
                        .status()));
  }
  CHECK(IsCorrupt(
      DecodeOffsetCommitKey(Bytes({0xFF, 0xFF, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 1})).status()));
  // Keys too long to encode are refused, not truncated.
  CHECK(HasErrorCode(EncodeOffsetCommitKey({std::string(32768, 'g'), "t", PartitionId(0)}).status(),
                     ErrorCode::kInvalidRequest));
  CHECK(EncodeOffsetCommitKey({std::string(32767, 'g'), "t", PartitionId(0)}).ok());
}

TEST_CASE("malformed values are CORRUPT_MESSAGE") {
  OffsetCommitValue value;
  value.metadata = "abc";
  auto good = EncodeOffsetCommitValue(value);
  REQUIRE(good.ok());
  auto trailing = *good;
  trailing.push_back(std::byte{0});
  CHECK(IsCorrupt(DecodeOffsetCommitValue(trailing).status()));
  for (int version : {4, 5, 0x7FFF, -1, -32768}) {
    CAPTURE(version);
    auto bad = *good;
    bad[0] = static_cast<std::byte>((version >> 8) & 0xFF);
    bad[1] = static_cast<std::byte>(version & 0xFF);
    CHECK(IsCorrupt(DecodeOffsetCommitValue(bad).status()));
  }
  // Metadata length: null (-1), negative, and past the end.
  for (int hi_lo : {0xFFFF, 0x8000, 0x0004, 0x7FFF}) {
    CAPTURE(hi_lo);
    auto bad = *good;
    // version 3: 2 + 8 + 4 bytes before the metadata length.
    bad[14] = static_cast<std::byte>(hi_lo >> 8);
    bad[15] = static_cast<std::byte>(hi_lo & 0xFF);
    CHECK(IsCorrupt(DecodeOffsetCommitValue(bad).status()));
  }
  CHECK(IsCorrupt(DecodeOffsetCommitValue({}).status()));
}

// --- Partitioning --------------------------------------------------------

TEST_CASE("group hash codes and partitions match Java's String.hashCode and Kafka's Utils.abs") {
  // Computed by hand with Java's rule s[0]*31^(n-1) + ... + s[n-1] over
  // UTF-16 units, 32-bit wrap (and cross-checked with a JVM).
  CHECK(JavaStringHashCode("") == 0);
  CHECK(JavaStringHashCode("a") == 97);
  CHECK(JavaStringHashCode("ab") == 97 * 31 + 98);
  CHECK(JavaStringHashCode("group") == 98629247);
  CHECK(JavaStringHashCode("my-group") == -1906497762);
  CHECK(JavaStringHashCode("billing") == -109829509);
  CHECK(JavaStringHashCode("console-consumer-12345") == 158455506);
  // Non-ASCII: é is one unit, € one unit, an emoji a surrogate pair.
  CHECK(JavaStringHashCode("\xC3\xA9") == 0xE9);
  CHECK(JavaStringHashCode("\xE2\x82\xAC") == 0x20AC);
  CHECK(JavaStringHashCode("\xF0\x9F\x98\x80") == 0xD83D * 31 + 0xDE00);
  CHECK(JavaStringHashCode("caf\xC3\xA9-\xE2\x82\xAC-\xF0\x9F\x98\x80") == 1703778896);
  // Invalid UTF-8 decodes to U+FFFD as Java's decoder does.
  CHECK(JavaStringHashCode("\xE2\x82"
                           "A") == 0xFFFD * 31 + 'A');
  CHECK(JavaStringHashCode("\xC0\x80") == 0xFFFD * 31 + 0xFFFD);
  CHECK(JavaStringHashCode("\xED\xA0\x80") == 0xFFFD);
  CHECK(JavaStringHashCode("\xF0\x9F\x98") == 0xFFFD);
  CHECK(JavaStringHashCode("\xF8\x88\x80\x80\x80") == -1886039875);

  CHECK(OffsetsPartitionFor("a", 50) == PartitionId(47));
  CHECK(OffsetsPartitionFor("group", 50) == PartitionId(47));
  CHECK(OffsetsPartitionFor("my-group", 50) == PartitionId(12));  // abs of a negative hash
  CHECK(OffsetsPartitionFor("billing", 50) == PartitionId(9));
  CHECK(OffsetsPartitionFor("console-consumer-12345", 50) == PartitionId(6));
  CHECK(OffsetsPartitionFor("my-group", 8) == PartitionId(2));
  // hashCode == INT_MIN: Utils.abs maps it to 0 (Math.abs would stay negative).
  CHECK(JavaStringHashCode("polygenelubricants") == INT32_MIN);
  CHECK(JavaStringHashCode("GydZG_") == INT32_MIN);
  CHECK(OffsetsPartitionFor("polygenelubricants", 50) == PartitionId(0));
  CHECK(OffsetsPartitionFor("polygenelubricants", 7) == PartitionId(0));
  CHECK(OffsetsPartitionFor("anything", 1) == PartitionId(0));
}

// --- The store -----------------------------------------------------------

TEST_CASE("committed offsets are fetched back, overwritten by later commits") {
  Env env;
  env.Open();
  CHECK(env.store->FetchOffsets("g").empty());
  CHECK(env.store->ListGroups().empty());
  CHECK(env.broker->ListTopics().empty());  // created on first use

  REQUIRE(env.store->CommitOffsets("g", {{{"orders", 0}, At(10, "m0", 3)}}, 1000).ok());
  auto topic = env.broker->DescribeTopic(OffsetStore::kTopic);
  REQUIRE(topic.ok());
  CHECK(topic->internal);
  CHECK(topic->partitions.size() == 4);
  CHECK(topic->settings.log.cleanup_policy == CleanupPolicy::kCompact);
  CHECK(topic->settings.log.durability == Durability::kEveryAppend);

  auto fetched = env.store->FetchOffsets("g");
  REQUIRE(fetched.size() == 1);
  const CommittedOffset& c = fetched.at({"orders", 0});
  CHECK(c.offset == Offset(10));
  CHECK(c.leader_epoch == LeaderEpoch(3));
  CHECK(c.metadata == "m0");
  CHECK(c.commit_timestamp_ms == 1000);
  CHECK(!c.expire_timestamp_ms);

  REQUIRE(
      env.store->CommitOffsets("g", {{{"orders", 0}, At(25)}, {{"orders", 1}, At(5)}}, 2000).ok());
  CHECK(Offsets(*env.store, "g") ==
        std::map<std::string, int64_t>{{"orders-0", 25}, {"orders-1", 5}});
  CHECK(env.store->FetchOffsets("g").at({"orders", 0}).commit_timestamp_ms == 2000);

  // Only the partitions asked for; unknown ones are absent.
  std::vector<TopicPartition> wanted{{"orders", 1}, {"orders", 9}, {"other", 0}};
  auto some = env.store->FetchOffsets("g", wanted);
  REQUIRE(some.size() == 1);
  CHECK(some.at({"orders", 1}).offset == Offset(5));
  CHECK(env.store->FetchOffsets("unknown-group").empty());
  CHECK(env.store->ListGroups() == std::vector<std::string>{"g"});
  // An empty commit writes nothing.
  const Offset end = env.LogEnd("g");
  REQUIRE(env.store->CommitOffsets("g", {}, 3000).ok());
  CHECK(env.LogEnd("g") == end);
}

TEST_CASE("a commit of several partitions is one batch in the group's partition") {
  Env env;
  env.Open();
  std::map<TopicPartition, OffsetAndMetadata> offsets;
  for (int p = 0; p < 10; ++p) offsets[{"events", p}] = At(100 + p);
  REQUIRE(env.store->CommitOffsets("multi", offsets, env.Now()).ok());
  auto partition = env.OffsetsPartition("multi");
  CHECK(partition->log_end_offset() == Offset(10));
  CHECK(partition->metrics().batches_appended == 1);
  // The other partitions of the topic got nothing.
  auto d = env.broker->DescribeTopic(OffsetStore::kTopic);
  REQUIRE(d.ok());
  for (const auto& p : d->partitions) {
    CHECK(p.log_end_offset == Offset(p.partition == env.store->PartitionFor("multi") ? 10 : 0));
  }
  CHECK(env.store->FetchOffsets("multi").size() == 10);
}

TEST_CASE("invalid commits are refused with Kafka's codes and write nothing") {
  Env env;
  env.Open();
  REQUIRE(env.store->CommitOffsets("g", {{{"t", 0}, At(1)}}, env.Now()).ok());
  const Offset end = env.LogEnd("g");
  auto refused = [&](std::string_view group, std::map<TopicPartition, OffsetAndMetadata> offsets,
                     ErrorCode code) {
    absl::Status s = env.store->CommitOffsets(group, offsets, env.Now());
    INFO(s);
    CHECK(HasErrorCode(s, code));
  };
  // A valid entry next to the bad one: it must not be written either.
  refused("g", {{{"t", 1}, At(7)}, {{"t", 2}, At(1, std::string(4097, 'm'))}},
          ErrorCode::kOffsetMetadataTooLarge);
  refused("g", {{{"t", 1}, At(7)}, {{"t", 2}, At(-1)}}, ErrorCode::kInvalidRequest);
  refused("g", {{{"t", -1}, At(7)}}, ErrorCode::kInvalidRequest);
  refused("g", {{{"t", 1}, At(7, "", -2)}}, ErrorCode::kInvalidRequest);
  refused("g", {{{"", 1}, At(7)}}, ErrorCode::kInvalidTopicException);
  refused("g", {{{"bad/topic", 1}, At(7)}}, ErrorCode::kInvalidTopicException);
  refused("", {{{"t", 1}, At(7)}}, ErrorCode::kInvalidGroupId);
  refused(std::string(32768, 'g'), {{{"t", 1}, At(7)}}, ErrorCode::kInvalidGroupId);
  CHECK(env.LogEnd("g") == end);
  CHECK(Offsets(*env.store, "g") == std::map<std::string, int64_t>{{"t-0", 1}});
  // Exactly at the limit is fine.
  REQUIRE(
      env.store->CommitOffsets("g", {{{"t", 2}, At(1, std::string(4096, 'm'))}}, env.Now()).ok());
}

TEST_CASE("a commit over the topic's max.message.bytes is INVALID_COMMIT_OFFSET_SIZE") {
  Env env;
  env.Open();
  std::map<TopicPartition, OffsetAndMetadata> offsets;
  // 300 partitions with 4 KiB of metadata each: about 1.2 MiB.
  for (int p = 0; p < 300; ++p) offsets[{"big", p}] = At(p, std::string(4096, 'x'));
  absl::Status s = env.store->CommitOffsets("g", offsets, env.Now());
  INFO(s);
  CHECK(HasErrorCode(s, ErrorCode::kInvalidCommitOffsetSize));
  CHECK(env.LogEnd("g") == Offset(0));
  CHECK(env.store->FetchOffsets("g").empty());
}

TEST_CASE("a failed sync fails the commit and leaves the committed offsets as they were") {
  Env env;
  env.Open();
  REQUIRE(env.store->CommitOffsets("g", {{{"t", 0}, At(1)}}, env.Now()).ok());
  const Offset end = env.LogEnd("g");
  env.fs->AddFault(FaultRule(FsOp::kSync).PathContains("__consumer_offsets"));
  absl::Status s = env.store->CommitOffsets("g", {{{"t", 0}, At(2)}, {{"t", 1}, At(2)}}, env.Now());
  INFO(s);
  CHECK(HasErrorCode(s, ErrorCode::kKafkaStorageError));
  CHECK(env.LogEnd("g") == end);
  CHECK(Offsets(*env.store, "g") == std::map<std::string, int64_t>{{"t-0", 1}});
  env.fs->ClearFaults();
  env.Reopen();
  CHECK(Offsets(*env.store, "g") == std::map<std::string, int64_t>{{"t-0", 1}});
}

TEST_CASE("reopening the broker keeps every committed offset of every group") {
  Env env;
  env.Open();
  // Groups spread over several partitions of the topic.
  const std::vector<std::string> groups{"alpha", "beta", "gamma", "delta", "epsilon", "zeta"};
  std::set<PartitionId> used;
  std::map<std::string, std::map<std::string, int64_t>> expected;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < groups.size(); ++i) {
      std::map<TopicPartition, OffsetAndMetadata> offsets;
      for (int p = 0; p < 3; ++p) {
        const int64_t offset = round * 100 + static_cast<int64_t>(i) * 10 + p;
        offsets[{"topic-" + std::to_string(i % 2), p}] = At(offset, "r" + std::to_string(round));
        expected[groups[i]]["topic-" + std::to_string(i % 2) + "-" + std::to_string(p)] = offset;
      }
      REQUIRE(env.store->CommitOffsets(groups[i], offsets, env.Now() + round).ok());
      used.insert(env.store->PartitionFor(groups[i]));
    }
  }
  CHECK(used.size() >= 3);
  env.Reopen();
  CHECK(env.store->ListGroups().size() == groups.size());
  for (const auto& g : groups) {
    CAPTURE(g);
    CHECK(Offsets(*env.store, g) == expected[g]);
    CHECK(env.store->FetchOffsets(g).begin()->second.metadata == "r2");
    CHECK(env.store->FetchOffsets(g).begin()->second.commit_timestamp_ms == env.Now() + 2);
  }
  CHECK(env.store->replay_stats().offset_commits == 3 * 6 * 3);
  CHECK(env.store->replay_stats().batches == 3 * 6);

  // And after a power loss: every acknowledged commit was synced.
  env.Crash();
  env.Open();
  for (const auto& g : groups) CHECK(Offsets(*env.store, g) == expected[g]);
}

TEST_CASE("deleted offsets and groups stay deleted after reopening and compaction") {
  Env env;
  env.store_options.segment_bytes = 1024;  // roll often, so compaction has sealed segments
  env.Open();
  for (int round = 0; round < 20; ++round) {
    for (const std::string g : {"keep", "drop", "partial"}) {
      REQUIRE(
          env.store
              ->CommitOffsets(g, {{{"t", 0}, At(round)}, {{"t", 1}, At(round + 1000)}}, env.Now())
              .ok());
    }
  }
  auto deleted = env.store->DeleteGroup("drop");
  REQUIRE(deleted.ok());
  CHECK(*deleted == 2);
  std::vector<TopicPartition> one{{"t", 1}, {"t", 7}};
  auto partial = env.store->DeleteOffsets("partial", one);
  REQUIRE(partial.ok());
  CHECK(*partial == 1);
  // Nothing to delete: nothing written.
  const Offset end = env.LogEnd("drop");
  auto again = env.store->DeleteGroup("drop");
  REQUIRE(again.ok());
  CHECK(*again == 0);
  CHECK(env.LogEnd("drop") == end);
  auto unknown = env.store->DeleteGroup("never-seen");
  REQUIRE(unknown.ok());
  CHECK(*unknown == 0);

  const std::map<std::string, int64_t> keep{{"t-0", 19}, {"t-1", 1019}};
  const std::map<std::string, int64_t> partial_left{{"t-0", 19}};
  auto check = [&] {
    CHECK(env.store->ListGroups() == std::vector<std::string>{"keep", "partial"});
    CHECK(Offsets(*env.store, "keep") == keep);
    CHECK(Offsets(*env.store, "partial") == partial_left);
    CHECK(env.store->FetchOffsets("drop").empty());
  };
  check();
  env.Reopen();
  check();
  CHECK(env.store->replay_stats().tombstones == 3);

  uint64_t bytes_before = 0;
  for (const auto& p : env.broker->metrics().partitions) bytes_before += p.size_bytes;
  REQUIRE(env.broker->RunMaintenance().ok());
  uint64_t bytes_after = 0;
  for (const auto& p : env.broker->metrics().partitions) bytes_after += p.size_bytes;
  CHECK(bytes_after < bytes_before);
  check();
  env.Reopen();
  check();
  CHECK(env.store->replay_stats().offset_commits < 20 * 3 * 2);
}

TEST_CASE("a crash at any byte of a commit's batch leaves the commit whole or absent") {
  // The first commit is synced; the second is cut at every length from
  // nothing to all of it, as a power loss mid-append would leave it.
  const std::map<TopicPartition, OffsetAndMetadata> second{
      {{"a", 0}, At(200, "x")}, {{"a", 1}, At(201, "y")}, {{"b", 0}, At(202, "z")}};
  const std::map<std::string, int64_t> first_only{{"a-0", 100}, {"a-1", 101}};
  const std::map<std::string, int64_t> both{{"a-0", 200}, {"a-1", 201}, {"b-0", 202}};

  uint64_t size_before = 0;
  uint64_t size_after = 0;
  std::string log_path;
  {
    Env probe;
    probe.Open();
    REQUIRE(probe.store->CommitOffsets("g", {{{"a", 0}, At(100)}, {{"a", 1}, At(101)}}, probe.Now())
                .ok());
    log_path = "/data/__consumer_offsets-" +
               std::to_string(probe.store->PartitionFor("g").value()) + "/00000000000000000000.log";
    // The log's size, not the file's: that may run past it with filler
    // written ahead of the appends.
    size_before = probe.OffsetsPartition("g")->metrics().size_bytes;
    REQUIRE(probe.store->CommitOffsets("g", second, probe.Now()).ok());
    size_after = probe.OffsetsPartition("g")->metrics().size_bytes;
  }
  REQUIRE(size_after > size_before);
  for (uint64_t cut = size_before; cut <= size_after; ++cut) {
    CAPTURE(cut);
    Env env;
    env.Open();
    REQUIRE(
        env.store->CommitOffsets("g", {{{"a", 0}, At(100)}, {{"a", 1}, At(101)}}, env.Now()).ok());
    REQUIRE(env.store->CommitOffsets("g", second, env.Now()).ok());
    env.Crash();
    // The crash left the synced files; now tear the last batch.
    env.fs.reset();
    {
      auto file = env.mem.Open(log_path, OpenMode::kReadWrite);
      REQUIRE(file.ok());
      REQUIRE((*file)->Truncate(cut).ok());
    }
    env.fs = std::make_unique<FaultyFileSystem>(env.mem);
    env.Open();
    const auto offsets = Offsets(*env.store, "g");
    if (cut == size_after) {
      CHECK(offsets == both);
    } else {
      CHECK(offsets == first_only);
    }
    // The store keeps working after recovery.
    REQUIRE(env.store->CommitOffsets("g", {{{"b", 0}, At(300)}}, env.Now()).ok());
    env.Reopen();
    CHECK(Offsets(*env.store, "g").at("b-0") == 300);
  }
}

TEST_CASE("offsets of empty groups expire retention after the later of commit and emptiness") {
  Env env;
  env.Open();
  const int64_t retention = 7LL * 24 * 60 * 60 * 1000;
  const int64_t t0 = env.Now();
  REQUIRE(env.store->CommitOffsets("standalone", {{{"t", 0}, At(1)}}, t0).ok());
  REQUIRE(env.store->CommitOffsets("active", {{{"t", 0}, At(1)}}, t0).ok());
  REQUIRE(env.store->CommitOffsets("emptied", {{{"t", 0}, At(1)}, {{"t", 1}, At(1)}}, t0).ok());
  REQUIRE(env.store->CommitOffsets("standalone", {{{"t", 1}, At(2)}}, t0 + 1000).ok());

  int calls = 0;
  auto empty_since = [&](std::string_view group) -> std::optional<int64_t> {
    ++calls;
    if (group == "active") return std::nullopt;  // has members: never expires
    if (group == "emptied") return t0 + 5000;    // became empty after its commits
    return kEmptySinceUnknown;                   // never had members
  };
  auto none = env.store->ExpireOffsets(t0 + retention - 1, retention, empty_since);
  REQUIRE(none.ok());
  CHECK(none->empty());
  CHECK(calls == 3);

  auto first = env.store->ExpireOffsets(t0 + retention, retention, empty_since);
  REQUIRE(first.ok());
  CHECK(*first == std::vector<ExpiredOffset>{{"standalone", {"t", 0}}});

  auto second = env.store->ExpireOffsets(t0 + 5000 + retention, retention, empty_since);
  REQUIRE(second.ok());
  CHECK(*second == std::vector<ExpiredOffset>{
                       {"emptied", {"t", 0}}, {"emptied", {"t", 1}}, {"standalone", {"t", 1}}});
  CHECK(env.store->ListGroups() == std::vector<std::string>{"active"});
  env.Reopen();
  CHECK(env.store->ListGroups() == std::vector<std::string>{"active"});
  CHECK(HasErrorCode(env.store->ExpireOffsets(t0, -1, empty_since).status(),
                     ErrorCode::kInvalidConfig));
}

TEST_CASE("an offset committed while the group was already empty keeps its full retention") {
  Env env;
  env.Open();
  const int64_t retention = 1000;
  const int64_t empty_since = env.Now();
  REQUIRE(env.store->CommitOffsets("g", {{{"t", 0}, At(1)}}, empty_since + 5000).ok());
  auto since = [&](std::string_view) -> std::optional<int64_t> { return empty_since; };
  auto kept = env.store->ExpireOffsets(empty_since + 5000 + retention - 1, retention, since);
  REQUIRE(kept.ok());
  CHECK(kept->empty());
  auto gone = env.store->ExpireOffsets(empty_since + 5000 + retention, retention, since);
  REQUIRE(gone.ok());
  CHECK(gone->size() == 1);
}

// Appends raw records to the group's partition of the topic, as Kafka
// (or an older evlog) might have written them.
void AppendRaw(
    Env& env, PartitionId partition,
    const std::vector<std::pair<std::vector<std::byte>, std::optional<std::vector<std::byte>>>>&
        records) {
  if (!env.broker->DescribeTopic(OffsetStore::kTopic).ok()) {
    NewTopic t(env.store->partition_count());
    REQUIRE(t.config.Set("cleanup.policy", "compact").ok());
    REQUIRE(env.broker->CreateTopic(OffsetStore::kTopic, t).ok());
  }
  auto p = env.broker->GetPartition(TopicPartition(std::string(OffsetStore::kTopic), partition));
  REQUIRE(p.ok());
  RecordBatchBuilder builder;
  for (const auto& [k, v] : records) {
    std::optional<ByteView> value;
    if (v) value = ByteView(*v);
    REQUIRE(builder.Append(env.Now(), ByteView(k), value).ok());
  }
  auto batch = builder.Finish();
  REQUIRE(batch.ok());
  REQUIRE((*p)->Append(*batch).ok());
}

TEST_CASE("replay skips Kafka's other record types and honours version 1 expire timestamps") {
  Env env;
  env.Open();
  const PartitionId p = env.store->PartitionFor("g");
  OffsetCommitValue v1;
  v1.offset = Offset(77);
  v1.metadata = "old client";
  v1.commit_timestamp_ms = env.Now();
  v1.expire_timestamp_ms = env.Now() + 10;
  OffsetCommitValue v3 = v1;
  v3.expire_timestamp_ms.reset();
  v3.offset = Offset(88);
  auto key0 = EncodeOffsetCommitKey({"g", "t", PartitionId(0)});
  auto key1 = EncodeOffsetCommitKey({"g", "t", PartitionId(1)});
  auto val1 = EncodeOffsetCommitValue(v1, 1);
  auto val3 = EncodeOffsetCommitValue(v3, 3);
  REQUIRE((key0.ok() && key1.ok() && val1.ok() && val3.ok()));
  AppendRaw(env, p,
            {
                {*key0, *val1},
                // Group metadata (key version 2) and a KIP-848 record (version 3).
                {Bytes({0, 2, 0, 1, 'g'}), Bytes({0, 3, 1, 2, 3})},
                {Bytes({0, 3, 0, 1, 'g'}), Bytes({0, 0})},
                {Bytes({0, 2, 0, 1, 'g'}), std::nullopt},
                // A record type from the future: skipped, as Kafka's loader does.
                {Bytes({0, 99, 1, 2}), Bytes({9})},
                {*key1, *val3},
            });
  env.Reopen();
  const auto& stats = env.store->replay_stats();
  CHECK(stats.offset_commits == 2);
  CHECK(stats.group_metadata == 2);
  CHECK(stats.other_records == 2);
  auto fetched = env.store->FetchOffsets("g");
  REQUIRE(fetched.size() == 2);
  CHECK(fetched.at({"t", 0}).offset == Offset(77));
  CHECK(fetched.at({"t", 0}).expire_timestamp_ms == env.Now() + 10);
  CHECK(fetched.at({"t", 1}).leader_epoch == kNoLeaderEpoch);

  // The version 1 offset expires at its own timestamp, even with a huge
  // retention; the version 3 one does not.
  auto since = [](std::string_view) -> std::optional<int64_t> { return kEmptySinceUnknown; };
  auto expired = env.store->ExpireOffsets(env.Now() + 10, 1LL << 40, since);
  REQUIRE(expired.ok());
  CHECK(*expired == std::vector<ExpiredOffset>{{"g", {"t", 0}}});
}

TEST_CASE("a malformed offset commit record in the topic fails Open with CORRUPT_MESSAGE") {
  Env env;
  env.Open();
  auto key = EncodeOffsetCommitKey({"g", "t", PartitionId(0)});
  REQUIRE(key.ok());
  SECTION("a short value") { AppendRaw(env, PartitionId(0), {{*key, Bytes({0, 3, 0, 0})}}); }
  SECTION("a key with a bad length") {
    AppendRaw(env, PartitionId(1), {{Bytes({0, 1, 0, 9, 'g'}), Bytes({0, 3})}});
  }
  SECTION("a one-byte key") { AppendRaw(env, PartitionId(2), {{Bytes({0}), std::nullopt}}); }
  env.store.reset();
  REQUIRE(env.broker->Close().ok());
  auto broker = Broker::Open(env.Options());
  REQUIRE(broker.ok());
  auto store = OffsetStore::Open(**broker, env.store_options);
  CHECK(IsCorrupt(store.status()));
}

TEST_CASE("an existing topic keeps its partition count and bad options are INVALID_CONFIG") {
  Env env;
  env.Open();
  REQUIRE(env.store->CommitOffsets("g", {{{"t", 0}, At(5)}}, env.Now()).ok());
  env.store_options.partition_count = 9;
  env.Reopen();
  CHECK(env.store->partition_count() == 4);
  CHECK(Offsets(*env.store, "g") == std::map<std::string, int64_t>{{"t-0", 5}});

  OffsetStoreOptions bad;
  bad.partition_count = 0;
  CHECK(HasErrorCode(OffsetStore::Open(*env.broker, bad).status(), ErrorCode::kInvalidConfig));
  bad = OffsetStoreOptions();
  bad.metadata_max_bytes = 40000;
  CHECK(HasErrorCode(OffsetStore::Open(*env.broker, bad).status(), ErrorCode::kInvalidConfig));
  bad = OffsetStoreOptions();
  bad.segment_bytes = 10;
  CHECK(HasErrorCode(OffsetStore::Open(*env.broker, bad).status(), ErrorCode::kInvalidConfig));
}

TEST_CASE("concurrent commits from several threads all land and agree with a replay") {
  Env env;
  env.Open();
  constexpr int kThreads = 4;
  constexpr int kCommits = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string own = "own-" + std::to_string(t);
      for (int i = 0; i < kCommits; ++i) {
        // Each thread's own group, and one group all threads share.
        if (!env.store->CommitOffsets(own, {{{"t", 0}, At(i)}, {{"t", 1}, At(i)}}, i).ok()) {
          ++failures;
        }
        if (!env.store
                 ->CommitOffsets("shared", {{{"t", t}, At(i)}, {{"common", 0}, At(t * 1000 + i)}},
                                 i)
                 .ok()) {
          ++failures;
        }
        const auto mine = env.store->FetchOffsets(own);
        auto it = mine.find({"t", 0});
        if (it == mine.end() || it->second.offset != Offset(i)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  const auto live = env.store->FetchOffsets("shared");
  REQUIRE(live.size() == kThreads + 1);
  for (int t = 0; t < kThreads; ++t) {
    CHECK(Offsets(*env.store, "own-" + std::to_string(t)) ==
          std::map<std::string, int64_t>{{"t-0", kCommits - 1}, {"t-1", kCommits - 1}});
    CHECK(live.at({"t", t}).offset == Offset(kCommits - 1));
  }
  // The key every thread wrote holds the last record in the log, which is
  // what a replay finds too.
  env.Reopen();
  CHECK(env.store->FetchOffsets("shared") == live);
}

TEST_CASE("deletions racing commits leave a cache that agrees with a replay") {
  Env env;
  env.Open();
  constexpr int kRounds = 60;
  std::atomic<int> failures{0};
  std::thread committer([&] {
    for (int i = 0; i < kRounds; ++i) {
      if (!env.store->CommitOffsets("g", {{{"t", i % 3}, At(i)}, {{"u", 0}, At(i)}}, i).ok()) {
        ++failures;
      }
    }
  });
  std::thread deleter([&] {
    const std::vector<TopicPartition> some{{"t", 0}, {"u", 0}};
    for (int i = 0; i < kRounds; ++i) {
      if (!(i % 2 == 0 ? env.store->DeleteOffsets("g", some) : env.store->DeleteGroup("g")).ok()) {
        ++failures;
      }
    }
  });
  committer.join();
  deleter.join();
  CHECK(failures == 0);
  const auto live = env.store->FetchOffsets("g");
  env.Reopen();
  CHECK(env.store->FetchOffsets("g") == live);
}

// Passes appends to a broker's log at once but holds their completions
// until the test releases them, in any order: a Cluster's replicated
// appends may complete out of log order.
class HoldingLog final : public CoordinatorLog {
 public:
  explicit HoldingLog(Broker& broker) : inner_(MakeCoordinatorLog(broker, OffsetStore::kTopic)) {}
  const std::string& topic() const override { return inner_->topic(); }
  int32_t partition_count() const override { return inner_->partition_count(); }
  absl::Status Create(int32_t partitions, const TopicConfig& config) override {
    return inner_->Create(partitions, config);
  }
  void Append(PartitionId partition, MutableByteView batch, const AppendOptions& options,
              AppendCallback done) override {
    inner_->Append(partition, batch, options,
                   [this, done = std::move(done)](absl::StatusOr<AppendResult> r) mutable {
                     held.push_back(Held{std::move(done), std::move(r)});
                   });
  }
  absl::Status Scan(PartitionId partition, const BatchVisitor& visit) override {
    return inner_->Scan(partition, visit);
  }
  Clock& clock() const override { return inner_->clock(); }
  Executor& executor() const override { return inner_->executor(); }
  LogSink& log_sink() const override { return inner_->log_sink(); }

  struct Held {
    AppendCallback done;
    absl::StatusOr<AppendResult> result;
  };
  std::vector<Held> held;
  void Release(size_t i) {
    REQUIRE(i < held.size());
    REQUIRE(held[i].done);
    std::move(held[i].done)(held[i].result);
    held[i].done = nullptr;
  }

 private:
  std::unique_ptr<CoordinatorLog> inner_;
};

TEST_CASE("appends completing out of log order leave the cache in the log's order") {
  Env env;
  env.Open();
  auto holding = std::make_unique<HoldingLog>(*env.broker);
  HoldingLog& log = *holding;
  auto opened = OffsetStore::Open(std::move(holding), env.store_options);
  REQUIRE(opened.ok());
  OffsetStore& store = **opened;
  std::vector<absl::Status> answers;
  auto commit = [&](int partition, int64_t offset) {
    store.CommitOffsetsAsync("g", {{{"t", partition}, At(offset)}}, env.Now(),
                             [&answers](absl::Status s) { answers.push_back(std::move(s)); });
  };
  auto expire_all = [&] {
    store.ExpireOffsetsAsync(
        env.Now() + 1, /*retention_ms=*/0,
        [](std::string_view) -> std::optional<int64_t> { return kEmptySinceUnknown; },
        [&answers](absl::StatusOr<std::vector<ExpiredOffset>> r) {
          answers.push_back(r.status());
        });
  };

  // Two commits of one key: the later record wins whatever completes last.
  commit(0, 1);
  commit(0, 2);
  REQUIRE(log.held.size() == 2);
  log.Release(1);
  log.Release(0);
  CHECK(Offsets(store, "g") == std::map<std::string, int64_t>{{"t-0", 2}});

  // A value written before a tombstone of its key, completing after it,
  // stays deleted.
  commit(1, 5);
  log.Release(2);
  commit(1, 6);  // held[3]
  expire_all();  // tombstones of t-0 and t-1: held[4]
  REQUIRE(log.held.size() == 5);
  log.Release(4);
  log.Release(3);
  CHECK(Offsets(store, "g").empty());

  // A value written after a tombstone, completing before it, stands.
  commit(2, 7);
  log.Release(5);
  expire_all();  // tombstone of t-2: held[6]
  commit(2, 8);  // held[7]
  REQUIRE(log.held.size() == 8);
  log.Release(7);
  log.Release(6);
  CHECK(Offsets(store, "g") == std::map<std::string, int64_t>{{"t-2", 8}});

  for (const absl::Status& s : answers) CHECK(s.ok());
  CHECK(answers.size() == 8);
  // The log says the same.
  const auto live = Offsets(store, "g");
  opened->reset();
  env.Reopen();
  CHECK(Offsets(*env.store, "g") == live);
}

TEST_CASE("deleting and expiring before the first commit made the topic delete nothing") {
  Env env;
  env.Open();
  auto deleted = env.store->DeleteGroup("g");
  INFO(deleted.status());
  REQUIRE(deleted.ok());
  CHECK(*deleted == 0);
  const std::vector<TopicPartition> some{{"t", 0}};
  auto offsets = env.store->DeleteOffsets("g", some);
  REQUIRE(offsets.ok());
  CHECK(*offsets == 0);
  auto expired = env.store->ExpireOffsets(
      env.Now(), 0, [](std::string_view) { return std::optional<int64_t>(kEmptySinceUnknown); });
  REQUIRE(expired.ok());
  CHECK(expired->empty());
  CHECK(!env.broker->GetTopic(OffsetStore::kTopic).ok());
}

}  // namespace
}  // namespace evlog
