// Tests of the PKCS#11 layer against the real SoftHSM2 module, with a fresh token per test in a
// directory under TEST_TMPDIR (CONTRIBUTING.md rule 10; ARCHITECTURE.md §9 "the HSM is SoftHSM2").
#include <stdlib.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/pkcs11/pkcs11_key.h"
#include "common/pkcs11/pkcs11_login.h"
#include "common/pkcs11/pkcs11_module.h"
#include "common/pkcs11/pkcs11_pin.h"
#include "common/pkcs11/pkcs11_provisioning.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTokenLabel[] = "mecai-test-token";
constexpr char kKeyLabel[] = "va-key";
constexpr char kUserPin[] = "314159";
constexpr char kSoPin[] = "27182818";

// DER of the P-384 namedCurve OID 1.3.132.0.34.
const std::string kP384EcParams("\x06\x05\x2b\x81\x04\x00\x22", 7);
// DER of the Ed448 OID 1.3.101.113 (RFC 8410 §3), as CKA_EC_PARAMS of a CKK_EC_EDWARDS key.
const std::string kEd448EcParams("\x06\x03\x2b\x65\x71", 5);
// The environment variable the PIN tests use; unset after every test.
constexpr char kPinVariable[] = "MECAI_PKCS11_TEST_USER_PIN";

const CK_BBOOL kTrue = CK_TRUE;

CK_ATTRIBUTE True(CK_ATTRIBUTE_TYPE type) {
  return {type, const_cast<CK_BBOOL*>(&kTrue), sizeof(kTrue)};
}

std::string PublicKeyDer(EVP_PKEY* key) { return PublicKeyToDer(key); }

class Pkcs11Test : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* test_tmpdir = getenv("TEST_TMPDIR");
    std::string pattern =
        absl::StrCat(test_tmpdir != nullptr ? test_tmpdir : "/tmp", "/",
                     ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << pattern;
    directory_ = pattern;
    ASSERT_OK(InitSoftHsmToken(directory_, kTokenLabel, kUserPin, kSoPin));
    config_.set_module_path(kSoftHsmModulePath);
    config_.set_token_label(kTokenLabel);
    config_.set_pin_file(absl::StrCat(directory_, "/user.pin"));
    config_.set_key_label(kKeyLabel);
    WritePin(absl::StrCat(kUserPin, "\n"));
  }

  void TearDown() override { unsetenv(kPinVariable); }

  // Moves the PIN from the file to the environment variable kPinVariable.
  void UsePinFromEnvironment(const std::string& pin) {
    ASSERT_EQ(setenv(kPinVariable, pin.c_str(), /*overwrite=*/1), 0);
    config_.clear_pin_file();
    config_.set_pin_environment_variable(kPinVariable);
  }

  void WritePin(const std::string& contents) {
    ASSERT_OK(WriteFileAtomically(config_.pin_file(), contents, 0600));
  }

  // A key pair of another type or curve, labelled like the VA key, generated in the test token.
  void GenerateOtherKeyPair(CK_MECHANISM_TYPE mechanism_type,
                            std::vector<CK_ATTRIBUTE> public_template) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Module> module,
                         Pkcs11Module::Load(config_.module_path()));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Session> session,
                         OpenLoggedInSession(*module, config_, /*read_write=*/true));
    std::string label = kKeyLabel;
    public_template.push_back(True(CKA_TOKEN));
    public_template.push_back(True(CKA_VERIFY));
    public_template.push_back({CKA_LABEL, label.data(), label.size()});
    std::vector<CK_ATTRIBUTE> private_template = {True(CKA_TOKEN),
                                                  True(CKA_PRIVATE),
                                                  True(CKA_SENSITIVE),
                                                  True(CKA_SIGN),
                                                  {CKA_LABEL, label.data(), label.size()}};
    CK_MECHANISM mechanism = {mechanism_type, nullptr, 0};
    CK_OBJECT_HANDLE public_key, private_key;
    CK_RV rv = session->functions()->C_GenerateKeyPair(
        session->handle(), &mechanism, public_template.data(), public_template.size(),
        private_template.data(), private_template.size(), &public_key, &private_key);
    ASSERT_EQ(rv, CKR_OK) << CkrName(rv);
  }

  // Renames the public key object labelled `from` to `to`.
  void RelabelPublicKey(const std::string& from, const std::string& to) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Module> module,
                         Pkcs11Module::Load(config_.module_path()));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Session> session,
                         OpenLoggedInSession(*module, config_, /*read_write=*/true));
    CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY;
    std::string from_label = from;
    ASSERT_OK_AND_ASSIGN(std::vector<CK_OBJECT_HANDLE> found,
                         session->FindObjects({{CKA_CLASS, &public_class, sizeof(public_class)},
                                               {CKA_LABEL, from_label.data(), from_label.size()}}));
    ASSERT_EQ(found.size(), 1u);
    std::string to_label = to;
    CK_ATTRIBUTE label = {CKA_LABEL, to_label.data(), to_label.size()};
    CK_RV rv = session->functions()->C_SetAttributeValue(session->handle(), found[0], &label, 1);
    ASSERT_EQ(rv, CKR_OK) << CkrName(rv);
  }

  std::string directory_;
  v1::Pkcs11Config config_;
};

