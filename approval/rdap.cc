#include "approval/rdap.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace mecai {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// Entities nest (RFC 9083 §5.1); deeper nesting than this is not followed.
constexpr int kMaxEntityDepth = 4;

const Value* Field(const Struct& object, const std::string& name) {
  auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

// True when a jCard TYPE parameter (string or array of strings, RFC 7095 §3.4) allows voice:
// absent, or naming "voice", "cell" or "work"/"home" without naming only fax, pager or textphone.
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

// Appends the voice numbers of one jCard: ["vcard", [[name, parameters, type, value], ...]].
void CollectFromVcard(const Value& vcard_array, size_t max_numbers,
                      std::vector<std::string>* numbers) {
  if (vcard_array.kind_case() != Value::kListValue) return;
  const ListValue& outer = vcard_array.list_value();
  if (outer.values_size() != 2 || outer.values(0).string_value() != "vcard" ||
      outer.values(1).kind_case() != Value::kListValue) {
    return;
  }
  for (const Value& property : outer.values(1).list_value().values()) {
    if (property.kind_case() != Value::kListValue) continue;
    const ListValue& fields = property.list_value();
    // RFC 7095 §3.3: name, parameters, value type, then one or more values.
    if (fields.values_size() < 4 ||
        absl::AsciiStrToLower(fields.values(0).string_value()) != "tel") {
      continue;
    }
    if (!IsVoiceTel(fields.values(1))) continue;
    const std::string number = NormalizePhoneNumber(fields.values(3).string_value());
    if (number.empty()) continue;
    if (std::find(numbers->begin(), numbers->end(), number) != numbers->end()) continue;
    if (numbers->size() >= max_numbers) return;
    numbers->push_back(number);
  }
}

void CollectFromEntities(const Struct& object, int depth, size_t max_numbers,
                         std::vector<std::string>* numbers) {
  if (depth > kMaxEntityDepth) return;
  const Value* entities = Field(object, "entities");
  if (entities == nullptr || entities->kind_case() != Value::kListValue) return;
  for (const Value& entity : entities->list_value().values()) {
    if (entity.kind_case() != Value::kStructValue) continue;
    const Value* vcard = Field(entity.struct_value(), "vcardArray");
    if (vcard != nullptr) CollectFromVcard(*vcard, max_numbers, numbers);
    CollectFromEntities(entity.struct_value(), depth + 1, max_numbers, numbers);
  }
}

}  // namespace

std::string NormalizePhoneNumber(absl::string_view value) {
  absl::string_view rest = absl::StripAsciiWhitespace(value);
  if (absl::StartsWithIgnoreCase(rest, "tel:")) rest.remove_prefix(4);
  // RFC 3966 §3: parameters (";ext=", ";isub=") follow the number.
  rest = rest.substr(0, rest.find(';'));
  std::string number;
  for (char c : rest) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      number.push_back(c);
    } else if (c == '+' && number.empty()) {
      number.push_back(c);
    } else if (c != '.' && c != '-' && c != ' ' && c != '(' && c != ')') {
      return "";
    }
  }
  if (number.empty() || number[0] != '+') return "";
  const size_t digits = number.size() - 1;
  if (digits < 6 || digits > 15) return "";
  return number;
}

absl::StatusOr<std::vector<std::string>> ParseRdapPhoneNumbers(absl::string_view json,
                                                               absl::string_view domain,
                                                               size_t max_numbers) {
  Struct object;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &object, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("RDAP response is not a JSON object: ", parsed.message().as_string()));
  }
  const Value* class_name = Field(object, "objectClassName");
  if (class_name == nullptr || class_name->string_value() != "domain") {
    return absl::InvalidArgumentError(
        "RDAP response is not a domain object (RFC 9083 §5.3 objectClassName \"domain\")");
  }
  const Value* ldh_name = Field(object, "ldhName");
  if (ldh_name == nullptr || !absl::EqualsIgnoreCase(ldh_name->string_value(), domain)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RDAP response names domain \"", ldh_name == nullptr ? "" : ldh_name->string_value(),
        "\", not \"", domain, "\""));
  }
  std::vector<std::string> numbers;
  CollectFromEntities(object, 0, max_numbers, &numbers);
  return numbers;
}

absl::StatusOr<std::vector<std::string>> RdapClient::LookupPhoneNumbers(
    const std::string& domain) const {
  const std::string tld = domain.substr(domain.rfind('.') + 1);
  auto base = options_.base_urls.find(tld);
  if (base == options_.base_urls.end()) {
    return absl::NotFoundError(absl::StrCat("no RDAP server is configured for \".", tld, "\""));
  }
  HttpRequest request;
  request.url = absl::StrCat(base->second, "domain/", domain);
  request.timeout = options_.timeout;
  request.max_response_bytes = options_.max_response_bytes;
  absl::StatusOr<std::string> body = fetcher_.Fetch(request);
  if (!body.ok()) return Annotate(body.status(), absl::StrCat("RDAP lookup ", request.url));
  return ParseRdapPhoneNumbers(*body, domain, options_.max_numbers);
}

}  // namespace mecai
