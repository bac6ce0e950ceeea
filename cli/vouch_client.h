// What `mecai vouch` and `mecai verify` do, as functions the demo and tests call directly.
#ifndef MECAI_CLI_VOUCH_CLIENT_H_
#define MECAI_CLI_VOUCH_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/vd_verifier.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/vouching.pb.h"
#include "stapler/vouching_fetcher.h"

namespace mecai {

struct VouchOptions {
  // The Vouching Server: its internal listener (mutual TLS), or its public endpoint, which asks
  // for no client certificate (tls without certificate_file and private_key_file).
  v1::PeerConfig vouching_server;
  // The server the VR speaks for: name, port, trust list, certificate and key files (and, during
  // a rollover, the next certificate and its key), as the stapler keeps them.
  ServerIdentity server;
  absl::Duration timeout = absl::Seconds(60);
  // Send the VR as an HTTPS POST to the public endpoint's HTTP binding (docs/PROTOCOL.md "The
  // HTTP binding") instead of over gRPC: https://<server_identity>:<port of address>, connecting
  // to the host of vouching_server.address, verified with vouching_server.tls.server_ca_file.
  bool http = false;
};

// Builds and signs a VR from the files, sends it to the Vouching Server and returns its answer.
absl::StatusOr<v1::VouchResponse> RequestVouching(const VouchOptions& options);

// The HTTP binding: POSTs `serialized_request` (a serialized VouchingRequest) to the public
// endpoint `vouching_server` and returns the VouchResponse. A status other than 200 is an error
// carrying the server's explanation: RESOURCE_EXHAUSTED for 413 and 429, UNAVAILABLE for 503,
// ABORTED for 409, DEADLINE_EXCEEDED for 504, INVALID_ARGUMENT for other 4xx, INTERNAL otherwise.
absl::StatusOr<v1::VouchResponse> PostVouchingRequest(const v1::PeerConfig& vouching_server,
                                                      const std::string& serialized_request,
                                                      absl::Duration timeout);

struct VerifyOptions {
  std::string vouching_data_file;
  std::string hostname;
  // PEM file whose first certificate is the server certificate of the handshake.
  std::string certificate_file;
  std::string va_list_file;
  std::vector<std::string> candidate_vas;
  // Oldest VD accepted (`--max-age`; default kDefaultMaxVdAge, client/vd_verifier.h).
  absl::Duration max_age = kDefaultMaxVdAge;
  // The VD must say issuance was approved out of band (ARCHITECTURE.md §7).
  bool require_out_of_band_approval = false;
};

// Verifies a VD file as a TLS client would (ARCHITECTURE.md §4). Returns its statement.
absl::StatusOr<v1::VouchingStatement> VerifyVouchingDataFile(const VerifyOptions& options);

}  // namespace mecai

#endif  // MECAI_CLI_VOUCH_CLIENT_H_
