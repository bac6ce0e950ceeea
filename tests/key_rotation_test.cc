// The key rotations of docs/OPERATIONS.md, each run as a whole over the real binaries with the
// steps the document gives, in its order, while a steady trickle of VRs goes on: "Rotating the VA
// key and certificate" (a second key generated in the SoftHSM2 token with pkcs11-tool under a new
// label, a new VA certificate, a VA list pinning both keys, the signer moved onto the new key, then
// a VA list with the new key only) and "Rotating the log key" (a new log key label; the next
// checkpoint extends the last one and verifies under the new key; an audit across the rotation
// finds the log consistent).
#include <signal.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/audit_client.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "cluster/binaries.h"
#include "cluster/cluster_configs.h"
#include "cluster/local_cluster.h"
#include "common/base/files.h"
#include "common/crypto/pem.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/config.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/procedure_steps.h"
#include "tests/support/vr_trickle.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// The running test's name, which names its cluster's directory.
std::string TestName() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

class KeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LocalClusterOptions options;
    options.decision_reuse = false;
    options.max_probe_rounds_per_hostname = 100000;
    ASSERT_OK_AND_ASSIGN(cluster_, StartTestCluster(TestName(), options));
    trickle_ = std::make_unique<VrTrickle>([this] { return FreshRequest(*cluster_).value_or(""); },
                                           cluster_->CoordinatorPeer(), absl::Milliseconds(100));
  }

  // `pkcs11-tool` on the cluster's token (deploy/README.md "Signer keys and state"), logged in
  // with the token's user PIN when `login`.
  absl::StatusOr<std::string> Pkcs11Tool(const std::string& name, bool login,
                                         const std::vector<std::string>& arguments) const {
    std::vector<std::string> argv = {"pkcs11-tool", "--module", SoftHsmModulePath(),
                                     "--token-label", kClusterTokenLabel};
    if (login) {
      ASSIGN_OR_RETURN(std::string pin, ReadFile(cluster_->Path("hsm/user.pin")));
      argv.insert(argv.end(), {"--login", "--pin", std::string(absl::StripAsciiWhitespace(pin))});
    }
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return RunStep(*cluster_, name, argv,
                   {absl::StrCat("SOFTHSM2_CONF=", cluster_->Path("hsm/softhsm2.conf"))});
  }

  // Step 1 of both rotations: a new key pair labelled `label` generated in the token, EC P-256
  // (the VA key) or Ed25519 (the log key, docs/PUBLIC_LOG.md "Turning it on"), its public half
  // exported to `public_key_file` (PEM), as deploy/README.md "Signer keys and state" does; returns
  // the public key.
  absl::StatusOr<EvpPkeyPtr> GenerateKeyInToken(
      const std::string& label, const std::string& public_key_file,
      const std::string& key_type = "EC:prime256v1") const {
    RETURN_IF_ERROR(Pkcs11Tool("keygen-" + label, /*login=*/true,
                               {"--keypairgen", "--key-type", key_type, "--label", label})
                        .status());
    if (key_type == "EC:edwards25519") {
      // pkcs11-tool writes an Ed25519 public key as PEM already.
      RETURN_IF_ERROR(
          Pkcs11Tool("export-" + label, /*login=*/false,
                     {"--read-object", "--type", "pubkey", "--label", label, "-o", public_key_file})
              .status());
      return LoadPemPublicKey(public_key_file);
    }
    // pkcs11-tool writes an EC public key as a DER SubjectPublicKeyInfo; openssl makes it PEM.
    const std::string der_file = public_key_file + ".der";
    RETURN_IF_ERROR(
        Pkcs11Tool("export-" + label, /*login=*/false,
                   {"--read-object", "--type", "pubkey", "--label", label, "-o", der_file})
            .status());
    RETURN_IF_ERROR(RunStep(*cluster_, "pem-" + label,
                            {"openssl", "pkey", "-pubin", "-inform", "DER", "-in", der_file, "-out",
                             public_key_file})
                        .status());
    return LoadPemPublicKey(public_key_file);
  }

  // Writes a VA list like the cluster's, pinning `va_keys` and naming `log_public_key_file`.
  absl::Status WriteVaList(const std::string& path, const std::vector<EVP_PKEY*>& va_keys,
                           const std::string& log_public_key_file) const {
    v1::VaList list = ClusterVaList(cluster_->workdir(), VaKeyPin(va_keys.front()));
    for (size_t i = 1; i < va_keys.size(); ++i) {
      list.mutable_vas(0)->add_va_spki_sha256(VaKeyPin(va_keys[i]));
    }
    list.mutable_vas(0)->set_log_public_key_file(log_public_key_file);
    std::string text;
    google::protobuf::TextFormat::PrintToString(list, &text);
    return WriteFileAtomically(path, text);
  }

  // "restart the signers one at a time": the cluster's signer, with its edited config.
  void RestartSigner() {
    trickle_->SetStep("signer restart");
    ASSERT_OK(cluster_->Kill("signer", SIGTERM));
    ASSERT_OK(cluster_->RestartSigner());
    trickle_->SetStep("after");
  }

  // Every VR of the trickle was issued, or failed while the signer restarted as
  // docs/OPERATIONS.md "Upgrades" says a VR may (IsARestartsFault).
  void ExpectTheTrickleKeptVouching() {
    // Five more after the last step, each of which must be issued: the count below does not hang
    // on how fast this machine answered the earlier steps.
    ASSERT_TRUE(trickle_->AwaitMore(5, absl::Seconds(60)));
    const std::vector<VrOutcome> outcomes = trickle_->Stop();
    int issued = 0;
    for (const VrOutcome& outcome : outcomes) {
      if (!outcome.call.ok()) {
        EXPECT_EQ(outcome.step, "signer restart") << outcome.call;
        EXPECT_TRUE(IsARestartsFault(outcome.call, /*signer_restarting=*/true)) << outcome.call;
        continue;
      }
      EXPECT_TRUE(outcome.response.has_vouching_data())
          << "in step '" << outcome.step << "': refused "
          << v1::RefusalReason_Name(outcome.response.refusal().reason()) << ": "
          << outcome.response.refusal().explanation();
      issued += outcome.response.has_vouching_data() ? 1 : 0;
    }
    EXPECT_GE(issued, 5);
  }

  // VerifyVouchingData of `vd` as a TLS client of the target verifies it, under the VA list at
  // `va_list_file`.
  absl::Status VerifyAsClient(const v1::VouchingData& vd, const std::string& va_list_file) const {
    ASSIGN_OR_RETURN(auto vas, VaList::Load(va_list_file));
    ASSIGN_OR_RETURN(std::vector<std::string> leaf,
                     LoadPemCertificatesAsDer(cluster_->ServerLeafFile()));
    VdExpectation expected;
    expected.hostname = LocalCluster::kTargetHost;
    expected.port = static_cast<uint32_t>(cluster_->target_port());
    expected.certificate_der = leaf.front();
    expected.now = absl::Now();
    return VerifyVouchingData(vd, *vas, expected).status();
  }

  // `mecai audit --verify` (the audit client library) of the whole log under `va_list_file`,
  // keeping the last verified checkpoint in `state_file`.
  absl::StatusOr<AuditReport> Audit(const std::string& va_list_file, const std::string& state_file,
                                    std::string* output) const {
    AuditOptions options;
    options.vouching_server = cluster_->CoordinatorPeer();
    options.verify = true;
    options.va_list_file = va_list_file;
    options.state_file = state_file;
    std::ostringstream out;
    absl::StatusOr<AuditReport> report = RunAudit(options, out);
    *output = out.str();
    return report;
  }

  // The shard's newest checkpoint, freshly signed (AuditService.GetCheckpoint).
  absl::StatusOr<v1::SignedCheckpoint> FreshCheckpoint() const {
    ASSIGN_OR_RETURN(auto channel, MakeChannel(cluster_->CoordinatorPeer()));
    auto stub = v1::AuditService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::GetCheckpointResponse response;
    grpc::Status status = stub->GetCheckpoint(&context, v1::GetCheckpointRequest(), &response);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return response.checkpoint();
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<VrTrickle> trickle_;
};

