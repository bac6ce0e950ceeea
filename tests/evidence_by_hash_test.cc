// Evidence by content hash (ARCHITECTURE.md §8) against the REAL signer binary (SoftHSM2 token),
// called with the coordinator's own mutual-TLS identity, as a compromised coordinator would
// (docs/SECURITY.md T7): the signer keeps only bytes it hashed itself, within its limits, and
// checks evidence named by hash exactly as evidence sent inline; its parsed-CRL cache keeps no CRL
// whose signature did not verify with the issuer's key. Then a CA whose CRL is over
// 2 MiB, twice the signer's message limit: its certificates are vouched for, the CRL is uploaded
// once, and every later signing request names it by hash.
#include <openssl/x509.h>

#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cluster/local_cluster.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"
#include "tests/support/procedure_steps.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The signer limits of the attack cluster: small, so that the attacks reach them quickly.
constexpr uint64_t kCacheBytes = 1 << 20;
constexpr uint64_t kMaxUploadBytes = 512 << 10;
constexpr uint32_t kUploadTimeoutSeconds = 2;

// The value of the sample `series` ("name" or "name{label=\"value\"}") in Prometheus text; -1
// when absent.
double Sample(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, series + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line, &value)) return value;
  }
  return -1;
}

// The signer, called as the coordinator calls it.
class SignerAsCoordinator {
 public:
  explicit SignerAsCoordinator(const LocalCluster& cluster) : cluster_(cluster) {
    auto config = LoadConfig<v1::CoordinatorConfig>(cluster.Path("coordinator.textproto"));
    EXPECT_TRUE(config.ok()) << config.status();
    auto channel = MakeChannel(config->signer());
    EXPECT_TRUE(channel.ok()) << channel.status();
    stub_ = v1::SignerService::NewStub(*channel);
    auto coordinator = MakeChannel(cluster.CoordinatorPeer());
    EXPECT_TRUE(coordinator.ok()) << coordinator.status();
    coordinator_ = *coordinator;
  }

  grpc::Status SignVouching(const v1::SignVouchingRequest& request,
                            v1::SignVouchingResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return stub_->SignVouching(&context, request, response);
  }

