// The Mbed TLS 2.28 client: one mbedtls_ssl_config, an mbedtls_ssl_context per handshake, no
// verification (MBEDTLS_SSL_VERIFY_NONE), no tickets, and the peer's certificates as received
// (mbedtls_ssl_get_peer_cert: the parsed chain, each with its raw DER; Debian's build keeps it,
// MBEDTLS_SSL_KEEP_PEER_CERTIFICATE). Debian 12's 2.28 has no TLS 1.3
// (MBEDTLS_SSL_PROTO_TLS1_3_EXPERIMENTAL is off), so TLS 1.2 only.
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "bench/tls_candidate.h"

namespace mecai {
namespace bench {
namespace {

// ECDHE_ECDSA AEAD suites (RFC 8422 §2.1, RFC 7905).
const int kCipherSuites[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                             MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                             MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 0};
// The signature_algorithms hashes: SHA-256 only. 2.28 pairs every hash with every signature
// algorithm it was built with, so this is not an ECDSA-only offer (see the benchmark's check).
const int kSignatureHashes[] = {MBEDTLS_MD_SHA256, MBEDTLS_MD_NONE};
const mbedtls_ecp_group_id kCurves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                        MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_SECP521R1,
                                        MBEDTLS_ECP_DP_NONE};

class MbedTlsCandidate : public TlsCandidate {
 public:
  MbedTlsCandidate() {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&random_);
    mbedtls_ssl_config_init(&config_);
  }
  ~MbedTlsCandidate() override {
    mbedtls_ssl_config_free(&config_);
    mbedtls_ctr_drbg_free(&random_);
    mbedtls_entropy_free(&entropy_);
  }

  absl::Status Configure() {
    if (mbedtls_ctr_drbg_seed(&random_, mbedtls_entropy_func, &entropy_, nullptr, 0) != 0 ||
        mbedtls_ssl_config_defaults(&config_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
      return absl::InternalError("Mbed TLS client settings");
    }
    mbedtls_ssl_conf_authmode(&config_, MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_rng(&config_, mbedtls_ctr_drbg_random, &random_);
    mbedtls_ssl_conf_min_version(&config_, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&config_, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&config_, kCipherSuites);
    mbedtls_ssl_conf_sig_hashes(&config_, kSignatureHashes);
    mbedtls_ssl_conf_curves(&config_, kCurves);
    mbedtls_ssl_conf_session_tickets(&config_, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    return absl::OkStatus();
  }

  std::string Name() const override { return "Mbed TLS " MBEDTLS_VERSION_STRING; }
  bool SupportsTls13() const override { return false; }

  absl::StatusOr<CandidateHandshake> Handshake(int port, const std::string& sni) override {
    absl::StatusOr<int> fd = ConnectLoopback(port);
    if (!fd.ok()) return fd.status();
    mbedtls_net_context net;
    net.fd = *fd;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_init(&ssl);
    absl::StatusOr<CandidateHandshake> result = Run(&ssl, &net, sni);
    mbedtls_ssl_free(&ssl);
    close(*fd);
    return result;
  }

 private:
  absl::StatusOr<CandidateHandshake> Run(mbedtls_ssl_context* ssl, mbedtls_net_context* net,
                                         const std::string& sni) {
    if (mbedtls_ssl_setup(ssl, &config_) != 0 || mbedtls_ssl_set_hostname(ssl, sni.c_str()) != 0) {
      return absl::InternalError("Mbed TLS session settings");
    }
    mbedtls_ssl_set_bio(ssl, net, mbedtls_net_send, mbedtls_net_recv, nullptr);
    int status;
    do {
      status = mbedtls_ssl_handshake(ssl);
    } while (status == MBEDTLS_ERR_SSL_WANT_READ || status == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (status != 0) {
      return absl::UnavailableError(absl::StrCat("mbedtls_ssl_handshake: -0x", absl::Hex(-status)));
    }
    CandidateHandshake result;
    for (const mbedtls_x509_crt* certificate = mbedtls_ssl_get_peer_cert(ssl);
         certificate != nullptr && certificate->raw.p != nullptr; certificate = certificate->next) {
      result.chain_der.emplace_back(reinterpret_cast<const char*>(certificate->raw.p),
                                    certificate->raw.len);
    }
    result.version = mbedtls_ssl_get_version(ssl);
    result.cipher = mbedtls_ssl_get_ciphersuite(ssl);
    mbedtls_ssl_close_notify(ssl);  // close_notify, without waiting for the server's.
    return result;
  }

  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context random_;
  mbedtls_ssl_config config_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TlsCandidate>> MakeMbedTlsCandidate() {
  auto candidate = std::make_unique<MbedTlsCandidate>();
  absl::Status configured = candidate->Configure();
  if (!configured.ok()) return configured;
  return candidate;
}

}  // namespace bench
}  // namespace mecai
