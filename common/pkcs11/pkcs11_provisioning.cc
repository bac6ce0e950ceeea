#include "common/pkcs11/pkcs11_provisioning.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"
#include "common/pkcs11/pkcs11_login.h"
#include "common/pkcs11/pkcs11_module.h"
#include "common/pkcs11/pkcs11_public_key.h"

extern char** environ;

namespace mecai {
namespace {

// SoftHSM2 accepts user and SO PINs of 4 to 255 bytes.
constexpr size_t kMinimumPinBytes = 4;
constexpr size_t kMaximumPinBytes = 255;
// The part of a failing tool's output quoted in an error.
constexpr size_t kMaximumQuotedOutputBytes = 4096;

absl::Status ErrnoError(absl::string_view what, const std::string& path, int error) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(error));
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  if (error == ENOENT) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

// mkdir -p with `mode` for the directories it creates.
absl::Status MakeDirectories(const std::string& path, mode_t mode) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (!prefix.empty() && mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoError("cannot create directory", prefix, errno);
    }
    if (slash == std::string::npos) break;
  }
  struct stat status;
  if (stat(path.c_str(), &status) != 0) return ErrnoError("cannot stat", path, errno);
  if (!S_ISDIR(status.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a directory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> AbsolutePath(const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  char buffer[4096];
  if (getcwd(buffer, sizeof(buffer)) == nullptr) {
    return absl::InternalError(absl::StrCat("getcwd: ", std::strerror(errno)));
  }
  return path.empty() ? std::string(buffer) : absl::StrCat(buffer, "/", path);
}

struct CommandResult {
  int exit_code;       // -1 when killed by a signal.
  std::string output;  // stdout and stderr, interleaved.
};

// Runs `arguments` (arguments[0] searched on PATH) with this process's environment, stdin from
// /dev/null, and waits for it. posix_spawn is fork+exec safe to use from a threaded process.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& arguments) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);

  std::vector<char*> argv;
  for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int spawn_error = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawn_error != 0) {
    close(pipe_fds[0]);
    std::string message =
        absl::StrCat("cannot run ", arguments[0], ": ", std::strerror(spawn_error));
    if (spawn_error == ENOENT) {
      return absl::NotFoundError(absl::StrCat(message, " (is it installed and on PATH?)"));
    }
    return absl::InternalError(message);
  }

  CommandResult result{-1, ""};
  char buffer[4096];
  while (true) {
    ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("waitpid ", arguments[0], ": ", std::strerror(errno)));
    }
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

absl::Status CheckPinLength(const std::string& pin, absl::string_view which) {
  if (pin.size() < kMinimumPinBytes || pin.size() > kMaximumPinBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the ", which, " must have ", kMinimumPinBytes,
                                                   " to ", kMaximumPinBytes, " bytes"));
  }
  return absl::OkStatus();
}

CK_ATTRIBUTE BoolAttribute(CK_ATTRIBUTE_TYPE type, const CK_BBOOL& value) {
  return {type, const_cast<CK_BBOOL*>(&value), sizeof(value)};
}

}  // namespace

std::string SoftHsmConfigPath(const std::string& directory) {
  return absl::StrCat(directory, "/softhsm2.conf");
}

absl::Status InitSoftHsmToken(const std::string& directory, const std::string& token_label,
                              const std::string& user_pin, const std::string& so_pin) {
  if (token_label.empty() || token_label.size() > sizeof(CK_TOKEN_INFO::label)) {
    return absl::InvalidArgumentError(
        absl::StrCat("token label '", token_label, "' must have 1 to 32 bytes"));
  }
  RETURN_IF_ERROR(CheckPinLength(user_pin, "user PIN"));
  RETURN_IF_ERROR(CheckPinLength(so_pin, "security officer PIN"));
  ASSIGN_OR_RETURN(std::string root, AbsolutePath(directory));
  const std::string token_directory = absl::StrCat(root, "/tokens");
  RETURN_IF_ERROR(MakeDirectories(token_directory, 0700));

  const std::string config_path = SoftHsmConfigPath(root);
  RETURN_IF_ERROR(WriteFileAtomically(config_path,
                                      absl::StrCat("# Written by mecai InitSoftHsmToken.\n"
                                                   "directories.tokendir = ",
                                                   token_directory,
                                                   "\n"
                                                   "objectstore.backend = file\n"
                                                   "log.level = ERROR\n"
                                                   "slots.removable = false\n"),
                                      0600));
  if (setenv("SOFTHSM2_CONF", config_path.c_str(), /*overwrite=*/1) != 0) {
    return absl::InternalError(absl::StrCat("setenv SOFTHSM2_CONF: ", std::strerror(errno)));
  }

  ASSIGN_OR_RETURN(CommandResult result,
                   RunCommand({"softhsm2-util", "--init-token", "--free", "--label", token_label,
                               "--pin", user_pin, "--so-pin", so_pin}));
  if (result.exit_code != 0) {
    if (result.output.size() > kMaximumQuotedOutputBytes) {
      result.output.resize(kMaximumQuotedOutputBytes);
    }
    return absl::InternalError(absl::StrCat("softhsm2-util --init-token --label ", token_label,
                                            " (SOFTHSM2_CONF=", config_path, ") failed with ",
                                            result.exit_code < 0
                                                ? std::string("a signal")
                                                : absl::StrCat("exit code ", result.exit_code),
                                            ": ", result.output));
  }
  MECAI_LOG(Info) << "SoftHSM2 token '" << token_label << "' initialized in " << token_directory;
  return absl::OkStatus();
}

