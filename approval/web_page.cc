#include "approval/web_page.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "approval/web_origin.h"
#include "common/base/logging.h"
#include "common/crypto/hashing.h"

namespace mecai {
namespace {

constexpr size_t kCsrfCookieBytes = 16;
// Inline style of every page; allowed by its hash in the CSP rather than 'unsafe-inline'.
// Mobile first: 18 px text, full-width fields, buttons and choices at least 48 px tall and 24 px
// apart (WCAG 2.2 §2.5.8 asks for 24 px targets; platform guidelines for 44 to 48 px), long
// words broken anywhere rather than overflowing a narrow screen.
constexpr char kStyle[] =
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}"
    "body{margin:0;font:18px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:#1a1a1a;background:#fff;overflow-wrap:anywhere}"
    "header{background:#123b70;color:#fff;padding:12px 16px}"
    "header p{margin:0;font-weight:bold}"
    "main{max-width:40rem;margin:0 auto;padding:8px 16px 32px}"
    "h1{font-size:26px;line-height:1.25;margin:16px 0}"
    "h2{font-size:20px;margin:24px 0 8px}"
    "dl{margin:0}dt{font-weight:bold}dd{margin:0 0 12px}"
    "ul.names{margin:0;padding-left:24px}ul.names li{font-family:monospace;font-size:18px;"
    "margin:4px 0}"
    ".key{font-family:monospace;font-size:16px}"
    "label{display:block;font-weight:bold;margin:16px 0 4px}"
    "input[type=text]{display:block;width:100%;min-height:48px;font-size:20px;padding:8px 12px;"
    "border:2px solid #4d4d4d;border-radius:6px}"
    "input[aria-invalid=true]{border-color:#a00000}"
    "fieldset{border:0;margin:16px 0;padding:0}legend{font-weight:bold;padding:0}"
    "label.choice{display:flex;align-items:center;gap:12px;min-height:48px;margin:12px 0;"
    "padding:8px 12px;border:2px solid #4d4d4d;border-radius:6px;font-weight:normal}"
    "label.choice input{width:24px;height:24px;margin:0;flex:none}"
    "button,a.button{display:block;width:100%;min-height:48px;margin:24px 0;padding:10px 16px;"
    "font:inherit;font-weight:bold;text-align:center;border-radius:6px;border:2px solid #123b70;"
    "background:#123b70;color:#fff;cursor:pointer;text-decoration:none}"
    "a.button.secondary,button.secondary{background:#fff;color:#123b70}"
    "button.reject{background:#8a0000;border-color:#8a0000}"
    ".hint{margin:4px 0;color:#4d4d4d}"
    ".error{color:#a00000;font-weight:bold;margin:8px 0}"
    ".warning{border-left:6px solid #a00000;background:#fdeeee;padding:12px;margin:16px 0}"
    ".never{border-left:6px solid #123b70;background:#eef3fa;padding:12px;margin:16px 0}"
    "a{color:#123b70}";

std::string Base64(absl::string_view bytes) {
  std::string encoded(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  encoded.resize(length);
  return encoded;
}

bool IsPending(const v1::IssuanceStatus& request) {
  return request.state() == v1::ISSUANCE_STATE_CALLING ||
         request.state() == v1::ISSUANCE_STATE_AWAITING_APPROVAL;
}

std::string StateSentence(v1::IssuanceState state) {
  switch (state) {
    case v1::ISSUANCE_STATE_CALLING:
    case v1::ISSUANCE_STATE_AWAITING_APPROVAL:
      return "Waiting for your decision";
    case v1::ISSUANCE_STATE_APPROVED:
      return "Approved";
    case v1::ISSUANCE_STATE_REJECTED:
      return "Rejected";
    case v1::ISSUANCE_STATE_LOCKED:
      return "Locked after too many wrong approval codes";
    case v1::ISSUANCE_STATE_EXPIRED:
      return "Expired: the approval code is no longer valid";
    case v1::ISSUANCE_STATE_FAILED:
      return "Failed: no contact could be called";
    default:
      return "Unknown";
  }
}

// A detail for the audit trail and the log: printable ASCII, at most 100 characters.
std::string Quoted(absl::string_view text) {
  std::string quoted = "\"";
  for (char c : text.substr(0, 100)) {
    quoted.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  if (text.size() > 100) quoted += "...";
  return quoted + "\"";
}

std::string Field(const std::map<std::string, std::string>& fields, const std::string& name) {
  auto field = fields.find(name);
  return field == fields.end() ? "" : field->second;
}

}  // namespace

const std::string& ApprovalPageContentSecurityPolicy() {
  static const std::string* policy = new std::string(
      absl::StrCat("default-src 'none'; style-src 'sha256-", Base64(Sha256(kStyle)),
                   "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"));
  return *policy;
}

ApprovalPageOptions ApprovalPageOptions::FromConfig(const v1::ApprovalConfig& config) {
  ApprovalPageOptions options;
  options.certificate_authority_contact = config.certificate_authority_contact();
  options.trusted_proxies.assign(config.web_trusted_proxies().begin(),
                                 config.web_trusted_proxies().end());
  options.wrong_code_limits.per_address = config.web_max_wrong_codes_per_address();
  options.wrong_code_limits.per_address_and_request =
      config.web_max_wrong_codes_per_address_and_request();
  options.wrong_code_limits.window = absl::Seconds(config.web_wrong_code_window_seconds());
  return options;
}

ApprovalPage::ApprovalPage(Approvals& approvals, RandomSource& random, ApprovalPageOptions options,
                           std::string site_origin, ClientAddressResolver resolver,
                           std::string csrf_key)
    : approvals_(approvals),
      random_(random),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : SystemClock::Get()),
      site_origin_(std::move(site_origin)),
      secure_cookie_(absl::StartsWith(site_origin_, "https://")),
      // RFC 6265bis §4.1.3.2: a "__Host-" cookie is Secure, host-only and for path "/".
      cookie_name_(secure_cookie_ ? "__Host-mecai_csrf" : "mecai_csrf"),
      resolver_(std::move(resolver)),
      csrf_key_(std::move(csrf_key)),
      limiter_(options_.wrong_code_limits, clock_) {}

absl::StatusOr<std::unique_ptr<ApprovalPage>> ApprovalPage::Create(Approvals& approvals,
                                                                   RandomSource& random,
                                                                   ApprovalPageOptions options) {
  absl::StatusOr<std::string> origin = WebOriginOfUrl(approvals.options().approval_site_url);
  if (!origin.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("approval_site_url: ", origin.status().message()));
  }
  absl::StatusOr<ClientAddressResolver> resolver =
      ClientAddressResolver::Create(options.trusted_proxies);
  if (!resolver.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("web_trusted_proxies: ", resolver.status().message()));
  }
  absl::StatusOr<std::string> key = random.Bytes(32);
  if (!key.ok()) return key.status();
  return std::unique_ptr<ApprovalPage>(new ApprovalPage(approvals, random, std::move(options),
                                                        *std::move(origin), *std::move(resolver),
                                                        *std::move(key)));
}

