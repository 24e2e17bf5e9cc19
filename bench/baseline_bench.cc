// Baselines: what the hardware and kernel give before evlog does anything.
//
// Every evlog figure in BENCHMARKS.md is read against these: an append can
// not be faster than memcpy into a buffer plus write(2) into the page cache,
// and a durable append can not be faster than write(2) plus fdatasync(2).
// These benchmarks call the OS directly on purpose; evlog's components never
// do (they take a FileSystem).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

// Writes wrap around inside a file of this size, so a long run rewrites the
// page cache instead of filling the disk.
constexpr int64_t kFileBytesMax = int64_t{64} << 20;

// A scratch file in a fresh directory under $TMPDIR (or /tmp), removed on
// destruction.
class ScratchFile {
 public:
  ScratchFile() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/evlog_baseline_bench.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) return;
    dir_ = pattern;
    fd_ = open((dir_ + "/data").c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  ~ScratchFile() {
    if (fd_ >= 0) close(fd_);
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  int fd() const { return fd_; }

 private:
  std::string dir_;
  int fd_ = -1;
};

// Items are copies or writes (one per iteration), bytes their size.
void SetBytes(benchmark::State& state, int64_t bytes_per_iteration) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * bytes_per_iteration);
}

// memcpy of a record-sized buffer: the floor for "copied once into the
// segment's write buffer".
void BM_Memcpy(benchmark::State& state) {
  const auto size_bytes = static_cast<size_t>(state.range(0));
  std::vector<std::byte> src(size_bytes, std::byte{0x5a});
  std::vector<std::byte> dst(size_bytes);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), size_bytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  SetBytes(state, state.range(0));
}
BENCHMARK(BM_Memcpy)->RangeMultiplier(8)->Range(64, 1 << 20);

// pwrite(2) into the page cache, no sync: the floor for a non-durable append.
void BM_Pwrite(benchmark::State& state) {
  ScratchFile file;
  if (file.fd() < 0) {
    state.SkipWithError("cannot create a scratch file");
    return;
  }
  const int64_t size_bytes = state.range(0);
  std::vector<std::byte> buffer(static_cast<size_t>(size_bytes), std::byte{0x5a});
  int64_t position = 0;
  for (auto _ : state) {
    if (position + size_bytes > kFileBytesMax) position = 0;
    const ssize_t n = pwrite(file.fd(), buffer.data(), buffer.size(), position);
    if (n != size_bytes) {
      state.SkipWithError("short or failed pwrite");
      break;
    }
    position += size_bytes;
  }
  SetBytes(state, size_bytes);
}
BENCHMARK(BM_Pwrite)->RangeMultiplier(8)->Range(64, 1 << 20);

// pwrite(2) then fdatasync(2) per write: the floor for an append that is
// durable before it is acknowledged, without group commit.
void BM_PwriteFdatasync(benchmark::State& state) {
  ScratchFile file;
  if (file.fd() < 0) {
    state.SkipWithError("cannot create a scratch file");
    return;
  }
  const int64_t size_bytes = state.range(0);
  std::vector<std::byte> buffer(static_cast<size_t>(size_bytes), std::byte{0x5a});
  int64_t position = 0;
  for (auto _ : state) {
    if (position + size_bytes > kFileBytesMax) position = 0;
    const ssize_t n = pwrite(file.fd(), buffer.data(), buffer.size(), position);
    if (n != size_bytes || fdatasync(file.fd()) != 0) {
      state.SkipWithError("pwrite or fdatasync failed");
      break;
    }
    position += size_bytes;
  }
  SetBytes(state, size_bytes);
}
BENCHMARK(BM_PwriteFdatasync)->RangeMultiplier(16)->Range(4 << 10, 1 << 20)->UseRealTime();

}  // namespace
