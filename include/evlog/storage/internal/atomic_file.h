// Replacing a small file of a log's directory atomically and durably.
//
// The checkpoints of a log (log.checkpoint, leader-epoch-checkpoint) are
// rewritten whole. A crash must leave either the old file or the new one,
// never a mix or a torn one, and a successful write must survive a crash.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/io/file_system.h"

namespace evlog::internal {

// Replaces `dir`/`name` with `contents`: writes `dir`/`name`.tmp, syncs it,
// renames it over `dir`/`name` and syncs `dir`. A leftover .tmp from an
// earlier crash is overwritten.
// Errors: I/O errors. After an error the file holds either its old or its
// new contents (the rename may have happened before a failed directory sync,
// and then a crash may still undo it), so the caller must not assume either.
[[nodiscard]] absl::Status ReplaceFileAtomically(FileSystem& fs, std::string_view dir,
                                                 std::string_view name, ByteView contents);

// The whole of the small file at `path` (a checkpoint ReplaceFileAtomically
// wrote). Errors: NotFound when there is none; DataLoss, naming the file,
// when it is larger than `max_bytes` (then it is not such a file); I/O
// errors.
absl::StatusOr<std::string> ReadSmallFile(FileSystem& fs, std::string_view path, size_t max_bytes);

}  // namespace evlog::internal
