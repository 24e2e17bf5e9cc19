// What the benchmark executables share: scratch directories, smoke-run
// detection and fail-fast unwrapping of statuses. Header-only, included by
// bench/*_bench.cc (each is its own executable).
#pragma once

#include <errno.h>  // program_invocation_short_name (GNU)
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"

namespace evlog::bench {

// A fresh directory <base>/<executable>_<tag>.XXXXXX, removed with its
// contents on destruction. Aborts when it cannot be made.
class TempDir {
 public:
  explicit TempDir(const char* tag, std::string base = DefaultBase()) {
    std::string pattern =
        absl::StrFormat("%s/%s_%s.XXXXXX", base, program_invocation_short_name, tag);
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  // $TMPDIR, or /tmp.
  static std::string DefaultBase() {
    const char* tmp = std::getenv("TMPDIR");
    return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }

  const std::string& path() const { return path_; }
  std::string Sub(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// True for a smoke run (--benchmark_min_time below 0.05 s, e.g. the CTest
// smoke tests): benchmarks then shrink their fixtures so the run stays well
// inside a CI time limit. Google Benchmark 1.7.1 does not expose its flags,
// so the command line is read back from /proc.
inline bool SmokeRun() {
  static const bool smoke = [] {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    const std::string args((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string_view flag = "--benchmark_min_time=";
    for (size_t start = 0; start < args.size();) {
      size_t end = args.find('\0', start);
      if (end == std::string::npos) end = args.size();
      const std::string arg = args.substr(start, end - start);
      if (arg.starts_with(flag)) return std::strtod(arg.c_str() + flag.size(), nullptr) < 0.05;
      start = end + 1;
    }
    return false;
  }();
  return smoke;
}

// A benchmark's set-up failing makes its figures meaningless: stop at once.
[[noreturn]] inline void Die(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
               status.ToString().c_str());
  std::abort();
}

template <typename T>
T Must(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) Die(what, value.status());
  return *std::move(value);
}

inline void Must(const absl::Status& status, const char* what) {
  if (!status.ok()) Die(what, status);
}

}  // namespace evlog::bench
