#include "stapler/vouching_fetcher.h"

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/evidence/vouching_request.h"
#include "common/rpc/grpc_channel.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"

namespace mecai {
namespace {

absl::StatusOr<std::unique_ptr<InMemorySigningKey>> LoadMatchingKey(
    const std::string& key_file, const std::vector<std::string>& chain_der,
    const std::string& certificate_file) {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, LoadPemPrivateKey(key_file));
  ASSIGN_OR_RETURN(auto leaf, ParseDerCertificate(chain_der.front()));
  EvpPkeyPtr certificate_key(X509_get_pubkey(leaf.get()));
  if (certificate_key == nullptr || EVP_PKEY_eq(certificate_key.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the key in ", key_file, " does not belong to the certificate in ", certificate_file));
  }
  return InMemorySigningKey::Create(std::move(key));
}

}  // namespace

absl::StatusOr<std::unique_ptr<VouchingFetcher>> VouchingFetcher::Create(ServerIdentity identity,
                                                                         const Clock& clock) {
  // The hostname of every VR it builds: the coordinator's rule, checked before anything is sent.
  RETURN_IF_ERROR(ValidateVouchingRequestHostname(identity.hostname));
  std::unique_ptr<VouchingFetcher> fetcher(new VouchingFetcher(identity, clock));
  ASSIGN_OR_RETURN(fetcher->chain_der_, LoadPemCertificatesAsDer(identity.certificate_file));
  ASSIGN_OR_RETURN(fetcher->key_, LoadMatchingKey(identity.key_file, fetcher->chain_der_,
                                                  identity.certificate_file));
  fetcher->leaves_der_.push_back(fetcher->chain_der_.front());
  if (!identity.next_certificate_file.empty()) {
    ASSIGN_OR_RETURN(fetcher->next_chain_der_,
                     LoadPemCertificatesAsDer(identity.next_certificate_file));
    fetcher->leaves_der_.push_back(fetcher->next_chain_der_.front());
    const std::string& next_key_file =
        identity.next_key_file.empty() ? identity.key_file : identity.next_key_file;
    ASSIGN_OR_RETURN(auto next_key, LoadMatchingKey(next_key_file, fetcher->next_chain_der_,
                                                    identity.next_certificate_file));
    if (!identity.next_key_file.empty()) fetcher->next_key_ = std::move(next_key);
  }
  return fetcher;
}

absl::StatusOr<std::string> VouchingFetcher::BuildRequest() const {
  v1::VouchingRequestBody body;
  body.set_hostname(identity_.hostname);
  body.set_port(identity_.port);
  body.set_trust_list(identity_.trust_list);
  body.set_timestamp_unix_seconds(clock_.NowUnixSeconds());
  std::string nonce(16, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(&nonce[0]), static_cast<int>(nonce.size()));
  body.set_nonce(nonce);

  std::string serialized;
  if (next_chain_der_.empty()) {
    ASSIGN_OR_RETURN(serialized, BuildVouchingRequest(body, chain_der_, *key_));
  } else if (next_key_ == nullptr) {
    // Both certificates hold one key: the single form, the next chain inside the signed body
    // (the MECAI proposal: "This additional complication can be avoided if both certificates
    // contain the same public key").
    for (const std::string& der : next_chain_der_)
      body.add_same_key_next_certificate_chain_der(der);
    ASSIGN_OR_RETURN(serialized, BuildVouchingRequest(body, chain_der_, *key_));
  } else {
    ASSIGN_OR_RETURN(serialized, BuildRolloverVouchingRequest(body, chain_der_, *key_,
                                                              next_chain_der_, *next_key_));
  }
  return serialized;
}

absl::StatusOr<v1::VouchResponse> VouchingFetcher::Vouch(const v1::PeerConfig& vouching_server,
                                                         absl::Duration timeout) const {
  ASSIGN_OR_RETURN(std::string serialized, BuildRequest());
  ASSIGN_OR_RETURN(auto channel, MakeChannel(vouching_server));
  auto stub = v1::VouchingService::NewStub(channel);
  const absl::Time deadline = absl::Now() + timeout;
  v1::VouchRequest request;
  request.set_vouching_request(serialized);
  v1::VouchResponse response;
  grpc::Status status;
  // A connection the server is just closing (its idle or age limit, docs/PROTOCOL.md "The public
  // endpoint") fails the call UNAVAILABLE ("Socket closed"); a second attempt, on a new connection
  // within the same deadline, is safe: the same VR is answered from its record or decided once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    response.Clear();
    status = stub->Vouch(&context, request, &response);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || absl::Now() >= deadline) break;
  }
  RETURN_IF_ERROR(
      FromGrpcStatus(status, absl::StrCat("Vouching Server ", vouching_server.address())));
  return response;
}

absl::StatusOr<v1::VouchingData> VouchingFetcher::Fetch(const v1::PeerConfig& vouching_server,
                                                        absl::Duration timeout) const {
  ASSIGN_OR_RETURN(v1::VouchResponse response, Vouch(vouching_server, timeout));
  if (!response.has_vouching_data()) {
    return absl::FailedPreconditionError(
        absl::StrCat("refused: ", v1::RefusalReason_Name(response.refusal().reason()), ": ",
                     response.refusal().explanation()));
  }
  return response.vouching_data();
}

}  // namespace mecai
