// evlog_demo — what evlog gives an application, in one screen.
//
// For now this shows the foundation every component is built on: errors that
// carry Kafka's error codes, strong offset types, and injected clocks. It
// grows into a SegmentedLog (and later a Producer/Consumer) demo as those
// layers land.
//
//   ./scripts/demo.sh                  # builds the release preset and runs this
//   build/release/examples/evlog_demo  # afterwards
#include <cstdint>
#include <cstdio>
#include <string>

#include "evlog/evlog.h"

namespace {

// A stand-in for a log read: offsets past the end are an error the caller
// can recognise by its Kafka code, not by parsing a message.
absl::StatusOr<std::string> ReadAt(evlog::Offset offset, evlog::Offset log_end) {
  if (offset >= log_end) {
    return evlog::MakeError(evlog::ErrorCode::kOffsetOutOfRange,
                            "offset " + std::to_string(offset.value()) + " is past the log end " +
                                std::to_string(log_end.value()));
  }
  return "record@" + std::to_string(offset.value());
}

}  // namespace

int main() {
  std::printf("evlog %s demo\n\n", evlog::kVersionString);

  const evlog::Offset log_end{3};
  for (evlog::Offset offset{0}; offset <= log_end; ++offset) {
    absl::StatusOr<std::string> record = ReadAt(offset, log_end);
    if (record.ok()) {
      std::printf("  read offset %lld -> %s\n", static_cast<long long>(offset.value()),
                  record->c_str());
    } else {
      const evlog::ErrorCode code = evlog::GetErrorCode(record.status());
      std::printf("  read offset %lld -> %.*s (Kafka error %d, retriable: %s)\n",
                  static_cast<long long>(offset.value()),
                  static_cast<int>(evlog::ErrorCodeName(code).size()),
                  evlog::ErrorCodeName(code).data(), static_cast<int>(code),
                  evlog::IsRetriable(code) ? "yes" : "no");
    }
  }

  // Components take time from a Clock; tests drive a ManualClock by hand.
  evlog::ManualClock manual(/*wall_ms=*/1'700'000'000'000);
  manual.AdvanceMs(30'000);
  const evlog::SystemClock& system = evlog::SystemClock::Default();
  std::printf("\n  system clock: wall %lld ms since the epoch\n",
              static_cast<long long>(system.WallMs()));
  std::printf("  manual clock: wall %lld ms after advancing 30 s\n",
              static_cast<long long>(manual.WallMs()));
  return 0;
}
