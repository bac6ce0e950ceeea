#include "approval/rdap.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace mecai {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// Nested entities are looked into this deep (to report them), never called.
constexpr int kMaxEntityDepth = 4;

const Value* Field(const Struct& object, const std::string& name) {
  auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

// True when a jCard TYPE parameter (string or array of strings, RFC 7095 §3.4) allows voice:
// absent, or naming "voice" or "cell", or naming none of fax, pager, textphone and text.
bool IsVoiceTel(const Value& parameters) {
  if (parameters.kind_case() != Value::kStructValue) return true;
  const Value* type = Field(parameters.struct_value(), "type");
  if (type == nullptr) return true;
  std::vector<std::string> types;
  if (type->kind_case() == Value::kStringValue) {
    types.push_back(absl::AsciiStrToLower(type->string_value()));
  } else if (type->kind_case() == Value::kListValue) {
    for (const Value& item : type->list_value().values()) {
      if (item.kind_case() == Value::kStringValue) {
        types.push_back(absl::AsciiStrToLower(item.string_value()));
      }
    }
  }
  if (types.empty()) return true;
  for (const std::string& kind : types) {
    if (kind == "voice" || kind == "cell") return true;
  }
  for (const std::string& kind : types) {
    if (kind == "fax" || kind == "pager" || kind == "textphone" || kind == "text") return false;
  }
  return true;
}

// The entity's roles (RFC 9083 §10.2.4), lower case.
std::vector<std::string> Roles(const Struct& entity) {
  std::vector<std::string> roles;
  const Value* value = Field(entity, "roles");
  if (value == nullptr || value->kind_case() != Value::kListValue) return roles;
  for (const Value& role : value->list_value().values()) {
    if (role.kind_case() == Value::kStringValue) {
      roles.push_back(absl::AsciiStrToLower(role.string_value()));
    }
  }
  return roles;
}

// The roles whose contacts may approve for the domain.
std::vector<std::string> QualifyingRoles(const std::vector<std::string>& roles) {
  std::vector<std::string> qualifying;
  for (const std::string& role : roles) {
    if (role == "registrant" || role == "administrative" || role == "technical") {
      qualifying.push_back(role);
    }
  }
  return qualifying;
}

// The voice tel values of one jCard: ["vcard", [[name, parameters, type, value], ...]].
std::vector<std::string> VoiceTelValues(const Value& vcard_array) {
  std::vector<std::string> values;
  if (vcard_array.kind_case() != Value::kListValue) return values;
  const ListValue& outer = vcard_array.list_value();
  if (outer.values_size() != 2 || outer.values(0).string_value() != "vcard" ||
      outer.values(1).kind_case() != Value::kListValue) {
    return values;
  }
  for (const Value& property : outer.values(1).list_value().values()) {
    if (property.kind_case() != Value::kListValue) continue;
    const ListValue& fields = property.list_value();
    // RFC 7095 §3.3: name, parameters, value type, then one or more values.
    if (fields.values_size() < 4 ||
        absl::AsciiStrToLower(fields.values(0).string_value()) != "tel" ||
        fields.values(3).kind_case() != Value::kStringValue) {
      continue;
    }
    if (!IsVoiceTel(fields.values(1))) continue;
    values.push_back(fields.values(3).string_value());
  }
  return values;
}

// Printable form of a value from the registry for a sentence: at most 40 characters, controls
// replaced.
std::string Quoted(absl::string_view value) {
  std::string text;
  for (char c : value.substr(0, 40)) {
    text.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  }
  if (value.size() > 40) text += "...";
  return absl::StrCat("\"", text, "\"");
}

struct Collector {
  size_t max_numbers;
  RdapContacts result;
  size_t beyond_limit = 0;

  void Entity(const Struct& entity, int depth) {
    if (depth > kMaxEntityDepth) return;
    const std::vector<std::string> roles = Roles(entity);
    const std::vector<std::string> qualifying = QualifyingRoles(roles);
    const std::string role_text = roles.empty() ? "no role" : absl::StrJoin(roles, ", ");
    const Value* vcard = Field(entity, "vcardArray");
    if (vcard != nullptr) {
      for (const std::string& value : VoiceTelValues(*vcard)) {
        const ParsedTel tel = ParseTelValue(value);
        if (depth > 0 || qualifying.empty()) {
          result.not_called.push_back(
              absl::StrCat(tel.number.empty() ? Quoted(value) : tel.number, " (", role_text,
                           depth > 0 ? ", nested in another contact" : "",
                           ") is not a registrant, administrative or technical contact"));
          continue;
        }
        if (tel.number.empty()) {
          result.not_called.push_back(
              absl::StrCat(Quoted(value), " (", role_text, ") ", tel.problem));
          continue;
        }
        bool seen = false;
        for (const RdapPhoneContact& contact : result.contacts) {
          seen = seen || (contact.number == tel.number && contact.extension == tel.extension);
        }
        if (seen) continue;
        if (result.contacts.size() >= max_numbers) {
          ++beyond_limit;
          continue;
        }
        result.contacts.push_back({tel.number, tel.extension, absl::StrJoin(qualifying, ", ")});
      }
    }
    const Value* entities = Field(entity, "entities");
    if (entities == nullptr || entities->kind_case() != Value::kListValue) return;
    for (const Value& nested : entities->list_value().values()) {
      if (nested.kind_case() == Value::kStructValue) Entity(nested.struct_value(), depth + 1);
    }
  }
};

bool IsHttps(absl::string_view url) { return absl::StartsWithIgnoreCase(url, "https://"); }

}  // namespace

