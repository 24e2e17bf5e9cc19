#include "evlog/txn/producer_id_manager.h"

#include <xxhash.h>

#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "evlog/record/internal/big_endian.h"
#include "evlog/status.h"
#include "evlog/storage/internal/atomic_file.h"

namespace evlog {
namespace {

using internal::LoadBigEndian;
using internal::StoreBigEndian;

constexpr std::string_view kFileName = "producer-ids";
// "EVPI", u16 version, u16 reserved, i64 next block start, u64 XXH3.
constexpr char kMagic[4] = {'E', 'V', 'P', 'I'};
constexpr uint16_t kVersion = 1;
constexpr size_t kBodyBytes = 4 + 2 + 2 + 8;
constexpr size_t kFileBytes = kBodyBytes + 8;

std::vector<std::byte> Encode(int64_t next_block) {
  std::vector<std::byte> out(kFileBytes);
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  StoreBigEndian<uint16_t>(out.data() + 4, kVersion);
  StoreBigEndian<uint16_t>(out.data() + 6, 0);
  StoreBigEndian<int64_t>(out.data() + 8, next_block);
  StoreBigEndian<uint64_t>(out.data() + kBodyBytes, XXH3_64bits(out.data(), kBodyBytes));
  return out;
}

absl::Status Corrupt(const std::string& path, std::string_view why) {
  return MakeError(ErrorCode::kCorruptMessage,
                   absl::StrCat(path, ": ", internal::ToAbsl(why),
                                "; producer ids handed out before are unknown"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProducerIdManager>> ProducerIdManager::Open(FileSystem& fs,
                                                                           std::string dir,
                                                                           int64_t block_size) {
  if (block_size < 1) return MakeError(ErrorCode::kInvalidConfig, "block_size must be >= 1");
  EVLOG_RETURN_IF_ERROR(fs.CreateDir(dir));
  const std::string path = absl::StrCat(dir, "/", internal::ToAbsl(kFileName));
  int64_t next_block = 0;
  absl::StatusOr<std::unique_ptr<File>> file = fs.Open(path, OpenMode::kReadOnly);
  if (file.ok()) {
    std::vector<std::byte> bytes(kFileBytes + 1);  // one more, to notice a longer file
    EVLOG_ASSIGN_OR_RETURN(size_t n, (*file)->ReadAt(0, bytes));
    if (n != kFileBytes) return Corrupt(path, absl::StrCat(n, " bytes, not ", kFileBytes));
    if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return Corrupt(path, "bad magic");
    if (LoadBigEndian<uint64_t>(bytes.data() + kBodyBytes) !=
        XXH3_64bits(bytes.data(), kBodyBytes)) {
      return Corrupt(path, "checksum mismatch");
    }
    if (LoadBigEndian<uint16_t>(bytes.data() + 4) != kVersion) {
      return Corrupt(path, "unknown version");
    }
    next_block = LoadBigEndian<int64_t>(bytes.data() + 8);
    if (next_block < 0) return Corrupt(path, "negative next block");
  } else if (!absl::IsNotFound(file.status())) {
    return file.status();
  }
  return std::unique_ptr<ProducerIdManager>(
      new ProducerIdManager(fs, std::move(dir), block_size, next_block));
}

absl::StatusOr<ProducerId> ProducerIdManager::NextId() {
  std::lock_guard lock(mu_);
  if (next_id_ == block_end_) {
    if (next_block_ > std::numeric_limits<int64_t>::max() - block_size_) {
      return MakeError(ErrorCode::kUnknownServerError, "producer ids exhausted");
    }
    const int64_t start = next_block_;
    // Durable before any id of the block leaves this object.
    EVLOG_RETURN_IF_ERROR(
        internal::ReplaceFileAtomically(fs_, dir_, kFileName, Encode(start + block_size_)));
    next_block_ = start + block_size_;
    next_id_ = start;
    block_end_ = next_block_;
  }
  return ProducerId(next_id_++);
}

}  // namespace evlog
