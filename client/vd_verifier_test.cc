// Tests of the client's verification of Vouching Data (ARCHITECTURE.md §4; docs/VOUCHING_DATA.md).
// Every test starts from the VD that ValidVdVerifies shows to be accepted and changes one thing, so
// a rejection can only come from that change; each asserts the exact status code and the message of
// the check that must fail.
#include "client/vd_verifier.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/va_list.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/pki/pki_builder.h"
#include "common/revocation/revocation.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {
namespace {

using ::mecai::test_pki::FixtureNow;
using ::mecai::test_pki::MakeTempDirectory;
using ::mecai::test_pki::ShareKey;
using ::mecai::test_pki::StatusIs;
using ::mecai::test_pki::WriteTestFile;
using ::testing::_;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;

constexpr char kHostname[] = "www.example.test";
constexpr char kSignatureError[] = "the VD signature does not verify under the VA certificate";

// A key and the certificate issued for it.
struct KeyAndCertificate {
  EvpPkeyPtr key;
  X509Ptr certificate;
};

// A certificate from `spec` for `key` (shared, not taken), issued by `issuer` (self-signed when
// null).
absl::StatusOr<KeyAndCertificate> IssueFor(const CertificateSpec& spec, EVP_PKEY* key,
                                           const KeyAndCertificate* issuer) {
  KeyAndCertificate issued;
  issued.key = ShareKey(key);
  ASSIGN_OR_RETURN(issued.certificate,
                   IssueCertificate(spec, issued.key.get(),
                                    issuer != nullptr ? issuer->certificate.get() : nullptr,
                                    issuer != nullptr ? issuer->key.get() : issued.key.get()));
  return issued;
}

// The same on a fresh key.
absl::StatusOr<KeyAndCertificate> Issue(const CertificateSpec& spec,
                                        const KeyAndCertificate* issuer) {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEcKey());
  return IssueFor(spec, key.get(), issuer);
}

// One VA list entry: its id, CA certificate file and the keys pinned for it (borrowed).
struct ListedVa {
  std::string id;
  std::string ca_file;
  std::vector<EVP_PKEY*> keys;
};

CertificateSpec CaSpec(const std::string& name) {
  CertificateSpec spec;
  spec.common_name = name;
  spec.is_certificate_authority = true;
  spec.not_before = FixtureNow() - absl::Hours(24 * 30);
  spec.not_after = FixtureNow() + absl::Hours(24 * 3650);
  return spec;
}

// A VA certificate as ARCHITECTURE.md §4 asks: an end-entity certificate issued by the CA with
// id-kp-OCSPSigning.
CertificateSpec VaSpec() {
  CertificateSpec spec;
  spec.common_name = "Test Vouching Authority A";
  spec.extended_key_usages = {"OCSPSigning"};
  spec.not_before = FixtureNow() - absl::Hours(24);
  spec.not_after = FixtureNow() + absl::Hours(24 * 365);
  return spec;
}

CertificateSpec LeafSpec(const std::string& hostname) {
  CertificateSpec spec;
  spec.common_name = hostname;
  spec.dns_names = {hostname};
  spec.extended_key_usages = {"serverAuth"};
  spec.not_before = FixtureNow() - absl::Hours(24);
  spec.not_after = FixtureNow() + absl::Hours(24 * 90);
  return spec;
}

// Every bit of every byte of `bytes` flipped in turn: 8 * size variants.
std::vector<std::string> SingleBitFlips(const std::string& bytes) {
  std::vector<std::string> variants;
  for (size_t position = 0; position < bytes.size(); ++position) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string variant = bytes;
      variant[position] = static_cast<char>(variant[position] ^ (1 << bit));
      variants.push_back(std::move(variant));
    }
  }
  return variants;
}

class VdVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(ca_, Issue(CaSpec("Test CA A"), nullptr));
    ASSERT_OK_AND_ASSIGN(other_ca_, Issue(CaSpec("Test CA B"), nullptr));
    ASSERT_OK_AND_ASSIGN(va_, Issue(VaSpec(), &ca_));
    ASSERT_OK_AND_ASSIGN(other_va_, Issue(VaSpec(), &other_ca_));
    ASSERT_OK_AND_ASSIGN(leaf_, Issue(LeafSpec(kHostname), nullptr));
    ASSERT_OK_AND_ASSIGN(other_leaf_, Issue(LeafSpec(kHostname), nullptr));
    ASSERT_OK_AND_ASSIGN(directory_, MakeTempDirectory());
    ASSERT_OK(
        WriteTestFile(directory_, "ca-a.pem", CertificateToPem(ca_.certificate.get())).status());
    ASSERT_OK(WriteTestFile(directory_, "ca-b.pem", CertificateToPem(other_ca_.certificate.get()))
                  .status());
    // va-a is the VA under test; va-b is another VA with its own CA.
    ASSERT_OK_AND_ASSIGN(vas_, LoadVaList("va-list.textproto", ListedVas()));

    statement_.set_version(2);
    statement_.set_va_id("va-a");
    statement_.set_trust_list("mozilla");
    statement_.set_hostname(kHostname);
    statement_.set_port(443);
    statement_.add_certificate_sha256(Sha256(CertificateToDer(leaf_.certificate.get())));
    statement_.set_revocation_checked_at_unix_seconds(
        absl::ToUnixSeconds(FixtureNow() - absl::Minutes(70)));
    statement_.set_revocation_source(v1::OCSP);
    statement_.set_probed_at_unix_seconds(absl::ToUnixSeconds(FixtureNow() - absl::Minutes(61)));
    v1::Perspective* perspective = statement_.add_perspectives();
    perspective->set_id("eu-west-1a");
    perspective->set_region("eu-west-1");
    perspective = statement_.add_perspectives();
    perspective->set_id("us-east-1a");
    perspective->set_region("us-east-1");
    statement_.set_log_index(42);
    statement_.set_log_shard_id("shard-2025");
    statement_.set_issued_at_unix_seconds(absl::ToUnixSeconds(FixtureNow() - absl::Hours(1)));

    expected_.hostname = kHostname;
    expected_.certificate_der = CertificateToDer(leaf_.certificate.get());
    expected_.now = FixtureNow();
    expected_.max_age = absl::Hours(24);
  }

  // The fixture's list: va-a (CA A, the key of va_) and va-b (CA B, the key of other_va_).
  std::vector<ListedVa> ListedVas() const {
    return {{"va-a", "ca-a.pem", {va_.key.get()}}, {"va-b", "ca-b.pem", {other_va_.key.get()}}};
  }

  // Writes a VA list of these entries into the test directory and loads it.
  absl::StatusOr<std::unique_ptr<VaList>> LoadVaList(
      const std::string& name, const std::vector<ListedVa>& entries,
      size_t verified_va_cache_capacity = VerifiedVaCache::kDefaultCapacity) {
    v1::VaList list;
    for (const ListedVa& listed : entries) {
      v1::VaListEntry* entry = list.add_vas();
      entry->set_id(listed.id);
      entry->set_operator_(absl::StrCat("Operator of ", listed.id));
      entry->add_endpoints(absl::StrCat(listed.id, ".example.test:443"));
      entry->set_ca_certificate_file(listed.ca_file);
      for (EVP_PKEY* key : listed.keys) entry->add_va_spki_sha256(VaKeyPin(key));
    }
    return LoadVaListText(name, list, verified_va_cache_capacity);
  }

  // Writes `list` in text format into the test directory and loads it.
  absl::StatusOr<std::unique_ptr<VaList>> LoadVaListText(
      const std::string& name, const v1::VaList& list,
      size_t verified_va_cache_capacity = VerifiedVaCache::kDefaultCapacity) {
    std::string text;
    if (!google::protobuf::TextFormat::PrintToString(list, &text)) {
      return absl::InternalError("cannot print the VA list");
    }
    ASSIGN_OR_RETURN(std::string path, WriteTestFile(directory_, name, text));
    return VaList::Load(path, verified_va_cache_capacity);
  }

  // `statement` serialized, signed with `signer`'s key, with `chain` attached.
  static absl::StatusOr<v1::VouchingData> SignedVd(const std::string& statement_bytes,
                                                   EVP_PKEY* key, const std::vector<X509*>& chain) {
    v1::VouchingData vd;
    vd.set_statement(statement_bytes);
    ASSIGN_OR_RETURN(v1::SignatureAlgorithm algorithm, AlgorithmForKey(key));
    ASSIGN_OR_RETURN(
        *vd.mutable_signature(),
        SignBytes(key, algorithm, SignedMessage(SignedObject::kVouchingStatement, vd.statement())));
    for (X509* certificate : chain) vd.add_va_certificate_chain_der(CertificateToDer(certificate));
    return vd;
  }

  // The statement of this fixture, signed by the VA of this fixture.
  absl::StatusOr<v1::VouchingData> Vd() const {
    return SignedVd(statement_.SerializeAsString(), va_.key.get(), {va_.certificate.get()});
  }

  absl::StatusOr<v1::VouchingStatement> Verify(const v1::VouchingData& vd) const {
    return VerifyVouchingData(vd, *vas_, expected_);
  }

  KeyAndCertificate ca_;
  KeyAndCertificate other_ca_;
  KeyAndCertificate va_;
  // va-b's VA, under other_ca_.
  KeyAndCertificate other_va_;
  KeyAndCertificate leaf_;
  KeyAndCertificate other_leaf_;
  std::string directory_;
  std::unique_ptr<VaList> vas_;
  v1::VouchingStatement statement_;
  VdExpectation expected_;
};

