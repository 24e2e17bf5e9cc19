// libFuzzer target for the RecordBatch v2 decoder.
//
// Each input is tried twice: as given (almost always stopped by the CRC),
// and with its CRC recomputed so that mutations reach the record decoder,
// the zstd path and the header checks behind the CRC. Properties checked,
// beyond "no crash, no out-of-bounds read" (ASan/UBSan):
//   * every error is CORRUPT_MESSAGE (or UNSUPPORTED_COMPRESSION_TYPE for
//     gzip/snappy/lz4);
//   * Validate() succeeds exactly when iteration reads recordsCount records
//     without error;
//   * a valid batch re-encoded by RecordBatchBuilder reads back as the same
//     records.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "evlog/record/control_record.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"

namespace evlog {
namespace {

// Small enough to keep the fuzzer's memory flat, large enough for the seeds.
constexpr size_t kFuzzMaxDecompressedBytes = size_t{4} << 20;

void Require(bool condition, const char* what) {
  if (!condition) {
    fprintf(stderr, "fuzz property violated: %s\n", what);
    abort();
  }
}

void RequireDecodeError(const absl::Status& s) {
  Require(HasErrorCode(s, ErrorCode::kCorruptMessage) ||
              HasErrorCode(s, ErrorCode::kUnsupportedCompressionType),
          "decode error is CORRUPT_MESSAGE or UNSUPPORTED_COMPRESSION_TYPE");
}

struct Copied {
  int64_t offset;
  int64_t timestamp;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  bool operator==(const Copied&) const = default;
};

std::optional<std::string> Copy(const std::optional<ByteView>& b) {
  if (!b) return std::nullopt;
  return ToString(*b);
}

void Exercise(ByteView in) {
  RecordReadOptions options;
  options.max_decompressed_bytes = kFuzzMaxDecompressedBytes;

  auto size = PeekBatchSize(in);
  if (!size.ok()) RequireDecodeError(size.status());

  auto view = RecordBatchView::Parse(in);
  if (!view.ok()) {
    RequireDecodeError(view.status());
    return;
  }
  Require(size.ok() && *size == view->size_bytes(), "PeekBatchSize agrees with Parse");
  // Header accessors (UBSan watches the arithmetic).
  (void)view->last_offset();
  (void)view->last_sequence();
  (void)view->max_timestamp();
  (void)view->producer_id();
  (void)view->producer_epoch();
  (void)view->partition_leader_epoch();

  const absl::Status validated = view->Validate(options);
  if (!validated.ok()) RequireDecodeError(validated);

  auto it = view->Records(options);
  if (!it.ok()) {
    RequireDecodeError(it.status());
    Require(!validated.ok(), "Records fails only if Validate does");
    return;
  }
  std::vector<Copied> records;
  for (const RecordView& r : *it) {
    Copied c{r.offset.value(), r.timestamp_ms, Copy(r.key), Copy(r.value), {}};
    for (const RecordHeaderView& h : r.headers)
      c.headers.emplace_back(std::string(h.key), Copy(h.value));
    records.push_back(std::move(c));
    if (view->is_control()) {
      auto marker = ParseEndTransactionMarker(r);
      if (!marker.ok()) RequireDecodeError(marker.status());
    }
  }
  if (!it->status().ok()) RequireDecodeError(it->status());
  Require(it->status().ok() == validated.ok(), "Validate agrees with iteration");
  if (!validated.ok()) return;
  Require(records.size() == static_cast<size_t>(view->record_count()), "count matches");

  // Re-encode and compare.
  RecordBatchOptions out_options;
  out_options.base_offset = view->base_offset();
  out_options.is_control = view->is_control();
  out_options.compression = view->compression() == CompressionType::kZstd ? CompressionType::kZstd
                                                                          : CompressionType::kNone;
  out_options.compression_level = 1;
  if (view->timestamp_type() == TimestampType::kLogAppendTime) {
    out_options.log_append_time_ms = view->max_timestamp();
  }
  RecordBatchBuilder builder(out_options);
  for (const Copied& c : records) {
    std::vector<RecordHeader> headers;
    for (const auto& [k, v] : c.headers) {
      headers.push_back({k, v ? std::optional<ByteView>(AsBytes(*v)) : std::nullopt});
    }
    auto key = c.key ? std::optional<ByteView>(AsBytes(*c.key)) : std::nullopt;
    auto value = c.value ? std::optional<ByteView>(AsBytes(*c.value)) : std::nullopt;
    Require(builder.AppendWithOffset(Offset(c.offset), c.timestamp, key, value, headers).ok(),
            "re-encoding appends");
  }
  auto rebuilt = builder.Finish();
  Require(rebuilt.ok(), "re-encoding finishes");
  auto again = RecordBatchView::Parse(ByteView(*rebuilt));
  Require(again.ok(), "re-encoded batch parses");
  Require(again->Validate(options).ok(), "re-encoded batch validates");
  auto it2 = again->Records(options);
  Require(it2.ok(), "re-encoded batch iterates");
  size_t i = 0;
  for (const RecordView& r : *it2) {
    Copied c{r.offset.value(), r.timestamp_ms, Copy(r.key), Copy(r.value), {}};
    for (const RecordHeaderView& h : r.headers)
      c.headers.emplace_back(std::string(h.key), Copy(h.value));
    Require(i < records.size() && c == records[i], "re-encoded record matches");
    ++i;
  }
  Require(i == records.size(), "re-encoded batch has every record");
}

}  // namespace
}  // namespace evlog

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace evlog;
  const ByteView in(reinterpret_cast<const std::byte*>(data), size);
  Exercise(in);

  // Again with the CRC made right, so mutations get past it.
  auto total = PeekBatchSize(in);
  if (total.ok() && *total <= in.size()) {
    std::vector<std::byte> fixed(in.begin(), in.begin() + static_cast<ptrdiff_t>(*total));
    UpdateBatchCrc(MutableByteView(fixed));
    Exercise(ByteView(fixed));
  }
  return 0;
}