  // Uploads `messages` as one UploadEvidence stream, waiting `pause` after the first.
  grpc::Status Upload(const std::vector<v1::UploadEvidenceRequest>& messages,
                      absl::Duration pause = absl::ZeroDuration(),
                      v1::UploadEvidenceResponse* response = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::UploadEvidenceResponse ignored;
    auto writer = stub_->UploadEvidence(&context, response != nullptr ? response : &ignored);
    for (size_t i = 0; i < messages.size(); ++i) {
      if (!writer->Write(messages[i])) break;
      if (i == 0 && pause > absl::ZeroDuration()) absl::SleepFor(pause);
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // `bytes` in chunks of 256 KiB under the claimed `sha256`.
  static std::vector<v1::UploadEvidenceRequest> Chunks(const std::string& bytes,
                                                       const std::string& sha256,
                                                       uint64_t total_bytes) {
    std::vector<v1::UploadEvidenceRequest> messages;
    for (size_t offset = 0; offset < bytes.size() || messages.empty(); offset += 256 << 10) {
      v1::UploadEvidenceRequest& message = messages.emplace_back();
      if (messages.size() == 1) {
        message.set_response_sha256(sha256);
        message.set_total_bytes(total_bytes);
      }
      message.set_chunk(bytes.substr(offset, 256 << 10));
    }
    return messages;
  }

  v1::VouchResponse VouchForTheServer() {
    absl::StatusOr<std::string> request = SignedRequestFromFiles(
        cluster_.ServerChainFile(), cluster_.ServerKeyFile(), LocalCluster::kTargetHost,
        static_cast<uint32_t>(cluster_.target_port()), LocalCluster::kTrustList, absl::Now());
    EXPECT_TRUE(request.ok()) << request.status();
    absl::StatusOr<v1::VouchResponse> response = CallVouch(*coordinator_, request.value_or(""));
    EXPECT_TRUE(response.ok()) << response.status();
    return response.value_or(v1::VouchResponse());
  }

  // What the coordinator sent the signer for a logged decision, at `log_index`, with each
  // revocation response named by hash only (`inline_bytes` false) or carried whole.
  v1::SignVouchingRequest EvidenceOf(uint64_t record_index, uint64_t log_index, bool inline_bytes) {
    absl::StatusOr<v1::QuorumRecord> record = CallGetRecord(*coordinator_, record_index);
    EXPECT_TRUE(record.ok()) << record.status();
    v1::SignVouchingRequest request;
    request.set_vouching_request(record->vouching_request());
    for (const v1::PerspectiveResult& result : record->perspectives()) {
      *request.add_observations() = result.observation();
    }
    for (const v1::RevocationEvidence& evidence : record->revocation()) {
      v1::RevocationEvidence* sent = request.add_revocation();
      *sent = evidence;
      if (!inline_bytes) continue;
      absl::StatusOr<std::string> der = CallGetEvidence(*coordinator_, evidence.response_sha256());
      EXPECT_TRUE(der.ok()) << der.status();
      sent->set_response_der(der.value_or(""));
    }
    v1::ObservationBody observed;
    if (request.observations_size() > 0) observed.ParseFromString(request.observations(0).tbs());
    request.set_probe_nonce(observed.nonce());
    request.set_log_shard_id(record->log_shard_id());
    request.set_log_index(log_index);
    return request;
  }

  std::string SignerMetrics() {
    absl::StatusOr<std::string> text = FetchMetrics(cluster_, "signer");
    EXPECT_TRUE(text.ok()) << text.status();
    return text.value_or("");
  }
  std::string CoordinatorMetrics() {
    absl::StatusOr<std::string> text = FetchMetrics(cluster_, "coordinator");
    EXPECT_TRUE(text.ok()) << text.status();
    return text.value_or("");
  }

  v1::SignerService::Stub& stub() { return *stub_; }

 private:
  const LocalCluster& cluster_;
  std::unique_ptr<v1::SignerService::Stub> stub_;
  std::shared_ptr<grpc::Channel> coordinator_;
};

std::string UploadsTotal(const std::string& result) {
  return absl::StrCat("mecai_signer_evidence_uploads_total{result=\"", result, "\"}");
}

// A CRL valid now (one minute old, a day to run) of a new self-signed CA, "Another Issuing CA".
absl::StatusOr<std::string> AnotherCasCrl() {
  CertificateSpec spec;
  spec.common_name = "Another Issuing CA";
  spec.is_certificate_authority = true;
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(24);
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEcKey());
  ASSIGN_OR_RETURN(X509Ptr other_ca, IssueCertificate(spec, key.get(), nullptr, key.get()));
  CrlSpec crl;
  crl.this_update = absl::Now() - absl::Minutes(1);
  crl.next_update = absl::Now() + absl::Hours(24);
  return IssueCrlDer(crl, other_ca.get(), key.get());
}

class EvidenceAttackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LocalClusterOptions options;
    options.decision_reuse = false;
    options.signer_overrides.set_evidence_cache_bytes(kCacheBytes);
    options.signer_overrides.set_max_evidence_upload_bytes(kMaxUploadBytes);
    options.signer_overrides.set_evidence_upload_timeout_seconds(kUploadTimeoutSeconds);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                         StartTestCluster("attack", options));
    cluster_ = cluster.release();
    signer_ = new SignerAsCoordinator(*cluster_);
    // A decision whose evidence the attacks below reuse.
    const v1::VouchResponse vouched = signer_->VouchForTheServer();
    ASSERT_TRUE(vouched.has_vouching_data()) << vouched.refusal().explanation();
    record_index_ = vouched.log_index();
  }

  static void TearDownTestSuite() {
    delete signer_;
    delete cluster_;
  }

  // A log position no record or VD holds yet.
  static uint64_t FreshIndex() { return record_index_ + 1000 + next_offset_++; }

  // SignVouching of `request`: must answer evidence_needed for exactly `sha256`.
  static void ExpectEvidenceNeeded(const v1::SignVouchingRequest& request,
                                   const std::string& sha256) {
    v1::SignVouchingResponse response;
    grpc::Status status = signer_->SignVouching(request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(response.has_vouching_data());
    EXPECT_FALSE(response.has_refusal());
    ASSERT_TRUE(response.has_evidence_needed());
    EXPECT_THAT(response.evidence_needed().response_sha256(), ElementsAre(sha256));
  }

  static LocalCluster* cluster_;
  static SignerAsCoordinator* signer_;
  static uint64_t record_index_;
  static uint64_t next_offset_;
};

