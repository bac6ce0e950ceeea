#include "common/pkcs11/pkcs11_key.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"
#include "common/pkcs11/pkcs11_login.h"
#include "common/pkcs11/pkcs11_pin.h"
#include "common/pkcs11/pkcs11_public_key.h"

namespace mecai {
namespace {

// Memory a PKCS#11 module allocates inside a call is the module's own: LeakSanitizer
// (--config=asan) does not report it (SoftHSM 2.6.1 leaks an ASN1 string of the key's
// parameters on every CKM_EDDSA signature). Per thread; no effect in other builds.
class ModuleOwnedAllocations {
 public:
  ModuleOwnedAllocations() {
#if defined(__SANITIZE_ADDRESS__)
    __lsan_disable();
#endif
  }
  ~ModuleOwnedAllocations() {
#if defined(__SANITIZE_ADDRESS__)
    __lsan_enable();
#endif
  }
  ModuleOwnedAllocations(const ModuleOwnedAllocations&) = delete;
  ModuleOwnedAllocations& operator=(const ModuleOwnedAllocations&) = delete;
};

// Signed and verified once at Open(), to prove the two key objects are halves of one pair.
constexpr absl::string_view kSelfTestMessage = "MECAI signer PKCS#11 key pair self-test";

// A P-256 signature from CKM_ECDSA is r||s, 32 bytes each (v2.40 Current Mechanisms §2.3.1); the
// buffer is sized for the largest curve so another key yields a clear error, not a short buffer.
constexpr size_t kMaxRawEcdsaSignatureBytes = 132;

// RSA_PSS_SHA256 (common.proto; RFC 8017 §8.1): the salt is as long as the SHA-256 output.
constexpr CK_ULONG kPssSaltBytes = 32;

// An Ed25519 signature is 64 bytes (RFC 8032 §5.1.6); CKM_EDDSA returns it as is.
constexpr size_t kEd25519SignatureBytes = 64;

enum class KeyKind { kEcP256, kRsa, kEd25519 };

std::string KeyKindName(KeyKind kind) {
  switch (kind) {
    case KeyKind::kEcP256:
      return "EC P-256";
    case KeyKind::kEd25519:
      return "Ed25519";
    default:
      return "RSA";
  }
}

std::string MechanismName(CK_MECHANISM_TYPE mechanism) {
  switch (mechanism) {
    case CKM_ECDSA:
      return "CKM_ECDSA";
    case CKM_SHA256_RSA_PKCS:
      return "CKM_SHA256_RSA_PKCS";
    case CKM_SHA256_RSA_PKCS_PSS:
      return "CKM_SHA256_RSA_PKCS_PSS";
    case CKM_EDDSA:
      return "CKM_EDDSA";
    default:
      return absl::StrCat("CKM_0x", absl::Hex(mechanism));
  }
}

// The Cryptoki mechanism that makes `algorithm`'s signatures: CKM_ECDSA signs a digest made here
// (v2.40 Current Mechanisms §2.3.6); the RSA mechanisms hash in the token (§2.1.10, §2.1.15);
// CKM_EDDSA without parameters is pure Ed25519 of the message (v3.0 Current Mechanisms §2.3.14,
// RFC 8032 §5.1.6).
CK_MECHANISM_TYPE MechanismFor(v1::SignatureAlgorithm algorithm) {
  switch (algorithm) {
    case v1::ED25519:
      return CKM_EDDSA;
    case v1::RSA_PKCS1_SHA256:
      return CKM_SHA256_RSA_PKCS;
    case v1::RSA_PSS_SHA256:
      return CKM_SHA256_RSA_PKCS_PSS;
    default:
      return CKM_ECDSA;
  }
}

std::string KeyTypeName(CK_ULONG key_type) {
  switch (key_type) {
    case CKK_RSA:
      return "CKK_RSA";
    case CKK_DSA:
      return "CKK_DSA";
    case CKK_DH:
      return "CKK_DH";
    case CKK_EC:
      return "CKK_EC";
    case CKK_EC_EDWARDS:
      return "CKK_EC_EDWARDS";
    default:
      return absl::StrCat("0x", absl::Hex(key_type));
  }
}

// "key '<key label>' in token '<token label>'".
std::string KeyDescription(const v1::Pkcs11Config& config) {
  return absl::StrCat("key '", config.key_label(), "' in token '", config.token_label(), "'");
}

// "private key '<key label>' in token '<token label>'", or "public key ...".
std::string KeyObjectDescription(CK_OBJECT_CLASS object_class, const v1::Pkcs11Config& config) {
  return absl::StrCat(object_class == CKO_PRIVATE_KEY ? "private " : "public ",
                      KeyDescription(config));
}

// "labelled '<key label>' in token '<token label>'": every key object with that label.
std::string LabelledInToken(const v1::Pkcs11Config& config) {
  return absl::StrCat("labelled '", config.key_label(), "' in token '", config.token_label(), "'");
}

// The one key object of `object_class` labelled config.key_label().
absl::StatusOr<CK_OBJECT_HANDLE> FindKeyByLabel(Pkcs11Session& session,
                                                CK_OBJECT_CLASS object_class,
                                                const v1::Pkcs11Config& config) {
  std::string label = config.key_label();
  std::vector<CK_ATTRIBUTE> match = {
      {CKA_CLASS, &object_class, sizeof(object_class)},
      {CKA_LABEL, label.data(), label.size()},
  };
  const std::string what = absl::StrCat(
      object_class == CKO_PRIVATE_KEY ? "private key " : "public key ", LabelledInToken(config));
  ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> found, session.FindObjects(std::move(match)));
  if (found.empty()) return absl::NotFoundError(absl::StrCat("no ", what));
  if (found.size() > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("more than one ", what, " (", found.size(), "); key labels must be unique"));
  }
  return found.front();
}