TEST_F(VdVerifierTest, ValidVdVerifiesAndReturnsTheStatement) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement statement, Verify(vd));
  EXPECT_EQ(statement.SerializeAsString(), vd.statement());
  EXPECT_EQ(statement.va_id(), "va-a");
  EXPECT_EQ(statement.hostname(), kHostname);
  EXPECT_EQ(statement.log_index(), 42u);
}

TEST_F(VdVerifierTest, ValidVdVerifiesForTheVaAskedFor) {
  expected_.candidate_vas = {"va-b", "va-a"};
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement statement, Verify(vd));
  EXPECT_EQ(statement.va_id(), "va-a");
}

TEST_F(VdVerifierTest, ValidVdVerifiesAfterItTravelledAsBytes) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  v1::VouchingData parsed;
  ASSERT_TRUE(parsed.ParseFromString(vd.SerializeAsString()));
  EXPECT_TRUE(Verify(parsed).ok()) << Verify(parsed).status();
}

TEST_F(VdVerifierTest, VaChainWithAnIntermediateVerifies) {
  CertificateSpec intermediate_spec = CaSpec("Test CA A Intermediate");
  intermediate_spec.path_length = 0;
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate intermediate, Issue(intermediate_spec, &ca_));
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate va, IssueFor(VaSpec(), va_.key.get(), &intermediate));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd,
                       SignedVd(statement_.SerializeAsString(), va.key.get(),
                                {va.certificate.get(), intermediate.certificate.get()}));
  EXPECT_TRUE(Verify(vd).ok()) << Verify(vd).status();
  // Without the intermediate the path does not build.
  vd.mutable_va_certificate_chain_der()->RemoveLast();
  EXPECT_THAT(Verify(vd),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("does not chain to the CA of any listed VA (va-a: unable to get "
                                 "local issuer certificate; va-b: unable to get local issuer "
                                 "certificate)")));
}

// Any single-bit change anywhere in the serialized VD is rejected: the statement and the VA
// certificate are signed, and everything else is structure whose change breaks one of the two.
TEST_F(VdVerifierTest, EveryFlippedBitOfTheSerializedVdIsRejected) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  const std::string serialized = vd.SerializeAsString();
  ASSERT_TRUE(Verify(vd).ok()) << Verify(vd).status();
  int unparseable = 0;
  int rejected = 0;
  size_t position = 0;
  for (const std::string& variant : SingleBitFlips(serialized)) {
    SCOPED_TRACE(absl::StrCat("byte ", position / 8, " bit ", position % 8));
    ++position;
    v1::VouchingData flipped;
    if (!flipped.ParseFromString(variant)) {
      ++unparseable;
      continue;
    }
    absl::StatusOr<v1::VouchingStatement> result = Verify(flipped);
    ASSERT_FALSE(result.ok());
    EXPECT_THAT(result.status().code(), AnyOf(Eq(absl::StatusCode::kPermissionDenied),
                                              Eq(absl::StatusCode::kInvalidArgument)))
        << result.status();
    ++rejected;
  }
  EXPECT_EQ(unparseable + rejected, static_cast<int>(serialized.size() * 8));
  // Most flips land inside signed bytes and parse; the verifier, not the parser, rejects them.
  EXPECT_GT(rejected, static_cast<int>(serialized.size() * 8 / 2));
}

TEST_F(VdVerifierTest, EveryFlippedBitOfTheStatementFailsTheSignature) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  ASSERT_TRUE(Verify(vd).ok()) << Verify(vd).status();
  const std::string statement = vd.statement();
  size_t position = 0;
  for (const std::string& variant : SingleBitFlips(statement)) {
    SCOPED_TRACE(absl::StrCat("byte ", position / 8, " bit ", position % 8));
    ++position;
    vd.set_statement(variant);
    EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied, Eq(kSignatureError)));
  }
  EXPECT_EQ(position, statement.size() * 8);
}

TEST_F(VdVerifierTest, EveryFlippedBitOfTheSignatureValueFailsTheSignature) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  ASSERT_TRUE(Verify(vd).ok()) << Verify(vd).status();
  const std::string value = vd.signature().value();
  size_t position = 0;
  for (const std::string& variant : SingleBitFlips(value)) {
    SCOPED_TRACE(absl::StrCat("byte ", position / 8, " bit ", position % 8));
    ++position;
    vd.mutable_signature()->set_value(variant);
    EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied, Eq(kSignatureError)));
  }
  EXPECT_EQ(position, value.size() * 8);
}

