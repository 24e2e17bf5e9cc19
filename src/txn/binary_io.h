// Big-endian writing and bounds-checked reading of the txn layer's own
// records and files (producer-state snapshots, transaction state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "evlog/bytes.h"
#include "evlog/record/internal/big_endian.h"

namespace evlog::txn_internal {

template <typename T>
void Put(std::vector<std::byte>& out, T value) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  internal::StoreBigEndian<T>(out.data() + at, value);
}

// A u16 length, then the bytes. REQUIRES: s.size() <= 65535.
inline void PutString(std::vector<std::byte>& out, std::string_view s) {
  Put<uint16_t>(out, static_cast<uint16_t>(s.size()));
  for (char c : s) out.push_back(static_cast<std::byte>(c));
}

// Reads fixed-size fields and strings, failing (without reading past the
// end) once the bytes run short.
class Reader {
 public:
  explicit Reader(ByteView bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T& value) {
    if (bytes_.size() - at_ < sizeof(T)) return false;
    value = internal::LoadBigEndian<T>(bytes_.data() + at_);
    at_ += sizeof(T);
    return true;
  }
  bool GetString(std::string& s) {
    uint16_t n = 0;
    if (!Get(n) || bytes_.size() - at_ < n) return false;
    s.assign(reinterpret_cast<const char*>(bytes_.data() + at_), n);
    at_ += n;
    return true;
  }
  size_t remaining() const { return bytes_.size() - at_; }

 private:
  ByteView bytes_;
  size_t at_ = 0;
};

}  // namespace evlog::txn_internal