std::string ApprovalPage::CsrfToken(const std::string& cookie,
                                    const std::string& transaction_number) const {
  const std::string message =
      absl::StrCat("csrf", std::string(1, '\0'), cookie, std::string(1, '\0'), transaction_number);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), csrf_key_.data(), static_cast<int>(csrf_key_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length);
  return HexEncode(absl::string_view(reinterpret_cast<char*>(mac), length));
}

// The CSRF cookie of the request when it is well formed (32 hex digits), else empty.
std::string ApprovalPage::CsrfCookieOf(const HttpServerRequest& request) const {
  auto header = request.headers.find("cookie");
  if (header == request.headers.end()) return "";
  for (absl::string_view pair : absl::StrSplit(header->second, ';')) {
    pair = absl::StripAsciiWhitespace(pair);
    if (!absl::ConsumePrefix(&pair, cookie_name_) || !absl::ConsumePrefix(&pair, "=")) continue;
    if (pair.size() != 2 * kCsrfCookieBytes) return "";
    for (char c : pair) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return "";
    }
    return std::string(pair);
  }
  return "";
}

HttpServerResponse ApprovalPage::Page(int status, const std::string& title,
                                      const std::string& body) const {
  HttpServerResponse response;
  response.status = status;
  response.headers = {
      {"Content-Security-Policy", ApprovalPageContentSecurityPolicy()},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      // "no-referrer" would make browsers send "Origin: null" on the page's own POSTs.
      {"Referrer-Policy", "same-origin"},
      {"Cache-Control", "no-store"},
  };
  const std::string ca = HtmlEscape(approvals_.options().certificate_authority_name);
  response.body = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>",
      HtmlEscape(title), " \xE2\x80\x93 ", ca, "</title><style>", kStyle,
      "</style></head>\n<body><header><p id=\"ca\">", ca,
      " \xC2\xB7 certificate approval</p></header>\n<main><h1>", HtmlEscape(title), "</h1>\n", body,
      "\n</main></body></html>\n");
  return response;
}