LocalCluster* EvidenceAttackTest::cluster_ = nullptr;
SignerAsCoordinator* EvidenceAttackTest::signer_ = nullptr;
uint64_t EvidenceAttackTest::record_index_ = 0;
uint64_t EvidenceAttackTest::next_offset_ = 0;

// The coordinator named the cluster's CRL by hash and uploaded it when the signer asked: the
// signer's cache holds it, and the coordinator counted one upload.
TEST_F(EvidenceAttackTest, TheCoordinatorUploadedTheCrlTheSignerAskedFor) {
  const std::string coordinator = signer_->CoordinatorMetrics();
  EXPECT_EQ(
      Sample(coordinator, "mecai_coordinator_signer_evidence_uploads_total{result=\"stored\"}"), 1);
  const std::string signer = signer_->SignerMetrics();
  EXPECT_EQ(Sample(signer, UploadsTotal("stored")), 1);
  EXPECT_GT(Sample(signer, "mecai_signer_evidence_cache_bytes"), 0);
}

// A hash the signer never received: evidence_needed, no VD, and the index stays free (nothing was
// claimed or journaled): the same evidence, inline, is then signed at that very index.
TEST_F(EvidenceAttackTest, AHashTheSignerNeverReceivedSignsAndJournalsNothing) {
  const uint64_t index = FreshIndex();
  v1::SignVouchingRequest request = signer_->EvidenceOf(record_index_, index, false);
  ASSERT_GE(request.revocation_size(), 1);
  const std::string unknown = Sha256("a CRL this signer was never given");
  request.mutable_revocation(0)->set_response_sha256(unknown);
  ExpectEvidenceNeeded(request, unknown);

  v1::SignVouchingResponse signed_response;
  grpc::Status status =
      signer_->SignVouching(signer_->EvidenceOf(record_index_, index, true), &signed_response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(signed_response.has_vouching_data()) << signed_response.ShortDebugString();
}

// Bytes under a false hash: refused, and stored under neither hash.
TEST_F(EvidenceAttackTest, BytesUnderAFalseHashAreRefusedAndNotStored) {
  const double before = Sample(signer_->SignerMetrics(), UploadsTotal("hash_mismatch"));
  const std::string bytes(100 << 10, 'x');
  const std::string claimed = Sha256("the bytes the attacker claims");
  grpc::Status status = signer_->Upload(SignerAsCoordinator::Chunks(bytes, claimed, bytes.size()));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("not to the claimed"));

  v1::SignVouchingRequest request = signer_->EvidenceOf(record_index_, FreshIndex(), false);
  request.mutable_revocation(0)->set_response_sha256(claimed);
  ExpectEvidenceNeeded(request, claimed);
  request.mutable_revocation(0)->set_response_sha256(Sha256(bytes));
  ExpectEvidenceNeeded(request, Sha256(bytes));
  EXPECT_EQ(Sample(signer_->SignerMetrics(), UploadsTotal("hash_mismatch")),
            std::max(before, 0.0) + 1);
}

TEST_F(EvidenceAttackTest, AChunkOverTheLimitIsRefused) {
  const std::string bytes((256 << 10) + 1, 'x');
  v1::UploadEvidenceRequest message;
  message.set_response_sha256(Sha256(bytes));
  message.set_total_bytes(bytes.size());
  message.set_chunk(bytes);
  grpc::Status status = signer_->Upload({message});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("a chunk carries at most 262144 bytes"));
}

