#include "evlog/record/record_batch_builder.h"

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "evlog/record/record_batch.h"
#include "evlog/status.h"
#include "record_test_util.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using testing::BuildBatch;
using testing::Hex;
using testing::OwnedRecord;
using testing::ReadAll;

TEST_CASE("a small batch encodes to the hand-computed bytes") {
  // Two records, worked out by hand from the format (docs/format/record_batch.md):
  //   record 0: ts 1000, key "k", value "v", no headers
  //     body 00 | 00 | 00 | 02 6B | 02 76 | 00          = 8 bytes -> length 0x10
  //   record 1: ts 1001, key null, value "", header "h" -> null
  //     body 00 | 02 | 02 | 01 | 00 | 02 | 02 68 01     = 9 bytes -> length 0x12
  // batch: 61 + 19 = 80 bytes, batchLength 68 = 0x44. The CRC (0x13A44416)
  // was computed with an independent bit-at-a-time CRC-32C.
  const std::vector<std::byte> expected = Hex({
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // baseOffset 0
      0x00, 0x00, 0x00, 0x44,                          // batchLength 68
      0x00, 0x00, 0x00, 0x05,                          // partitionLeaderEpoch 5
      0x02,                                            // magic
      0x13, 0xA4, 0x44, 0x16,                          // crc
      0x00, 0x00,                                      // attributes
      0x00, 0x00, 0x00, 0x01,                          // lastOffsetDelta 1
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8,  // baseTimestamp 1000
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE9,  // maxTimestamp 1001
      0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // producerId -1
      0xFF, 0xFF,                                      // producerEpoch -1
      0xFF, 0xFF, 0xFF, 0xFF,                          // baseSequence -1
      0x00, 0x00, 0x00, 0x02,                          // recordsCount 2
      0x10, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x02, 0x76, 0x00, 0x12,
      0x00, 0x02, 0x02, 0x01, 0x00, 0x02, 0x02, 0x68, 0x01,
  });
  RecordBatchOptions options;
  options.partition_leader_epoch = LeaderEpoch(5);
  RecordBatchBuilder builder(options);
  REQUIRE(builder.Append(1000, AsBytes("k"), AsBytes("v")).ok());
  const RecordHeader header{"h", std::nullopt};
  REQUIRE(builder.Append(1001, std::nullopt, ByteView(), std::span(&header, 1)).ok());
  auto batch = builder.Finish();
  REQUIRE(batch.ok());
  CHECK(std::vector<std::byte>(batch->begin(), batch->end()) == expected);

  auto view = RecordBatchView::Parse(ByteView(expected));
  REQUIRE(view.ok());
  CHECK(view->size_bytes() == 80);
  CHECK(view->crc() == 0x13A44416u);
  CHECK(view->base_offset() == Offset(0));
  CHECK(view->last_offset() == Offset(1));
  CHECK(view->partition_leader_epoch() == LeaderEpoch(5));
  CHECK(view->record_count() == 2);
  CHECK(view->base_timestamp() == 1000);
  CHECK(view->max_timestamp() == 1001);
  CHECK(view->producer_id() == kNoProducerId);
  CHECK(view->producer_epoch() == kNoProducerEpoch);
  CHECK(view->base_sequence() == kNoSequence);
  CHECK(view->last_sequence() == kNoSequence);
  CHECK(view->compression() == CompressionType::kNone);
  CHECK(view->timestamp_type() == TimestampType::kCreateTime);
  CHECK_FALSE(view->is_transactional());
  CHECK_FALSE(view->is_control());
}

TEST_CASE("null and empty keys and values stay distinct through a round trip") {
  std::vector<OwnedRecord> records(4);
  records[0] = {1, std::nullopt, std::nullopt, {}};
  records[1] = {2, std::string(), std::string(), {}};
  records[2] = {3, std::nullopt, std::string("v"), {}};
  records[3] = {4, std::string("k"), std::nullopt, {{"a", std::nullopt}, {"b", std::string()}}};
  for (auto compression : {CompressionType::kNone, CompressionType::kZstd}) {
    RecordBatchOptions options;
    options.compression = compression;
    auto bytes = BuildBatch(records, options);
    absl::Status status;
    CHECK(ReadAll(ByteView(bytes), &status) == records);
    CHECK(status.ok());
  }
}

