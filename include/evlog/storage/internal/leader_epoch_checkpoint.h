// The text of `leader-epoch-checkpoint`, Kafka's format for a partition's
// leader-epoch cache (Kafka's LeaderEpochCheckpointFile over CheckpointFile;
// docs/format/log_directory.md):
//
//   file    = version "\n" count "\n" *(entry "\n")
//   version = "0"
//   count   = decimal, the number of entry lines that follow
//   entry   = epoch 1*(" " / "\t") start_offset *(" " / "\t")
//             decimal int32 and int64, both >= 0
//
// Lines may end in "\r\n" (Kafka on Windows writes them so). The entries are
// oldest first, their epochs and start offsets strictly increasing. Kafka's
// reader also takes an empty file as an empty cache and a file whose last
// line has no newline; evlog never writes either, and treats both as
// damaged, so that a torn or foreign file makes the log rebuild its cache
// from its batches instead of trusting it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/storage/leader_epoch_cache.h"

namespace evlog::internal {

inline constexpr int32_t kLeaderEpochCheckpointVersion = 0;

// Bound on the file read at open: a line is at most 33 bytes ("2147483647
// 9223372036854775807\n"), so 16 MiB holds over 500,000 epochs, far more
// leader elections than a partition sees between two retention passes;
// anything larger is not a checkpoint.
inline constexpr size_t kMaxLeaderEpochCheckpointBytes = size_t{16} << 20;

// The file's text for `entries`, oldest first.
std::string EncodeLeaderEpochCheckpoint(const std::vector<EpochEntry>& entries);

// The entries in `text`. Errors: DataLoss saying which line is wrong and
// how, for anything the grammar above does not allow.
absl::StatusOr<std::vector<EpochEntry>> DecodeLeaderEpochCheckpoint(std::string_view text);

// OK when `entries` could be a cache: epochs and start offsets >= 0 and
// strictly increasing. Otherwise InvalidArgument naming the first bad entry.
absl::Status CheckEpochEntries(const std::vector<EpochEntry>& entries);

}  // namespace evlog::internal
