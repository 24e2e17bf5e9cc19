#include "evlog/record/record_batch.h"

#include <random>
#include <string>
#include <vector>

#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"
#include "record_test_util.h"
#include "src/record/zstd_codec.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

namespace F = record_format;
using testing::BuildBatch;
using testing::Hex;
using testing::RawBatch;

// Record: key "k", value "v", offsetDelta 0 (see the builder test).
const std::vector<std::byte> kRecord0 = Hex({0x10, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x02, 0x76, 0x00});
// The same with offsetDelta 1.
const std::vector<std::byte> kRecord1 = Hex({0x10, 0x00, 0x00, 0x02, 0x02, 0x6B, 0x02, 0x76, 0x00});

std::vector<std::byte> Concat(std::initializer_list<std::vector<std::byte>> parts) {
  std::vector<std::byte> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<std::byte> Zstd(const std::vector<std::byte>& raw) {
  std::vector<std::byte> out(internal::ZstdCompressBound(raw.size()));
  auto n = internal::ZstdCompress(ByteView(raw), MutableByteView(out), 1);
  REQUIRE(n.ok());
  out.resize(*n);
  return out;
}

constexpr uint16_t kZstdAttr = static_cast<uint16_t>(CompressionType::kZstd);

// Parse + Validate; the first error, or OK.
absl::Status ParseAndValidate(ByteView bytes, const RecordReadOptions& options = {}) {
  auto view = RecordBatchView::Parse(bytes);
  if (!view.ok()) return view.status();
  return view->Validate(options);
}

bool IsCorrupt(const absl::Status& s) { return HasErrorCode(s, ErrorCode::kCorruptMessage); }

TEST_CASE("the raw batch helper makes valid batches") {
  auto b = RawBatch(Concat({kRecord0, kRecord1}), 2, 1);
  CHECK(ParseAndValidate(ByteView(b)).ok());
  auto z = RawBatch(Zstd(Concat({kRecord0, kRecord1})), 2, 1, kZstdAttr);
  CHECK(ParseAndValidate(ByteView(z)).ok());
}

TEST_CASE("parse ignores bytes after the batch and reports its size") {
  auto b = RawBatch(kRecord0, 1, 0);
  const size_t size = b.size();
  b.resize(size + 100, std::byte{0x5A});
  auto view = RecordBatchView::Parse(ByteView(b));
  REQUIRE(view.ok());
  CHECK(view->size_bytes() == size);
  CHECK(view->Validate().ok());
}

TEST_CASE("a bad CRC is corrupt") {
  auto b = RawBatch(kRecord0, 1, 0);
  b[F::kRecordsOffset + 5] ^= std::byte{0x01};
  CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(b)).status()));
  auto c = RawBatch(kRecord0, 1, 0);
  c[F::kCrcOffset] ^= std::byte{0x80};
  CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(c)).status()));
}

TEST_CASE("CrcCheck::kSkip parses a batch with a bad CRC but still checks its framing") {
  auto b = RawBatch(kRecord0, 1, 0);
  b[F::kCrcOffset] ^= std::byte{0x80};
  auto view = RecordBatchView::Parse(ByteView(b), CrcCheck::kSkip);
  REQUIRE(view.ok());
  CHECK(view->Validate().ok());
  CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(b), CrcCheck::kCheck).status()));
  for (size_t n = 0; n < b.size(); ++n) {
    CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(b).first(n), CrcCheck::kSkip).status()));
  }
  auto magic = b;
  magic[F::kMagicOffset] = std::byte{1};
  CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(magic), CrcCheck::kSkip).status()));
  auto count = b;
  internal::StoreBigEndian<int32_t>(count.data() + F::kRecordsCountOffset, 1000);
  CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(count), CrcCheck::kSkip).status()));
}

TEST_CASE("short input, bad lengths and bad magic are corrupt") {
  auto b = RawBatch(kRecord0, 1, 0);
  for (size_t n = 0; n < b.size(); ++n) {
    CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(b).first(n)).status()));
  }
  auto small = b;
  internal::StoreBigEndian<int32_t>(small.data() + F::kBatchLengthOffset, 48);
  CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(small)).status()));
  auto negative = b;
  internal::StoreBigEndian<int32_t>(negative.data() + F::kBatchLengthOffset, -5);
  CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(negative)).status()));
  auto past = b;
  internal::StoreBigEndian<int32_t>(past.data() + F::kBatchLengthOffset,
                                    static_cast<int32_t>(b.size()));
  CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(past)).status()));
  auto huge = b;
  internal::StoreBigEndian<int32_t>(huge.data() + F::kBatchLengthOffset, INT32_MAX);
  CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(huge)).status()));
  auto magic = b;
  magic[F::kMagicOffset] = std::byte{1};
  CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(magic)).status()));
}

