#include "evlog/group/consumer_protocol.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "evlog/status.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

namespace fmt = consumer_protocol_format;

// Bytes written out by hand: each int is one byte (0 to 255).
std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::string Int16(int v) { return Bytes({(v >> 8) & 0xFF, v & 0xFF}); }
std::string Int32(int64_t v) {
  return Bytes({static_cast<int>((v >> 24) & 0xFF), static_cast<int>((v >> 16) & 0xFF),
                static_cast<int>((v >> 8) & 0xFF), static_cast<int>(v & 0xFF)});
}
std::string Str(const std::string& s) { return Int16(static_cast<int>(s.size())) + s; }

bool IsCorrupt(const absl::Status& s) { return HasErrorCode(s, ErrorCode::kCorruptMessage); }
bool IsInvalid(const absl::Status& s) { return HasErrorCode(s, ErrorCode::kInvalidRequest); }

ConsumerSubscription FullSubscription() {
  ConsumerSubscription s;
  s.topics = {"orders", "payments"};
  s.user_data = std::string("\x00\x01state", 7);
  s.owned_partitions = {{"orders", 0}, {"orders", 3}, {"payments", 1}};
  s.generation = Generation(12);
  s.rack_id = "use1-az1";
  return s;
}

// --- Byte layout ------------------------------------------------------------

TEST_CASE("a version 3 subscription has Kafka's layout", "[consumer_protocol]") {
  ConsumerSubscription s;
  s.topics = {"b", "a"};
  s.user_data = "xy";
  s.owned_partitions = {{"t", 2}, {"t", 0}, {"s", 5}};
  s.generation = Generation(7);
  s.rack_id = "r1";
  auto bytes = EncodeSubscription(s);
  REQUIRE(bytes.ok());
  // clang-format off
  const std::string expected = Bytes({
      0, 3,                      // version
      0, 0, 0, 2,                // topics: 2, sorted
      0, 1, 'a',
      0, 1, 'b',
      0, 0, 0, 2, 'x', 'y',      // user data
      0, 0, 0, 2,                // owned partitions: 2 topics, sorted
      0, 1, 's', 0, 0, 0, 1, 0, 0, 0, 5,
      0, 1, 't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,
      0, 0, 0, 7,                // generation
      0, 2, 'r', '1',            // rack id
  });
  // clang-format on
  CHECK(*bytes == expected);

  auto decoded = DecodeSubscription(expected);
  REQUIRE(decoded.ok());
  CHECK(decoded->topics == std::vector<std::string>{"a", "b"});
  CHECK(decoded->user_data == "xy");
  CHECK(decoded->owned_partitions == std::vector<TopicPartition>{{"s", 5}, {"t", 0}, {"t", 2}});
  CHECK(decoded->generation == Generation(7));
  CHECK(decoded->rack_id == "r1");
}

TEST_CASE("a version 0 subscription has Kafka's layout with null user data",
          "[consumer_protocol]") {
  ConsumerSubscription s;
  s.topics = {"t"};
  s.owned_partitions = {{"t", 1}};  // not in version 0
  s.generation = Generation(3);     // nor this
  s.rack_id = "r";                  // nor this
  auto bytes = EncodeSubscription(s, 0);
  REQUIRE(bytes.ok());
  CHECK(*bytes == Bytes({0, 0, 0, 0, 0, 1, 0, 1, 't', 0xFF, 0xFF, 0xFF, 0xFF}));
}