// Over the upload limit, declared or sent: refused. Uploads held open cannot take more than the
// cache's budget: the cache gauge never exceeds it.
TEST_F(EvidenceAttackTest, UploadsOverTheLimitAreRefusedAndMemoryStaysWithinTheBudget) {
  const std::string bytes(kMaxUploadBytes + 1, 'x');
  grpc::Status status =
      signer_->Upload(SignerAsCoordinator::Chunks(bytes, Sha256(bytes), bytes.size()));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("exceeds the signer's limit of 524288 bytes"));
  // Declared small, sent large.
  status = signer_->Upload(SignerAsCoordinator::Chunks(bytes, Sha256(bytes), 1000));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("beyond the 1000 bytes it declared"));

  // Two uploads of the largest size, held open, fill the 1 MiB budget; a third finds no room.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientWriter<v1::UploadEvidenceRequest>>> writers;
  v1::UploadEvidenceResponse ignored[3];
  for (int i = 0; i < 3; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    writers.push_back(signer_->stub().UploadEvidence(contexts.back().get(), &ignored[i]));
    v1::UploadEvidenceRequest first;
    first.set_response_sha256(Sha256(absl::StrCat("held open ", i)));
    first.set_total_bytes(kMaxUploadBytes);
    first.set_chunk(std::string(1024, 'h'));
    writers.back()->Write(first);
    if (i < 2) absl::SleepFor(absl::Milliseconds(300));  // In order.
  }
  writers[2]->WritesDone();
  status = writers[2]->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("no room"));
  EXPECT_EQ(Sample(signer_->SignerMetrics(), "mecai_signer_evidence_cache_bytes"), kCacheBytes);
  for (int i = 0; i < 2; ++i) contexts[i]->TryCancel();
  for (int i = 0; i < 2; ++i) writers[i]->Finish();
  // Cancelled uploads release their room.
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (Sample(signer_->SignerMetrics(), "mecai_signer_evidence_cache_bytes") >= kCacheBytes &&
         absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_LT(Sample(signer_->SignerMetrics(), "mecai_signer_evidence_cache_bytes"),
            static_cast<double>(kMaxUploadBytes));
  EXPECT_GE(Sample(signer_->SignerMetrics(), UploadsTotal("no_room")), 1);
}

// An upload still under way at the signer's deadline is cut, and nothing is stored.
TEST_F(EvidenceAttackTest, ASlowUploadIsCutByTheDeadline) {
  const std::string bytes(64 << 10, 's');
  std::vector<v1::UploadEvidenceRequest> messages =
      SignerAsCoordinator::Chunks(bytes.substr(0, 1000), Sha256(bytes), bytes.size());
  v1::UploadEvidenceRequest rest;
  rest.set_chunk(bytes.substr(1000));
  messages.push_back(rest);
  const absl::Time started = absl::Now();
  grpc::Status status =
      signer_->Upload(messages, absl::Seconds(kUploadTimeoutSeconds) + absl::Seconds(2));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("was not complete within 2s"));
  EXPECT_GE(absl::Now() - started, absl::Seconds(kUploadTimeoutSeconds));
  v1::SignVouchingRequest request = signer_->EvidenceOf(record_index_, FreshIndex(), false);
  request.mutable_revocation(0)->set_response_sha256(Sha256(bytes));
  ExpectEvidenceNeeded(request, Sha256(bytes));
  EXPECT_GE(Sample(signer_->SignerMetrics(), UploadsTotal("too_slow")), 1);
}

