// The certapproval web page (ARCHITECTURE.md §7, MECAI phone-approval proposal: "The person would
// enter the transaction number. The website can now display the details of the certificate request.
// The person can check the information, and enter the approval code to approve the cert
// issuance."):
//
//   GET  /                 a form asking for the transaction number
//   GET  /request?tn=TN    the request's details and, while it is pending, the code form
//   POST /approve, /reject tn, code and csrf (application/x-www-form-urlencoded)
//
// Server-rendered HTML without scripts or external assets, every field escaped; a strict
// Content-Security-Policy; POSTs carry a CSRF token bound to a cookie (double submit with an HMAC
// under a per-process key) and must come from the page's own origin when the browser says so.
#ifndef MECAI_APPROVAL_WEB_PAGE_H_
#define MECAI_APPROVAL_WEB_PAGE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "approval/approvals.h"
#include "common/net/http_server.h"

namespace mecai {

// HTML text escaping of & < > " ' (for element content and quoted attribute values).
std::string HtmlEscape(absl::string_view text);

// The page's Content-Security-Policy: nothing but its own inline style (by hash) and forms to
// itself.
const std::string& ApprovalPageContentSecurityPolicy();

// Thread-safe. `approvals` must outlive the page.
class ApprovalPage {
 public:
  // Draws the CSRF key and cookies from `random`, which must outlive the page.
  static absl::StatusOr<std::unique_ptr<ApprovalPage>> Create(Approvals& approvals,
                                                              RandomSource& random);

  HttpServerResponse Handle(const HttpServerRequest& request);

 private:
  ApprovalPage(Approvals& approvals, RandomSource& random, std::string csrf_key)
      : approvals_(approvals), random_(random), csrf_key_(std::move(csrf_key)) {}

  std::string CsrfToken(const std::string& cookie, const std::string& transaction_number) const;
  HttpServerResponse Home(const std::string& message = "") const;
  HttpServerResponse ShowRequest(const HttpServerRequest& request);
  HttpServerResponse DecideRequest(const HttpServerRequest& request, Decision decision);
  HttpServerResponse Page(int status, const std::string& title, const std::string& body) const;

  Approvals& approvals_;
  RandomSource& random_;
  // HMAC-SHA256 key of CSRF tokens; constant after construction.
  const std::string csrf_key_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_WEB_PAGE_H_
