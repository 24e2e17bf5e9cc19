#include "evlog/io/file_system.h"

#include <string>
#include <string_view>
#include <vector>

#include "evlog/status.h"

namespace evlog {

absl::Status RemoveDirectoryAndFiles(FileSystem& fs, std::string_view path) {
  EVLOG_ASSIGN_OR_RETURN(const bool exists, fs.Exists(path));
  if (!exists) return absl::OkStatus();
  EVLOG_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs.ListDir(path));
  for (const std::string& name : names) EVLOG_RETURN_IF_ERROR(fs.Remove(JoinPath(path, name)));
  EVLOG_RETURN_IF_ERROR(fs.RemoveDir(path));
  return fs.SyncDir(DirName(path));
}

}  // namespace evlog