std::string ApprovalPage::ContactSentence() const {
  const std::string ca = HtmlEscape(approvals_.options().certificate_authority_name);
  if (options_.certificate_authority_contact.empty()) {
    return absl::StrCat("Contact ", ca, " the way you usually do.");
  }
  return absl::StrCat("Contact ", ca, ": <span id=\"contact\">",
                      VisibleText(options_.certificate_authority_contact), "</span>.");
}

HttpServerResponse ApprovalPage::Home(int status, const std::string& typed,
                                      const std::string& error) const {
  const std::string ca = HtmlEscape(approvals_.options().certificate_authority_name);
  std::string body = absl::StrCat(
      "<p>", ca,
      " called you about a certificate for your domain. Enter the transaction number you heard on "
      "the call to see the request.</p>\n<form method=\"get\" action=\"/request\">"
      "<label for=\"tn\">Transaction number</label>");
  if (!error.empty()) {
    absl::StrAppend(&body, "<p id=\"tn-error\" class=\"error\" role=\"alert\">", error, "</p>");
  }
  absl::StrAppend(
      &body, "<input type=\"text\" name=\"tn\" id=\"tn\" value=\"", HtmlEscape(typed),
      "\" autocomplete=\"off\" autocapitalize=\"characters\" autocorrect=\"off\" "
      "spellcheck=\"false\" maxlength=\"64\" required aria-describedby=\"",
      error.empty() ? "tn-hint" : "tn-error tn-hint", "\"",
      error.empty() ? "" : " aria-invalid=\"true\"",
      "><p id=\"tn-hint\" class=\"hint\">Letters and digits, as read out on the call.</p>"
      "<button type=\"submit\" id=\"show\">Show the request</button></form>\n"
      "<p class=\"never\"><strong>Never give the approval code to anyone. ",
      ca, " will never ask you for it.</strong></p>");
  return Page(status, "Check a certificate request", body);
}

std::string ApprovalPage::Summary(const v1::IssuanceStatus& request) const {
  return absl::StrCat("<dl id=\"summary\"><dt>Requested by</dt><dd id=\"requester\"><bdi>",
                      VisibleText(request.requester()),
                      "</bdi></dd><dt>Certificate authority</dt><dd>",
                      HtmlEscape(approvals_.options().certificate_authority_name),
                      "</dd><dt>Domain</dt><dd id=\"domain\">", HtmlEscape(request.domain()),
                      "</dd><dt>Transaction number</dt><dd id=\"transaction-number\">",
                      HtmlEscape(request.transaction_number()), "</dd></dl>\n");
}

std::string ApprovalPage::NamesAndWarnings(const v1::IssuanceStatus& request) const {
  std::string html = "<ul id=\"names\" class=\"names\">";
  for (const std::string& name : request.names()) {
    absl::StrAppend(&html, "<li>", HtmlEscape(name), "</li>");
  }
  html += "</ul>\n";
  const std::string domain = HtmlEscape(request.domain());
  // A request naming no host is approved for the domain and every name below it.
  if (request.whole_domain()) {
    absl::StrAppend(&html,
                    "<p class=\"warning\" id=\"whole-domain-warning\"><strong>Warning: "
                    "this is for ",
                    domain,
                    " and every name below it</strong>, for "
                    "example www.",
                    domain, ", mail.", domain, " or anything.", domain,
                    ". Approve only if you expect a certificate for your whole domain.</p>\n");
  }
  for (const std::string& name : request.names()) {
    if (!absl::StartsWith(name, "*.")) continue;
    const std::string parent = HtmlEscape(name.substr(2));
    absl::StrAppend(
        &html, "<p class=\"warning\" id=\"wildcard-warning\"><strong>Warning: ", HtmlEscape(name),
        " is a wildcard</strong>: it stands for every name directly "
        "below ",
        parent, ", for example www.", parent, " or shop.", parent, ".</p>\n");
    break;
  }
  return html;
}