TEST_F(VdVerifierTest, SignatureAlgorithmThatDoesNotFitTheKeyIsRejected) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  vd.mutable_signature()->set_algorithm(v1::ECDSA_P384_SHA384);
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied, Eq(kSignatureError)));
  vd.mutable_signature()->set_algorithm(v1::RSA_PKCS1_SHA256);
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied, Eq(kSignatureError)));
}

TEST_F(VdVerifierTest, StatementSignedByAnotherKeyFailsTheSignature) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other_key, GenerateEcKey());
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, SignedVd(statement_.SerializeAsString(),
                                                     other_key.get(), {va_.certificate.get()}));
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied, Eq(kSignatureError)));
}

TEST_F(VdVerifierTest, AnotherHostnameIsRejected) {
  expected_.hostname = "other.example.test";
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_THAT(Verify(vd),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the VD vouches for www.example.test, not other.example.test")));
}

// The port the client connected to must be the one the VR named and the perspectives probed.
TEST_F(VdVerifierTest, AnotherPortIsRejected) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  expected_.port = 443;
  EXPECT_TRUE(Verify(vd).ok()) << Verify(vd).status();
  expected_.port = 8443;
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   Eq("the VD vouches for port 443, not 8443")));
  // Unset: a VD file checked outside a connection.
  expected_.port = 0;
  EXPECT_TRUE(Verify(vd).ok()) << Verify(vd).status();
}

TEST_F(VdVerifierTest, HostnameComparesWithoutRegardToCase) {
  expected_.hostname = "WWW.Example.TEST";
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_TRUE(Verify(vd).ok()) << Verify(vd).status();
}

TEST_F(VdVerifierTest, AnAbsoluteNameWithItsTrailingDotIsTheSameHost) {
  expected_.hostname = "www.example.test.";
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_TRUE(Verify(vd).ok()) << Verify(vd).status();
}

// The client applies the rule every VR's hostname passed (common/net/dns_name.h): a name no VA
// can have vouched for is refused before any cryptography, with the rule's reason.
TEST_F(VdVerifierTest, ANameNoVrCanCarryIsRefusedWithTheRulesReason) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  const struct {
    const char* name;
    const char* reason;
  } kRows[] = {
      {"ab--cd.example.test", "reserved for A-labels"},
      {"192.0.2.1", ""},
      {"*.example.test", ""},
      {"example.123", ""},
      {"www..example.test", ""},
      {"", ""},
  };
  for (const auto& row : kRows) {
    expected_.hostname = row.name;
    EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kInvalidArgument,
                                     AllOf(HasSubstr("no VD can vouch for this name: "),
                                           HasSubstr(row.reason))))
        << row.name;
  }
}

TEST(CanonicalClientHostnameTest, LowerCasesAndDropsOneTrailingDot) {
  ASSERT_OK_AND_ASSIGN(std::string absolute, CanonicalClientHostname("WWW.Example.TEST."));
  EXPECT_EQ(absolute, "www.example.test");
  ASSERT_OK_AND_ASSIGN(std::string a_label, CanonicalClientHostname("xn--bcher-kva.example"));
  EXPECT_EQ(a_label, "xn--bcher-kva.example");
  EXPECT_THAT(CanonicalClientHostname("www.example.test.."),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
  EXPECT_THAT(CanonicalClientHostname("."), StatusIs(absl::StatusCode::kInvalidArgument, _));
}

TEST_F(VdVerifierTest, AnotherCertificateIsRejected) {
  const std::string other_der = CertificateToDer(other_leaf_.certificate.get());
  expected_.certificate_der = other_der;
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   Eq(absl::StrCat("the certificate ", ShortHex(Sha256(other_der)),
                                                   " is not among the vouched certificates"))));
}

// ARCHITECTURE.md §7: the statement says whether issuance was approved out of band; a client may
// demand it.
TEST_F(VdVerifierTest, OutOfBandApprovalIsReportedAndCanBeRequired) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData without, Vd());
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement plain, Verify(without));
  EXPECT_FALSE(plain.issuance_approved_out_of_band());
  expected_.require_out_of_band_approval = true;
  EXPECT_THAT(Verify(without),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the VD does not say that issuance was approved out of band, which "
                          "this client requires")));
  statement_.set_issuance_approved_out_of_band(true);
  ASSERT_OK_AND_ASSIGN(v1::VouchingData with, Vd());
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement approved, Verify(with));
  EXPECT_TRUE(approved.issuance_approved_out_of_band());
}

TEST_F(VdVerifierTest, EitherCertificateOfARolloverIsAccepted) {
  statement_.add_certificate_sha256(Sha256(CertificateToDer(other_leaf_.certificate.get())));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_TRUE(Verify(vd).ok()) << Verify(vd).status();
  expected_.certificate_der = CertificateToDer(other_leaf_.certificate.get());
  EXPECT_TRUE(Verify(vd).ok()) << Verify(vd).status();
}

TEST_F(VdVerifierTest, VdOlderThanTheMaximumAgeIsRejected) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  // Issued one hour before FixtureNow(); exactly max_age old is still accepted.
  expected_.now = FixtureNow() - absl::Hours(1) + expected_.max_age;
  EXPECT_TRUE(Verify(vd).ok()) << Verify(vd).status();
  expected_.now += absl::Seconds(1);
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   Eq("the VD is 24h1s old; the maximum age is 24h")));
}

// docs/VOUCHING_DATA.md "Maximum age": without an operator setting, a VD older than a day (four
// stapler refresh intervals) is refused. MecaiClientOptions, `mecai verify` and `mecai s_client`
// default to the same constant.
TEST_F(VdVerifierTest, DefaultMaximumAgeIsOneDay) {
  EXPECT_EQ(kDefaultMaxVdAge, absl::Hours(24));
  VdExpectation defaults;
  EXPECT_EQ(defaults.max_age, kDefaultMaxVdAge);
  defaults.hostname = expected_.hostname;
  defaults.certificate_der = expected_.certificate_der;
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  // Issued one hour before FixtureNow().
  defaults.now = FixtureNow() + absl::Hours(23);
  EXPECT_TRUE(VerifyVouchingData(vd, *vas_, defaults).ok());
  defaults.now = FixtureNow() + absl::Hours(24);
  EXPECT_THAT(VerifyVouchingData(vd, *vas_, defaults),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the VD is 25h old; the maximum age is 24h")));
}

TEST_F(VdVerifierTest, VdIssuedInTheFutureIsRejected) {
  // Up to five minutes of clock skew are tolerated.
  statement_.set_issued_at_unix_seconds(absl::ToUnixSeconds(FixtureNow() + absl::Minutes(5)));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData tolerated, Vd());
  EXPECT_TRUE(Verify(tolerated).ok()) << Verify(tolerated).status();
  statement_.set_issued_at_unix_seconds(
      absl::ToUnixSeconds(FixtureNow() + absl::Minutes(5) + absl::Seconds(1)));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_THAT(Verify(vd),
              StatusIs(absl::StatusCode::kPermissionDenied, Eq("the VD was issued in the future")));
}

