#include "evlog/io/log_sink.h"

#include <cstdio>

namespace evlog {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

NullLogSink& NullLogSink::Default() {
  static NullLogSink sink;
  return sink;
}

void StderrLogSink::Log(LogLevel level, std::string_view component, std::string_view message) {
  if (!Enabled(level)) return;
  const std::string_view name = LogLevelName(level);
  std::lock_guard lock(mu_);
  std::fprintf(stderr, "%.*s %.*s: %.*s\n", static_cast<int>(name.size()), name.data(),
               static_cast<int>(component.size()), component.data(),
               static_cast<int>(message.size()), message.data());
}

}  // namespace evlog