ParsedTel ParseTelValue(absl::string_view value) {
  ParsedTel tel;
  absl::string_view rest = absl::StripAsciiWhitespace(value);
  if (absl::StartsWithIgnoreCase(rest, "tel:")) rest.remove_prefix(4);
  absl::string_view number_part = rest.substr(0, rest.find(';'));
  // RFC 3966 §3: parameters follow the number, ";ext=" among them.
  if (rest.size() > number_part.size()) {
    absl::string_view parameters = rest.substr(number_part.size());
    const size_t ext = absl::AsciiStrToLower(parameters).find(";ext=");
    if (ext != std::string::npos) {
      absl::string_view digits = parameters.substr(ext + 5);
      digits = digits.substr(0, digits.find(';'));
      for (char c : digits) {
        if (absl::ascii_isdigit(static_cast<unsigned char>(c))) tel.extension.push_back(c);
      }
    }
  }
  std::string number;
  bool international = false;
  for (char c : number_part) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      number.push_back(c);
    } else if (c == '+' && number.empty() && !international) {
      international = true;
    } else if (c != '.' && c != '-' && c != ' ' && c != '(' && c != ')') {
      tel.problem = "is not a phone number";
      return tel;
    }
  }
  if (number.size() < 6 || number.size() > 15) {
    tel.problem = "is not a phone number";
    return tel;
  }
  if (!international) {
    tel.problem = "is in national format (no country code), so it cannot be called";
    tel.extension.clear();
    return tel;
  }
  tel.number = "+" + number;
  if (tel.extension.size() > 10) {
    tel.number.clear();
    tel.extension.clear();
    tel.problem = "has an extension longer than 10 digits";
  }
  return tel;
}

std::string NormalizePhoneNumber(absl::string_view value) { return ParseTelValue(value).number; }

absl::StatusOr<RdapContacts> ParseRdapContacts(absl::string_view json, absl::string_view domain,
                                               size_t max_numbers) {
  Struct object;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(json.data(), json.size()), &object, options)
           .ok()) {
    return absl::InvalidArgumentError("the RDAP response is not a JSON object");
  }
  const Value* class_name = Field(object, "objectClassName");
  if (class_name == nullptr || class_name->string_value() != "domain") {
    return absl::InvalidArgumentError(
        "the RDAP response is not a domain object (RFC 9083 §5.3 objectClassName \"domain\")");
  }
  const Value* ldh_name = Field(object, "ldhName");
  if (ldh_name == nullptr || !absl::EqualsIgnoreCase(ldh_name->string_value(), domain)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the RDAP response names domain ",
        Quoted(ldh_name == nullptr ? "" : ldh_name->string_value()), ", not \"", domain, "\""));
  }
  Collector collector{max_numbers, {}, 0};
  const Value* entities = Field(object, "entities");
  if (entities != nullptr && entities->kind_case() == Value::kListValue) {
    for (const Value& entity : entities->list_value().values()) {
      if (entity.kind_case() == Value::kStructValue) collector.Entity(entity.struct_value(), 0);
    }
  }
  if (collector.beyond_limit > 0) {
    collector.result.not_called.push_back(
        absl::StrCat(collector.beyond_limit,
                     collector.beyond_limit == 1 ? " more number is" : " more numbers are",
                     " beyond max_phone_numbers (", max_numbers, ")"));
  }
  return std::move(collector.result);
}

absl::StatusOr<RdapContacts> RdapClient::Lookup(const std::string& domain) const {
  const std::string tld = domain.substr(domain.rfind('.') + 1);
  auto base = options_.base_urls.find(tld);
  if (base == options_.base_urls.end()) {
    return absl::NotFoundError(absl::StrCat("no RDAP server is configured for \".", tld, "\""));
  }
  HttpRequest request;
  request.url = absl::StrCat(base->second, "domain/", domain);
  request.timeout = options_.timeout;
  request.max_response_bytes = options_.max_response_bytes;
  // RFC 7480 §4.2: the RDAP media type (RFC 7483 §10.1).
  request.headers = {"Accept: application/rdap+json"};
  for (int redirects = 0;; ++redirects) {
    if (!options_.allow_http && !IsHttps(request.url)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "RDAP lookup ", request.url, ": only https URLs are used (allow_http_for_testing)"));
    }
    absl::StatusOr<HttpResponse> response = fetcher_.FetchResponse(request);
    if (!response.ok()) {
      return Annotate(response.status(), absl::StrCat("RDAP lookup ", request.url));
    }
    if (response->redirect_url.empty()) {
      return ParseRdapContacts(response->body, domain, options_.max_numbers);
    }
    if (redirects == kMaxRdapRedirects) {
      return absl::FailedPreconditionError(absl::StrCat("RDAP lookup ", request.url, ": more than ",
                                                        kMaxRdapRedirects,
                                                        " redirects (RFC 7480 §5.2)"));
    }
    request.url = response->redirect_url;
  }
}

}  // namespace mecai
