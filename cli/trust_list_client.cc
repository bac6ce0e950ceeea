#include "cli/trust_list_client.h"

#include <unistd.h>

#include <memory>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/trust_list_change.h"
#include "common/pkcs11/pkcs11_key.h"
#include "common/pki/pki_builder.h"
#include "common/rpc/grpc_channel.h"
#include "proto/mecai/v1/trust_list.grpc.pb.h"

namespace mecai {
namespace {

absl::StatusOr<std::string> DecodeSha256Hex(const std::string& hex) {
  const std::string lower = absl::AsciiStrToLower(hex);
  if (lower.size() != 64 || lower.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError("--root-sha256 must be 64 hex digits (a SHA-256)");
  }
  return absl::HexStringToBytes(lower);
}

absl::StatusOr<std::unique_ptr<SigningKey>> OpenMaintainerKey(
    const TrustListChangeOptions& options) {
  if (!options.maintainer_pkcs11.module_path().empty()) {
    ASSIGN_OR_RETURN(auto key, Pkcs11SigningKey::Open(options.maintainer_pkcs11));
    return std::unique_ptr<SigningKey>(std::move(key));
  }
  if (options.maintainer_key_file.empty()) {
    return absl::InvalidArgumentError("the maintainer's key is required (--maintainer-key)");
  }
  ASSIGN_OR_RETURN(EvpPkeyPtr key, LoadPemPrivateKey(options.maintainer_key_file));
  ASSIGN_OR_RETURN(auto signing_key, InMemorySigningKey::Create(std::move(key)));
  return std::unique_ptr<SigningKey>(std::move(signing_key));
}

}  // namespace

absl::StatusOr<v1::SignedTrustListChange> MakeTrustListChange(
    const TrustListChangeOptions& options) {
  v1::TrustListChangeBody body;
  body.set_version(1);
  body.set_action(options.action);
  body.set_trust_list(options.trust_list);
  if (options.trust_list.empty()) return absl::InvalidArgumentError("the trust list is required");
  if (options.reason.size() > kMaxTrustListChangeReasonBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the reason is longer than ", kMaxTrustListChangeReasonBytes, " bytes"));
  }
  body.set_reason(options.reason);
  if (!options.root_certificate_file.empty()) {
    ASSIGN_OR_RETURN(auto roots, LoadPemCertificatesAsDer(options.root_certificate_file));
    if (roots.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(options.root_certificate_file, " holds ",
                                                     roots.size(),
                                                     " certificates; it must hold the root alone"));
    }
    body.set_root_sha256(Sha256(roots.front()));
    if (options.action == v1::TrustListChange::ADD_ROOT) {
      body.set_root_certificate_der(roots.front());
    }
  } else if (options.action == v1::TrustListChange::ADD_ROOT) {
    return absl::InvalidArgumentError("adding a root needs its certificate (--root)");
  } else if (!options.root_sha256_hex.empty()) {
    ASSIGN_OR_RETURN(std::string hash, DecodeSha256Hex(options.root_sha256_hex));
    body.set_root_sha256(hash);
  } else {
    return absl::InvalidArgumentError("removing a root needs --root or --root-sha256");
  }
  uint64_t sequence = options.sequence;
  if (sequence == 0) {
    if (!options.has_vouching_server) {
      return absl::InvalidArgumentError(
          "without --vs, the change's sequence must be given (--sequence)");
    }
    ASSIGN_OR_RETURN(v1::ListTrustListsResponse lists, ListTrustLists(options.vouching_server));
    bool found = false;
    for (const v1::TrustListInfo& info : lists.trust_lists()) {
      if (info.name() != options.trust_list) continue;
      found = true;
      sequence = info.last_sequence() + 1;
    }
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("the coordinator serves no trust list named '", options.trust_list, "'"));
    }
  }
  body.set_sequence(sequence);
  body.set_issued_at_unix_milliseconds(absl::ToUnixMillis(absl::Now()));
  ASSIGN_OR_RETURN(std::unique_ptr<SigningKey> key, OpenMaintainerKey(options));
  return SignTrustListChange(body, *key);
}

absl::StatusOr<v1::SubmitTrustListChangeResponse> SubmitTrustListChange(
    const v1::PeerConfig& coordinator, const v1::SignedTrustListChange& change) {
  ASSIGN_OR_RETURN(auto channel, MakeChannel(coordinator));
  auto stub = v1::TrustListAdmin::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::SubmitTrustListChangeRequest request;
  *request.mutable_signed_change() = change;
  v1::SubmitTrustListChangeResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub->SubmitTrustListChange(&context, request, &response),
                                 absl::StrCat("the coordinator at ", coordinator.address())));
  return response;
}

absl::StatusOr<v1::ListTrustListsResponse> ListTrustLists(const v1::PeerConfig& coordinator) {
  ASSIGN_OR_RETURN(auto channel, MakeChannel(coordinator));
  auto stub = v1::TrustListAdmin::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::ListTrustListsResponse response;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub->ListTrustLists(&context, v1::ListTrustListsRequest(), &response),
                     absl::StrCat("the coordinator at ", coordinator.address())));
  return response;
}

std::string DescribeTrustLists(const v1::ListTrustListsResponse& lists) {
  std::ostringstream out;
  for (const v1::TrustListInfo& info : lists.trust_lists()) {
    out << "trust list '" << info.name() << "': " << info.root_sha256_size() << " roots, "
        << info.removed_root_sha256_size() << " removed, last change sequence "
        << info.last_sequence() << "\n";
    for (const std::string& hash : info.root_sha256())
      out << "  root    " << HexEncode(hash) << "\n";
    for (const std::string& hash : info.removed_root_sha256()) {
      out << "  removed " << HexEncode(hash) << "\n";
    }
  }
  if (lists.maintainer_key_sha256().empty()) {
    out << "no trust-list maintainer key is configured: every change is refused\n";
  }
  for (const std::string& key : lists.maintainer_key_sha256()) {
    out << "maintainer key " << HexEncode(key) << "\n";
  }
  return out.str();
}

std::string DescribeTrustListChange(const v1::TrustListChange& change) {
  return absl::StrCat(v1::TrustListChange::Action_Name(change.action()), " ",
                      HexEncode(change.root_sha256()), " in '", change.trust_list(), "', sequence ",
                      change.sequence(), ", signed by maintainer key ",
                      ShortHex(change.maintainer_key_sha256()));
}

absl::Status GenerateMaintainerKey(const std::string& key_file,
                                   const std::string& public_key_file) {
  if (key_file.empty() || public_key_file.empty()) {
    return absl::InvalidArgumentError("both the private and the public key file are required");
  }
  if (access(key_file.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(key_file, " exists; not overwritten"));
  }
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEd25519Key());
  RETURN_IF_ERROR(WriteFileAtomically(key_file, PrivateKeyToPem(key.get()), 0600));
  return WriteFileAtomically(public_key_file, PublicKeyToPem(key.get()));
}

}  // namespace mecai
