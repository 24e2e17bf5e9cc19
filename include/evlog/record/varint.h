// evlog/record/varint.h — ZigZag variable-length integers, as in RecordBatch v2.
//
// Records encode their lengths, deltas and counts as Protobuf-style base-128
// varints (7 bits per byte, least significant group first, high bit set on
// every byte but the last) of the ZigZag mapping, which sends small
// magnitudes of either sign to small unsigned numbers:
//
//   0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3, ...   (zigzag(v) = (v << 1) ^ (v >> 31))
//
// so -1 (a null length) takes one byte. An int32 ("varint") takes 1-5 bytes,
// an int64 ("varlong") 1-10.
//
//   std::byte buf[evlog::record_format::kMaxVarintBytes];
//   size_t n = evlog::EncodeVarint(-1, buf);            // n == 1, buf[0] == 0x01
//   auto d = evlog::DecodeVarint(evlog::ByteView(buf, n));
//   // d->value == -1, d->size == 1
//
// Decoding is bounds-checked and never reads past its input. It fails
// (std::nullopt) on truncation (the input ends while the high bit is set),
// on an encoding longer than 5 (varint) or 10 (varlong) bytes, and on a
// final byte carrying bits that do not fit the type. Kafka's decoder drops
// such excess bits; evlog calls them corruption, since no encoder writes
// them. Redundant zero groups (0x80 0x00 for 0) are accepted, as in Kafka.
//
// Thread-safety: pure functions, thread-safe.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "evlog/bytes.h"
#include "evlog/record/record_format.h"

namespace evlog {

// A decoded value and the number of input bytes it took.
template <typename T>
struct DecodedVarint {
  T value;
  size_t size;
};

constexpr uint32_t ZigZagEncode32(int32_t v) {
  return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}
constexpr uint64_t ZigZagEncode64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
constexpr int32_t ZigZagDecode32(uint32_t u) {
  return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
}
constexpr int64_t ZigZagDecode64(uint64_t u) {
  return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

// Bytes taken by the unsigned base-128 encoding of `u`: one per started
// group of 7 significant bits, 1 + floor(highest_set_bit / 7), computed
// without a loop (x * 9 / 64 == x / 7 for the bit indexes 0-63).
constexpr size_t UnsignedVarintSize(uint64_t u) {
  const auto highest_bit = static_cast<size_t>(63 - std::countl_zero(u | 1));
  return (highest_bit * 9 + 73) / 64;
}

// Bytes EncodeVarint(v) / EncodeVarlong(v) write.
constexpr size_t VarintSize(int32_t v) { return UnsignedVarintSize(ZigZagEncode32(v)); }
constexpr size_t VarlongSize(int64_t v) { return UnsignedVarintSize(ZigZagEncode64(v)); }

static_assert(UnsignedVarintSize(0) == 1);
static_assert(UnsignedVarintSize(0x7F) == 1);
static_assert(UnsignedVarintSize(0x80) == 2);
static_assert(UnsignedVarintSize((uint64_t{1} << 14) - 1) == 2);
static_assert(UnsignedVarintSize(uint64_t{1} << 14) == 3);
static_assert(UnsignedVarintSize((uint64_t{1} << 63) - 1) == 9);
static_assert(UnsignedVarintSize(uint64_t{1} << 63) == 10);
static_assert(VarintSize(-1) == 1);
static_assert(VarintSize(INT32_MIN) == record_format::kMaxVarintBytes);
static_assert(VarlongSize(INT64_MIN) == record_format::kMaxVarlongBytes);

// Writes the unsigned base-128 encoding of `u` at `out` and returns the
// number of bytes written. REQUIRES: `out` has UnsignedVarintSize(u) bytes.
inline size_t EncodeUnsignedVarint(uint64_t u, std::byte* out) {
  size_t n = 0;
  while (u >= 0x80) {
    out[n++] = static_cast<std::byte>((u & 0x7F) | 0x80);
    u >>= 7;
  }
  out[n++] = static_cast<std::byte>(u);
  return n;
}

// As EncodeUnsignedVarint, returning the end of what it wrote; one and two
// byte encodings (the common lengths and deltas) without a loop.
inline std::byte* WriteUnsignedVarint(uint64_t u, std::byte* out) {
  if (u < 0x80) {
    out[0] = static_cast<std::byte>(u);
    return out + 1;
  }
  if (u < 0x4000) {
    out[0] = static_cast<std::byte>(u | 0x80);
    out[1] = static_cast<std::byte>(u >> 7);
    return out + 2;
  }
  return out + EncodeUnsignedVarint(u, out);
}

// Writes ZigZag varint `v` at `out`; returns the bytes written (1-5).
// REQUIRES: `out` has VarintSize(v) bytes.
inline size_t EncodeVarint(int32_t v, std::byte* out) {
  return EncodeUnsignedVarint(ZigZagEncode32(v), out);
}

// Writes ZigZag varlong `v` at `out`; returns the bytes written (1-10).
// REQUIRES: `out` has VarlongSize(v) bytes.
inline size_t EncodeVarlong(int64_t v, std::byte* out) {
  return EncodeUnsignedVarint(ZigZagEncode64(v), out);
}

namespace internal {

// Decodes an unsigned base-128 number of at most `max_bytes` bytes whose
// value fits in `value_bits` bits.
inline std::optional<DecodedVarint<uint64_t>> DecodeUnsignedVarint(ByteView in, size_t max_bytes,
                                                                   unsigned value_bits) {
  uint64_t result = 0;
  const size_t limit = in.size() < max_bytes ? in.size() : max_bytes;
  for (size_t i = 0; i < limit; ++i) {
    const auto b = static_cast<uint8_t>(in[i]);
    const unsigned shift = static_cast<unsigned>(7 * i);
    const uint64_t group = b & 0x7Fu;
    if (shift + 7 > value_bits && (group >> (value_bits - shift)) != 0) {
      return std::nullopt;  // bits beyond the type
    }
    result |= group << shift;
    if ((b & 0x80) == 0) return DecodedVarint<uint64_t>{result, i + 1};
  }
  return std::nullopt;  // truncated, or longer than max_bytes
}

}  // namespace internal

// Decodes a ZigZag varint (int32) at the start of `in`. Returns the value
// and its encoded size, or std::nullopt when `in` is truncated or the
// encoding overflows (see the top of this file).
inline std::optional<DecodedVarint<int32_t>> DecodeVarint(ByteView in) {
  if (!in.empty() && static_cast<uint8_t>(in[0]) < 0x80) [[likely]] {
    return DecodedVarint<int32_t>{ZigZagDecode32(static_cast<uint8_t>(in[0])), 1};
  }
  auto u = internal::DecodeUnsignedVarint(in, record_format::kMaxVarintBytes, 32);
  if (!u) return std::nullopt;
  return DecodedVarint<int32_t>{ZigZagDecode32(static_cast<uint32_t>(u->value)), u->size};
}

// Decodes a ZigZag varlong (int64) at the start of `in`; as DecodeVarint.
inline std::optional<DecodedVarint<int64_t>> DecodeVarlong(ByteView in) {
  if (!in.empty() && static_cast<uint8_t>(in[0]) < 0x80) [[likely]] {
    return DecodedVarint<int64_t>{ZigZagDecode64(static_cast<uint8_t>(in[0])), 1};
  }
  auto u = internal::DecodeUnsignedVarint(in, record_format::kMaxVarlongBytes, 64);
  if (!u) return std::nullopt;
  return DecodedVarint<int64_t>{ZigZagDecode64(u->value), u->size};
}

}  // namespace evlog