TEST_CASE("an assignment has Kafka's layout", "[consumer_protocol]") {
  ConsumerAssignment a;
  a.partitions = {{"orders", 1}, {"orders", 0}, {"logs", 3}};
  // clang-format off
  const std::string expected_body = Bytes({
      0, 0, 0, 2,                // 2 topics, sorted
      0, 4, 'l', 'o', 'g', 's', 0, 0, 0, 1, 0, 0, 0, 3,
      0, 6, 'o', 'r', 'd', 'e', 'r', 's', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1,
  });
  // clang-format on
  auto v0 = EncodeAssignment(a, 0);
  REQUIRE(v0.ok());
  CHECK(*v0 == Bytes({0, 0}) + expected_body + Bytes({0xFF, 0xFF, 0xFF, 0xFF}));

  a.user_data = "";
  auto v3 = EncodeAssignment(a);
  REQUIRE(v3.ok());
  CHECK(*v3 == Bytes({0, 3}) + expected_body + Bytes({0, 0, 0, 0}));

  auto decoded = DecodeAssignment(*v3);
  REQUIRE(decoded.ok());
  CHECK(decoded->partitions ==
        std::vector<TopicPartition>{{"logs", 3}, {"orders", 0}, {"orders", 1}});
  CHECK(decoded->user_data == std::optional<std::string>(""));
}

TEST_CASE("the consumer protocol type and version are Kafka's", "[consumer_protocol]") {
  CHECK(kConsumerProtocolType == "consumer");
  auto bytes = EncodeSubscription(FullSubscription(), 2);
  REQUIRE(bytes.ok());
  auto version = PeekConsumerProtocolVersion(*bytes);
  REQUIRE(version.ok());
  CHECK(*version == 2);
  auto newer = PeekConsumerProtocolVersion(Bytes({0x7F, 0xFF}));
  REQUIRE(newer.ok());
  CHECK(*newer == 0x7FFF);
  CHECK(IsCorrupt(PeekConsumerProtocolVersion("").status()));
  CHECK(IsCorrupt(PeekConsumerProtocolVersion(Bytes({0})).status()));
}

// --- Round trips --------------------------------------------------------------

TEST_CASE("subscriptions round-trip at every version with defaults for missing fields",
          "[consumer_protocol]") {
  const ConsumerSubscription full = FullSubscription();
  for (int16_t version = 0; version <= fmt::kMaxConsumerProtocolVersion; ++version) {
    CAPTURE(version);
    auto bytes = EncodeSubscription(full, version);
    REQUIRE(bytes.ok());
    auto decoded = DecodeSubscription(*bytes);
    REQUIRE(decoded.ok());
    ConsumerSubscription expected = full;
    if (version < 1) expected.owned_partitions.clear();
    if (version < 2) expected.generation = Generation(-1);
    if (version < 3) expected.rack_id.reset();
    CHECK(*decoded == expected);
  }
}

TEST_CASE("assignments round-trip at every version", "[consumer_protocol]") {
  ConsumerAssignment a;
  a.partitions = {{"a", 0}, {"a", 7}, {"b", 2147483647}, {std::string(300, 'x'), 4}};
  a.user_data = std::string("\x00\xFF", 2);
  for (int16_t version = 0; version <= fmt::kMaxConsumerProtocolVersion; ++version) {
    CAPTURE(version);
    auto bytes = EncodeAssignment(a, version);
    REQUIRE(bytes.ok());
    auto decoded = DecodeAssignment(*bytes);
    REQUIRE(decoded.ok());
    CHECK(*decoded == a);
  }
}

TEST_CASE("empty messages round-trip", "[consumer_protocol]") {
  for (int16_t version = 0; version <= fmt::kMaxConsumerProtocolVersion; ++version) {
    CAPTURE(version);
    auto s = EncodeSubscription({}, version);
    REQUIRE(s.ok());
    auto ds = DecodeSubscription(*s);
    REQUIRE(ds.ok());
    CHECK(*ds == ConsumerSubscription{});
    auto a = EncodeAssignment({}, version);
    REQUIRE(a.ok());
    CHECK(*a == Int16(version) + Int32(0) + Int32(-1));
    auto da = DecodeAssignment(*a);
    REQUIRE(da.ok());
    CHECK(*da == ConsumerAssignment{});
  }
}