namespace {

// The largest RSA modulus GenerateRsaKeyPairInToken makes; beyond it key generation takes minutes.
constexpr size_t kMaximumRsaModulusBits = 8192;

// What differs between the EC and the RSA key pair: the mechanism and the type's attributes.
struct KeyPairSpecification {
  std::string name;  // "EC P-256", "RSA-3072": for messages.
  CK_KEY_TYPE key_type;
  CK_MECHANISM_TYPE mechanism;
  std::vector<CK_ATTRIBUTE> public_attributes;   // Points into storage the caller keeps alive.
  std::vector<CK_ATTRIBUTE> private_attributes;  // Likewise.
};

// Generates the pair in the token of `config`, both halves labelled config.key_label() with one
// random CKA_ID, and returns the handle of the public half in `*public_key` and the session.
absl::StatusOr<std::unique_ptr<Pkcs11Session>> GenerateKeyPair(
    const Pkcs11Module& module, const v1::Pkcs11Config& config,
    const KeyPairSpecification& specification, CK_OBJECT_HANDLE* public_key) {
  ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Session> session,
                   OpenLoggedInSession(module, config, /*read_write=*/true));

  std::string label = config.key_label();
  CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
  ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> existing,
                   session->FindObjects({{CKA_CLASS, &private_class, sizeof(private_class)},
                                         {CKA_LABEL, label.data(), label.size()}}));
  if (!existing.empty()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "token '", config.token_label(), "' already holds a private key labelled '", label, "'"));
  }

  // CKA_ID ties the two halves together for tools that pair keys by id (v2.40 §4.7).
  unsigned char id[16];
  ClearOpenSslErrors();
  if (RAND_bytes(id, sizeof(id)) != 1) return OpenSslError("RAND_bytes for CKA_ID");

  static const CK_BBOOL kTrue = CK_TRUE;
  static const CK_BBOOL kFalse = CK_FALSE;
  CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY;
  CK_KEY_TYPE key_type = specification.key_type;
  std::vector<CK_ATTRIBUTE> public_template = {
      {CKA_CLASS, &public_class, sizeof(public_class)},
      {CKA_KEY_TYPE, &key_type, sizeof(key_type)},
      BoolAttribute(CKA_TOKEN, kTrue),
      BoolAttribute(CKA_PRIVATE, kFalse),
      BoolAttribute(CKA_VERIFY, kTrue),
      {CKA_LABEL, label.data(), label.size()},
      {CKA_ID, id, sizeof(id)},
  };
  public_template.insert(public_template.end(), specification.public_attributes.begin(),
                         specification.public_attributes.end());
  std::vector<CK_ATTRIBUTE> private_template = {
      {CKA_CLASS, &private_class, sizeof(private_class)},
      {CKA_KEY_TYPE, &key_type, sizeof(key_type)},
      BoolAttribute(CKA_TOKEN, kTrue),
      BoolAttribute(CKA_PRIVATE, kTrue),
      // v2.40 §4.9: a sensitive, non-extractable key never leaves the token in plaintext, and the
      // token then keeps CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE true as evidence.
      BoolAttribute(CKA_SENSITIVE, kTrue),
      BoolAttribute(CKA_EXTRACTABLE, kFalse),
      BoolAttribute(CKA_SIGN, kTrue),
      {CKA_LABEL, label.data(), label.size()},
      {CKA_ID, id, sizeof(id)},
  };
  private_template.insert(private_template.end(), specification.private_attributes.begin(),
                          specification.private_attributes.end());
  CK_MECHANISM mechanism = {specification.mechanism, nullptr, 0};
  CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
  CK_RV rv = session->functions()->C_GenerateKeyPair(
      session->handle(), &mechanism, public_template.data(), public_template.size(),
      private_template.data(), private_template.size(), public_key, &private_key);
  if (rv != CKR_OK) {
    return Pkcs11Error(absl::StrCat("generating ", specification.name, " key pair '", label,
                                    "' in token '", config.token_label(), "'"),
                       rv);
  }
  return session;
}

