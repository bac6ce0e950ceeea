// The minimal OpenSSL 3 client: one SSL_CTX in OpenSSL's default library context or the probe's,
// an SSL object per handshake, no verification (SSL_VERIFY_NONE), the chain as libssl keeps it
// (SSL_get_peer_cert_chain, each certificate re-encoded from its cached DER).
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "bench/tls_candidate.h"
#include "common/crypto/openssl_types.h"
#include "probe_agent/probe_library_context.h"

namespace mecai {
namespace bench {
namespace {

class OpenSslCandidate : public TlsCandidate {
 public:
  OpenSslCandidate(SslCtxPtr context, std::string name)
      : context_(std::move(context)), name_(std::move(name)) {}

  std::string Name() const override { return name_; }

  absl::StatusOr<CandidateHandshake> Handshake(int port, const std::string& sni) override {
    absl::StatusOr<int> fd = ConnectLoopback(port);
    if (!fd.ok()) return fd.status();
    SslPtr ssl(SSL_new(context_.get()));
    if (ssl == nullptr || SSL_set_fd(ssl.get(), *fd) != 1 ||
        SSL_set_tlsext_host_name(ssl.get(), sni.c_str()) != 1) {
      close(*fd);
      return absl::InternalError("SSL_new");
    }
    if (SSL_connect(ssl.get()) != 1) {
      close(*fd);
      return absl::UnavailableError("SSL_connect failed");
    }
    CandidateHandshake result;
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get());
    for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
      unsigned char* der = nullptr;
      const int length = i2d_X509(sk_X509_value(chain, i), &der);
      if (length <= 0) continue;
      result.chain_der.emplace_back(reinterpret_cast<const char*>(der), length);
      OPENSSL_free(der);
    }
    result.version = SSL_get_version(ssl.get());
    result.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl.get()));
    SSL_shutdown(ssl.get());  // close_notify, without waiting for the server's.
    ssl.reset();
    close(*fd);
    return result;
  }

 private:
  SslCtxPtr context_;
  const std::string name_;
};

// `library_context` null: OpenSSL's default.
absl::StatusOr<std::unique_ptr<TlsCandidate>> Make(OSSL_LIB_CTX* library_context,
                                                   const std::string& name) {
  SslCtxPtr context(SSL_CTX_new_ex(library_context, nullptr, TLS_client_method()));
  if (context == nullptr) return absl::InternalError("SSL_CTX_new_ex");
  SSL_CTX* raw = context.get();
  SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_options(raw, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(raw, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set1_sigalgs_list(raw, "ecdsa_secp256r1_sha256") != 1 ||
      // The probe engine's TLS 1.2 suites (OfferSelecting), and its TLS 1.3 order.
      SSL_CTX_set_cipher_list(raw, "aECDSA:!eNULL") != 1 ||
      SSL_CTX_set_ciphersuites(
          raw, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1) {
    return absl::InternalError("OpenSSL client settings");
  }
  return std::make_unique<OpenSslCandidate>(std::move(context), name);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsCandidate>> MakeOpenSslCandidate() {
  return Make(nullptr, OpenSSL_version(OPENSSL_VERSION));
}

absl::StatusOr<std::unique_ptr<TlsCandidate>> MakeOpenSslProbeContextCandidate() {
  absl::StatusOr<OSSL_LIB_CTX*> library_context = probe_agent::ProbeLibraryContext();
  if (!library_context.ok()) return library_context.status();
  return Make(*library_context, absl::StrCat(OpenSSL_version(OPENSSL_VERSION), ", probe context"));
}

}  // namespace bench
}  // namespace mecai