std::string ApprovalPage::NextStep(const v1::IssuanceStatus& request) const {
  const std::string contact = ContactSentence();
  switch (request.state()) {
    case v1::ISSUANCE_STATE_APPROVED:
      return absl::StrCat("<p id=\"next-step\">Nothing more to do. If this was a mistake, ",
                          absl::AsciiStrToLower(contact.substr(0, 1)), contact.substr(1), "</p>");
    case v1::ISSUANCE_STATE_REJECTED:
      return absl::StrCat(
          "<p id=\"next-step\">The certificate will not be issued. If you did not "
          "expect this request, someone may be trying to get a certificate for "
          "your domain. ",
          contact, "</p>");
    case v1::ISSUANCE_STATE_LOCKED:
    case v1::ISSUANCE_STATE_EXPIRED:
    case v1::ISSUANCE_STATE_FAILED:
      return absl::StrCat(
          "<p id=\"next-step\">This request can no longer be decided here. If "
          "you expect this certificate, ask whoever requested it to start a new "
          "request. If you do not expect it, tell the certificate authority. ",
          contact, "</p>");
    default:
      return "";
  }
}

HttpServerResponse ApprovalPage::RequestPage(int status, const v1::IssuanceStatus& request,
                                             const std::string& cookie,
                                             const FormState& form) const {
  const std::string ca = HtmlEscape(approvals_.options().certificate_authority_name);
  const bool pending = IsPending(request);
  std::string body = Summary(request);
  absl::StrAppend(&body, "<dl><dt>Status</dt><dd id=\"state\">",
                  HtmlEscape(StateSentence(request.state())), "</dd>");
  if (pending) {
    absl::StrAppend(&body, "<dt>Time left</dt><dd id=\"time-left\">",
                    MinutesLeft(clock_.Now(), request.code_expires_unix_milliseconds()),
                    " left (until ", FormatUtcTime(request.code_expires_unix_milliseconds()),
                    ")</dd>");
  } else if (request.decided_unix_milliseconds() != 0) {
    absl::StrAppend(&body, "<dt>Decided at</dt><dd id=\"decided\">",
                    FormatUtcTime(request.decided_unix_milliseconds()), "</dd>");
  }
  absl::StrAppend(&body, "</dl>\n<h2>Names in the certificate</h2>\n", NamesAndWarnings(request),
                  "<h2>What approving does</h2>\n<p id=\"effect\">If you approve, ", ca,
                  " will issue a TLS certificate for these names to the holder of the key with "
                  "SHA-256 fingerprint <span class=\"key\" id=\"key-fingerprint\">",
                  HexEncode(request.subject_public_key_info_sha256()),
                  "</span>. Whoever holds that key can then run secure (HTTPS) websites under "
                  "these names.</p>\n");
  if (!pending) {
    absl::StrAppend(&body, NextStep(request));
    return Page(status, "Certificate request", body);
  }
  const uint32_t left = request.max_attempts() > request.failed_attempts()
                            ? request.max_attempts() - request.failed_attempts()
                            : 0;
  const bool decision_error = !form.error.empty() && form.error_field == "decision";
  const bool code_error = !form.error.empty() && !decision_error;
  const std::string tn = HtmlEscape(request.transaction_number());
  absl::StrAppend(&body,
                  "<p class=\"never\" id=\"never-share\"><strong>Never give this code to anyone. ",
                  ca, " will never ask you for it.</strong></p>\n",
                  "<h2>Your decision</h2>\n<form method=\"post\" action=\"/confirm?tn=", tn,
                  "\" id=\"decide\"><input type=\"hidden\" name=\"tn\" value=\"", tn,
                  "\"><input type=\"hidden\" name=\"csrf\" value=\"",
                  CsrfToken(cookie, request.transaction_number()), "\">", "<fieldset",
                  decision_error ? " aria-describedby=\"decision-error\"" : "",
                  "><legend>Do you expect this certificate?</legend>");
  if (decision_error) {
    absl::StrAppend(&body, "<p id=\"decision-error\" class=\"error\" role=\"alert\">", form.error,
                    "</p>");
  }
  absl::StrAppend(
      &body,
      "<label class=\"choice\"><input type=\"radio\" name=\"decision\" value=\"approve\" "
      "id=\"choose-approve\" required",
      form.decision == "approve" ? " checked" : "",
      "> Yes, I expect it: approve</label><label class=\"choice\"><input type=\"radio\" "
      "name=\"decision\" value=\"reject\" id=\"choose-reject\"",
      form.decision == "reject" ? " checked" : "",
      "> No: reject</label></fieldset><label for=\"code\">Approval code from the call</label>");
  if (code_error) {
    absl::StrAppend(&body, "<p id=\"code-error\" class=\"error\" role=\"alert\">", form.error,
                    "</p>");
  }
  absl::StrAppend(
      &body, "<input type=\"text\" name=\"code\" id=\"code\" value=\"", HtmlEscape(form.code),
      "\" inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"64\" required "
      "aria-describedby=\"",
      code_error ? "code-error code-hint" : "code-hint", "\"",
      code_error ? " aria-invalid=\"true\"" : "", "><p id=\"code-hint\" class=\"hint\">",
      approvals_.options().code_length, " digits. Attempts left: <span id=\"attempts-left\">", left,
      "</span>.",
      left == 1 ? " <strong>This is the last attempt</strong>: one more wrong "
                  "code locks the request."
                : "",
      "</p><button type=\"submit\" id=\"continue\">Continue</button></form>\n"
      "<p>Nothing is decided yet: the next page shows what you chose and asks you to confirm "
      "it.</p>");
  return Page(status, "Check this certificate request", body);
}

