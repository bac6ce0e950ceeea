#include "cli/vouch_client.h"

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "common/files.h"
#include "common/grpc_channel.h"
#include "common/pem.h"
#include "common/signature.h"
#include "common/status.h"
#include "common/vouching_request.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"

namespace mecai {
namespace {

struct Credential {
  std::vector<std::string> chain_der;
  std::unique_ptr<InMemorySigningKey> key;
};

absl::StatusOr<Credential> LoadCredential(const std::string& certificate_file,
                                          const std::string& key_file) {
  Credential credential;
  ASSIGN_OR_RETURN(credential.chain_der, LoadPemCertificatesAsDer(certificate_file));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, LoadPemPrivateKey(key_file));
  ASSIGN_OR_RETURN(auto leaf, ParseDerCertificate(credential.chain_der.front()));
  EvpPkeyPtr certificate_key(X509_get_pubkey(leaf.get()));
  if (certificate_key == nullptr || EVP_PKEY_eq(certificate_key.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the key in ", key_file, " does not belong to the certificate in ", certificate_file));
  }
  ASSIGN_OR_RETURN(credential.key, InMemorySigningKey::Create(std::move(key)));
  return credential;
}

}  // namespace

absl::StatusOr<v1::VouchResponse> RequestVouching(const VouchOptions& options) {
  if (!IsValidHostname(options.hostname)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", options.hostname, "' is not a lower-case hostname"));
  }
  ASSIGN_OR_RETURN(Credential current, LoadCredential(options.certificate_file, options.key_file));
  v1::VouchingRequestBody body;
  body.set_hostname(options.hostname);
  body.set_port(options.port);
  body.set_trust_list(options.trust_list);
  body.set_timestamp_unix_seconds(absl::ToUnixSeconds(absl::Now()));
  std::string nonce(16, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(&nonce[0]), static_cast<int>(nonce.size()));
  body.set_nonce(nonce);

  std::string serialized;
  if (options.next_certificate_file.empty()) {
    ASSIGN_OR_RETURN(serialized, BuildVouchingRequest(body, current.chain_der, *current.key));
  } else if (options.next_key_file.empty()) {
    // Same key in both certificates: the single form with the next chain attached.
    ASSIGN_OR_RETURN(auto next_chain, LoadPemCertificatesAsDer(options.next_certificate_file));
    ASSIGN_OR_RETURN(serialized, BuildVouchingRequest(body, current.chain_der, *current.key));
    v1::VouchingRequest request;
    request.ParseFromString(serialized);
    for (const std::string& der : next_chain) request.add_same_key_next_certificate_chain_der(der);
    serialized = request.SerializeAsString();
  } else {
    ASSIGN_OR_RETURN(Credential next,
                     LoadCredential(options.next_certificate_file, options.next_key_file));
    ASSIGN_OR_RETURN(serialized, BuildRolloverVouchingRequest(body, current.chain_der, *current.key,
                                                              next.chain_der, *next.key));
  }

  ASSIGN_OR_RETURN(auto channel, MakeChannel(options.vouching_server));
  auto stub = v1::VouchingService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  v1::VouchRequest request;
  request.set_vouching_request(serialized);
  v1::VouchResponse response;
  grpc::Status status = stub->Vouch(&context, request, &response);
  RETURN_IF_ERROR(
      FromGrpcStatus(status, absl::StrCat("Vouching Server ", options.vouching_server.address())));
  return response;
}

absl::StatusOr<v1::VouchingStatement> VerifyVouchingDataFile(const VerifyOptions& options) {
  ASSIGN_OR_RETURN(std::string serialized, ReadFile(options.vouching_data_file, 1 << 20));
  v1::VouchingData vd;
  if (!vd.ParseFromString(serialized)) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.vouching_data_file, " is not a serialized VouchingData"));
  }
  ASSIGN_OR_RETURN(auto vas, VaList::Load(options.va_list_file));
  ASSIGN_OR_RETURN(auto certificates, LoadPemCertificatesAsDer(options.certificate_file));
  VdExpectation expected;
  expected.hostname = options.hostname;
  expected.certificate_der = certificates.front();
  expected.candidate_vas = options.candidate_vas;
  expected.now = absl::Now();
  expected.max_age = options.max_age;
  return VerifyVouchingData(vd, *vas, expected);
}

}  // namespace mecai