TEST_F(Pkcs11Test, SignaturesVerifyWithTokenAndGeneratedPublicKeys) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr generated, GenerateEcKeyPairInToken(config_));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> key, Pkcs11SigningKey::Open(config_));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr public_key, key->PublicKey());
  EXPECT_EQ(PublicKeyDer(public_key.get()), PublicKeyDer(generated.get()));

  const std::string data = "vouching data to be signed";
  ASSERT_OK_AND_ASSIGN(v1::Signature signature, key->Sign(data));
  EXPECT_EQ(signature.algorithm(), v1::ECDSA_P256_SHA256);
  EXPECT_EQ(signature.value()[0], '\x30');  // DER SEQUENCE (RFC 5480 §2.2), not raw r||s.
  EXPECT_TRUE(VerifySignature(public_key.get(), signature, data).ok());
  EXPECT_TRUE(VerifySignature(generated.get(), signature, data).ok());
  EXPECT_EQ(VerifySignature(generated.get(), signature, "other data").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(Pkcs11Test, PinFileMayEndWithCrLf) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  WritePin(absl::StrCat(kUserPin, "\r\n"));
  EXPECT_TRUE(Pkcs11SigningKey::Open(config_).ok());
}

TEST_F(Pkcs11Test, WrongPinIsPermissionDenied) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  WritePin("999999\n");
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kPermissionDenied) << key.status();
  EXPECT_THAT(key.status().message(), AllOf(HasSubstr("PIN"), HasSubstr("CKR_PIN_INCORRECT"),
                                            HasSubstr(kTokenLabel), Not(HasSubstr("999999"))));
}

TEST_F(Pkcs11Test, MissingPinFileNamesIt) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  config_.set_pin_file(absl::StrCat(directory_, "/absent.pin"));
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound) << key.status();
  EXPECT_THAT(key.status().message(), AllOf(HasSubstr("PIN file"), HasSubstr("absent.pin")));
}

TEST_F(Pkcs11Test, PinFromEnvironmentVariable) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr generated, GenerateEcKeyPairInToken(config_));
  UsePinFromEnvironment(kUserPin);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> key, Pkcs11SigningKey::Open(config_));
  ASSERT_OK_AND_ASSIGN(v1::Signature signature, key->Sign("signed with the PIN from env"));
  EXPECT_TRUE(VerifySignature(generated.get(), signature, "signed with the PIN from env").ok());
}

TEST_F(Pkcs11Test, WrongPinFromEnvironmentIsPermissionDenied) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  UsePinFromEnvironment("999999");
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kPermissionDenied) << key.status();
  EXPECT_THAT(key.status().message(),
              AllOf(HasSubstr("CKR_PIN_INCORRECT"), Not(HasSubstr("999999"))));
}

