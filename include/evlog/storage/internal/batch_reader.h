// Reads a .log file batch by batch, front to back, in large chunks.
//
// Used where every byte of a file must be looked at: recovery and the log
// cleaner. It checks framing only (a batch's length fits the file and is
// plausible); the caller parses each batch (CRC) as it needs to.
//
// Not thread-safe; the File must outlive the reader and not change while it
// is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/io/file_system.h"

namespace evlog::internal {

class BatchReader {
 public:
  // Reading 1 MiB at a time keeps syscalls rare without holding much memory;
  // larger batches are read whole.
  static constexpr size_t kDefaultChunkBytes = size_t{1} << 20;

  // Reads `file` (of `file_size` bytes) from byte `start`.
  BatchReader(File& file, uint64_t file_size, uint64_t start = 0,
              size_t chunk_bytes = kDefaultChunkBytes);

  // The next batch's bytes, valid until the next call; nullopt at the end
  // of the file. CORRUPT_MESSAGE when the bytes at position() cannot be a
  // batch: an implausible length, or one that runs past the end of the file
  // (a torn write). After an error, position() is where the bad bytes start.
  [[nodiscard]] absl::StatusOr<std::optional<ByteView>> Next();

  // Byte position of the batch Next() returned last (or of the bad bytes).
  uint64_t position() const { return position_; }

 private:
  absl::Status Fill(size_t need);

  File& file_;
  const uint64_t file_size_;
  const size_t chunk_bytes_;
  std::vector<std::byte> buffer_;
  uint64_t buffer_start_;  // file position of buffer_[0]
  size_t buffer_used_ = 0;
  size_t at_ = 0;  // offset in buffer_ of the next batch
  uint64_t position_;
};

}  // namespace evlog::internal
