// The wolfSSL client: one WOLFSSL_CTX, a WOLFSSL per handshake, no verification
// (WOLFSSL_VERIFY_NONE), no client session cache, and the peer's certificates as received
// (wolfSSL_get_peer_chain, which Debian's build keeps: SESSION_CERTS).
#include <unistd.h>
#include <wolfssl/options.h>  // Debian's build configuration, before any other wolfSSL header.
#include <wolfssl/ssl.h>

#include "absl/strings/str_cat.h"
#include "bench/tls_candidate.h"

namespace mecai {
namespace bench {
namespace {

// The TLS 1.3 suites, then the TLS 1.2 ECDHE_ECDSA AEAD suites (RFC 8422 §2.1).
constexpr char kCipherSuites[] =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305";

class WolfSslCandidate : public TlsCandidate {
 public:
  explicit WolfSslCandidate(WOLFSSL_CTX* context) : context_(context) {}
  ~WolfSslCandidate() override { wolfSSL_CTX_free(context_); }

  std::string Name() const override { return absl::StrCat("wolfSSL ", wolfSSL_lib_version()); }

  absl::StatusOr<CandidateHandshake> Handshake(int port, const std::string& sni) override {
    absl::StatusOr<int> fd = ConnectLoopback(port);
    if (!fd.ok()) return fd.status();
    WOLFSSL* ssl = wolfSSL_new(context_);
    if (ssl == nullptr) {
      close(*fd);
      return absl::InternalError("wolfSSL_new");
    }
    absl::StatusOr<CandidateHandshake> result = Run(ssl, *fd, sni);
    wolfSSL_free(ssl);
    close(*fd);
    return result;
  }

 private:
  static absl::StatusOr<CandidateHandshake> Run(WOLFSSL* ssl, int fd, const std::string& sni) {
    if (wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS ||
        wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, sni.data(),
                       static_cast<unsigned short>(sni.size())) != WOLFSSL_SUCCESS) {
      return absl::InternalError("wolfSSL session settings");
    }
    if (wolfSSL_connect(ssl) != WOLFSSL_SUCCESS) {
      const int error = wolfSSL_get_error(ssl, 0);
      char text[WOLFSSL_MAX_ERROR_SZ] = {0};
      return absl::UnavailableError(absl::StrCat("wolfSSL_connect: error ", error, " (",
                                                 wolfSSL_ERR_error_string(error, text), ")"));
    }
    CandidateHandshake result;
    WOLFSSL_X509_CHAIN* chain = wolfSSL_get_peer_chain(ssl);
    const int count = chain == nullptr ? 0 : wolfSSL_get_chain_count(chain);
    for (int i = 0; i < count; ++i) {
      result.chain_der.emplace_back(reinterpret_cast<const char*>(wolfSSL_get_chain_cert(chain, i)),
                                    wolfSSL_get_chain_length(chain, i));
    }
    result.version = wolfSSL_get_version(ssl);
    result.cipher = wolfSSL_get_cipher_name(ssl);
    wolfSSL_shutdown(ssl);  // close_notify, without waiting for the server's.
    return result;
  }

  WOLFSSL_CTX* context_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TlsCandidate>> MakeWolfSslCandidate() {
  if (wolfSSL_Init() != WOLFSSL_SUCCESS) return absl::InternalError("wolfSSL_Init");
  WOLFSSL_CTX* context = wolfSSL_CTX_new(wolfSSLv23_client_method());
  if (context == nullptr) return absl::InternalError("wolfSSL_CTX_new");
  int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1,
                  WOLFSSL_ECC_SECP521R1};
  wolfSSL_CTX_set_verify(context, WOLFSSL_VERIFY_NONE, nullptr);
  wolfSSL_CTX_set_session_cache_mode(context, WOLFSSL_SESS_CACHE_OFF);
  if (wolfSSL_CTX_SetMinVersion(context, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS ||
      wolfSSL_CTX_set_cipher_list(context, kCipherSuites) != WOLFSSL_SUCCESS ||
      wolfSSL_CTX_set1_sigalgs_list(context, "ECDSA+SHA256") != WOLFSSL_SUCCESS ||
      wolfSSL_CTX_set_groups(context, groups, 4) != WOLFSSL_SUCCESS) {
    wolfSSL_CTX_free(context);
    return absl::InternalError("wolfSSL client settings");
  }
  return std::make_unique<WolfSslCandidate>(context);
}

}  // namespace bench
}  // namespace mecai
