#include "evlog/storage/internal/log_checkpoint.h"

#include <cstring>
#include <string>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "evlog/record/internal/big_endian.h"
#include "evlog/status.h"
#include "evlog/storage/internal/atomic_file.h"

namespace evlog::internal {
namespace {

constexpr char kMagic[4] = {'E', 'V', 'L', 'C'};
constexpr uint16_t kVersion = 1;
constexpr uint16_t kCleanFlag = 1;
constexpr size_t kBodyBytes = 4 + 2 + 2 + 8 + 8 + 8 + 8;
constexpr size_t kFileBytes = kBodyBytes + 8;

template <typename T>
void Put(std::string& out, T value) {
  std::byte buf[sizeof(T)];
  StoreBigEndian<T>(buf, value);
  out.append(reinterpret_cast<const char*>(buf), sizeof(T));
}

template <typename T>
T Get(std::string_view bytes, size_t at) {
  return LoadBigEndian<T>(reinterpret_cast<const std::byte*>(bytes.data() + at));
}

}  // namespace

std::string EncodeLogCheckpoint(const LogCheckpoint& checkpoint) {
  std::string out(kMagic, sizeof(kMagic));
  Put<uint16_t>(out, kVersion);
  Put<uint16_t>(out, checkpoint.clean ? kCleanFlag : 0);
  Put<int64_t>(out, checkpoint.recovery_point.value());
  Put<int64_t>(out, checkpoint.log_start_offset.value());
  Put<int64_t>(out, checkpoint.log_end_offset.value());
  Put<uint64_t>(out, checkpoint.last_segment_bytes);
  Put<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

std::optional<LogCheckpoint> DecodeLogCheckpoint(std::string_view bytes) {
  if (bytes.size() != kFileBytes) return std::nullopt;
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return std::nullopt;
  if (Get<uint64_t>(bytes, kBodyBytes) != XXH3_64bits(bytes.data(), kBodyBytes)) {
    return std::nullopt;
  }
  if (Get<uint16_t>(bytes, 4) != kVersion) return std::nullopt;
  LogCheckpoint checkpoint;
  checkpoint.clean = (Get<uint16_t>(bytes, 6) & kCleanFlag) != 0;
  checkpoint.recovery_point = Offset(Get<int64_t>(bytes, 8));
  checkpoint.log_start_offset = Offset(Get<int64_t>(bytes, 16));
  checkpoint.log_end_offset = Offset(Get<int64_t>(bytes, 24));
  checkpoint.last_segment_bytes = Get<uint64_t>(bytes, 32);
  if (checkpoint.recovery_point.value() < 0 || checkpoint.log_start_offset.value() < 0 ||
      checkpoint.log_end_offset.value() < 0) {
    return std::nullopt;
  }
  return checkpoint;
}

absl::StatusOr<std::optional<LogCheckpoint>> ReadLogCheckpoint(FileSystem& fs,
                                                               std::string_view dir) {
  absl::StatusOr<std::unique_ptr<File>> file =
      fs.Open(JoinPath(dir, kLogCheckpointFileName), OpenMode::kReadOnly);
  if (absl::IsNotFound(file.status())) return std::optional<LogCheckpoint>();
  if (!file.ok()) return file.status();
  std::string bytes(kFileBytes + 1, '\0');  // one more, to notice a longer file
  EVLOG_ASSIGN_OR_RETURN(
      size_t n, (*file)->ReadAt(
                    0, MutableByteView(reinterpret_cast<std::byte*>(bytes.data()), bytes.size())));
  bytes.resize(n);
  return DecodeLogCheckpoint(bytes);
}

absl::Status WriteLogCheckpoint(FileSystem& fs, std::string_view dir,
                                const LogCheckpoint& checkpoint) {
  return ReplaceFileAtomically(fs, dir, kLogCheckpointFileName,
                               AsBytes(EncodeLogCheckpoint(checkpoint)));
}

}  // namespace evlog::internal
