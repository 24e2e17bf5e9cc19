#include "evlog/record/crc32c.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/support/catch.h"

namespace evlog {
namespace {

ByteView Bytes(const std::vector<std::byte>& v) { return ByteView(v.data(), v.size()); }

TEST_CASE("crc32c matches published test vectors") {
  CHECK(Crc32c(AsBytes("")) == 0u);
  CHECK(Crc32c(AsBytes("123456789")) == 0xE3069283u);
  // Kafka's Crc32CTest.
  CHECK(Crc32c(AsBytes("Some String")) == 608512271u);
  // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of 0xFF, and ascending 0..31.
  std::vector<std::byte> zeros(32, std::byte{0});
  std::vector<std::byte> ones(32, std::byte{0xFF});
  std::vector<std::byte> ascending(32);
  for (size_t i = 0; i < ascending.size(); ++i) ascending[i] = static_cast<std::byte>(i);
  CHECK(Crc32c(Bytes(zeros)) == 0x8A9136AAu);
  CHECK(Crc32c(Bytes(ones)) == 0x62A8AB43u);
  CHECK(Crc32c(Bytes(ascending)) == 0x46DD794Eu);
}

TEST_CASE("crc32c portable and hardware agree with the vectors") {
  CHECK(internal::Crc32cExtendPortable(0, AsBytes("123456789")) == 0xE3069283u);
  if (internal::Crc32cHardwareAvailable()) {
    CHECK(internal::Crc32cExtendHardware(0, AsBytes("123456789")) == 0xE3069283u);
    CHECK(internal::Crc32cExtendHardware(0, AsBytes("Some String")) == 608512271u);
  }
}

TEST_CASE("crc32c hardware equals software on random data of every length and alignment") {
  std::mt19937_64 rng(12345);
  std::vector<std::byte> data(60000 + 16);
  for (auto& b : data) b = static_cast<std::byte>(rng());
  const bool hw = internal::Crc32cHardwareAvailable();
  // Around the hardware path's six-stream chunk sizes (6 x 64 = 384,
  // 6 x 512 = 3072, 6 x 4096 = 24576 bytes), their sums, and its 8/4/2/1-byte
  // tail steps.
  for (size_t length : {0,     1,     2,     3,     4,     5,     6,     7,     8,     9,     15,
                        63,    64,    191,   192,   193,   255,   256,   383,   384,   385,   391,
                        447,   767,   768,   769,   1000,  1151,  1152,  1535,  1536,  1537,  2304,
                        3071,  3072,  3073,  3079,  3455,  3456,  3457,  3471,  4096,  6143,  6144,
                        6145,  8192,  12288, 24575, 24576, 24577, 24583, 27647, 27648, 28031, 28032,
                        28047, 40000, 49151, 49152, 49153, 52223, 52224, 52608, 52623, 60000}) {
    for (size_t align = 0; align < 8; ++align) {
      ByteView piece(data.data() + align, length);
      const uint32_t sw = internal::Crc32cExtendPortable(0, piece);
      CHECK(Crc32c(piece) == sw);
      if (hw) CHECK(internal::Crc32cExtendHardware(0, piece) == sw);
    }
  }
  // Every length up to 1 KiB: each count of short chunks and each tail.
  for (size_t length = 0; length <= 1024; ++length) {
    const size_t align = rng() % 16;
    const auto seed = static_cast<uint32_t>(rng());
    ByteView piece(data.data() + align, length);
    const uint32_t sw = internal::Crc32cExtendPortable(seed, piece);
    CHECK(Crc32cExtend(seed, piece) == sw);
    if (hw) CHECK(internal::Crc32cExtendHardware(seed, piece) == sw);
  }
  for (int i = 0; i < 200; ++i) {
    const size_t length = rng() % 60000;
    const size_t align = rng() % 16;
    ByteView piece(data.data() + align, length);
    const uint32_t seed = static_cast<uint32_t>(rng());
    const uint32_t sw = internal::Crc32cExtendPortable(seed, piece);
    if (hw) CHECK(internal::Crc32cExtendHardware(seed, piece) == sw);
  }
}

TEST_CASE("crc32c hardware detects a flipped bit in every stream of a chunk") {
  if (!internal::Crc32cHardwareAvailable()) return;
  std::mt19937_64 rng(5);
  std::vector<std::byte> data(24576 + 3072 + 384 + 7);
  for (auto& b : data) b = static_cast<std::byte>(rng());
  const uint32_t clean = internal::Crc32cExtendHardware(0, Bytes(data));
  CHECK(clean == internal::Crc32cExtendPortable(0, Bytes(data)));
  for (size_t i = 0; i < data.size(); i += 61) {
    data[i] ^= std::byte{0x10};
    const uint32_t flipped = internal::Crc32cExtendHardware(0, Bytes(data));
    CHECK(flipped != clean);
    CHECK(flipped == internal::Crc32cExtendPortable(0, Bytes(data)));
    data[i] ^= std::byte{0x10};
  }
}

TEST_CASE("crc32c extended piece by piece equals one pass") {
  std::mt19937_64 rng(7);
  std::vector<std::byte> data(3000);
  for (auto& b : data) b = static_cast<std::byte>(rng());
  const uint32_t whole = Crc32c(Bytes(data));
  for (size_t split : {0, 1, 100, 768, 2999, 3000}) {
    uint32_t crc = Crc32cExtend(0, ByteView(data.data(), split));
    crc = Crc32cExtend(crc, ByteView(data.data() + split, data.size() - split));
    CHECK(crc == whole);
  }
  uint32_t bytewise = 0;
  for (size_t i = 0; i < data.size(); ++i) bytewise = Crc32cExtend(bytewise, ByteView(&data[i], 1));
  CHECK(bytewise == whole);
}

}  // namespace
}  // namespace evlog
