#include "stapler/serverinfo_publisher.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/process/child_process.h"
#include "common/tls_extension/serverinfo_file.h"

namespace mecai {
namespace {

// A serverinfo file is a few kilobytes (16 VDs of under 1 KiB, docs/VOUCHING_DATA.md §6).
constexpr size_t kMaxServerinfoFileBytes = 1 << 20;

struct HeldVd {
  std::string serialized;
  int64_t issued_at_unix_seconds = 0;
};

}  // namespace

const char* ReloadResultName(ReloadResult result) {
  switch (result) {
    case ReloadResult::kSucceeded:
      return "succeeded";
    case ReloadResult::kFailed:
      return "failed";
    case ReloadResult::kTimedOut:
      return "timed_out";
    case ReloadResult::kNotStarted:
      return "not_started";
  }
  return "not_started";
}

ReloadOutcome RunReloadCommand(const std::vector<std::string>& argv, absl::Duration timeout) {
  if (argv.empty()) return {ReloadResult::kNotStarted, "no command"};
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start(argv, ChildProcess::Options{});
  if (!child.ok()) return {ReloadResult::kNotStarted, std::string(child.status().message())};
  if (!(*child)->WaitForExit(timeout)) {
    (*child)->Stop(absl::Seconds(1));
    return {ReloadResult::kTimedOut,
            absl::StrCat("still running after ", absl::FormatDuration(timeout), ", ",
                         (*child)->ExitDescription())};
  }
  return {(*child)->ExitCode() == 0 ? ReloadResult::kSucceeded : ReloadResult::kFailed,
          (*child)->ExitDescription()};
}

ServerinfoPublisher::ServerinfoPublisher(ServerinfoOptions options, ServerinfoCheckFunction check,
                                         ReloadRunner reload, prometheus::Registry* registry)
    : options_(std::move(options)), check_(std::move(check)), reload_(std::move(reload)) {
  if (registry != nullptr) {
    updates_metric_ = &prometheus::BuildCounter()
                           .Name("mecai_stapler_serverinfo_updates_total")
                           .Help("Serverinfo file updates for stock TLS servers, by outcome")
                           .Register(*registry);
    refused_metric_ = &prometheus::BuildCounter()
                           .Name("mecai_stapler_serverinfo_refused_vds_total")
                           .Help("VDs not written into a serverinfo file, by reason")
                           .Register(*registry);
    reloads_metric_ = &prometheus::BuildCounter()
                           .Name("mecai_stapler_reloads_total")
                           .Help("Runs of the TLS server's reload command, by result")
                           .Register(*registry);
  }
}

ServerinfoPublisher::Counts ServerinfoPublisher::counts() const {
  absl::MutexLock lock(&mutex_);
  return counts_;
}

void ServerinfoPublisher::CountRefused(const char* reason) {
  ++counts_.refused_vds[reason];
  if (refused_metric_ != nullptr) refused_metric_->Add({{"reason", reason}}).Increment();
}

void ServerinfoPublisher::Update(const VdSet& set) {
  absl::MutexLock lock(&mutex_);
  bool written = false;
  for (const ServerinfoFile& file : options_.files) {
    const std::string outcome = UpdateFile(file, set);
    written = written || outcome == "written";
    ++counts_.updates[outcome];
    if (updates_metric_ != nullptr) updates_metric_->Add({{"outcome", outcome}}).Increment();
  }
  if (!written || options_.reload_command.empty()) return;
  const std::string command = absl::StrJoin(options_.reload_command, " ");
  const ReloadOutcome outcome = reload_(options_.reload_command, options_.reload_timeout);
  const char* result = ReloadResultName(outcome.result);
  ++counts_.reloads[result];
  if (reloads_metric_ != nullptr) reloads_metric_->Add({{"result", result}}).Increment();
  if (outcome.result == ReloadResult::kSucceeded) {
    MECAI_LOG(Info) << "reload command '" << command << "': " << outcome.description;
  } else {
    MECAI_LOG(Warning) << "reload command '" << command << "' " << result << ": "
                       << outcome.description;
  }
}

std::string ServerinfoPublisher::UpdateFile(const ServerinfoFile& file, const VdSet& set) {
  // The file's VDs that still verify for its certificate, one per VA (the first), in file order.
  std::map<std::string, HeldVd> held;
  std::vector<std::string> file_order;
  absl::StatusOr<std::string> contents = ReadFile(file.path, kMaxServerinfoFileBytes);
  if (contents.ok()) {
    absl::StatusOr<std::string> body = DecodeServerinfoFile(*contents, options_.extension_type);
    absl::StatusOr<std::vector<std::string>> list =
        body.ok() ? DecodeVouchingDataList(*body) : body.status();
    if (!list.ok()) {
      MECAI_LOG(Warning) << file.path << " is not a MECAI serverinfo file ("
                         << list.status().message() << "); it is replaced once a VD is held";
    } else {
      for (const std::string& serialized : *list) {
        v1::VouchingData vd;
        v1::VouchingStatement statement;
        if (!vd.ParseFromString(serialized) || !statement.ParseFromString(vd.statement()) ||
            !check_(vd, file.certificate_der).ok() || held.count(statement.va_id()) != 0) {
          continue;
        }
        held[statement.va_id()] = {serialized, statement.issued_at_unix_seconds()};
        file_order.push_back(statement.va_id());
      }
    }
  } else if (!absl::IsNotFound(contents.status())) {
    MECAI_LOG(Warning) << "cannot read " << file.path << ": " << contents.status().message();
  }

  if (set.entries().empty()) {
    MECAI_LOG(Warning) << "the stapler holds no VD; " << file.path << " is left as it is";
    return "kept_empty";
  }
  // The stapler's VDs, where better: verified for this file's certificate, newer than the file's.
  std::vector<std::string> order;
  bool newer = false;
  int invalid = 0;
  int older = 0;
  for (const VdSet::Entry& entry : set.entries()) {
    v1::VouchingData vd;
    v1::VouchingStatement statement;
    absl::Status checked =
        vd.ParseFromString(entry.serialized) && statement.ParseFromString(vd.statement())
            ? check_(vd, file.certificate_der)
            : absl::InvalidArgumentError("not a serialized VouchingData");
    if (!checked.ok()) {
      ++invalid;
      CountRefused("invalid");
      MECAI_LOG(Warning) << "the VD of " << entry.va_id << " is not written to " << file.path
                         << ": " << checked.message();
      continue;
    }
    order.push_back(statement.va_id());
    auto found = held.find(statement.va_id());
    if (found != held.end() && found->second.serialized == entry.serialized) continue;
    if (found != held.end() &&
        found->second.issued_at_unix_seconds >= statement.issued_at_unix_seconds()) {
      ++older;
      CountRefused("older");
      MECAI_LOG(Warning) << "the VD of " << entry.va_id << " is not written to " << file.path
                         << ": it is not newer than the one the file holds";
      continue;
    }
    held[statement.va_id()] = {entry.serialized, statement.issued_at_unix_seconds()};
    newer = true;
  }
  if (!newer) {
    if (invalid > 0) return "kept_invalid";
    if (older > 0) return "kept_older";
    return "unchanged";
  }
  for (const std::string& va_id : file_order) {
    if (std::find(order.begin(), order.end(), va_id) == order.end()) order.push_back(va_id);
  }
  std::vector<std::string> serialized;
  for (const std::string& va_id : order) serialized.push_back(held[va_id].serialized);
  absl::StatusOr<std::string> pem =
      EncodeServerinfoFile(options_.extension_type, EncodeVouchingDataList(serialized));
  absl::Status written = pem.ok() ? WriteFileAtomically(file.path, *pem, 0644) : pem.status();
  if (!written.ok()) {
    MECAI_LOG(Error) << "cannot write " << file.path << ": " << written.message();
    return "write_failed";
  }
  MECAI_LOG(Info) << "wrote " << serialized.size() << " VDs to " << file.path;
  return "written";
}

}  // namespace mecai