TEST_CASE("null and empty user data stay apart", "[consumer_protocol]") {
  for (int16_t version = 0; version <= fmt::kMaxConsumerProtocolVersion; ++version) {
    CAPTURE(version);
    for (const std::optional<std::string>& user_data :
         {std::optional<std::string>(), std::optional<std::string>("")}) {
      ConsumerSubscription s;
      s.topics = {"t"};
      s.user_data = user_data;
      auto sb = EncodeSubscription(s, version);
      REQUIRE(sb.ok());
      CHECK(sb->substr(2 + 4 + 3, 4) == (user_data ? Int32(0) : Int32(-1)));
      auto ds = DecodeSubscription(*sb);
      REQUIRE(ds.ok());
      CHECK(ds->user_data == user_data);

      ConsumerAssignment a;
      a.user_data = user_data;
      auto ab = EncodeAssignment(a, version);
      REQUIRE(ab.ok());
      auto da = DecodeAssignment(*ab);
      REQUIRE(da.ok());
      CHECK(da->user_data == user_data);
    }
  }
}

TEST_CASE("an empty rack id decodes as no rack, as in Kafka's consumer", "[consumer_protocol]") {
  ConsumerSubscription s;
  s.rack_id = "";
  auto bytes = EncodeSubscription(s);
  REQUIRE(bytes.ok());
  CHECK(*bytes == Int16(3) + Int32(0) + Int32(-1) + Int32(0) + Int32(-1) + Int16(0));
  auto decoded = DecodeSubscription(*bytes);
  REQUIRE(decoded.ok());
  CHECK(!decoded->rack_id);

  s.rack_id.reset();
  bytes = EncodeSubscription(s);
  REQUIRE(bytes.ok());
  CHECK(bytes->substr(bytes->size() - 2) == Int16(-1));
  decoded = DecodeSubscription(*bytes);
  REQUIRE(decoded.ok());
  CHECK(!decoded->rack_id);
}

TEST_CASE("encoding sorts topics and groups partitions, decoding sorts partitions",
          "[consumer_protocol]") {
  ConsumerSubscription s;
  s.topics = {"z", "a", "m"};
  s.owned_partitions = {{"b", 3}, {"a", 9}, {"b", 1}, {"a", 2}};
  ConsumerSubscription shuffled = s;
  shuffled.topics = {"m", "z", "a"};
  shuffled.owned_partitions = {{"a", 2}, {"b", 1}, {"a", 9}, {"b", 3}};
  auto one = EncodeSubscription(s);
  auto two = EncodeSubscription(shuffled);
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  CHECK(*one == *two);

  // Kafka's writers group by topic, but the format does not require it: a
  // topic listed twice, out of order, decodes to the same sorted partitions.
  const std::string body = Int32(3) + Str("b") + Int32(1) + Int32(3) + Str("a") + Int32(2) +
                           Int32(9) + Int32(2) + Str("b") + Int32(1) + Int32(1) + Int32(-1);
  auto decoded = DecodeAssignment(Int16(0) + body);
  REQUIRE(decoded.ok());
  CHECK(decoded->partitions == std::vector<TopicPartition>{{"a", 2}, {"a", 9}, {"b", 1}, {"b", 3}});
}

TEST_CASE("the header example encodes and decodes", "[consumer_protocol]") {
  ConsumerSubscription sub;
  sub.topics = {"orders", "payments"};
  sub.owned_partitions = {{"orders", 0}, {"orders", 3}};
  sub.generation = Generation(7);
  auto metadata = EncodeSubscription(sub);
  REQUIRE(metadata.ok());
  auto decoded = DecodeSubscription(*metadata);
  REQUIRE(decoded.ok());
  CHECK(*decoded == sub);
}

// --- Forward compatibility -----------------------------------------------------

