#include "evlog/record/internal/wire.h"

#include <optional>
#include <string>
#include <vector>

#include "evlog/types.h"
#include "tests/support/catch.h"

namespace evlog::internal {
namespace {

TEST_CASE("wire: values written are read back in order, big-endian on the wire") {
  WireWriter out;
  out.Int<int16_t>(-2);
  out.Int<int32_t>(0x01020304);
  out.Int(Offset(-7));  // a strong integer goes as its representation
  out.Bool(true);
  out.UnsignedVarint(300);
  out.String("orders");
  out.NullableString(std::nullopt);
  out.NullableString(std::string("x"));
  out.Bytes(AsBytes("abc"));
  out.NullableBytes(std::nullopt);
  out.Count(2);
  out.VarString("key");
  const std::vector<std::byte> bytes = std::move(out).Take();
  // int16 -2 is FF FE; the int32 follows as 01 02 03 04.
  REQUIRE(bytes.size() > 6);
  CHECK(bytes[0] == std::byte{0xFF});
  CHECK(bytes[1] == std::byte{0xFE});
  CHECK(bytes[2] == std::byte{0x01});
  CHECK(bytes[5] == std::byte{0x04});

  WireReader in(bytes);
  int16_t a = 0;
  int32_t b = 0;
  Offset c;
  bool d = false;
  uint64_t e = 0;
  std::string f;
  std::optional<std::string> g = "not null", h;
  ByteView i;
  std::optional<std::string> j = "not null";
  size_t k = 0;
  std::string l;
  REQUIRE(in.Int(a));
  REQUIRE(in.Int(b));
  REQUIRE(in.Int(c));
  REQUIRE(in.Bool(d));
  REQUIRE(in.UnsignedVarint(e));
  REQUIRE(in.String(f));
  REQUIRE(in.NullableString(g));
  REQUIRE(in.NullableString(h));
  REQUIRE(in.Bytes(i));
  REQUIRE(in.NullableBytes(j));
  REQUIRE(in.Count(0, k));
  REQUIRE(in.VarString(l));
  CHECK(in.done());
  CHECK(a == -2);
  CHECK(b == 0x01020304);
  CHECK(c == Offset(-7));
  CHECK(d);
  CHECK(e == 300);
  CHECK(f == "orders");
  CHECK_FALSE(g.has_value());
  CHECK(h == std::optional<std::string>("x"));
  CHECK(AsStringView(i) == "abc");
  CHECK_FALSE(j.has_value());
  CHECK(k == 2);
  CHECK(l == "key");
}

TEST_CASE("wire: a failed read consumes nothing") {
  WireWriter out;
  out.Int<int16_t>(10);  // claims 10 bytes of string
  out.Raw(AsBytes("abc"));
  const std::vector<std::byte> bytes = std::move(out).Take();
  WireReader in(bytes);
  std::string s;
  CHECK_FALSE(in.String(s));
  CHECK(in.remaining() == bytes.size());
  std::optional<std::string> n;
  CHECK_FALSE(in.NullableString(n));
  CHECK(in.remaining() == bytes.size());
  int16_t len;
  REQUIRE(in.Int(len));
  CHECK(len == 10);
  int64_t too_wide;
  CHECK_FALSE(in.Int(too_wide));
  CHECK(in.remaining() == 3);
}

TEST_CASE("wire: malformed lengths, counts, booleans and varints are refused") {
  SECTION("a negative string length") {
    WireWriter out;
    out.Int<int16_t>(-2);
    const auto bytes = std::move(out).Take();
    WireReader in(bytes);
    std::string s;
    std::optional<std::string> n;
    CHECK_FALSE(in.String(s));
    CHECK_FALSE(in.NullableString(n));
  }
  SECTION("a count the input cannot hold") {
    WireWriter out;
    out.Count(1000);
    out.Int<int32_t>(1);
    const auto bytes = std::move(out).Take();
    WireReader in(bytes);
    size_t n;
    CHECK_FALSE(in.Count(4, n));
    CHECK(in.remaining() == bytes.size());
  }
  SECTION("a negative count") {
    WireWriter out;
    out.Int<int32_t>(-1);
    const auto bytes = std::move(out).Take();
    WireReader in(bytes);
    size_t n;
    CHECK_FALSE(in.Count(1, n));
  }
  SECTION("a boolean other than 0 or 1") {
    const std::byte two[] = {std::byte{2}};
    WireReader in{ByteView(two)};
    bool b;
    CHECK_FALSE(in.Bool(b));
    CHECK(in.remaining() == 1);
  }
  SECTION("a varint that never ends") {
    const std::vector<std::byte> bytes(11, std::byte{0x80});
    WireReader in(bytes);
    uint64_t v;
    CHECK_FALSE(in.UnsignedVarint(v));
    std::string s;
    CHECK_FALSE(in.VarString(s));
  }
  SECTION("a byte array longer than the input") {
    WireWriter out;
    out.Int<int32_t>(5);
    out.Raw(AsBytes("ab"));
    const auto bytes = std::move(out).Take();
    WireReader in(bytes);
    ByteView b;
    std::optional<std::string> nb;
    CHECK_FALSE(in.Bytes(b));
    CHECK_FALSE(in.NullableBytes(nb));
    CHECK(in.remaining() == bytes.size());
  }
}

TEST_CASE("wire: a string writer produces the same bytes as a vector writer") {
  BasicWireWriter<std::string> s;
  WireWriter v;
  s.Int<int32_t>(-5);
  s.String("topic");
  v.Int<int32_t>(-5);
  v.String("topic");
  const std::string a = std::move(s).Take();
  const std::vector<std::byte> b = std::move(v).Take();
  CHECK(a == std::string(AsStringView(b)));
}

}  // namespace
}  // namespace evlog::internal