TEST_F(VdVerifierTest, VaCertificateWithoutOcspSigningUsageIsRejected) {
  for (const std::vector<std::string>& usages :
       {std::vector<std::string>{"serverAuth"}, std::vector<std::string>{}}) {
    SCOPED_TRACE(usages.empty() ? "no EKU extension" : usages.front());
    CertificateSpec spec = VaSpec();
    spec.extended_key_usages = usages;
    ASSERT_OK_AND_ASSIGN(KeyAndCertificate va, IssueFor(spec, va_.key.get(), &ca_));
    ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, SignedVd(statement_.SerializeAsString(), va.key.get(),
                                                       {va.certificate.get()}));
    EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                     Eq("the VA certificate lacks the id-kp-OCSPSigning "
                                        "(designated OCSP responder) usage")));
  }
}

TEST_F(VdVerifierTest, VaChainedToACaOutsideTheVaListIsRejected) {
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate unlisted_ca, Issue(CaSpec("Unlisted CA"), nullptr));
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate va, Issue(VaSpec(), &unlisted_ca));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, SignedVd(statement_.SerializeAsString(), va.key.get(),
                                                     {va.certificate.get()}));
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   Eq("the VA certificate does not chain to the CA of any listed "
                                      "VA (va-a: unable to get local issuer certificate; va-b: "
                                      "unable to get local issuer certificate)")));
  // Attaching the unlisted CA itself does not help: it is not a trust anchor.
  vd.add_va_certificate_chain_der(CertificateToDer(unlisted_ca.certificate.get()));
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   HasSubstr("does not chain to the CA of any listed VA (va-a: ")));
}

TEST_F(VdVerifierTest, StatementNamingAnotherListedVaIsRejected) {
  statement_.set_va_id("va-b");
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_THAT(Verify(vd),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the VD names VA 'va-b', whose CA did not issue this VA certificate")));
}

TEST_F(VdVerifierTest, StatementNamingAnUnlistedVaIsRejected) {
  statement_.set_va_id("va-unlisted");
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   Eq("the VD names VA 'va-unlisted', which is not in the VA "
                                      "list")));
}

TEST_F(VdVerifierTest, VaNotAskedForIsRejected) {
  expected_.candidate_vas = {"va-b"};
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   Eq("the VA certificate does not chain to the CA of any VA "
                                      "asked for (va-b) (va-b: unable to get local issuer "
                                      "certificate)")));
  expected_.candidate_vas = {"va-not-in-the-list"};
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   Eq("the VA certificate does not chain to the CA of any VA "
                                      "asked for (va-not-in-the-list)")));
}

// Two VAs under one CA (a CA running two VAs): a VD from the VA not asked for is rejected although
// its certificate chains to the CA of the VA that was asked for.
TEST_F(VdVerifierTest, VaNotAskedForIsRejectedWhenItSharesTheCa) {
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate va2, Issue(VaSpec(), &ca_));
  ASSERT_OK_AND_ASSIGN(vas_,
                       LoadVaList("shared-ca.textproto", {{"va-a", "ca-a.pem", {va_.key.get()}},
                                                          {"va-a2", "ca-a.pem", {va2.key.get()}}}));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_TRUE(Verify(vd).ok()) << Verify(vd).status();
  expected_.candidate_vas = {"va-a2"};
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   Eq(absl::StrCat("the VA certificate's key (SubjectPublicKeyInfo "
                                                   "SHA-256 ",
                                                   VaKeyPin(va_.key.get()),
                                                   ") is not pinned for any VA asked for (va-a2) "
                                                   "whose CA issued it (va-a2: key not in "
                                                   "va_spki_sha256)"))));
}

// docs/VOUCHING_DATA.md §4: an ordinary delegated OCSP responder of the VA's CA carries
// id-kp-OCSPSigning and chains to the CA, but its key is pinned for no VA, so it cannot sign VDs.
TEST_F(VdVerifierTest, OcspResponderOfTheVasCaCannotSignForTheVa) {
  CertificateSpec responder_spec = VaSpec();
  responder_spec.common_name = "Test CA A OCSP Responder";
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate responder, Issue(responder_spec, &ca_));
  ASSERT_OK_AND_ASSIGN(
      v1::VouchingData vd,
      SignedVd(statement_.SerializeAsString(), responder.key.get(), {responder.certificate.get()}));
  const std::string key = VaKeyPin(responder.key.get());
  EXPECT_THAT(
      Verify(vd),
      StatusIs(absl::StatusCode::kPermissionDenied,
               Eq(absl::StrCat("the VA certificate's key (SubjectPublicKeyInfo SHA-256 ", key,
                               ") is not pinned for any listed VA whose CA issued it (va-a: "
                               "key not in va_spki_sha256; va-b: unable to get local "
                               "issuer certificate)"))));
  // The same when the client asks for that VA alone, and when its path is already cached.
  expected_.candidate_vas = {"va-a"};
  for (int i = 0; i < 2; ++i) {
    EXPECT_THAT(Verify(vd),
                StatusIs(absl::StatusCode::kPermissionDenied,
                         Eq(absl::StrCat("the VA certificate's key (SubjectPublicKeyInfo "
                                         "SHA-256 ",
                                         key,
                                         ") is not pinned for any VA asked for (va-a) "
                                         "whose CA issued it (va-a: key not in "
                                         "va_spki_sha256)"))));
  }
  EXPECT_GE(vas_->verified_va_cache().hits(), 1u);
}

