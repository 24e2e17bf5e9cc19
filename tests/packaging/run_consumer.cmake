# cmake -P script: configures, builds and runs one consumer project of evlog.
#
# Inputs (-D):
#   EVLOG_MODE              install | build_tree | subdirectory
#   EVLOG_BUILD_DIR         evlog's build tree (install, build_tree)
#   EVLOG_SOURCE_DIR        evlog's source tree (subdirectory)
#   EVLOG_CONSUMER_SOURCE   the consumer project
#   EVLOG_WORK_DIR          scratch directory, wiped first
#   EVLOG_GENERATOR, EVLOG_MAKE_PROGRAM, EVLOG_CXX_COMPILER, EVLOG_CONFIG
#                           the outer build's generator, compiler, configuration
#   EVLOG_FLAGS             extra compile and link flags (sanitizers), may be empty;
#                           used where the consumer links the outer build's libevlog
#   EVLOG_EXPECTED_VERSION  evlog's project() version
cmake_minimum_required(VERSION 3.25)

foreach(var EVLOG_MODE EVLOG_CONSUMER_SOURCE EVLOG_WORK_DIR EVLOG_GENERATOR EVLOG_CXX_COMPILER
            EVLOG_EXPECTED_VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT EVLOG_CONFIG)
  set(EVLOG_CONFIG Release)
endif()

# run(<description> <command>...): runs a command, echoing it, and fails the
# test with its output when it fails.
function(run description)
  message(STATUS "${description}: ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${description} failed (${rc}):\n${out}")
  endif()
endfunction()

file(REMOVE_RECURSE "${EVLOG_WORK_DIR}")
file(MAKE_DIRECTORY "${EVLOG_WORK_DIR}")
set(consumer_build "${EVLOG_WORK_DIR}/build")

set(configure_args
  -S "${EVLOG_CONSUMER_SOURCE}" -B "${consumer_build}"
  -G "${EVLOG_GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${EVLOG_CXX_COMPILER}"
  "-DCMAKE_BUILD_TYPE=${EVLOG_CONFIG}"
  "-DCMAKE_CXX_FLAGS=${EVLOG_FLAGS}"
  "-DCMAKE_EXE_LINKER_FLAGS=${EVLOG_FLAGS}"
  "-DEVLOG_EXPECTED_VERSION=${EVLOG_EXPECTED_VERSION}"
  # Only the consumer's own settings: nothing from a user's package registry.
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(EVLOG_MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${EVLOG_MAKE_PROGRAM}")
endif()

if(EVLOG_MODE STREQUAL "install")
  set(prefix "${EVLOG_WORK_DIR}/prefix")
  run("install evlog" "${CMAKE_COMMAND}" --install "${EVLOG_BUILD_DIR}" --prefix "${prefix}"
      --config "${EVLOG_CONFIG}")
  foreach(f include/evlog/evlog.h include/evlog/version.h)
    if(NOT EXISTS "${prefix}/${f}")
      message(FATAL_ERROR "the install has no ${f}")
    endif()
  endforeach()
  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${prefix}")
elseif(EVLOG_MODE STREQUAL "build_tree")
  list(APPEND configure_args "-Devlog_DIR=${EVLOG_BUILD_DIR}")
elseif(EVLOG_MODE STREQUAL "subdirectory")
  # What can break here is CMake: the options evlog defaults to OFF as a
  # subproject, the targets it must not define, evlog::evlog and its usage
  # requirements. Configuring checks the first ones (the consumer's
  # CMakeLists fails otherwise) and compiling the consumer's source against
  # evlog::evlog checks the last. Linking would compile all of src/ again,
  # minutes of CI for code the other two consumers already link, through the
  # same target definitions; so with Ninja this mode builds the one object
  # file, without the outer build's type and sanitizer flags.
  list(APPEND configure_args "-DEVLOG_SOURCE_DIR=${EVLOG_SOURCE_DIR}" "-DCMAKE_BUILD_TYPE="
       "-DCMAKE_CXX_FLAGS=" "-DCMAKE_EXE_LINKER_FLAGS=")
else()
  message(FATAL_ERROR "unknown EVLOG_MODE '${EVLOG_MODE}'")
endif()

run("configure consumer" "${CMAKE_COMMAND}" ${configure_args})
if(EVLOG_MODE STREQUAL "subdirectory" AND EVLOG_GENERATOR MATCHES "Ninja")
  # (Ninja names object files as build targets; other generators build it all.)
  set(object "CMakeFiles/evlog_consumer.dir/consumer_main.cc.o")
  run("compile consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" --target "${object}")
  if(NOT EXISTS "${consumer_build}/${object}")
    message(FATAL_ERROR "compiling the consumer produced no ${object}")
  endif()
  message(STATUS "subdirectory consumer: OK (configured, compiled against evlog::evlog)")
  return()
endif()
run("build consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" --config "${EVLOG_CONFIG}")

find_program(consumer_exe NAMES evlog_consumer
             PATHS "${consumer_build}" "${consumer_build}/${EVLOG_CONFIG}" NO_DEFAULT_PATH)
if(NOT consumer_exe)
  message(FATAL_ERROR "the consumer build produced no evlog_consumer executable")
endif()
execute_process(COMMAND "${consumer_exe}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message(STATUS "${consumer_exe}:\n${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the consumer failed (${rc})")
endif()
message(STATUS "${EVLOG_MODE} consumer: OK")
