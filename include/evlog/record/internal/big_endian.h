// Big-endian loads and stores for the batch header (private to the record
// layer). memcpy plus a byte swap, so alignment never matters and each is
// one load/store and a bswap (a byte-at-a-time loop over std::byte is not
// reliably recognised as one by GCC).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace evlog::internal {

template <typename U>
constexpr U ByteSwap(U v) {
  static_assert(std::is_unsigned_v<U>);
  if constexpr (sizeof(U) == 1) {
    return v;
  } else if constexpr (sizeof(U) == 2) {
    return __builtin_bswap16(v);
  } else if constexpr (sizeof(U) == 4) {
    return __builtin_bswap32(v);
  } else {
    static_assert(sizeof(U) == 8);
    return __builtin_bswap64(v);
  }
}

// Converts between host order and big-endian order (an involution).
template <typename U>
constexpr U HostToBig(U v) {
  if constexpr (std::endian::native == std::endian::big) {
    return v;
  } else {
    static_assert(std::endian::native == std::endian::little);
    return ByteSwap(v);
  }
}

template <typename T>
inline T LoadBigEndian(const std::byte* p) {
  static_assert(std::is_integral_v<T>);
  using U = std::make_unsigned_t<T>;
  U v;
  std::memcpy(&v, p, sizeof(v));
  return static_cast<T>(HostToBig(v));
}

template <typename T>
inline void StoreBigEndian(std::byte* p, T value) {
  static_assert(std::is_integral_v<T>);
  using U = std::make_unsigned_t<T>;
  const U v = HostToBig(static_cast<U>(value));
  std::memcpy(p, &v, sizeof(v));
}

}  // namespace evlog::internal