// The community variation: two VAs whose certificates one CA issued. Each VA's key speaks only for
// its own VA, whether the path is validated afresh or answered from the verified-VA cache.
TEST_F(VdVerifierTest, SecondVaUnderASharedCaCannotSpeakForTheFirst) {
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate va2, Issue(VaSpec(), &ca_));
  const std::vector<ListedVa> shared = {{"va-a", "ca-a.pem", {va_.key.get()}},
                                        {"va-a2", "ca-a.pem", {va2.key.get()}}};
  ASSERT_OK_AND_ASSIGN(vas_, LoadVaList("shared-ca.textproto", shared));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VaList> uncached,
                       LoadVaList("shared-ca-uncached.textproto", shared, /*capacity=*/0));
  v1::VouchingStatement own = statement_;
  own.set_va_id("va-a2");
  ASSERT_OK_AND_ASSIGN(v1::VouchingData own_vd,
                       SignedVd(own.SerializeAsString(), va2.key.get(), {va2.certificate.get()}));
  // va-a2 speaking for itself is accepted, and leaves its path in the cache.
  ASSERT_OK(Verify(own_vd).status());
  ASSERT_OK(VerifyVouchingData(own_vd, *uncached, expected_).status());

  // va-a2's key naming va-a.
  ASSERT_OK_AND_ASSIGN(v1::VouchingData forged, SignedVd(statement_.SerializeAsString(),
                                                         va2.key.get(), {va2.certificate.get()}));
  const std::string refusal =
      "the VD names VA 'va-a', but its VA certificate's key is pinned for VA 'va-a2' "
      "(va_spki_sha256)";
  const uint64_t hits_before = vas_->verified_va_cache().hits();
  EXPECT_THAT(Verify(forged), StatusIs(absl::StatusCode::kPermissionDenied, Eq(refusal)));
  EXPECT_GT(vas_->verified_va_cache().hits(), hits_before);
  EXPECT_THAT(VerifyVouchingData(forged, *uncached, expected_),
              StatusIs(absl::StatusCode::kPermissionDenied, Eq(refusal)));
  // A client that asked for va-a alone refuses it before the signature.
  expected_.candidate_vas = {"va-a"};
  EXPECT_THAT(Verify(forged), StatusIs(absl::StatusCode::kPermissionDenied,
                                       HasSubstr("is not pinned for any VA asked for (va-a)")));
  // va-a itself still verifies under the shared CA.
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_TRUE(Verify(vd).ok()) << Verify(vd).status();
}

// A VA rolling its key over lists both keys; each verifies, and nothing else does.
TEST_F(VdVerifierTest, KeyRolloverWithTwoPinsAcceptsBothKeys) {
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate next_va, Issue(VaSpec(), &ca_));
  ASSERT_OK_AND_ASSIGN(vas_, LoadVaList("rollover.textproto",
                                        {{"va-a", "ca-a.pem", {va_.key.get(), next_va.key.get()}},
                                         {"va-b", "ca-b.pem", {other_va_.key.get()}}}));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData current, Vd());
  ASSERT_OK_AND_ASSIGN(
      v1::VouchingData next,
      SignedVd(statement_.SerializeAsString(), next_va.key.get(), {next_va.certificate.get()}));
  EXPECT_TRUE(Verify(current).ok()) << Verify(current).status();
  EXPECT_TRUE(Verify(next).ok()) << Verify(next).status();
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate third_va, Issue(VaSpec(), &ca_));
  ASSERT_OK_AND_ASSIGN(
      v1::VouchingData third,
      SignedVd(statement_.SerializeAsString(), third_va.key.get(), {third_va.certificate.get()}));
  EXPECT_THAT(Verify(third), StatusIs(absl::StatusCode::kPermissionDenied,
                                      HasSubstr("(va-a: key not in va_spki_sha256; ")));
  // After the rollover the list drops the old key, and the old certificate stops verifying.
  ASSERT_OK_AND_ASSIGN(
      vas_, LoadVaList("after-rollover.textproto", {{"va-a", "ca-a.pem", {next_va.key.get()}},
                                                    {"va-b", "ca-b.pem", {other_va_.key.get()}}}));
  EXPECT_TRUE(Verify(next).ok()) << Verify(next).status();
  EXPECT_THAT(Verify(current), StatusIs(absl::StatusCode::kPermissionDenied,
                                        HasSubstr("(va-a: key not in va_spki_sha256; ")));
}

// VaList::Load refuses an entry that pins no key, a pin that is not a SHA-256 in hex, and one key
// pinned for two VAs, each in one line naming the field.
TEST_F(VdVerifierTest, VaListWithoutAValidUniquePinIsRefusedAtLoad) {
  v1::VaList list;
  v1::VaListEntry* entry = list.add_vas();
  entry->set_id("va-a");
  entry->set_ca_certificate_file("ca-a.pem");
  EXPECT_THAT(LoadVaListText("no-pin.textproto", list),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(absl::StrCat("VA list ", directory_,
                                       "/no-pin.textproto: VA 'va-a' needs va_spki_sha256 (the "
                                       "SHA-256 of its VA certificate's SubjectPublicKeyInfo, 64 "
                                       "hex digits)"))));
  for (const std::string& bad : {std::string(63, 'a'), std::string(65, 'a'),
                                 std::string(63, 'a') + "g", "sha256:" + std::string(57, '0')}) {
    entry->clear_va_spki_sha256();
    entry->add_va_spki_sha256(bad);
    EXPECT_THAT(
        LoadVaListText("bad-pin.textproto", list),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("VA 'va-a' va_spki_sha256 '")));
    EXPECT_THAT(LoadVaListText("bad-pin.textproto", list),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("' is not 64 hex digits")));
  }
  // Upper-case hex is the same key.
  entry->clear_va_spki_sha256();
  entry->add_va_spki_sha256(absl::AsciiStrToUpper(VaKeyPin(va_.key.get())));
  ASSERT_OK_AND_ASSIGN(vas_, LoadVaListText("upper-case.textproto", list));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  EXPECT_TRUE(Verify(vd).ok()) << Verify(vd).status();

  v1::VaListEntry* second = list.add_vas();
  second->set_id("va-a2");
  second->set_ca_certificate_file("ca-a.pem");
  second->add_va_spki_sha256(VaKeyPin(va_.key.get()));
  EXPECT_THAT(LoadVaListText("shared-pin.textproto", list),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(absl::StrCat("VA list ", directory_,
                                       "/shared-pin.textproto: "
                                       "va_spki_sha256 ",
                                       VaKeyPin(va_.key.get()),
                                       " is pinned for both 'va-a' and 'va-a2'; a VA key speaks "
                                       "for one VA"))));
  second->set_id("va-a");
  EXPECT_THAT(LoadVaListText("twice.textproto", list),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("every VA needs a unique id ('va-a')")));
  list.mutable_vas()->RemoveLast();
  entry->add_va_spki_sha256(VaKeyPin(va_.key.get()));
  EXPECT_THAT(
      LoadVaListText("twice.textproto", list),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("VA 'va-a' lists va_spki_sha256 ")));
}

TEST_F(VdVerifierTest, UnsupportedStatementVersionIsRejected) {
  for (uint32_t version : {0u, 1u, 3u}) {
    statement_.set_version(version);
    ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
    EXPECT_THAT(Verify(vd),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         Eq(absl::StrCat("unsupported VouchingStatement version ", version))));
  }
}

// Statement version 1 signed the statement's bytes alone, without a context string.
TEST_F(VdVerifierTest, AVersionOneVdIsRejectedSayingSo) {
  statement_.set_version(1);
  v1::VouchingData vd;
  vd.set_statement(statement_.SerializeAsString());
  ASSERT_OK_AND_ASSIGN(*vd.mutable_signature(),
                       SignBytes(va_.key.get(), v1::ECDSA_P256_SHA256, vd.statement()));
  vd.add_va_certificate_chain_der(CertificateToDer(va_.certificate.get()));
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   HasSubstr("statement version 1, signed without a context")));
}

