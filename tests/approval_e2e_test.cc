// Phone approval of issuance across the real binaries (ARCHITECTURE.md §7, MECAI phone-approval
// proposal): a LocalCluster with the approval service, RDAP served by nginx and a recording voice
// gateway. For a trust list that requires approval, a VR is refused (with a record, before probing)
// until a person approves the key's request on the certapproval page with the code the gateway was
// asked to speak; then the VD says issuance_approved_out_of_band and verifies. A trust list without
// the requirement never says so. Rejection refuses; an approval of other names (the CSR's) does not
// cover the host; an approval service that does not answer fails the call (UNAVAILABLE), recording
// nothing.
#include <signal.h>
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "approval/proof_of_possession.h"
#include "approval/testing/test_environment.h"
#include "cli/vouch_client.h"
#include "cluster/local_cluster.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/approval_record.h"
#include "common/evidence/vouching_request.h"
#include "common/pki/pki_builder.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/approval.grpc.pb.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kDomain[] = "mecai.test";

class ApprovalEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_OK_AND_ASSIGN(const std::string rdap_directory, MakeTestDirectory("rdap"));
    // The registry lists one voice number for the cluster's domain (RFC 9083 jCard).
    auto rdap = testing::RdapServer::Start(
        rdap_directory, {{kDomain, testing::RdapDomainJson(kDomain, {"+49.30.1234567"})}});
    ASSERT_TRUE(rdap.ok()) << rdap.status();
    rdap_ = rdap->release();
    auto gateway = testing::VoiceGateway::Start();
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = gateway->release();

    LocalClusterOptions options;
    options.approval_rdap_base_url = rdap_->base_url();
    options.approval_voice_gateway_url = gateway_->url();
    // More VRs for the one target host than the default per-hostname limit of 10 per window.
    options.max_probe_rounds_per_hostname = 50;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                         StartTestCluster("cluster", options));
    cluster_ = cluster.release();
    // A second key for the target host, whose request a person rejects.
    ASSERT_TRUE(cluster_->IssueServerCertificate(LocalCluster::kTargetHost, "rejected").ok());
    // A third, whose requests the CA submits as CSRs naming other hosts.
    ASSERT_TRUE(cluster_->IssueServerCertificate(LocalCluster::kTargetHost, "named").ok());
    auto channel = MakeChannel(cluster_->CoordinatorPeer());
    ASSERT_TRUE(channel.ok());
    coordinator_ = new std::shared_ptr<grpc::Channel>(*channel);
    auto approval_channel = MakeChannel(cluster_->ApprovalPeer());
    ASSERT_TRUE(approval_channel.ok());
    approval_ = new std::shared_ptr<grpc::Channel>(*approval_channel);
  }

  static void TearDownTestSuite() {
    delete coordinator_;
    delete approval_;
    delete cluster_;  // Stops every process.
    delete gateway_;
    delete rdap_;
  }

  // A fresh VR for the target naming `trust_list`, signed with the key of pki/<name>.pem.
  static std::string MakeRequest(const std::string& trust_list,
                                 const std::string& name = "server") {
    auto request = SignedRequestFromFiles(
        cluster_->Path("pki/" + name + ".pem"), cluster_->Path("pki/" + name + ".key"),
        LocalCluster::kTargetHost, static_cast<uint32_t>(cluster_->target_port()), trust_list,
        absl::Now());
    EXPECT_TRUE(request.ok()) << request.status();
    return request.value_or("");
  }

  static v1::VouchResponse Vouch(const std::string& serialized) {
    absl::StatusOr<v1::VouchResponse> response = CallVouch(**coordinator_, serialized);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.value_or(v1::VouchResponse());
  }

  static v1::QuorumRecord GetRecord(uint64_t index) {
    absl::StatusOr<v1::QuorumRecord> record = CallGetRecord(**coordinator_, index);
    EXPECT_TRUE(record.ok()) << record.status();
    return record.value_or(v1::QuorumRecord());
  }

  // The CA submits an issuance request for the key of pki/<name>-leaf.pem: as a bare public key
  // with its proof of possession, or, with `csr_names`, as a CSR naming them (both signed with
  // pki/<name>.key). The service answers at once, CALLING.
  static v1::IssuanceStatus Submit(const std::string& transaction_number, const std::string& name,
                                   const std::vector<std::string>& csr_names = {}) {
    auto leaf = LoadPemCertificates(cluster_->Path("pki/" + name + "-leaf.pem"));
    EXPECT_TRUE(leaf.ok());
    v1::SubmitIssuanceRequestRequest request;
    request.set_domain(kDomain);
    request.set_transaction_number(transaction_number);
    auto key = LoadPemPrivateKey(cluster_->Path("pki/" + name + ".key"));
    EXPECT_TRUE(key.ok()) << key.status();
    if (csr_names.empty()) {
      request.set_subject_public_key_info_der(PublicKeyToDer(X509_get0_pubkey((*leaf)[0].get())));
      auto proof = SignProofOfPossession(key->get(), kDomain);
      EXPECT_TRUE(proof.ok()) << proof.status();
      request.set_proof_of_possession(proof.value_or(""));
    } else {
      auto csr = IssueCsrDer(key->get(), csr_names);
      EXPECT_TRUE(csr.ok()) << csr.status();
      request.set_csr_der(csr.value_or(""));
    }
    request.set_requester("MECAI Test Operator");
    auto stub = v1::ApprovalService::NewStub(*approval_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::IssuanceStatus status;
    grpc::Status call = stub->SubmitIssuanceRequest(&context, request, &status);
    EXPECT_TRUE(call.ok()) << call.error_message();
    return status;
  }

  // Polls GetIssuanceStatus until the request is no longer CALLING (at most 30 s).
  static v1::IssuanceStatus AwaitCalls(const std::string& transaction_number) {
    auto stub = v1::ApprovalService::NewStub(*approval_);
    v1::IssuanceStatus status;
    const absl::Time until = absl::Now() + absl::Seconds(30);
    do {
      v1::GetIssuanceStatusRequest request;
      request.set_transaction_number(transaction_number);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      grpc::Status call = stub->GetIssuanceStatus(&context, request, &status);
      EXPECT_TRUE(call.ok()) << call.error_message();
      if (!call.ok() || status.state() != v1::ISSUANCE_STATE_CALLING) break;
      absl::SleepFor(absl::Milliseconds(100));
    } while (absl::Now() < until);
    return status;
  }

  // Runs the mecai command line with `arguments`; returns its exit code and output.
  static std::pair<int, std::string> Mecai(const std::vector<std::string>& arguments) {
    static int counter = 0;
    const std::string log = cluster_->Path(absl::StrCat("logs/mecai-approval-", ++counter, ".log"));
    std::vector<std::string> argv = {absl::StrCat(getenv("TEST_SRCDIR"), "/mecai/cli/mecai")};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    auto process = ChildProcess::Start(argv, log);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return {-1, ""};
    EXPECT_TRUE((*process)->WaitForExit(absl::Seconds(60)));
    return {(*process)->ExitCode(), ReadFile(log).value_or("")};
  }

  // The mutual-TLS flags of the CA's client identity ("ca-frontend").
  static std::vector<std::string> ConnectionFlags() {
    const v1::PeerConfig peer = cluster_->ApprovalPeer();
    return {"--server",          peer.address(),
            "--tls-ca",          peer.tls().server_ca_file(),
            "--tls-cert",        peer.tls().certificate_file(),
            "--tls-key",         peer.tls().private_key_file(),
            "--tls-server-name", peer.tls().server_identity()};
  }

  // Runs curl with `arguments` against the certapproval page; returns what it wrote to stdout.
  static std::string Curl(const std::vector<std::string>& arguments) {
    static int counter = 0;
    const std::string output = cluster_->Path(absl::StrCat("logs/page-", ++counter, ".html"));
    std::vector<std::string> argv = {"curl",
                                     "--silent",
                                     "--show-error",
                                     "--max-time",
                                     "10",
                                     "--cookie",
                                     cluster_->Path("cookies.txt"),
                                     "--cookie-jar",
                                     cluster_->Path("cookies.txt"),
                                     "--output",
                                     output};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    auto process = ChildProcess::Start(argv, cluster_->Path("logs/curl-page.log"));
    EXPECT_TRUE(process.ok());
    if (!process.ok()) return "";
    EXPECT_TRUE((*process)->WaitForExit(absl::Seconds(15)));
    EXPECT_EQ((*process)->ExitCode(), 0) << TailOfFile(cluster_->Path("logs/curl-page.log"));
    return ReadFile(output).value_or("");
  }

  // What a person does after the call (MECAI phone-approval proposal): opens the page, enters the
  // transaction number, and approves or rejects with the code heard. Plain HTTP with the page's
  // CSRF token; the browser flow itself is //approval:approval_page_chromium_test. Returns the
  // answer page.
  static std::string DecideOnPage(const std::string& transaction_number, const std::string& code,
                                  const std::string& action) {
    const std::string site = absl::StrCat("http://127.0.0.1:", cluster_->approval_web_port());
    const std::string shown = Curl({absl::StrCat(site, "/request?tn=", transaction_number)});
    const std::string marker = "name=\"csrf\" value=\"";
    const size_t start = shown.find(marker);
    EXPECT_NE(start, std::string::npos) << shown;
    if (start == std::string::npos) return "";
    const size_t end = shown.find('"', start + marker.size());
    const std::string csrf = shown.substr(start + marker.size(), end - start - marker.size());
    return Curl({"--data-urlencode", "tn=" + transaction_number, "--data-urlencode", "csrf=" + csrf,
                 "--data-urlencode", "code=" + code, site + "/" + action});
  }

  // The code the gateway was asked to speak in the last call (to the registrant's number; never
  // to the registrar's abuse contact, which RdapDomainJson lists too).
  static std::string HeardCode() {
    std::vector<testing::RecordedCall> calls = gateway_->calls();
    EXPECT_FALSE(calls.empty());
    if (calls.empty()) return "";
    EXPECT_EQ(calls.back().to, "+49301234567");
    return testing::SpokenApprovalCode(calls.back().message);
  }

  // The CA submits (as Submit does) and a person then decides on the page with the code heard:
  // `action` is "approve" or "reject".
  static v1::IssuanceStatus SubmitAndDecide(const std::string& transaction_number,
                                            const std::string& name, const std::string& action,
                                            const std::vector<std::string>& csr_names = {}) {
    EXPECT_EQ(Submit(transaction_number, name, csr_names).state(), v1::ISSUANCE_STATE_CALLING);
    v1::IssuanceStatus submitted = AwaitCalls(transaction_number);
    EXPECT_EQ(submitted.state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL) << submitted.DebugString();
    EXPECT_THAT(DecideOnPage(transaction_number, HeardCode(), action),
                HasSubstr(absl::StrCat("You ", action == "approve" ? "approved" : "rejected",
                                       " the certificate for ", kDomain)));
    return submitted;
  }

  static testing::RdapServer* rdap_;
  static testing::VoiceGateway* gateway_;
  static LocalCluster* cluster_;
  static std::shared_ptr<grpc::Channel>* coordinator_;
  static std::shared_ptr<grpc::Channel>* approval_;
};

