// The program both packaging consumers build: it calls real evlog functions
// through the installed (or add_subdirectory'd) package and exits non-zero
// on any wrong answer.
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "evlog/evlog.h"

namespace {

int failures = 0;

void Expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  // Errors: a status made by evlog carries both codes.
  const absl::Status s =
      evlog::MakeError(evlog::ErrorCode::kOffsetOutOfRange, "offset 42 is past the log end 40");
  Expect(!s.ok(), "MakeError returns a non-OK status");
  Expect(s.code() == absl::StatusCode::kOutOfRange, "OFFSET_OUT_OF_RANGE maps to kOutOfRange");
  Expect(evlog::GetErrorCode(s) == evlog::ErrorCode::kOffsetOutOfRange,
         "GetErrorCode recovers OFFSET_OUT_OF_RANGE");
  Expect(evlog::GetErrorCode(absl::OkStatus()) == evlog::ErrorCode::kNone, "OK maps to kNone");
  Expect(evlog::ErrorCodeName(evlog::ErrorCode::kProducerFenced) == "PRODUCER_FENCED",
         "ErrorCodeName(kProducerFenced)");

  // Strong types.
  const evlog::Offset base{40};
  Expect((base + 2) - base == 2, "Offset arithmetic");

  // Clocks.
  evlog::SystemClock& clock = evlog::SystemClock::Default();
  const int64_t t0 = clock.MonotonicNs();
  const int64_t t1 = clock.MonotonicNs();
  Expect(t1 >= t0, "SystemClock is monotonic");
  Expect(clock.WallMs() > int64_t{1'577'836'800'000}, "SystemClock wall time is after 2020");
  evlog::ManualClock manual(/*wall_ms=*/1000);
  manual.AdvanceMs(5);
  Expect(manual.WallMs() == 1005, "ManualClock::AdvanceMs");

  // The headers are the package's version.
  Expect(std::string_view(evlog::kVersionString) == EVLOG_EXPECTED_VERSION_STRING,
         "kVersionString matches the package version");

  if (failures != 0) return 1;
  std::printf("evlog %s consumer OK\n", evlog::kVersionString);
  return 0;
}
