// CRC-32C: slice-by-8 tables everywhere, SSE4.2 `crc32` on x86-64 when the
// CPU has it. Both work on the "raw" register (no pre/post inversion); the
// public functions add the inversions.

#include "evlog/record/crc32c.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define EVLOG_CRC32C_HAVE_SSE42 1
#include <nmmintrin.h>
#else
#define EVLOG_CRC32C_HAVE_SSE42 0
#endif

namespace evlog {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

using Table = std::array<uint32_t, 256>;

constexpr std::array<Table, 8> MakeSliceTables() {
  std::array<Table, 8> t{};
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolyReflected : c >> 1;
    t[0][n] = c;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t n = 0; n < 256; ++n) t[k][n] = (t[k - 1][n] >> 8) ^ t[0][t[k - 1][n] & 0xFF];
  }
  return t;
}

constexpr std::array<Table, 8> kSlice = MakeSliceTables();

inline uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint32_t PortableRaw(uint32_t crc, const uint8_t* p, size_t n) {
  while (n >= 8) {
    const uint64_t w = LoadLe64(p) ^ crc;
    crc = kSlice[7][w & 0xFF] ^ kSlice[6][(w >> 8) & 0xFF] ^ kSlice[5][(w >> 16) & 0xFF] ^
          kSlice[4][(w >> 24) & 0xFF] ^ kSlice[3][(w >> 32) & 0xFF] ^ kSlice[2][(w >> 40) & 0xFF] ^
          kSlice[1][(w >> 48) & 0xFF] ^ kSlice[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    crc = (crc >> 8) ^ kSlice[0][(crc ^ *p) & 0xFF];
    ++p;
    --n;
  }
  return crc;
}

#if EVLOG_CRC32C_HAVE_SSE42

// The crc32 instruction has a latency of 3 cycles and a throughput of one
// per cycle, so three independent streams over adjacent blocks run about
// three times faster than one. The streams are joined by shifting a raw
// CRC over kStreamBlockBytes zero bytes, a linear map done with four tables.
constexpr size_t kStreamBlockBytes = 256;

constexpr std::array<Table, 4> MakeShiftTables() {
  // Column j: the raw register 1<<j after kStreamBlockBytes zero bytes.
  std::array<uint32_t, 32> column{};
  for (int j = 0; j < 32; ++j) {
    uint32_t r = uint32_t{1} << j;
    for (size_t i = 0; i < kStreamBlockBytes; ++i) r = (r >> 8) ^ kSlice[0][r & 0xFF];
    column[j] = r;
  }
  std::array<Table, 4> t{};
  for (int byte = 0; byte < 4; ++byte) {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t v = 0;
      for (int k = 0; k < 8; ++k) {
        if (b & (1u << k)) v ^= column[byte * 8 + k];
      }
      t[byte][b] = v;
    }
  }
  return t;
}

constexpr std::array<Table, 4> kShift = MakeShiftTables();

inline uint32_t ShiftBlock(uint32_t r) {
  return kShift[0][r & 0xFF] ^ kShift[1][(r >> 8) & 0xFF] ^ kShift[2][(r >> 16) & 0xFF] ^
         kShift[3][r >> 24];
}

inline uint64_t LoadU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

__attribute__((target("sse4.2"))) uint32_t HardwareRaw(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  while (n >= 3 * kStreamBlockBytes) {
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    const uint8_t* p1 = p + kStreamBlockBytes;
    const uint8_t* p2 = p + 2 * kStreamBlockBytes;
    for (size_t i = 0; i < kStreamBlockBytes; i += 8) {
      c = _mm_crc32_u64(c, LoadU64(p + i));
      c1 = _mm_crc32_u64(c1, LoadU64(p1 + i));
      c2 = _mm_crc32_u64(c2, LoadU64(p2 + i));
    }
    c = ShiftBlock(ShiftBlock(static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c1)) ^
        static_cast<uint32_t>(c2);
    p += 3 * kStreamBlockBytes;
    n -= 3 * kStreamBlockBytes;
  }
  while (n >= 8) {
    c = _mm_crc32_u64(c, LoadU64(p));
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, *p);
    ++p;
    --n;
  }
  return c32;
}

bool DetectHardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

#endif  // EVLOG_CRC32C_HAVE_SSE42

using RawFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

RawFn SelectRaw() {
#if EVLOG_CRC32C_HAVE_SSE42
  if (DetectHardware()) return &HardwareRaw;
#endif
  return &PortableRaw;
}

inline const uint8_t* Ptr(ByteView data) { return reinterpret_cast<const uint8_t*>(data.data()); }

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, ByteView data) {
  static const RawFn raw = SelectRaw();
  return ~raw(~crc, Ptr(data), data.size());
}

uint32_t Crc32c(ByteView data) { return Crc32cExtend(0, data); }

namespace internal {

bool Crc32cHardwareAvailable() {
#if EVLOG_CRC32C_HAVE_SSE42
  static const bool available = DetectHardware();
  return available;
#else
  return false;
#endif
}

uint32_t Crc32cExtendPortable(uint32_t crc, ByteView data) {
  return ~PortableRaw(~crc, Ptr(data), data.size());
}

uint32_t Crc32cExtendHardware(uint32_t crc, ByteView data) {
#if EVLOG_CRC32C_HAVE_SSE42
  return ~HardwareRaw(~crc, Ptr(data), data.size());
#else
  return Crc32cExtendPortable(crc, data);
#endif
}

}  // namespace internal
}  // namespace evlog
