// evlog/io/log_sink.h — where evlog's own diagnostics go.
//
// evlog forces no logging library on its users: components report through
// a LogSink the application passes in (the broker's options), at a level,
// with the component's name. The default sink drops everything;
// StderrLogSink prints at or above a level; an application adapts its own
// logger with a few lines:
//
//   class MyLogSink final : public evlog::LogSink {
//     void Log(evlog::LogLevel level, std::string_view component,
//              std::string_view message) override { spdlog::info(...); }
//   };
//
// Thread-safety: Log() is called from any thread, concurrently; an
// implementation must be thread-safe. It should not block for long: it
// may be called on an append path (recovery reports, errors).
#pragma once

#include <cstdint>
#include <mutex>
#include <string_view>

namespace evlog {

enum class LogLevel : int8_t { kDebug, kInfo, kWarning, kError };

// "DEBUG", "INFO", "WARNING", "ERROR".
std::string_view LogLevelName(LogLevel level);

class LogSink {
 public:
  virtual ~LogSink() = default;
  // One message, without a trailing newline. `component` names the
  // reporting part ("broker", "producer", "orders-2", ...).
  virtual void Log(LogLevel level, std::string_view component, std::string_view message) = 0;
  // False for levels the sink drops, so callers can skip formatting.
  virtual bool Enabled(LogLevel /*level*/) const { return true; }
};

// Drops everything: the default.
class NullLogSink final : public LogSink {
 public:
  void Log(LogLevel, std::string_view, std::string_view) override {}
  bool Enabled(LogLevel) const override { return false; }
  // A process-wide instance.
  static NullLogSink& Default();
};

// Writes "LEVEL component: message" lines to stderr, at or above a level.
class StderrLogSink final : public LogSink {
 public:
  explicit StderrLogSink(LogLevel min_level = LogLevel::kInfo) : min_level_(min_level) {}
  void Log(LogLevel level, std::string_view component, std::string_view message) override;
  bool Enabled(LogLevel level) const override { return level >= min_level_; }

 private:
  const LogLevel min_level_;
  std::mutex mu_;  // keeps lines whole
};

}  // namespace evlog