TEST_F(Pkcs11Test, UnsetPinVariableIsNotFoundNamingIt) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  config_.clear_pin_file();
  config_.set_pin_environment_variable(kPinVariable);
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound) << key.status();
  EXPECT_THAT(key.status().message(),
              AllOf(HasSubstr(kPinVariable), HasSubstr("pkcs11.pin_environment_variable")));
}

TEST_F(Pkcs11Test, BothPinSourcesAreInvalidArgumentNamingTheFields) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  ASSERT_EQ(setenv(kPinVariable, kUserPin, /*overwrite=*/1), 0);
  config_.set_pin_environment_variable(kPinVariable);
  for (const absl::Status& status :
       {ReadPin(config_).status(), Pkcs11SigningKey::Open(config_).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(status.message(),
                AllOf(HasSubstr("pkcs11.pin_file"), HasSubstr("pkcs11.pin_environment_variable"),
                      HasSubstr("both"), Not(HasSubstr(kUserPin))));
  }
}

TEST_F(Pkcs11Test, NeitherPinSourceIsInvalidArgumentNamingTheFields) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  config_.clear_pin_file();
  for (const absl::Status& status :
       {ReadPin(config_).status(), Pkcs11SigningKey::Open(config_).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(status.message(), AllOf(HasSubstr("neither"), HasSubstr("pkcs11.pin_file"),
                                        HasSubstr("pkcs11.pin_environment_variable")));
  }
}

TEST_F(Pkcs11Test, AbsentTokenLabelIsNotFound) {
  config_.set_token_label("no-such-token");
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound) << key.status();
  EXPECT_THAT(key.status().message(),
              AllOf(HasSubstr("no token with label 'no-such-token'"), HasSubstr(kTokenLabel)));
}

TEST_F(Pkcs11Test, MissingKeyLabelIsNotFound) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  config_.set_key_label("absent-key");
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound) << key.status();
  EXPECT_THAT(
      key.status().message(),
      HasSubstr(absl::StrCat("no private key labelled 'absent-key' in token '", kTokenLabel, "'")));
}

TEST_F(Pkcs11Test, EmptyTokenHasNoKey) {
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound) << key.status();
  EXPECT_THAT(key.status().message(), HasSubstr("no private key labelled 'va-key'"));
}

TEST_F(Pkcs11Test, AbsentModuleIsNotFoundNamingThePath) {
  const std::string path = absl::StrCat(directory_, "/no-such-module.so");
  config_.set_module_path(path);
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound) << key.status();
  EXPECT_THAT(key.status().message(), HasSubstr(path));
}

TEST_F(Pkcs11Test, FileThatIsNotALibraryIsFailedPreconditionNamingThePath) {
  const std::string path = absl::StrCat(directory_, "/not-a-library.so");
  ASSERT_OK(WriteFileAtomically(path, "this is not an ELF file\n"));
  config_.set_module_path(path);
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition) << key.status();
  EXPECT_THAT(key.status().message(), HasSubstr(path));
}

TEST_F(Pkcs11Test, LibraryWithoutCryptokiIsFailedPrecondition) {
  // The C library is a shared library but no PKCS#11 module.
  absl::StatusOr<std::unique_ptr<Pkcs11Module>> module = Pkcs11Module::Load("libc.so.6");
  ASSERT_FALSE(module.ok());
  EXPECT_EQ(module.status().code(), absl::StatusCode::kFailedPrecondition) << module.status();
  EXPECT_THAT(module.status().message(),
              AllOf(HasSubstr("libc.so.6"), HasSubstr("C_GetFunctionList")));
}

TEST_F(Pkcs11Test, EmptyConfigFieldIsInvalidArgument) {
  config_.clear_key_label();
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << key.status();
  EXPECT_THAT(key.status().message(), HasSubstr("key_label"));
}

