// Private path helpers shared by the io layer's file systems.
#pragma once

#include <string>
#include <string_view>

namespace evlog::internal {

// The lexical normal form of `path`: repeated and trailing '/' and "."
// components dropped, ".." applied to the component before it ("/.." stays
// "/"). Absolute paths keep their leading '/'; the empty relative path is ".".
// In-memory and fault-injecting file systems key their tables by this form so
// that "/d/x", "/d//x" and "/d/./x" name the same file.
std::string NormalizePath(std::string_view path);

}  // namespace evlog::internal