// docs/OPERATIONS.md "Rotating the VA key and certificate", steps 1-4.
TEST_F(KeyRotationTest, RotatingTheVaKeyAndCertificate) {
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse old_vd, AwaitIssued(*cluster_));
  ASSERT_OK(VerifyAsClient(old_vd.vouching_data(), cluster_->VaListFile()));
  ASSERT_OK_AND_ASSIGN(auto old_chain, LoadPemCertificates(cluster_->Path("pki/va.pem")));
  EvpPkeyPtr old_key(X509_get_pubkey(old_chain.front().get()));
  ASSERT_NE(old_key, nullptr);

  // 1. The new key in the HSM under a new label; the CA issues the new VA certificate for it.
  const std::string new_label = std::string(kClusterVaKeyLabel) + "-2";
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr new_key,
                       GenerateKeyInToken(new_label, cluster_->Path("pki/va-2.pub.pem")));
  ASSERT_OK(cluster_->IssueVaCertificate(new_key.get(), cluster_->Path("pki/va-2.pem")));

  // 2. A VA list with both keys' va_spki_sha256.
  const std::string both = cluster_->Path("va-list-both-keys.textproto");
  ASSERT_OK(
      WriteVaList(both, {old_key.get(), new_key.get()}, cluster_->Path("pki/log-key.pub.pem")));

  // 3. Every signer onto the new key and chain, restarted one at a time.
  ASSERT_OK(EditConfig<v1::SignerConfig>(
      cluster_->Path("signer.textproto"), [&](v1::SignerConfig& config) {
        config.mutable_pkcs11()->set_key_label(new_label);
        config.set_va_certificate_chain_file(cluster_->Path("pki/va-2.pem"));
      }));
  RestartSigner();
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse new_vd, AwaitIssued(*cluster_));
  ASSERT_TRUE(trickle_->AwaitMore(3, absl::Seconds(30)));

  // Under the two-key list both verify; a client still on the old list refuses the new VD, which
  // is why the list with both keys reaches clients before the signers move (step 2 before 3).
  EXPECT_OK(VerifyAsClient(old_vd.vouching_data(), both));
  EXPECT_OK(VerifyAsClient(new_vd.vouching_data(), both));
  absl::Status new_under_old = VerifyAsClient(new_vd.vouching_data(), cluster_->VaListFile());
  EXPECT_EQ(new_under_old.code(), absl::StatusCode::kPermissionDenied) << new_under_old;
  EXPECT_THAT(new_under_old.message(),
              HasSubstr(absl::StrCat("the VA certificate's key (SubjectPublicKeyInfo SHA-256 ",
                                     VaKeyPin(new_key.get()), ") is not pinned")));

  // 4. A VA list with the new key only: the old VD is refused, the new one verifies; the old key
  // is destroyed and the signer goes on.
  const std::string only_new = cluster_->Path("va-list-new-key.textproto");
  ASSERT_OK(WriteVaList(only_new, {new_key.get()}, cluster_->Path("pki/log-key.pub.pem")));
  absl::Status old_under_new = VerifyAsClient(old_vd.vouching_data(), only_new);
  EXPECT_EQ(old_under_new.code(), absl::StatusCode::kPermissionDenied) << old_under_new;
  EXPECT_THAT(old_under_new.message(),
              HasSubstr(absl::StrCat("the VA certificate's key (SubjectPublicKeyInfo SHA-256 ",
                                     VaKeyPin(old_key.get()), ") is not pinned")));
  EXPECT_OK(VerifyAsClient(new_vd.vouching_data(), only_new));
  ASSERT_OK(Pkcs11Tool("destroy-old-va-key", /*login=*/true,
                       {"--delete-object", "--type", "privkey", "--label", kClusterVaKeyLabel})
                .status());
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse last_vd, AwaitIssued(*cluster_));
  EXPECT_OK(VerifyAsClient(last_vd.vouching_data(), only_new));

  ExpectTheTrickleKeptVouching();
  // Auditors with the new list verify the whole log: checkpoints carry the VA certificate, now
  // the new one.
  std::string output;
  ASSERT_OK_AND_ASSIGN(AuditReport report, Audit(only_new, "", &output));
  EXPECT_THAT(report.problems, SizeIs(0)) << output;
}