HttpServerResponse ApprovalPage::ShowRequest(const HttpServerRequest& request) {
  auto tn = request.query.find("tn");
  const std::string typed = tn == request.query.end() ? "" : tn->second;
  const std::string client = resolver_.Resolve(request);
  absl::StatusOr<v1::IssuanceStatus> status = approvals_.View(typed, client);
  if (!status.ok()) {
    if (absl::IsNotFound(status.status())) {
      return Home(404, typed,
                  "There is no request with this transaction number. Check the number you heard "
                  "and type it again; if it still fails, the request may have been withdrawn.");
    }
    return Page(500, "Error", "<p>The request cannot be shown now. Please try again later.</p>");
  }
  std::string cookie = CsrfCookieOf(request);
  bool new_cookie = false;
  if (cookie.empty()) {
    absl::StatusOr<std::string> bytes = random_.Bytes(kCsrfCookieBytes);
    if (!bytes.ok()) return Page(500, "Error", "<p>Please try again later.</p>");
    cookie = HexEncode(*bytes);
    new_cookie = true;
  }
  HttpServerResponse response = RequestPage(200, *status, cookie, FormState());
  if (new_cookie) {
    response.headers.emplace_back(
        "Set-Cookie", absl::StrCat(cookie_name_, "=", cookie, "; Path=/; HttpOnly; SameSite=Strict",
                                   secure_cookie_ ? "; Secure" : ""));
  }
  return response;
}

void ApprovalPage::RecordRefusal(PageRefusal refusal, const HttpServerRequest& request,
                                 const std::string& client, const std::string& transaction_number,
                                 const std::string& detail) {
  MECAI_LOG(Warning) << "approval page refused " << request.method << " " << request.path
                     << " from " << client << " (peer " << request.remote_address
                     << ", transaction " << Quoted(transaction_number) << "): " << detail;
  if (options_.metrics != nullptr) options_.metrics->RecordRefusal(refusal);
  if (options_.store == nullptr || transaction_number.empty()) return;
  v1::AuditEvent event;
  event.set_time_unix_milliseconds(clock_.NowUnixMilliseconds());
  event.set_kind(v1::AUDIT_EVENT_KIND_REFUSED);
  event.set_detail(
      absl::StrCat("the page refused ", request.method, " ", request.path, ": ", detail));
  event.set_remote_address(client);
  absl::StatusOr<StoredRequest> stored = options_.store->Mutate(
      transaction_number, [&event](StoredRequest&, std::vector<v1::AuditEvent>* events) {
        events->push_back(event);
        return absl::OkStatus();
      });
  if (!stored.ok() && !absl::IsNotFound(stored.status())) {
    MECAI_LOG(Error) << "approval page: cannot audit a refusal: " << stored.status();
  }
}