TEST_F(Pkcs11Test, RsaPkcs1SignaturesVerify) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr generated, GenerateRsaKeyPairInToken(config_, 2048));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> key, Pkcs11SigningKey::Open(config_));
  EXPECT_EQ(key->algorithm(), v1::RSA_PKCS1_SHA256);
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr public_key, key->PublicKey());
  EXPECT_EQ(PublicKeyDer(public_key.get()), PublicKeyDer(generated.get()));

  const std::string data = "vouching data signed with RSA";
  ASSERT_OK_AND_ASSIGN(v1::Signature signature, key->Sign(data));
  EXPECT_EQ(signature.algorithm(), v1::RSA_PKCS1_SHA256);
  EXPECT_EQ(signature.value().size(), 256u);  // The modulus size (RFC 8017 §8.2.1).
  EXPECT_TRUE(VerifySignature(generated.get(), signature, data).ok());
  EXPECT_EQ(VerifySignature(generated.get(), signature, "other data").code(),
            absl::StatusCode::kInvalidArgument);
  // The padding is PKCS#1 v1.5: read as PSS the same bytes do not verify.
  v1::Signature as_pss = signature;
  as_pss.set_algorithm(v1::RSA_PSS_SHA256);
  EXPECT_EQ(VerifySignature(generated.get(), as_pss, data).code(),
            absl::StatusCode::kInvalidArgument);
  // RSASSA-PKCS1-v1_5 is deterministic.
  ASSERT_OK_AND_ASSIGN(v1::Signature again, key->Sign(data));
  EXPECT_EQ(again.value(), signature.value());
}

TEST_F(Pkcs11Test, RsaPssSignaturesVerify) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr generated, GenerateRsaKeyPairInToken(config_, 3072));
  config_.set_rsa_pss(true);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> key, Pkcs11SigningKey::Open(config_));
  EXPECT_EQ(key->algorithm(), v1::RSA_PSS_SHA256);

  const std::string data = "vouching data signed with RSASSA-PSS";
  ASSERT_OK_AND_ASSIGN(v1::Signature signature, key->Sign(data));
  EXPECT_EQ(signature.algorithm(), v1::RSA_PSS_SHA256);
  EXPECT_EQ(signature.value().size(), 384u);
  EXPECT_TRUE(VerifySignature(generated.get(), signature, data).ok());
  EXPECT_EQ(VerifySignature(generated.get(), signature, "other data").code(),
            absl::StatusCode::kInvalidArgument);
  v1::Signature as_pkcs1 = signature;
  as_pkcs1.set_algorithm(v1::RSA_PKCS1_SHA256);
  EXPECT_EQ(VerifySignature(generated.get(), as_pkcs1, data).code(),
            absl::StatusCode::kInvalidArgument);
  // A random 32-byte salt makes every PSS signature different (RFC 8017 §9.1.1).
  ASSERT_OK_AND_ASSIGN(v1::Signature again, key->Sign(data));
  EXPECT_NE(again.value(), signature.value());
  EXPECT_TRUE(VerifySignature(generated.get(), again, data).ok());
}

TEST_F(Pkcs11Test, RsaPssWithAnEcKeyIsFailedPrecondition) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  config_.set_rsa_pss(true);
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition) << key.status();
  EXPECT_THAT(key.status().message(), AllOf(HasSubstr("pkcs11.rsa_pss"), HasSubstr("EC P-256")));
}

TEST_F(Pkcs11Test, ShortRsaKeyIsFailedPrecondition) {
  CK_ULONG modulus_bits = 1024;
  unsigned char exponent[] = {0x01, 0x00, 0x01};
  GenerateOtherKeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN,
                       {{CKA_MODULUS_BITS, &modulus_bits, sizeof(modulus_bits)},
                        {CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)}});
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition) << key.status();
  EXPECT_THAT(key.status().message(),
              AllOf(HasSubstr("public key 'va-key'"), HasSubstr("RSA key of 1024 bits"),
                    HasSubstr("at least 2048")));
}

TEST_F(Pkcs11Test, GeneratingAShortRsaKeyIsInvalidArgument) {
  absl::StatusOr<EvpPkeyPtr> generated = GenerateRsaKeyPairInToken(config_, 1024);
  EXPECT_EQ(generated.status().code(), absl::StatusCode::kInvalidArgument) << generated.status();
}

