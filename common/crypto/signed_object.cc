#include "common/crypto/signed_object.h"

#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/unknown_field_set.h"

namespace mecai {

absl::string_view SignatureContext(SignedObject kind) {
  switch (kind) {
    case SignedObject::kVouchingRequestBody:
      return "MECAI vouching request body v2";
    case SignedObject::kVouchingRequestRolloverWrap:
      return "MECAI vouching request rollover wrap v2";
    case SignedObject::kObservation:
      return "MECAI observation v2";
    case SignedObject::kVouchingStatement:
      return "MECAI vouching statement v2";
    case SignedObject::kCheckpoint:
      return "MECAI log checkpoint v2";
    case SignedObject::kApprovalRecord:
      return "MECAI approval record v2";
    case SignedObject::kTrustListChange:
      return "MECAI trust list change v1";
    case SignedObject::kLogKeyEndorsement:
      return "MECAI log key endorsement v1";
  }
  return "MECAI invalid";  // Unreachable: every enumerator is listed above.
}

std::string SignedMessage(SignedObject kind, absl::string_view bytes) {
  absl::string_view context = SignatureContext(kind);
  std::string message;
  message.reserve(context.size() + 1 + bytes.size());
  message.append(context.data(), context.size());
  message.push_back('\0');
  message.append(bytes.data(), bytes.size());
  return message;
}

absl::StatusOr<v1::Signature> SignObject(SigningKey& key, SignedObject kind,
                                         absl::string_view bytes) {
  return key.Sign(SignedMessage(kind, bytes));
}

absl::Status VerifyObject(EVP_PKEY* key, SignedObject kind, const v1::Signature& signature,
                          absl::string_view bytes) {
  return VerifySignature(key, signature, SignedMessage(kind, bytes));
}

namespace {

// `check` of `message` and of every message inside it, depth first; the first error.
absl::Status CheckEveryMessage(
    const google::protobuf::Message& message,
    const std::function<absl::Status(const google::protobuf::Message&)>& check) {
  RETURN_IF_ERROR(check(message));
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        RETURN_IF_ERROR(
            CheckEveryMessage(reflection->GetRepeatedMessage(message, field, i), check));
      }
    } else {
      RETURN_IF_ERROR(CheckEveryMessage(reflection->GetMessage(message, field), check));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RefuseUnknownFields(const google::protobuf::Message& message, absl::string_view what) {
  return CheckEveryMessage(message, [what](const google::protobuf::Message& inner) {
    const google::protobuf::UnknownFieldSet& unknown =
        inner.GetReflection()->GetUnknownFields(inner);
    if (unknown.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(what, " carries a field this verifier does not know (",
                     inner.GetDescriptor()->name(), " field number ", unknown.field(0).number(),
                     "); signed objects must hold only known fields"));
  });
}

absl::Status RefuseMistypedFields(const google::protobuf::Message& message,
                                  absl::string_view what) {
  return CheckEveryMessage(message, [what](const google::protobuf::Message& inner) {
    const google::protobuf::UnknownFieldSet& unknown =
        inner.GetReflection()->GetUnknownFields(inner);
    for (int i = 0; i < unknown.field_count(); ++i) {
      const google::protobuf::FieldDescriptor* known =
          inner.GetDescriptor()->FindFieldByNumber(unknown.field(i).number());
      if (known == nullptr) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          what, " carries ", inner.GetDescriptor()->name(), ".", known->name(), " (field number ",
          known->number(), ") with another wire type than its own"));
    }
    return absl::OkStatus();
  });
}

absl::Status ParseSignedBytes(absl::string_view bytes, absl::string_view what,
                              google::protobuf::Message* message) {
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " does not parse as ", message->GetDescriptor()->full_name()));
  }
  return RefuseUnknownFields(*message, what);
}

}  // namespace mecai
