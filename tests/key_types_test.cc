// Key-typed handshakes end to end (docs/PROTOCOL.md "Key-typed handshakes"): a LocalCluster whose
// TLS target, a real nginx, holds an EC P-256 and an RSA certificate for one name (two
// ssl_certificate lines) and presents the one each ClientHello selects. Each certificate's VR gets
// its own VD, a rollover from one to the other is asked for both at every address, and a
// certificate whose key no agent can ask for is refused before any probe.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/vouch_client.h"
#include "cluster/local_cluster.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/vouching_request.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/probe.pb.h"
#include "proto/mecai/v1/vouching.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// One certificate the target serves, as its files.
struct Served {
  std::string chain_file;
  std::string key_file;
  std::string leaf_file;
  v1::CertificateKeyType key_type;
};

class KeyTypesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LocalClusterOptions options;
    options.target_serves_rsa_certificate = true;
    options.max_probe_rounds_per_hostname = 25;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                         StartTestCluster("key_types", options));
    cluster_ = cluster.release();
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel,
                         MakeChannel(cluster_->CoordinatorPeer()));
    channel_ = new std::shared_ptr<grpc::Channel>(channel);
  }

  static void TearDownTestSuite() {
    delete channel_;
    delete cluster_;  // Stops every process.
  }

  static Served Ecdsa() {
    return {cluster_->ServerChainFile(), cluster_->ServerKeyFile(), cluster_->ServerLeafFile(),
            v1::KEY_TYPE_EC_P256};
  }
  static Served Rsa() {
    return {cluster_->ServerRsaChainFile(), cluster_->ServerRsaKeyFile(),
            cluster_->Path("pki/server-rsa-leaf.pem"), v1::KEY_TYPE_RSA};
  }

  static std::string LeafSha256(const Served& served) {
    absl::StatusOr<std::vector<std::string>> leaf = LoadPemCertificatesAsDer(served.leaf_file);
    EXPECT_TRUE(leaf.ok()) << leaf.status();
    return leaf.ok() && !leaf->empty() ? Sha256(leaf->front()) : "";
  }

  static VouchOptions OptionsFor(const Served& served) {
    VouchOptions options;
    options.vouching_server = cluster_->CoordinatorPeer();
    options.server.hostname = LocalCluster::kTargetHost;
    options.server.port = static_cast<uint32_t>(cluster_->target_port());
    options.server.trust_list = LocalCluster::kTrustList;
    options.server.certificate_file = served.chain_file;
    options.server.key_file = served.key_file;
    return options;
  }

  // Verifies `response`'s VD as a client shown `served` would.
  static absl::StatusOr<v1::VouchingStatement> VerifyFor(const v1::VouchResponse& response,
                                                         const Served& served,
                                                         const std::string& name) {
    const std::string vd_file = cluster_->Path(name + ".vd");
    RETURN_IF_ERROR(WriteFileAtomically(vd_file, response.vouching_data().SerializeAsString()));
    VerifyOptions verify;
    verify.vouching_data_file = vd_file;
    verify.hostname = LocalCluster::kTargetHost;
    verify.certificate_file = served.leaf_file;
    verify.va_list_file = cluster_->VaListFile();
    return VerifyVouchingDataFile(verify);
  }

  static uint64_t TreeSize() {
    auto stub = v1::AuditService::NewStub(*channel_);
    grpc::ClientContext context;
    v1::ListShardsResponse response;
    EXPECT_TRUE(stub->ListShards(&context, v1::ListShardsRequest(), &response).ok());
    return response.shards_size() > 0 ? response.shards(0).tree_size() : 0;
  }

  static LocalCluster* cluster_;
  static std::shared_ptr<grpc::Channel>* channel_;
};

LocalCluster* KeyTypesTest::cluster_ = nullptr;
std::shared_ptr<grpc::Channel>* KeyTypesTest::channel_ = nullptr;

// Two VRs, two VDs: each agent asks the target for the certificate by its key type and is shown
// it. Without key-typed handshakes every agent would be shown the ECDSA certificate nginx prefers,
// and the RSA certificate's VR would be refused as a mismatch.
TEST_F(KeyTypesTest, EachCertificateOfATargetServingTwoKeyTypesGetsItsOwnVd) {
  const Served ecdsa = Ecdsa();
  const Served rsa = Rsa();
  for (const auto& [served, other, name] :
       {std::make_tuple(ecdsa, rsa, "ecdsa"), std::make_tuple(rsa, ecdsa, "rsa")}) {
    SCOPED_TRACE(name);
    ASSERT_OK_AND_ASSIGN(v1::VouchResponse response, RequestVouching(OptionsFor(served)));
    ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
    ASSERT_THAT(response.perspectives(), SizeIs(3));
    for (const v1::PerspectiveResult& result : response.perspectives()) {
      EXPECT_EQ(result.disagreement(), v1::REFUSAL_REASON_UNSPECIFIED) << result.detail();
      v1::ObservationBody body;
      ASSERT_TRUE(body.ParseFromString(result.observation().tbs()));
      EXPECT_THAT(body.certificate_key_types(), ElementsAre(served.key_type));
      ASSERT_THAT(body.addresses(), SizeIs(1));
      EXPECT_EQ(body.addresses(0).address(), "127.0.0.1");
      EXPECT_EQ(body.addresses(0).requested_key_type(), served.key_type);
      EXPECT_EQ(body.addresses(0).leaf_sha256(), LeafSha256(served));
    }
    absl::StatusOr<v1::VouchingStatement> statement = VerifyFor(response, served, name);
    ASSERT_TRUE(statement.ok()) << statement.status();
    EXPECT_THAT(statement->certificate_sha256(), ElementsAre(LeafSha256(served)));
    EXPECT_THAT(statement->perspectives(), SizeIs(3));
    // The VD is for this certificate only.
    EXPECT_THAT(VerifyFor(response, other, absl::StrCat(name, "-for-other")),
                StatusIs(absl::StatusCode::kPermissionDenied,
                         HasSubstr("not among the vouched certificates")));
  }
}

