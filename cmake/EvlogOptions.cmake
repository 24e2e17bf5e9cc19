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
  endif()
endfunction()
