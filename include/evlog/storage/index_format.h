// evlog/storage/index_format.h — the on-disk format of .index and .timeindex.
//
// Both files are Kafka's, byte for byte (docs/format/index_files.md has the
// grammar): a flat array of fixed-size, big-endian entries, no header, no
// checksum. Offsets are stored relative to the segment's base offset (the
// number in the file name), so they fit in 4 bytes.
//
//   .index      entry = relative_offset int32 | file_position int32   (8 bytes)
//   .timeindex  entry = timestamp_ms int64    | relative_offset int32 (12 bytes)
//
// This header holds the constants, the decoded entry types and the codecs
// ("traits") that SparseIndex<Traits> is instantiated with. Everything here
// is pure: no I/O, no shared state, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/types.h"

namespace evlog {

// ---------------------------------------------------------------------------
// Constants of the format.

// Size of one .index entry: relative offset (4) + file position (4).
inline constexpr size_t kOffsetIndexEntryBytes = 8;
// Size of one .timeindex entry: timestamp (8) + relative offset (4).
inline constexpr size_t kTimeIndexEntryBytes = 12;

static_assert(kOffsetIndexEntryBytes == sizeof(int32_t) + sizeof(int32_t));
static_assert(kTimeIndexEntryBytes == sizeof(int64_t) + sizeof(int32_t));

// Largest offset distance from the segment's base that an entry can hold
// (relative offsets are int32). A segment must roll before it is exceeded.
inline constexpr int64_t kMaxRelativeOffset = std::numeric_limits<int32_t>::max();
// Largest byte position in a .log that an entry can hold (Kafka stores it
// as an int32, which is why a segment stays below 2 GiB).
inline constexpr uint32_t kMaxIndexedFilePosition = std::numeric_limits<int32_t>::max();

// Kafka's defaults: an index entry about every 4 KiB of log
// (index.interval.bytes), and at most 10 MiB per index file
// (segment.index.bytes), i.e. 1,310,720 offset entries or 873,813 time
// entries, enough for a 1 GiB segment at the default interval.
inline constexpr uint32_t kDefaultIndexIntervalBytes = 4096;
inline constexpr uint32_t kDefaultMaxIndexBytes = 10 * 1024 * 1024;

static_assert(uint64_t{kDefaultMaxIndexBytes} / kOffsetIndexEntryBytes *
                      kDefaultIndexIntervalBytes >=
                  uint64_t{1} << 30,
              "the default offset index must cover a default (1 GiB) segment");

// Kafka's NO_TIMESTAMP: what a time-index lookup reports when no entry
// qualifies, and a timestamp that is never indexed.
inline constexpr int64_t kNoTimestamp = -1;

// ---------------------------------------------------------------------------
// Decoded entries.

// One .index entry: the batch containing `offset` starts at byte `position`
// of the segment's .log.
struct OffsetPosition {
  Offset offset;
  uint32_t position = 0;

  friend bool operator==(const OffsetPosition&, const OffsetPosition&) = default;
};

// One .timeindex entry: records with timestamps above `timestamp_ms` are at
// or after `offset` in the segment (the offset of the batch holding the
// segment's largest timestamp so far when the entry was written).
struct TimestampOffset {
  int64_t timestamp_ms = kNoTimestamp;
  Offset offset;

