// The one way tests include Catch2: Debian ships v2 (single header), vcpkg
// and Conan ship v3 (split headers). CMake passes EVLOG_CATCH2_MAJOR; the
// __has_include fallback covers builds that do not.
#pragma once

#if !defined(EVLOG_CATCH2_MAJOR)
#if __has_include(<catch2/catch_test_macros.hpp>)
#define EVLOG_CATCH2_MAJOR 3
#else
#define EVLOG_CATCH2_MAJOR 2
#endif
#endif

#if EVLOG_CATCH2_MAJOR >= 3
#include <catch2/catch_approx.hpp>
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
using Catch::Approx;
#else
#include <catch2/catch.hpp>
#endif
