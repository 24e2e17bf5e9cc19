// Helpers shared by the record-layer tests.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "evlog/record/crc32c.h"
#include "evlog/record/internal/big_endian.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "tests/support/catch.h"

namespace evlog::testing {

// A record as the tests keep it: owned bytes, nulls as std::nullopt.
struct OwnedHeader {
  std::string key;
  std::optional<std::string> value;
};
struct OwnedRecord {
  int64_t timestamp_ms = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<OwnedHeader> headers;
  friend bool operator==(const OwnedRecord&, const OwnedRecord&) = default;
};
inline bool operator==(const OwnedHeader& a, const OwnedHeader& b) {
  return a.key == b.key && a.value == b.value;
}

inline std::optional<ByteView> OptBytes(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return AsBytes(*s);
}
inline std::optional<std::string> OptString(const std::optional<ByteView>& b) {
  if (!b) return std::nullopt;
  return ToString(*b);
}

inline absl::Status AppendOwned(RecordBatchBuilder& builder, const OwnedRecord& r) {
  std::vector<RecordHeader> headers;
  for (const auto& h : r.headers) headers.push_back({h.key, OptBytes(h.value)});
  return builder.Append(r.timestamp_ms, OptBytes(r.key), OptBytes(r.value), headers);
}

inline OwnedRecord ToOwned(const RecordView& v) {
  OwnedRecord r;
  r.timestamp_ms = v.timestamp_ms;
  r.key = OptString(v.key);
  r.value = OptString(v.value);
  for (const RecordHeaderView& h : v.headers) {
    r.headers.push_back({std::string(h.key), OptString(h.value)});
  }
  return r;
}

inline std::string RandomString(std::mt19937_64& rng, size_t max_len) {
  std::string s(rng() % (max_len + 1), '\0');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

inline std::optional<std::string> RandomOptString(std::mt19937_64& rng, size_t max_len) {
  switch (rng() % 4) {
    case 0:
      return std::nullopt;
    case 1:
      return std::string();
    default:
      return RandomString(rng, max_len);
  }
}

inline std::vector<OwnedRecord> RandomRecords(std::mt19937_64& rng, size_t max_records) {
  std::vector<OwnedRecord> records(rng() % (max_records + 1));
  int64_t ts = static_cast<int64_t>(rng() % 2'000'000'000'000);
  for (auto& r : records) {
    ts += static_cast<int64_t>(rng() % 2000) - 500;
    r.timestamp_ms = ts;
    r.key = RandomOptString(rng, 16);
    r.value = RandomOptString(rng, 200);
    const size_t nh = rng() % 3;
    for (size_t i = 0; i < nh; ++i) {
      std::optional<std::string> hv = RandomOptString(rng, 8);
      r.headers.push_back({RandomString(rng, 6), hv});
    }
  }
  return records;
}

inline std::vector<std::byte> BuildBatch(const std::vector<OwnedRecord>& records,
                                         const RecordBatchOptions& options = {}) {
  RecordBatchBuilder builder(options);
  for (const auto& r : records) REQUIRE(AppendOwned(builder, r).ok());
  REQUIRE(builder.Finish().ok());
  return std::move(builder).Release();
}

inline std::vector<OwnedRecord> ReadAll(ByteView bytes, absl::Status* status = nullptr) {
  std::vector<OwnedRecord> out;
  auto batch = RecordBatchView::Parse(bytes);
  if (!batch.ok()) {
    if (status) *status = batch.status();
    return out;
  }
  auto it = batch->Records();
  if (!it.ok()) {
    if (status) *status = it.status();
    return out;
  }
  for (const RecordView& r : *it) out.push_back(ToOwned(r));
  if (status) *status = it->status();
  return out;
}

// Writes a batch header around an arbitrary records section, with a valid
// CRC, so tests can feed the record decoder malformed records.
inline std::vector<std::byte> RawBatch(const std::vector<std::byte>& section, int32_t count,
                                       int32_t last_offset_delta, uint16_t attributes = 0,
                                       int64_t base_offset = 0) {
  namespace F = record_format;
  std::vector<std::byte> b(F::kRecordBatchOverhead + section.size());
  std::byte* h = b.data();
  internal::StoreBigEndian<int64_t>(h + F::kBaseOffsetOffset, base_offset);
  internal::StoreBigEndian<int32_t>(h + F::kBatchLengthOffset,
                                    static_cast<int32_t>(b.size() - F::kLogOverhead));
  internal::StoreBigEndian<int32_t>(h + F::kPartitionLeaderEpochOffset, -1);
  internal::StoreBigEndian<int8_t>(h + F::kMagicOffset, F::kMagicV2);
  internal::StoreBigEndian<uint16_t>(h + F::kAttributesOffset, attributes);
  internal::StoreBigEndian<int32_t>(h + F::kLastOffsetDeltaOffset, last_offset_delta);
  internal::StoreBigEndian<int64_t>(h + F::kBaseTimestampOffset, 0);
  internal::StoreBigEndian<int64_t>(h + F::kMaxTimestampOffset, 0);
  internal::StoreBigEndian<int64_t>(h + F::kProducerIdOffset, -1);
  internal::StoreBigEndian<int16_t>(h + F::kProducerEpochOffset, -1);
  internal::StoreBigEndian<int32_t>(h + F::kBaseSequenceOffset, -1);
  internal::StoreBigEndian<int32_t>(h + F::kRecordsCountOffset, count);
  for (size_t i = 0; i < section.size(); ++i) b[F::kRecordBatchOverhead + i] = section[i];
  UpdateBatchCrc(MutableByteView(b));
  return b;
}

inline std::vector<std::byte> Hex(std::initializer_list<int> bytes) {
  std::vector<std::byte> out;
  for (int b : bytes) out.push_back(static_cast<std::byte>(b));
  return out;
}

}  // namespace evlog::testing
