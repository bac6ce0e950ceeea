// Both log formats (deploy/README.md "Logs"): the text line and the JSON object per line, which a
// JSON parser (protobuf's, RFC 8259) reads back field for field whatever bytes the message holds;
// the thread's log context on every line, also after it is handed to another thread.
#include "common/base/logging.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/base/files.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

const absl::Time kTime = absl::FromUnixMillis(1796558400123);  // 2026-12-06T12:00:00.123Z

// The JSON members of one line, all strings.
std::map<std::string, std::string> ParseJsonLine(const std::string& line) {
  google::protobuf::Struct object;
  const auto parsed = google::protobuf::util::JsonStringToMessage(line, &object);
  EXPECT_TRUE(parsed.ok()) << parsed.ToString() << " in " << line;
  std::map<std::string, std::string> members;
  for (const auto& [key, value] : object.fields()) {
    EXPECT_EQ(value.kind_case(), google::protobuf::Value::kStringValue) << key;
    members[key] = value.string_value();
  }
  return members;
}

TEST(FormatLogLineTest, TextIsTimeLevelSourceFieldsMessage) {
  EXPECT_EQ(
      FormatLogLine(LogFormat::kText, kTime, LogLevel::kWarning, "coordinator", "coordinator.cc:42",
                    {{"vr_id", "0123456789abcdef"}}, "www.example.com:443 ISSUED record 7"),
      "2026-12-06T12:00:00.123Z WARNING coordinator.cc:42] vr_id=0123456789abcdef "
      "www.example.com:443 ISSUED record 7\n");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kTime, LogLevel::kInfo, "stapler", "stapler.cc:9", {},
                          "no fields"),
            "2026-12-06T12:00:00.123Z INFO stapler.cc:9] no fields\n");
}

// A message or value cannot start a second line or forge a field.
TEST(FormatLogLineTest, TextStaysOneLineAndQuotesValues) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kTime, LogLevel::kError, "signer", "a.cc:1",
                          {{"event", "trust_list_changed"}, {"who", "an \"admin\" = x"}, {"e", ""}},
                          "line one\nline two\r\x01"),
            "2026-12-06T12:00:00.123Z ERROR a.cc:1] event=trust_list_changed "
            "who=\"an \\\"admin\\\" = x\" e=\"\" line one\\nline two\\r\\x01\n");
}

TEST(FormatLogLineTest, JsonParsesBackToEveryField) {
  const std::string line =
      FormatLogLine(LogFormat::kJson, kTime, LogLevel::kInfo, "coordinator", "coordinator.cc:42",
                    {{"vr_id", "0123456789abcdef"}, {"event", "trust_list_changed"}},
                    "www.example.com:443 ISSUED record 7");
  ASSERT_EQ(line.back(), '\n');
  ASSERT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_THAT(
      ParseJsonLine(line),
      ElementsAre(Pair("component", "coordinator"), Pair("event", "trust_list_changed"),
                  Pair("level", "INFO"), Pair("message", "www.example.com:443 ISSUED record 7"),
                  Pair("source", "coordinator.cc:42"), Pair("time", "2026-12-06T12:00:00.123Z"),
                  Pair("vr_id", "0123456789abcdef")));
}

// Quotes, backslashes, control characters and bytes that are not UTF-8 (a peer's error text)
// still make one valid JSON line; valid UTF-8 passes unchanged.
TEST(FormatLogLineTest, JsonEscapesAnyBytes) {
  const std::string message = std::string("say \"hi\" \\ tab\t new\nline \x01 caf\xc3\xa9 ") +
                              "bad \xff \xc3 end \xed\xa0\x80 \xf0\x9f\x94\x92";
  const std::string line = FormatLogLine(LogFormat::kJson, kTime, LogLevel::kDebug, "x\"y",
                                         "f.cc:1", {{"k\n", "v\x7f"}}, message);
  ASSERT_EQ(line.find('\n'), line.size() - 1);
  const auto members = ParseJsonLine(line);
  EXPECT_EQ(members.at("message"),
            "say \"hi\" \\ tab\t new\nline \x01 caf\xc3\xa9 bad \xef\xbf\xbd \xef\xbf\xbd end "
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x94\x92");
  EXPECT_EQ(members.at("component"), "x\"y");
  EXPECT_EQ(members.at("k\n"), "v\x7f");
  EXPECT_EQ(members.at("level"), "DEBUG");
}

// What MECAI_LOG writes to stderr while `body` runs.
template <typename Body>
std::string CapturedStderr(Body body) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/stderr.log";
  fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  FILE* file = fopen(path.c_str(), "w");
  dup2(fileno(file), STDERR_FILENO);
  body();
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  fclose(file);
  return ReadFile(path).value_or("");
}