// Crafted bytes: the chunk field with another wire type, and a field the signer does not know.
TEST_F(EvidenceAttackTest, CraftedMessagesAreRefused) {
  std::string crafted;
  {
    google::protobuf::io::StringOutputStream raw(&crafted);
    google::protobuf::io::CodedOutputStream out(&raw);
    out.WriteTag((3 << 3) | 0);  // chunk, as a varint
    out.WriteVarint64(1u << 20);
    out.WriteTag((7 << 3) | 2);  // not a field of UploadEvidenceRequest
    out.WriteVarint32(3);
    out.WriteString("abc");
  }
  v1::UploadEvidenceRequest message;
  message.set_response_sha256(Sha256("x"));
  message.set_total_bytes(1);
  message.GetReflection()->MutableUnknownFields(&message)->ParseFromArray(
      crafted.data(), static_cast<int>(crafted.size()));
  grpc::Status status = signer_->Upload({message});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("does not know"));
  // A first message without the claimed hash.
  v1::UploadEvidenceRequest unclaimed;
  unclaimed.set_total_bytes(1);
  unclaimed.set_chunk("x");
  status = signer_->Upload({unclaimed});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("32-byte response_sha256"));
}

// Bytes that are no protobuf message at all, sent past any serializer (python3-grpcio): refused,
// nothing stored, and the signer goes on serving.
TEST_F(EvidenceAttackTest, BytesThatAreNoMessageAreRefused) {
  auto config = LoadConfig<v1::CoordinatorConfig>(cluster_->Path("coordinator.textproto"));
  ASSERT_TRUE(config.ok()) << config.status();
  const v1::ClientTls& tls = config->signer().tls();
  ASSERT_OK_AND_ASSIGN(
      std::string output,
      RunStep(*cluster_, "raw-signer-calls",
              {"/usr/bin/python3", "tests/support/raw_signer_calls.py", config->signer().address(),
               tls.server_identity(), tls.server_ca_file(), tls.certificate_file(),
               tls.private_key_file()}));
  std::cout << output;
  // An upload message that does not parse ends the stream's reads: nothing valid arrived.
  for (const char* name :
       {"upload-unterminated-varint", "upload-truncated-chunk", "upload-bad-wire-type"}) {
    EXPECT_THAT(output, HasSubstr(absl::StrCat(name,
                                               " INVALID_ARGUMENT the upload carried no "
                                               "valid first message")));
  }
  // A request that does not parse never reaches the signer's code: gRPC answers INTERNAL.
  EXPECT_THAT(output, HasSubstr("sign-unterminated-varint INTERNAL"));
  EXPECT_THAT(output, HasSubstr("sign-truncated-field INTERNAL"));
  const v1::VouchResponse after = signer_->VouchForTheServer();
  EXPECT_TRUE(after.has_vouching_data()) << after.refusal().explanation();
}

// A valid CRL of another CA, uploaded and named by hash for the server's certificate: refused by
// the very check that refuses it inline, with the same reason and explanation.
TEST_F(EvidenceAttackTest, AnotherCasCrlByHashIsRefusedAsInline) {
  ASSERT_OK_AND_ASSIGN(std::string other_crl, AnotherCasCrl());
  v1::UploadEvidenceResponse stored;
  grpc::Status status =
      signer_->Upload(SignerAsCoordinator::Chunks(other_crl, Sha256(other_crl), other_crl.size()),
                      absl::ZeroDuration(), &stored);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stored.response_sha256(), Sha256(other_crl));

  v1::SignVouchingRequest by_hash = signer_->EvidenceOf(record_index_, FreshIndex(), false);
  ASSERT_EQ(by_hash.revocation(0).source(), v1::CRL);
  by_hash.mutable_revocation(0)->set_response_sha256(Sha256(other_crl));
  v1::SignVouchingRequest inline_request = by_hash;
  inline_request.mutable_revocation(0)->set_response_der(other_crl);
  v1::SignVouchingResponse refused_by_hash;
  v1::SignVouchingResponse refused_inline;
  ASSERT_TRUE(signer_->SignVouching(by_hash, &refused_by_hash).ok());
  ASSERT_TRUE(signer_->SignVouching(inline_request, &refused_inline).ok());
  ASSERT_TRUE(refused_by_hash.has_refusal()) << refused_by_hash.ShortDebugString();
  EXPECT_EQ(refused_by_hash.refusal().reason(), v1::REVOCATION_UNKNOWN);
  EXPECT_THAT(refused_by_hash.refusal().explanation(),
              HasSubstr("the CRL is issued by another CA than the certificate's issuer"));
  EXPECT_EQ(refused_by_hash.refusal().SerializeAsString(),
            refused_inline.refusal().SerializeAsString());
}