TEST_CASE("negative or impossible record counts are corrupt") {
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(kRecord0, -1, 0)))));
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(kRecord0, INT32_MIN, 0)))));
  // More records than bytes could hold.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(kRecord0, 1000, 999)))));
  // lastOffsetDelta below count - 1, and negative.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(Concat({kRecord0, kRecord1}), 2, 0)))));
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(kRecord0, 1, -1)))));
  // Compressed: the count is only checkable while iterating.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(Zstd(kRecord0), 1000, 999, kZstdAttr)))));
}

TEST_CASE("a record count that does not match the records is corrupt") {
  // Fewer records than counted (the section has room for the count).
  auto padded = Hex({0x1E, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x10});
  padded.resize(padded.size() + 8, std::byte{0x61});
  padded.push_back(std::byte{0x00});
  REQUIRE(ParseAndValidate(ByteView(RawBatch(padded, 1, 0))).ok());
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(padded, 2, 1)))));
  // More records than counted: trailing bytes in the records section.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(Concat({kRecord0, kRecord1}), 1, 1)))));
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(Concat({kRecord0, Hex({0x00})}), 1, 0)))));
  CHECK(IsCorrupt(
      ParseAndValidate(ByteView(RawBatch(Zstd(Concat({kRecord0, kRecord1})), 1, 1, kZstdAttr)))));
  // Zero records but bytes present.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(kRecord0, 0, 0)))));
}

TEST_CASE("bad record lengths are corrupt") {
  // Length past the end of the section.
  CHECK(IsCorrupt(ParseAndValidate(
      ByteView(RawBatch(Hex({0x7E, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x02, 0x76, 0x00}), 1, 0)))));
  // Negative length.
  CHECK(IsCorrupt(ParseAndValidate(
      ByteView(RawBatch(Hex({0x01, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x02, 0x76, 0x00}), 1, 0)))));
  // Length shorter than the record's fields (fields run past the length).
  CHECK(IsCorrupt(ParseAndValidate(
      ByteView(RawBatch(Hex({0x0E, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x02, 0x76, 0x00}), 1, 0)))));
  // Length longer than the fields: bytes left over inside the record.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(
      RawBatch(Hex({0x12, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x02, 0x76, 0x00, 0x00}), 1, 0)))));
  // Too small to be a record at all.
  CHECK(IsCorrupt(ParseAndValidate(
      ByteView(RawBatch(Hex({0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}), 1, 0)))));
}

TEST_CASE("bad key and value lengths are corrupt") {
  // key length -2
  CHECK(IsCorrupt(ParseAndValidate(
      ByteView(RawBatch(Hex({0x10, 0x00, 0x00, 0x00, 0x03, 0x6B, 0x02, 0x76, 0x00}), 1, 0)))));
  // key length 10 inside an 8-byte record
  CHECK(IsCorrupt(ParseAndValidate(
      ByteView(RawBatch(Hex({0x10, 0x00, 0x00, 0x00, 0x14, 0x6B, 0x02, 0x76, 0x00}), 1, 0)))));
  // value length -3
  CHECK(IsCorrupt(ParseAndValidate(
      ByteView(RawBatch(Hex({0x10, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x05, 0x76, 0x00}), 1, 0)))));
  // value length 2 with one byte left
  CHECK(IsCorrupt(ParseAndValidate(
      ByteView(RawBatch(Hex({0x10, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x04, 0x76, 0x00}), 1, 0)))));
}

