// Sparse index costs: Lookup (binary search over the mapped entries),
// Append (encode into the mapping + publish), SanityCheck (a full scan on
// open), for index sizes from a small segment to a full 10 MiB index.
//
// Lookups run on MemFileSystem: once mapped, an index is plain memory on
// either file system, so the figure is the search itself. Append is also
// measured on PosixFileSystem, where it writes into a MAP_SHARED mapping.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "evlog/io/mem_file_system.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/storage/index_format.h"
#include "evlog/storage/offset_index.h"
#include "evlog/storage/time_index.h"

namespace {

using evlog::IndexMode;
using evlog::Offset;

constexpr Offset kBase{1'000'000};
// Bytes of a row: the index entries it finds, appends or scans.
constexpr int64_t kOffsetEntryBytes = evlog::kOffsetIndexEntryBytes;
constexpr int64_t kTimeEntryBytes = evlog::kTimeIndexEntryBytes;

// Offset index with `n` entries, one per 1 KiB of log and 10 records (1 KiB
// so that a full 10 MiB index stays within int32 file positions).
std::unique_ptr<evlog::OffsetIndex> FilledOffsetIndex(evlog::FileSystem& fs, int64_t n) {
  auto index = evlog::OffsetIndex::Open(fs, "/bench.index", kBase, evlog::kDefaultMaxIndexBytes,
                                        IndexMode::kWritable);
  if (!index.ok()) std::abort();
  for (int64_t i = 0; i < n; ++i) {
    if (!(*index)->Append(kBase + 10 * i + 9, static_cast<uint32_t>(1024 * i)).ok()) std::abort();
  }
  return *std::move(index);
}

// Random targets anywhere in the index: the cold, whole-file search.
void BM_OffsetIndexLookupRandom(benchmark::State& state) {
  evlog::MemFileSystem fs;
  const int64_t n = state.range(0);
  auto index = FilledOffsetIndex(fs, n);
  std::mt19937_64 rng(1);
  std::vector<Offset> targets(4096);
  for (Offset& t : targets) t = kBase + std::uniform_int_distribution<int64_t>(0, 10 * n)(rng);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(index->Lookup(targets[i++ & 4095]));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kOffsetEntryBytes);  // the entry found
}
BENCHMARK(BM_OffsetIndexLookupRandom)->Arg(256)->Arg(32768)->Arg(1'310'720);

// Targets within the last 1000 entries: consumers near the head.
void BM_OffsetIndexLookupTail(benchmark::State& state) {
  evlog::MemFileSystem fs;
  const int64_t n = state.range(0);
  auto index = FilledOffsetIndex(fs, n);
  std::mt19937_64 rng(2);
  std::vector<Offset> targets(4096);
  const int64_t from = std::max<int64_t>(0, n - 1000);
  for (Offset& t : targets) {
    t = kBase + 10 * std::uniform_int_distribution<int64_t>(from, n)(rng);
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(index->Lookup(targets[i++ & 4095]));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kOffsetEntryBytes);
}
BENCHMARK(BM_OffsetIndexLookupTail)->Arg(32768)->Arg(1'310'720);

void BM_TimeIndexLookupRandom(benchmark::State& state) {
  evlog::MemFileSystem fs;
  const int64_t n = state.range(0);
  auto index = evlog::TimeIndex::Open(fs, "/bench.timeindex", kBase, evlog::kDefaultMaxIndexBytes,
                                      IndexMode::kWritable);
  if (!index.ok()) std::abort();
  for (int64_t i = 0; i < n; ++i) {
    if (!(*index)->MaybeAppend(1'700'000'000'000 + 7 * i, kBase + 10 * i).ok()) std::abort();
  }
  std::mt19937_64 rng(3);
  std::vector<int64_t> targets(4096);
  for (int64_t& t : targets) {
    t = 1'700'000'000'000 + std::uniform_int_distribution<int64_t>(0, 7 * n)(rng);
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize((*index)->Lookup(targets[i++ & 4095]));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kTimeEntryBytes);
}
BENCHMARK(BM_TimeIndexLookupRandom)->Arg(32768)->Arg(873'812);  // full but the roll slot

// Appends until full, then starts over (Reset, not timed).
void AppendUntilFull(benchmark::State& state, evlog::FileSystem& fs, const std::string& path) {
  constexpr uint32_t kMaxIndexBytes = 1 << 20;  // 131072 entries per round
  auto index = evlog::OffsetIndex::Open(fs, path, kBase, kMaxIndexBytes, IndexMode::kWritable);
  if (!index.ok()) std::abort();
  int64_t i = 0;
  for (auto _ : state) {
    if ((*index)->IsFull()) {
      state.PauseTiming();
      if (!(*index)->Reset().ok()) std::abort();
      i = 0;
      state.ResumeTiming();
    }
    if (!(*index)->Append(kBase + i, static_cast<uint32_t>(4096 * i)).ok()) std::abort();
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kOffsetEntryBytes);
}

void BM_OffsetIndexAppendMem(benchmark::State& state) {
  evlog::MemFileSystem fs;
  AppendUntilFull(state, fs, "/append.index");
}
BENCHMARK(BM_OffsetIndexAppendMem);

void BM_OffsetIndexAppendPosix(benchmark::State& state) {
  std::string dir = (std::filesystem::temp_directory_path() / "evlog-index-bench-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) std::abort();
  {
    evlog::PosixFileSystem fs;
    AppendUntilFull(state, fs, dir + "/append.index");
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_OffsetIndexAppendPosix);

// The full scan a segment runs on open to decide whether to rebuild.
void BM_OffsetIndexSanityCheck(benchmark::State& state) {
  evlog::MemFileSystem fs;
  const int64_t n = state.range(0);
  auto index = FilledOffsetIndex(fs, n);
  const uint64_t log_size = uint64_t{1024} * static_cast<uint64_t>(n) + 1;
  for (auto _ : state) {
    if (!index->SanityCheck(log_size).ok()) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * kOffsetEntryBytes);
}
BENCHMARK(BM_OffsetIndexSanityCheck)->Arg(32768)->Arg(1'310'720);

}  // namespace
