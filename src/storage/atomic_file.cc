#include "evlog/storage/internal/atomic_file.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "evlog/status.h"

namespace evlog::internal {

absl::Status ReplaceFileAtomically(FileSystem& fs, std::string_view dir, std::string_view name,
                                   ByteView contents) {
  const std::string path = JoinPath(dir, name);
  const std::string temp = path + ".tmp";
  {
    EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs.Open(temp, OpenMode::kCreate));
    EVLOG_RETURN_IF_ERROR(file->Truncate(0));
    EVLOG_RETURN_IF_ERROR(file->Append(contents));
    EVLOG_RETURN_IF_ERROR(file->Sync());
    EVLOG_RETURN_IF_ERROR(file->Close());
  }
  EVLOG_RETURN_IF_ERROR(fs.Rename(temp, path));
  return fs.SyncDir(dir);
}

absl::StatusOr<std::string> ReadSmallFile(FileSystem& fs, std::string_view path, size_t max_bytes) {
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs.Open(path, OpenMode::kReadOnly));
  EVLOG_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size > max_bytes) {
    return absl::DataLossError(absl::StrCat(ToAbsl(path), ": ", size,
                                            " bytes, more than any checkpoint (", max_bytes, ")"));
  }
  std::string text(static_cast<size_t>(size), '\0');
  EVLOG_ASSIGN_OR_RETURN(
      size_t n,
      file->ReadAt(0, MutableByteView(reinterpret_cast<std::byte*>(text.data()), text.size())));
  text.resize(n);
  return text;
}

}  // namespace evlog::internal
