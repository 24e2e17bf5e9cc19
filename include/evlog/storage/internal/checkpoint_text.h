// The text layout of Kafka's CheckpointFile, which evlog's small
// line-oriented checkpoints share (leader-epoch-checkpoint,
// high-watermark-checkpoint):
//
//   file    = version "\n" count "\n" *(entry "\n")
//   version = decimal, the layout's version
//   count   = decimal, the number of entry lines that follow
//   entry   = fields separated by runs of " " / "\t"
//
// Lines may end in "\r\n". Kafka's reader also takes an empty file, and a
// last line without its newline; evlog never writes either and rejects both,
// so that a torn or foreign file is noticed instead of trusted.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace evlog::internal {

struct CheckpointLine {
  size_t number = 0;  // 1-based, counting the version and count lines
  std::string_view text;
};

// The entry lines of `text`, after checking its version is `version` and its
// count matches them. `what` names the file in messages. Errors: DataLoss
// saying which line is wrong and how.
absl::StatusOr<std::vector<CheckpointLine>> SplitCheckpointText(std::string_view text,
                                                                int32_t version,
                                                                std::string_view what);

// The blank-separated fields of `line`. As Java's String.split, which
// Kafka's reader uses, a leading blank gives an empty first field (which no
// field parser takes) and trailing blanks give nothing.
std::vector<std::string_view> CheckpointFields(std::string_view line);

// The whole of `field` as a decimal integer ('-' allowed, '+' and blanks
// not); false when it is not one or does not fit T.
template <typename T>
bool ParseCheckpointInteger(std::string_view field, T& value) {
  const char* end = field.data() + field.size();
  auto [ptr, ec] = std::from_chars(field.data(), end, value);
  return ec == std::errc() && ptr == end && !field.empty();
}

// DataLoss "<what> line <number>: expected <expected>, found "<line>"", the
// line quoted and cut short (a garbage file may have no newlines).
absl::Status MalformedCheckpointLine(std::string_view what, const CheckpointLine& line,
                                     std::string_view expected);

// "<version>\n<entries.size()>\n" followed by each entry and "\n".
std::string JoinCheckpointText(int32_t version, const std::vector<std::string>& entries);

}  // namespace evlog::internal
