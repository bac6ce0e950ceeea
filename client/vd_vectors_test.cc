// Checks the committed golden Vouching Data vectors of testdata/vd/ (README.md there;
// docs/VOUCHING_DATA.md "Golden vectors"): every vector gives the result the README promises when
// verified at the fixed time, and the files agree with each other and with the generator's inputs
// (client/testing/vd_vectors.h), so a second implementation can rely on them.
#include "client/testing/vd_vectors.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "client/verified_va_cache.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/log_entry.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/merkle.h"
#include "common/transparency/note_key.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::_;
using ::testing::Eq;
using ::testing::HasSubstr;

namespace vectors = ::mecai::vd_vectors;

constexpr char kSignatureError[] = "the VD signature does not verify under the VA certificate";

std::string VectorPath(const std::string& name) {
  const char* runfiles = std::getenv("TEST_SRCDIR");
  return absl::StrCat(runfiles != nullptr ? runfiles : ".", "/mecai/testdata/vd/", name);
}

absl::StatusOr<std::string> ReadVector(const std::string& name) {
  return ReadFile(VectorPath(name));
}

absl::StatusOr<v1::VouchingData> ReadVd(const std::string& name) {
  ASSIGN_OR_RETURN(std::string bytes, ReadVector(name));
  v1::VouchingData vd;
  if (!vd.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is not a serialized VouchingData"));
  }
  return vd;
}

absl::StatusOr<std::string> CertificateDer(const std::string& name) {
  ASSIGN_OR_RETURN(std::vector<std::string> der, LoadPemCertificatesAsDer(VectorPath(name)));
  return der.front();
}

absl::StatusOr<v1::VouchingStatement> ParseStatement(const std::string& bytes) {
  v1::VouchingStatement statement;
  if (!statement.ParseFromString(bytes)) {
    return absl::InvalidArgumentError("not a VouchingStatement");
  }
  return statement;
}

class VdVectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(vas_, VaList::Load(VectorPath("va-list.textproto")));
    ASSERT_OK_AND_ASSIGN(server_leaf_der_, CertificateDer("server-leaf.pem"));
    ASSERT_OK_AND_ASSIGN(other_leaf_der_, CertificateDer("other-leaf.pem"));
  }

  // The expectation README.md states for valid.vd: hostname, server-leaf.pem, any listed VA, the
  // fixed verification time and maximum age.
  VdExpectation Expected() const { return vectors::VectorExpectation(server_leaf_der_); }

  absl::StatusOr<v1::VouchingStatement> Verify(const std::string& vd_name,
                                               const VdExpectation& expected) const {
    ASSIGN_OR_RETURN(v1::VouchingData vd, ReadVd(vd_name));
    return VerifyVouchingData(vd, *vas_, expected);
  }

  std::unique_ptr<VaList> vas_;
  std::string server_leaf_der_;
  std::string other_leaf_der_;
};

TEST_F(VdVectorsTest, StatementFilesDescribeTheStatementOfValidVd) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, ReadVd("valid.vd"));
  ASSERT_OK_AND_ASSIGN(std::string hex, ReadVector("statement.hex"));
  EXPECT_EQ(absl::StripSuffix(hex, "\n"), HexEncode(vd.statement()));

  ASSERT_OK_AND_ASSIGN(std::string text, ReadVector("statement.textproto"));
  v1::VouchingStatement from_text;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &from_text));
  EXPECT_EQ(from_text.SerializeAsString(), vd.statement());
  // The generator's inputs rebuild the same bytes from the committed server certificate.
  EXPECT_EQ(vectors::ValidStatement(server_leaf_der_).SerializeAsString(), vd.statement());
  EXPECT_EQ(from_text.certificate_sha256(0), Sha256(server_leaf_der_));
}

TEST_F(VdVectorsTest, ValidVdVerifiesAtTheFixedTime) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement statement, Verify("valid.vd", Expected()));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, ReadVd("valid.vd"));
  EXPECT_EQ(statement.SerializeAsString(), vd.statement());
  EXPECT_EQ(statement.va_id(), vectors::kVaId);
  EXPECT_EQ(statement.issued_at_unix_seconds(), absl::ToUnixSeconds(vectors::IssuedAt()));

  VdExpectation asked_for = Expected();
  asked_for.candidate_vas = {vectors::kVaId};
  EXPECT_TRUE(Verify("valid.vd", asked_for).ok());
  // Valid up to exactly the maximum age, and from five minutes before issuance (clock skew).
  VdExpectation oldest = Expected();
  oldest.now = vectors::IssuedAt() + vectors::kMaxAge;
  EXPECT_TRUE(Verify("valid.vd", oldest).ok());
  VdExpectation earliest = Expected();
  earliest.now = vectors::IssuedAt() - absl::Minutes(5);
  EXPECT_TRUE(Verify("valid.vd", earliest).ok());
}