TEST_CASE("a newer version is read as version 3 and its extra fields are ignored",
          "[consumer_protocol]") {
  const std::string v3_fields = Int32(1) + Str("t") + Int32(2) + "ud" + Int32(1) + Str("t") +
                                Int32(1) + Int32(4) + Int32(9) + Str("rack");
  // A version 4 that appends, say, an int64 and a string; and the newest a
  // version number can say.
  const std::string extra = std::string(8, '\x01') + Str("future");
  for (int version : {4, 0x7FFF}) {
    CAPTURE(version);
    auto decoded = DecodeSubscription(Int16(version) + v3_fields + extra);
    REQUIRE(decoded.ok());
    CHECK(decoded->topics == std::vector<std::string>{"t"});
    CHECK(decoded->user_data == "ud");
    CHECK(decoded->owned_partitions == std::vector<TopicPartition>{{"t", 4}});
    CHECK(decoded->generation == Generation(9));
    CHECK(decoded->rack_id == "rack");
    // Without extra fields too.
    CHECK(DecodeSubscription(Int16(version) + v3_fields).ok());
    // But the fields version 3 has must all be there.
    CHECK(IsCorrupt(
        DecodeSubscription(Int16(version) + v3_fields.substr(0, v3_fields.size() - 1)).status()));
  }

  const std::string assignment_fields = Int32(1) + Str("t") + Int32(1) + Int32(0) + Int32(-1);
  auto assignment = DecodeAssignment(Int16(4) + assignment_fields + extra);
  REQUIRE(assignment.ok());
  CHECK(assignment->partitions == std::vector<TopicPartition>{{"t", 0}});
  CHECK(!assignment->user_data);
}

TEST_CASE("bytes after a known version's fields are ignored, as Kafka's reader does",
          "[consumer_protocol]") {
  // Kafka's generated readers never check for the end of the input, at any
  // version; a member whose metadata Kafka accepts must not fail here.
  auto v1 = EncodeSubscription(FullSubscription(), 1);
  REQUIRE(v1.ok());
  auto decoded = DecodeSubscription(*v1 + Int32(5));
  REQUIRE(decoded.ok());
  CHECK(decoded->generation == Generation(-1));
  CHECK(decoded->owned_partitions.size() == 3);
  auto a = EncodeAssignment({{{"t", 1}}, std::nullopt}, 0);
  REQUIRE(a.ok());
  CHECK(DecodeAssignment(*a + "junk").ok());
}

// --- Corrupt input ---------------------------------------------------------------

TEST_CASE("every truncation of a valid subscription or assignment is CORRUPT_MESSAGE",
          "[consumer_protocol]") {
  ConsumerSubscription null_fields = FullSubscription();
  null_fields.user_data.reset();
  null_fields.rack_id.reset();
  for (const ConsumerSubscription& s : {FullSubscription(), null_fields}) {
    for (int16_t version = 0; version <= fmt::kMaxConsumerProtocolVersion; ++version) {
      auto bytes = EncodeSubscription(s, version);
      REQUIRE(bytes.ok());
      for (size_t n = 0; n < bytes->size(); ++n) {
        CAPTURE(version, n);
        CHECK(IsCorrupt(DecodeSubscription(std::string_view(*bytes).substr(0, n)).status()));
      }
    }
  }
  ConsumerAssignment a{{{"orders", 0}, {"orders", 1}, {"x", 5}}, std::string("abc")};
  for (int16_t version = 0; version <= fmt::kMaxConsumerProtocolVersion; ++version) {
    auto bytes = EncodeAssignment(a, version);
    REQUIRE(bytes.ok());
    for (size_t n = 0; n < bytes->size(); ++n) {
      CAPTURE(version, n);
      CHECK(IsCorrupt(DecodeAssignment(std::string_view(*bytes).substr(0, n)).status()));
    }
  }
}

TEST_CASE("negative versions are CORRUPT_MESSAGE", "[consumer_protocol]") {
  for (int version : {0xFFFF, 0x8000}) {
    CAPTURE(version);
    CHECK(IsCorrupt(DecodeSubscription(Int16(version) + Int32(0) + Int32(-1)).status()));
    CHECK(IsCorrupt(DecodeAssignment(Int16(version) + Int32(0) + Int32(-1)).status()));
  }
}

