#include "tests/support/batches.h"

#include <stdexcept>

#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"

namespace evlog::testing {

std::vector<std::byte> MakeBatch(const std::vector<std::string>& values, int64_t timestamp_ms) {
  RecordBatchBuilder builder;
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string key = "k" + std::to_string(i);
    absl::Status s =
        builder.Append(timestamp_ms + static_cast<int64_t>(i), AsBytes(key), AsBytes(values[i]));
    if (!s.ok()) throw std::runtime_error(std::string(s.message()));
  }
  absl::StatusOr<MutableByteView> done = builder.Finish();
  if (!done.ok()) throw std::runtime_error(std::string(done.status().message()));
  return std::move(builder).Release();
}

std::vector<std::byte> MakeSizedBatch(int count, size_t value_bytes, uint64_t seed,
                                      int64_t timestamp_ms) {
  std::vector<std::string> values;
  for (int i = 0; i < count; ++i) {
    std::string v(value_bytes, 'a');
    for (size_t j = 0; j < value_bytes; ++j) {
      v[j] = static_cast<char>('a' + (seed * 31 + static_cast<uint64_t>(i) * 7 + j) % 26);
    }
    values.push_back(std::move(v));
  }
  return MakeBatch(values, timestamp_ms);
}

std::vector<TestRecord> DecodeAll(ByteView batches) {
  std::vector<TestRecord> out;
  while (!batches.empty()) {
    absl::StatusOr<RecordBatchView> view = RecordBatchView::Parse(batches);
    if (!view.ok()) throw std::runtime_error(std::string(view.status().message()));
    absl::StatusOr<RecordIterator> records = view->Records();
    if (!records.ok()) throw std::runtime_error(std::string(records.status().message()));
    for (const RecordView& r : *records) {
      TestRecord t;
      t.offset = r.offset;
      t.timestamp_ms = r.timestamp_ms;
      if (r.key) t.key = ToString(*r.key);
      if (r.value) t.value = ToString(*r.value);
      out.push_back(std::move(t));
    }
    if (!records->status().ok()) {
      throw std::runtime_error(std::string(records->status().message()));
    }
    batches = batches.subspan(view->size_bytes());
  }
  return out;
}

}  // namespace evlog::testing
