// Bounds-checked encoding of Kafka-style messages: big-endian integers,
// int16-length strings, int32-length byte arrays and counts, and unsigned
// varints. Every format evlog defines outside the record batch — the
// consumer protocol, __consumer_offsets keys and values, the broker's
// metadata records, replication and controller messages — is written and
// read with these two classes, so the checks on untrusted input live in
// one place:
//
//   evlog::internal::WireWriter out;
//   out.Int<int16_t>(3);
//   out.String("orders");
//   std::vector<std::byte> bytes = std::move(out).Take();
//
//   evlog::internal::WireReader in(bytes);
//   int16_t version;
//   std::string topic;
//   if (!in.Int(version) || !in.String(topic) || !in.done()) return corrupt;
//
// A failed read consumes nothing and returns false; decoders give up on
// the whole input at the first false, so lengths and counts are never
// trusted before the remaining input can hold them.
//
// Thread-safety: values; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "evlog/bytes.h"
#include "evlog/record/internal/big_endian.h"
#include "evlog/record/varint.h"

namespace evlog::internal {

// Appends to a byte vector (or a std::string: the consumer protocol's
// opaque metadata is carried as one).
template <typename Buffer = std::vector<std::byte>>
class BasicWireWriter {
 public:
  using value_type = typename Buffer::value_type;
  static_assert(sizeof(value_type) == 1);

  BasicWireWriter() = default;
  // Reserves room for `expected_size` bytes up front.
  explicit BasicWireWriter(size_t expected_size) { out_.reserve(expected_size); }

  template <typename T>
  void Int(T v) {
    static_assert(std::is_integral_v<T>);
    std::byte b[sizeof(T)];
    StoreBigEndian<T>(b, v);
    Raw(ByteView(b, sizeof(T)));
  }
  // A strong integer (Offset, LeaderEpoch, BrokerId, ...) as its representation.
  template <typename S>
  requires requires(S s) {
    typename S::rep_type;
    s.value();
  }
  void Int(S v) { Int<typename S::rep_type>(v.value()); }
  void Bool(bool v) { Int<int8_t>(v ? 1 : 0); }
  void UnsignedVarint(uint64_t v) {
    std::byte b[record_format::kMaxVarlongBytes];
    Raw(ByteView(b, EncodeUnsignedVarint(v, b)));
  }
  // int16 length, then the bytes. REQUIRES: s.size() <= INT16_MAX (callers
  // check limits they can report).
  void String(std::string_view s) {
    Int(static_cast<int16_t>(s.size()));
    Raw(AsBytes(s));
  }
  // int16 length, -1 for null.
  void NullableString(const std::optional<std::string>& s) {
    if (s) {
      String(*s);
    } else {
      Int(int16_t{-1});
    }
  }
  // int32 length, then the bytes.
  void Bytes(ByteView b) {
    Int(static_cast<int32_t>(b.size()));
    Raw(b);
  }
  // int32 length, -1 for null.
  void NullableBytes(const std::optional<std::string>& b) {
    if (b) {
      Bytes(AsBytes(*b));
    } else {
      Int(int32_t{-1});
    }
  }
  // An int32 element count.
  void Count(size_t n) { Int(static_cast<int32_t>(n)); }
  // A string with an unsigned-varint length (evlog's own compact records).
  void VarString(std::string_view s) {
    UnsignedVarint(s.size());
    Raw(AsBytes(s));
  }
  void Raw(ByteView b) {
    const auto* p = reinterpret_cast<const value_type*>(b.data());
    out_.insert(out_.end(), p, p + b.size());
  }

  size_t size() const { return out_.size(); }
  Buffer Take() && { return std::move(out_); }

 private:
  Buffer out_;
};

using WireWriter = BasicWireWriter<std::vector<std::byte>>;

class WireReader {
 public:
  explicit WireReader(ByteView in) : in_(in) {}
  explicit WireReader(std::string_view in) : in_(AsBytes(in)) {}

