#include "evlog/record/varint.h"

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "tests/support/catch.h"

namespace evlog {
namespace {

std::vector<uint8_t> EncodeInt(int32_t v) {
  std::byte buf[record_format::kMaxVarintBytes];
  const size_t n = EncodeVarint(v, buf);
  REQUIRE(n == VarintSize(v));
  std::vector<uint8_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(buf[i]));
  return out;
}

std::vector<uint8_t> EncodeLong(int64_t v) {
  std::byte buf[record_format::kMaxVarlongBytes];
  const size_t n = EncodeVarlong(v, buf);
  REQUIRE(n == VarlongSize(v));
  std::vector<uint8_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(buf[i]));
  return out;
}

ByteView View(const std::vector<uint8_t>& v) {
  return ByteView(reinterpret_cast<const std::byte*>(v.data()), v.size());
}

TEST_CASE("varint encodes zigzag values as Kafka does") {
  using V = std::vector<uint8_t>;
  CHECK(EncodeInt(0) == V{0x00});
  CHECK(EncodeInt(-1) == V{0x01});
  CHECK(EncodeInt(1) == V{0x02});
  CHECK(EncodeInt(-2) == V{0x03});
  CHECK(EncodeInt(63) == V{0x7E});
  CHECK(EncodeInt(-64) == V{0x7F});
  CHECK(EncodeInt(64) == V{0x80, 0x01});
  CHECK(EncodeInt(300) == V{0xD8, 0x04});
  CHECK(EncodeInt(std::numeric_limits<int32_t>::max()) == V{0xFE, 0xFF, 0xFF, 0xFF, 0x0F});
  CHECK(EncodeInt(std::numeric_limits<int32_t>::min()) == V{0xFF, 0xFF, 0xFF, 0xFF, 0x0F});
  CHECK(EncodeLong(std::numeric_limits<int64_t>::max()) ==
        V{0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01});
  CHECK(EncodeLong(std::numeric_limits<int64_t>::min()) ==
        V{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01});
  CHECK(EncodeLong(-1) == V{0x01});
}

TEST_CASE("varint and varlong round trip edge values") {
  for (int32_t v : {0, -1, 1, 63, -64, 64, -65, 8191, 8192, std::numeric_limits<int32_t>::max(),
                    std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max() - 1,
                    std::numeric_limits<int32_t>::min() + 1}) {
    auto bytes = EncodeInt(v);
    auto d = DecodeVarint(View(bytes));
    REQUIRE(d.has_value());
    CHECK(d->value == v);
    CHECK(d->size == bytes.size());
  }
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, int64_t{1} << 35, -(int64_t{1} << 35),
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(),
                    int64_t{std::numeric_limits<int32_t>::min()}}) {
    auto bytes = EncodeLong(v);
    auto d = DecodeVarlong(View(bytes));
    REQUIRE(d.has_value());
    CHECK(d->value == v);
    CHECK(d->size == bytes.size());
  }
  std::mt19937_64 rng(99);
  for (int i = 0; i < 10000; ++i) {
    const auto v = static_cast<int64_t>(rng()) >> (rng() % 64);
    auto d = DecodeVarlong(View(EncodeLong(v)));
    REQUIRE(d.has_value());
    CHECK(d->value == v);
    const auto v32 = static_cast<int32_t>(v);
    auto d32 = DecodeVarint(View(EncodeInt(v32)));
    REQUIRE(d32.has_value());
    CHECK(d32->value == v32);
  }
}

TEST_CASE("unsigned varint size equals the bytes written at every 7-bit boundary") {
  for (unsigned bit = 0; bit < 64; ++bit) {
    const uint64_t power = uint64_t{1} << bit;
    for (uint64_t u : {power - 1, power, power + 1, power | (power - 1)}) {
      std::byte buf[record_format::kMaxVarlongBytes];
      INFO("u = " << u);
      CHECK(EncodeUnsignedVarint(u, buf) == UnsignedVarintSize(u));
    }
  }
  std::byte buf[record_format::kMaxVarlongBytes];
  CHECK(EncodeUnsignedVarint(std::numeric_limits<uint64_t>::max(), buf) == 10);
  CHECK(UnsignedVarintSize(std::numeric_limits<uint64_t>::max()) == 10);
}

TEST_CASE("varint decoding stops at the end of its encoding") {
  std::vector<uint8_t> bytes{0xD8, 0x04, 0x99, 0x99};
  auto d = DecodeVarint(View(bytes));
  REQUIRE(d.has_value());
  CHECK(d->value == 300);
  CHECK(d->size == 2);
}

TEST_CASE("truncated varints are rejected") {
  CHECK_FALSE(DecodeVarint(ByteView()).has_value());
  CHECK_FALSE(DecodeVarlong(ByteView()).has_value());
  auto max = EncodeInt(std::numeric_limits<int32_t>::max());
  for (size_t n = 0; n < max.size(); ++n) {
    CHECK_FALSE(DecodeVarint(View(max).first(n)).has_value());
  }
  auto lmax = EncodeLong(std::numeric_limits<int64_t>::min());
  for (size_t n = 0; n < lmax.size(); ++n) {
    CHECK_FALSE(DecodeVarlong(View(lmax).first(n)).has_value());
  }
}

TEST_CASE("overlong and overflowing varints are rejected") {
  // Six bytes for an int32, eleven for an int64.
  std::vector<uint8_t> six{0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  CHECK_FALSE(DecodeVarint(View(six)).has_value());
  std::vector<uint8_t> eleven(10, 0x80);
  eleven.push_back(0x00);
  CHECK_FALSE(DecodeVarlong(View(eleven)).has_value());
  // Fifth byte with bits beyond 32.
  std::vector<uint8_t> wide{0xFF, 0xFF, 0xFF, 0xFF, 0x1F};
  CHECK_FALSE(DecodeVarint(View(wide)).has_value());
  // Tenth byte with bits beyond 64.
  std::vector<uint8_t> lwide{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x03};
  CHECK_FALSE(DecodeVarlong(View(lwide)).has_value());
  // Redundant zero groups within the length limit are accepted (as Kafka).
  std::vector<uint8_t> padded{0x80, 0x00};
  auto d = DecodeVarint(View(padded));
  REQUIRE(d.has_value());
  CHECK(d->value == 0);
  CHECK(d->size == 2);
}

}  // namespace
}  // namespace evlog