TEST_CASE("bad lengths are CORRUPT_MESSAGE", "[consumer_protocol]") {
  const std::string v0 = Int16(0);
  const std::string v3 = Int16(3);
  // Control: a well-formed version 3 subscription.
  const std::string tail = Int32(0) + Int32(-1) + Str("r");
  REQUIRE(DecodeSubscription(v3 + Int32(1) + Str("t") + Int32(-1) + tail).ok());

  // Topic names are not nullable: no negative length.
  for (int n : {-1, -2, -32768}) {
    CAPTURE(n);
    CHECK(IsCorrupt(DecodeSubscription(v0 + Int32(1) + Int16(n) + Int32(-1)).status()));
    CHECK(IsCorrupt(DecodeAssignment(v0 + Int32(1) + Int16(n) + Int32(0) + Int32(-1)).status()));
  }
  // A topic name running past the end.
  CHECK(IsCorrupt(DecodeSubscription(v0 + Int32(1) + Int16(5) + "abc").status()));
  CHECK(IsCorrupt(DecodeSubscription(v0 + Int32(1) + Int16(0x7FFF) + "abc" + Int32(-1)).status()));
  // User data: -1 is null, any other negative length is corrupt, and a
  // length past the end is too.
  for (int64_t n : {-2LL, -0x80000000LL, 3LL, 0x7FFFFFFFLL}) {
    CAPTURE(n);
    CHECK(IsCorrupt(DecodeSubscription(v0 + Int32(0) + Int32(n) + "xy").status()));
    CHECK(IsCorrupt(DecodeAssignment(v0 + Int32(0) + Int32(n) + "xy").status()));
  }
  // Rack id: -1 is null, any other negative length is corrupt.
  const std::string before_rack = v3 + Int32(0) + Int32(-1) + Int32(0) + Int32(1);
  REQUIRE(DecodeSubscription(before_rack + Int16(-1)).ok());
  for (int n : {-2, -32768, 1, 0x7FFF}) {
    CAPTURE(n);
    CHECK(IsCorrupt(DecodeSubscription(before_rack + Int16(n)).status()));
  }
  // Array counts are not nullable either.
  for (int64_t n : {-1LL, -0x80000000LL}) {
    CAPTURE(n);
    CHECK(IsCorrupt(DecodeSubscription(v0 + Int32(n) + Int32(-1)).status()));
    CHECK(IsCorrupt(
        DecodeSubscription(v3 + Int32(0) + Int32(-1) + Int32(n) + Int32(1) + Int16(-1)).status()));
    CHECK(IsCorrupt(DecodeAssignment(v0 + Int32(n) + Int32(-1)).status()));
    CHECK(IsCorrupt(DecodeAssignment(v0 + Int32(1) + Str("t") + Int32(n) + Int32(-1)).status()));
  }
}

TEST_CASE("array counts larger than the input could hold are CORRUPT_MESSAGE",
          "[consumer_protocol]") {
  // Each of these would be a huge allocation if the count were trusted.
  const std::string padding(64, '\0');
  for (int64_t n : {0x7FFFFFFFLL, 0x10000000LL, 100LL}) {
    CAPTURE(n);
    CHECK(IsCorrupt(DecodeSubscription(Int16(0) + Int32(n) + padding).status()));
    CHECK(IsCorrupt(
        DecodeSubscription(Int16(1) + Int32(0) + Int32(-1) + Int32(n) + padding).status()));
    CHECK(IsCorrupt(DecodeAssignment(Int16(0) + Int32(n) + padding).status()));
    CHECK(
        IsCorrupt(DecodeAssignment(Int16(0) + Int32(1) + Str("t") + Int32(n) + padding).status()));
  }
  // A count the bytes left could hold if the elements were smallest, but
  // whose elements are not all there.
  CHECK(IsCorrupt(
      DecodeSubscription(Int16(0) + Int32(3) + Str("a") + Str("b") + Int16(7) + "x" + Int32(-1))
          .status()));
  // Exactly enough ids.
  auto ok =
      DecodeAssignment(Int16(0) + Int32(1) + Str("t") + Int32(2) + Int32(0) + Int32(1) + Int32(-1));
  REQUIRE(ok.ok());
  CHECK(ok->partitions.size() == 2);
}

