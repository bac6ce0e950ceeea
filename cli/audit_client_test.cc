// Tests of what `mecai audit --verify` accepts as a signed checkpoint (cli/audit_client.h): the
// checkpoint's VA chain is validated as a client validates a VD's (client/va_chain.h), the
// signature carries the checkpoint context, the body names the VA whose key signed it, and the
// state file pins the log shard and VA. Each test changes one thing of a checkpoint that
// IntermediateIssuedVaCertificateVerifies shows to be accepted.
#include "cli/audit_client.h"

#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/va_list.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/crypto/signed_object.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/note_key.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/signer.pb.h"

namespace mecai {
namespace {

using ::mecai::test_pki::FixtureNow;
using ::mecai::test_pki::MakeTempDirectory;
using ::mecai::test_pki::ShareKey;
using ::mecai::test_pki::SignerFor;
using ::mecai::test_pki::StatusIs;
using ::mecai::test_pki::WriteTestFile;
using ::testing::Eq;
using ::testing::HasSubstr;

struct KeyAndCertificate {
  EvpPkeyPtr key;
  X509Ptr certificate;
};

// A certificate from `spec` on a fresh key, issued by `issuer` (self-signed when null).
absl::StatusOr<KeyAndCertificate> Issue(const CertificateSpec& spec,
                                        const KeyAndCertificate* issuer) {
  KeyAndCertificate issued;
  ASSIGN_OR_RETURN(issued.key, GenerateEcKey());
  ASSIGN_OR_RETURN(issued.certificate,
                   IssueCertificate(spec, issued.key.get(),
                                    issuer != nullptr ? issuer->certificate.get() : nullptr,
                                    issuer != nullptr ? issuer->key.get() : issued.key.get()));
  return issued;
}

CertificateSpec CaSpec(const std::string& name, int path_length) {
  CertificateSpec spec;
  spec.common_name = name;
  spec.is_certificate_authority = true;
  spec.path_length = path_length;
  spec.not_before = FixtureNow() - absl::Hours(24 * 30);
  spec.not_after = FixtureNow() + absl::Hours(24 * 3650);
  return spec;
}

CertificateSpec VaSpec(const std::string& name) {
  CertificateSpec spec;
  spec.common_name = name;
  spec.extended_key_usages = {"OCSPSigning"};
  spec.not_before = FixtureNow() - absl::Hours(24);
  spec.not_after = FixtureNow() + absl::Hours(24 * 365);
  return spec;
}

class AuditCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Root → issuing intermediate → VA certificate, as a CA issues its VA certificate.
    ASSERT_OK_AND_ASSIGN(root_, Issue(CaSpec("Audit Test Root CA", -1), nullptr));
    ASSERT_OK_AND_ASSIGN(intermediate_, Issue(CaSpec("Audit Test Issuing CA", 0), &root_));
    ASSERT_OK_AND_ASSIGN(va_, Issue(VaSpec("Audit Test VA"), &intermediate_));
    ASSERT_OK_AND_ASSIGN(other_va_, Issue(VaSpec("Audit Test Other VA"), &intermediate_));
    ASSERT_OK_AND_ASSIGN(directory_, MakeTempDirectory());
    ASSERT_OK(
        WriteTestFile(directory_, "root.pem", CertificateToPem(root_.certificate.get())).status());
    // Two VAs whose certificates the same CA issues, each with its own key pinned.
    v1::VaList list;
    v1::VaListEntry* entry = list.add_vas();
    entry->set_id("va-a");
    entry->set_ca_certificate_file("root.pem");
    entry->add_va_spki_sha256(VaKeyPin(va_.key.get()));
    // Each VA's log key, which signs its checkpoints (not the VA certificate's key).
    ASSERT_OK_AND_ASSIGN(log_key_, GenerateEcKey());
    ASSERT_OK_AND_ASSIGN(other_log_key_, GenerateEcKey());
    ASSERT_OK_AND_ASSIGN(std::string log_key_file, WriteTestFile(directory_, "va-a-log.pub.pem",
                                                                 PublicKeyToPem(log_key_.get())));
    ASSERT_OK_AND_ASSIGN(
        std::string other_log_key_file,
        WriteTestFile(directory_, "va-b-log.pub.pem", PublicKeyToPem(other_log_key_.get())));
    entry->set_log_public_key_file(log_key_file);
    entry = list.add_vas();
    entry->set_id("va-b");
    entry->set_ca_certificate_file("root.pem");
    entry->add_va_spki_sha256(VaKeyPin(other_va_.key.get()));
    entry->set_log_public_key_file(other_log_key_file);
    std::string text;
    ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(list, &text));
    ASSERT_OK_AND_ASSIGN(va_list_file_, WriteTestFile(directory_, "va-list.textproto", text));
    ASSERT_OK_AND_ASSIGN(vas_, VaList::Load(va_list_file_));

