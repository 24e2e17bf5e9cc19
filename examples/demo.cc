// evlog_demo — a durable, Kafka-format event log inside your process.
//
// Appends a stream of order events to a SegmentedLog on disk, reads them back
// by offset and by time, closes the log and reopens it (no scan after a clean
// shutdown), then shows what a crash leaves: a torn batch at the tail is cut
// off on the next open, and appends go on at the right offset.
//
//   ./scripts/demo.sh                  # builds the release preset and runs this
//   build/release/examples/evlog_demo [data-dir]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "evlog/evlog.h"

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One batch of `count` JSON order events, as a producer would encode it.
std::vector<std::byte> OrderBatch(int first_order, int count, int64_t timestamp_ms) {
  evlog::RecordBatchBuilder builder;
  for (int i = first_order; i < first_order + count; ++i) {
    const std::string key = "customer-" + std::to_string(i % 97);
    const std::string value = "{\"order\":" + std::to_string(i) + ",\"sku\":\"SKU-" +
                              std::to_string(i % 1000) + "\",\"qty\":" + std::to_string(1 + i % 5) +
                              "}";
    if (!builder.Append(timestamp_ms, evlog::AsBytes(key), evlog::AsBytes(value)).ok()) {
      std::abort();
    }
  }
  if (!builder.Finish().ok()) std::abort();
  return std::move(builder).Release();
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "evlog-demo-data/orders-0";
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  std::printf("evlog %s demo: a partition log in %s\n\n", evlog::kVersionString, dir.c_str());

  evlog::PosixFileSystem& fs = evlog::PosixFileSystem::Default();
  evlog::SystemClock& clock = evlog::SystemClock::Default();
  evlog::LogConfig config;
  config.segment_bytes = 8 << 20;  // small segments, to show rolling

  constexpr int kBatches = 2000;
  constexpr int kPerBatch = 256;
  int64_t middle_time_ms = 0;
  {
    auto log = evlog::SegmentedLog<>::Open(fs, clock, dir, config);
    if (!log.ok()) return Fail(log.status());

    const auto start = Clock::now();
    for (int b = 0; b < kBatches; ++b) {
      const int64_t now = clock.WallMs();
      if (b == kBatches / 2) middle_time_ms = now;
      std::vector<std::byte> batch = OrderBatch(b * kPerBatch, kPerBatch, now);
      absl::StatusOr<evlog::AppendResult> appended = (*log)->Append(batch);
      if (!appended.ok()) return Fail(appended.status());
    }
    const double seconds = SecondsSince(start);
    const double records = double{kBatches} * kPerBatch;
    std::printf("appended %.0f records in %.3f s (%.2f M records/s, encode + append, no fsync)\n",
                records, seconds, records / seconds / 1e6);
    std::printf("  log end offset %lld, %zu segments, %.1f MiB\n",
                static_cast<long long>((*log)->log_end_offset().value()), (*log)->segment_count(),
                static_cast<double>((*log)->size_bytes()) / (1 << 20));

    // Read everything back, batch by batch, as a consumer would.
    std::vector<std::byte> buffer;
    evlog::Offset next{0};
    int64_t read = 0;
    const auto read_start = Clock::now();
    while (next < (*log)->log_end_offset()) {
      absl::StatusOr<evlog::LogReadResult> result = (*log)->Read(next, buffer);
      if (!result.ok()) return Fail(result.status());
      evlog::ByteView rest = result->batches;
      while (!rest.empty()) {
        absl::StatusOr<evlog::RecordBatchView> batch = evlog::RecordBatchView::Parse(rest);
        if (!batch.ok()) return Fail(batch.status());
        read += batch->record_count();
        rest = rest.subspan(batch->size_bytes());
      }
      next = result->next_offset;
    }
    std::printf("read back %lld records in %.3f s (CRC-checked)\n", static_cast<long long>(read),
                SecondsSince(read_start));

    absl::StatusOr<std::optional<evlog::TimestampAndOffset>> at =
        (*log)->OffsetForTimestamp(middle_time_ms);
    if (!at.ok()) return Fail(at.status());
    if (*at) {
      std::printf("first record at or after the middle of the run: offset %lld\n",
                  static_cast<long long>((*at)->offset.value()));
    }
    if (absl::Status s = (*log)->Close(); !s.ok()) return Fail(s);
  }

  // A clean close records the log end: the reopen reads no segment.
  std::string active_segment;
  {
    const auto start = Clock::now();
    auto log = evlog::SegmentedLog<>::Open(fs, clock, dir, config);
    if (!log.ok()) return Fail(log.status());
    std::printf("\nreopened after a clean close in %.2f ms, log end offset %lld\n",
                SecondsSince(start) * 1e3,
                static_cast<long long>((*log)->log_end_offset().value()));
    std::vector<std::byte> batch = OrderBatch(0, 1, clock.WallMs());
    if (!(*log)->Append(batch).ok()) return 1;
    std::vector<evlog::Offset> bases = (*log)->segment_base_offsets();
    active_segment = evlog::JoinPath(dir, evlog::internal::SegmentFileName(bases.back(), ".log"));
  }
  // What a crash in the middle of that last write leaves: half a batch. The
  // file no longer matches the clean-shutdown checkpoint, so the next open
  // scans the tail.
  std::filesystem::resize_file(active_segment, std::filesystem::file_size(active_segment) - 20);
  {
    evlog::LogOpenOptions options;
    options.reporter = [](const evlog::RecoveryEvent& e) {
      std::printf("  recovery dropped %llu bytes at byte %llu of %s: %s\n",
                  static_cast<unsigned long long>(e.dropped_bytes),
                  static_cast<unsigned long long>(e.position), e.path.c_str(), e.reason.c_str());
    };
    std::printf("\nreopening after a simulated crash:\n");
    auto log = evlog::SegmentedLog<>::Open(fs, clock, dir, config, options);
    if (!log.ok()) return Fail(log.status());
    std::vector<std::byte> batch = OrderBatch(0, 1, clock.WallMs());
    absl::StatusOr<evlog::AppendResult> appended = (*log)->Append(batch);
    if (!appended.ok()) return Fail(appended.status());
    std::printf("  log end offset back to %lld; the next append got offset %lld\n",
                static_cast<long long>(appended->base_offset.value()),
                static_cast<long long>(appended->base_offset.value()));
    if (absl::Status s = (*log)->Close(); !s.ok()) return Fail(s);
  }
  std::printf("\ndone: the files under %s are Kafka segment files (RecordBatch v2).\n",
              dir.c_str());
  return 0;
}