TEST_CASE("a long topic name repeated over many partitions is refused, not copied",
          "[consumer_protocol]") {
  // 2,049 ids after a 32,767-byte name would copy the name into more than
  // 64 MiB of TopicPartitions from a 40 KB input.
  const int64_t over = static_cast<int64_t>(fmt::kMaxDecodedPartitionNameBytes / 32767) + 1;
  REQUIRE(over == 2049);
  auto entries = [](size_t name_bytes, int64_t count) {
    std::string out = Int32(1) + Int16(static_cast<int>(name_bytes)) +
                      std::string(name_bytes, 'n') + Int32(count);
    for (int64_t i = 0; i < count; ++i) out += Int32(i);
    return out;
  };
  const std::string subscription_head = Int16(1) + Int32(0) + Int32(-1);
  CHECK(IsCorrupt(DecodeAssignment(Int16(0) + entries(32767, over) + Int32(-1)).status()));
  CHECK(IsCorrupt(DecodeSubscription(subscription_head + entries(32767, over)).status()));
  auto fine = DecodeAssignment(Int16(0) + entries(249, over) + Int32(-1));
  REQUIRE(fine.ok());
  CHECK(fine->partitions.size() == 2049);
  auto fine_subscription = DecodeSubscription(subscription_head + entries(249, over));
  REQUIRE(fine_subscription.ok());
  CHECK(fine_subscription->owned_partitions.size() == 2049);
}

TEST_CASE("partition ids are decoded as written, negative ones included", "[consumer_protocol]") {
  // Kafka's reader does not check them either; assignors ignore claims to
  // partitions that do not exist.
  auto decoded =
      DecodeAssignment(Int16(0) + Int32(1) + Str("t") + Int32(1) + Int32(-5) + Int32(-1));
  REQUIRE(decoded.ok());
  CHECK(decoded->partitions == std::vector<TopicPartition>{{"t", -5}});
}

// --- Encode errors -----------------------------------------------------------------

TEST_CASE("encoding refuses what the format cannot carry with INVALID_REQUEST",
          "[consumer_protocol]") {
  for (int16_t version : {int16_t{-1}, int16_t{4}, int16_t{0x7FFF}}) {
    CAPTURE(version);
    CHECK(IsInvalid(EncodeSubscription({}, version).status()));
    CHECK(IsInvalid(EncodeAssignment({}, version).status()));
  }
  const std::string longest(fmt::kMaxStringBytes, 't');
  const std::string too_long(fmt::kMaxStringBytes + 1, 't');

  ConsumerSubscription s;
  s.topics = {longest};
  CHECK(EncodeSubscription(s).ok());
  s.topics = {"a", too_long};
  CHECK(IsInvalid(EncodeSubscription(s).status()));

  s = {};
  s.owned_partitions = {{too_long, 0}};
  CHECK(IsInvalid(EncodeSubscription(s).status()));
  s.owned_partitions = {{"t", 0}, {"t", -1}};
  CHECK(IsInvalid(EncodeSubscription(s).status()));
  // Version 0 has no owned partitions to check.
  CHECK(EncodeSubscription(s, 0).ok());

  s = {};
  s.rack_id = longest;
  CHECK(EncodeSubscription(s).ok());
  s.rack_id = too_long;
  CHECK(IsInvalid(EncodeSubscription(s).status()));

  ConsumerAssignment a;
  a.partitions = {{longest, 0}};
  CHECK(EncodeAssignment(a).ok());
  a.partitions = {{too_long, 0}};
  CHECK(IsInvalid(EncodeAssignment(a).status()));
  a.partitions = {{"t", -2147483647 - 1}};
  CHECK(IsInvalid(EncodeAssignment(a).status()));
}

}  // namespace
}  // namespace evlog