    body_.set_log_shard_id("shard-1");
    body_.set_tree_size(42);
    body_.set_root_hash(std::string(32, '\x5a'));
    body_.set_timestamp_unix_milliseconds(absl::ToUnixMillis(FixtureNow()));
    body_.set_va_id("va-a");
  }

  // The log key of the VA whose certificate holds `va_key`; for a certificate of no listed VA, its
  // own key (the checkpoint is refused before its signature matters).
  EVP_PKEY* LogKeyFor(EVP_PKEY* va_key) const {
    if (va_key == va_.key.get()) return log_key_.get();
    if (va_key == other_va_.key.get()) return other_log_key_.get();
    return va_key;
  }

  // `body_` signed with the checkpoint context by the log key of the VA whose certificate holds
  // `va_key`, carrying `chain`.
  absl::StatusOr<v1::SignedCheckpoint> Signed(const v1::CheckpointBody& body, EVP_PKEY* va_key,
                                              const std::vector<X509*>& chain) const {
    v1::SignedCheckpoint checkpoint;
    checkpoint.set_tbs(body.SerializeAsString());
    ASSIGN_OR_RETURN(std::unique_ptr<InMemorySigningKey> signer, SignerFor(LogKeyFor(va_key)));
    ASSIGN_OR_RETURN(*checkpoint.mutable_signature(),
                     SignObject(*signer, SignedObject::kCheckpoint, checkpoint.tbs()));
    for (X509* certificate : chain) {
      checkpoint.add_va_certificate_chain_der(CertificateToDer(certificate));
    }
    return checkpoint;
  }

  // The fixture's checkpoint, signed by va-a with the chain [VA certificate, intermediate].
  absl::StatusOr<v1::SignedCheckpoint> Checkpoint() const {
    return Signed(body_, va_.key.get(), {va_.certificate.get(), intermediate_.certificate.get()});
  }

  absl::StatusOr<v1::CheckpointBody> Verify(const v1::SignedCheckpoint& checkpoint) const {
    return VerifyCheckpoint(checkpoint, *vas_, FixtureNow());
  }

  KeyAndCertificate root_;
  KeyAndCertificate intermediate_;
  KeyAndCertificate va_;
  KeyAndCertificate other_va_;
  EvpPkeyPtr log_key_;
  EvpPkeyPtr other_log_key_;
  std::string directory_;
  std::string va_list_file_;
  std::unique_ptr<VaList> vas_;
  v1::CheckpointBody body_;
};

// A VA certificate issued by an intermediate of the listed CA: the presented intermediate builds
// the path.
TEST_F(AuditCheckpointTest, IntermediateIssuedVaCertificateVerifies) {
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint checkpoint, Checkpoint());
  ASSERT_OK_AND_ASSIGN(v1::CheckpointBody body, Verify(checkpoint));
  EXPECT_EQ(body.SerializeAsString(), body_.SerializeAsString());
  ASSERT_OK_AND_ASSIGN(CheckpointKey key,
                       CheckpointVerificationKey(checkpoint, *vas_, FixtureNow()));
  EXPECT_EQ(key.va_id, "va-a");
  EXPECT_EQ(VaKeyPin(key.key.get()), VaKeyPin(log_key_.get()));  // The log key, not the VA key.
  // Without the intermediate no path builds.
  checkpoint.mutable_va_certificate_chain_der()->RemoveLast();
  EXPECT_THAT(Verify(checkpoint),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the checkpoint's VA certificate: the VA certificate does not chain to "
                          "the CA of any listed VA (va-a: unable to get local issuer certificate; "
                          "va-b: unable to get local issuer certificate)")));
}

