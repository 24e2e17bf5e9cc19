// evlog/bytes.h — the vocabulary for raw bytes.
//
// evlog passes bytes as std::span<const std::byte> (read-only view) and
// std::span<std::byte> (writable view); the caller owns the memory and keeps
// it alive for the duration of the call unless a function says otherwise.
// Keys and values usually start life as strings, so conversions are cheap
// and explicit.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace evlog {

using ByteView = std::span<const std::byte>;
using MutableByteView = std::span<std::byte>;

// Views the characters of `s` as bytes (no copy).
inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Views bytes as characters (no copy).
inline std::string_view AsStringView(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Copies bytes into a std::string.
inline std::string ToString(ByteView b) { return std::string(AsStringView(b)); }

}  // namespace evlog