// The kind of `key`: EC on P-256, RSA, or Ed25519 (CKA_KEY_TYPE, CKA_EC_PARAMS).
// FAILED_PRECONDITION for any other type or curve, naming it. An RSA key's size is checked on its
// public half.
absl::StatusOr<KeyKind> CheckKeyKind(Pkcs11Session& session, CK_OBJECT_HANDLE key,
                                     CK_OBJECT_CLASS object_class, const v1::Pkcs11Config& config) {
  const std::string what = KeyObjectDescription(object_class, config);
  ASSIGN_OR_RETURN(CK_ULONG key_type, session.GetUlongAttribute(key, CKA_KEY_TYPE));
  if (key_type == CKK_RSA) return KeyKind::kRsa;
  if (key_type != CKK_EC && key_type != CKK_EC_EDWARDS) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " is not EC P-256, RSA or Ed25519 (CKA_KEY_TYPE is ", KeyTypeName(key_type), ")"));
  }
  absl::StatusOr<std::string> ec_params = session.GetAttribute(key, CKA_EC_PARAMS);
  if (!ec_params.ok()) return Annotate(ec_params.status(), what);
  if (key_type == CKK_EC_EDWARDS) {
    if (!IsEd25519EcParams(*ec_params)) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, " is an Edwards key but not Ed25519 (curve ", EcParamsCurveName(*ec_params), ")"));
    }
    return KeyKind::kEd25519;
  }
  if (*ec_params != kP256EcParams) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " is not EC P-256 (curve ", EcParamsCurveName(*ec_params), ")"));
  }
  return KeyKind::kEcP256;
}

// FAILED_PRECONDITION when the token of `session` does not offer `mechanism` for signing (v2.40
// §5.5 C_GetMechanismInfo, CKF_SIGN). A module that cannot answer is left to the test signature.
absl::Status CheckSignMechanism(Pkcs11Session& session, CK_MECHANISM_TYPE mechanism,
                                const v1::Pkcs11Config& config) {
  CK_FUNCTION_LIST* functions = session.functions();
  CK_SESSION_INFO session_info;
  CK_RV rv = functions->C_GetSessionInfo(session.handle(), &session_info);
  if (rv != CKR_OK) return Pkcs11Error("C_GetSessionInfo", rv);
  CK_MECHANISM_INFO mechanism_info;
  rv = functions->C_GetMechanismInfo(session_info.slotID, mechanism, &mechanism_info);
  const std::string token = absl::StrCat("token '", config.token_label(), "'");
  if (rv == CKR_MECHANISM_INVALID) {
    return absl::FailedPreconditionError(absl::StrCat(
        token, " does not offer ", MechanismName(mechanism), " (CKR_MECHANISM_INVALID)"));
  }
  if (rv == CKR_OK && !(mechanism_info.flags & CKF_SIGN)) {
    return absl::FailedPreconditionError(
        absl::StrCat(token, " cannot sign with ", MechanismName(mechanism), " (no CKF_SIGN)"));
  }
  return absl::OkStatus();
}

