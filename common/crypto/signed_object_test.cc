#include "common/crypto/signed_object.h"

#include <set>
#include <string>
#include <vector>

#include "common/pki/pki_builder.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/signer.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {
namespace {

using ::google::protobuf::io::CodedOutputStream;
using ::google::protobuf::io::StringOutputStream;
using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

const std::vector<SignedObject>& AllKinds() {
  static const auto* kinds = new std::vector<SignedObject>{
      SignedObject::kVouchingRequestBody, SignedObject::kVouchingRequestRolloverWrap,
      SignedObject::kObservation,         SignedObject::kVouchingStatement,
      SignedObject::kCheckpoint,          SignedObject::kApprovalRecord,
      SignedObject::kTrustListChange,
  };
  return *kinds;
}

std::unique_ptr<InMemorySigningKey> P256Key() {
  auto key = GenerateEcKey(256);
  EXPECT_TRUE(key.ok());
  auto signing_key = InMemorySigningKey::Create(std::move(*key));
  EXPECT_TRUE(signing_key.ok());
  return std::move(*signing_key);
}

TEST(SignedObjectTest, ContextsAreDistinctNamedAndHoldNoZeroByte) {
  std::set<std::string> seen;
  for (SignedObject kind : AllKinds()) {
    std::string context(SignatureContext(kind));
    EXPECT_THAT(context, ::testing::StartsWith("MECAI "));
    EXPECT_EQ(context.find('\0'), std::string::npos) << context;
    EXPECT_TRUE(seen.insert(context).second) << "two kinds share " << context;
  }
}

TEST(SignedObjectTest, SignedMessageIsContextZeroByteThenTheBytes) {
  EXPECT_EQ(SignedMessage(SignedObject::kVouchingStatement, "ab"),
            std::string("MECAI vouching statement v2\0ab", 30));
}

TEST(SignedObjectTest, ASignatureOfOneKindNeverVerifiesAsAnother) {
  auto key = P256Key();
  const std::string bytes = "the same bytes under every kind";
  for (SignedObject signed_as : AllKinds()) {
    auto signature = SignObject(*key, signed_as, bytes);
    ASSERT_TRUE(signature.ok()) << signature.status();
    for (SignedObject verified_as : AllKinds()) {
      absl::Status status = VerifyObject(key->key(), verified_as, *signature, bytes);
      if (signed_as == verified_as) {
        EXPECT_TRUE(status.ok()) << SignatureContext(signed_as) << ": " << status;
      } else {
        EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_))
            << "signed as " << SignatureContext(signed_as) << ", verified as "
            << SignatureContext(verified_as);
      }
    }
  }
}

TEST(SignedObjectTest, ABareSignatureOverTheBytesDoesNotVerify) {
  // What every signer made before contexts: a signature over the bytes alone.
  auto key = P256Key();
  const std::string bytes = "statement bytes";
  auto bare = key->Sign(bytes);
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(VerifyObject(key->key(), SignedObject::kVouchingStatement, *bare, bytes).ok());
}

TEST(SignedObjectTest, ParsesKnownFieldsOnly) {
  v1::VouchingStatement statement;
  statement.set_version(2);
  statement.set_hostname("www.example.com");
  statement.add_perspectives()->set_id("p1");
  v1::VouchingStatement parsed;
  EXPECT_TRUE(ParseSignedBytes(statement.SerializeAsString(), "statement", &parsed).ok());
  EXPECT_EQ(parsed.hostname(), "www.example.com");
}

TEST(SignedObjectTest, RefusesAnUnknownTopLevelField) {
  std::string bytes = v1::VouchingStatement().SerializeAsString();
  bytes += std::string("\xf8\x01\x01", 3);  // Field 31, varint 1: not in VouchingStatement.
  v1::VouchingStatement parsed;
  EXPECT_THAT(ParseSignedBytes(bytes, "the statement", &parsed),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field number 31")));
}

TEST(SignedObjectTest, RefusesAKnownNumberWithAnotherWireType) {
  // VouchingStatement.hostname is field 4, length-delimited; as a varint it is unknown.
  v1::VouchingStatement parsed;
  EXPECT_THAT(ParseSignedBytes(std::string("\x20\x05", 2), "the statement", &parsed),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field number 4")));
}

// `perspective` (bytes of a Perspective, or bytes posing as one) as VouchingStatement.perspectives
// (field 10, length-delimited).
std::string AsPerspective(const std::string& perspective) {
  std::string bytes;
  StringOutputStream raw(&bytes);
  {
    CodedOutputStream out(&raw);
    out.WriteTag((10 << 3) | 2);
    out.WriteVarint32(static_cast<uint32_t>(perspective.size()));
    out.WriteString(perspective);
  }
  return bytes;
}

TEST(SignedObjectTest, RefusesAnUnknownFieldInsideANestedMessage) {
  v1::VouchingStatement statement;
  v1::Perspective* perspective = statement.add_perspectives();
  perspective->set_id("p1");
  // Append field 30 (varint) to the nested Perspective.
  const std::string bytes =
      AsPerspective(perspective->SerializeAsString() + std::string("\xf0\x01\x07", 3));
  v1::VouchingStatement parsed;
  EXPECT_THAT(
      ParseSignedBytes(bytes, "the statement", &parsed),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Perspective field number 30")));
}

TEST(SignedObjectTest, MistypedFieldsAreRefusedAtAnyDepthAndUnknownNumbersAreNot) {
  // Unknown numbers (a newer sender's fields), at the top and inside a nested message: accepted.
  v1::VouchingStatement statement;
  statement.add_perspectives()->set_id("p1");
  const std::string bytes =
      std::string("\xf8\x01\x01", 3) +  // Field 31, varint 1.
      AsPerspective(statement.perspectives(0).SerializeAsString() + std::string("\xf0\x01\x07", 3));
  v1::VouchingStatement parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_TRUE(RefuseMistypedFields(parsed, "the statement").ok());

  // hostname (field 4, length-delimited) as a varint at the top.
  ASSERT_TRUE(parsed.ParseFromString(std::string("\x20\x05", 2)));
  EXPECT_THAT(RefuseMistypedFields(parsed, "the statement"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the statement carries VouchingStatement.hostname (field number 4) with "
                       "another wire type than its own"));

  // Perspective.id (field 1, length-delimited) as a varint inside a perspective.
  ASSERT_TRUE(parsed.ParseFromString(AsPerspective(std::string("\x08\x01", 2))));
  EXPECT_THAT(RefuseMistypedFields(parsed, "the statement"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Perspective.id")));
}

TEST(SignedObjectTest, RefusesBytesThatDoNotParse) {
  v1::VouchingStatement parsed;
  EXPECT_THAT(ParseSignedBytes(std::string("\x22\x10", 2), "the statement", &parsed),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not parse")));
}

}  // namespace
}  // namespace mecai