TEST_CASE("bad headers are corrupt") {
  // Valid: one header "h" -> null.
  auto ok = Hex({0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x02, 0x68, 0x01});
  ok[0] = std::byte{0x12};
  REQUIRE(ParseAndValidate(ByteView(RawBatch(ok, 1, 0))).ok());
  // Negative header count.
  CHECK(IsCorrupt(
      ParseAndValidate(ByteView(RawBatch(Hex({0x0C, 0x00, 0x00, 0x00, 0x01, 0x01, 0x03}), 1, 0)))));
  // Header count 1 with no header bytes.
  CHECK(IsCorrupt(
      ParseAndValidate(ByteView(RawBatch(Hex({0x0C, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02}), 1, 0)))));
  // Null header key.
  CHECK(IsCorrupt(ParseAndValidate(
      ByteView(RawBatch(Hex({0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x01, 0x01}), 1, 0)))));
  // Header value length past the record.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(
      RawBatch(Hex({0x12, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x02, 0x68, 0x08}), 1, 0)))));
  // Truncated: second header announced but missing.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(
      RawBatch(Hex({0x12, 0x00, 0x00, 0x00, 0x01, 0x01, 0x04, 0x02, 0x68, 0x01}), 1, 0)))));
  // Header count absurdly large.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(
      RawBatch(Hex({0x14, 0x00, 0x00, 0x00, 0x01, 0x01, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F}), 1, 0)))));
}

TEST_CASE("offset deltas out of order or past lastOffsetDelta are corrupt") {
  // Two records with offsetDelta 0.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(Concat({kRecord0, kRecord0}), 2, 1)))));
  // Descending.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(Concat({kRecord1, kRecord0}), 2, 1)))));
  // offsetDelta 1 while lastOffsetDelta is 0.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(kRecord1, 1, 0)))));
  // Negative offsetDelta.
  CHECK(IsCorrupt(ParseAndValidate(
      ByteView(RawBatch(Hex({0x10, 0x00, 0x00, 0x01, 0x02, 0x6B, 0x02, 0x76, 0x00}), 1, 0)))));
  // A gap (compaction) is fine.
  CHECK(ParseAndValidate(ByteView(RawBatch(Concat({kRecord0, kRecord1}), 2, 5))).ok());
}

TEST_CASE("overflowing varints in a record are corrupt") {
  // Record length as a 6-byte varint.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(
      Hex({0x90, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x02, 0x76, 0x00}), 1,
      0)))));
  // timestampDelta as an 11-byte varlong.
  auto ts = Hex({0x2A, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                 0x80, 0x00, 0x00, 0x02, 0x6B, 0x02, 0x76, 0x00, 0x00, 0x00, 0x00});
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(ts, 1, 0)))));
  // Truncated varint at the end of the section.
  CHECK(IsCorrupt(
      ParseAndValidate(ByteView(RawBatch(Hex({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}), 1, 0)))));
}

TEST_CASE("unknown and unsupported compression codecs are rejected") {
  for (uint16_t codec : {5, 6, 7}) {
    CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(RawBatch(kRecord0, 1, 0, codec))).status()));
  }
  for (uint16_t codec : {1, 2, 3}) {
    auto b = RawBatch(kRecord0, 1, 0, codec);
    auto view = RecordBatchView::Parse(ByteView(b));
    REQUIRE(view.ok());
    CHECK(HasErrorCode(view->Validate(), ErrorCode::kUnsupportedCompressionType));
  }
}

TEST_CASE("bad zstd data is corrupt") {
  auto frame = Zstd(Concat({kRecord0, kRecord1}));
  // Not zstd at all.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(kRecord0, 1, 0, kZstdAttr)))));
  // Truncated frame.
  for (size_t cut = 1; cut < frame.size(); ++cut) {
    std::vector<std::byte> part(frame.begin(), frame.begin() + static_cast<ptrdiff_t>(cut));
    CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(part, 2, 1, kZstdAttr)))));
  }
  // Trailing garbage after the frame.
  auto trailing = frame;
  trailing.push_back(std::byte{0x42});
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(trailing, 2, 1, kZstdAttr)))));
  // Flipped byte inside the frame (the batch CRC is recomputed to reach zstd).
  auto flipped = frame;
  flipped[frame.size() / 2] ^= std::byte{0x20};
  absl::Status s = ParseAndValidate(ByteView(RawBatch(flipped, 2, 1, kZstdAttr)));
  CHECK_FALSE(s.ok());
  CHECK(IsCorrupt(s));
}