TEST_CASE("random batches round trip compressed and uncompressed") {
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 200; ++i) {
    auto records = testing::RandomRecords(rng, 40);
    RecordBatchOptions options;
    options.base_offset = Offset(static_cast<int64_t>(rng() % 1'000'000));
    options.compression = (i % 2) ? CompressionType::kZstd : CompressionType::kNone;
    options.compression_level = 1 + static_cast<int>(rng() % 5);
    auto bytes = BuildBatch(records, options);
    auto view = RecordBatchView::Parse(ByteView(bytes));
    REQUIRE(view.ok());
    CHECK(view->Validate().ok());
    CHECK(view->record_count() == static_cast<int32_t>(records.size()));
    CHECK(view->compression() == options.compression);
    absl::Status status;
    CHECK(ReadAll(ByteView(bytes), &status) == records);
    CHECK(status.ok());
    // Offsets are dense from base_offset.
    auto it = view->Records();
    REQUIRE(it.ok());
    Offset expected = options.base_offset;
    for (const RecordView& r : *it) {
      CHECK(r.offset == expected);
      ++expected;
    }
    if (!records.empty()) {
      CHECK(view->last_offset() == options.base_offset + static_cast<int64_t>(records.size() - 1));
      int64_t max_ts = records[0].timestamp_ms;
      for (const auto& r : records) max_ts = std::max(max_ts, r.timestamp_ms);
      CHECK(view->max_timestamp() == max_ts);
      CHECK(view->base_timestamp() == records[0].timestamp_ms);
    }
  }
}

