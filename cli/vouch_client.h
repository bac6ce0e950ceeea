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
  v1::PeerConfig vouching_server;
  // The server the VR speaks for: name, port, trust list, certificate and key files (and, during
  // a rollover, the next certificate and its key), as the stapler keeps them.
  ServerIdentity server;
  absl::Duration timeout = absl::Seconds(60);
};

// Builds and signs a VR from the files, sends it to the Vouching Server and returns its answer.
absl::StatusOr<v1::VouchResponse> RequestVouching(const VouchOptions& options);

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
