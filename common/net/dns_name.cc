#include "common/net/dns_name.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/net/ip_address.h"

namespace mecai {
namespace {

constexpr size_t kMaxNameOctets = 253;  // RFC 1035 §2.3.4: 255 in wire form, less 2.
constexpr size_t kMaxLabelOctets = 63;  // RFC 1035 §2.3.4.
constexpr size_t kMaxQuotedName = 64;   // Of an overlong name, this much goes into the message.

// `text` between double quotes, C-escaped (so a NUL, a newline or a U-label byte shows as \xNN).
std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

absl::Status Refuse(absl::string_view name, absl::string_view why) {
  const std::string shown = name.size() > kMaxNameOctets
                                ? absl::StrCat(Quoted(name.substr(0, kMaxQuotedName)), "...")
                                : Quoted(name);
  return absl::InvalidArgumentError(absl::StrCat("hostname ", shown, ": ", why));
}

absl::Status RefuseLabel(absl::string_view name, absl::string_view label, absl::string_view why) {
  return Refuse(name, absl::StrCat("label ", Quoted(label), " ", why));
}

// The canonical text of `name` if it is an IPv4 or IPv6 literal (ParseIpAddress: inet_pton, a
// dotted quad only for IPv4, no brackets or zone index for IPv6; ToString writes RFC 5952 text).
bool CanonicalIpLiteral(absl::string_view name, std::string* canonical) {
  // inet_pton reads up to a NUL; "1.2.3.4\0…" is no literal but a name with a bad byte.
  if (name.find('\0') != absl::string_view::npos) return false;
  absl::StatusOr<IpAddress> address = ParseIpAddress(name);
  if (!address.ok()) return false;
  *canonical = address->ToString();
  return true;
}

bool IsLdh(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-'; }

// The rules of one label that is not a wildcard (ValidateHostname, in its order).
absl::Status ValidateLabel(absl::string_view name, size_t index, absl::string_view label) {
  if (label.empty()) {
    return Refuse(name, absl::StrCat("has an empty label (label ", index + 1,
                                     ": a leading dot or two dots in a row; a label is 1-63 "
                                     "octets, RFC 1035 §2.3.4)"));
  }
  if (label.size() > kMaxLabelOctets) {
    return RefuseLabel(name, label,
                       absl::StrCat("is ", label.size(), " octets; a label has at most ",
                                    kMaxLabelOctets, " (RFC 1035 §2.3.4)"));
  }
  for (size_t i = 0; i < label.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(label[i]);
    if (c >= 0x80) {
      return RefuseLabel(name, label,
                         "has non-ASCII bytes; internationalized names are sent as A-labels "
                         "(\"xn--\", RFC 5890 §2.3.2.1), never as U-labels");
    }
    if (absl::ascii_isupper(c)) {
      return RefuseLabel(name, label,
                         "has upper-case letters; hostnames are sent in their canonical lower-case "
                         "form (DNS ignores case, RFC 4343)");
    }
    if (c == '*') {
      return RefuseLabel(name, label,
                         "has \"*\" inside a label; a wildcard is only the whole left-most label "
                         "\"*\" (RFC 6125 §6.4.3)");
    }
    if (!IsLdh(c)) {
      return RefuseLabel(
          name, label,
          absl::StrCat("has ", Quoted(absl::string_view(&label[i], 1)), " at position ", i + 1,
                       "; only letters, digits and hyphens are allowed (LDH, "
                       "RFC 952, RFC 1123 §2.1)"));
    }
  }
  if (label.front() == '-') {
    return RefuseLabel(name, label, "starts with a hyphen (RFC 952, RFC 1123 §2.1)");
  }
  if (label.back() == '-') {
    return RefuseLabel(name, label, "ends with a hyphen (RFC 952, RFC 1123 §2.1)");
  }
  if (label.size() >= 4 && label[2] == '-' && label[3] == '-' &&
      !absl::StartsWithIgnoreCase(label, "xn--")) {
    return RefuseLabel(name, label,
                       "has \"--\" in positions 3-4, reserved for A-labels (RFC 5890 §2.3.1)");
  }
  return absl::OkStatus();
}

bool AllDigits(absl::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

absl::Status ValidateHostname(absl::string_view name, const HostnameRules& rules) {
  if (name.empty()) return Refuse(name, "is empty");
  if (name.size() > kMaxNameOctets) {
    return Refuse(name, absl::StrCat("is ", name.size(), " octets; a name has at most ",
                                     kMaxNameOctets, " (RFC 1035 §2.3.4)"));
  }
  std::string canonical_ip;
  if (CanonicalIpLiteral(name, &canonical_ip)) {
    if (!rules.allow_ip_literal) {
      return Refuse(name, "is an IP address literal; only a DNS name is accepted here");
    }
    if (canonical_ip != name) {
      return Refuse(name, absl::StrCat("is an IP address not in canonical form; write ",
                                       Quoted(canonical_ip), " (RFC 5952 §4 for IPv6)"));
    }
    return absl::OkStatus();
  }
  if (name.back() == '.') {
    return Refuse(name, "ends with a dot; names are written without the root label's trailing dot");
  }
  const std::vector<absl::string_view> labels = absl::StrSplit(name, '.');
  const bool wildcard = labels.front() == "*";
  for (size_t i = 0; i < labels.size(); ++i) {
    const absl::string_view label = labels[i];
    if (label == "*") {
      if (!rules.allow_wildcard) {
        return RefuseLabel(name, label, "is a wildcard; wildcards are not accepted here");
      }
      if (i != 0) {
        return RefuseLabel(name, label,
                           "is a wildcard, which is only allowed as the whole left-most label "
                           "(RFC 6125 §6.4.3)");
      }
      continue;
    }
    absl::Status valid = ValidateLabel(name, i, label);
    if (!valid.ok()) return valid;
  }
  const int named_labels = static_cast<int>(labels.size()) - (wildcard ? 1 : 0);
  if (wildcard && named_labels == 0) {
    return Refuse(name,
                  "is a wildcard without a parent domain; write \"*.example.com\" (RFC 6125 "
                  "§6.4.3)");
  }
  if (named_labels < rules.min_labels) {
    return Refuse(name, absl::StrCat("has ", named_labels, named_labels == 1 ? " label" : " labels",
                                     wildcard ? " besides the wildcard" : "", "; at least ",
                                     rules.min_labels, " are needed here"));
  }
  if (AllDigits(labels.back())) {
    return Refuse(name, absl::StrCat("has the all-numeric top-level label ", Quoted(labels.back()),
                                     "; a top-level label is never all digits, so a name cannot "
                                     "be read as an IPv4 address (RFC 3696 §2)"));
  }
  return absl::OkStatus();
}

std::string CanonicalHostname(absl::string_view name) { return absl::AsciiStrToLower(name); }

bool IsWithinDomain(absl::string_view name, absl::string_view domain) {
  if (domain.empty() || name.size() < domain.size()) return false;
  if (!absl::EndsWithIgnoreCase(name, domain)) return false;
  return name.size() == domain.size() || name[name.size() - domain.size() - 1] == '.';
}

bool WildcardMatches(absl::string_view pattern, absl::string_view hostname) {
  if (pattern.empty() || hostname.empty()) return false;
  if (!absl::StartsWith(pattern, "*.")) return absl::EqualsIgnoreCase(pattern, hostname);
  // The wildcard stands for exactly the first label of `hostname`, which must not be empty.
  const absl::string_view parent = pattern.substr(2);
  const size_t dot = hostname.find('.');
  if (parent.empty() || dot == 0 || dot == absl::string_view::npos) return false;
  return absl::EqualsIgnoreCase(hostname.substr(dot + 1), parent);
}

}  // namespace mecai