TEST_CASE("a decompression bomb is rejected") {
  std::vector<std::byte> zeros(2 << 20, std::byte{0});
  auto frame = Zstd(zeros);
  CHECK(frame.size() < 1000);
  RecordReadOptions small;
  small.max_decompressed_bytes = 1 << 20;
  // The frame declares its size: rejected before inflating.
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(frame, 1, 0, kZstdAttr)), small)));
  // A small first frame hides the size of the second: caught while inflating.
  auto two = Concat({Zstd(Hex({0x01, 0x02})), frame});
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(two, 1, 0, kZstdAttr)), small)));
  // The default cap (64 MiB).
  std::vector<std::byte> big(kDefaultMaxDecompressedBytes + 1, std::byte{0});
  auto big_frame = Zstd(big);
  auto concat = Concat({Zstd(Hex({0x01})), big_frame});
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(big_frame, 1, 0, kZstdAttr)))));
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(concat, 1, 0, kZstdAttr)))));
  // Exactly at the cap is allowed through to record decoding.
  RecordReadOptions exact;
  exact.max_decompressed_bytes = kRecord0.size();
  CHECK(ParseAndValidate(ByteView(RawBatch(Zstd(kRecord0), 1, 0, kZstdAttr)), exact).ok());
  exact.max_decompressed_bytes = kRecord0.size() - 1;
  CHECK(IsCorrupt(ParseAndValidate(ByteView(RawBatch(Zstd(kRecord0), 1, 0, kZstdAttr)), exact)));
}

TEST_CASE("a base offset that overflows with lastOffsetDelta is corrupt") {
  auto b = RawBatch(Concat({kRecord0, kRecord1}), 2, 1, 0, INT64_MAX);
  CHECK(IsCorrupt(RecordBatchView::Parse(ByteView(b)).status()));
  auto ok = RawBatch(kRecord0, 1, 0, 0, INT64_MAX);
  CHECK(ParseAndValidate(ByteView(ok)).ok());
}

TEST_CASE("a caller-supplied decompression buffer holds the records") {
  RecordBatchOptions options;
  options.compression = CompressionType::kZstd;
  auto bytes = BuildBatch({{1, std::string("k1"), std::string("v1"), {}},
                           {2, std::string("k2"), std::string("v2"), {}}},
                          options);
  auto view = RecordBatchView::Parse(ByteView(bytes));
  REQUIRE(view.ok());
  std::vector<std::byte> buffer;
  auto it = view->Records({}, &buffer);
  REQUIRE(it.ok());
  REQUIRE(it->Valid());
  const std::byte* value = it->record().value->data();
  CHECK(value >= buffer.data());
  CHECK(value < buffer.data() + buffer.size());
  CHECK(ToString(*it->record().value) == "v1");
  it->Next();
  REQUIRE(it->Valid());
  CHECK(ToString(*it->record().key) == "k2");
  it->Next();
  CHECK_FALSE(it->Valid());
  CHECK(it->status().ok());
}

TEST_CASE("uncompressed records are views into the batch") {
  auto bytes = BuildBatch({{1, std::string("k1"), std::string("v1"), {}}});
  auto view = RecordBatchView::Parse(ByteView(bytes));
  REQUIRE(view.ok());
  auto it = view->Records();
  REQUIRE(it.ok());
  REQUIRE(it->Valid());
  const std::byte* value = it->record().value->data();
  CHECK(value > bytes.data());
  CHECK(value < bytes.data() + bytes.size());
}

TEST_CASE("peek batch size reads the length prefix") {
  auto b = BuildBatch({{1, std::nullopt, std::string("x"), {}}});
  auto size = PeekBatchSize(ByteView(b).first(12));
  REQUIRE(size.ok());
  CHECK(*size == b.size());
  CHECK(*PeekBatchSize(ByteView(b)) == b.size());
  CHECK(IsCorrupt(PeekBatchSize(ByteView(b).first(11)).status()));
  CHECK(IsCorrupt(PeekBatchSize(ByteView(b), b.size() - 1).status()));
  auto bad = b;
  internal::StoreBigEndian<int32_t>(bad.data() + F::kBatchLengthOffset, 48);
  CHECK(IsCorrupt(PeekBatchSize(ByteView(bad)).status()));
  internal::StoreBigEndian<int32_t>(bad.data() + F::kBatchLengthOffset, -1);
  CHECK(IsCorrupt(PeekBatchSize(ByteView(bad)).status()));
  auto magic = b;
  magic[F::kMagicOffset] = std::byte{0};
  CHECK(IsCorrupt(PeekBatchSize(ByteView(magic)).status()));
  CHECK(PeekBatchSize(ByteView(magic).first(16)).ok());  // magic not reached
}

