// A fresh directory under $TMPDIR (or /tmp) for one test, removed with its
// contents when the object goes out of scope.
#pragma once

#include <string>

namespace evlog::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace evlog::testing
