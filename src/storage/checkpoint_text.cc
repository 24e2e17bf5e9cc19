#include "evlog/storage/internal/checkpoint_text.h"

#include "absl/strings/str_cat.h"
#include "evlog/status.h"

namespace evlog::internal {
namespace {

std::string Quote(std::string_view line) {
  constexpr size_t kMaxQuotedBytes = 40;
  if (line.size() <= kMaxQuotedBytes) return absl::StrCat("\"", ToAbsl(line), "\"");
  return absl::StrCat("\"", ToAbsl(line.substr(0, kMaxQuotedBytes)), "...\"");
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

absl::Status Malformed(std::string_view what, size_t number, std::string_view message) {
  return absl::DataLossError(absl::StrCat(ToAbsl(what), " line ", number, ": ", ToAbsl(message)));
}

}  // namespace

absl::StatusOr<std::vector<CheckpointLine>> SplitCheckpointText(std::string_view text,
                                                                int32_t version,
                                                                std::string_view what) {
  if (text.empty()) return absl::DataLossError(absl::StrCat(ToAbsl(what), " is empty"));
  if (text.back() != '\n') {
    return absl::DataLossError(
        absl::StrCat(ToAbsl(what), " is cut off: its last line has no newline"));
  }
  std::vector<CheckpointLine> lines;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(CheckpointLine{lines.size() + 1, line});
    text.remove_prefix(eol + 1);
  }
  int32_t found_version = 0;
  if (!ParseCheckpointInteger(lines[0].text, found_version)) {
    return MalformedCheckpointLine(what, lines[0], "the version");
  }
  if (found_version != version) {
    return Malformed(what, 1, absl::StrCat("version ", found_version, ", expected ", version));
  }
  if (lines.size() < 2) {
    return absl::DataLossError(absl::StrCat(ToAbsl(what), " has no entry count"));
  }
  int32_t count = 0;
  if (!ParseCheckpointInteger(lines[1].text, count) || count < 0) {
    return MalformedCheckpointLine(what, lines[1], "the number of entries");
  }
  const size_t found = lines.size() - 2;
  if (found != static_cast<size_t>(count)) {
    return absl::DataLossError(absl::StrCat(ToAbsl(what), " announces ", count, " entries but has ",
                                            found, " entry lines"));
  }
  lines.erase(lines.begin(), lines.begin() + 2);
  return lines;
}

std::vector<std::string_view> CheckpointFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    size_t end = i;
    while (end < line.size() && !IsBlank(line[end])) ++end;
    fields.push_back(line.substr(i, end - i));
    i = end;
    while (i < line.size() && IsBlank(line[i])) ++i;
  }
  return fields;
}

absl::Status MalformedCheckpointLine(std::string_view what, const CheckpointLine& line,
                                     std::string_view expected) {
  return Malformed(what, line.number,
                   absl::StrCat("expected ", ToAbsl(expected), ", found ", Quote(line.text)));
}

std::string JoinCheckpointText(int32_t version, const std::vector<std::string>& entries) {
  std::string out = absl::StrCat(version, "\n", entries.size(), "\n");
  for (const std::string& entry : entries) absl::StrAppend(&out, entry, "\n");
  return out;
}

}  // namespace evlog::internal