  friend bool operator==(const TimestampOffset&, const TimestampOffset&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const OffsetPosition& e) {
  return os << "{offset " << e.offset << ", position " << e.position << "}";
}
inline std::ostream& operator<<(std::ostream& os, const TimestampOffset& e) {
  return os << "{timestamp_ms " << e.timestamp_ms << ", offset " << e.offset << "}";
}

namespace internal {

// Big-endian stores and loads of the index fields. Named for the index
// codecs so they cannot collide with other layers' byte helpers.
inline void IndexStoreU32(std::byte* out, uint32_t v) {
  out[0] = static_cast<std::byte>(v >> 24);
  out[1] = static_cast<std::byte>(v >> 16);
  out[2] = static_cast<std::byte>(v >> 8);
  out[3] = static_cast<std::byte>(v);
}
inline void IndexStoreU64(std::byte* out, uint64_t v) {
  IndexStoreU32(out, static_cast<uint32_t>(v >> 32));
  IndexStoreU32(out + 4, static_cast<uint32_t>(v));
}
inline uint32_t IndexLoadU32(const std::byte* in) {
  return (std::to_integer<uint32_t>(in[0]) << 24) | (std::to_integer<uint32_t>(in[1]) << 16) |
         (std::to_integer<uint32_t>(in[2]) << 8) | std::to_integer<uint32_t>(in[3]);
}
inline uint64_t IndexLoadU64(const std::byte* in) {
  return (uint64_t{IndexLoadU32(in)} << 32) | IndexLoadU32(in + 4);
}

// The relative offset of `offset` in a segment based at `base`.
// REQUIRES: 0 <= offset - base <= kMaxRelativeOffset (checked by the index
// before encoding).
inline uint32_t IndexRelativeOffset(Offset offset, Offset base) {
  const int64_t relative = offset - base;
  EVLOG_DCHECK(relative >= 0);
  EVLOG_DCHECK(relative <= kMaxRelativeOffset);
  return static_cast<uint32_t>(relative);
}

// A stored relative offset back to an absolute one. A corrupt file may hold
// a negative relative offset; the result is then below `base`, which
// SparseIndex::CheckEntries reports.
inline Offset IndexAbsoluteOffset(uint32_t stored, Offset base) {
  return base + static_cast<int64_t>(static_cast<int32_t>(stored));
}

// Codec and ordering rules of the .index (see SparseIndexTraits in
// sparse_index.h for what each member means).
struct OffsetIndexTraits {
  using Entry = OffsetPosition;
  using Key = Offset;
  static constexpr size_t kEntryBytes = kOffsetIndexEntryBytes;
  static constexpr std::string_view kName = "offset index";

  static Key KeyOf(const Entry& e) { return e.offset; }
  static Offset OffsetOf(const Entry& e) { return e.offset; }

  static void Encode(const Entry& e, Offset base, std::byte* out) {
    IndexStoreU32(out, IndexRelativeOffset(e.offset, base));
    IndexStoreU32(out + 4, e.position);
  }
  static Entry Decode(const std::byte* in, Offset base) {
    return {IndexAbsoluteOffset(IndexLoadU32(in), base), IndexLoadU32(in + 4)};
  }

  // A problem with `e` on its own, or nullopt.
  static std::optional<std::string> EntryProblem(const Entry& e) {
    if (e.position > kMaxIndexedFilePosition) {
      return absl::StrCat("file position ", e.position, " does not fit in an int32");
    }
    return std::nullopt;
  }
  // A problem with `next` following `prev`, or nullopt: both the offset and
  // the position strictly increase.
  static std::optional<std::string> OrderProblem(const Entry& prev, const Entry& next) {
    if (!(next.offset > prev.offset)) {
      return absl::StrCat("offset ", next.offset.value(), " does not follow offset ",
                          prev.offset.value());
    }
    if (!(next.position > prev.position)) {
      return absl::StrCat("position ", next.position, " (offset ", next.offset.value(),
                          ") does not follow position ", prev.position);
    }
    return std::nullopt;
  }
};

// Codec and ordering rules of the .timeindex.
struct TimeIndexTraits {
  using Entry = TimestampOffset;
  using Key = int64_t;
  static constexpr size_t kEntryBytes = kTimeIndexEntryBytes;
  static constexpr std::string_view kName = "time index";

  static Key KeyOf(const Entry& e) { return e.timestamp_ms; }
  static Offset OffsetOf(const Entry& e) { return e.offset; }

  static void Encode(const Entry& e, Offset base, std::byte* out) {
    IndexStoreU64(out, static_cast<uint64_t>(e.timestamp_ms));
    IndexStoreU32(out + 8, IndexRelativeOffset(e.offset, base));
  }
  static Entry Decode(const std::byte* in, Offset base) {
    return {static_cast<int64_t>(IndexLoadU64(in)),
            IndexAbsoluteOffset(IndexLoadU32(in + 8), base)};
  }

  static std::optional<std::string> EntryProblem(const Entry& e) {
    if (e.timestamp_ms < 0) return absl::StrCat("negative timestamp ", e.timestamp_ms);
    return std::nullopt;
  }
  // Timestamps strictly increase (an entry is only written for a new
  // maximum timestamp); offsets never decrease.
  static std::optional<std::string> OrderProblem(const Entry& prev, const Entry& next) {
    if (!(next.timestamp_ms > prev.timestamp_ms)) {
      return absl::StrCat("timestamp ", next.timestamp_ms, " does not follow timestamp ",
                          prev.timestamp_ms);
    }
    if (next.offset < prev.offset) {
      return absl::StrCat("offset ", next.offset.value(), " (timestamp ", next.timestamp_ms,
                          ") is below the previous offset ", prev.offset.value());
    }
    return std::nullopt;
  }
};

}  // namespace internal
}  // namespace evlog