TEST_F(Pkcs11Test, EdwardsKeyOtherThanEd25519IsFailedPreconditionNamingTheCurve) {
  std::string ec_params = kEd448EcParams;
  GenerateOtherKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN,
                       {{CKA_EC_PARAMS, ec_params.data(), ec_params.size()}});
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition) << key.status();
  EXPECT_THAT(key.status().message(), AllOf(HasSubstr("private key 'va-key'"),
                                            HasSubstr("not Ed25519"), HasSubstr("Ed448")));
}

TEST_F(Pkcs11Test, Ed25519SignaturesArePureEd25519OfTheMessage) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr generated, GenerateEd25519KeyPairInToken(config_));
  ASSERT_EQ(EVP_PKEY_get_id(generated.get()), EVP_PKEY_ED25519);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> key, Pkcs11SigningKey::Open(config_));
  EXPECT_EQ(key->algorithm(), v1::ED25519);
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr public_key, key->PublicKey());
  EXPECT_EQ(PublicKeyDer(public_key.get()), PublicKeyDer(generated.get()));

  const std::string data = "an ObservationBody, serialized";
  ASSERT_OK_AND_ASSIGN(v1::Signature signature, key->Sign(data));
  EXPECT_EQ(signature.algorithm(), v1::ED25519);
  EXPECT_EQ(signature.value().size(), 64u);  // R||S, RFC 8032 §5.1.6.
  // OpenSSL's one-shot Ed25519 verification (RFC 8032 §5.1.7) of the message itself: the token
  // neither hashed it first (Ed25519ph) nor added a context (Ed25519ctx).
  EvpMdCtxPtr verify(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit(verify.get(), nullptr, nullptr, nullptr, generated.get()), 1);
  EXPECT_EQ(EVP_DigestVerify(verify.get(),
                             reinterpret_cast<const unsigned char*>(signature.value().data()),
                             signature.value().size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()),
            1);
  EXPECT_EQ(VerifySignature(generated.get(), signature, "other data").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(Pkcs11Test, KeyOfAKindTheCallerDoesNotAcceptIsFailedPrecondition) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key =
      Pkcs11SigningKey::Open(config_, {v1::ED25519});
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition) << key.status();
  EXPECT_EQ(key.status().message(),
            "key 'va-key' in token 'mecai-test-token' is EC P-256 (ECDSA_P256_SHA256); this key "
            "must be ED25519");
  EXPECT_TRUE(Pkcs11SigningKey::Open(config_, {v1::ED25519, v1::ECDSA_P256_SHA256}).ok());
}

TEST_F(Pkcs11Test, RsaPssWithAnEd25519KeyIsFailedPrecondition) {
  ASSERT_OK(GenerateEd25519KeyPairInToken(config_).status());
  config_.set_rsa_pss(true);
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition) << key.status();
  EXPECT_THAT(key.status().message(), HasSubstr("is Ed25519; RSASSA-PSS needs an RSA key"));
}

TEST_F(Pkcs11Test, HalvesOfDifferentTypesAreRefused) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  v1::Pkcs11Config rsa = config_;
  rsa.set_key_label("rsa-key");
  ASSERT_OK(GenerateRsaKeyPairInToken(rsa, 2048).status());
  RelabelPublicKey(kKeyLabel, "retired-key");
  RelabelPublicKey("rsa-key", kKeyLabel);
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition) << key.status();
  EXPECT_THAT(key.status().message(),
              HasSubstr("is EC P-256 but the public key with that label is RSA"));
}

TEST_F(Pkcs11Test, RsaPrivateKeyMayOnlySign) {
  ASSERT_OK(GenerateRsaKeyPairInToken(config_, 2048).status());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Module> module,
                       Pkcs11Module::Load(config_.module_path()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Session> session,
                       OpenLoggedInSession(*module, config_, /*read_write=*/false));
  CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
  std::string label = kKeyLabel;
  ASSERT_OK_AND_ASSIGN(std::vector<CK_OBJECT_HANDLE> found,
                       session->FindObjects({{CKA_CLASS, &private_class, sizeof(private_class)},
                                             {CKA_LABEL, label.data(), label.size()}}));
  ASSERT_EQ(found.size(), 1u);
  ASSERT_OK_AND_ASSIGN(bool can_sign, session->GetBoolAttribute(found[0], CKA_SIGN));
  ASSERT_OK_AND_ASSIGN(bool can_decrypt, session->GetBoolAttribute(found[0], CKA_DECRYPT));
  ASSERT_OK_AND_ASSIGN(bool extractable, session->GetBoolAttribute(found[0], CKA_EXTRACTABLE));
  EXPECT_TRUE(can_sign);
  EXPECT_FALSE(can_decrypt);
  EXPECT_FALSE(extractable);
}