testing::RdapServer* ApprovalEndToEndTest::rdap_ = nullptr;
testing::VoiceGateway* ApprovalEndToEndTest::gateway_ = nullptr;
LocalCluster* ApprovalEndToEndTest::cluster_ = nullptr;
std::shared_ptr<grpc::Channel>* ApprovalEndToEndTest::coordinator_ = nullptr;
std::shared_ptr<grpc::Channel>* ApprovalEndToEndTest::approval_ = nullptr;

TEST_F(ApprovalEndToEndTest, IssuesOnlyAfterAPersonApprovedTheKeyOnThePage) {
  // No request for the key yet: refused before probing, and recorded.
  v1::VouchResponse before = Vouch(MakeRequest(LocalCluster::kApprovalTrustList));
  ASSERT_TRUE(before.has_refusal());
  EXPECT_EQ(before.refusal().reason(), v1::APPROVAL_REQUIRED) << before.refusal().explanation();
  EXPECT_THAT(before.refusal().explanation(), HasSubstr("has no request for key"));
  EXPECT_THAT(before.perspectives(), IsEmpty());
  v1::QuorumRecord refused = GetRecord(before.log_index());
  EXPECT_EQ(refused.decision(), v1::REFUSED);
  EXPECT_EQ(refused.refusal().reason(), v1::APPROVAL_REQUIRED);
  EXPECT_TRUE(refused.approval().required());
  EXPECT_FALSE(refused.approval().approved());
  EXPECT_THAT(refused.perspectives(), IsEmpty());

  // The CA submits the request; the registry's number is called with a code.
  ASSERT_EQ(Submit("e2e1-abcd-wxyz", "server").state(), v1::ISSUANCE_STATE_CALLING);
  v1::IssuanceStatus submitted = AwaitCalls("E2E1ABCDWXYZ");
  ASSERT_EQ(submitted.state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL) << submitted.DebugString();
  const std::string code = HeardCode();
  ASSERT_EQ(code.size(), 8u);

  // Still refused while the request awaits a person; the sentence names the state.
  v1::VouchResponse waiting = Vouch(MakeRequest(LocalCluster::kApprovalTrustList));
  ASSERT_TRUE(waiting.has_refusal());
  EXPECT_EQ(waiting.refusal().reason(), v1::APPROVAL_REQUIRED);
  EXPECT_THAT(waiting.refusal().explanation(),
              HasSubstr("E2E1ABCDWXYZ for mecai.test (key " +
                        ShortHex(submitted.subject_public_key_info_sha256()) +
                        ") is awaiting approval on the certapproval page"));
  // The record holds the approval service's signed record as evidence.
  v1::QuorumRecord waiting_record = GetRecord(waiting.log_index());
  ASSERT_THAT(waiting_record.approval().records(), SizeIs(1));
  auto approval_key = LoadPemPublicKey(cluster_->Path("approval/records.pub"));
  ASSERT_TRUE(approval_key.ok());
  ApprovalVerdict verdict =
      VerifyApprovalRecord(waiting_record.approval().records(0), approval_key->get(),
                           submitted.subject_public_key_info_sha256(), LocalCluster::kTargetHost,
                           absl::Now(), absl::Minutes(5));
  EXPECT_EQ(verdict.body.state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL) << verdict.explanation;

  // A person approves on the certapproval page with the code heard.
  EXPECT_THAT(DecideOnPage("E2E1ABCDWXYZ", code, "approve"),
              HasSubstr("You approved the certificate for mecai.test"));

  // The same VR, fresh: issued, and the VD says issuance was approved out of band.
  v1::VouchResponse approved = Vouch(MakeRequest(LocalCluster::kApprovalTrustList));
  ASSERT_TRUE(approved.has_vouching_data()) << approved.refusal().explanation();
  EXPECT_THAT(approved.perspectives(), SizeIs(3));
  const std::string vd_file = cluster_->Path("approved.vd");
  ASSERT_TRUE(WriteFileAtomically(vd_file, approved.vouching_data().SerializeAsString()).ok());
  VerifyOptions verify;
  verify.vouching_data_file = vd_file;
  verify.hostname = LocalCluster::kTargetHost;
  verify.certificate_file = cluster_->ServerLeafFile();
  verify.va_list_file = cluster_->VaListFile();
  auto statement = VerifyVouchingDataFile(verify);
  ASSERT_TRUE(statement.ok()) << statement.status();
  EXPECT_EQ(statement->trust_list(), LocalCluster::kApprovalTrustList);
  EXPECT_TRUE(statement->issuance_approved_out_of_band());
  v1::QuorumRecord issued = GetRecord(approved.log_index());
  EXPECT_EQ(issued.decision(), v1::ISSUED);
  EXPECT_TRUE(issued.approval().required());
  EXPECT_TRUE(issued.approval().approved());
  EXPECT_THAT(issued.approval().records(), SizeIs(1));

  // A trust list without the requirement: issued, and the VD claims no approval.
  v1::VouchResponse plain = Vouch(MakeRequest(LocalCluster::kTrustList));
  ASSERT_TRUE(plain.has_vouching_data()) << plain.refusal().explanation();
  v1::VouchingStatement plain_statement;
  ASSERT_TRUE(plain_statement.ParseFromString(plain.vouching_data().statement()));
  EXPECT_FALSE(plain_statement.issuance_approved_out_of_band());
  EXPECT_FALSE(GetRecord(plain.log_index()).has_approval());
}

