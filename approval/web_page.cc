#include "approval/web_page.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/crypto/hashing.h"

namespace mecai {
namespace {

constexpr char kCsrfCookie[] = "mecai_csrf";
constexpr size_t kCsrfCookieBytes = 16;
// Inline style of every page; allowed by its hash in the CSP rather than 'unsafe-inline'.
constexpr char kStyle[] =
    "body{font-family:sans-serif;max-width:40em;margin:2em auto}"
    "th{text-align:left;padding-right:1em}.error{color:#a00}";

std::string Base64(absl::string_view bytes) {
  std::string encoded(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  encoded.resize(length);
  return encoded;
}

}  // namespace

const std::string& ApprovalPageContentSecurityPolicy() {
  static const std::string* policy = new std::string(
      absl::StrCat("default-src 'none'; style-src 'sha256-", Base64(Sha256(kStyle)),
                   "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"));
  return *policy;
}

namespace {

std::string FormatTime(int64_t unix_milliseconds) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMillis(unix_milliseconds),
                          absl::UTCTimeZone());
}

// The CSRF cookie of the request when it is well formed (32 hex digits), else empty.
std::string CsrfCookieOf(const HttpServerRequest& request) {
  auto header = request.headers.find("cookie");
  if (header == request.headers.end()) return "";
  for (absl::string_view pair : absl::StrSplit(header->second, ';')) {
    pair = absl::StripAsciiWhitespace(pair);
    if (!absl::ConsumePrefix(&pair, kCsrfCookie) || !absl::ConsumePrefix(&pair, "=")) continue;
    if (pair.size() != 2 * kCsrfCookieBytes) return "";
    for (char c : pair) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return "";
    }
    return std::string(pair);
  }
  return "";
}

std::string StateSentence(v1::IssuanceState state) {
  switch (state) {
    case v1::ISSUANCE_STATE_CALLING:
    case v1::ISSUANCE_STATE_AWAITING_APPROVAL:
      return "Waiting for approval";
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

}  // namespace

std::string HtmlEscape(absl::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&#39;";
        break;
      default:
        escaped.push_back(c);
    }
  }
  return escaped;
}

absl::StatusOr<std::unique_ptr<ApprovalPage>> ApprovalPage::Create(Approvals& approvals,
                                                                   RandomSource& random) {
  absl::StatusOr<std::string> key = random.Bytes(32);
  if (!key.ok()) return key.status();
  return std::unique_ptr<ApprovalPage>(new ApprovalPage(approvals, random, *std::move(key)));
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
  response.body = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", HtmlEscape(title),
      " - certificate approval</title><style>", kStyle, "</style></head>\n<body><h1>",
      HtmlEscape(title), "</h1>\n", body, "\n</body></html>\n");
  return response;
}

HttpServerResponse ApprovalPage::Home(const std::string& message) const {
  return Page(message.empty() ? 200 : 404, "Certificate approval",
              absl::StrCat(message.empty() ? ""
                                           : absl::StrCat("<p class=\"error\" id=\"message\">",
                                                          HtmlEscape(message), "</p>"),
                           "<p>You were called about a certificate request. Enter the transaction "
                           "number you heard.</p>\n<form method=\"get\" action=\"/request\">"
                           "<label>Transaction number <input name=\"tn\" id=\"tn\" "
                           "autocomplete=\"off\" maxlength=\"32\" required></label> "
                           "<button type=\"submit\" id=\"show\">Show request</button></form>"));
}

