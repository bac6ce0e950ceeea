#include "common/evidence/trust_lists.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::BuildTestPki;
using ::mecai::test_pki::FixtureNow;
using ::mecai::test_pki::IsNotRefused;
using ::mecai::test_pki::IsRefusal;
using ::mecai::test_pki::KeyType;
using ::mecai::test_pki::LeafOptions;
using ::mecai::test_pki::StatusIs;
using ::mecai::test_pki::TestPki;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kHost[] = "www.example.test";

v1::TrustListConfig ListConfig(const std::string& name, const std::string& pem_file) {
  v1::TrustListConfig config;
  config.set_name(name);
  config.set_pem_file(pem_file);
  return config;
}

google::protobuf::RepeatedPtrField<v1::TrustListConfig> Configs(
    const std::vector<v1::TrustListConfig>& configs) {
  return google::protobuf::RepeatedPtrField<v1::TrustListConfig>(configs.begin(), configs.end());
}

std::vector<X509*> Borrow(const std::vector<const X509Ptr*>& certificates) {
  std::vector<X509*> borrowed;
  for (const X509Ptr* certificate : certificates) borrowed.push_back(certificate->get());
  return borrowed;
}

class TrustListsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pki = BuildTestPki(kHost);
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = new TestPki(std::move(*pki));
    auto other = BuildTestPki(kHost);
    ASSERT_TRUE(other.ok()) << other.status();
    other_pki_ = new TestPki(std::move(*other));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete other_pki_;
    pki_ = nullptr;
    other_pki_ = nullptr;
  }

  // A fresh TrustLists per test, so RemoveRoot in one test cannot leak into another.
  void SetUp() override {
    ASSERT_NE(pki_, nullptr);
    auto lists = TrustLists::Load(Configs({ListConfig("test-roots", pki_->root_pem_path)}));
    ASSERT_TRUE(lists.ok()) << lists.status();
    lists_ = std::move(*lists);
  }

  std::vector<X509*> GoodChain() const {
    return Borrow({&pki_->leaf.certificate, &pki_->intermediate.certificate});
  }

  static TestPki* pki_;
  static TestPki* other_pki_;
  std::unique_ptr<TrustLists> lists_;
};

TestPki* TrustListsTest::pki_ = nullptr;
TestPki* TrustListsTest::other_pki_ = nullptr;

TEST_F(TrustListsTest, LoadRefusesAMissingFile) {
  const std::string missing = pki_->directory + "/no-such-bundle.pem";
  EXPECT_THAT(TrustLists::Load(Configs({ListConfig("mozilla", missing)})),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("trust list 'mozilla'"), HasSubstr(missing))));
}

TEST_F(TrustListsTest, LoadRefusesADuplicateName) {
  EXPECT_THAT(
      TrustLists::Load(Configs({ListConfig("mozilla", pki_->root_pem_path),
                                ListConfig("mozilla", other_pki_->root_pem_path)})),
      StatusIs(absl::StatusCode::kInvalidArgument, "trust list 'mozilla' is configured twice"));
}

TEST_F(TrustListsTest, LoadRefusesAnEmptyBundle) {
  auto empty = test_pki::WriteTestFile(pki_->directory, "empty.pem", "");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_THAT(TrustLists::Load(Configs({ListConfig("empty", *empty)})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("trust list 'empty'"), HasSubstr(*empty),
                             HasSubstr("no PEM CERTIFICATE block found"))));
}

