#include "evlog/storage/internal/atomic_file.h"

#include <memory>
#include <string>

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

}  // namespace evlog::internal