// A rollover from the RSA to the ECDSA certificate: every address is asked for both, each
// handshake shows the certificate of its key type, and the one VD verifies with either.
TEST_F(KeyTypesTest, ARolloverBetweenKeyTypesIsAskedForBothAtEveryAddress) {
  const Served ecdsa = Ecdsa();
  const Served rsa = Rsa();
  VouchOptions options = OptionsFor(rsa);
  options.server.next_certificate_file = ecdsa.chain_file;
  options.server.next_key_file = ecdsa.key_file;
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse response, RequestVouching(options));
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  for (const v1::PerspectiveResult& result : response.perspectives()) {
    EXPECT_EQ(result.disagreement(), v1::REFUSAL_REASON_UNSPECIFIED) << result.detail();
    EXPECT_EQ(result.detail(),
              "saw a vouched certificate of each of the VR's 2 key types at its one address");
    v1::ObservationBody body;
    ASSERT_TRUE(body.ParseFromString(result.observation().tbs()));
    EXPECT_THAT(body.certificate_key_types(), ElementsAre(v1::KEY_TYPE_EC_P256, v1::KEY_TYPE_RSA));
    ASSERT_THAT(body.addresses(), SizeIs(2));
    EXPECT_EQ(body.addresses(0).requested_key_type(), v1::KEY_TYPE_EC_P256);
    EXPECT_EQ(body.addresses(0).leaf_sha256(), LeafSha256(ecdsa));
    EXPECT_EQ(body.addresses(1).requested_key_type(), v1::KEY_TYPE_RSA);
    EXPECT_EQ(body.addresses(1).leaf_sha256(), LeafSha256(rsa));
  }
  for (const auto& [served, name] :
       {std::make_pair(rsa, "rollover-rsa"), std::make_pair(ecdsa, "rollover-ecdsa")}) {
    absl::StatusOr<v1::VouchingStatement> statement = VerifyFor(response, served, name);
    ASSERT_TRUE(statement.ok()) << name << ": " << statement.status();
    EXPECT_THAT(statement->certificate_sha256(), ElementsAre(LeafSha256(rsa), LeafSha256(ecdsa)));
  }
}

// A certificate on P-521 is one no agent can ask a server for: refused UNSUPPORTED_KEY_TYPE before
// probing (no perspective, no record), and before its signature is even checked (here by the
// EC P-256 key, which would otherwise be BAD_SIGNATURE).
TEST_F(KeyTypesTest, RefusesACertificateKeyNoAgentCanAskForBeforeProbing) {
  ASSERT_OK(cluster_->IssueServerCertificate(LocalCluster::kTargetHost, "p521",
                                             EvpPkeyPtr(EVP_EC_gen("P-521"))));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> chain,
                       LoadPemCertificatesAsDer(cluster_->Path("pki/p521.pem")));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr signing, LoadPemPrivateKey(cluster_->ServerKeyFile()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InMemorySigningKey> key,
                       InMemorySigningKey::Create(std::move(signing)));
  v1::VouchingRequestBody body;
  body.set_hostname(LocalCluster::kTargetHost);
  body.set_port(static_cast<uint32_t>(cluster_->target_port()));
  body.set_trust_list(LocalCluster::kTrustList);
  body.set_timestamp_unix_seconds(absl::ToUnixSeconds(absl::Now()));
  body.set_nonce("p521-vr-nonce-0123");
  ASSERT_OK_AND_ASSIGN(std::string request, BuildVouchingRequest(body, chain, *key));
  const uint64_t size_before = TreeSize();
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse response, CallVouch(**channel_, request));
  ASSERT_TRUE(response.has_refusal());
  EXPECT_EQ(response.refusal().reason(), v1::UNSUPPORTED_KEY_TYPE);
  EXPECT_THAT(response.refusal().explanation(),
              HasSubstr("the certificate has an ECDSA key on secp521r1, which no probe agent can "
                        "ask a server for"));
  EXPECT_THAT(response.perspectives(), IsEmpty());
  EXPECT_FALSE(response.has_vouching_data());
  EXPECT_EQ(TreeSize(), size_before);
}

}  // namespace
}  // namespace mecai
