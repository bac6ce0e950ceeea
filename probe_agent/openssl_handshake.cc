#include "probe_agent/openssl_handshake.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crypto/certificate_key_type.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"
#include "probe_agent/probe_library_context.h"

namespace mecai {
namespace probe_agent {
namespace {

constexpr char kTls13CipherSuites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// SSL_CTX_set_cert_verify_callback's callback: no path validation (RFC 5280 §6) of the server's
// chain; the handshake's own signature checks still run.
int AcceptWithoutValidation(X509_STORE_CTX* /*store_context*/, void* /*argument*/) { return 1; }

class OpenSslHandshake : public TlsHandshake {
 public:
  OpenSslHandshake(SslPtr ssl, const std::string& target)
      : ssl_(std::move(ssl)), failed_(absl::StrCat("TLS handshake with ", target, " failed")) {}

  Step Continue() override {
    ClearOpenSslErrors();
    errno = 0;
    const int result = SSL_do_handshake(ssl_.get());
    if (result == 1) return Step::kDone;
    const int saved_errno = errno;
    const int error = SSL_get_error(ssl_.get(), result);
    if (error == SSL_ERROR_WANT_READ) return Step::kWantRead;
    if (error == SSL_ERROR_WANT_WRITE) return Step::kWantWrite;
    Failed(error, saved_errno);
    return Step::kFailed;
  }

  const HandshakeFailure& failure() const override { return failure_; }

  // SSL_get_peer_cert_chain borrows: the stack and its certificates belong to the SSL object; on
  // the client side it starts with the leaf.
  HandshakeEvidence Finish() override {
    SSL* ssl = ssl_.get();
    HandshakeEvidence evidence;
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
    const int chain_length = chain != nullptr ? sk_X509_num(chain) : 0;
    if (chain_length == 0) return evidence;
    for (int i = 0; i < chain_length; ++i) {
      evidence.chain_der.push_back(CertificateToDer(sk_X509_value(chain, i)));
    }
    evidence.version = SSL_get_version(ssl);
    const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
    if (cipher != nullptr) {
      const char* name = SSL_CIPHER_standard_name(cipher);
      evidence.cipher = name != nullptr ? name : SSL_CIPHER_get_name(cipher);
    }
    const int group = SSL_get_negotiated_group(ssl);
    if (group != 0 && group != NID_undef) {
      const char* name = OBJ_nid2sn(group & ~TLSEXT_nid_unknown);
      if (name != nullptr && (group & TLSEXT_nid_unknown) == 0) evidence.group = name;
    }
    SSL_shutdown(ssl);
    ClearOpenSslErrors();
    return evidence;
  }

 private:
  // Classifies a failed SSL_do_handshake: an alert from the server (RFC 8446 §6.2; OpenSSL reports
  // a received alert as reason SSL_AD_REASON_OFFSET + alert), a closed connection, or any other
  // protocol failure. Drains the thread's OpenSSL error queue into the sentence.
  void Failed(int error, int saved_errno) {
    const unsigned long first = ERR_peek_error();  // NOLINT(runtime/int): OpenSSL's type.
    if (error == SSL_ERROR_SSL || first != 0) {
      const int reason = ERR_GET_REASON(first);
      failure_.error_class = v1::PROTOCOL_ERROR;
      if (ERR_GET_LIB(first) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
          reason < SSL_AD_REASON_OFFSET + 256) {
        failure_.error_class = v1::TLS_ALERT;
        failure_.alert = static_cast<uint32_t>(reason - SSL_AD_REASON_OFFSET);
      } else if (ERR_GET_LIB(first) == ERR_LIB_SSL &&
                 reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        failure_.error_class = v1::CONNECTION_CLOSED;
      }
      failure_.sentence = std::string(OpenSslError(failed_).message());
      return;
    }
    std::string why = absl::StrCat(": SSL_get_error ", error);
    if (error == SSL_ERROR_ZERO_RETURN) {
      why = ": the server closed the TLS connection";
    } else if (error == SSL_ERROR_SYSCALL) {
      why = saved_errno != 0 ? absl::StrCat(": ", std::strerror(saved_errno))
                             : ": the server closed the connection";
    }
    failure_.error_class = v1::CONNECTION_CLOSED;
    failure_.sentence = absl::StrCat(failed_, why);
  }

  const SslPtr ssl_;
  const std::string failed_;
  HandshakeFailure failure_;
};

class OpenSslClient : public TlsClient {
 public:
  explicit OpenSslClient(SslCtxPtr context) : context_(std::move(context)) {}