TEST_F(TrustListsTest, LoadRefusesABundleWithoutCertificates) {
  auto key_only = test_pki::WriteTestFile(pki_->directory, "key-only.pem",
                                          PublicKeyToPem(pki_->root.key.get()));
  ASSERT_TRUE(key_only.ok()) << key_only.status();
  EXPECT_THAT(
      TrustLists::Load(Configs({ListConfig("keys", *key_only)})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no PEM CERTIFICATE block found")));
}

TEST_F(TrustListsTest, LoadRefusesANamelessList) {
  EXPECT_THAT(TrustLists::Load(Configs({ListConfig("", pki_->root_pem_path)})),
              StatusIs(absl::StatusCode::kInvalidArgument, "a trust list has no name"));
}

TEST_F(TrustListsTest, ListsItsNamesAndRootHashes) {
  auto bundle = test_pki::WriteTestFile(pki_->directory, "two-roots.pem",
                                        CertificateToPem(pki_->root.certificate.get()) +
                                            CertificateToPem(other_pki_->root.certificate.get()));
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  auto lists = TrustLists::Load(
      Configs({ListConfig("zeta", pki_->root_pem_path), ListConfig("alpha", *bundle)}));
  ASSERT_TRUE(lists.ok()) << lists.status();
  EXPECT_THAT((*lists)->Names(), ElementsAre("alpha", "zeta"));
  EXPECT_TRUE((*lists)->Has("alpha"));
  EXPECT_TRUE((*lists)->Has("zeta"));
  EXPECT_FALSE((*lists)->Has("mozilla"));
  EXPECT_THAT((*lists)->RootHashes("alpha"),
              ElementsAre(Sha256(pki_->root.der), Sha256(other_pki_->root.der)));
  EXPECT_THAT((*lists)->RootHashes("zeta"), ElementsAre(Sha256(pki_->root.der)));
  EXPECT_TRUE((*lists)->RootHashes("mozilla").empty());
}

TEST_F(TrustListsTest, ValidChainBuildsToTheRoot) {
  ChainVerdict verdict = lists_->VerifyChain("test-roots", GoodChain(), FixtureNow());
  EXPECT_THAT(verdict.refusal, IsNotRefused());
  EXPECT_EQ(verdict.root_sha256, Sha256(pki_->root.der));
  ASSERT_EQ(verdict.path.size(), 3u);
  EXPECT_EQ(CertificateToDer(verdict.path[0].get()), pki_->leaf.der);
  EXPECT_EQ(CertificateToDer(verdict.path[1].get()), pki_->intermediate.der);
  EXPECT_EQ(CertificateToDer(verdict.path[2].get()), pki_->root.der);
}

TEST_F(TrustListsTest, RsaChainBuildsToTheRoot) {
  auto rsa = BuildTestPki(kHost, KeyType::kRsa2048);
  ASSERT_TRUE(rsa.ok()) << rsa.status();
  auto lists = TrustLists::Load(Configs({ListConfig("rsa", rsa->root_pem_path)}));
  ASSERT_TRUE(lists.ok()) << lists.status();
  ChainVerdict verdict = (*lists)->VerifyChain(
      "rsa", Borrow({&rsa->leaf.certificate, &rsa->intermediate.certificate}), FixtureNow());
  EXPECT_THAT(verdict.refusal, IsNotRefused());
  EXPECT_EQ(verdict.root_sha256, Sha256(rsa->root.der));
}

TEST_F(TrustListsTest, UnknownTrustListIsRefused) {
  ChainVerdict verdict = lists_->VerifyChain("mozilla", GoodChain(), FixtureNow());
  EXPECT_THAT(verdict.refusal,
              IsRefusal(v1::UNKNOWN_TRUST_LIST,
                        "this Vouching Server does not serve trust list 'mozilla'"));
  EXPECT_TRUE(verdict.root_sha256.empty());
  EXPECT_TRUE(verdict.path.empty());
}

TEST_F(TrustListsTest, EmptyChainIsMalformed) {
  EXPECT_THAT(lists_->VerifyChain("test-roots", {}, FixtureNow()).refusal,
              IsRefusal(v1::MALFORMED_REQUEST, "the certificate chain is empty"));
}

TEST_F(TrustListsTest, ChainToAnotherRootIsUntrusted) {
  ChainVerdict verdict = lists_->VerifyChain(
      "test-roots", Borrow({&other_pki_->leaf.certificate, &other_pki_->intermediate.certificate}),
      FixtureNow());
  EXPECT_THAT(verdict.refusal,
              IsRefusal(v1::UNTRUSTED_CHAIN,
                        AllOf(HasSubstr("does not build to a root of trust list 'test-roots'"),
                              HasSubstr("unable to get local issuer certificate"))));
  EXPECT_TRUE(verdict.path.empty());
}

TEST_F(TrustListsTest, ChainMissingItsIntermediateIsUntrusted) {
  EXPECT_THAT(
      lists_->VerifyChain("test-roots", Borrow({&pki_->leaf.certificate}), FixtureNow()).refusal,
      IsRefusal(v1::UNTRUSTED_CHAIN, HasSubstr("unable to get local issuer certificate")));
}

TEST_F(TrustListsTest, ChainEndingInAnUntrustedSelfSignedRootIsUntrusted) {
  EXPECT_THAT(
      lists_
          ->VerifyChain(
              "test-roots",
              Borrow({&other_pki_->leaf.certificate, &other_pki_->intermediate.certificate,
                      &other_pki_->root.certificate}),
              FixtureNow())
          .refusal,
      IsRefusal(v1::UNTRUSTED_CHAIN, HasSubstr("self-signed certificate in certificate chain")));
}

TEST_F(TrustListsTest, ChainIsExpiredAfterTheLeafsNotAfter) {
  // The fixture leaf is valid until FixtureNow() + 90 days.
  EXPECT_THAT(
      lists_->VerifyChain("test-roots", GoodChain(), FixtureNow() + absl::Hours(24 * 91)).refusal,
      IsRefusal(v1::CERTIFICATE_EXPIRED,
                AllOf(HasSubstr("certificate has expired"), HasSubstr("depth 0"))));
  EXPECT_THAT(
      lists_->VerifyChain("test-roots", GoodChain(), FixtureNow() + absl::Hours(24 * 89)).refusal,
      IsNotRefused());
}

TEST_F(TrustListsTest, ChainIsRefusedBeforeTheLeafsNotBefore) {
  // The fixture leaf is valid from FixtureNow() - 1 day.
  EXPECT_THAT(
      lists_->VerifyChain("test-roots", GoodChain(), FixtureNow() - absl::Hours(25)).refusal,
      IsRefusal(v1::CERTIFICATE_EXPIRED, HasSubstr("certificate is not yet valid")));
}

TEST_F(TrustListsTest, ExpiredLeafIsRefusedAtTheFixtureTime) {
  LeafOptions options;
  options.not_before = FixtureNow() - absl::Hours(24 * 10);
  options.not_after = FixtureNow() - absl::Hours(1);
  auto expired = pki_->IssueLeaf(kHost, options);
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_THAT(lists_
                  ->VerifyChain("test-roots",
                                Borrow({&expired->certificate, &pki_->intermediate.certificate}),
                                FixtureNow())
                  .refusal,
              IsRefusal(v1::CERTIFICATE_EXPIRED, HasSubstr("certificate has expired")));
}

TEST_F(TrustListsTest, LeafWithoutServerAuthFailsThePurposeCheck) {
  LeafOptions options;
  options.extended_key_usages = {"clientAuth"};
  auto client_only = pki_->IssueLeaf(kHost, options);
  ASSERT_TRUE(client_only.ok()) << client_only.status();
  EXPECT_THAT(
      lists_
          ->VerifyChain("test-roots",
                        Borrow({&client_only->certificate, &pki_->intermediate.certificate}),
                        FixtureNow())
          .refusal,
      IsRefusal(v1::UNTRUSTED_CHAIN, HasSubstr("unsuitable certificate purpose")));
}

TEST_F(TrustListsTest, RemoveRootRefusesUnknownListsAndRoots) {
  EXPECT_THAT(lists_->RemoveRoot("mozilla", Sha256(pki_->root.der)),
              StatusIs(absl::StatusCode::kNotFound, "no trust list named 'mozilla'"));
  EXPECT_THAT(
      lists_->RemoveRoot("test-roots", Sha256(other_pki_->root.der)),
      StatusIs(absl::StatusCode::kNotFound, absl::StrCat("trust list 'test-roots' has no root ",
                                                         HexEncode(Sha256(other_pki_->root.der)))));
  EXPECT_THAT(lists_->RootHashes("test-roots"), ElementsAre(Sha256(pki_->root.der)));
}

// ARCHITECTURE.md §6: once a root is removed, no chain to it is accepted, and the refusal says so.
TEST_F(TrustListsTest, ChainToARemovedRootIsNoLongerTrusted) {
  ASSERT_THAT(lists_->VerifyChain("test-roots", GoodChain(), FixtureNow()).refusal, IsNotRefused());
  ASSERT_TRUE(lists_->RemoveRoot("test-roots", Sha256(pki_->root.der)).ok());
  EXPECT_TRUE(lists_->RootHashes("test-roots").empty());
  EXPECT_TRUE(lists_->Has("test-roots"));
  EXPECT_THAT(lists_->VerifyChain("test-roots", GoodChain(), FixtureNow()).refusal,
              IsRefusal(v1::ROOT_REMOVED, HasSubstr("removed from trust list 'test-roots'")));
  // Removing it again is harmless.
  EXPECT_TRUE(lists_->RemoveRoot("test-roots", Sha256(pki_->root.der)).ok());
}

TEST_F(TrustListsTest, RemovingARootFromOneListLeavesOtherListsAlone) {
  auto lists = TrustLists::Load(Configs(
      {ListConfig("first", pki_->root_pem_path), ListConfig("second", pki_->root_pem_path)}));
  ASSERT_TRUE(lists.ok()) << lists.status();
  ASSERT_TRUE((*lists)->RemoveRoot("first", Sha256(pki_->root.der)).ok());
  EXPECT_THAT((*lists)->VerifyChain("first", GoodChain(), FixtureNow()).refusal,
              IsRefusal(v1::ROOT_REMOVED, HasSubstr("trust list 'first'")));
  EXPECT_THAT((*lists)->VerifyChain("second", GoodChain(), FixtureNow()).refusal, IsNotRefused());
}

TEST_F(TrustListsTest, RemovingOneRootKeepsTheOthersOfTheList) {
  auto bundle = test_pki::WriteTestFile(pki_->directory, "both-roots.pem",
                                        CertificateToPem(pki_->root.certificate.get()) +
                                            CertificateToPem(other_pki_->root.certificate.get()));
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  auto lists = TrustLists::Load(Configs({ListConfig("both", *bundle)}));
  ASSERT_TRUE(lists.ok()) << lists.status();
  ASSERT_TRUE((*lists)->RemoveRoot("both", Sha256(pki_->root.der)).ok());
  EXPECT_THAT((*lists)->RootHashes("both"), ElementsAre(Sha256(other_pki_->root.der)));
  EXPECT_THAT((*lists)->VerifyChain("both", GoodChain(), FixtureNow()).refusal,
              IsRefusal(v1::ROOT_REMOVED, HasSubstr("trust list 'both'")));
  EXPECT_THAT((*lists)
                  ->VerifyChain("both",
                                Borrow({&other_pki_->leaf.certificate,
                                        &other_pki_->intermediate.certificate}),
                                FixtureNow())
                  .refusal,
              IsNotRefused());
}

// A bundle that lists the same root twice: RemoveRoot takes out one copy, path building still
// ends at the other, and the removed-hash record refuses it as ROOT_REMOVED.
TEST_F(TrustListsTest, DuplicatedRootIsRefusedAsRemovedAfterRemoval) {
  const std::string root_pem = CertificateToPem(pki_->root.certificate.get());
  auto bundle =
      test_pki::WriteTestFile(pki_->directory, "duplicated-root.pem", root_pem + root_pem);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  auto lists = TrustLists::Load(Configs({ListConfig("dup", *bundle)}));
  ASSERT_TRUE(lists.ok()) << lists.status();
  ASSERT_TRUE((*lists)->RemoveRoot("dup", Sha256(pki_->root.der)).ok());
  ChainVerdict verdict = (*lists)->VerifyChain("dup", GoodChain(), FixtureNow());
  EXPECT_THAT(verdict.refusal,
              IsRefusal(v1::ROOT_REMOVED, AllOf(HasSubstr(ShortHex(Sha256(pki_->root.der))),
                                                HasSubstr("was removed from trust list 'dup'"))));
  EXPECT_EQ(verdict.root_sha256, Sha256(pki_->root.der));
}

class HostnameTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pki = BuildTestPki(kHost);
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = new TestPki(std::move(*pki));
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static X509Ptr Leaf(const LeafOptions& options) {
    auto leaf = pki_->IssueLeaf(kHost, options);
    EXPECT_TRUE(leaf.ok()) << leaf.status();
    return leaf.ok() ? std::move(leaf->certificate) : nullptr;
  }
  static X509Ptr LeafFor(const std::vector<std::string>& dns_names) {
    LeafOptions options;
    options.dns_names = dns_names;
    options.common_name = "unrelated.invalid";
    return Leaf(options);
  }
  static TestPki* pki_;
};

TestPki* HostnameTest::pki_ = nullptr;

TEST_F(HostnameTest, ExactNameMatches) {
  X509Ptr leaf = LeafFor({"www.example.test", "api.example.test"});
  ASSERT_NE(leaf, nullptr);
  EXPECT_TRUE(CertificateMatchesHostname(leaf.get(), "www.example.test"));
  EXPECT_TRUE(CertificateMatchesHostname(leaf.get(), "api.example.test"));
  EXPECT_FALSE(CertificateMatchesHostname(leaf.get(), "mail.example.test"));
  EXPECT_FALSE(CertificateMatchesHostname(leaf.get(), "example.test"));
  EXPECT_FALSE(CertificateMatchesHostname(leaf.get(), "www.example.test.evil.test"));
  EXPECT_FALSE(CertificateMatchesHostname(leaf.get(), ""));
}

TEST_F(HostnameTest, SubjectCommonNameIsNotADnsId) {
  X509Ptr leaf = LeafFor({"www.example.test"});
  ASSERT_NE(leaf, nullptr);
  EXPECT_FALSE(CertificateMatchesHostname(leaf.get(), "unrelated.invalid"));
}

// The header's contract: "DNS-ID from subjectAltName". A certificate without a subjectAltName is
// not valid for the name in its subject CN (RFC 9525 §6.3 drops the CN-ID fallback; the CA/B
// Forum Baseline Requirements require the SAN).
TEST_F(HostnameTest, CommonNameWithoutSubjectAltNameDoesNotMatch) {
  LeafOptions options;
  options.omit_subject_alt_name = true;
  options.common_name = "www.example.test";
  X509Ptr leaf = Leaf(options);
  ASSERT_NE(leaf, nullptr);
  EXPECT_FALSE(CertificateMatchesHostname(leaf.get(), "www.example.test"));
}

TEST_F(HostnameTest, WildcardMatchesExactlyOneLeftMostLabel) {
  X509Ptr leaf = LeafFor({"*.example.test"});
  ASSERT_NE(leaf, nullptr);
  EXPECT_TRUE(CertificateMatchesHostname(leaf.get(), "a.example.test"));
  EXPECT_TRUE(CertificateMatchesHostname(leaf.get(), "www.example.test"));
  EXPECT_FALSE(CertificateMatchesHostname(leaf.get(), "a.b.example.test"));
  EXPECT_FALSE(CertificateMatchesHostname(leaf.get(), "example.test"));
  EXPECT_FALSE(CertificateMatchesHostname(leaf.get(), "a.example.other"));
}

TEST_F(HostnameTest, PartialWildcardNeverMatches) {
  X509Ptr leaf = LeafFor({"f*.example.test"});
  ASSERT_NE(leaf, nullptr);
  EXPECT_FALSE(CertificateMatchesHostname(leaf.get(), "foo.example.test"));
  EXPECT_FALSE(CertificateMatchesHostname(leaf.get(), "f.example.test"));
}

TEST_F(HostnameTest, ExtendedKeyUsages) {
  struct Case {
    std::vector<std::string> usages;
    bool server_auth;
    bool ocsp_signing;
  };
  for (const Case& c : std::vector<Case>{
           {{"serverAuth"}, true, false},
           {{"clientAuth"}, false, false},
           {{"serverAuth", "clientAuth"}, true, false},
           {{"OCSPSigning"}, false, true},
           {{"serverAuth", "OCSPSigning"}, true, true},
           // RFC 5280 §4.2.1.12: no EKU extension means no restriction on the purpose.
           {{}, true, false},
       }) {
    SCOPED_TRACE(absl::StrCat("EKU {", absl::StrJoin(c.usages, ","), "}"));
    LeafOptions options;
    options.extended_key_usages = c.usages;
    X509Ptr leaf = Leaf(options);
    ASSERT_NE(leaf, nullptr);
    EXPECT_EQ(HasServerAuthUsage(leaf.get()), c.server_auth);
    EXPECT_EQ(HasOcspSigningUsage(leaf.get()), c.ocsp_signing);
  }
}

}  // namespace
}  // namespace mecai