// A VA key should never be able to leave the token (v2.40 §4.9: CKA_SENSITIVE, CKA_EXTRACTABLE).
// Keys imported by an operator may not be; say so, without refusing them.
void WarnIfExportable(Pkcs11Session& session, CK_OBJECT_HANDLE private_key,
                      const std::string& description) {
  absl::StatusOr<bool> sensitive = session.GetBoolAttribute(private_key, CKA_SENSITIVE);
  absl::StatusOr<bool> extractable = session.GetBoolAttribute(private_key, CKA_EXTRACTABLE);
  if ((sensitive.ok() && !*sensitive) || (extractable.ok() && *extractable)) {
    MECAI_LOG(Warning) << "private " << description
                       << " can leave the token (CKA_SENSITIVE false or CKA_EXTRACTABLE true); "
                          "generate VA keys inside the token, sensitive and not extractable";
  }
}

bool IsSessionLost(CK_RV rv) {
  switch (rv) {
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
      return true;
    default:
      return false;
  }
}

// The fields of `config` Open() needs, checked before anything is loaded (the service configs
// check them too; a key may also be opened from a config built in code). Returns the pool size.
absl::StatusOr<size_t> CheckConfigFields(const v1::Pkcs11Config& config) {
  const std::pair<const char*, const std::string*> required[] = {
      {"module_path", &config.module_path()},
      {"token_label", &config.token_label()},
      {"key_label", &config.key_label()},
  };
  for (const auto& [field, value] : required) {
    if (value->empty()) {
      return absl::InvalidArgumentError(absl::StrCat("pkcs11.", field, " is empty"));
    }
  }
  if (config.pin_file().empty() == config.pin_environment_variable().empty()) {
    return ReadPin(config).status();  // INVALID_ARGUMENT naming both fields; nothing is read.
  }
  if (config.session_pool_size() > kMaximumSessionPoolSize) {
    return absl::InvalidArgumentError(absl::StrCat("pkcs11.session_pool_size is ",
                                                   config.session_pool_size(), "; at most ",
                                                   kMaximumSessionPoolSize, " are allowed"));
  }
  return config.session_pool_size() == 0 ? kDefaultSessionPoolSize : config.session_pool_size();
}

// The private and the public key object labelled config.key_label(), of one kind.
struct KeyPairObjects {
  CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
  KeyKind kind = KeyKind::kEcP256;
};

// Finds both halves, checks that each is of a kind this key signs with, that they are of the same
// kind and that the private one may sign (CKA_SIGN).
absl::StatusOr<KeyPairObjects> FindKeyPair(Pkcs11Session& session, const v1::Pkcs11Config& config) {
  KeyPairObjects pair;
  ASSIGN_OR_RETURN(pair.private_key, FindKeyByLabel(session, CKO_PRIVATE_KEY, config));
  ASSIGN_OR_RETURN(pair.kind, CheckKeyKind(session, pair.private_key, CKO_PRIVATE_KEY, config));
  ASSIGN_OR_RETURN(bool can_sign, session.GetBoolAttribute(pair.private_key, CKA_SIGN));
  if (!can_sign) {
    return absl::FailedPreconditionError(absl::StrCat(KeyObjectDescription(CKO_PRIVATE_KEY, config),
                                                      " may not sign (CKA_SIGN is false)"));
  }
  ASSIGN_OR_RETURN(pair.public_key, FindKeyByLabel(session, CKO_PUBLIC_KEY, config));
  ASSIGN_OR_RETURN(KeyKind public_kind,
                   CheckKeyKind(session, pair.public_key, CKO_PUBLIC_KEY, config));
  if (public_kind != pair.kind) {
    return absl::FailedPreconditionError(
        absl::StrCat("the private key ", LabelledInToken(config), " is ", KeyKindName(pair.kind),
                     " but the public key with that label is ", KeyKindName(public_kind)));
  }
  return pair;
}

// The public key of a pair and the algorithm its signatures will have.
struct PublicHalf {
  EvpPkeyPtr key;
  v1::SignatureAlgorithm algorithm = v1::ECDSA_P256_SHA256;
};

