#include "coordinator/record_evidence.h"

#include <string>

#include "common/crypto/hashing.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::RevocationEvidence* AddEvidence(v1::QuorumRecord* record, const std::string& der) {
  v1::RevocationEvidence* evidence = record->add_revocation();
  evidence->set_source(v1::CRL);
  evidence->set_response_der(der);
  evidence->set_url("http://crl.example/ca.crl");
  return evidence;
}

TEST(RecordEvidenceTest, EachResponseLeavesOnceAndTheRecordKeepsItsHash) {
  v1::QuorumRecord record;
  AddEvidence(&record, "crl-one");
  AddEvidence(&record, "ocsp-two");
  AddEvidence(&record, "crl-one");  // The same CRL for a second certificate of the chain.
  ASSERT_OK_AND_ASSIGN(std::vector<EvidenceBlob> blobs, MoveEvidenceOut(&record));
  ASSERT_EQ(blobs.size(), 2u);
  EXPECT_EQ(blobs[0].sha256, Sha256("crl-one"));
  EXPECT_EQ(blobs[0].der, "crl-one");
  EXPECT_EQ(blobs[1].sha256, Sha256("ocsp-two"));
  for (const v1::RevocationEvidence& evidence : record.revocation()) {
    EXPECT_TRUE(evidence.response_der().empty());
    EXPECT_EQ(evidence.url(), "http://crl.example/ca.crl");
  }
  EXPECT_EQ(record.revocation(2).response_sha256(), Sha256("crl-one"));
  EXPECT_THAT(EvidenceNamedBy(record), ElementsAre(Sha256("crl-one"), Sha256("ocsp-two")));
}

TEST(RecordEvidenceTest, AMatchingClaimedHashIsKeptAndAHashOnlyEvidenceIsNamed) {
  v1::QuorumRecord record;
  AddEvidence(&record, "crl-one")->set_response_sha256(Sha256("crl-one"));
  AddEvidence(&record, "")->set_response_sha256(Sha256("stored-before"));
  ASSERT_OK_AND_ASSIGN(std::vector<EvidenceBlob> blobs, MoveEvidenceOut(&record));
  ASSERT_EQ(blobs.size(), 2u);
  EXPECT_EQ(blobs[1].sha256, Sha256("stored-before"));
  EXPECT_TRUE(blobs[1].der.empty());
}

TEST(RecordEvidenceTest, AHashThatIsNotTheResponsesIsRefusedAndChangesNothing) {
  v1::QuorumRecord record;
  AddEvidence(&record, "crl-one");
  AddEvidence(&record, "crl-two")->set_response_sha256(Sha256("crl-one"));
  const std::string before = record.SerializeAsString();
  absl::StatusOr<std::vector<EvidenceBlob>> blobs = MoveEvidenceOut(&record);
  EXPECT_EQ(blobs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(blobs.status().message(), HasSubstr("evidence 1"));
  EXPECT_EQ(record.SerializeAsString(), before);
}

TEST(RecordEvidenceTest, AHashOfTheWrongLengthIsRefused) {
  v1::QuorumRecord record;
  AddEvidence(&record, "")->set_response_sha256("short");
  absl::StatusOr<std::vector<EvidenceBlob>> blobs = MoveEvidenceOut(&record);
  EXPECT_EQ(blobs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(blobs.status().message(), HasSubstr("5-byte response_sha256"));
}

}  // namespace
}  // namespace mecai