namespace mecai {
namespace {

// ARCHITECTURE.md §6: "TL files reload on change", and administrative changes survive the reload.
TEST_F(TrustListsTest, ReloadsAChangedBundleAndKeepsAdministrativeChanges) {
  const std::string root_pem = CertificateToPem(pki_->root.certificate.get());
  const std::string other_root_pem = CertificateToPem(other_pki_->root.certificate.get());
  auto bundle = test_pki::WriteTestFile(pki_->directory, "reloaded.pem", root_pem);
  ASSERT_TRUE(bundle.ok());
  auto lists = TrustLists::Load(Configs({ListConfig("reloaded", *bundle)}));
  ASSERT_TRUE(lists.ok());
  std::vector<std::string> errors;
  EXPECT_TRUE((*lists)->ReloadChangedFiles(&errors).empty());  // Unchanged: nothing to do.

  // An administrator removes the root; then the maintainers' file gains another root.
  ASSERT_TRUE((*lists)->RemoveRoot("reloaded", Sha256(pki_->root.der)).ok());
  ASSERT_TRUE(
      test_pki::WriteTestFile(pki_->directory, "reloaded.pem", root_pem + other_root_pem).ok());
  EXPECT_THAT((*lists)->ReloadChangedFiles(&errors), ElementsAre("reloaded"));
  EXPECT_TRUE(errors.empty());
  EXPECT_THAT((*lists)->VerifyChain("reloaded", GoodChain(), FixtureNow()).refusal,
              IsRefusal(v1::ROOT_REMOVED, HasSubstr("trust list 'reloaded'")));
  EXPECT_THAT((*lists)
                  ->VerifyChain("reloaded",
                                Borrow({&other_pki_->leaf.certificate,
                                        &other_pki_->intermediate.certificate}),
                                FixtureNow())
                  .refusal,
              IsNotRefused());

  // A bundle that no longer parses keeps the list as it was and is reported.
  ASSERT_TRUE(test_pki::WriteTestFile(pki_->directory, "reloaded.pem", "not a PEM bundle").ok());
  EXPECT_TRUE((*lists)->ReloadChangedFiles(&errors).empty());
  ASSERT_THAT(errors, ::testing::SizeIs(1));
  EXPECT_THAT(errors[0], HasSubstr("kept as it was"));
  EXPECT_THAT((*lists)->RootHashes("reloaded"), ElementsAre(Sha256(other_pki_->root.der)));
}

TEST_F(TrustListsTest, AppliesAddAndRemoveChangesAndRefusesBadOnes) {
  v1::TrustListChange add;
  add.set_action(v1::TrustListChange::ADD_ROOT);
  add.set_trust_list("test-roots");
  add.set_root_certificate_der(other_pki_->root.der);
  add.set_root_sha256(Sha256(other_pki_->root.der));
  ASSERT_TRUE(lists_->ApplyChange(add).ok());
  ASSERT_TRUE(lists_->ApplyChange(add).ok());  // Idempotent.
  EXPECT_THAT(lists_->RootHashes("test-roots"),
              ElementsAre(Sha256(pki_->root.der), Sha256(other_pki_->root.der)));

  v1::TrustListChange leaf_as_root = add;
  leaf_as_root.set_root_certificate_der(pki_->leaf.der);
  leaf_as_root.set_root_sha256(Sha256(pki_->leaf.der));
  EXPECT_THAT(lists_->ApplyChange(leaf_as_root),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("self-signed CA")));
  v1::TrustListChange wrong_hash = add;
  wrong_hash.set_root_sha256(Sha256("something else"));
  EXPECT_THAT(lists_->ApplyChange(wrong_hash),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not the SHA-256")));
  v1::TrustListChange unknown_list = add;
  unknown_list.set_trust_list("no-such-list");
  EXPECT_THAT(lists_->ApplyChange(unknown_list),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));

