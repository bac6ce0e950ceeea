// Real components for approval tests: RDAP (RFC 9083) domain objects served by a real nginx from
// static JSON files on 127.0.0.1, and a voice gateway receiver that records each call (the stand-in
// for a third-party phone network) so that a test can hear the approval code.
#ifndef MECAI_APPROVAL_TESTING_TEST_ENVIRONMENT_H_
#define MECAI_APPROVAL_TESTING_TEST_ENVIRONMENT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/net/http_server.h"
#include "common/process/child_process.h"

namespace mecai {
namespace testing {

// An RDAP domain object for `domain` with a registrant entity whose jCard lists `voice_numbers`
// (as tel URIs) and one fax number, and a registrar entity with a nested abuse contact.
std::string RdapDomainJson(const std::string& domain,
                           const std::vector<std::string>& voice_numbers);

// nginx serving <directory>/rdap/domain/<name> as application/rdap+json to requests that accept
// it (RFC 7480 §4.2: "Accept: application/rdap+json", else 406). Under /rdap/moved/ every lookup
// is redirected (302) to the same path under /rdap/, and under /rdap/loop/ to itself
// (RFC 7480 §5.2). Not thread-safe.
class RdapServer {
 public:
  // `domains`: domain name → response body.
  static absl::StatusOr<std::unique_ptr<RdapServer>> Start(
      const std::string& directory, const std::map<std::string, std::string>& domains);
  // The base URL ("http://127.0.0.1:PORT/rdap/").
  const std::string& base_url() const { return base_url_; }
  // Base URLs whose lookups are redirected once, and forever.
  std::string moved_base_url() const { return base_url_ + "moved/"; }
  std::string loop_base_url() const { return base_url_ + "loop/"; }

 private:
  std::unique_ptr<ChildProcess> nginx_;
  std::string base_url_;
};

struct RecordedCall {
  std::string to;
  std::string message;
  // The "extension" field; empty when absent.
  std::string extension;
  // The Authorization header; empty when absent.
  std::string authorization;
};

// Records POSTed {to, message}; answers 503 to the first `failures_before_success` calls of each
// number. Thread-safe.
class VoiceGateway {
 public:
  static absl::StatusOr<std::unique_ptr<VoiceGateway>> Start(int failures_before_success = 0);
  std::string url() const;
  std::vector<RecordedCall> calls() const;
  // Every request received, failed ones included.
  int requests() const;

 private:
  HttpServerResponse Handle(const HttpServerRequest& request);

  int failures_before_success_ = 0;
  std::unique_ptr<HttpServer> server_;
  mutable absl::Mutex mutex_;
  std::vector<RecordedCall> calls_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, int> attempts_ ABSL_GUARDED_BY(mutex_);
  int requests_ ABSL_GUARDED_BY(mutex_) = 0;
};

// The digits spoken after "Approval code: " in a call message ("4 8 1 5." → "4815").
std::string SpokenApprovalCode(const std::string& message);

}  // namespace testing
}  // namespace mecai

#endif  // MECAI_APPROVAL_TESTING_TEST_ENVIRONMENT_H_
