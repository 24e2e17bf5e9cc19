#include <string>
#include <string_view>
#include <vector>

#include "evlog/io/file_system.h"
#include "path_internal.h"

namespace evlog {

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  if (name.empty()) return std::string(dir);
  while (name.size() > 1 && name.front() == '/') name.remove_prefix(1);
  std::string out(dir);
  if (out.back() != '/' && name.front() != '/') out.push_back('/');
  if (out.back() == '/' && name.front() == '/') name.remove_prefix(1);
  out.append(name);
  return out;
}

std::string_view DirName(std::string_view path) {
  size_t end = path.size();
  while (end > 1 && path[end - 1] == '/') --end;  // "a/b/" names "a/b"
  const std::string_view trimmed = path.substr(0, end);
  const size_t slash = trimmed.rfind('/');
  if (slash == std::string_view::npos) return ".";
  size_t dir_end = slash;
  while (dir_end > 0 && trimmed[dir_end - 1] == '/') --dir_end;
  if (dir_end == 0) return "/";
  return trimmed.substr(0, dir_end);
}

namespace internal {

std::string NormalizePath(std::string_view path) {
  const bool absolute = !path.empty() && path.front() == '/';
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    const std::string_view part = path.substr(pos, next - pos);
    pos = next + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);
      }
      continue;
    }
    parts.push_back(part);
  }
  if (parts.empty()) return std::string(absolute ? "/" : ".");
  std::string out;
  for (const std::string_view part : parts) {
    if (absolute || !out.empty()) out.push_back('/');
    out.append(part);
  }
  return out;
}

}  // namespace internal
}  // namespace evlog