  v1::TrustListChange remove;
  remove.set_action(v1::TrustListChange::REMOVE_ROOT);
  remove.set_trust_list("test-roots");
  remove.set_root_sha256(Sha256(other_pki_->root.der));
  ASSERT_TRUE(lists_->ApplyChange(remove).ok());
  EXPECT_THAT(lists_->RootHashes("test-roots"), ElementsAre(Sha256(pki_->root.der)));
  EXPECT_THAT(lists_->RemovedRootHashes("test-roots"), ElementsAre(Sha256(other_pki_->root.der)));
}

// The cache of validated chains (common/evidence/validated_chain_cache.h) answers only what a
// validation would answer: the same path, for the same list, at a time within every certificate's
// validity period, and nothing validated before a change to the list.
TEST_F(TrustListsTest, AChainValidatedAgainIsAnsweredFromTheCacheWithTheSamePath) {
  ChainVerdict first = lists_->VerifyChain("test-roots", GoodChain(), FixtureNow());
  ASSERT_THAT(first.refusal, IsNotRefused());
  EXPECT_EQ(lists_->validated_chain_hits(), 0u);
  ChainVerdict again =
      lists_->VerifyChain("test-roots", GoodChain(), FixtureNow() + absl::Hours(24 * 30));
  EXPECT_EQ(lists_->validated_chain_hits(), 1u);
  EXPECT_THAT(again.refusal, IsNotRefused());
  EXPECT_EQ(again.root_sha256, first.root_sha256);
  ASSERT_EQ(again.path.size(), first.path.size());
  for (size_t i = 0; i < first.path.size(); ++i) {
    EXPECT_EQ(CertificateToDer(again.path[i].get()), CertificateToDer(first.path[i].get()));
  }
}

TEST_F(TrustListsTest, ACachedChainIsValidatedAgainOutsideItsValidityPeriod) {
  ASSERT_THAT(lists_->VerifyChain("test-roots", GoodChain(), FixtureNow()).refusal, IsNotRefused());
  // The fixture leaf is valid from FixtureNow() - 1 day until FixtureNow() + 90 days.
  EXPECT_THAT(
      lists_->VerifyChain("test-roots", GoodChain(), FixtureNow() + absl::Hours(24 * 91)).refusal,
      IsRefusal(v1::CERTIFICATE_EXPIRED, HasSubstr("certificate has expired")));
  EXPECT_THAT(
      lists_->VerifyChain("test-roots", GoodChain(), FixtureNow() - absl::Hours(25)).refusal,
      IsRefusal(v1::CERTIFICATE_EXPIRED, HasSubstr("certificate is not yet valid")));
  EXPECT_EQ(lists_->validated_chain_hits(), 0u);
}

TEST_F(TrustListsTest, AChainCachedForOneListIsNotAnsweredForAnother) {
  auto lists = TrustLists::Load(Configs({ListConfig("test-roots", pki_->root_pem_path),
                                         ListConfig("other-roots", other_pki_->root_pem_path)}));
  ASSERT_TRUE(lists.ok()) << lists.status();
  ASSERT_THAT((*lists)->VerifyChain("test-roots", GoodChain(), FixtureNow()).refusal,
              IsNotRefused());
  EXPECT_THAT((*lists)->VerifyChain("other-roots", GoodChain(), FixtureNow()).refusal,
              IsRefusal(v1::UNTRUSTED_CHAIN, HasSubstr("trust list 'other-roots'")));
  EXPECT_THAT((*lists)->VerifyChain("no-such-list", GoodChain(), FixtureNow()).refusal,
              IsRefusal(v1::UNKNOWN_TRUST_LIST, HasSubstr("no-such-list")));
  EXPECT_EQ((*lists)->validated_chain_hits(), 0u);
}

TEST_F(TrustListsTest, AChainCachedWithAnotherIntermediateIsNotAnsweredForThisOne) {
  // The same leaf with the other PKI's intermediate does not build: the key holds every
  // certificate as sent, not only the leaf.
  ASSERT_THAT(lists_->VerifyChain("test-roots", GoodChain(), FixtureNow()).refusal, IsNotRefused());
  EXPECT_THAT(
      lists_
          ->VerifyChain("test-roots",
                        Borrow({&pki_->leaf.certificate, &other_pki_->intermediate.certificate}),
                        FixtureNow())
          .refusal,
      IsRefusal(v1::UNTRUSTED_CHAIN, ::testing::_));
  EXPECT_EQ(lists_->validated_chain_hits(), 0u);
}

TEST_F(TrustListsTest, AReloadThatDropsTheRootForgetsTheChainsValidatedToIt) {
  const std::string root_pem = CertificateToPem(pki_->root.certificate.get());
  const std::string other_root_pem = CertificateToPem(other_pki_->root.certificate.get());
  auto bundle = test_pki::WriteTestFile(pki_->directory, "dropped.pem", root_pem);
  ASSERT_TRUE(bundle.ok());
  auto lists = TrustLists::Load(Configs({ListConfig("dropped", *bundle)}));
  ASSERT_TRUE(lists.ok());
  ASSERT_THAT((*lists)->VerifyChain("dropped", GoodChain(), FixtureNow()).refusal, IsNotRefused());
  ASSERT_THAT((*lists)->VerifyChain("dropped", GoodChain(), FixtureNow()).refusal, IsNotRefused());
  ASSERT_EQ((*lists)->validated_chain_hits(), 1u);

  // The maintainers' file loses the root (a different size, so the reload sees the change).
  ASSERT_TRUE(test_pki::WriteTestFile(pki_->directory, "dropped.pem", other_root_pem + "\n").ok());
  std::vector<std::string> errors;
  ASSERT_THAT((*lists)->ReloadChangedFiles(&errors), ElementsAre("dropped"));
  EXPECT_THAT((*lists)->VerifyChain("dropped", GoodChain(), FixtureNow()).refusal,
              IsRefusal(v1::UNTRUSTED_CHAIN, HasSubstr("trust list 'dropped'")));
  EXPECT_EQ((*lists)->validated_chain_hits(), 1u);
}

TEST_F(TrustListsTest, AChainCachedBeforeItsRootWasRemovedIsRefusedAsRemoved) {
  ASSERT_THAT(lists_->VerifyChain("test-roots", GoodChain(), FixtureNow()).refusal, IsNotRefused());
  ASSERT_THAT(lists_->VerifyChain("test-roots", GoodChain(), FixtureNow()).refusal, IsNotRefused());
  v1::TrustListChange remove;
  remove.set_action(v1::TrustListChange::REMOVE_ROOT);
  remove.set_trust_list("test-roots");
  remove.set_root_sha256(Sha256(pki_->root.der));
  ASSERT_TRUE(lists_->ApplyChange(remove).ok());
  EXPECT_THAT(lists_->VerifyChain("test-roots", GoodChain(), FixtureNow()).refusal,
              IsRefusal(v1::ROOT_REMOVED, HasSubstr("removed from trust list 'test-roots'")));
  EXPECT_EQ(lists_->validated_chain_hits(), 1u);
}

}  // namespace
}  // namespace mecai