HttpServerResponse ApprovalPage::ShowRequest(const HttpServerRequest& request) {
  auto tn = request.query.find("tn");
  const std::string transaction_number =
      tn == request.query.end() ? "" : std::string(absl::StripAsciiWhitespace(tn->second));
  absl::StatusOr<v1::IssuanceStatus> status =
      approvals_.View(transaction_number, request.remote_address);
  if (!status.ok()) {
    if (absl::IsNotFound(status.status())) {
      return Home("There is no request with this transaction number.");
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
  std::vector<std::string> names;
  for (const std::string& name : status->names()) names.push_back(HtmlEscape(name));
  // A request naming no host is approved for the domain and every name below it.
  if (status->whole_domain()) names.back() += " and every name below it";
  std::string body = absl::StrCat(
      "<table id=\"details\">", "<tr><th>Transaction number</th><td id=\"transaction-number\">",
      HtmlEscape(status->transaction_number()), "</td></tr>",
      "<tr><th>Domain</th><td id=\"domain\">", HtmlEscape(status->domain()), "</td></tr>",
      "<tr><th>Requested by</th><td id=\"requester\">", HtmlEscape(status->requester()),
      "</td></tr>", "<tr><th>Key fingerprint (SHA-256)</th><td id=\"key-fingerprint\">",
      HexEncode(status->subject_public_key_info_sha256()), "</td></tr>",
      "<tr><th>Names in the certificate</th><td id=\"names\">", absl::StrJoin(names, ", "),
      "</td></tr>", "<tr><th>Requested at</th><td id=\"submitted\">",
      FormatTime(status->submitted_unix_milliseconds()), "</td></tr>",
      "<tr><th>Code valid until</th><td id=\"expires\">",
      FormatTime(status->code_expires_unix_milliseconds()), "</td></tr>",
      "<tr><th>Status</th><td id=\"state\">", HtmlEscape(StateSentence(status->state())),
      "</td></tr></table>\n");
  const bool pending = status->state() == v1::ISSUANCE_STATE_CALLING ||
                       status->state() == v1::ISSUANCE_STATE_AWAITING_APPROVAL;
  if (pending) {
    absl::StrAppend(
        &body, "<p>Attempts left: <span id=\"attempts-left\">",
        status->max_attempts() - status->failed_attempts(), "</span></p>",
        "<p>If you expect this certificate, enter the approval code you heard and approve it. "
        "If you do not, enter the code and reject it.</p>\n",
        "<form method=\"post\" action=\"/approve\" id=\"decide\">",
        "<input type=\"hidden\" name=\"tn\" value=\"", HtmlEscape(status->transaction_number()),
        "\"><input type=\"hidden\" name=\"csrf\" value=\"",
        CsrfToken(cookie, status->transaction_number()),
        "\"><label>Approval code <input name=\"code\" id=\"code\" autocomplete=\"off\" "
        "inputmode=\"numeric\" maxlength=\"32\" required></label> ",
        "<button type=\"submit\" id=\"approve\" formaction=\"/approve\">Approve</button> ",
        "<button type=\"submit\" id=\"reject\" formaction=\"/reject\">Reject</button></form>");
  }
  HttpServerResponse response = Page(200, "Certificate request", body);
  if (new_cookie) {
    response.headers.emplace_back(
        "Set-Cookie",
        absl::StrCat(kCsrfCookie, "=", cookie, "; Path=/; HttpOnly; SameSite=Strict"));
  }
  return response;
}

HttpServerResponse ApprovalPage::DecideRequest(const HttpServerRequest& request,
                                               Decision decision) {
  // A browser names the origin of a cross-site POST; only the page's own origin may decide.
  auto origin = request.headers.find("origin");
  auto host = request.headers.find("host");
  if (origin != request.headers.end() &&
      (host == request.headers.end() || (origin->second != "http://" + host->second &&
                                         origin->second != "https://" + host->second))) {
    return Page(403, "Refused", "<p id=\"message\">This form must be sent from this site.</p>");
  }
  std::map<std::string, std::string> fields = ParseFormUrlEncoded(request.body);
  const std::string transaction_number = fields["tn"];
  const std::string cookie = CsrfCookieOf(request);
  if (cookie.empty() ||
      !ConstantTimeEquals(fields["csrf"], CsrfToken(cookie, transaction_number))) {
    return Page(403, "Refused",
                "<p id=\"message\">The form has expired or was not sent from this site. Open "
                "the request again.</p>");
  }
  const std::string code(absl::StripAsciiWhitespace(fields["code"]));
  absl::StatusOr<DecisionOutcome> outcome =
      approvals_.Decide(transaction_number, code, decision, request.remote_address);
  if (!outcome.ok()) {
    if (absl::IsNotFound(outcome.status())) {
      return Home("There is no request with this transaction number.");
    }
    return Page(500, "Error", "<p>The decision could not be recorded. Please try again.</p>");
  }
  const std::string again =
      absl::StrCat("<p><a id=\"back\" href=\"/request?tn=", HtmlEscape(transaction_number),
                   "\">Back to the request</a></p>");
  const std::string domain = HtmlEscape(outcome->status.domain());
  switch (outcome->result) {
    case DecisionResult::kApproved:
      return Page(200, "Approved",
                  absl::StrCat("<p id=\"message\">You approved the certificate for ", domain,
                               ". Thank you.</p>"));
    case DecisionResult::kRejected:
      return Page(200, "Rejected",
                  absl::StrCat("<p id=\"message\">You rejected the certificate for ", domain,
                               ". The certificate authority will not issue it.</p>"));
    case DecisionResult::kWrongCode:
      return Page(
          403, "Wrong approval code",
          absl::StrCat("<p id=\"message\" class=\"error\">The approval code is wrong. Attempts "
                       "left: <span id=\"attempts-left\">",
                       outcome->status.max_attempts() - outcome->status.failed_attempts(),
                       "</span>.</p>", again));
    case DecisionResult::kLocked:
      return Page(403, "Locked",
                  "<p id=\"message\" class=\"error\">Too many wrong approval codes: this request "
                  "is locked and can no longer be approved.</p>");
    case DecisionResult::kExpired:
      return Page(403, "Expired",
                  "<p id=\"message\" class=\"error\">The approval code has expired. The request "
                  "can no longer be approved.</p>");
    case DecisionResult::kAlreadyDecided:
      break;
  }
  return Page(409, "Already decided",
              absl::StrCat("<p id=\"message\">This request is already decided: ",
                           HtmlEscape(StateSentence(outcome->status.state())), ".</p>"));
}

HttpServerResponse ApprovalPage::Handle(const HttpServerRequest& request) {
  if (request.method == "GET" && request.path == "/") return Home();
  if (request.method == "GET" && request.path == "/request") return ShowRequest(request);
  if (request.method == "POST" && request.path == "/approve") {
    return DecideRequest(request, Decision::kApprove);
  }
  if (request.method == "POST" && request.path == "/reject") {
    return DecideRequest(request, Decision::kReject);
  }
  HttpServerResponse response = Page(404, "Not found", "<p><a href=\"/\">Start here</a></p>");
  if (request.path == "/" || request.path == "/request" || request.path == "/approve" ||
      request.path == "/reject") {
    response = Page(405, "Method not allowed", "");
    response.headers.emplace_back(
        "Allow", request.path == "/" || request.path == "/request" ? "GET" : "POST");
  }
  return response;
}

}  // namespace mecai