std::optional<HttpServerResponse> ApprovalPage::CheckPost(const HttpServerRequest& request,
                                                          const std::string& client,
                                                          const std::string& transaction_number) {
  // A browser names the origin of every POST; only the public site's own origin may decide. The
  // Host header is not consulted: a reverse proxy may rewrite it.
  auto origin = request.headers.find("origin");
  if (origin != request.headers.end() && !IsSameWebOrigin(origin->second, site_origin_)) {
    RecordRefusal(PageRefusal::kOrigin, request, client, transaction_number,
                  absl::StrCat("the Origin header ", Quoted(origin->second),
                               " is not the site's origin ", site_origin_));
    return Page(403, "Refused",
                absl::StrCat("<p id=\"message\" class=\"error\" role=\"alert\">This form must be "
                             "sent from this site's own page. Open <a href=\"/\">the start "
                             "page</a> and enter the transaction number again.</p>"));
  }
  const std::map<std::string, std::string> fields = ParseFormUrlEncoded(request.body);
  const std::string cookie = CsrfCookieOf(request);
  if (cookie.empty() ||
      !ConstantTimeEquals(Field(fields, "csrf"), CsrfToken(cookie, transaction_number))) {
    RecordRefusal(PageRefusal::kCsrf, request, client, transaction_number,
                  cookie.empty() ? "no CSRF cookie" : "the CSRF token does not match the cookie");
    return Page(403, "Refused",
                absl::StrCat("<p id=\"message\" class=\"error\" role=\"alert\">The form has "
                             "expired or was not sent from this site. Open <a href=\"/request?tn=",
                             HtmlEscape(transaction_number),
                             "\" id=\"back\">the request</a> again and enter the code.</p>"));
  }
  return std::nullopt;
}

HttpServerResponse ApprovalPage::Confirm(const HttpServerRequest& request) {
  const std::map<std::string, std::string> fields = ParseFormUrlEncoded(request.body);
  const std::string transaction_number = Field(fields, "tn");
  const std::string client = resolver_.Resolve(request);
  if (auto refused = CheckPost(request, client, transaction_number)) return *refused;
  absl::StatusOr<v1::IssuanceStatus> status = approvals_.GetStatus(transaction_number);
  if (!status.ok()) {
    if (absl::IsNotFound(status.status())) {
      return Home(404, transaction_number, "There is no request with this transaction number.");
    }
    return Page(500, "Error", "<p>The request cannot be shown now. Please try again later.</p>");
  }
  const std::string cookie = CsrfCookieOf(request);
  FormState form;
  form.code = Field(fields, "code");
  form.decision = Field(fields, "decision");
  if (!IsPending(*status)) return RequestPage(409, *status, cookie, form);
  if (form.decision != "approve" && form.decision != "reject") {
    form.decision.clear();
    form.error = "Choose one: approve if you expect this certificate, reject if you do not.";
    form.error_field = "decision";
    return RequestPage(400, *status, cookie, form);
  }
  if (absl::StripAsciiWhitespace(form.code).empty()) {
    form.error = "Enter the approval code you heard on the call.";
    form.error_field = "code";
    return RequestPage(400, *status, cookie, form);
  }
  const bool approve = form.decision == "approve";
  const std::string ca = HtmlEscape(approvals_.options().certificate_authority_name);
  const std::string tn = HtmlEscape(status->transaction_number());
  std::string body = Summary(*status);
  if (approve) {
    absl::StrAppend(&body, "<p id=\"confirm-summary\">You are about to let ", ca,
                    " issue a TLS certificate for these names:</p>\n");
  } else {
    absl::StrAppend(&body, "<p id=\"confirm-summary\">You are about to tell ", ca,
                    " not to issue a TLS certificate for these names:</p>\n");
  }
  absl::StrAppend(&body, NamesAndWarnings(*status));
  if (approve) {
    absl::StrAppend(&body,
                    "<p>to the holder of the key with SHA-256 fingerprint <span "
                    "class=\"key\" id=\"key-fingerprint\">",
                    HexEncode(status->subject_public_key_info_sha256()),
                    "</span>. Whoever holds that key can then run secure (HTTPS) websites under "
                    "these names.</p>\n");
  }
  absl::StrAppend(
      &body, "<form method=\"post\" action=\"/", approve ? "approve" : "reject", "?tn=", tn,
      "\" id=\"final\"><input type=\"hidden\" name=\"tn\" value=\"", tn,
      "\"><input type=\"hidden\" name=\"code\" value=\"", HtmlEscape(form.code),
      "\"><input type=\"hidden\" name=\"csrf\" value=\"", HtmlEscape(Field(fields, "csrf")), "\">",
      approve ? absl::StrCat("<button type=\"submit\" id=\"approve\">Approve: let ", ca,
                             " issue it</button>")
              : absl::StrCat("<button type=\"submit\" id=\"reject\" class=\"reject\">Reject: ", ca,
                             " will not issue it</button>"),
      "</form>\n<a class=\"button secondary\" id=\"back\" href=\"/request?tn=", tn,
      "\">Go back without deciding</a>");
  return Page(200, approve ? "Confirm your approval" : "Confirm your rejection", body);
}