TEST_F(Pkcs11Test, P384KeyIsFailedPrecondition) {
  std::string ec_params = kP384EcParams;
  GenerateOtherKeyPair(CKM_EC_KEY_PAIR_GEN, {{CKA_EC_PARAMS, ec_params.data(), ec_params.size()}});
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition) << key.status();
  EXPECT_THAT(key.status().message(), AllOf(HasSubstr("not EC P-256"), HasSubstr("P-384")));
}

TEST_F(Pkcs11Test, HalvesOfDifferentPairsAreRefused) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  v1::Pkcs11Config other = config_;
  other.set_key_label("other-key");
  ASSERT_OK(GenerateEcKeyPairInToken(other).status());
  RelabelPublicKey(kKeyLabel, "retired-key");
  RelabelPublicKey("other-key", kKeyLabel);
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition) << key.status();
  EXPECT_THAT(key.status().message(), HasSubstr("not one key pair"));
}

TEST_F(Pkcs11Test, GeneratingTheSameLabelTwiceIsAlreadyExists) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  absl::StatusOr<EvpPkeyPtr> second = GenerateEcKeyPairInToken(config_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists) << second.status();
}

// Signs `per_thread` messages from each of `threads` threads at once; every status is OK when
// the signature verified with `public_key`.
std::vector<absl::Status> SignConcurrently(Pkcs11SigningKey& key, EVP_PKEY* public_key, int threads,
                                           int per_thread) {
  std::vector<std::vector<absl::Status>> results(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string data = absl::StrCat("thread ", t, " message ", i);
        absl::StatusOr<v1::Signature> signature = key.Sign(data);
        results[t].push_back(signature.ok() ? VerifySignature(public_key, *signature, data)
                                            : signature.status());
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  std::vector<absl::Status> all;
  for (const std::vector<absl::Status>& thread_results : results) {
    all.insert(all.end(), thread_results.begin(), thread_results.end());
  }
  return all;
}

TEST_F(Pkcs11Test, PoolSignsConcurrentlyWithAtMostPoolSizeSessions) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  config_.set_session_pool_size(4);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> key, Pkcs11SigningKey::Open(config_));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr public_key, key->PublicKey());
  EXPECT_EQ(key->SessionPoolSize(), 4u);
  const std::vector<absl::Status> results =
      SignConcurrently(*key, public_key.get(), /*threads=*/8, /*per_thread=*/20);
  ASSERT_EQ(results.size(), 160u);
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  EXPECT_LE(key->SessionsInUseHighWater(), 4u);
  // 8 threads contending for 160 signatures overlap in the token.
  EXPECT_GE(key->SessionsInUseHighWater(), 2u);
  EXPECT_EQ(key->SessionsInUse(), 0u);
}

TEST_F(Pkcs11Test, PoolOfOneSessionSerializesSignatures) {
  ASSERT_OK(GenerateRsaKeyPairInToken(config_, 2048).status());
  config_.set_session_pool_size(1);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> key, Pkcs11SigningKey::Open(config_));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr public_key, key->PublicKey());
  const std::vector<absl::Status> results =
      SignConcurrently(*key, public_key.get(), /*threads=*/4, /*per_thread=*/5);
  ASSERT_EQ(results.size(), 20u);
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(key->SessionsInUseHighWater(), 1u);
}