// A self-made certificate and key, carried by the checkpoint itself, prove nothing.
TEST_F(AuditCheckpointTest, SelfSignedVaCertificateIsRefused) {
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate self_made, Issue(VaSpec("Self-made VA"), nullptr));
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint checkpoint,
                       Signed(body_, self_made.key.get(), {self_made.certificate.get()}));
  EXPECT_THAT(Verify(checkpoint), StatusIs(absl::StatusCode::kPermissionDenied,
                                           HasSubstr("does not chain to the CA of any listed VA")));
}

// An OCSP responder certificate of the same CA chains and carries id-kp-OCSPSigning, but its key
// is pinned for no VA.
TEST_F(AuditCheckpointTest, UnpinnedKeyUnderTheVasCaIsRefused) {
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate responder,
                       Issue(VaSpec("Audit Test OCSP Responder"), &intermediate_));
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint checkpoint,
                       Signed(body_, responder.key.get(),
                              {responder.certificate.get(), intermediate_.certificate.get()}));
  EXPECT_THAT(Verify(checkpoint),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq(absl::StrCat("the checkpoint's VA certificate: the VA certificate's key "
                                       "(SubjectPublicKeyInfo SHA-256 ",
                                       VaKeyPin(responder.key.get()),
                                       ") is not pinned for any listed VA whose CA issued it "
                                       "(va-a: key not in va_spki_sha256; va-b: key not in "
                                       "va_spki_sha256)"))));
}

TEST_F(AuditCheckpointTest, VaCertificateWithoutOcspSigningIsRefused) {
  CertificateSpec spec = VaSpec("Audit Test VA without OCSPSigning");
  spec.extended_key_usages = {"serverAuth"};
  KeyAndCertificate va;
  va.key = ShareKey(va_.key.get());
  ASSERT_OK_AND_ASSIGN(va.certificate,
                       IssueCertificate(spec, va.key.get(), intermediate_.certificate.get(),
                                        intermediate_.key.get()));
  ASSERT_OK_AND_ASSIGN(
      v1::SignedCheckpoint checkpoint,
      Signed(body_, va.key.get(), {va.certificate.get(), intermediate_.certificate.get()}));
  EXPECT_THAT(Verify(checkpoint),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the checkpoint's VA certificate: the VA certificate lacks the "
                          "id-kp-OCSPSigning (designated OCSP responder) usage")));
}

// va-b's key signing a checkpoint that names va-a: the chain is va-b's, so the body must say va-b.
TEST_F(AuditCheckpointTest, CheckpointNamingAnotherVaIsRefused) {
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint checkpoint,
                       Signed(body_, other_va_.key.get(),
                              {other_va_.certificate.get(), intermediate_.certificate.get()}));
  EXPECT_THAT(Verify(checkpoint),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the checkpoint names VA 'va-a' but is signed with the key of VA "
                          "'va-b'")));
  body_.set_va_id("va-b");
  ASSERT_OK_AND_ASSIGN(checkpoint,
                       Signed(body_, other_va_.key.get(),
                              {other_va_.certificate.get(), intermediate_.certificate.get()}));
  EXPECT_TRUE(Verify(checkpoint).ok()) << Verify(checkpoint).status();
}

// The signature must cover the checkpoint context: a plain signature over the same bytes (what
// another kind of signed object, or an older signer, produces) does not verify.
TEST_F(AuditCheckpointTest, SignatureWithoutTheCheckpointContextIsRefused) {
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint checkpoint, Checkpoint());
  ASSERT_OK_AND_ASSIGN(*checkpoint.mutable_signature(),
                       SignBytes(log_key_.get(), v1::ECDSA_P256_SHA256, checkpoint.tbs()));
  EXPECT_THAT(Verify(checkpoint),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the checkpoint signature does not verify under the key of VA 'va-a'")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InMemorySigningKey> signer, SignerFor(log_key_.get()));
  ASSERT_OK_AND_ASSIGN(*checkpoint.mutable_signature(),
                       SignObject(*signer, SignedObject::kVouchingStatement, checkpoint.tbs()));
  EXPECT_THAT(Verify(checkpoint), StatusIs(absl::StatusCode::kPermissionDenied,
                                           HasSubstr("signature does not verify")));
}

