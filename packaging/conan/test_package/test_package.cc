// Conan test_package: links evlog::evlog and checks one real call.
#include <cstdio>
#include <string>

#include "evlog/evlog.h"

int main() {
  const absl::Status s = evlog::MakeError(evlog::ErrorCode::kNotEnoughReplicas, "1 of 3 in sync");
  if (evlog::GetErrorCode(s) != evlog::ErrorCode::kNotEnoughReplicas) return 1;
  std::printf("evlog %s: %s\n", evlog::kVersionString, std::string(s.message()).c_str());
  return 0;
}
