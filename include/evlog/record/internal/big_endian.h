// Big-endian loads and stores for the batch header (private to the record
// layer). Byte by byte, so alignment never matters; compilers turn each into
// one load/store plus a byte swap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace evlog::internal {

template <typename T>
inline T LoadBigEndian(const std::byte* p) {
  static_assert(std::is_integral_v<T>);
  using U = std::make_unsigned_t<T>;
  U v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<U>((v << 8) | static_cast<uint8_t>(p[i]));
  return static_cast<T>(v);
}

template <typename T>
inline void StoreBigEndian(std::byte* p, T value) {
  static_assert(std::is_integral_v<T>);
  using U = std::make_unsigned_t<T>;
  auto v = static_cast<U>(value);
  for (size_t i = sizeof(T); i-- > 0;) {
    p[i] = static_cast<std::byte>(v & 0xFF);
    if constexpr (sizeof(T) > 1) v = static_cast<U>(v >> 8);
  }
}

}  // namespace evlog::internal