TEST_F(Pkcs11Test, PoolSizeDefaultsToFourAndIsBounded) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> key, Pkcs11SigningKey::Open(config_));
    EXPECT_EQ(key->SessionPoolSize(), kDefaultSessionPoolSize);
    EXPECT_EQ(kDefaultSessionPoolSize, 4u);
  }
  config_.set_session_pool_size(65);
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key = Pkcs11SigningKey::Open(config_);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << key.status();
  EXPECT_THAT(key.status().message(),
              AllOf(HasSubstr("pkcs11.session_pool_size"), HasSubstr("65"), HasSubstr("64")));
}

TEST_F(Pkcs11Test, SignRecoversWhenTheSessionIsClosedUnderneath) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> key, Pkcs11SigningKey::Open(config_));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr public_key, key->PublicKey());
  {
    // A second user of the same module in this process closes every session with the token,
    // which also logs the process out (PKCS#11 v2.40 §5.6 C_CloseAllSessions).
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Module> module,
                         Pkcs11Module::Load(config_.module_path()));
    ASSERT_OK_AND_ASSIGN(CK_SLOT_ID slot, module->FindSlotByTokenLabel(kTokenLabel));
    ASSERT_EQ(module->functions()->C_CloseAllSessions(slot), CKR_OK);
  }
  ASSERT_OK_AND_ASSIGN(v1::Signature signature, key->Sign("after the sessions were closed"));
  EXPECT_TRUE(VerifySignature(public_key.get(), signature, "after the sessions were closed").ok());
}

TEST_F(Pkcs11Test, EveryPooledSessionRecoversReadingThePinFromTheEnvironmentAgain) {
  ASSERT_OK(GenerateRsaKeyPairInToken(config_, 2048).status());
  UsePinFromEnvironment(kUserPin);
  config_.set_session_pool_size(3);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11SigningKey> key, Pkcs11SigningKey::Open(config_));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr public_key, key->PublicKey());
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Module> module,
                         Pkcs11Module::Load(config_.module_path()));
    ASSERT_OK_AND_ASSIGN(CK_SLOT_ID slot, module->FindSlotByTokenLabel(kTokenLabel));
    ASSERT_EQ(module->functions()->C_CloseAllSessions(slot), CKR_OK);
  }
  // Sessions are taken in turn, so these signatures meet every closed session of the pool.
  for (int i = 0; i < 6; ++i) {
    const std::string data = absl::StrCat("after the sessions were closed ", i);
    ASSERT_OK_AND_ASSIGN(v1::Signature signature, key->Sign(data));
    EXPECT_TRUE(VerifySignature(public_key.get(), signature, data).ok());
  }

  // A reopened session logs in with the variable's current value.
  ASSERT_EQ(setenv(kPinVariable, "999999", /*overwrite=*/1), 0);
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Module> module,
                         Pkcs11Module::Load(config_.module_path()));
    ASSERT_OK_AND_ASSIGN(CK_SLOT_ID slot, module->FindSlotByTokenLabel(kTokenLabel));
    ASSERT_EQ(module->functions()->C_CloseAllSessions(slot), CKR_OK);
  }
  absl::StatusOr<v1::Signature> refused = key->Sign("with a wrong PIN in the environment");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr("cannot reopen the session"), HasSubstr("CKR_PIN_INCORRECT"),
                    Not(HasSubstr("999999"))));
  ASSERT_EQ(setenv(kPinVariable, kUserPin, /*overwrite=*/1), 0);
  ASSERT_OK_AND_ASSIGN(v1::Signature signature, key->Sign("with the PIN restored"));
  EXPECT_TRUE(VerifySignature(public_key.get(), signature, "with the PIN restored").ok());
}

