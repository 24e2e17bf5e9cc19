// Record codec micro-benchmarks: batch encode and decode, CRC-32C, zstd.
//
//   build/<dir>/bench/evlog_record_bench --benchmark_filter=Crc
//
// Every benchmark reports bytes/s and items/s (records, or buffers for the
// CRC and memcpy rows) so rows compare directly.

#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "evlog/record/crc32c.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"

namespace evlog {
namespace {

std::string Payload(size_t bytes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(bytes, '\0');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

// A realistic JSON event: repetitive field names, varying values.
std::string JsonEvent(int i) {
  return R"({"event_id":"0f8fad5b-d9cb-469f-a165-)" + std::to_string(100000 + i) +
         R"(","type":"page_view","user_id":)" + std::to_string(10000 + i * 7 % 5000) +
         R"(,"session":"s-)" + std::to_string(i / 16) + R"(","ts":"2024-11-02T10:15:)" +
         std::to_string(10 + i % 50) + R"(Z","page":{"path":"/products/)" + std::to_string(i % 97) +
         R"(","referrer":"https://www.example.com/search?q=shoes"},"device":{"os":"iOS","version":"17.1","app":"shop/5.2.0"},"cart":{"items":)" +
         std::to_string(i % 5) + R"(,"value_cents":)" + std::to_string(i * 137 % 20000) + "}}";
}

// Args: records per batch, value bytes.
void BM_EncodeBatch(benchmark::State& state) {
  const auto records = static_cast<int>(state.range(0));
  const std::string value = Payload(static_cast<size_t>(state.range(1)), 1);
  const std::string key = "key-00000001";
  std::vector<std::byte> buffer(static_cast<size_t>(records) * (value.size() + 64) + 128);
  size_t batch_bytes = 0;
  for (auto _ : state) {
    RecordBatchBuilder builder(MutableByteView(buffer), {});
    for (int i = 0; i < records; ++i) {
      if (!builder.Append(1'700'000'000'000 + i, AsBytes(key), AsBytes(value)).ok()) {
        state.SkipWithError("append failed");
      }
    }
    auto batch = builder.Finish();
    batch_bytes = batch->size();
    benchmark::DoNotOptimize(batch->data());
  }
  state.SetItemsProcessed(state.iterations() * records);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(batch_bytes));
}
BENCHMARK(BM_EncodeBatch)->ArgsProduct({{1, 16, 256}, {100, 1024}});

// Parse (with CRC) + iterate every record, touching key and value sizes.
void BM_DecodeBatch(benchmark::State& state) {
  const auto records = static_cast<int>(state.range(0));
  const std::string value = Payload(static_cast<size_t>(state.range(1)), 2);
  RecordBatchBuilder builder;
  for (int i = 0; i < records; ++i) {
    (void)builder.Append(1'700'000'000'000 + i, AsBytes("key-00000001"), AsBytes(value));
  }
  (void)builder.Finish();
  const std::vector<std::byte> batch = std::move(builder).Release();
  for (auto _ : state) {
    auto view = RecordBatchView::Parse(ByteView(batch));
    auto it = view->Records();
    size_t sum = 0;
    for (const RecordView& r : *it) sum += r.value->size() + r.key->size();
    if (!it->status().ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * records);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(batch.size()));
}
BENCHMARK(BM_DecodeBatch)->ArgsProduct({{1, 16, 256}, {100, 1024}});

std::vector<std::byte> RandomBytes(size_t n) {
  std::mt19937_64 rng(3);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

void BM_Crc32cHardware(benchmark::State& state) {
  if (!internal::Crc32cHardwareAvailable()) {
    state.SkipWithError("no SSE4.2");
    return;
  }
  const auto data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(internal::Crc32cExtendHardware(0, ByteView(data)));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32cHardware)->Arg(100)->Arg(1024)->Arg(64 << 10)->Arg(1 << 20);

void BM_Crc32cTable(benchmark::State& state) {
  const auto data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(internal::Crc32cExtendPortable(0, ByteView(data)));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32cTable)->Arg(100)->Arg(1024)->Arg(64 << 10)->Arg(1 << 20);

// The floor any per-byte pass is measured against.
void BM_MemcpyBaseline(benchmark::State& state) {
  const auto data = RandomBytes(static_cast<size_t>(state.range(0)));
  std::vector<std::byte> out(data.size());
  for (auto _ : state) {
    std::memcpy(out.data(), data.data(), data.size());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_MemcpyBaseline)->Arg(100)->Arg(1024)->Arg(64 << 10)->Arg(1 << 20);

// 256 JSON events per batch; Arg: zstd level. Bytes are uncompressed input.
std::vector<std::string> JsonEvents() {
  std::vector<std::string> events;
  for (int i = 0; i < 256; ++i) events.push_back(JsonEvent(i));
  return events;
}

std::vector<std::byte> BuildJsonBatch(const std::vector<std::string>& events,
                                      CompressionType compression, int level) {
  RecordBatchOptions options;
  options.compression = compression;
  options.compression_level = level;
  RecordBatchBuilder builder(options, 128 << 10);
  for (size_t i = 0; i < events.size(); ++i) {
    (void)builder.Append(1'700'000'000'000 + static_cast<int64_t>(i), std::nullopt,
                         AsBytes(events[i]));
  }
  (void)builder.Finish();
  return std::move(builder).Release();
}

void BM_ZstdCompressJson(benchmark::State& state) {
  const auto events = JsonEvents();
  const size_t raw = BuildJsonBatch(events, CompressionType::kNone, 0).size();
  size_t compressed = 0;
  for (auto _ : state) {
    auto batch = BuildJsonBatch(events, CompressionType::kZstd, static_cast<int>(state.range(0)));
    compressed = batch.size();
    benchmark::DoNotOptimize(batch.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(events.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(raw));
  state.counters["ratio"] = static_cast<double>(raw) / static_cast<double>(compressed);
}
BENCHMARK(BM_ZstdCompressJson)->Arg(1)->Arg(3);

void BM_ZstdDecompressJson(benchmark::State& state) {
  const auto events = JsonEvents();
  const size_t raw = BuildJsonBatch(events, CompressionType::kNone, 0).size();
  const auto batch =
      BuildJsonBatch(events, CompressionType::kZstd, static_cast<int>(state.range(0)));
  std::vector<std::byte> buffer;
  for (auto _ : state) {
    auto view = RecordBatchView::Parse(ByteView(batch));
    auto it = view->Records({}, &buffer);
    size_t sum = 0;
    for (const RecordView& r : *it) sum += r.value->size();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(events.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(raw));
  state.counters["ratio"] = static_cast<double>(raw) / static_cast<double>(batch.size());
}
BENCHMARK(BM_ZstdDecompressJson)->Arg(1)->Arg(3);

}  // namespace
}  // namespace evlog
