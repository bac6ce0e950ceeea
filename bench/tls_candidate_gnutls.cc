// The GnuTLS client: one priority cache and one (empty) certificate credential, a session per
// handshake, no verification (none is asked for), no tickets, one key share, and the peer's
// certificates as received (gnutls_certificate_get_peers: the DER of the Certificate message).
#include <gnutls/gnutls.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "bench/tls_candidate.h"

namespace mecai {
namespace bench {
namespace {

// TLS 1.2–1.3; signature_algorithms ecdsa_secp256r1_sha256 (0x0403) only; TLS 1.2 key exchange
// ECDHE_ECDSA only; AEAD ciphers, AES-128-GCM first (as the probe engine and Go order them); the
// groups X25519, P-256, P-384, P-521 (one key share, X25519: GNUTLS_KEY_SHARE_TOP).
constexpr char kPriority[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256:"
    "+SIGN-ECDSA-SHA256:-KX-ALL:+ECDHE-ECDSA:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
    "+GROUP-SECP384R1:+GROUP-SECP521R1:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
    "-MAC-ALL:+AEAD";

class GnuTlsCandidate : public TlsCandidate {
 public:
  GnuTlsCandidate(gnutls_priority_t priority, gnutls_certificate_credentials_t credentials)
      : priority_(priority), credentials_(credentials) {}
  ~GnuTlsCandidate() override {
    gnutls_priority_deinit(priority_);
    gnutls_certificate_free_credentials(credentials_);
  }

  std::string Name() const override {
    return absl::StrCat("GnuTLS ", gnutls_check_version(nullptr));
  }

  absl::StatusOr<CandidateHandshake> Handshake(int port, const std::string& sni) override {
    absl::StatusOr<int> fd = ConnectLoopback(port);
    if (!fd.ok()) return fd.status();
    gnutls_session_t session = nullptr;
    if (gnutls_init(&session, GNUTLS_CLIENT | GNUTLS_NO_TICKETS | GNUTLS_KEY_SHARE_TOP) !=
        GNUTLS_E_SUCCESS) {
      close(*fd);
      return absl::InternalError("gnutls_init");
    }
    absl::StatusOr<CandidateHandshake> result = Run(session, *fd, sni);
    gnutls_deinit(session);
    close(*fd);
    return result;
  }

 private:
  absl::StatusOr<CandidateHandshake> Run(gnutls_session_t session, int fd, const std::string& sni) {
    if (gnutls_priority_set(session, priority_) != GNUTLS_E_SUCCESS ||
        gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials_) != GNUTLS_E_SUCCESS ||
        gnutls_server_name_set(session, GNUTLS_NAME_DNS, sni.data(), sni.size()) !=
            GNUTLS_E_SUCCESS) {
      return absl::InternalError("GnuTLS session settings");
    }
    gnutls_transport_set_int(session, fd);
    int status;
    do {
      status = gnutls_handshake(session);
    } while (status < 0 && gnutls_error_is_fatal(status) == 0);
    if (status < 0) {
      return absl::UnavailableError(absl::StrCat("gnutls_handshake: ", gnutls_strerror(status)));
    }
    CandidateHandshake result;
    unsigned int count = 0;
    const gnutls_datum_t* peers = gnutls_certificate_get_peers(session, &count);
    for (unsigned int i = 0; peers != nullptr && i < count; ++i) {
      result.chain_der.emplace_back(reinterpret_cast<const char*>(peers[i].data), peers[i].size);
    }
    const gnutls_protocol_t version = gnutls_protocol_get_version(session);
    result.version = version == GNUTLS_TLS1_3   ? "TLSv1.3"
                     : version == GNUTLS_TLS1_2 ? "TLSv1.2"
                                                : gnutls_protocol_get_name(version);
    result.cipher = gnutls_ciphersuite_get(session);
    gnutls_bye(session, GNUTLS_SHUT_WR);  // close_notify, without waiting for the server's.
    return result;
  }

  gnutls_priority_t priority_;
  gnutls_certificate_credentials_t credentials_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TlsCandidate>> MakeGnuTlsCandidate() {
  gnutls_priority_t priority = nullptr;
  const char* error_at = nullptr;
  if (gnutls_priority_init(&priority, kPriority, &error_at) != GNUTLS_E_SUCCESS) {
    return absl::InternalError(absl::StrCat("gnutls_priority_init at ", error_at ? error_at : ""));
  }
  gnutls_certificate_credentials_t credentials = nullptr;
  if (gnutls_certificate_allocate_credentials(&credentials) != GNUTLS_E_SUCCESS) {
    gnutls_priority_deinit(priority);
    return absl::InternalError("gnutls_certificate_allocate_credentials");
  }
  return std::make_unique<GnuTlsCandidate>(priority, credentials);
}

}  // namespace bench
}  // namespace mecai
