#include "approval/testing/chromium.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"

namespace mecai {
namespace testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr absl::Duration kCommandTimeout = absl::Seconds(30);
constexpr char kMarker[] = "__mecaiPreviousDocument";

Struct Params(std::vector<std::pair<std::string, Value>> fields) {
  Struct params;
  for (auto& [name, value] : fields) (*params.mutable_fields())[name] = std::move(value);
  return params;
}

Value StringValue(const std::string& text) {
  Value value;
  value.set_string_value(text);
  return value;
}

Value BoolValue(bool flag) {
  Value value;
  value.set_bool_value(flag);
  return value;
}

Value NumberValue(double number) {
  Value value;
  value.set_number_value(number);
  return value;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Chromium>> Chromium::Start(const std::string& directory) {
  int to_browser[2];
  int from_browser[2];
  if (pipe2(to_browser, O_CLOEXEC) != 0 || pipe2(from_browser, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe2 failed");
  }
  std::unique_ptr<Chromium> browser(new Chromium());
  browser->log_path_ = directory + "/chromium.log";
  const std::vector<std::string> arguments = {
      "chromium",
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--disable-dev-shm-usage",
      "--user-data-dir=" + directory + "/profile",
      "--remote-debugging-pipe",
      "about:blank",
  };
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    setpgid(0, 0);
    const int log = open(browser->log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    const int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    // fd 3: commands in; fd 4: replies out (dup2 clears O_CLOEXEC on the copies).
    const int command_in = fcntl(to_browser[0], F_DUPFD, 10);
    const int reply_out = fcntl(from_browser[1], F_DUPFD, 10);
    dup2(command_in, 3);
    dup2(reply_out, 4);
    std::vector<char*> argv;
    for (const std::string& argument : arguments)
      argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    execvp("chromium", argv.data());
    _exit(127);
  }
  setpgid(pid, pid);
  close(to_browser[0]);
  close(from_browser[1]);
  browser->pid_ = pid;
  browser->to_browser_ = to_browser[1];
  browser->from_browser_ = from_browser[0];

  auto target = browser->Send("Target.createTarget", Params({{"url", StringValue("about:blank")}}),
                              /*session=*/false);
  if (!target.ok()) return target.status();
  const std::string target_id = target->fields().at("targetId").string_value();
  auto attached =
      browser->Send("Target.attachToTarget",
                    Params({{"targetId", StringValue(target_id)}, {"flatten", BoolValue(true)}}),
                    /*session=*/false);
  if (!attached.ok()) return attached.status();
  browser->session_id_ = attached->fields().at("sessionId").string_value();
  auto enabled = browser->Send("Page.enable", Struct());
  if (!enabled.ok()) return enabled.status();
  return browser;
}

Chromium::~Chromium() {
  if (to_browser_ >= 0) close(to_browser_);
  if (from_browser_ >= 0) close(from_browser_);
  if (pid_ > 0) {
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

absl::StatusOr<Struct> Chromium::Send(const std::string& method, const Struct& params,
                                      bool session) {
  const int id = next_id_++;
  Struct command;
  (*command.mutable_fields())["id"].set_number_value(id);
  (*command.mutable_fields())["method"].set_string_value(method);
  *(*command.mutable_fields())["params"].mutable_struct_value() = params;
  if (session) (*command.mutable_fields())["sessionId"].set_string_value(session_id_);
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(command, &json).ok()) {
    return absl::InternalError("cannot encode a DevTools command");
  }
  json.push_back('\0');
  for (size_t written = 0; written < json.size();) {
    const ssize_t n = write(to_browser_, json.data() + written, json.size() - written);
    if (n <= 0) return absl::UnavailableError("the browser closed its command pipe");
    written += n;
  }
  const absl::Time deadline = absl::Now() + kCommandTimeout;
  while (true) {
    size_t end;
    while ((end = buffer_.find('\0')) != std::string::npos) {
      const std::string message = buffer_.substr(0, end);
      buffer_.erase(0, end + 1);
      Struct reply;
      if (!google::protobuf::util::JsonStringToMessage(message, &reply).ok()) continue;
      auto reply_id = reply.fields().find("id");
      if (reply_id == reply.fields().end() || reply_id->second.number_value() != id) continue;
      auto error = reply.fields().find("error");
      if (error != reply.fields().end()) {
        std::string text;
        (void)google::protobuf::util::MessageToJsonString(error->second, &text);
        return absl::InternalError(absl::StrCat(method, " failed: ", text));
      }
      return reply.fields().at("result").struct_value();
    }
    const int64_t wait = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait <= 0) return absl::DeadlineExceededError(absl::StrCat(method, ": no reply"));
    pollfd poll_fd = {from_browser_, POLLIN, 0};
    if (poll(&poll_fd, 1, static_cast<int>(wait)) <= 0) continue;
    char chunk[65536];
    const ssize_t n = read(from_browser_, chunk, sizeof(chunk));
    if (n <= 0) return absl::UnavailableError("the browser exited");
    buffer_.append(chunk, n);
  }
}

absl::StatusOr<Value> Chromium::Evaluate(const std::string& expression) {
  auto reply = Send("Runtime.evaluate", Params({{"expression", StringValue(expression)},
                                                {"awaitPromise", BoolValue(true)},
                                                {"returnByValue", BoolValue(true)}}));
  if (!reply.ok()) return reply.status();
  auto exception = reply->fields().find("exceptionDetails");
  if (exception != reply->fields().end()) {
    std::string text;
    (void)google::protobuf::util::MessageToJsonString(exception->second, &text);
    return absl::InternalError(absl::StrCat("the page threw: ", text));
  }
  const Struct& result = reply->fields().at("result").struct_value();
  auto value = result.fields().find("value");
  if (value == result.fields().end()) return Value();
  return value->second;
}

absl::StatusOr<std::string> Chromium::EvaluateString(const std::string& expression) {
  auto value = Evaluate(expression);
  if (!value.ok()) return value.status();
  if (value->kind_case() != Value::kStringValue) {
    return absl::InternalError(absl::StrCat("not a string: ", expression));
  }
  return value->string_value();
}

absl::Status Chromium::WaitForNewDocument() {
  const absl::Time deadline = absl::Now() + kCommandTimeout;
  while (absl::Now() < deadline) {
    auto loaded = Evaluate(absl::StrCat("typeof window.", kMarker,
                                        " === 'undefined' && document.readyState === 'complete'"));
    if (loaded.ok() && loaded->bool_value()) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("the page did not load");
}

absl::Status Chromium::RunAndWaitForNavigation(const std::string& action) {
  auto marked = Evaluate(absl::StrCat("window.", kMarker, " = true"));
  if (!marked.ok()) return marked.status();
  auto ran = Evaluate(action);
  if (!ran.ok()) return ran.status();
  return WaitForNewDocument();
}

absl::Status Chromium::Navigate(const std::string& url) {
  auto marked = Evaluate(absl::StrCat("window.", kMarker, " = true"));
  if (!marked.ok()) return marked.status();
  auto navigated = Send("Page.navigate", Params({{"url", StringValue(url)}}));
  if (!navigated.ok()) return navigated.status();
  return WaitForNewDocument();
}

absl::Status Chromium::EmulateScreen(int width, int height, bool mobile) {
  auto metrics = Send("Emulation.setDeviceMetricsOverride",
                      Params({{"width", NumberValue(width)},
                              {"height", NumberValue(height)},
                              {"deviceScaleFactor", NumberValue(mobile ? 3 : 1)},
                              {"mobile", BoolValue(mobile)}}));
  if (!metrics.ok()) return metrics.status();
  auto touch = Send("Emulation.setTouchEmulationEnabled", Params({{"enabled", BoolValue(mobile)}}));
  return touch.status();
}

absl::Status Chromium::Screenshot(const std::string& path) {
  auto shot =
      Send("Page.captureScreenshot",
           Params({{"format", StringValue("png")}, {"captureBeyondViewport", BoolValue(true)}}));
  if (!shot.ok()) return shot.status();
  std::string png;
  if (!absl::Base64Unescape(shot->fields().at("data").string_value(), &png)) {
    return absl::InternalError("the screenshot is not base64");
  }
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << png;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status Chromium::PressEnter() {
  for (const char* type : {"keyDown", "keyUp"}) {
    std::vector<std::pair<std::string, Value>> fields = {{"type", StringValue(type)},
                                                         {"key", StringValue("Enter")},
                                                         {"code", StringValue("Enter")},
                                                         {"windowsVirtualKeyCode", NumberValue(13)},
                                                         {"nativeVirtualKeyCode", NumberValue(13)}};
    if (std::string(type) == "keyDown") fields.emplace_back("text", StringValue("\r"));
    auto sent = Send("Input.dispatchKeyEvent", Params(std::move(fields)));
    if (!sent.ok()) return sent.status();
  }
  return absl::OkStatus();
}

absl::Status Chromium::PressEnterAndWaitForNavigation() {
  auto marked = Evaluate(absl::StrCat("window.", kMarker, " = true"));
  if (!marked.ok()) return marked.status();
  absl::Status pressed = PressEnter();
  if (!pressed.ok()) return pressed;
  return WaitForNewDocument();
}

}  // namespace testing
}  // namespace mecai
