// zstd for record sections (private to the library: zstd is a PRIVATE
// dependency, so its headers stay out of evlog's public headers).
#pragma once

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/bytes.h"

namespace evlog::internal {

// Upper bound of ZstdCompress's output for `src_bytes` of input.
size_t ZstdCompressBound(size_t src_bytes);

// Compresses `src` into `dst` as one zstd frame (content size recorded)
// and returns the compressed size. Errors: RECORD_LIST_TOO_LARGE when `dst`
// is too small, KAFKA_STORAGE_ERROR when zstd fails otherwise.
// Thread-safe: uses a per-thread context.
absl::StatusOr<size_t> ZstdCompress(ByteView src, MutableByteView dst, int level);

// Replaces `*out` with the decompression of `src` (one or more frames).
// Errors: CORRUPT_MESSAGE when `src` is not valid zstd, is truncated, has
// trailing bytes, or inflates past `max_bytes`. Thread-safe: uses a
// per-thread context.
absl::Status ZstdDecompress(ByteView src, size_t max_bytes, std::vector<std::byte>* out);

}  // namespace evlog::internal