  template <typename T>
  bool Int(T& v) {
    static_assert(std::is_integral_v<T>);
    if (in_.size() < sizeof(T)) return false;
    v = LoadBigEndian<T>(in_.data());
    in_ = in_.subspan(sizeof(T));
    return true;
  }
  template <typename S>
  requires requires(S s) {
    typename S::rep_type;
    s.value();
  }
  bool Int(S& v) {
    typename S::rep_type raw;
    if (!Int(raw)) return false;
    v = S(raw);
    return true;
  }
  // 0 or 1; anything else is malformed.
  bool Bool(bool& v) {
    int8_t b;
    if (in_.empty()) return false;
    b = static_cast<int8_t>(in_[0]);
    if (b != 0 && b != 1) return false;
    in_ = in_.subspan(1);
    v = b == 1;
    return true;
  }
  bool UnsignedVarint(uint64_t& v) {
    auto d = DecodeUnsignedVarint(in_, record_format::kMaxVarlongBytes, 64);
    if (!d) return false;
    v = d->value;
    in_ = in_.subspan(d->size);
    return true;
  }
  // int16 length >= 0, then that many bytes.
  bool String(std::string& s) {
    const ByteView saved = in_;
    int16_t n;
    if (!Int(n) || n < 0 || !Take(static_cast<size_t>(n), s)) return Restore(saved);
    return true;
  }
  bool NullableString(std::optional<std::string>& s) {
    const ByteView saved = in_;
    int16_t n;
    if (!Int(n) || n < -1) return Restore(saved);
    if (n == -1) {
      s.reset();
      return true;
    }
    if (!Take(static_cast<size_t>(n), s.emplace())) return Restore(saved);
    return true;
  }
  // int32 length >= 0, then that many bytes, as a view into the input.
  bool Bytes(ByteView& b) {
    const ByteView saved = in_;
    int32_t n;
    if (!Int(n) || n < 0 || static_cast<size_t>(n) > in_.size()) return Restore(saved);
    b = in_.first(static_cast<size_t>(n));
    in_ = in_.subspan(static_cast<size_t>(n));
    return true;
  }
  bool NullableBytes(std::optional<std::string>& b) {
    const ByteView saved = in_;
    int32_t n;
    if (!Int(n) || n < -1) return Restore(saved);
    if (n == -1) {
      b.reset();
      return true;
    }
    if (!Take(static_cast<size_t>(n), b.emplace())) return Restore(saved);
    return true;
  }
  // An int32 count >= 0 of elements taking at least `min_element_bytes`
  // (>= 1) each, which the remaining input must be able to hold: a count is
  // safe to reserve() once this accepts it.
  bool Count(size_t min_element_bytes, size_t& n) {
    const ByteView saved = in_;
    int32_t count;
    if (!Int(count) || count < 0 ||
        static_cast<size_t>(count) > in_.size() / (min_element_bytes ? min_element_bytes : 1)) {
      return Restore(saved);
    }
    n = static_cast<size_t>(count);
    return true;
  }
  // A string with an unsigned-varint length.
  bool VarString(std::string& s) {
    const ByteView saved = in_;
    uint64_t n;
    if (!UnsignedVarint(n) || !Take(n, s)) return Restore(saved);
    return true;
  }
  // The next `n` bytes as a view into the input.
  bool Raw(size_t n, ByteView& b) {
    if (n > in_.size()) return false;
    b = in_.first(n);
    in_ = in_.subspan(n);
    return true;
  }

  size_t remaining() const { return in_.size(); }
  bool done() const { return in_.empty(); }
  // What is left, unread.
  ByteView rest() const { return in_; }

 private:
  bool Take(uint64_t n, std::string& s) {
    if (n > in_.size()) return false;
    s.assign(reinterpret_cast<const char*>(in_.data()), static_cast<size_t>(n));
    in_ = in_.subspan(static_cast<size_t>(n));
    return true;
  }
  bool Restore(ByteView saved) {
    in_ = saved;
    return false;
  }

  ByteView in_;
};

}  // namespace evlog::internal
