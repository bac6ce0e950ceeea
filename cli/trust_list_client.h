// What `mecai trust-list` does, as functions tests call directly: a trust-list
// maintainer makes and signs a change (SignedTrustListChange, docs/PROTOCOL.md "Trust-list
// changes") with a key of their own, from a PEM file or a PKCS#11 token, and submits it to a
// coordinator (TrustListAdmin, as an administrator identity), which relays it to the signer.
#ifndef MECAI_CLI_TRUST_LIST_CLIENT_H_
#define MECAI_CLI_TRUST_LIST_CLIENT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/trust_list.pb.h"

namespace mecai {

struct TrustListChangeOptions {
  // How to reach the coordinator (an admin identity). Needed unless `sequence` is set and the
  // change is only written to `out_file`.
  v1::PeerConfig vouching_server;
  bool has_vouching_server = false;
  v1::TrustListChange::Action action = v1::TrustListChange::ACTION_UNSPECIFIED;
  std::string trust_list;
  // PEM file holding exactly the root certificate: required for ADD_ROOT; for REMOVE_ROOT either
  // this or `root_sha256_hex` (64 hex digits).
  std::string root_certificate_file;
  std::string root_sha256_hex;
  std::string reason;
  // 0: one above the list's last sequence, as the coordinator reports it.
  uint64_t sequence = 0;
  // The maintainer's private key: a PEM file, or a key in a PKCS#11 token (module_path set).
  std::string maintainer_key_file;
  v1::Pkcs11Config maintainer_pkcs11;
};

// Makes the change the options describe and signs it with the maintainer's key. With sequence 0,
// asks the coordinator for the list's last sequence.
absl::StatusOr<v1::SignedTrustListChange> MakeTrustListChange(
    const TrustListChangeOptions& options);

// TrustListAdmin.SubmitTrustListChange, 60 s deadline; the gRPC error becomes the status, its code
// kept (PERMISSION_DENIED, FAILED_PRECONDITION, ALREADY_EXISTS, ...).
absl::StatusOr<v1::SubmitTrustListChangeResponse> SubmitTrustListChange(
    const v1::PeerConfig& coordinator, const v1::SignedTrustListChange& change);

// TrustListAdmin.ListTrustLists, 30 s deadline.
absl::StatusOr<v1::ListTrustListsResponse> ListTrustLists(const v1::PeerConfig& coordinator);

// For people: each list with its roots, removed roots and last sequence, then the maintainer keys.
std::string DescribeTrustLists(const v1::ListTrustListsResponse& lists);
// One line: "REMOVE_ROOT <hash> in 'list', sequence N, signed by maintainer key <hash>".
std::string DescribeTrustListChange(const v1::TrustListChange& change);

// A maintainer key pair: an Ed25519 private key (PKCS#8 PEM, mode 0600) and its public key (PEM
// SubjectPublicKeyInfo), the file the services' trust_list_maintainer_key_files name. Refuses to
// overwrite an existing private key file.
absl::Status GenerateMaintainerKey(const std::string& key_file, const std::string& public_key_file);

}  // namespace mecai

#endif  // MECAI_CLI_TRUST_LIST_CLIENT_H_