TEST_F(ApprovalEndToEndTest, ARejectedRequestRefusesWithItsState) {
  v1::IssuanceStatus submitted = SubmitAndDecide("E2E2ABCDWXYZ", "rejected", "reject");
  v1::VouchResponse response = Vouch(MakeRequest(LocalCluster::kApprovalTrustList, "rejected"));
  ASSERT_TRUE(response.has_refusal());
  EXPECT_EQ(response.refusal().reason(), v1::APPROVAL_REQUIRED);
  EXPECT_THAT(response.refusal().explanation(),
              HasSubstr("E2E2ABCDWXYZ for mecai.test (key " +
                        ShortHex(submitted.subject_public_key_info_sha256()) +
                        ") is rejected by the domain's contact"));
}

// The approval service's /metrics, as every service's, passes promtool and counts what happened.
TEST_F(ApprovalEndToEndTest, TheApprovalServiceExposesValidMetrics) {
  auto port = cluster_->MetricsPort("approval");
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string text_file = cluster_->Path("metrics-approval.txt");
  auto fetch = ChildProcess::Start(
      {"curl", "--silent", "--show-error", "--fail", "--max-time", "10", "--output", text_file,
       absl::StrCat("http://127.0.0.1:", *port, "/metrics")},
      cluster_->Path("logs/curl-approval-metrics.log"));
  ASSERT_TRUE(fetch.ok());
  ASSERT_TRUE((*fetch)->WaitForExit(absl::Seconds(15)));
  ASSERT_EQ((*fetch)->ExitCode(), 0)
      << TailOfFile(cluster_->Path("logs/curl-approval-metrics.log"));
  auto check =
      ChildProcess::Start({"sh", "-c", absl::StrCat("promtool check metrics < ", text_file)},
                          cluster_->Path("logs/promtool-approval.log"));
  ASSERT_TRUE(check.ok());
  ASSERT_TRUE((*check)->WaitForExit(absl::Seconds(15)));
  EXPECT_EQ((*check)->ExitCode(), 0) << TailOfFile(cluster_->Path("logs/promtool-approval.log"));
  auto text = ReadFile(text_file);
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("mecai_approval_requests_submitted_total{result=\"accepted\"}"));
  EXPECT_THAT(*text, HasSubstr("mecai_approval_calls_total{outcome=\"placed\"}"));
  EXPECT_THAT(*text, HasSubstr("mecai_approval_signed_records_total"));
  EXPECT_THAT(*text, HasSubstr("method=\"/mecai.v1.ApprovalService/GetIssuanceStatus\""));
}

