#include "common/base/logging.h"

#include <errno.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace mecai {
namespace {

LogLevel LevelFromEnvironment() {
  const char* value = std::getenv("MECAI_LOG_LEVEL");
  if (value == nullptr) return LogLevel::kInfo;
  if (std::strcmp(value, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(value, "warning") == 0) return LogLevel::kWarning;
  if (std::strcmp(value, "error") == 0) return LogLevel::kError;
  return LogLevel::kInfo;
}

LogFormat FormatFromEnvironment() {
  const char* value = std::getenv("MECAI_LOG_FORMAT");
  return value != nullptr && std::strcmp(value, "json") == 0 ? LogFormat::kJson : LogFormat::kText;
}

std::atomic<int>& MinimumLevel() {
  static std::atomic<int> level{static_cast<int>(LevelFromEnvironment())};
  return level;
}

std::atomic<int>& Format() {
  static std::atomic<int> format{static_cast<int>(FormatFromEnvironment())};
  return format;
}

struct Component {
  absl::Mutex mutex;
  std::string name ABSL_GUARDED_BY(mutex) = program_invocation_short_name;
};

Component& TheComponent() {
  static Component* const component = new Component();
  return *component;
}

std::string ComponentName() {
  Component& component = TheComponent();
  absl::ReaderMutexLock lock(&component.mutex);
  return component.name;
}

// The thread's context fields; ScopedLogContext appends and truncates.
LogFields& ThreadContext() {
  thread_local LogFields fields;
  return fields;
}

const char* LevelName(LogLevel level) {
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
  return "INFO";
}

// The length of the well-formed UTF-8 sequence (RFC 3629 §4) at text[i], or 0.
size_t Utf8SequenceLength(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length;
  unsigned char low = 0x80, high = 0xbf;  // Bounds of the second byte.
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;  // No surrogates.
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return length;
}

// A JSON string (RFC 8259 §7): quotes, backslash and control characters escaped; bytes that are
// not UTF-8 become U+FFFD, so every line is valid JSON whatever a peer sent.
void AppendJsonString(const std::string& text, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out->append(escaped);
    } else {
      const size_t length = Utf8SequenceLength(text, i);
      if (length == 0) {
        out->append("\\ufffd");
        ++i;
        continue;
      }
      out->append(text, i, length);
      i += length;
      continue;
    }
    ++i;
  }
  out->push_back('"');
}

// Text lines stay one line: control characters become \n, \r, \t or \xNN.
void AppendTextEscaped(const std::string& text, std::string* out) {
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out->append(escaped);
    } else {
      out->push_back(ch);
    }
  }
}

// key=value; the value in double quotes (with \" and \\) when empty or holding a space, '"', '='
// or '\'.
void AppendTextField(const std::string& key, const std::string& value, std::string* out) {
  out->append(key);
  out->push_back('=');
  const bool quote = value.empty() || value.find_first_of(" \"=\\") != std::string::npos;
  if (!quote) {
    AppendTextEscaped(value, out);
    return;
  }
  out->push_back('"');
  for (const char c : value) {
    if (c == '"' || c == '\\') out->push_back('\\');
    AppendTextEscaped(std::string(1, c), out);
  }
  out->push_back('"');
}

}  // namespace

void SetMinimumLogLevel(LogLevel level) { MinimumLevel().store(static_cast<int>(level)); }

bool LogLevelEnabled(LogLevel level) { return static_cast<int>(level) >= MinimumLevel().load(); }

void SetLogFormat(LogFormat format) { Format().store(static_cast<int>(format)); }

LogFormat CurrentLogFormat() { return static_cast<LogFormat>(Format().load()); }

void SetLogComponent(const std::string& component) {
  Component& the_component = TheComponent();
  absl::MutexLock lock(&the_component.mutex);
  the_component.name = component;
}

namespace {

// Adds `key` = `value` to the thread's context unless it is there already. A callback that runs
// where its context is already set (a VR's step on the thread that started it, or a context carried
// to another thread and restored inside a step that set it again) names the field once: a JSON line
// may not hold one key twice.
void AddToContext(LogFields& context, std::string key, std::string value) {
  for (const auto& field : context) {
    if (field.first == key && field.second == value) return;
  }
  context.emplace_back(std::move(key), std::move(value));
}

}  // namespace

ScopedLogContext::ScopedLogContext(LogFields fields) : restore_size_(ThreadContext().size()) {
  LogFields& context = ThreadContext();
  for (auto& field : fields) AddToContext(context, std::move(field.first), std::move(field.second));
}

ScopedLogContext::ScopedLogContext(std::string key, std::string value)
    : restore_size_(ThreadContext().size()) {
  AddToContext(ThreadContext(), std::move(key), std::move(value));
}

ScopedLogContext::~ScopedLogContext() { ThreadContext().resize(restore_size_); }

LogFields CurrentLogContext() { return ThreadContext(); }

std::string FormatLogLine(LogFormat format, absl::Time time, LogLevel level,
                          const std::string& component, const std::string& source,
                          const LogFields& fields, const std::string& message) {
  const std::string timestamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  std::string out;
  if (format == LogFormat::kJson) {
    out = absl::StrCat("{\"time\":\"", timestamp, "\",\"level\":\"", LevelName(level),
                       "\",\"component\":");
    AppendJsonString(component, &out);
    out.append(",\"source\":");
    AppendJsonString(source, &out);
    out.append(",\"message\":");
    AppendJsonString(message, &out);
    for (const auto& [key, value] : fields) {
      out.push_back(',');
      AppendJsonString(key, &out);
      out.push_back(':');
      AppendJsonString(value, &out);
    }
    out.append("}\n");
    return out;
  }
  out = absl::StrCat(timestamp, " ", LevelName(level), " ", source, "] ");
  for (const auto& [key, value] : fields) {
    AppendTextField(key, value, &out);
    out.push_back(' ');
  }
  AppendTextEscaped(message, &out);
  out.push_back('\n');
  return out;
}

LogLine::LogLine(LogLevel level, const char* file, int line, const char* event)
    : time_(absl::Now()), level_(level), file_(file), line_(line), event_(event) {}

LogLine::~LogLine() {
  const char* base = std::strrchr(file_, '/');
  LogFields fields = ThreadContext();
  if (event_ != nullptr) fields.emplace_back("event", event_);
  const LogFormat format = CurrentLogFormat();
  const std::string text = FormatLogLine(
      format, time_, level_, format == LogFormat::kJson ? ComponentName() : std::string(),
      absl::StrCat(base != nullptr ? base + 1 : file_, ":", line_), fields, stream_.str());
  std::fwrite(text.data(), 1, text.size(), stderr);  // One write: lines from threads stay whole.
}

}  // namespace mecai
