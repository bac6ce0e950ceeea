#include "common/evidence/trust_list_reloader.h"

#include "absl/strings/str_join.h"
#include "common/base/logging.h"

namespace mecai {

TrustListReloader::TrustListReloader(TrustLists& lists, absl::Duration interval)
    : lists_(lists), interval_(interval), thread_([this] { Run(); }) {}

TrustListReloader::~TrustListReloader() {
  stop_.Notify();
  thread_.join();
}

void TrustListReloader::Run() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    std::vector<std::string> errors;
    std::vector<std::string> reloaded = lists_.ReloadChangedFiles(&errors);
    if (!reloaded.empty()) {
      MECAI_LOG_EVENT(Info, "trust_list_reloaded")
          << "reloaded trust lists " << absl::StrJoin(reloaded, ", ")
          << " from their changed files";
    }
    for (const std::string& error : errors)
      MECAI_LOG_EVENT(Error, "trust_list_reload_failed") << error;
  }
}

}  // namespace mecai