// The VA certificate's key signs VDs only: a checkpoint it signed is refused.
TEST_F(AuditCheckpointTest, CheckpointSignedByTheVaKeyInsteadOfTheLogKeyIsRefused) {
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint checkpoint, Checkpoint());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InMemorySigningKey> signer, SignerFor(va_.key.get()));
  ASSERT_OK_AND_ASSIGN(*checkpoint.mutable_signature(),
                       SignObject(*signer, SignedObject::kCheckpoint, checkpoint.tbs()));
  EXPECT_THAT(Verify(checkpoint),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the checkpoint signature does not verify under the key of VA 'va-a'")));
}

// Signed bytes with a field the CheckpointBody does not define are refused, although signed.
TEST_F(AuditCheckpointTest, SignedBodyWithAnUnknownFieldIsRefused) {
  v1::SignedCheckpoint checkpoint;
  // Field 6 (unknown to CheckpointBody), varint 1, after the known fields.
  const std::string tbs = body_.SerializeAsString() + std::string("\x30\x01", 2);
  checkpoint.set_tbs(tbs);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InMemorySigningKey> signer, SignerFor(log_key_.get()));
  ASSERT_OK_AND_ASSIGN(*checkpoint.mutable_signature(),
                       SignObject(*signer, SignedObject::kCheckpoint, tbs));
  checkpoint.add_va_certificate_chain_der(CertificateToDer(va_.certificate.get()));
  checkpoint.add_va_certificate_chain_der(CertificateToDer(intermediate_.certificate.get()));
  EXPECT_THAT(Verify(checkpoint),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field number 6")));
}

TEST_F(AuditCheckpointTest, CheckpointWithoutVaCertificateIsRefused) {
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint checkpoint, Signed(body_, va_.key.get(), {}));
  EXPECT_THAT(Verify(checkpoint), StatusIs(absl::StatusCode::kInvalidArgument,
                                           Eq("the checkpoint carries no VA certificate")));
}

// The state file pins the log shard and the VA of the first audited checkpoint.
TEST_F(AuditCheckpointTest, KeptCheckpointPinsTheShardAndTheVa) {
  v1::CheckpointBody later = body_;
  later.set_tree_size(50);
  EXPECT_TRUE(CheckSameLog(body_, later).ok());
  v1::CheckpointBody other_shard = later;
  other_shard.set_log_shard_id("shard-2");
  EXPECT_THAT(CheckSameLog(body_, other_shard),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("the checkpoint is of log shard 'shard-2' signed by VA 'va-a', but the "
                          "state file holds log shard 'shard-1' signed by VA 'va-a'")));
  v1::CheckpointBody other_va = later;
  other_va.set_va_id("va-b");
  EXPECT_THAT(CheckSameLog(body_, other_va),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("the checkpoint is of log shard 'shard-1' signed by VA 'va-b', but the "
                          "state file holds log shard 'shard-1' signed by VA 'va-a'")));
}

// Refused before any call: the address below has no server.
TEST_F(AuditCheckpointTest, VerifyWithoutAVaListOrWithABadStateFileIsRefusedBeforeAnyCall) {
  AuditOptions options;
  options.vouching_server.set_address("127.0.0.1:1");
  options.vouching_server.set_insecure_plaintext_for_local_development(true);
  options.verify = true;
  std::ostringstream out;
  EXPECT_THAT(RunAudit(options, out),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("verifying a checkpoint needs the VA list that says which VA may sign "
                          "it (--va-list)")));
  options.va_list_file = va_list_file_;
  ASSERT_OK_AND_ASSIGN(options.state_file, WriteTestFile(directory_, "state", "not a checkpoint"));
  EXPECT_THAT(RunAudit(options, out),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(absl::StrCat("the state file ", options.state_file,
                                       " does not hold a checkpoint of an earlier audit (remove it "
                                       "to start afresh)"))));
  EXPECT_EQ(out.str(), "");
}

