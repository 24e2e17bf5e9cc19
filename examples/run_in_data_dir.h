// examples/run_in_data_dir.h — the main() the self-checking examples share:
// run in the directory given as the first argument, or in a fresh
// temporary one that is removed afterwards; print the error and exit 1 if
// the run failed.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace evlog::examples {

template <typename Run>
int RunInDataDir(int argc, char** argv, const char* name, Run run) {
  std::string data_dir;
  bool temporary = false;
  if (argc > 1) {
    data_dir = argv[1];
  } else {
    data_dir = (std::filesystem::temp_directory_path() /
                absl::StrFormat("evlog-%s-%d", name, static_cast<int>(getpid())))
                   .string();
    temporary = true;
  }
  const absl::Status status = run(data_dir);
  if (temporary) {
    std::error_code ignored;
    std::filesystem::remove_all(data_dir, ignored);
  }
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace evlog::examples