// Builds the public key from the public object's attributes (common/pkcs11/pkcs11_public_key.h) and
// chooses the algorithm: config.rsa_pss() applies to RSA keys only.
absl::StatusOr<PublicHalf> ReadPublicHalf(Pkcs11Session& session, const KeyPairObjects& pair,
                                          const v1::Pkcs11Config& config) {
  if (pair.kind != KeyKind::kRsa && config.rsa_pss()) {
    return absl::FailedPreconditionError(
        absl::StrCat("pkcs11.rsa_pss is set but ", KeyDescription(config), " is ",
                     KeyKindName(pair.kind), "; RSASSA-PSS needs an RSA key"));
  }
  PublicHalf half;
  absl::StatusOr<EvpPkeyPtr> key;
  if (pair.kind != KeyKind::kRsa) {
    ASSIGN_OR_RETURN(std::string ec_params, session.GetAttribute(pair.public_key, CKA_EC_PARAMS));
    ASSIGN_OR_RETURN(std::string ec_point, session.GetAttribute(pair.public_key, CKA_EC_POINT));
    if (pair.kind == KeyKind::kEcP256) {
      key = P256PublicKeyFromAttributes(ec_params, ec_point);
      half.algorithm = v1::ECDSA_P256_SHA256;
    } else {
      key = Ed25519PublicKeyFromAttributes(ec_params, ec_point);
      half.algorithm = v1::ED25519;
    }
  } else {
    ASSIGN_OR_RETURN(std::string modulus, session.GetAttribute(pair.public_key, CKA_MODULUS));
    ASSIGN_OR_RETURN(std::string exponent,
                     session.GetAttribute(pair.public_key, CKA_PUBLIC_EXPONENT));
    key = RsaPublicKeyFromAttributes(modulus, exponent);
    half.algorithm = config.rsa_pss() ? v1::RSA_PSS_SHA256 : v1::RSA_PKCS1_SHA256;
  }
  if (!key.ok()) return Annotate(key.status(), KeyObjectDescription(CKO_PUBLIC_KEY, config));
  half.key = std::move(key).value();
  return half;
}

// FAILED_PRECONDITION when `accepted` is not empty and does not list `algorithm`.
absl::Status CheckAccepted(KeyKind kind, v1::SignatureAlgorithm algorithm,
                           const std::vector<v1::SignatureAlgorithm>& accepted,
                           const v1::Pkcs11Config& config) {
  if (accepted.empty() ||
      std::find(accepted.begin(), accepted.end(), algorithm) != accepted.end()) {
    return absl::OkStatus();
  }
  std::vector<std::string> names;
  for (v1::SignatureAlgorithm name : accepted) names.push_back(v1::SignatureAlgorithm_Name(name));
  return absl::FailedPreconditionError(
      absl::StrCat(KeyDescription(config), " is ", KeyKindName(kind), " (",
                   v1::SignatureAlgorithm_Name(algorithm), "); this key must be ",
                   absl::StrJoin(names, " or ")));
}

// Large enough for any signature of the key. An RSA signature is as long as the modulus (RFC 8017
// §8.1.1, §8.2.1).
size_t SignatureBufferBytes(KeyKind kind, EVP_PKEY* public_key) {
  switch (kind) {
    case KeyKind::kRsa:
      return static_cast<size_t>(EVP_PKEY_get_size(public_key));
    case KeyKind::kEd25519:
      return kEd25519SignatureBytes;
    default:
      return kMaxRawEcdsaSignatureBytes;
  }
}

// The sessions of the pool: `first`, in which `private_key` was found, and pool_size - 1 more.
absl::StatusOr<std::vector<Pkcs11PooledSession>> OpenPoolSessions(
    const Pkcs11Module& module, const v1::Pkcs11Config& config,
    std::unique_ptr<Pkcs11Session> first, CK_OBJECT_HANDLE private_key, size_t pool_size) {
  std::vector<Pkcs11PooledSession> sessions;
  sessions.push_back(Pkcs11PooledSession{std::move(first), private_key});
  while (sessions.size() < pool_size) {
    // Login state belongs to the application (v2.40 §5.6), so these sessions share the first
    // one's login; OpenLoggedInSession still logs in, which then returns at once.
    const std::string opening =
        absl::StrCat("opening session ", sessions.size() + 1, " of ", pool_size,
                     " (pkcs11.session_pool_size) with ", KeyDescription(config));
    absl::StatusOr<std::unique_ptr<Pkcs11Session>> extra =
        OpenLoggedInSession(module, config, /*read_write=*/false);
    if (!extra.ok()) return Annotate(extra.status(), opening);
    absl::StatusOr<CK_OBJECT_HANDLE> extra_key = FindKeyByLabel(**extra, CKO_PRIVATE_KEY, config);
    if (!extra_key.ok()) return Annotate(extra_key.status(), opening);
    sessions.push_back(Pkcs11PooledSession{std::move(extra).value(), *extra_key});
  }
  return sessions;
}