// A compromised coordinator (docs/SECURITY.md T7) tries to put bytes no CA signed into the
// signer's parsed-CRL cache, and to displace the cluster's real CRL with a forged one under the
// same issuer name. Each candidate is uploaded, named by hash, and sent inline: random bytes, the
// real CRL truncated, the real CRL with one byte of its signature flipped, a fresh CRL revoking
// nothing under the issuing CA's name but signed with another key, and a valid CRL of another CA.
// Each is refused as it would be without the cache (trust rule 9, "The signer decides alone"), and
// none is kept: a CRL is kept only once its signature verified with the certificate issuer's key
// (docs/SECURITY.md "What the signer trusts of evidence named by hash",
// common/revocation/parsed_crl_cache.h). The parsed-CRL gauges stay where the honest VR left
// them, and the next honest VD reuses the real CRL: the forged one displaced nothing.
TEST_F(EvidenceAttackTest, CrlsNoCaSignedForTheIssuerAreRefusedAndNeverKept) {
  // An honest VR: the cluster's CRL is parsed, verified and kept.
  const v1::VouchResponse vouched = signer_->VouchForTheServer();
  ASSERT_TRUE(vouched.has_vouching_data()) << vouched.refusal().explanation();
  const std::string honest = signer_->SignerMetrics();
  const double parsed_crls = Sample(honest, "mecai_signer_parsed_crls");
  const double parsed_memory = Sample(honest, "mecai_signer_parsed_crl_memory_bytes");
  EXPECT_EQ(parsed_crls, 1);
  ASSERT_OK_AND_ASSIGN(const std::string real_crl, ReadFile(cluster_->Path("crl/issuing-ca.crl")));
  EXPECT_GE(parsed_memory, 2.0 * real_crl.size());

  const v1::SignVouchingRequest honest_request =
      signer_->EvidenceOf(vouched.log_index(), FreshIndex(), false);
  ASSERT_GE(honest_request.revocation_size(), 1);
  ASSERT_EQ(honest_request.revocation(0).source(), v1::CRL);
  ASSERT_EQ(honest_request.revocation(0).response_sha256(), Sha256(real_crl));

  // The candidates.
  std::mt19937 random(20261207);
  std::string junk(4096, '\0');
  for (char& byte : junk) byte = static_cast<char>(random() & 0xff);
  std::string flipped = real_crl;
  flipped.back() = static_cast<char>(flipped.back() ^ 0x01);  // The signature's last byte.
  ASSERT_OK_AND_ASSIGN(std::vector<X509Ptr> issuing,
                       LoadPemCertificates(cluster_->Path("pki/issuing-ca.pem")));
  ASSERT_FALSE(issuing.empty());
  CrlSpec fresh;
  fresh.this_update = absl::Now() - absl::Minutes(1);
  fresh.next_update = absl::Now() + absl::Hours(24);
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr forger_key, GenerateEcKey());
  ASSERT_OK_AND_ASSIGN(std::string forged, IssueCrlDer(fresh, issuing[0].get(), forger_key.get()));
  {
    // The forged CRL names the issuing CA exactly as the real one does.
    const unsigned char* cursor = reinterpret_cast<const unsigned char*>(forged.data());
    X509CrlPtr parsed(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(forged.size())));
    ASSERT_NE(parsed, nullptr);
    ASSERT_EQ(
        X509_NAME_cmp(X509_CRL_get_issuer(parsed.get()), X509_get_subject_name(issuing[0].get())),
        0);
  }
  ASSERT_OK_AND_ASSIGN(std::string other_crl, AnotherCasCrl());

  struct Candidate {
    const char* what;
    std::string der;
    const char* explanation;
  };
  const std::vector<Candidate> candidates = {
      {"random bytes", junk, "the DER CRL does not parse"},
      {"the real CRL truncated", real_crl.substr(0, real_crl.size() - 16),
       "the DER CRL does not parse"},
      {"the real CRL with a byte of its signature flipped", flipped,
       "the CRL's signature does not verify with the issuer's key"},
      {"a CRL in the issuing CA's name signed with another key", forged,
       "the CRL's signature does not verify with the issuer's key"},
      {"a valid CRL of another CA", other_crl,
       "the CRL is issued by another CA than the certificate's issuer"},
  };
  for (const Candidate& candidate : candidates) {
    SCOPED_TRACE(candidate.what);
    v1::UploadEvidenceResponse stored;
    grpc::Status status = signer_->Upload(
        SignerAsCoordinator::Chunks(candidate.der, Sha256(candidate.der), candidate.der.size()),
        absl::ZeroDuration(), &stored);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(stored.response_sha256(), Sha256(candidate.der));

    v1::SignVouchingRequest by_hash = honest_request;
    by_hash.set_log_index(FreshIndex());
    by_hash.mutable_revocation(0)->set_response_sha256(Sha256(candidate.der));
    v1::SignVouchingRequest inline_request = by_hash;
    inline_request.mutable_revocation(0)->set_response_der(candidate.der);
    for (const v1::SignVouchingRequest* request : {&by_hash, &inline_request}) {
      v1::SignVouchingResponse response;
      status = signer_->SignVouching(*request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_FALSE(response.has_vouching_data());
      ASSERT_TRUE(response.has_refusal()) << response.ShortDebugString();
      EXPECT_EQ(response.refusal().reason(), v1::REVOCATION_UNKNOWN);
      EXPECT_THAT(response.refusal().explanation(), HasSubstr(candidate.explanation));
    }
  }
  // The forged bytes, inline, under the hash of the real CRL the signer keeps.
  v1::SignVouchingRequest under_real_hash = honest_request;
  under_real_hash.set_log_index(FreshIndex());
  under_real_hash.mutable_revocation(0)->set_response_der(forged);
  v1::SignVouchingResponse response;
  ASSERT_TRUE(signer_->SignVouching(under_real_hash, &response).ok());
  ASSERT_TRUE(response.has_refusal()) << response.ShortDebugString();
  EXPECT_EQ(response.refusal().reason(), v1::REVOCATION_UNKNOWN);
  EXPECT_THAT(response.refusal().explanation(),
              HasSubstr("the revocation evidence's response_sha256 is not the SHA-256 of its "
                        "response"));

  // Nothing unverified was kept, and nothing was dropped to make room for it.
  const std::string attacked = signer_->SignerMetrics();
  EXPECT_EQ(Sample(attacked, "mecai_signer_parsed_crls"), parsed_crls);
  EXPECT_EQ(Sample(attacked, "mecai_signer_parsed_crl_memory_bytes"), parsed_memory);

  // An honest VR again: signed, with the real CRL reused from the cache.
  const v1::VouchResponse again = signer_->VouchForTheServer();
  ASSERT_TRUE(again.has_vouching_data()) << again.refusal().explanation();
  const std::string after = signer_->SignerMetrics();
  EXPECT_GE(Sample(after, "mecai_signer_parsed_crl_reuses_total"),
            Sample(attacked, "mecai_signer_parsed_crl_reuses_total") + 1);
  EXPECT_EQ(Sample(after, "mecai_signer_parsed_crls"), parsed_crls);
  EXPECT_EQ(Sample(after, "mecai_signer_parsed_crl_memory_bytes"), parsed_memory);
}

