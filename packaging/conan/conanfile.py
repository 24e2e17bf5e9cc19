"""Conan 2 recipe for evlog.

From an evlog checkout:

    conan create packaging/conan --build=missing -s compiler.cppstd=20

then, in a consumer's conanfile.txt: ``[requires] evlog/0.1.0`` with the
CMakeDeps and CMakeToolchain generators, and in its CMakeLists.txt:

    find_package(evlog CONFIG REQUIRED)
    target_link_libraries(app PRIVATE evlog::evlog)

The recipe packages the checkout it lives in (two directories up). The
package build compiles evlog's test suite (Catch2) and micro-benchmarks
(Google Benchmark) and runs the tests, unless ``-c tools.build:skip_test=True``.
"""

import os

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, rmdir

required_conan_version = ">=2.0"


class EvlogConan(ConanFile):
    name = "evlog"
    version = "0.1.0"
    description = ("Embeddable C++20 event log with Kafka's semantics: partitions, "
                   "offsets, replication, consumer groups, transactions")
    license = "Apache-2.0"
    homepage = "https://github.com/evlog/evlog"
    url = "https://github.com/evlog/evlog"
    topics = ("event-log", "kafka", "streaming", "replication", "embedded")
    # evlog's headers have no dllexport annotations yet: a static library only.
    package_type = "static-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"fPIC": [True, False]}
    default_options = {"fPIC": True}

    # Source files of the checkout this recipe belongs to.
    _source_patterns = ("CMakeLists.txt", "LICENSE", "cmake/*", "include/*", "src/*",
                        "tests/*", "bench/*", "examples/*")

    @property
    def _source_root(self):
        return os.path.join(self.recipe_folder, os.pardir, os.pardir)

    @property
    def _build_tests(self):
        return not self.conf.get("tools.build:skip_test", default=False, check_type=bool)

    def export_sources(self):
        for pattern in self._source_patterns:
            copy(self, pattern, src=self._source_root, dst=self.export_sources_folder)

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # evlog's public headers include Abseil's (absl::Status everywhere);
        # xxHash and zstd are used only inside the library.
        self.requires("abseil/20250127.0", transitive_headers=True)
        self.requires("xxhash/0.8.3")
        self.requires("zstd/1.5.7")

    def build_requirements(self):
        if self._build_tests:
            self.test_requires("catch2/3.15.3")
            self.test_requires("benchmark/1.9.5")

    def validate(self):
        check_min_cppstd(self, 20)

    def generate(self):
        CMakeDeps(self).generate()
        tc = CMakeToolchain(self)
        tc.cache_variables["EVLOG_BUILD_TESTS"] = self._build_tests
        tc.cache_variables["EVLOG_BUILD_BENCHMARKS"] = self._build_tests
        tc.cache_variables["EVLOG_BUILD_EXAMPLES"] = False
        tc.cache_variables["EVLOG_BUILD_FUZZERS"] = False
        tc.cache_variables["EVLOG_INSTALL"] = True
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()
        if self._build_tests:
            # The packaging/* tests build further CMake projects; they are
            # covered by evlog's own CI, not by a package build.
            self.run(f"ctest --output-on-failure --label-exclude packaging -C {self.settings.build_type}",
                     cwd=self.build_folder)

    def package(self):
        copy(self, "LICENSE", src=self.source_folder,
             dst=os.path.join(self.package_folder, "licenses"))
        CMake(self).install()
        # Conan's CMakeDeps writes the consumer-side config from package_info().
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "evlog")
        self.cpp_info.set_property("cmake_target_name", "evlog::evlog")
        self.cpp_info.libs = ["evlog"]
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread", "m"]