// A signature the VA key made for another kind of object is no VD, whatever the bytes say.
TEST_F(VdVerifierTest, ASignatureOfAnotherKindIsNoVd) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InMemorySigningKey> va_key,
                       InMemorySigningKey::Create(EvpPkeyPtr(EVP_PKEY_dup(va_.key.get()))));
  for (SignedObject kind : {SignedObject::kCheckpoint, SignedObject::kObservation,
                            SignedObject::kApprovalRecord, SignedObject::kTrustListChange}) {
    v1::VouchingData vd;
    vd.set_statement(statement_.SerializeAsString());
    ASSERT_OK_AND_ASSIGN(*vd.mutable_signature(), SignObject(*va_key, kind, vd.statement()));
    vd.add_va_certificate_chain_der(CertificateToDer(va_.certificate.get()));
    EXPECT_THAT(Verify(vd),
                StatusIs(absl::StatusCode::kPermissionDenied,
                         Eq("the VD signature does not verify under the VA certificate")))
        << SignatureContext(kind);
  }
}

// Nothing rides along inside a signed statement unseen.
TEST_F(VdVerifierTest, ASignedStatementWithAFieldTheClientDoesNotKnowIsRejected) {
  const std::string statement =
      statement_.SerializeAsString() + std::string("\xf8\x01\x01", 3);  // Field 31.
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd,
                       SignedVd(statement, va_.key.get(), {va_.certificate.get()}));
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("field this verifier does not know")));
}

TEST_F(VdVerifierTest, SignedBytesThatAreNoStatementAreRejected) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, SignedVd(std::string("\xff\xff\xff", 3), va_.key.get(),
                                                     {va_.certificate.get()}));
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kInvalidArgument,
                                   Eq("the signed statement is not a VouchingStatement")));
}

// proto3 string fields must be UTF-8: a signed statement whose hostname is not fails to parse.
TEST_F(VdVerifierTest, SignedStatementWithInvalidUtf8IsRejected) {
  // version = 2, then field 4 (hostname) of length 2 holding 0xff 0xfe.
  const std::string statement("\x08\x02\x22\x02\xff\xfe", 6);
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd,
                       SignedVd(statement, va_.key.get(), {va_.certificate.get()}));
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kInvalidArgument,
                                   Eq("the signed statement is not a VouchingStatement")));
}

TEST_F(VdVerifierTest, EmptyVaChainIsRejected) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd,
                       SignedVd(statement_.SerializeAsString(), va_.key.get(), {}));
  EXPECT_THAT(Verify(vd),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq("the VD carries no VA certificate")));
}

TEST_F(VdVerifierTest, MalformedVaCertificateIsRejected) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  std::string der = vd.va_certificate_chain_der(0);
  vd.set_va_certificate_chain_der(0, der + "x");
  EXPECT_THAT(Verify(vd),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("VA certificate chain: trailing bytes after DER certificate")));
  vd.set_va_certificate_chain_der(0, der.substr(0, der.size() - 1));
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("VA certificate chain: malformed DER certificate")));
}

TEST_F(VdVerifierTest, ExpiredVaCertificateIsRejected) {
  CertificateSpec spec = VaSpec();
  spec.not_before = FixtureNow() - absl::Hours(24 * 30);
  spec.not_after = FixtureNow() - absl::Hours(2);
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate va, Issue(spec, &ca_));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, SignedVd(statement_.SerializeAsString(), va.key.get(),
                                                     {va.certificate.get()}));
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   Eq("the VA certificate does not chain to the CA of any listed "
                                      "VA (va-a: certificate has expired; va-b: unable to get "
                                      "local issuer certificate)")));
}

TEST_F(VdVerifierTest, VaCertificateNotYetValidIsRejected) {
  CertificateSpec spec = VaSpec();
  spec.not_before = FixtureNow() + absl::Hours(2);
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate va, Issue(spec, &ca_));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, SignedVd(statement_.SerializeAsString(), va.key.get(),
                                                     {va.certificate.get()}));
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   HasSubstr("(va-a: certificate is not yet valid; ")));
}

// The verified-VA cache (client/verified_va_cache.h). Each case is verified against a list that
// remembers nothing and twice against a list with the cache (a miss, then a hit); the three
// outcomes must be identical, code and message.
struct CacheCase {
  std::string name;
  v1::VouchingData vd;
  VdExpectation expected;
};

// "OK <serialized statement>" or "<code>: <message>", for comparing outcomes exactly.
std::string Outcome(const absl::StatusOr<v1::VouchingStatement>& result) {
  if (result.ok()) return absl::StrCat("OK ", result->SerializeAsString());
  return absl::StrCat(absl::StatusCodeToString(result.status().code()), ": ",
                      result.status().message());
}