// The same field set again inside its own scope (a callback run inline on the thread of its VR)
// appears once on a line: JSON lines hold each key once.
TEST(LogContextTest, AFieldSetAgainInItsOwnScopeAppearsOnce) {
  SetLogFormat(LogFormat::kJson);
  SetLogComponent("logging_test");
  const std::string output = CapturedStderr([] {
    ScopedLogContext request("vr_id", "00112233aabbccdd");
    {
      ScopedLogContext again("vr_id", "00112233aabbccdd");
      MECAI_LOG(Info) << "inline callback";
    }
    {
      // A context carried to another thread, restored inside a step that set it again.
      ScopedLogContext carried(CurrentLogContext());
      MECAI_LOG(Info) << "carried context";
    }
    MECAI_LOG(Info) << "after the callback";
  });
  SetLogFormat(LogFormat::kText);
  std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << output;
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find("vr_id"), line.rfind("vr_id")) << line;
    EXPECT_EQ(ParseJsonLine(line).at("vr_id"), "00112233aabbccdd") << line;
  }
}

// Lines inside a context carry its fields, nested contexts add theirs, a thread given the
// captured context carries it too, and nothing is left after the scopes end.
TEST(LogContextTest, EveryLineOfTheScopeCarriesItsFields) {
  SetLogFormat(LogFormat::kJson);
  SetLogComponent("logging_test");
  const std::string output = CapturedStderr([] {
    MECAI_LOG(Info) << "before";
    {
      ScopedLogContext request("vr_id", "00112233aabbccdd");
      MECAI_LOG(Info) << "deciding";
      {
        ScopedLogContext inner("step", "probe");
        MECAI_LOG_EVENT(Warning, "allowlist_refused") << "nested";
      }
      std::thread worker([context = CurrentLogContext()] {
        ScopedLogContext adopted(context);
        MECAI_LOG(Info) << "on another thread";
      });
      worker.join();
      MECAI_LOG(Debug) << "dropped below the minimum level";
    }
    MECAI_LOG(Error) << "after";
  });
  SetLogFormat(LogFormat::kText);
  std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u) << output;
  std::vector<std::map<std::string, std::string>> parsed;
  for (const std::string& line : lines) parsed.push_back(ParseJsonLine(line));
  EXPECT_EQ(parsed[0].at("message"), "before");
  EXPECT_EQ(parsed[0].count("vr_id"), 0u);
  EXPECT_EQ(parsed[0].at("component"), "logging_test");
  EXPECT_EQ(parsed[1].at("message"), "deciding");
  EXPECT_EQ(parsed[1].at("vr_id"), "00112233aabbccdd");
  EXPECT_EQ(parsed[2].at("message"), "nested");
  EXPECT_EQ(parsed[2].at("vr_id"), "00112233aabbccdd");
  EXPECT_EQ(parsed[2].at("step"), "probe");
  EXPECT_EQ(parsed[2].at("event"), "allowlist_refused");
  EXPECT_EQ(parsed[2].at("level"), "WARNING");
  EXPECT_EQ(parsed[3].at("message"), "on another thread");
  EXPECT_EQ(parsed[3].at("vr_id"), "00112233aabbccdd");
  EXPECT_EQ(parsed[3].count("step"), 0u);
  EXPECT_EQ(parsed[4].at("message"), "after");
  EXPECT_EQ(parsed[4].count("vr_id"), 0u);
  EXPECT_EQ(parsed[4].at("level"), "ERROR");
}

}  // namespace
}  // namespace mecai