HttpServerResponse ApprovalPage::DecideRequest(const HttpServerRequest& request,
                                               Decision decision) {
  const std::map<std::string, std::string> fields = ParseFormUrlEncoded(request.body);
  const std::string transaction_number = Field(fields, "tn");
  const std::string client = resolver_.Resolve(request);
  if (auto refused = CheckPost(request, client, transaction_number)) return *refused;
  const std::string cookie = CsrfCookieOf(request);
  FormState form;
  form.code = Field(fields, "code");
  form.decision = decision == Decision::kApprove ? "approve" : "reject";
  absl::Duration retry_after;
  if (!limiter_.TryAcquire(client, transaction_number, &retry_after)) {
    RecordRefusal(PageRefusal::kTooManyAttempts, request, client, transaction_number,
                  absl::StrCat("too many wrong codes from ", WrongCodeLimiter::NetworkOf(client),
                               "; retry in ", MinutesText(retry_after)));
    absl::StatusOr<v1::IssuanceStatus> status = approvals_.GetStatus(transaction_number);
    form.error = absl::StrCat("Too many wrong codes were entered from your network. Try again in ",
                              MinutesText(retry_after), ".");
    form.error_field = "code";
    if (status.ok()) return RequestPage(429, *status, cookie, form);
    return Page(
        429, "Too many attempts",
        absl::StrCat("<p id=\"message\" class=\"error\" role=\"alert\">", form.error, "</p>"));
  }
  absl::StatusOr<DecisionOutcome> outcome =
      approvals_.Decide(transaction_number, form.code, decision, client);
  const bool counted = outcome.ok() && (outcome->result == DecisionResult::kWrongCode ||
                                        outcome->result == DecisionResult::kLocked);
  if (!counted) limiter_.Release(client, transaction_number);
  if (!outcome.ok()) {
    if (absl::IsNotFound(outcome.status())) {
      return Home(404, transaction_number, "There is no request with this transaction number.");
    }
    return Page(500, "Error", "<p>The decision could not be recorded. Please try again.</p>");
  }
  const v1::IssuanceStatus& status = outcome->status;
  const std::string ca = HtmlEscape(approvals_.options().certificate_authority_name);
  const std::string domain = HtmlEscape(status.domain());
  const std::string decided =
      status.decided_unix_milliseconds() == 0
          ? ""
          : absl::StrCat("<p>Decided at <span id=\"decided\">",
                         FormatUtcTime(status.decided_unix_milliseconds()), "</span>.</p>");
  if (outcome->result == DecisionResult::kApproved) {
    return Page(200, "Approved",
                absl::StrCat(Summary(status),
                             "<p id=\"message\" role=\"status\">You approved the "
                             "certificate for ",
                             domain, ". ", ca, " will issue it for these names:</p>",
                             NamesAndWarnings(status), decided, NextStep(status)));
  }
  if (outcome->result == DecisionResult::kRejected) {
    return Page(
        200, "Rejected",
        absl::StrCat(Summary(status),
                     "<p id=\"message\" role=\"status\">You rejected the "
                     "certificate for ",
                     domain, ". ", ca, " will not issue it.</p>", decided, NextStep(status)));
  }
  if (outcome->result == DecisionResult::kWrongCode) {
    const uint32_t left = status.max_attempts() > status.failed_attempts()
                              ? status.max_attempts() - status.failed_attempts()
                              : 0;
    form.error = absl::StrCat(
        "The approval code is wrong. Check the code you heard and type it "
        "again. Attempts left: ",
        left, ".");
    form.error_field = "code";
    return RequestPage(403, status, cookie, form);
  }
  if (outcome->result == DecisionResult::kLocked) {
    return Page(403, "Locked",
                absl::StrCat(Summary(status),
                             "<p id=\"message\" class=\"error\" role=\"alert\">"
                             "Too many wrong approval codes: this request is locked and can no "
                             "longer be approved or rejected.</p>",
                             NextStep(status)));
  }
  if (outcome->result == DecisionResult::kExpired) {
    return Page(403, "Expired",
                absl::StrCat(Summary(status),
                             "<p id=\"message\" class=\"error\" role=\"alert\">"
                             "The approval code has expired. The request can no longer be "
                             "approved or rejected.</p>",
                             NextStep(status)));
  }
  if (outcome->result == DecisionResult::kAlreadyDecided) {
    return Page(409, "Already decided",
                absl::StrCat(Summary(status),
                             "<p id=\"message\" role=\"alert\">This request is "
                             "already decided: ",
                             HtmlEscape(StateSentence(status.state())), ".</p>", decided,
                             NextStep(status)));
  }
  if (outcome->result == DecisionResult::kMalformedCode) {
    // Not a code at all: it used no attempt (docs/APPROVAL.md "Codes").
    form.error = absl::StrCat(outcome->message, " This did not use one of your attempts.");
    form.error_field = "code";
    return RequestPage(400, status, cookie, form);
  }
  // Any other outcome leaves the request pending: the form again, with what the service said.
  form.error = "The code was not accepted. Check the code you heard and type it again.";
  form.error_field = "code";
  return RequestPage(400, status, cookie, form);
}