TEST_F(VdVerifierTest, CacheHitGivesTheSameResultAsAMiss) {
  std::vector<CacheCase> cases;
  auto add = [&](const std::string& name, const v1::VouchingData& vd,
                 const VdExpectation& expected) {
    cases.push_back({name, vd, expected});
  };
  ASSERT_OK_AND_ASSIGN(v1::VouchingData valid, Vd());
  add("valid", valid, expected_);
  VdExpectation asked_b_then_a = expected_;
  asked_b_then_a.candidate_vas = {"va-b", "va-a"};
  add("valid, asked va-b then va-a", valid, asked_b_then_a);
  VdExpectation asked_b = expected_;
  asked_b.candidate_vas = {"va-b"};
  add("VA not asked for", valid, asked_b);
  VdExpectation other_host = expected_;
  other_host.hostname = "other.example.test";
  add("another hostname", valid, other_host);
  VdExpectation other_port = expected_;
  other_port.port = 8443;
  add("another port", valid, other_port);
  VdExpectation other_certificate = expected_;
  other_certificate.certificate_der = CertificateToDer(other_leaf_.certificate.get());
  add("another certificate", valid, other_certificate);
  VdExpectation too_late = expected_;
  too_late.now = FixtureNow() + absl::Hours(25);
  add("too old", valid, too_late);
  v1::VouchingData bad_signature = valid;
  bad_signature.mutable_signature()->mutable_value()->back() ^= 1;
  add("signature", bad_signature, expected_);
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other_key, GenerateEcKey());
  ASSERT_OK_AND_ASSIGN(
      v1::VouchingData other_signer,
      SignedVd(statement_.SerializeAsString(), other_key.get(), {va_.certificate.get()}));
  add("signed by another key", other_signer, expected_);
  ASSERT_OK_AND_ASSIGN(
      v1::VouchingData no_statement,
      SignedVd(std::string("\xff\xff\xff", 3), va_.key.get(), {va_.certificate.get()}));
  add("no statement", no_statement, expected_);
  v1::VouchingStatement naming_b = statement_;
  naming_b.set_va_id("va-b");
  ASSERT_OK_AND_ASSIGN(v1::VouchingData names_b, SignedVd(naming_b.SerializeAsString(),
                                                          va_.key.get(), {va_.certificate.get()}));
  add("naming another listed VA", names_b, expected_);
  v1::VouchingData malformed = valid;
  malformed.set_va_certificate_chain_der(0, malformed.va_certificate_chain_der(0) + "x");
  add("malformed VA certificate", malformed, expected_);
  add("malformed VA certificate, no candidate listed", malformed, [&] {
    VdExpectation unlisted = expected_;
    unlisted.candidate_vas = {"va-not-in-the-list"};
    return unlisted;
  }());
  CertificateSpec no_ocsp_spec = VaSpec();
  no_ocsp_spec.extended_key_usages = {"serverAuth"};
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate no_ocsp_va, IssueFor(no_ocsp_spec, va_.key.get(), &ca_));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData no_ocsp,
                       SignedVd(statement_.SerializeAsString(), no_ocsp_va.key.get(),
                                {no_ocsp_va.certificate.get()}));
  add("no id-kp-OCSPSigning", no_ocsp, expected_);
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate unlisted_ca, Issue(CaSpec("Unlisted CA"), nullptr));
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate unlisted_va, Issue(VaSpec(), &unlisted_ca));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData unlisted,
                       SignedVd(statement_.SerializeAsString(), unlisted_va.key.get(),
                                {unlisted_va.certificate.get()}));
  add("CA outside the list", unlisted, expected_);
  CertificateSpec expired_spec = VaSpec();
  expired_spec.not_after = FixtureNow() - absl::Hours(2);
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate expired_va, Issue(expired_spec, &ca_));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData expired,
                       SignedVd(statement_.SerializeAsString(), expired_va.key.get(),
                                {expired_va.certificate.get()}));
  add("expired VA certificate", expired, expected_);
  // An OCSP responder of CA A: its chain is valid and cached, its key is pinned for no VA.
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate responder, Issue(VaSpec(), &ca_));
  ASSERT_OK_AND_ASSIGN(
      v1::VouchingData unpinned,
      SignedVd(statement_.SerializeAsString(), responder.key.get(), {responder.certificate.get()}));
  add("key not pinned", unpinned, expected_);
  VdExpectation asked_a = expected_;
  asked_a.candidate_vas = {"va-a"};
  add("key not pinned, va-a asked for", unpinned, asked_a);

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VaList> uncached,
                       LoadVaList("uncached.textproto", ListedVas(), /*capacity=*/0));
  for (const CacheCase& test : cases) {
    SCOPED_TRACE(test.name);
    const std::string reference = Outcome(VerifyVouchingData(test.vd, *uncached, test.expected));
    EXPECT_EQ(Outcome(VerifyVouchingData(test.vd, *vas_, test.expected)), reference);
    const uint64_t hits_before = vas_->verified_va_cache().hits();
    EXPECT_EQ(Outcome(VerifyVouchingData(test.vd, *vas_, test.expected)), reference);
    // Every case but those failing before any path validation or with an uncacheable path
    // (expired; a chain that does not parse) is answered from the cache the second time.
    if (test.name != "expired VA certificate" && test.name.rfind("malformed", 0) != 0) {
      EXPECT_GT(vas_->verified_va_cache().hits(), hits_before);
    }
  }
  EXPECT_EQ(uncached->verified_va_cache().size(), 0u);
  EXPECT_EQ(uncached->verified_va_cache().hits(), 0u);
  EXPECT_THAT(Outcome(VerifyVouchingData(valid, *vas_, expected_)), HasSubstr("OK "));
}

TEST_F(VdVerifierTest, CachedValidationIsReusedWithOneSignatureCheck) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  ASSERT_OK(Verify(vd).status());
  EXPECT_EQ(vas_->verified_va_cache().size(), 1u);
  EXPECT_EQ(vas_->verified_va_cache().misses(), 1u);
  ASSERT_OK(Verify(vd).status());
  EXPECT_EQ(vas_->verified_va_cache().hits(), 1u);
  EXPECT_EQ(vas_->verified_va_cache().misses(), 1u);
  // A hit still checks the signature over this VD's statement.
  vd.mutable_signature()->mutable_value()->back() ^= 1;
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied, Eq(kSignatureError)));
  EXPECT_EQ(vas_->verified_va_cache().hits(), 2u);
}

// A signature that verified is remembered by its exact bytes: the same VD again costs no
// signature verification, while a changed signature or statement is verified afresh, a failed
// verification is never remembered, and the checks of the time and the connection still run.
TEST_F(VdVerifierTest, VerifiedSignatureIsRememberedByItsExactBytes) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  ASSERT_OK(Verify(vd).status());
  EXPECT_EQ(vas_->verified_va_cache().signature_hits(), 0u);
  ASSERT_OK(Verify(vd).status());
  EXPECT_EQ(vas_->verified_va_cache().signature_hits(), 1u);

  v1::VouchingData flipped = vd;
  flipped.mutable_signature()->mutable_value()->back() ^= 1;
  for (int i = 0; i < 2; ++i) {
    EXPECT_THAT(Verify(flipped),
                StatusIs(absl::StatusCode::kPermissionDenied, Eq(kSignatureError)));
  }
  EXPECT_EQ(vas_->verified_va_cache().signature_hits(), 1u);

  // Another valid signature over the same statement (ECDSA signatures are randomized) is
  // verified once, then remembered beside the first.
  ASSERT_OK_AND_ASSIGN(v1::VouchingData resigned, SignedVd(statement_.SerializeAsString(),
                                                           va_.key.get(), {va_.certificate.get()}));
  ASSERT_NE(resigned.signature().value(), vd.signature().value());
  ASSERT_OK(Verify(resigned).status());
  EXPECT_EQ(vas_->verified_va_cache().signature_hits(), 1u);
  ASSERT_OK(Verify(resigned).status());
  ASSERT_OK(Verify(vd).status());
  EXPECT_EQ(vas_->verified_va_cache().signature_hits(), 3u);

  // The old signature under a changed statement is not a hit: it is verified, and fails.
  v1::VouchingData other_statement = vd;
  other_statement.set_statement(other_statement.statement() + std::string(1, '\0'));
  EXPECT_THAT(Verify(other_statement),
              StatusIs(absl::StatusCode::kPermissionDenied, Eq(kSignatureError)));
  EXPECT_EQ(vas_->verified_va_cache().signature_hits(), 3u);

  // The same value under another algorithm is not a hit either.
  v1::VouchingData other_algorithm = vd;
  other_algorithm.mutable_signature()->set_algorithm(v1::ECDSA_P384_SHA384);
  EXPECT_THAT(Verify(other_algorithm),
              StatusIs(absl::StatusCode::kPermissionDenied, Eq(kSignatureError)));
  EXPECT_EQ(vas_->verified_va_cache().signature_hits(), 3u);

  // A remembered signature does not excuse the statement checks.
  expected_.hostname = "other.example.test";
  EXPECT_THAT(Verify(vd),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not other.example.test")));
  expected_.hostname = kHostname;
  expected_.now = FixtureNow() + absl::Hours(25);
  EXPECT_THAT(Verify(vd),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("the maximum age is")));
  EXPECT_EQ(vas_->verified_va_cache().signature_hits(), 5u);
}