TEST_F(Pkcs11Test, PrivateKeyIsSensitiveAndNotExtractable) {
  ASSERT_OK(GenerateEcKeyPairInToken(config_).status());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Module> module,
                       Pkcs11Module::Load(config_.module_path()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Session> session,
                       OpenLoggedInSession(*module, config_, /*read_write=*/false));
  CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
  std::string label = kKeyLabel;
  ASSERT_OK_AND_ASSIGN(std::vector<CK_OBJECT_HANDLE> found,
                       session->FindObjects({{CKA_CLASS, &private_class, sizeof(private_class)},
                                             {CKA_LABEL, label.data(), label.size()}}));
  ASSERT_EQ(found.size(), 1u);
  const CK_OBJECT_HANDLE private_key = found[0];

  ASSERT_OK_AND_ASSIGN(bool sensitive, session->GetBoolAttribute(private_key, CKA_SENSITIVE));
  ASSERT_OK_AND_ASSIGN(bool extractable, session->GetBoolAttribute(private_key, CKA_EXTRACTABLE));
  ASSERT_OK_AND_ASSIGN(bool always_sensitive,
                       session->GetBoolAttribute(private_key, CKA_ALWAYS_SENSITIVE));
  ASSERT_OK_AND_ASSIGN(bool never_extractable,
                       session->GetBoolAttribute(private_key, CKA_NEVER_EXTRACTABLE));
  ASSERT_OK_AND_ASSIGN(bool is_token_object, session->GetBoolAttribute(private_key, CKA_TOKEN));
  EXPECT_TRUE(sensitive);
  EXPECT_FALSE(extractable);
  EXPECT_TRUE(always_sensitive);
  EXPECT_TRUE(never_extractable);
  EXPECT_TRUE(is_token_object);

  // The token refuses to reveal the private value (v2.40 §5.7: CKR_ATTRIBUTE_SENSITIVE).
  absl::StatusOr<std::string> value = session->GetAttribute(private_key, CKA_VALUE);
  ASSERT_FALSE(value.ok());
  EXPECT_THAT(value.status().message(), HasSubstr("CKR_ATTRIBUTE_SENSITIVE"));
}

TEST_F(Pkcs11Test, TokenLabelsAreComparedWithoutPadding) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Pkcs11Module> module,
                       Pkcs11Module::Load(config_.module_path()));
  EXPECT_TRUE(module->FindSlotByTokenLabel(kTokenLabel).ok());
  // A prefix of the label is another label.
  EXPECT_EQ(module->FindSlotByTokenLabel("mecai-test").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(module->FindSlotByTokenLabel(std::string(33, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Pkcs11ErrorTest, NamesAndCodes) {
  EXPECT_EQ(CkrName(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
  EXPECT_EQ(CkrName(CKR_PIN_LOCKED), "CKR_PIN_LOCKED");
  EXPECT_EQ(CkrName(CKR_TOKEN_NOT_PRESENT), "CKR_TOKEN_NOT_PRESENT");
  EXPECT_EQ(CkrName(0x7777), "CKR_0x7777");
  EXPECT_EQ(CkrName(CKR_VENDOR_DEFINED + 0x12), "CKR_VENDOR_DEFINED+0x12");

  EXPECT_EQ(Pkcs11Error("C_Login", CKR_PIN_LOCKED).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Pkcs11Error("C_Sign", CKR_DEVICE_REMOVED).code(), absl::StatusCode::kUnavailable);
  absl::Status internal = Pkcs11Error("C_Sign", CKR_DEVICE_ERROR);
  EXPECT_EQ(internal.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(internal.message(), "C_Sign: CKR_DEVICE_ERROR");
}

TEST(TrimPaddedLabelTest, RemovesBlankAndNulPadding) {
  unsigned char label[32];
  std::fill(std::begin(label), std::end(label), ' ');
  std::copy_n("va token", 8, label);
  EXPECT_EQ(TrimPaddedLabel(label, sizeof(label)), "va token");
  std::fill(std::begin(label) + 8, std::end(label), '\0');
  EXPECT_EQ(TrimPaddedLabel(label, sizeof(label)), "va token");
}

TEST(InitSoftHsmTokenTest, RejectsBadLabelsAndPins) {
  const char* test_tmpdir = getenv("TEST_TMPDIR");
  const std::string directory =
      absl::StrCat(test_tmpdir != nullptr ? test_tmpdir : "/tmp", "/rejected-token");
  EXPECT_EQ(InitSoftHsmToken(directory, std::string(33, 'x'), kUserPin, kSoPin).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InitSoftHsmToken(directory, kTokenLabel, "123", kSoPin).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mecai