void LogGenerated(const std::string& name, const v1::Pkcs11Config& config, EVP_PKEY* key) {
  MECAI_LOG(Info) << "generated " << name << " key pair '" << config.key_label() << "' in token '"
                  << config.token_label() << "'; public key SHA-256 "
                  << ShortHex(Sha256(PublicKeyToDer(key)));
}

}  // namespace

namespace {

// An elliptic-curve pair, Weierstrass (CKK_EC) or Edwards (CKK_EC_EDWARDS): the curve in
// CKA_EC_PARAMS, the public key read back from CKA_EC_POINT by `public_key_from_attributes`.
absl::StatusOr<EvpPkeyPtr> GenerateCurveKeyPairInToken(
    const v1::Pkcs11Config& config, const std::string& name, CK_KEY_TYPE key_type,
    CK_MECHANISM_TYPE mechanism, absl::string_view curve,
    absl::StatusOr<EvpPkeyPtr> (*public_key_from_attributes)(absl::string_view,
                                                             absl::string_view)) {
  if (config.key_label().empty()) return absl::InvalidArgumentError("pkcs11.key_label is empty");
  ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Module> module, Pkcs11Module::Load(config.module_path()));
  static const CK_BBOOL kFalse = CK_FALSE;
  std::string ec_params(curve);
  KeyPairSpecification specification{
      name,
      key_type,
      mechanism,
      {{CKA_EC_PARAMS, ec_params.data(), ec_params.size()}},
      {BoolAttribute(CKA_DERIVE, kFalse)},
  };
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
  ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Session> session,
                   GenerateKeyPair(*module, config, specification, &public_key));
  ASSIGN_OR_RETURN(std::string point, session->GetAttribute(public_key, CKA_EC_POINT));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, public_key_from_attributes(curve, point));
  LogGenerated(specification.name, config, key.get());
  return key;
}

}  // namespace

absl::StatusOr<EvpPkeyPtr> GenerateEcKeyPairInToken(const v1::Pkcs11Config& config) {
  return GenerateCurveKeyPairInToken(config, "EC P-256", CKK_EC, CKM_EC_KEY_PAIR_GEN, kP256EcParams,
                                     P256PublicKeyFromAttributes);
}

absl::StatusOr<EvpPkeyPtr> GenerateEd25519KeyPairInToken(const v1::Pkcs11Config& config) {
  return GenerateCurveKeyPairInToken(config, "Ed25519", CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN,
                                     kEd25519EcParams, Ed25519PublicKeyFromAttributes);
}

absl::StatusOr<EvpPkeyPtr> GenerateRsaKeyPairInToken(const v1::Pkcs11Config& config,
                                                     size_t modulus_bits) {
  if (config.key_label().empty()) return absl::InvalidArgumentError("pkcs11.key_label is empty");
  if (modulus_bits < kMinimumRsaModulusBits || modulus_bits > kMaximumRsaModulusBits ||
      modulus_bits % 8 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an RSA VA key must have ", kMinimumRsaModulusBits, " to ", kMaximumRsaModulusBits,
        " bits, a multiple of 8; ", modulus_bits, " were asked for"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Module> module, Pkcs11Module::Load(config.module_path()));
  static const CK_BBOOL kFalse = CK_FALSE;
  CK_ULONG bits = modulus_bits;
  unsigned char exponent[] = {0x01, 0x00, 0x01};  // 65537, big-endian (Current Mechanisms §2.1.2).
  // A VA key signs and does nothing else.
  KeyPairSpecification specification{
      absl::StrCat("RSA-", modulus_bits),
      CKK_RSA,
      CKM_RSA_PKCS_KEY_PAIR_GEN,
      {{CKA_MODULUS_BITS, &bits, sizeof(bits)},
       {CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)},
       BoolAttribute(CKA_ENCRYPT, kFalse),
       BoolAttribute(CKA_WRAP, kFalse)},
      {BoolAttribute(CKA_DECRYPT, kFalse), BoolAttribute(CKA_UNWRAP, kFalse)},
  };
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
  ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Session> session,
                   GenerateKeyPair(*module, config, specification, &public_key));
  ASSIGN_OR_RETURN(std::string modulus, session->GetAttribute(public_key, CKA_MODULUS));
  ASSIGN_OR_RETURN(std::string public_exponent,
                   session->GetAttribute(public_key, CKA_PUBLIC_EXPONENT));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, RsaPublicKeyFromAttributes(modulus, public_exponent));
  LogGenerated(specification.name, config, key.get());
  return key;
}

}  // namespace mecai