// The approver saw the CSR's names: approving api.mecai.test for a key is no approval of
// www.mecai.test for it (RFC 6125 §6.4.3 matching; a wildcard covers one label). A second
// approval for the key that covers the host is found although an earlier one does not.
TEST_F(ApprovalEndToEndTest, AnApprovalCoversOnlyTheNamesTheApproverSaw) {
  SubmitAndDecide("E2E3ABCDWXYZ", "named", "approve", {"api.mecai.test"});
  v1::VouchResponse refused = Vouch(MakeRequest(LocalCluster::kApprovalTrustList, "named"));
  ASSERT_TRUE(refused.has_refusal());
  EXPECT_EQ(refused.refusal().reason(), v1::APPROVAL_REQUIRED);
  EXPECT_THAT(refused.refusal().explanation(),
              HasSubstr("E2E3ABCDWXYZ approves the names api.mecai.test, none of which is " +
                        std::string(LocalCluster::kTargetHost)));
  EXPECT_THAT(refused.perspectives(), IsEmpty());

  // Approved for *.mecai.test: the approval covers the host, so the coordinator goes on to probe
  // (the target serves another certificate, so the perspectives then refuse).
  SubmitAndDecide("E2E4ABCDWXYZ", "named", "approve", {"*.mecai.test"});
  v1::VouchResponse probed = Vouch(MakeRequest(LocalCluster::kApprovalTrustList, "named"));
  ASSERT_TRUE(probed.has_refusal());
  EXPECT_NE(probed.refusal().reason(), v1::APPROVAL_REQUIRED) << probed.refusal().explanation();
  EXPECT_THAT(probed.perspectives(), SizeIs(3));
  v1::QuorumRecord record = GetRecord(probed.log_index());
  EXPECT_TRUE(record.approval().approved()) << record.approval().detail();
}

