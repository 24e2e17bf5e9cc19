#include "zstd_codec.h"

#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <memory>
#include <string>

#include "evlog/status.h"

namespace evlog::internal {
namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Contexts are reused per thread: creating one costs more than compressing
// a small batch.
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
  return cctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx(ZSTD_createDCtx());
  return dctx.get();
}

// First output allocation when the frame does not record its content size.
constexpr size_t kInitialOutputBytes = 64 * 1024;

absl::Status Corrupt(std::string_view what) { return MakeError(ErrorCode::kCorruptMessage, what); }

}  // namespace

size_t ZstdCompressBound(size_t src_bytes) { return ZSTD_compressBound(src_bytes); }

absl::StatusOr<size_t> ZstdCompress(ByteView src, MutableByteView dst, int level) {
  ZSTD_CCtx* cctx = ThreadCCtx();
  if (cctx == nullptr) return MakeError(ErrorCode::kKafkaStorageError, "zstd: out of memory");
  const size_t n = ZSTD_compressCCtx(cctx, dst.data(), dst.size(), src.data(), src.size(), level);
  if (ZSTD_isError(n)) {
    if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall) {
      return MakeError(ErrorCode::kRecordListTooLarge,
                       "compressed records do not fit the batch buffer");
    }
    return MakeError(ErrorCode::kKafkaStorageError,
                     std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  return n;
}

absl::Status ZstdDecompress(ByteView src, size_t max_bytes, std::vector<std::byte>* out) {
  ZSTD_DCtx* dctx = ThreadDCtx();
  if (dctx == nullptr) return MakeError(ErrorCode::kKafkaStorageError, "zstd: out of memory");
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);

  // The buffer may grow to max_bytes + 1: producing that extra byte is how
  // an oversized section is detected without trusting the frame header.
  const size_t limit = max_bytes + 1;
  size_t initial = kInitialOutputBytes;
  const unsigned long long declared = ZSTD_getFrameContentSize(src.data(), src.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return Corrupt("records section is not a zstd frame");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (declared > max_bytes) {
      return Corrupt("compressed records section declares " + std::to_string(declared) +
                     " bytes, above the limit of " + std::to_string(max_bytes));
    }
    initial = static_cast<size_t>(declared) + 1;  // +1: room to see the end
  }
  out->clear();
  out->resize(std::min(initial, limit));

  ZSTD_inBuffer in{src.data(), src.size(), 0};
  size_t produced = 0;
  for (;;) {
    if (produced == out->size()) {
      if (out->size() >= limit) {
        return Corrupt("compressed records section inflates past the limit of " +
                       std::to_string(max_bytes) + " bytes");
      }
      out->resize(std::min(limit, std::max(out->size() * 2, kInitialOutputBytes)));
    }
    ZSTD_outBuffer o{out->data(), out->size(), produced};
    const size_t in_before = in.pos;
    const size_t ret = ZSTD_decompressStream(dctx, &o, &in);
    if (ZSTD_isError(ret)) {
      return Corrupt(std::string("bad zstd data in records section: ") + ZSTD_getErrorName(ret));
    }
    const bool progressed = o.pos != produced || in.pos != in_before;
    produced = o.pos;
    if (in.pos == in.size) {
      if (ret == 0) break;  // every frame complete, all input used
      if (produced < out->size() && !progressed) {
        return Corrupt("zstd records section is truncated");
      }
    } else if (!progressed && produced < out->size()) {
      return Corrupt("zstd decoder made no progress");
    }
  }
  if (produced > max_bytes) {
    return Corrupt("compressed records section inflates past the limit of " +
                   std::to_string(max_bytes) + " bytes");
  }
  out->resize(produced);
  return absl::OkStatus();
}

}  // namespace evlog::internal