TEST_F(VdVectorsTest, ValidVdDoesNotVouchForOtherLeaf) {
  VdExpectation expected = Expected();
  expected.certificate_der = other_leaf_der_;
  EXPECT_THAT(Verify("valid.vd", expected),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq(absl::StrCat("the certificate ", ShortHex(Sha256(other_leaf_der_)),
                                       " is not among the vouched certificates"))));
}

TEST_F(VdVectorsTest, ValidVdDoesNotVouchForOtherHostname) {
  VdExpectation expected = Expected();
  expected.hostname = vectors::kOtherHostname;
  EXPECT_THAT(Verify("valid.vd", expected),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the VD vouches for www.example.com, not other.example.com")));
}

TEST_F(VdVectorsTest, ValidVdIsTooOldOneSecondAfterTheMaximumAge) {
  VdExpectation expected = Expected();
  expected.now = vectors::IssuedAt() + vectors::kMaxAge + absl::Seconds(1);
  EXPECT_THAT(Verify("valid.vd", expected),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the VD is 24h1s old; the maximum age is 24h")));
}

TEST_F(VdVectorsTest, ValidVdIsInTheFutureMoreThanFiveMinutesBeforeIssuance) {
  VdExpectation expected = Expected();
  expected.now = vectors::IssuedAt() - absl::Minutes(5) - absl::Seconds(1);
  EXPECT_THAT(Verify("valid.vd", expected),
              StatusIs(absl::StatusCode::kPermissionDenied, Eq("the VD was issued in the future")));
}

TEST_F(VdVectorsTest, ValidVdIsRejectedWhenOnlyTheOtherVaIsAskedFor) {
  VdExpectation expected = Expected();
  expected.candidate_vas = {vectors::kOtherVaId};
  EXPECT_THAT(Verify("valid.vd", expected),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the VA certificate does not chain to the CA of any VA asked for "
                          "(va-other) (va-other: unable to get local issuer certificate)")));
}

TEST_F(VdVectorsTest, ValidVdIsRejectedOutsideTheVaCertificateValidity) {
  VdExpectation expected = Expected();
  expected.now = vectors::CertificatesNotAfter() + absl::Hours(24);
  EXPECT_THAT(Verify("valid.vd", expected),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the VA certificate does not chain to the CA of any listed VA "
                          "(va-example: certificate has expired; va-other: unable to get local "
                          "issuer certificate)")));
  expected.now = vectors::CertificatesNotBefore() - absl::Hours(24);
  EXPECT_THAT(Verify("valid.vd", expected),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the VA certificate does not chain to the CA of any listed VA "
                          "(va-example: certificate is not yet valid; va-other: unable to get "
                          "local issuer certificate)")));
}

TEST_F(VdVectorsTest, TamperedStatementFailsTheSignature) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData valid, ReadVd("valid.vd"));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData tampered, ReadVd("tampered-statement.vd"));
  // valid.vd with the lowest bit of the statement's last byte flipped, all else equal.
  std::string expected_statement = valid.statement();
  expected_statement.back() = static_cast<char>(expected_statement.back() ^ 0x01);
  EXPECT_EQ(tampered.statement(), expected_statement);
  EXPECT_EQ(tampered.signature().SerializeAsString(), valid.signature().SerializeAsString());
  EXPECT_EQ(tampered.va_certificate_chain_der(0), valid.va_certificate_chain_der(0));
  EXPECT_THAT(Verify("tampered-statement.vd", Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied, Eq(kSignatureError)));
}

TEST_F(VdVectorsTest, StatementNamingTheOtherVaIsRejected) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, ReadVd("wrong-va-id.vd"));
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement statement, ParseStatement(vd.statement()));
  v1::VouchingStatement expected_statement = vectors::ValidStatement(server_leaf_der_);
  expected_statement.set_va_id(vectors::kOtherVaId);
  EXPECT_EQ(statement.SerializeAsString(), expected_statement.SerializeAsString());
  EXPECT_THAT(
      Verify("wrong-va-id.vd", Expected()),
      StatusIs(absl::StatusCode::kPermissionDenied,
               Eq("the VD names VA 'va-other', whose CA did not issue this VA certificate")));
}

