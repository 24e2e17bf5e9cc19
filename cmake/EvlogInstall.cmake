# Install and export rules (EVLOG_INSTALL), plus a build-tree export so that
# find_package(evlog) also works against a build directory:
#
#   cmake --install build/release --prefix /opt/evlog
#   # consumer:  find_package(evlog CONFIG REQUIRED)  (CMAKE_PREFIX_PATH=/opt/evlog)
#   #            target_link_libraries(app PRIVATE evlog::evlog)
#   # or, without installing:  -Devlog_DIR=<evlog build dir>
#
# Installed layout:
#   include/evlog/**.h
#   lib/libevlog.a                      (or .so with BUILD_SHARED_LIBS)
#   lib/cmake/evlog/evlogConfig.cmake   finds the dependencies, then the targets
#   lib/cmake/evlog/evlogConfigVersion.cmake   SameMajorVersion
#   lib/cmake/evlog/evlogTargets*.cmake evlog::evlog
#   lib/cmake/evlog/EvlogDeps.cmake     the same discovery the build used
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(EVLOG_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/evlog"
    CACHE STRING "Where evlogConfig.cmake is installed (relative to the prefix)")
mark_as_advanced(EVLOG_INSTALL_CMAKEDIR)

install(TARGETS evlog
  EXPORT evlogTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/evlog"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  FILES_MATCHING PATTERN "*.h")
install(EXPORT evlogTargets
  NAMESPACE evlog::
  FILE evlogTargets.cmake
  DESTINATION "${EVLOG_INSTALL_CMAKEDIR}")

# The config re-finds every dependency the way this build found it: with
# find_dependency(... CONFIG) where a CMake config was used; Debian's xxHash
# has none, and is found through pkg-config by EvlogDeps.cmake, which the
# config includes next. EvlogDeps.cmake also recreates the two IMPORTED
# targets (evlog_dep_xxhash, evlog_dep_zstd) that a static libevlog's link
# interface names as $<LINK_ONLY:...>.
set(EVLOG_CONFIG_FIND_DEPENDENCIES "find_dependency(absl CONFIG)\n")
if(xxHash_FOUND)
  string(APPEND EVLOG_CONFIG_FIND_DEPENDENCIES "find_dependency(xxHash CONFIG)\n")
endif()
if(zstd_FOUND)
  string(APPEND EVLOG_CONFIG_FIND_DEPENDENCIES "find_dependency(zstd CONFIG)\n")
endif()
# Otherwise EvlogDeps.cmake looks for them through pkg-config (and, for
# xxHash, find_library), as the build did.
string(APPEND EVLOG_CONFIG_FIND_DEPENDENCIES "find_dependency(Threads)\n")

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/evlogConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/evlogConfig.cmake"
  INSTALL_DESTINATION "${EVLOG_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/evlogConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)
install(FILES
    "${PROJECT_BINARY_DIR}/evlogConfig.cmake"
    "${PROJECT_BINARY_DIR}/evlogConfigVersion.cmake"
    "${CMAKE_CURRENT_LIST_DIR}/EvlogDeps.cmake"
  DESTINATION "${EVLOG_INSTALL_CMAKEDIR}")

# Build tree: evlogConfig.cmake, its version file, evlogTargets.cmake and a
# copy of EvlogDeps.cmake side by side in the build directory, so
# -Devlog_DIR=<build dir> works without installing.
export(EXPORT evlogTargets
  NAMESPACE evlog::
  FILE "${PROJECT_BINARY_DIR}/evlogTargets.cmake")
configure_file("${CMAKE_CURRENT_LIST_DIR}/EvlogDeps.cmake" "${PROJECT_BINARY_DIR}/EvlogDeps.cmake"
               COPYONLY)
