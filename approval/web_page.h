// The certapproval web page (ARCHITECTURE.md §7, MECAI phone-approval proposal: "The person would
// enter the transaction number. The website can now display the details of the certificate request.
// The person can check the information, and enter the approval code to approve the cert
// issuance."), flow and limits in docs/APPROVAL.md "The web page":
//
//   GET  /                 asks for the transaction number
//   GET  /request?tn=TN    the request: who asks, the names, what approving does; while it is
//                          pending, a form with two explicit choices (approve, reject; neither
//                          preselected) and the code, which leads to
//   POST /confirm          a confirmation page ("You are about to let <CA> issue ...") whose one
//                          button sends
//   POST /approve, /reject tn, code and csrf (application/x-www-form-urlencoded): the decision.
//
// No form submits a decision by default: Enter in the code field at most reaches the confirmation
// page. Server-rendered HTML without scripts or external assets, every field escaped, format
// characters shown visibly; a strict Content-Security-Policy; a mobile-first layout. POSTs carry a
// CSRF token bound to a cookie (double submit with an HMAC under a per-process key) and, when the
// browser sends Origin, must come from the origin of approval_site_url (not from the Host header,
// which a reverse proxy may rewrite). Every refused POST is logged, counted and, when it names a
// stored request, added to its audit trail. Wrong codes are limited per client network before a
// request's own count sees them (WrongCodeLimiter).
#ifndef MECAI_APPROVAL_WEB_PAGE_H_
#define MECAI_APPROVAL_WEB_PAGE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "approval/approval_store.h"
#include "approval/approvals.h"
#include "approval/client_address.h"
#include "approval/page_text.h"
#include "approval/web_page_metrics.h"
#include "approval/wrong_code_limiter.h"
#include "common/base/clock.h"
#include "common/net/http_server.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// The page's Content-Security-Policy: nothing but its own inline style (by hash) and forms to
// itself.
const std::string& ApprovalPageContentSecurityPolicy();

struct ApprovalPageOptions {
  // ApprovalConfig.certificate_authority_contact: shown next to every dead end. Optional.
  std::string certificate_authority_contact;
  // ApprovalConfig.web_trusted_proxies (ClientAddressResolver).
  std::vector<std::string> trusted_proxies;
  WrongCodeLimits wrong_code_limits;
  // The web server's HttpServerOptions.max_body_bytes, named on the 413 page.
  size_t max_body_bytes = HttpServerOptions().max_body_bytes;
  // When set, a refused POST naming a stored request is added to its audit trail (REFUSED).
  ApprovalStore* store = nullptr;
  // Times of audit events and of the wrong-code windows; null: SystemClock.
  const Clock* clock = nullptr;
  ApprovalPageMetrics* metrics = nullptr;

  // The fields that come from `config` (after WithApprovalDefaults); the pointers stay null.
  static ApprovalPageOptions FromConfig(const v1::ApprovalConfig& config);
};

// Thread-safe. `approvals`, `random` and the pointers of the options must outlive the page.
class ApprovalPage {
 public:
  // The site's origin, the CA's name and the code length come from approvals.options().
  // INVALID_ARGUMENT when approval_site_url has no origin or a trusted proxy is malformed.
  static absl::StatusOr<std::unique_ptr<ApprovalPage>> Create(Approvals& approvals,
                                                              RandomSource& random,
                                                              ApprovalPageOptions options = {});

  HttpServerResponse Handle(const HttpServerRequest& request);

  // The answer to a body over the web server's limit (HttpServerOptions.body_too_large_handler):
  // a page saying what to do, and the refusal logged, counted and audited (the request's
  // transaction number is in the query of the page's form actions).
  HttpServerResponse BodyTooLarge(const HttpServerRequest& request);

 private:
  // What the person typed into the request's form, shown again with an error.
  struct FormState {
    std::string code;
    // "approve", "reject" or empty.
    std::string decision;
    // The error and the field it belongs to ("code" or "decision").
    std::string error;
    std::string error_field;
  };

  ApprovalPage(Approvals& approvals, RandomSource& random, ApprovalPageOptions options,
               std::string site_origin, ClientAddressResolver resolver, std::string csrf_key);

  std::string CsrfToken(const std::string& cookie, const std::string& transaction_number) const;
  std::string CsrfCookieOf(const HttpServerRequest& request) const;
  HttpServerResponse Home(int status = 200, const std::string& typed = "",
                          const std::string& error = "") const;
  HttpServerResponse ShowRequest(const HttpServerRequest& request);
  HttpServerResponse RequestPage(int status, const v1::IssuanceStatus& request,
                                 const std::string& cookie, const FormState& form) const;
  HttpServerResponse Confirm(const HttpServerRequest& request);
  HttpServerResponse DecideRequest(const HttpServerRequest& request, Decision decision);
  HttpServerResponse Page(int status, const std::string& title, const std::string& body) const;
  // The Origin and CSRF checks of every POST; the refusal page, or nullopt when it may proceed.
  std::optional<HttpServerResponse> CheckPost(const HttpServerRequest& request,
                                              const std::string& client,
                                              const std::string& transaction_number);
  // Logs, counts and audits a refused POST.
  void RecordRefusal(PageRefusal refusal, const HttpServerRequest& request,
                     const std::string& client, const std::string& transaction_number,
                     const std::string& detail);
  // "Contact Example CA: <contact>."
  std::string ContactSentence() const;
  // The request's summary shown on every page about it: requester, domain, transaction number.
  std::string Summary(const v1::IssuanceStatus& request) const;
  // The names, one per line, with the warnings for whole-domain and wildcard names.
  std::string NamesAndWarnings(const v1::IssuanceStatus& request) const;
  std::string NextStep(const v1::IssuanceStatus& request) const;

  Approvals& approvals_;
  RandomSource& random_;
  const ApprovalPageOptions options_;
  const Clock& clock_;
  // Constant after construction.
  const std::string site_origin_;
  const bool secure_cookie_;
  const std::string cookie_name_;
  const ClientAddressResolver resolver_;
  // HMAC-SHA256 key of CSRF tokens.
  const std::string csrf_key_;
  WrongCodeLimiter limiter_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_WEB_PAGE_H_
