#include "common/base/config_loader.h"

#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace mecai {
namespace {

class CollectingErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (!text_.empty()) text_ += "; ";
    absl::StrAppend(&text_, "line ", line + 1, " column ", column + 1, ": ", message);
  }
  void AddWarning(int line, int column, const std::string& message) override {
    AddError(line, column, message);
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace

absl::Status LoadTextProtoFile(const std::string& path, google::protobuf::Message* message) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 4 << 20));
  google::protobuf::TextFormat::Parser parser;
  CollectingErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, message)) {
    return absl::InvalidArgumentError(absl::StrCat("config ", path, " is not a valid ",
                                                   message->GetTypeName(), ": ", errors.text()));
  }
  // The text parser accepts string fields that are not UTF-8 ("\230" escapes or raw bytes), which
  // the binary form of proto3 refuses: a VA id like that would be signed into statements no client
  // can parse. Found by //fuzz:config_fuzzer; refused here so the binary stops at start.
  std::unique_ptr<google::protobuf::Message> reparsed(message->New());
  if (!reparsed->ParseFromString(message->SerializeAsString())) {
    return absl::InvalidArgumentError(absl::StrCat("config ", path, " is not a valid ",
                                                   message->GetTypeName(),
                                                   ": a string field is not valid UTF-8"));
  }
  return absl::OkStatus();
}

void ConfigErrors::Add(const std::string& field, const std::string& problem) {
  if (!errors_.empty()) errors_ += "; ";
  absl::StrAppend(&errors_, field, ": ", problem);
}

absl::Status ConfigErrors::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("invalid config ", source_, ": ", errors_));
}

bool IsValidHostPort(const std::string& address, bool allow_port_zero) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = address.substr(0, colon);
  if (host.front() == '[' && host.back() != ']') return false;
  uint32_t port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port)) return false;
  if (port > 65535) return false;
  return allow_port_zero || port != 0;
}

}  // namespace mecai