TEST_F(VdVectorsTest, VaCertificateWithoutOcspSigningIsRejected) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData valid, ReadVd("valid.vd"));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, ReadVd("no-ocsp-eku.vd"));
  ASSERT_OK_AND_ASSIGN(std::string no_eku_der, CertificateDer("va-no-ocsp-eku.pem"));
  EXPECT_EQ(vd.statement(), valid.statement());
  EXPECT_EQ(vd.va_certificate_chain_der(0), no_eku_der);
  EXPECT_THAT(Verify("no-ocsp-eku.vd", Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the VA certificate lacks the id-kp-OCSPSigning (designated OCSP "
                          "responder) usage")));
}

TEST_F(VdVectorsTest, StatementVersion3IsUnsupported) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, ReadVd("version-3.vd"));
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement statement, ParseStatement(vd.statement()));
  v1::VouchingStatement expected_statement = vectors::ValidStatement(server_leaf_der_);
  expected_statement.set_version(3);
  EXPECT_EQ(statement.SerializeAsString(), expected_statement.SerializeAsString());
  EXPECT_THAT(
      Verify("version-3.vd", Expected()),
      StatusIs(absl::StatusCode::kInvalidArgument, Eq("unsupported VouchingStatement version 3")));
}

// A VD of statement version 1 (signed without a context string) is refused, saying so.
TEST_F(VdVectorsTest, StatementVersion1IsRefusedSayingWhy) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, ReadVd("version-1.vd"));
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement statement, ParseStatement(vd.statement()));
  EXPECT_EQ(statement.version(), 1u);
  EXPECT_THAT(Verify("version-1.vd", Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("statement version 1, signed without a context string")));
}

// The signed bytes, as docs/VOUCHING_DATA.md "Signed bytes" says a second implementation computes
// them: the context, one zero byte, the statement; ECDSA P-256 with SHA-256 over that.
TEST_F(VdVectorsTest, TheSignatureCoversTheContextZeroByteAndStatement) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, ReadVd("valid.vd"));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr va_key, LoadPemPublicKey(VectorPath("va.pem")));
  const std::string signed_bytes =
      std::string("MECAI vouching statement v2", 27) + std::string(1, '\0') + vd.statement();
  EXPECT_TRUE(VerifySignature(va_key.get(), vd.signature(), signed_bytes).ok());
  EXPECT_FALSE(VerifySignature(va_key.get(), vd.signature(), vd.statement()).ok());
}

TEST_F(VdVectorsTest, CommittedKeysBelongToTheCommittedCertificates) {
  const std::pair<const char*, const char*> pairs[] = {
      {"ca.key.pem", "ca.pem"},
      {"other-ca.key.pem", "other-ca.pem"},
      {"va.key.pem", "va.pem"},
      {"va.key.pem", "va-no-ocsp-eku.pem"},
      {"server-leaf.key.pem", "server-leaf.pem"},
      {"other-leaf.key.pem", "other-leaf.pem"},
  };
  for (const auto& [key_file, certificate_file] : pairs) {
    SCOPED_TRACE(certificate_file);
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, LoadPemPrivateKey(VectorPath(key_file)));
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr public_key, LoadPemPublicKey(VectorPath(certificate_file)));
    EXPECT_EQ(EVP_PKEY_eq(key.get(), public_key.get()), 1);
    EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
    EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
  }
}

TEST_F(VdVectorsTest, CertificatesCarryTheFixedValidity) {
  for (const char* name : {"ca.pem", "other-ca.pem", "va.pem", "va-no-ocsp-eku.pem",
                           "server-leaf.pem", "other-leaf.pem"}) {
    SCOPED_TRACE(name);
    ASSERT_OK_AND_ASSIGN(std::vector<X509Ptr> certificates, LoadPemCertificates(VectorPath(name)));
    X509* certificate = certificates.front().get();
    EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notBefore(certificate),
                                   absl::ToTimeT(vectors::CertificatesNotBefore())),
              0);
    EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notAfter(certificate),
                                   absl::ToTimeT(vectors::CertificatesNotAfter())),
              0);
  }
}

