// Fetching a VD for this server from a Vouching Server: builds and signs a VR (MECAI proposal, "VS
// behaviour": "the VR must be signed using the server's certificate"; during a rollover the two
// nested-signature VRs of "Server behaviour"), sends it and returns the issued VD.
#ifndef MECAI_STAPLER_VOUCHING_FETCHER_H_
#define MECAI_STAPLER_VOUCHING_FETCHER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/crypto/signature.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

struct ServerIdentity {
  std::string hostname;
  uint32_t port = 443;
  std::string trust_list;
  // PEM files: the served certificate with its chain, and its key; during a rollover the next
  // certificate and, when its key differs, that key.
  std::string certificate_file;
  std::string key_file;
  std::string next_certificate_file;
  std::string next_key_file;
};

// Thread-safe after Create (each Fetch builds its own VR).
class VouchingFetcher {
 public:
  // Loads the certificates and keys; INVALID_ARGUMENT when a key does not match its certificate.
  static absl::StatusOr<std::unique_ptr<VouchingFetcher>> Create(ServerIdentity identity,
                                                                 const Clock& clock);

  // A fresh, signed VR (serialized VouchingRequest): the single form, the same-key form, or the
  // four-signature rollover form (MECAI proposal, "Server behaviour").
  absl::StatusOr<std::string> BuildRequest() const;

  // Sends a fresh VR to `vouching_server` and returns its answer, issued or refused; errors are
  // the transport's.
  absl::StatusOr<v1::VouchResponse> Vouch(const v1::PeerConfig& vouching_server,
                                          absl::Duration timeout) const;

  // One VR to `vouching_server`; the VD, or the refusal as FAILED_PRECONDITION, or the transport
  // error.
  absl::StatusOr<v1::VouchingData> Fetch(const v1::PeerConfig& vouching_server,
                                         absl::Duration timeout) const;

  // The DER leaf certificates this server serves (one, two in a rollover).
  const std::vector<std::string>& leaf_certificates_der() const { return leaves_der_; }

 private:
  VouchingFetcher(ServerIdentity identity, const Clock& clock)
      : identity_(std::move(identity)), clock_(clock) {}

  const ServerIdentity identity_;
  const Clock& clock_;
  std::vector<std::string> chain_der_;
  std::unique_ptr<InMemorySigningKey> key_;
  std::vector<std::string> next_chain_der_;
  std::unique_ptr<InMemorySigningKey> next_key_;  // Null when the next certificate shares the key.
  std::vector<std::string> leaves_der_;
};

}  // namespace mecai

#endif  // MECAI_STAPLER_VOUCHING_FETCHER_H_