// The CA's command line against the real approval binary: submit (the service draws the
// transaction number), wait for the calls, then the status by transaction number as a person
// would type it and by key and host.
TEST_F(ApprovalEndToEndTest, TheCommandLineSubmitsAndShowsTheStatus) {
  auto [help_exit, help] = Mecai({"approval", "--help"});
  EXPECT_EQ(help_exit, 0);
  EXPECT_THAT(help, HasSubstr("usage: mecai approval <subcommand>"));
  EXPECT_THAT(help, HasSubstr("approval status --server HOST:PORT (--tn TN | --key-sha256 HEX"));

  ASSERT_TRUE(cluster_->IssueServerCertificate(LocalCluster::kTargetHost, "cli").ok());
  std::vector<std::string> submit = {"approval", "submit"};
  for (const std::string& flag : ConnectionFlags()) submit.push_back(flag);
  for (const std::string& flag :
       {std::string("--domain"), std::string("Mecai.Test"), std::string("--requester"),
        std::string("CLI Operator"), std::string("--key"), cluster_->Path("pki/cli.key"),
        std::string("--wait"), std::string("30")}) {
    submit.push_back(flag);
  }
  auto [submit_exit, submitted] = Mecai(submit);
  ASSERT_EQ(submit_exit, 0) << submitted;
  EXPECT_THAT(submitted, HasSubstr("state: AWAITING_APPROVAL (waiting for a person on the "
                                   "approval page)"));
  EXPECT_THAT(submitted, HasSubstr("call: +49301234567 extension 12: placed after 1 attempt"));
  EXPECT_THAT(submitted,
              HasSubstr(" SUBMITTED: issuance request for mecai.test by \"CLI Operator\""));
  EXPECT_THAT(submitted, HasSubstr(" RDAP_LOOKUP_SUCCEEDED: the registry lists 1 phone number "));
  const std::string marker = "transaction number: ";
  const size_t at = submitted.find(marker);
  ASSERT_NE(at, std::string::npos) << submitted;
  const std::string grouped = submitted.substr(at + marker.size(), 14);  // "ABCD-EFGH-JKLM"
  ASSERT_EQ(grouped[4], '-') << submitted;

  // The same request again answers with its state (idempotent); other content is refused.
  std::vector<std::string> again = submit;
  again.insert(again.end(), {"--tn", grouped});
  auto [again_exit, again_output] = Mecai(again);
  EXPECT_EQ(again_exit, 0) << again_output;
  EXPECT_THAT(again_output, HasSubstr("transaction number: " + grouped));
  std::vector<std::string> other = again;
  other[other.size() - 7] = "Someone Else";  // The requester.
  ASSERT_EQ(other[other.size() - 8], "--requester");
  auto [other_exit, other_output] = Mecai(other);
  EXPECT_EQ(other_exit, 3) << other_output;
  EXPECT_THAT(other_output, HasSubstr("ALREADY_EXISTS: transaction_number: " + grouped +
                                      " was used before for a different request"));

  std::string lower = grouped;
  for (char& c : lower) c = static_cast<char>(tolower(c));
  std::vector<std::string> by_number = {"approval", "status"};
  for (const std::string& flag : ConnectionFlags()) by_number.push_back(flag);
  by_number.insert(by_number.end(), {"--tn", lower});
  auto [status_exit, status] = Mecai(by_number);
  ASSERT_EQ(status_exit, 0) << status;
  EXPECT_THAT(status, HasSubstr("transaction number: " + grouped));
  EXPECT_THAT(status, HasSubstr("state: AWAITING_APPROVAL"));
  EXPECT_THAT(status, HasSubstr("signed record: present"));

  auto leaf = LoadPemCertificates(cluster_->Path("pki/cli-leaf.pem"));
  ASSERT_TRUE(leaf.ok());
  const std::string key_sha256 =
      HexEncode(Sha256(PublicKeyToDer(X509_get0_pubkey((*leaf)[0].get()))));
  std::vector<std::string> by_key = {"approval", "status"};
  for (const std::string& flag : ConnectionFlags()) by_key.push_back(flag);
  by_key.insert(by_key.end(),
                {"--key-sha256", key_sha256, "--hostname", LocalCluster::kTargetHost});
  auto [key_exit, key_status] = Mecai(by_key);
  ASSERT_EQ(key_exit, 0) << key_status;
  EXPECT_THAT(key_status, HasSubstr("transaction number: " + grouped));

  std::vector<std::string> unknown = {"approval", "status"};
  for (const std::string& flag : ConnectionFlags()) unknown.push_back(flag);
  unknown.insert(unknown.end(), {"--tn", "NOSU-CHRE-QUES"});
  auto [unknown_exit, unknown_output] = Mecai(unknown);
  EXPECT_EQ(unknown_exit, 3) << unknown_output;
  EXPECT_THAT(
      unknown_output,
      HasSubstr("mecai approval status: NOT_FOUND: no request with this transaction number"));
}

