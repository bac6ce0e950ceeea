// Structured logging to stderr, one line per event, in the format deploy/README.md "Logs"
// describes: text by default, "<UTC time> <LEVEL> <file:line>] [key=value ...] message", or one
// JSON object per line (RFC 8259) with MECAI_LOG_FORMAT=json. A line carries the fields of the
// thread's log context (ScopedLogContext, e.g. the vr_id of the Vouching Request being decided)
// and, for security events, an `event` field (MECAI_LOG_EVENT). The installed Abseil predates
// absl/log. Never log secrets: PINs, private keys, approval codes.
#ifndef MECAI_COMMON_BASE_LOGGING_H_
#define MECAI_COMMON_BASE_LOGGING_H_

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace mecai {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below this level are dropped. Default kInfo; MECAI_LOG_LEVEL=debug|info|warning|error.
void SetMinimumLogLevel(LogLevel level);
bool LogLevelEnabled(LogLevel level);

enum class LogFormat { kText = 0, kJson = 1 };

// Default kText; MECAI_LOG_FORMAT=json selects kJson (any other value: text).
void SetLogFormat(LogFormat format);
LogFormat CurrentLogFormat();

// The JSON lines' "component" (default: the program's name, e.g. "coordinator").
void SetLogComponent(const std::string& component);

// Key-value fields of a log line, in order.
using LogFields = std::vector<std::pair<std::string, std::string>>;

// Adds `fields` to every line the constructing thread writes until destruction; contexts nest
// (inner fields follow outer ones). Code that hands work to another thread passes
// CurrentLogContext() there and opens a ScopedLogContext with it. Keys are lower-case words; the
// JSON members time, level, component, source and message are reserved. Not thread-safe: one
// thread constructs and destroys it.
class ScopedLogContext {
 public:
  explicit ScopedLogContext(LogFields fields);
  // One field.
  ScopedLogContext(std::string key, std::string value);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  size_t restore_size_;
};

// The calling thread's context fields.
LogFields CurrentLogContext();

// Renders one line (with its trailing newline) as the format says; what LogLine writes.
std::string FormatLogLine(LogFormat format, absl::Time time, LogLevel level,
                          const std::string& component, const std::string& source,
                          const LogFields& fields, const std::string& message);

// Collects one line and writes it, whole, on destruction. Thread-safe.
class LogLine {
 public:
  // `event` (may be null) names a security event; it becomes the line's `event` field.
  LogLine(LogLevel level, const char* file, int line, const char* event = nullptr);
  ~LogLine();
  std::ostream& stream() { return stream_; }

 private:
  const absl::Time time_;
  const LogLevel level_;
  const char* const file_;
  const int line_;
  const char* const event_;
  std::ostringstream stream_;
};

}  // namespace mecai

#define MECAI_LOG(level)                                        \
  if (!::mecai::LogLevelEnabled(::mecai::LogLevel::k##level)) { \
  } else                                                        \
    ::mecai::LogLine(::mecai::LogLevel::k##level, __FILE__, __LINE__).stream()

// A security event (deploy/README.md "Logs"): the line carries event=`event`, a fixed word such as
// "trust_list_changed".
#define MECAI_LOG_EVENT(level, event)                           \
  if (!::mecai::LogLevelEnabled(::mecai::LogLevel::k##level)) { \
  } else                                                        \
    ::mecai::LogLine(::mecai::LogLevel::k##level, __FILE__, __LINE__, event).stream()

#endif  // MECAI_COMMON_BASE_LOGGING_H_