// docs/VOUCHING_DATA.md "Logged VDs": logged.vd carries the statement of valid.vd, proven as
// entry kLogIndex of a log of kLoggedTreeSize entries.
TEST_F(VdVectorsTest, LoggedVdVerifiesAndItsPartsAreTheDocumentedOnes) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement statement, Verify("logged.vd", Expected()));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData logged, ReadVd("logged.vd"));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData valid, ReadVd("valid.vd"));
  EXPECT_EQ(logged.statement(), valid.statement());
  EXPECT_FALSE(logged.has_signature());
  EXPECT_EQ(statement.log_index(), vectors::kLogIndex);
  // The note is the committed one, and opens with the vkey made from log.key.pem's public key.
  ASSERT_OK_AND_ASSIGN(std::string note, ReadVector("logged-checkpoint.note"));
  EXPECT_EQ(logged.log_proof().checkpoint_note(), note);
  ASSERT_OK_AND_ASSIGN(std::string log_key_pem, ReadVector("log.key.pem"));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr log_key, ParsePemPrivateKey(log_key_pem));
  const std::string origin = absl::StrCat(vectors::kLogOriginPrefix, "/", vectors::kLogShardId);
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey vkey, Ed25519VerifierKey(origin, log_key.get()));
  ASSERT_OK_AND_ASSIGN(OpenedNote opened, OpenSignedNote(note, {vkey}));
  ASSERT_OK_AND_ASSIGN(TlogCheckpoint checkpoint, ParseCheckpointText(opened.text));
  EXPECT_EQ(checkpoint.tree_size, vectors::kLoggedTreeSize);
  // The entry is rebuilt from the statement and the record hash, and proven in that tree.
  EXPECT_EQ(logged.log_proof().record_sha256(),
            vectors::LoggedVectorRecordSha256(vectors::kLogIndex));
  const std::string entry = LogEntryBytes(logged.statement(), logged.log_proof().record_sha256());
  EXPECT_OK(VerifyInclusion(
      LeafHash(entry), vectors::kLogIndex, vectors::kLoggedTreeSize,
      {logged.log_proof().inclusion_proof().begin(), logged.log_proof().inclusion_proof().end()},
      checkpoint.root_hash));
}

TEST_F(VdVectorsTest, LoggedVdWithAnAlteredProofNodeIsRefused) {
  EXPECT_THAT(Verify("logged-wrong-proof.vd", Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("is not proven at log index 1234 of a tree of 2000 entries")));
  // Verified with the other VA only: its key did not endorse this log key.
  VdExpectation other = Expected();
  other.candidate_vas = {vectors::kOtherVaId};
  EXPECT_THAT(Verify("logged.vd", other), StatusIs(absl::StatusCode::kPermissionDenied, _));
}