// A logged VD signer's checkpoint (docs/VOUCHING_DATA.md "Logged VDs") carries no signature over
// its body: the note, signed by the VA's log key, states the origin "<log_origin_prefix>/<shard>",
// size and root, and the VA key's endorsement states the prefix. Without the endorsement verified,
// a server could split the origin elsewhere and name the note's log another shard.
TEST_F(AuditCheckpointTest, ALoggedCheckpointNeedsTheVasEndorsementOfItsPrefix) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr log_key, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(
      std::string log_key_file,
      WriteTestFile(directory_, "va-a-ed25519-log.pub.pem", PublicKeyToPem(log_key.get())));
  v1::VaList list;
  v1::VaListEntry* entry = list.add_vas();
  entry->set_id("va-a");
  entry->set_ca_certificate_file("root.pem");
  entry->add_va_spki_sha256(VaKeyPin(va_.key.get()));
  entry->set_log_public_key_file(log_key_file);
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(list, &text));
  ASSERT_OK_AND_ASSIGN(std::string list_file,
                       WriteTestFile(directory_, "va-list-logged.textproto", text));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VaList> vas, VaList::Load(list_file));

  // The note of shard "shard-1" under the prefix "log.example/mecai".
  const std::string origin = "log.example/mecai/shard-1";
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey vkey, Ed25519VerifierKey(origin, log_key.get()));
  ASSERT_OK_AND_ASSIGN(std::string note_text,
                       FormatCheckpointText({origin, body_.tree_size(), body_.root_hash(), {}}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InMemorySigningKey> log_signer, SignerFor(log_key.get()));
  ASSERT_OK_AND_ASSIGN(NoteSignature signature, SignNoteText(note_text, vkey, *log_signer));
  ASSERT_OK_AND_ASSIGN(std::string note, FormatSignedNote(note_text, {signature}));
  ASSERT_OK_AND_ASSIGN(std::string raw_log_key, Ed25519RawPublicKey(log_key.get()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InMemorySigningKey> va_signer, SignerFor(va_.key.get()));
  auto logged = [&](const v1::CheckpointBody& body, const std::string& va_id,
                    const std::string& prefix) -> absl::StatusOr<v1::SignedCheckpoint> {
    v1::SignedCheckpoint checkpoint;
    checkpoint.set_tbs(body.SerializeAsString());
    v1::LogKeyEndorsement endorsement;
    endorsement.set_va_id(va_id);
    endorsement.set_log_origin_prefix(prefix);
    endorsement.set_log_public_key(raw_log_key);
    v1::SignedLogKeyEndorsement* endorsed = checkpoint.mutable_log_key_endorsement();
    endorsed->set_tbs(endorsement.SerializeAsString());
    ASSIGN_OR_RETURN(*endorsed->mutable_signature(),
                     SignObject(*va_signer, SignedObject::kLogKeyEndorsement, endorsed->tbs()));
    checkpoint.set_note(note);
    checkpoint.add_va_certificate_chain_der(CertificateToDer(va_.certificate.get()));
    checkpoint.add_va_certificate_chain_der(CertificateToDer(intermediate_.certificate.get()));
    return checkpoint;
  };
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint honest, logged(body_, "va-a", "log.example/mecai"));
  ASSERT_OK_AND_ASSIGN(v1::CheckpointBody verified, VerifyCheckpoint(honest, *vas, FixtureNow()));
  EXPECT_EQ(verified.log_shard_id(), "shard-1");

  // The same note and endorsement signature, the endorsement's prefix cut short and the body naming
  // the shard "mecai/shard-1".
  v1::CheckpointBody split = body_;
  split.set_log_shard_id("mecai/shard-1");
  v1::SignedCheckpoint resplit = honest;
  resplit.set_tbs(split.SerializeAsString());
  v1::LogKeyEndorsement endorsement;
  ASSERT_TRUE(endorsement.ParseFromString(honest.log_key_endorsement().tbs()));
  endorsement.set_log_origin_prefix("log.example");
  resplit.mutable_log_key_endorsement()->set_tbs(endorsement.SerializeAsString());
  EXPECT_THAT(VerifyCheckpoint(resplit, *vas, FixtureNow()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "the checkpoint's log key endorsement does not verify under the key of VA "
                       "'va-a'"));
  // An endorsement the VA key signed, of another VA or another log key.
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint other_va, logged(body_, "va-b", "log.example/mecai"));
  EXPECT_THAT(VerifyCheckpoint(other_va, *vas, FixtureNow()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "the checkpoint's log key endorsement is of VA 'va-b', not 'va-a'"));
  raw_log_key[0] ^= 1;
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint other_key, logged(body_, "va-a", "log.example/mecai"));
  EXPECT_THAT(VerifyCheckpoint(other_key, *vas, FixtureNow()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "the checkpoint's log key endorsement endorses another key than the VA "
                       "list's log key of VA 'va-a'"));
}

}  // namespace
}  // namespace mecai
