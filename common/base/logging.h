// Minimal structured logging to stderr: one line per event, "<UTC time> <LEVEL> <file:line>] text".
// The installed Abseil predates absl/log. Never log secrets: PINs, private keys, approval codes.
#ifndef MECAI_COMMON_BASE_LOGGING_H_
#define MECAI_COMMON_BASE_LOGGING_H_

#include <sstream>

namespace mecai {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below this level are dropped. Default kInfo; MECAI_LOG_LEVEL=debug|info|warning|error.
void SetMinimumLogLevel(LogLevel level);
bool LogLevelEnabled(LogLevel level);

// Collects one line and writes it, whole, on destruction. Thread-safe.
class LogLine {
 public:
  LogLine(LogLevel level, const char* file, int line);
  ~LogLine();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace mecai

#define MECAI_LOG(level)                                        \
  if (!::mecai::LogLevelEnabled(::mecai::LogLevel::k##level)) { \
  } else                                                        \
    ::mecai::LogLine(::mecai::LogLevel::k##level, __FILE__, __LINE__).stream()

#endif  // MECAI_COMMON_BASE_LOGGING_H_