// Fail closed, and no decision without an answer (ARCHITECTURE.md §2 trust rule 2): while the
// approval service does not answer, Vouch fails with UNAVAILABLE naming it, nothing is recorded,
// and the same VR is decided afresh each time (last: it stops the service).
TEST_F(ApprovalEndToEndTest, AnApprovalServiceThatDoesNotAnswerFailsTheCallAndRecordsNothing) {
  // A refusal the service did give is recorded; it marks the end of the log.
  v1::VouchResponse answered = Vouch(MakeRequest(LocalCluster::kApprovalTrustList, "rejected"));
  ASSERT_TRUE(answered.has_refusal());
  ASSERT_EQ(answered.refusal().reason(), v1::APPROVAL_REQUIRED);
  const uint64_t last_index = answered.log_index();

  ASSERT_TRUE(cluster_->Kill("approval", SIGTERM).ok());
  const std::string request = MakeRequest(LocalCluster::kApprovalTrustList);
  for (int attempt = 0; attempt < 2; ++attempt) {
    SCOPED_TRACE(attempt);
    absl::StatusOr<v1::VouchResponse> response = CallVouch(**coordinator_, request);
    ASSERT_FALSE(response.ok()) << response->DebugString();
    EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
    EXPECT_THAT(response.status().message(), HasSubstr("the approval service at "));
    EXPECT_THAT(response.status().message(), HasSubstr("did not answer for key"));
  }
  absl::StatusOr<v1::QuorumRecord> next = CallGetRecord(**coordinator_, last_index + 1);
  EXPECT_EQ(next.status().code(), absl::StatusCode::kNotFound) << next.status();
}

}  // namespace
}  // namespace mecai
