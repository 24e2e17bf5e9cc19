# Compiler settings for evlog's own targets (never forced on a consumer).
include_guard(GLOBAL)
include(GNUInstallDirs)

# evlog_target_options(<target>): warnings, warnings-as-errors, sanitizers.
function(evlog_target_options target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
    if(EVLOG_WARNINGS_AS_ERRORS)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${EVLOG_WARNINGS_AS_ERRORS}>:/WX>)
  endif()
  if(EVLOG_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${EVLOG_SANITIZE} -fno-omit-frame-pointer
                                             -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${EVLOG_SANITIZE})
    # GCC's -Wmaybe-uninitialized misfires on sanitizer-instrumented code
    # (in libstdc++'s <regex>, for one), at -O1 and up; the plain builds
    # keep the warning.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    endif()
  endif()
endfunction()

# Precompiled headers for evlog's own targets. Every TU includes Abseil's
# status headers (over 100,000 lines after preprocessing, from absl/strings/
# cord.h), which made parsing most of the build's time; a build with them
# precompiled takes about half as long. Off for builds that cannot use them
# (ccache without pch_external_checksum, some clang-tidy setups).
option(EVLOG_PRECOMPILE_HEADERS "Precompile the heavy system and Abseil headers" ON)
set(EVLOG_PCH_HEADERS
  <algorithm> <atomic> <chrono> <condition_variable> <cstddef> <cstdint> <cstring>
  <functional> <map> <memory> <mutex> <optional> <shared_mutex> <span> <string>
  <string_view> <thread> <utility> <vector>
  <absl/container/flat_hash_map.h> <absl/functional/any_invocable.h>
  <absl/status/status.h> <absl/status/statusor.h> <absl/strings/str_cat.h>)

# evlog_precompile_headers(<target> [<extra header>...]): gives <target> its
# own precompiled header of EVLOG_PCH_HEADERS plus the extras.
function(evlog_precompile_headers target)
  if(EVLOG_PRECOMPILE_HEADERS)
    target_precompile_headers(${target} PRIVATE ${EVLOG_PCH_HEADERS} ${ARGN})
  endif()
endfunction()

# evlog_reuse_precompiled_headers(<target> <donor>): <target> uses <donor>'s
# precompiled header (same compile options required, as with one test
# executable per layer that all link the same support library).
function(evlog_reuse_precompiled_headers target donor)
  if(EVLOG_PRECOMPILE_HEADERS)
    target_precompile_headers(${target} REUSE_FROM ${donor})
  endif()
endfunction()