TEST_CASE("many records and large values round trip") {
  std::vector<OwnedRecord> records;
  for (int i = 0; i < 5000; ++i) {
    records.push_back({1'700'000'000'000 + i,
                       "key-" + std::to_string(i),
                       std::string(static_cast<size_t>(i % 300), static_cast<char>('a' + i % 26)),
                       {}});
  }
  records.push_back({0, std::nullopt, std::string(300'000, 'x'), {}});
  for (auto compression : {CompressionType::kNone, CompressionType::kZstd}) {
    RecordBatchOptions options;
    options.compression = compression;
    auto bytes = BuildBatch(records, options);
    absl::Status status;
    CHECK(ReadAll(ByteView(bytes), &status) == records);
    CHECK(status.ok());
  }
}

TEST_CASE("extreme timestamps round trip through wrapping deltas") {
  std::vector<OwnedRecord> records{
      {std::numeric_limits<int64_t>::min(), std::nullopt, std::string("a"), {}},
      {std::numeric_limits<int64_t>::max(), std::nullopt, std::string("b"), {}},
      {-1, std::nullopt, std::string("c"), {}},
  };
  auto bytes = BuildBatch(records);
  absl::Status status;
  CHECK(ReadAll(ByteView(bytes), &status) == records);
  CHECK(status.ok());
}

TEST_CASE("producer fields and flags are written to the header") {
  RecordBatchOptions options;
  options.base_offset = Offset(100);
  options.producer_id = ProducerId(77);
  options.producer_epoch = ProducerEpoch(3);
  options.base_sequence = Sequence(std::numeric_limits<int32_t>::max() - 1);
  options.is_transactional = true;
  auto bytes = BuildBatch({{5, std::nullopt, std::string("x"), {}},
                           {6, std::nullopt, std::string("y"), {}},
                           {7, std::nullopt, std::string("z"), {}}},
                          options);
  auto view = RecordBatchView::Parse(ByteView(bytes));
  REQUIRE(view.ok());
  CHECK(view->producer_id() == ProducerId(77));
  CHECK(view->producer_epoch() == ProducerEpoch(3));
  CHECK(view->base_sequence() == Sequence(std::numeric_limits<int32_t>::max() - 1));
  // Sequences wrap at INT32_MAX to 0: MAX-1, MAX, 0.
  CHECK(view->last_sequence() == Sequence(0));
  CHECK(view->is_transactional());
  CHECK_FALSE(view->is_control());
  CHECK(view->last_offset() == Offset(102));
}

TEST_CASE("log append time marks the batch and every record reads it") {
  RecordBatchOptions options;
  options.log_append_time_ms = 99'000;
  auto bytes = BuildBatch(
      {{5, std::nullopt, std::string("x"), {}}, {6, std::nullopt, std::string("y"), {}}}, options);
  auto view = RecordBatchView::Parse(ByteView(bytes));
  REQUIRE(view.ok());
  CHECK(view->timestamp_type() == TimestampType::kLogAppendTime);
  CHECK(view->max_timestamp() == 99'000);
  auto it = view->Records();
  REQUIRE(it.ok());
  for (const RecordView& r : *it) CHECK(r.timestamp_ms == 99'000);
}

TEST_CASE("a builder writes into caller memory and reports when a record does not fit") {
  std::vector<std::byte> memory(200);
  RecordBatchBuilder builder(MutableByteView(memory), {});
  const std::string value(50, 'v');
  REQUIRE(builder.Append(1, std::nullopt, AsBytes(value)).ok());
  REQUIRE(builder.Append(2, std::nullopt, AsBytes(value)).ok());
  const size_t before = builder.size_bytes();
  absl::Status full = builder.Append(3, std::nullopt, AsBytes(value));
  CHECK(HasErrorCode(full, ErrorCode::kRecordListTooLarge));
  CHECK(builder.size_bytes() == before);
  CHECK(builder.record_count() == 2);
  auto batch = builder.Finish();
  REQUIRE(batch.ok());
  CHECK(batch->data() == memory.data());
  CHECK(batch->size() == before);
  absl::Status status;
  auto records = ReadAll(ByteView(*batch), &status);
  CHECK(status.ok());
  CHECK(records.size() == 2);
}

TEST_CASE("a caller buffer smaller than the header fails cleanly") {
  std::vector<std::byte> memory(10);
  RecordBatchBuilder builder(MutableByteView(memory), {});
  CHECK(
      HasErrorCode(builder.Append(1, std::nullopt, std::nullopt), ErrorCode::kRecordListTooLarge));
  CHECK(HasErrorCode(builder.Finish().status(), ErrorCode::kRecordListTooLarge));
}

TEST_CASE("compression into caller memory fails cleanly when the output does not fit") {
  // Random bytes do not compress; zstd's output is slightly larger.
  std::mt19937_64 rng(1);
  std::string noise(1000, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  RecordBatchOptions options;
  options.compression = CompressionType::kZstd;
  const size_t exact = record_format::kRecordBatchOverhead +
                       RecordBatchBuilder::EncodedRecordSize(0, 0, std::nullopt, AsBytes(noise));
  std::vector<std::byte> memory(exact);
  RecordBatchBuilder builder(MutableByteView(memory), options);
  REQUIRE(builder.Append(1, std::nullopt, AsBytes(noise)).ok());
  CHECK(HasErrorCode(builder.Finish().status(), ErrorCode::kRecordListTooLarge));
}

TEST_CASE("compressed batches are smaller for repetitive data") {
  std::vector<OwnedRecord> records;
  for (int i = 0; i < 100; ++i) {
    records.push_back(
        {i, std::string("user"), std::string(R"({"event":"click","page":"/home"})"), {}});
  }
  RecordBatchOptions zstd;
  zstd.compression = CompressionType::kZstd;
  auto plain = BuildBatch(records);
  auto packed = BuildBatch(records, zstd);
  CHECK(packed.size() * 4 < plain.size());
}

TEST_CASE("explicit offsets leave gaps as compaction does") {
  RecordBatchOptions options;
  options.base_offset = Offset(10);
  RecordBatchBuilder builder(options);
  REQUIRE(builder.AppendWithOffset(Offset(10), 1, std::nullopt, AsBytes("a")).ok());
  REQUIRE(builder.AppendWithOffset(Offset(13), 2, std::nullopt, AsBytes("b")).ok());
  CHECK(HasErrorCode(builder.AppendWithOffset(Offset(13), 3, std::nullopt, AsBytes("c")),
                     ErrorCode::kInvalidRecord));
  CHECK(HasErrorCode(builder.AppendWithOffset(Offset(9), 3, std::nullopt, AsBytes("c")),
                     ErrorCode::kInvalidRecord));
  REQUIRE(builder.AppendWithOffset(Offset(20), 3, std::nullopt, AsBytes("c")).ok());
  auto bytes = builder.Finish();
  REQUIRE(bytes.ok());
  auto view = RecordBatchView::Parse(ByteView(*bytes));
  REQUIRE(view.ok());
  CHECK(view->last_offset() == Offset(20));
  CHECK(view->record_count() == 3);
  auto it = view->Records();
  REQUIRE(it.ok());
  std::vector<int64_t> offsets;
  for (const RecordView& r : *it) offsets.push_back(r.offset.value());
  CHECK(it->status().ok());
  CHECK(offsets == std::vector<int64_t>{10, 13, 20});
}

TEST_CASE("an empty batch is a valid header-only batch") {
  RecordBatchBuilder builder;
  auto bytes = builder.Finish();
  REQUIRE(bytes.ok());
  CHECK(bytes->size() == record_format::kRecordBatchOverhead);
  auto view = RecordBatchView::Parse(ByteView(*bytes));
  REQUIRE(view.ok());
  CHECK(view->record_count() == 0);
  CHECK(view->Validate().ok());
}

TEST_CASE("encoded record size matches what append writes") {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 100; ++i) {
    auto records = testing::RandomRecords(rng, 1);
    if (records.empty()) continue;
    RecordBatchBuilder builder;
    REQUIRE(testing::AppendOwned(builder, records[0]).ok());
    std::vector<RecordHeader> headers;
    for (const auto& h : records[0].headers) headers.push_back({h.key, testing::OptBytes(h.value)});
    CHECK(builder.size_bytes() - record_format::kRecordBatchOverhead ==
          RecordBatchBuilder::EncodedRecordSize(0, 0, testing::OptBytes(records[0].key),
                                                testing::OptBytes(records[0].value), headers));
  }
}

TEST_CASE("encoded record size matches what append writes at every delta") {
  // Later records of a batch carry timestamp and offset deltas, some of
  // them large or negative: the size must follow their varints.
  std::mt19937_64 rng(11);
  const int64_t big_deltas[] = {
      0, 63, 64, -64, -65, 8191, 8192, int64_t{1} << 40, -(int64_t{1} << 40)};
  for (int i = 0; i < 50; ++i) {
    auto records = testing::RandomRecords(rng, 40);
    if (records.empty()) continue;
    RecordBatchBuilder builder;
    int64_t base = 0;
    for (size_t n = 0; n < records.size(); ++n) {
      testing::OwnedRecord& r = records[n];
      if (n == 0) {
        base = r.timestamp_ms;
      } else if (rng() % 4 == 0) {
        r.timestamp_ms = base + big_deltas[rng() % std::size(big_deltas)];
      }
      if (rng() % 2 == 0) r.headers.clear();  // the inline path
      std::vector<RecordHeader> headers;
      for (const auto& h : r.headers) headers.push_back({h.key, testing::OptBytes(h.value)});
      const size_t expected = RecordBatchBuilder::EncodedRecordSize(
          r.timestamp_ms - base, static_cast<int32_t>(n), testing::OptBytes(r.key),
          testing::OptBytes(r.value), headers);
      const size_t before = builder.size_bytes();
      REQUIRE(testing::AppendOwned(builder, r).ok());
      CHECK(builder.size_bytes() - before == expected);
    }
  }
}

}  // namespace
}  // namespace evlog
