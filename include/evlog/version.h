// evlog/version.h — the library's version.
//
// Kept equal to project(evlog VERSION ...) in CMakeLists.txt; the build
// fails at configure time when the two disagree. Versions follow semantic
// versioning: within one major version, the public API and the on-disk
// format only grow.
//
//   #if EVLOG_VERSION >= 100  // 0.1.0 and later
//   ...
//   std::puts(evlog::kVersionString);
#pragma once

#define EVLOG_VERSION_MAJOR 0
#define EVLOG_VERSION_MINOR 1
#define EVLOG_VERSION_PATCH 0

// MAJOR * 10000 + MINOR * 100 + PATCH, for preprocessor comparisons.
#define EVLOG_VERSION \
  (EVLOG_VERSION_MAJOR * 10000 + EVLOG_VERSION_MINOR * 100 + EVLOG_VERSION_PATCH)

#define EVLOG_VERSION_STRINGIFY_INNER_(x) #x
#define EVLOG_VERSION_STRINGIFY_(x) EVLOG_VERSION_STRINGIFY_INNER_(x)

namespace evlog {

// "MAJOR.MINOR.PATCH" of the headers in use.
inline constexpr const char kVersionString[] =
    EVLOG_VERSION_STRINGIFY_(EVLOG_VERSION_MAJOR) "." EVLOG_VERSION_STRINGIFY_(
        EVLOG_VERSION_MINOR) "." EVLOG_VERSION_STRINGIFY_(EVLOG_VERSION_PATCH);

}  // namespace evlog