TEST_CASE("stepping through concatenated batches with peek and parse") {
  std::vector<std::byte> file;
  for (int i = 0; i < 5; ++i) {
    auto b = BuildBatch({{i, std::nullopt, std::string(static_cast<size_t>(i * 10), 'x'), {}}});
    SetBaseOffset(MutableByteView(b), Offset(i));
    file.insert(file.end(), b.begin(), b.end());
  }
  size_t pos = 0;
  int n = 0;
  while (pos < file.size()) {
    auto size = PeekBatchSize(ByteView(file).subspan(pos));
    REQUIRE(size.ok());
    auto view = RecordBatchView::Parse(ByteView(file).subspan(pos));
    REQUIRE(view.ok());
    CHECK(view->size_bytes() == *size);
    CHECK(view->base_offset() == Offset(n));
    pos += *size;
    ++n;
  }
  CHECK(n == 5);
}

TEST_CASE("set base offset and leader epoch keep the batch valid") {
  for (auto compression : {CompressionType::kNone, CompressionType::kZstd}) {
    RecordBatchOptions options;
    options.compression = compression;
    auto b = BuildBatch(
        {{1, std::nullopt, std::string("a"), {}}, {2, std::nullopt, std::string("b"), {}}},
        options);
    SetBaseOffset(MutableByteView(b), Offset(1000));
    SetPartitionLeaderEpoch(MutableByteView(b), LeaderEpoch(7));
    auto view = RecordBatchView::Parse(ByteView(b));
    REQUIRE(view.ok());
    CHECK(view->Validate().ok());
    CHECK(view->base_offset() == Offset(1000));
    CHECK(view->last_offset() == Offset(1001));
    CHECK(view->partition_leader_epoch() == LeaderEpoch(7));
    auto it = view->Records();
    REQUIRE(it.ok());
    REQUIRE(it->Valid());
    CHECK(it->record().offset == Offset(1000));
  }
}

TEST_CASE("set log append time rewrites the timestamps and the CRC") {
  auto b = BuildBatch(
      {{1, std::nullopt, std::string("a"), {}}, {2, std::nullopt, std::string("b"), {}}});
  const auto old_crc = RecordBatchView::Parse(ByteView(b))->crc();
  SetLogAppendTime(MutableByteView(b), 5555);
  auto view = RecordBatchView::Parse(ByteView(b));
  REQUIRE(view.ok());
  CHECK(view->crc() != old_crc);
  CHECK(view->Validate().ok());
  CHECK(view->timestamp_type() == TimestampType::kLogAppendTime);
  CHECK(view->max_timestamp() == 5555);
  auto it = view->Records();
  REQUIRE(it.ok());
  int n = 0;
  for (const RecordView& r : *it) {
    CHECK(r.timestamp_ms == 5555);
    ++n;
  }
  CHECK(n == 2);
}

TEST_CASE("random single byte corruption is caught unless it hits the unchecked fields") {
  std::mt19937_64 rng(424242);
  int caught = 0;
  int passed = 0;
  for (int batch_index = 0; batch_index < 60; ++batch_index) {
    RecordBatchOptions options;
    options.compression = (batch_index % 3 == 0) ? CompressionType::kZstd : CompressionType::kNone;
    options.is_transactional = batch_index % 5 == 0;
    options.base_offset = Offset(static_cast<int64_t>(rng() % 1'000'000));
    const auto bytes = BuildBatch(testing::RandomRecords(rng, 20), options);
    for (int flip = 0; flip < 60; ++flip) {
      auto copy = bytes;
      const size_t pos = rng() % copy.size();
      const auto mask = static_cast<std::byte>(1 + rng() % 255);
      copy[pos] ^= mask;
      absl::Status s = ParseAndValidate(ByteView(copy));
      const bool unchecked = pos < F::kBatchLengthOffset ||
                             (pos >= F::kPartitionLeaderEpochOffset && pos < F::kMagicOffset);
      INFO("batch " << batch_index << " pos " << pos << " mask " << static_cast<int>(mask)
                    << " status " << s.ToString());
      if (s.ok()) {
        CHECK(unchecked);
        ++passed;
      } else {
        CHECK(IsCorrupt(s));
        ++caught;
      }
      if (!unchecked) CHECK_FALSE(s.ok());
    }
  }
  CHECK(caught > 0);
  CHECK(passed >= 0);
}

}  // namespace
}  // namespace evlog