// The line an operator checks at start: which key, which mechanism, which module.
void LogOpened(KeyKind kind, EVP_PKEY* public_key, v1::SignatureAlgorithm algorithm,
               const v1::Pkcs11Config& config, size_t pool_size) {
  MECAI_LOG(Info) << "signing with " << KeyKindName(kind) << " "
                  << (kind == KeyKind::kRsa ? absl::StrCat(EVP_PKEY_get_bits(public_key), "-bit ")
                                            : std::string())
                  << KeyDescription(config) << " (" << v1::SignatureAlgorithm_Name(algorithm)
                  << ", " << MechanismName(MechanismFor(algorithm)) << ") of PKCS#11 module "
                  << config.module_path() << " through " << pool_size
                  << " sessions; public key SHA-256 "
                  << ShortHex(Sha256(PublicKeyToDer(public_key)));
}

}  // namespace

Pkcs11SigningKey::Pkcs11SigningKey(const v1::Pkcs11Config& config,
                                   std::unique_ptr<Pkcs11Module> module, EvpPkeyPtr public_key,
                                   v1::SignatureAlgorithm algorithm, size_t signature_buffer_bytes,
                                   std::vector<Pkcs11PooledSession> sessions)
    : config_(config),
      module_(std::move(module)),
      public_key_(std::move(public_key)),
      algorithm_(algorithm),
      signature_buffer_bytes_(signature_buffer_bytes),
      sessions_(std::move(sessions)) {}

Pkcs11SigningKey::~Pkcs11SigningKey() = default;

absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> Pkcs11SigningKey::Open(
    const v1::Pkcs11Config& config, std::vector<v1::SignatureAlgorithm> accepted) {
  ASSIGN_OR_RETURN(const size_t pool_size, CheckConfigFields(config));
  ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Module> module, Pkcs11Module::Load(config.module_path()));
  ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Session> session,
                   OpenLoggedInSession(*module, config, /*read_write=*/false));
  ASSIGN_OR_RETURN(const KeyPairObjects pair, FindKeyPair(*session, config));
  ASSIGN_OR_RETURN(PublicHalf public_half, ReadPublicHalf(*session, pair, config));
  RETURN_IF_ERROR(CheckAccepted(pair.kind, public_half.algorithm, accepted, config));
  const size_t signature_buffer_bytes = SignatureBufferBytes(pair.kind, public_half.key.get());
  RETURN_IF_ERROR(CheckSignMechanism(*session, MechanismFor(public_half.algorithm), config));
  WarnIfExportable(*session, pair.private_key, KeyDescription(config));
  ASSIGN_OR_RETURN(
      std::vector<Pkcs11PooledSession> sessions,
      OpenPoolSessions(*module, config, std::move(session), pair.private_key, pool_size));

  std::unique_ptr<Pkcs11SigningKey> key(
      new Pkcs11SigningKey(config, std::move(module), std::move(public_half.key),
                           public_half.algorithm, signature_buffer_bytes, std::move(sessions)));
  RETURN_IF_ERROR(key->SelfTest());
  LogOpened(pair.kind, key->public_key_.get(), key->algorithm_, config, pool_size);
  return key;
}

absl::Status Pkcs11SigningKey::SelfTest() {
  ASSIGN_OR_RETURN(v1::Signature self_test, SignUnverified(kSelfTestMessage));
  if (!VerifySignature(public_key_.get(), self_test, kSelfTestMessage).ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the private and public key ", LabelledInToken(config_),
                     " are not one key pair (a test signature failed)"));
  }
  return absl::OkStatus();
}

std::string Pkcs11SigningKey::Description() const { return KeyDescription(config_); }

absl::StatusOr<EvpPkeyPtr> Pkcs11SigningKey::PublicKey() const {
  if (EVP_PKEY_up_ref(public_key_.get()) != 1) return OpenSslError("EVP_PKEY_up_ref");
  return EvpPkeyPtr(public_key_.get());
}

absl::StatusOr<v1::Signature> Pkcs11SigningKey::Sign(absl::string_view data) {
  ASSIGN_OR_RETURN(v1::Signature signature, SignUnverified(data));
  // Checked after the session went back to the pool: verification needs only the public key.
  if (!VerifySignature(public_key_.get(), signature, data).ok()) {
    return absl::InternalError(absl::StrCat("the token's signature with ", Description(),
                                            " does not verify with its public key"));
  }
  return signature;
}

