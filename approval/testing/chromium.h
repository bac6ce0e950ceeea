// A real headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
// the browser reads NUL-terminated JSON commands on fd 3 and writes replies and events on fd 4),
// for tests of the certapproval page (ARCHITECTURE.md §7: "The page is tested in a real headless
// Chromium"). No network client, no WebSocket, no package from outside Debian.
#ifndef MECAI_APPROVAL_TESTING_CHROMIUM_H_
#define MECAI_APPROVAL_TESTING_CHROMIUM_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"

namespace mecai {
namespace testing {

// Not thread-safe; one owner. Destruction kills the browser's process group.
class Chromium {
 public:
  // Starts /usr/bin/chromium headless with a fresh profile under `directory` and opens one page.
  static absl::StatusOr<std::unique_ptr<Chromium>> Start(const std::string& directory);
  ~Chromium();

  // Navigates the page to `url` and waits until the new document has loaded.
  absl::Status Navigate(const std::string& url);
  // Runs `expression` (awaiting a promise) in the page; its value as JSON-like Value.
  absl::StatusOr<google::protobuf::Value> Evaluate(const std::string& expression);
  // Evaluate for expressions whose value is a string.
  absl::StatusOr<std::string> EvaluateString(const std::string& expression);
  // Runs `action` (which starts a navigation, e.g. a click on a submit button) and waits until the
  // next document has loaded.
  absl::Status RunAndWaitForNavigation(const std::string& action);

  // Emulates a screen of `width` x `height` CSS pixels (Emulation.setDeviceMetricsOverride); with
  // `mobile`, a phone: device scale 3, the viewport meta tag honoured, touch events.
  absl::Status EmulateScreen(int width, int height, bool mobile);
  // Writes a PNG of the whole page (beyond the viewport) to `path`.
  absl::Status Screenshot(const std::string& path);
  // Presses and releases Enter in the focused element, as a keyboard does (Input.dispatchKeyEvent).
  absl::Status PressEnter();
  // PressEnter, then waits until the next document has loaded.
  absl::Status PressEnterAndWaitForNavigation();

  const std::string& log_path() const { return log_path_; }

 private:
  Chromium() = default;
  // Sends one command (on the page's session when `session` is set) and waits for its reply.
  absl::StatusOr<google::protobuf::Struct> Send(const std::string& method,
                                                const google::protobuf::Struct& params,
                                                bool session = true);
  absl::Status WaitForNewDocument();

  pid_t pid_ = -1;
  int to_browser_ = -1;
  int from_browser_ = -1;
  std::string buffer_;
  int next_id_ = 1;
  std::string session_id_;
  std::string log_path_;
};

}  // namespace testing
}  // namespace mecai

#endif  // MECAI_APPROVAL_TESTING_CHROMIUM_H_