// client/verified_va_cache.h: a checkpoint verified once is remembered with what it states, but
// only for the very bytes that verified; the inclusion proof is checked on every VD.
TEST_F(VdVectorsTest, ASeenCheckpointIsRememberedButEveryProofIsChecked) {
  const VerifiedVaCache& cache = vas_->verified_va_cache();
  ASSERT_OK(Verify("logged.vd", Expected()).status());
  EXPECT_EQ(cache.checkpoint_hits(), 0u);
  ASSERT_OK(Verify("logged.vd", Expected()).status());
  EXPECT_EQ(cache.checkpoint_hits(), 1u);
  // The same note and endorsement, a proof node altered: the checkpoint is remembered, the proof
  // still fails.
  EXPECT_THAT(Verify("logged-wrong-proof.vd", Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is not proven")));
  EXPECT_EQ(cache.checkpoint_hits(), 2u);
  ASSERT_OK_AND_ASSIGN(v1::VouchingData logged, ReadVd("logged.vd"));
  // A note with one byte of its signature line altered is not the remembered one.
  v1::VouchingData altered_note = logged;
  std::string* note = altered_note.mutable_log_proof()->mutable_checkpoint_note();
  (*note)[note->size() - 3] ^= 1;
  EXPECT_THAT(VerifyVouchingData(altered_note, *vas_, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("is not signed by the endorsed log key")));
  // Nor is an endorsement with its signature altered.
  v1::VouchingData altered_endorsement = logged;
  std::string* signature = altered_endorsement.mutable_log_proof()
                               ->mutable_log_key_endorsement()
                               ->mutable_signature()
                               ->mutable_value();
  (*signature)[signature->size() / 2] ^= 1;
  EXPECT_THAT(VerifyVouchingData(altered_endorsement, *vas_, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("endorsement does not verify under the VA certificate")));
  EXPECT_EQ(cache.checkpoint_hits(), 2u);
  ASSERT_OK(Verify("logged.vd", Expected()).status());
  EXPECT_EQ(cache.checkpoint_hits(), 3u);
}

// A remembered checkpoint answers for the note only: a VD under the same note and endorsement whose
// statement names another shard, another VA or another index is refused as without the cache.
TEST_F(VdVectorsTest, ARememberedCheckpointProvesNoOtherShardVaOrIndex) {
  const VerifiedVaCache& cache = vas_->verified_va_cache();
  ASSERT_OK(Verify("logged.vd", Expected()).status());
  ASSERT_OK_AND_ASSIGN(v1::VouchingData logged, ReadVd("logged.vd"));
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement statement, ParseStatement(logged.statement()));
  auto with = [&logged](const v1::VouchingStatement& changed) {
    v1::VouchingData vd = logged;
    vd.set_statement(changed.SerializeAsString());
    return vd;
  };
  // Another shard: the note's origin is not "<prefix>/<that shard>", so its key name is not the
  // one the note is signed under.
  v1::VouchingStatement other_shard = statement;
  other_shard.set_log_shard_id(absl::StrCat(statement.log_shard_id(), "-2"));
  EXPECT_THAT(VerifyVouchingData(with(other_shard), *vas_, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "the VD's checkpoint is not signed by the endorsed log key: no known key "
                       "signed the note"));
  EXPECT_EQ(cache.checkpoint_hits(), 0u);
  // Another VA: answered from the cache, and still refused.
  v1::VouchingStatement other_va = statement;
  other_va.set_va_id(vectors::kOtherVaId);
  EXPECT_THAT(VerifyVouchingData(with(other_va), *vas_, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("the log key is endorsed for VA '", vectors::kVaId, "', not '",
                                    vectors::kOtherVaId, "'")));
  EXPECT_EQ(cache.checkpoint_hits(), 1u);
  // Another index of the same tree, and one beyond it.
  v1::VouchingStatement other_index = statement;
  other_index.set_log_index(vectors::kLogIndex + 1);
  EXPECT_THAT(VerifyVouchingData(with(other_index), *vas_, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr(absl::StrCat("not proven at log index ", vectors::kLogIndex + 1,
                                              " of a tree of ", vectors::kLoggedTreeSize,
                                              " entries: inclusion proof"))));
  other_index.set_log_index(vectors::kLoggedTreeSize);
  EXPECT_THAT(
      VerifyVouchingData(with(other_index), *vas_, Expected()),
      StatusIs(absl::StatusCode::kPermissionDenied,
               absl::StrCat("the VD's statement is not proven at log index ",
                            vectors::kLoggedTreeSize, " of a tree of ", vectors::kLoggedTreeSize,
                            " entries: leaf index ", vectors::kLoggedTreeSize,
                            " is not in a tree of ", vectors::kLoggedTreeSize, " leaves")));
  EXPECT_EQ(cache.checkpoint_hits(), 3u);
}

// A proof with a node that is not 32 bytes, or with more nodes than a tree of 2^64 leaves needs.
TEST_F(VdVectorsTest, AMalformedLogProofIsRefused) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData logged, ReadVd("logged.vd"));
  v1::VouchingData short_node = logged;
  short_node.mutable_log_proof()->mutable_inclusion_proof(0)->pop_back();
  EXPECT_THAT(VerifyVouchingData(short_node, *vas_, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("proof element 0 is 31 bytes, not 32")));
  v1::VouchingData too_long = logged;
  while (too_long.log_proof().inclusion_proof_size() <= 64) {
    too_long.mutable_log_proof()->add_inclusion_proof(std::string(32, 'x'));
  }
  EXPECT_THAT(VerifyVouchingData(too_long, *vas_, Expected()),
              StatusIs(absl::StatusCode::kInvalidArgument, "the VD's log proof is malformed"));
  v1::VouchingData trailing = logged;
  trailing.mutable_log_proof()->add_inclusion_proof(std::string(32, 'x'));
  EXPECT_THAT(VerifyVouchingData(trailing, *vas_, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("has too many elements")));
  v1::VouchingData short_record = logged;
  short_record.mutable_log_proof()->mutable_record_sha256()->pop_back();
  EXPECT_THAT(VerifyVouchingData(short_record, *vas_, Expected()),
              StatusIs(absl::StatusCode::kInvalidArgument, "the VD's log proof is malformed"));
}

}  // namespace
}  // namespace mecai