TEST_F(VdVerifierTest, RememberedSignaturesPerPathStayBounded) {
  std::vector<v1::VouchingData> vds;
  for (size_t i = 0; i < VerifiedVaCache::kSignaturesPerPath + 1; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, SignedVd(statement_.SerializeAsString(),
                                                       va_.key.get(), {va_.certificate.get()}));
    ASSERT_OK(Verify(vd).status());
    vds.push_back(std::move(vd));
  }
  EXPECT_EQ(vas_->verified_va_cache().signature_hits(), 0u);
  // The newest is remembered; the oldest was forgotten and is verified (successfully) again.
  ASSERT_OK(Verify(vds.back()).status());
  EXPECT_EQ(vas_->verified_va_cache().signature_hits(), 1u);
  ASSERT_OK(Verify(vds.front()).status());
  EXPECT_EQ(vas_->verified_va_cache().signature_hits(), 1u);
}

TEST_F(VdVerifierTest, ExpiredVaCertificateIsRejectedEvenWhenCached) {
  CertificateSpec spec = VaSpec();
  spec.not_after = FixtureNow() + absl::Hours(3);
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate va, IssueFor(spec, va_.key.get(), &ca_));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, SignedVd(statement_.SerializeAsString(), va.key.get(),
                                                     {va.certificate.get()}));
  const absl::Time not_after = Asn1TimeToAbslTime(X509_get0_notAfter(va.certificate.get()));
  expected_.max_age = absl::Hours(24 * 365);
  ASSERT_OK(Verify(vd).status());  // Cached.
  ASSERT_EQ(vas_->verified_va_cache().size(), 1u);
  // The last second of validity (OpenSSL: valid while now < notAfter) is still served from cache.
  expected_.now = not_after - absl::Milliseconds(500);
  ASSERT_OK(Verify(vd).status());
  EXPECT_EQ(vas_->verified_va_cache().hits(), 1u);
  const std::string expired_message =
      "the VA certificate does not chain to the CA of any listed VA (va-a: certificate has "
      "expired; va-b: unable to get local issuer certificate)";
  for (absl::Time now : {not_after, not_after + absl::Hours(1)}) {
    expected_.now = now;
    EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied, Eq(expired_message)));
  }
  // The expired result is not remembered: only va-b's "no path" is.
  EXPECT_EQ(vas_->verified_va_cache().size(), 1u);
}

// A path validated at a later time is not used at an earlier one (a clock set back): the earlier
// time gets the rejection a first validation gives.
TEST_F(VdVerifierTest, NotYetValidVaCertificateIsRejectedEvenWhenCached) {
  CertificateSpec spec = VaSpec();
  spec.not_before = FixtureNow() + absl::Hours(2);
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate va, IssueFor(spec, va_.key.get(), &ca_));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, SignedVd(statement_.SerializeAsString(), va.key.get(),
                                                     {va.certificate.get()}));
  expected_.now = FixtureNow() + absl::Hours(3);
  ASSERT_OK(Verify(vd).status());
  expected_.now = FixtureNow();
  EXPECT_THAT(Verify(vd), StatusIs(absl::StatusCode::kPermissionDenied,
                                   HasSubstr("(va-a: certificate is not yet valid; ")));
}

TEST_F(VdVerifierTest, AnotherVaListDoesNotReuseTheCache) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  ASSERT_OK(Verify(vd).status());
  ASSERT_OK(Verify(vd).status());
  ASSERT_EQ(vas_->verified_va_cache().hits(), 1u);
  // The same VA id under another CA: the chain must be validated against that CA, and fails.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VaList> other,
                       LoadVaList("other.textproto", {{"va-a", "ca-b.pem", {va_.key.get()}}}));
  EXPECT_THAT(VerifyVouchingData(vd, *other, expected_),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("the VA certificate does not chain to the CA of any listed VA (va-a: "
                          "unable to get local issuer certificate)")));
  EXPECT_EQ(other->verified_va_cache().hits(), 0u);
  EXPECT_EQ(other->verified_va_cache().misses(), 1u);
  // Even an identical list validates on its own first.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VaList> same, LoadVaList("same.textproto", ListedVas()));
  ASSERT_OK(VerifyVouchingData(vd, *same, expected_).status());
  EXPECT_EQ(same->verified_va_cache().hits(), 0u);
  EXPECT_EQ(same->verified_va_cache().misses(), 1u);
  EXPECT_EQ(vas_->verified_va_cache().hits(), 1u);
}

TEST_F(VdVerifierTest, CacheStaysBounded) {
  constexpr size_t kCapacity = 4;
  ASSERT_OK_AND_ASSIGN(vas_, LoadVaList("small.textproto", ListedVas(), kCapacity));
  expected_.candidate_vas = {"va-a"};
  std::vector<v1::VouchingData> vds;
  for (int i = 0; i < 10; ++i) {
    // Ten certificates for the pinned key: ten distinct chains.
    ASSERT_OK_AND_ASSIGN(KeyAndCertificate va, IssueFor(VaSpec(), va_.key.get(), &ca_));
    ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, SignedVd(statement_.SerializeAsString(), va.key.get(),
                                                       {va.certificate.get()}));
    vds.push_back(std::move(vd));
    ASSERT_OK(Verify(vds.back()).status());
    EXPECT_LE(vas_->verified_va_cache().size(), kCapacity);
  }
  EXPECT_EQ(vas_->verified_va_cache().size(), kCapacity);
  EXPECT_EQ(vas_->verified_va_cache().hits(), 0u);
  // The most recent chain is remembered; the first was evicted (least recently used).
  ASSERT_OK(Verify(vds.back()).status());
  EXPECT_EQ(vas_->verified_va_cache().hits(), 1u);
  ASSERT_OK(Verify(vds.front()).status());
  EXPECT_EQ(vas_->verified_va_cache().hits(), 1u);
  EXPECT_EQ(vas_->verified_va_cache().size(), kCapacity);
}

TEST_F(VdVerifierTest, CacheIsSharedSafelyBetweenThreads) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Vd());
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate other_va, IssueFor(VaSpec(), va_.key.get(), &ca_));
  ASSERT_OK_AND_ASSIGN(
      v1::VouchingData other_vd,
      SignedVd(statement_.SerializeAsString(), other_va.key.get(), {other_va.certificate.get()}));
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (!Verify(i % 2 == 0 ? vd : other_vd).ok()) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(failures, ::testing::Each(0));
  EXPECT_EQ(vas_->verified_va_cache().size(), 2u);
  EXPECT_EQ(vas_->verified_va_cache().hits() + vas_->verified_va_cache().misses(), 200u);
}

}  // namespace
}  // namespace mecai