HttpServerResponse ApprovalPage::BodyTooLarge(const HttpServerRequest& request) {
  auto tn = request.query.find("tn");
  const std::string transaction_number = tn == request.query.end() ? "" : tn->second;
  const std::string client = resolver_.Resolve(request);
  RecordRefusal(PageRefusal::kBodyTooLarge, request, client, transaction_number,
                absl::StrCat("the body is larger than ", options_.max_body_bytes, " bytes"));
  HttpServerResponse response = Page(
      413, "Form too large",
      absl::StrCat("<p id=\"message\" class=\"error\" role=\"alert\">The form you sent is larger "
                   "than this site accepts (",
                   options_.max_body_bytes,
                   " bytes). Go back, enter only the transaction number and the approval code, "
                   "and send it again.</p><p><a class=\"button secondary\" id=\"back\" href=\"",
                   transaction_number.empty()
                       ? std::string("/")
                       : absl::StrCat("/request?tn=", HtmlEscape(transaction_number)),
                   "\">Back</a></p>"));
  return response;
}

HttpServerResponse ApprovalPage::Handle(const HttpServerRequest& request) {
  if (request.method == "GET" && request.path == "/") return Home();
  if (request.method == "GET" && request.path == "/request") return ShowRequest(request);
  if (request.method == "POST" && request.path == "/confirm") return Confirm(request);
  if (request.method == "POST" && request.path == "/approve") {
    return DecideRequest(request, Decision::kApprove);
  }
  if (request.method == "POST" && request.path == "/reject") {
    return DecideRequest(request, Decision::kReject);
  }
  if (request.path == "/" || request.path == "/request" || request.path == "/confirm" ||
      request.path == "/approve" || request.path == "/reject") {
    HttpServerResponse response =
        Page(405, "Method not allowed", "<p><a href=\"/\">Start here</a></p>");
    response.headers.emplace_back(
        "Allow", request.path == "/" || request.path == "/request" ? "GET" : "POST");
    return response;
  }
  return Page(404, "Page not found", "<p><a href=\"/\">Start here</a></p>");
}

}  // namespace mecai