// A CA whose CRL is over 2 MiB (twice the signer's 1 MiB message limit).
class LargeCrlTest : public ::testing::Test {
 protected:
  static constexpr int kRevokedSerials = 48000;

  static void SetUpTestSuite() {
    LocalClusterOptions options;
    options.decision_reuse = false;
    options.crl_padding_entries = kRevokedSerials;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                         StartTestCluster("large-crl", options));
    cluster_ = cluster.release();
    signer_ = new SignerAsCoordinator(*cluster_);
  }

  static void TearDownTestSuite() {
    delete signer_;
    delete cluster_;
  }

  static LocalCluster* cluster_;
  static SignerAsCoordinator* signer_;
};

LocalCluster* LargeCrlTest::cluster_ = nullptr;
SignerAsCoordinator* LargeCrlTest::signer_ = nullptr;

TEST_F(LargeCrlTest, IsUploadedOnceAndNamedByHashAfterwards) {
  ASSERT_OK_AND_ASSIGN(std::string crl, ReadFile(cluster_->Path("crl/issuing-ca.crl")));
  ASSERT_GT(crl.size(), 2u << 20);
  // The CRL is the CA's, as OpenSSL's own tool sees it.
  ASSERT_OK_AND_ASSIGN(
      std::string verified,
      RunStep(*cluster_, "openssl-crl",
              {"openssl", "crl", "-inform", "DER", "-in", cluster_->Path("crl/issuing-ca.crl"),
               "-CAfile", cluster_->Path("pki/issuing-ca.pem"), "-noout"}));
  EXPECT_THAT(verified, HasSubstr("verify OK"));

  const v1::VouchResponse first = signer_->VouchForTheServer();
  ASSERT_TRUE(first.has_vouching_data()) << first.refusal().explanation();
  const std::string after_first = signer_->SignerMetrics();
  EXPECT_EQ(Sample(after_first, UploadsTotal("stored")), 1);
  EXPECT_GE(Sample(after_first, "mecai_signer_evidence_cache_bytes"), crl.size());
  const double requests = Sample(after_first, "mecai_signer_sign_vouching_request_bytes_count");
  const double bytes = Sample(after_first, "mecai_signer_sign_vouching_request_bytes_sum");

  const v1::VouchResponse second = signer_->VouchForTheServer();
  ASSERT_TRUE(second.has_vouching_data()) << second.refusal().explanation();
  const std::string after_second = signer_->SignerMetrics();
  // One signing request for the second VR, small: the CRL by its hash.
  EXPECT_EQ(Sample(after_second, "mecai_signer_sign_vouching_request_bytes_count"), requests + 1);
  const double second_request_bytes =
      Sample(after_second, "mecai_signer_sign_vouching_request_bytes_sum") - bytes;
  std::cout << "CRL " << crl.size() << " bytes; the second VR's signing request "
            << second_request_bytes << " bytes" << std::endl;
  EXPECT_LT(second_request_bytes, 32 << 10);
  EXPECT_GT(second_request_bytes, 0);
  // The CRL went to the signer once, and was parsed and verified there once: the second VD's
  // check reused it (common/revocation/parsed_crl_cache.h).
  EXPECT_EQ(Sample(after_second, UploadsTotal("stored")), 1);
  EXPECT_EQ(Sample(after_second, "mecai_signer_parsed_crls"), 1);
  EXPECT_GE(Sample(after_second, "mecai_signer_parsed_crl_memory_bytes"), 2 * crl.size());
  EXPECT_GE(Sample(after_second, "mecai_signer_parsed_crl_reuses_total"),
            Sample(after_first, "mecai_signer_parsed_crl_reuses_total") + 1);
  const std::string coordinator = signer_->CoordinatorMetrics();
  EXPECT_EQ(
      Sample(coordinator, "mecai_coordinator_signer_evidence_uploads_total{result=\"stored\"}"), 1);
  EXPECT_EQ(Sample(coordinator, "mecai_coordinator_signer_evidence_upload_bytes_total"),
            crl.size());

  // Inline, the same request could not reach the signer at all.
  v1::SignVouchingRequest inline_request =
      signer_->EvidenceOf(second.log_index(), second.log_index() + 1000, true);
  v1::SignVouchingResponse response;
  grpc::Status status = signer_->SignVouching(inline_request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
}

}  // namespace
}  // namespace mecai