absl::StatusOr<v1::Signature> Pkcs11SigningKey::SignUnverified(absl::string_view data) {
  const bool ecdsa = algorithm_ == v1::ECDSA_P256_SHA256;
  // CKM_ECDSA signs a digest made here; the RSA mechanisms hash the data in the token, and
  // CKM_EDDSA (pure Ed25519) takes the whole message.
  const std::string digest = ecdsa ? Sha256(data) : std::string();
  const absl::string_view input = ecdsa ? absl::string_view(digest) : data;
  std::string raw;
  {
    Pkcs11SessionPool::Lease lease = sessions_.Acquire();
    Pkcs11PooledSession& pooled = *lease;
    CK_RV rv = SignWithSession(pooled, input, &raw);
    if (IsSessionLost(rv)) {
      MECAI_LOG(Warning) << "PKCS#11 session for " << Description() << " lost (" << CkrName(rv)
                         << "); opening a new one";
      RETURN_IF_ERROR(Annotate(Reconnect(pooled), absl::StrCat("signing with ", Description(),
                                                               ": cannot reopen the session")));
      rv = SignWithSession(pooled, input, &raw);
    }
    if (rv != CKR_OK) return Pkcs11Error(absl::StrCat("signing with ", Description()), rv);
  }
  v1::Signature signature;
  signature.set_algorithm(algorithm_);
  if (ecdsa) {
    ASSIGN_OR_RETURN(std::string der, EcdsaRawToDer(raw));
    signature.set_value(std::move(der));
  } else {
    // RSASSA signatures are the same bytes in PKCS#11 and in RFC 8017 §8, and CKM_EDDSA's are
    // RFC 8032 §5.1.6's R||S.
    signature.set_value(std::move(raw));
  }
  return signature;
}

CK_RV Pkcs11SigningKey::SignWithSession(Pkcs11PooledSession& pooled, absl::string_view input,
                                        std::string* raw) const {
  if (pooled.session == nullptr) return CKR_SESSION_HANDLE_INVALID;  // A reconnection failed.
  CK_FUNCTION_LIST* functions = pooled.session->functions();
  const CK_SESSION_HANDLE handle = pooled.session->handle();
  // v2.40 Current Mechanisms §2.1.15: the hash, the mask generation function and the salt length
  // of RSASSA-PSS; RSA_PSS_SHA256 fixes them to SHA-256, MGF1-SHA-256 and 32 bytes.
  CK_RSA_PKCS_PSS_PARAMS pss_params = {CKM_SHA256, CKG_MGF1_SHA256, kPssSaltBytes};
  CK_MECHANISM mechanism = {MechanismFor(algorithm_), nullptr, 0};
  if (algorithm_ == v1::RSA_PSS_SHA256) {
    mechanism.pParameter = &pss_params;
    mechanism.ulParameterLen = sizeof(pss_params);
  }
  std::string buffer(signature_buffer_bytes_, '\0');
  const ModuleOwnedAllocations module_call;
  CK_RV rv = functions->C_SignInit(handle, &mechanism, pooled.private_key);
  if (rv != CKR_OK) return rv;
  CK_ULONG length = buffer.size();
  auto* input_bytes = reinterpret_cast<unsigned char*>(const_cast<char*>(input.data()));
  // v2.40 §5.11: C_Sign ends the operation whatever it returns, except CKR_BUFFER_TOO_SMALL, after
  // which `length` holds the size needed and the operation is still active (§5.2).
  rv = functions->C_Sign(handle, input_bytes, input.size(),
                         reinterpret_cast<unsigned char*>(buffer.data()), &length);
  if (rv == CKR_BUFFER_TOO_SMALL) {
    buffer.resize(length);
    rv = functions->C_Sign(handle, input_bytes, input.size(),
                           reinterpret_cast<unsigned char*>(buffer.data()), &length);
  }
  if (rv != CKR_OK) return rv;
  buffer.resize(length);
  *raw = std::move(buffer);
  return CKR_OK;
}

absl::Status Pkcs11SigningKey::Reconnect(Pkcs11PooledSession& pooled) const {
  pooled.session.reset();
  pooled.private_key = CK_INVALID_HANDLE;
  ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Session> session,
                   OpenLoggedInSession(*module_, config_, /*read_write=*/false));
  ASSIGN_OR_RETURN(CK_OBJECT_HANDLE private_key,
                   FindKeyByLabel(*session, CKO_PRIVATE_KEY, config_));
  pooled.session = std::move(session);
  pooled.private_key = private_key;
  MECAI_LOG(Info) << "PKCS#11 session for " << Description() << " reopened";
  return absl::OkStatus();
}

}  // namespace mecai
