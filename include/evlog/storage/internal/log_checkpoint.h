// The per-log checkpoint file, `log.checkpoint` in the log's directory.
//
// It records how far the log is known to be durable (the recovery point),
// the log start offset (which retention and DeleteRecordsBefore move inside
// a segment, so it cannot be derived from file names), and, after a clean
// Close(), the log end offset with the clean flag set: reopening then scans
// nothing. The first mutation after an open rewrites the file with the flag
// cleared, before any byte of the mutation reaches the disk, so a crash can
// never leave a stale "clean" behind.
//
// Layout (docs/format/log_checkpoint.md), all integers big-endian:
//   magic "EVLC" | version u16 = 1 | flags u16 (bit 0: clean)
//   | recovery_point i64 | log_start_offset i64 | log_end_offset i64
//   | last_segment_bytes u64 | xxh3_64 of everything before it (u64)
// last_segment_bytes (the size of the newest .log at a clean close) lets an
// open notice files changed behind the log's back and recover instead of
// trusting the clean flag.
// A file that is missing, short, of another version, or fails its checksum
// reads as "no checkpoint" (recovery then scans everything), never as an
// error that stops the log from opening.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "evlog/io/file_system.h"
#include "evlog/types.h"

namespace evlog::internal {

inline constexpr std::string_view kLogCheckpointFileName = "log.checkpoint";

struct LogCheckpoint {
  bool clean = false;
  Offset recovery_point{0};
  Offset log_start_offset{0};
  Offset log_end_offset{0};         // meaningful only when clean
  uint64_t last_segment_bytes = 0;  // likewise

  friend bool operator==(const LogCheckpoint&, const LogCheckpoint&) = default;
};

// Encodes `checkpoint` in the layout above.
std::string EncodeLogCheckpoint(const LogCheckpoint& checkpoint);

// Decodes the layout above; nullopt for anything but a valid file.
std::optional<LogCheckpoint> DecodeLogCheckpoint(std::string_view bytes);

// Reads `dir`/log.checkpoint; nullopt when missing or invalid. Errors: I/O
// errors other than NotFound.
absl::StatusOr<std::optional<LogCheckpoint>> ReadLogCheckpoint(FileSystem& fs,
                                                               std::string_view dir);

// Replaces `dir`/log.checkpoint atomically and durably: writes a temporary
// file, syncs it, renames it over the old one and syncs the directory.
absl::Status WriteLogCheckpoint(FileSystem& fs, std::string_view dir,
                                const LogCheckpoint& checkpoint);

}  // namespace evlog::internal