// docs/OPERATIONS.md "Rotating the log key", steps 1-3.
TEST_F(KeyRotationTest, RotatingTheLogKey) {
  ASSERT_OK(AwaitIssued(*cluster_).status());
  ASSERT_TRUE(trickle_->AwaitMore(3, absl::Seconds(30)));
  // An auditor verified the log with the old log key and kept that checkpoint.
  const std::string kept = cluster_->Path("auditor-checkpoint.pb");
  std::string output;
  ASSERT_OK_AND_ASSIGN(AuditReport before, Audit(cluster_->VaListFile(), kept, &output));
  ASSERT_THAT(before.problems, SizeIs(0)) << output;
  ASSERT_GT(before.tree_size, 0u);

  // 1. The new log key in the HSM under a new label.
  const std::string new_label = std::string(kClusterLogKeyLabel) + "-2";
  const std::string new_log_key_file = cluster_->Path("pki/log-key-2.pub.pem");
  ASSERT_OK(GenerateKeyInToken(new_label, new_log_key_file, "EC:edwards25519").status());

  // 2. A VA list naming the new log public key (the VA keys unchanged).
  ASSERT_OK_AND_ASSIGN(auto current, VaList::Load(cluster_->VaListFile()));
  v1::VaList list;
  *list.add_vas() = current->entries().front().config;
  list.mutable_vas(0)->set_log_public_key_file(new_log_key_file);
  std::string text;
  google::protobuf::TextFormat::PrintToString(list, &text);
  const std::string new_list = cluster_->Path("va-list-new-log-key.textproto");
  ASSERT_OK(WriteFileAtomically(new_list, text));

  // 3. log_key_label on every signer, restarted one at a time.
  ASSERT_OK(EditConfig<v1::SignerConfig>(
      cluster_->Path("signer.textproto"),
      [&](v1::SignerConfig& config) { config.set_log_key_label(new_label); }));
  RestartSigner();
  ASSERT_OK(AwaitIssued(*cluster_).status());
  ASSERT_TRUE(trickle_->AwaitMore(3, absl::Seconds(30)));

  // The next checkpoint verifies under the new log key, and no longer under the old one.
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint checkpoint, FreshCheckpoint());
  ASSERT_OK_AND_ASSIGN(auto new_vas, VaList::Load(new_list));
  ASSERT_OK_AND_ASSIGN(v1::CheckpointBody body,
                       VerifyCheckpoint(checkpoint, *new_vas, absl::Now()));
  EXPECT_GT(body.tree_size(), before.tree_size);
  absl::StatusOr<v1::CheckpointBody> under_old =
      VerifyCheckpoint(checkpoint, *current, absl::Now());
  EXPECT_EQ(under_old.status().code(), absl::StatusCode::kPermissionDenied) << under_old.status();
  EXPECT_THAT(under_old.status().message(),
              HasSubstr("the checkpoint signature does not verify under the key of VA"));

  // The auditor, with the new list, checks consistency from the checkpoint it verified with the
  // old key: the log extends it.
  ExpectTheTrickleKeptVouching();
  ASSERT_OK_AND_ASSIGN(AuditReport after, Audit(new_list, kept, &output));
  EXPECT_THAT(after.problems, SizeIs(0)) << output;
  EXPECT_GT(after.tree_size, before.tree_size);
  EXPECT_THAT(output, HasSubstr(absl::StrCat("consistent with the checkpoint of ", before.tree_size,
                                             " records seen before")));
}

}  // namespace
}  // namespace mecai