  absl::Status AddKeyTypes(const TlsClientOptions& options) {
    for (v1::CertificateKeyType key_type : kSelectableKeyTypes) {
      absl::StatusOr<SslCtxPtr> restricted = CreateProbeSslContext(options, key_type);
      if (!restricted.ok()) return restricted.status();
      key_type_contexts_.emplace(key_type, std::move(*restricted));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<TlsHandshake>> Start(int fd, const std::string& sni,
                                                      v1::CertificateKeyType key_type,
                                                      const std::string& target) override {
    SSL_CTX* context = ContextFor(key_type);
    if (context == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot set up TLS for ", target, ": no ClientHello for ", KeyTypeName(key_type)));
    }
    ClearOpenSslErrors();
    SslPtr ssl(SSL_new(context));
    if (ssl == nullptr || SSL_set_fd(ssl.get(), fd) != 1 ||
        (!sni.empty() && SSL_set_tlsext_host_name(ssl.get(), sni.c_str()) != 1)) {
      return OpenSslError(absl::StrCat("cannot set up TLS for ", target));
    }
    SSL_set_connect_state(ssl.get());
    return std::make_unique<OpenSslHandshake>(std::move(ssl), target);
  }

 private:
  // The context a handshake asking for `key_type` starts from (borrowed; null for a key type no
  // context was made for).
  SSL_CTX* ContextFor(v1::CertificateKeyType key_type) const {
    if (key_type == v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED) return context_.get();
    auto found = key_type_contexts_.find(key_type);
    return found != key_type_contexts_.end() ? found->second.get() : nullptr;
  }

  // The default offer, and one context per key type of kSelectableKeyTypes; constant after
  // CreateOpenSslClient.
  const SslCtxPtr context_;
  std::map<v1::CertificateKeyType, SslCtxPtr> key_type_contexts_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TlsClient>> CreateOpenSslClient(const TlsClientOptions& options) {
  absl::StatusOr<SslCtxPtr> context = CreateProbeSslContext(options);
  if (!context.ok()) return context.status();
  auto client = std::make_unique<OpenSslClient>(std::move(*context));
  absl::Status added = client->AddKeyTypes(options);
  if (!added.ok()) return added;
  return client;
}

absl::StatusOr<SslCtxPtr> CreateProbeSslContext(const TlsClientOptions& options,
                                                v1::CertificateKeyType key_type) {
  // Its certificates' public keys decode without OpenSSL 3.0's enumeration of every decoder
  // (probe_agent/probe_library_context.h).
  absl::StatusOr<OSSL_LIB_CTX*> library = ProbeLibraryContext();
  if (!library.ok()) return library.status();
  return CreateProbeSslContextIn(*library, options, key_type);
}

absl::StatusOr<SslCtxPtr> CreateProbeSslContextIn(OSSL_LIB_CTX* library,
                                                  const TlsClientOptions& options,
                                                  v1::CertificateKeyType key_type) {
  ClearOpenSslErrors();
  SslCtxPtr context(SSL_CTX_new_ex(library, nullptr, TLS_client_method()));
  if (context == nullptr) return OpenSslError("SSL_CTX_new_ex");
  if (options.min_version < TLS1_2_VERSION || options.max_version > TLS1_3_VERSION ||
      options.min_version > options.max_version) {
    return absl::InvalidArgumentError("TLS versions must satisfy TLSv1.2 <= min <= max <= TLSv1.3");
  }
  if (SSL_CTX_set_min_proto_version(context.get(), options.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(context.get(), options.max_version) != 1) {
    return OpenSslError("cannot set the TLS versions");
  }
  if (!options.groups.empty() &&
      SSL_CTX_set1_groups_list(context.get(), options.groups.c_str()) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat("TLS groups '", options.groups, "' are not a list OpenSSL accepts"));
  }
  // The TLS 1.3 cipher suites OpenSSL offers, AES-128-GCM first (RFC 8446 §9.1 makes it the one a
  // server must implement): a SHA-256 key schedule rather than SHA-384 where the server follows
  // the client's order.
  if (SSL_CTX_set_ciphersuites(context.get(), kTls13CipherSuites) != 1) {
    return OpenSslError("cannot set the TLS 1.3 cipher suites");
  }
  // docs/PROTOCOL.md "Key-typed handshakes": only what selects a certificate of this key type.
  if (key_type != v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED) {
    absl::Status restricted = RestrictOfferToKeyType(context.get(), key_type);
    if (!restricted.ok()) return restricted;
  }
  // No verification: the agent reports the chain it was sent, whatever it is. With SSL_VERIFY_NONE
  // libssl still ran X509_verify_cert on the chain and ignored its result; this callback replaces
  // that path validation, whose result nothing reads.
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_cert_verify_callback(context.get(), AcceptWithoutValidation, nullptr);
  // Security level 0 lets the handshake complete with servers whose certificates have weak keys
  // or SHA-1 signatures, which Debian's default level 2 refuses: such a certificate is still what
  // the server serves, and judging it is the coordinator's job. The connection carries no data.
  SSL_CTX_set_security_level(context.get(), 0);
  // Never resume (RFC 8446 §2.2): a resumed handshake carries no certificate.
  SSL_CTX_set_session_cache_mode(context.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(context.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_max_cert_list(context.get(), kMaxCertificateListBytes);
  // Bounded memory: buffers of idle connections (waiting for the server) are released.
  SSL_CTX_set_mode(context.get(), SSL_MODE_RELEASE_BUFFERS);
  return context;
}

}  // namespace probe_agent
}  // namespace mecai
