# Overlay port for evlog. It builds the evlog checkout this port lives in
# (packaging/vcpkg/evlog -> ../../..), or the tree named by the environment
# variable EVLOG_SOURCE_DIR:
#
#   vcpkg install evlog --overlay-ports=<evlog>/packaging/vcpkg
#
# or, in a project's vcpkg-configuration.json: "overlay-ports": ["<evlog>/packaging/vcpkg"].
# A registry port would fetch a release instead, with vcpkg_from_github(REPO
# evlog/evlog REF "v${VERSION}" SHA512 <archive hash>).

# evlog's headers carry no dllexport annotations yet.
vcpkg_check_linkage(ONLY_STATIC_LIBRARY)

if(DEFINED ENV{EVLOG_SOURCE_DIR})
  file(TO_CMAKE_PATH "$ENV{EVLOG_SOURCE_DIR}" SOURCE_PATH)
else()
  get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
endif()
if(NOT EXISTS "${SOURCE_PATH}/include/evlog/evlog.h")
  message(FATAL_ERROR "evlog sources not found at ${SOURCE_PATH} (set EVLOG_SOURCE_DIR)")
endif()

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DEVLOG_BUILD_TESTS=OFF
    -DEVLOG_BUILD_BENCHMARKS=OFF
    -DEVLOG_BUILD_EXAMPLES=OFF
    -DEVLOG_BUILD_FUZZERS=OFF
    -DEVLOG_INSTALL=ON)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME evlog CONFIG_PATH lib/cmake/evlog)

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/include" "${CURRENT_PACKAGES_DIR}/debug/share")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
