#include "probe_agent/gnutls_handshake.h"

#include <gnutls/gnutls.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/certificate_key_type.h"

namespace mecai {
namespace probe_agent {
namespace {

// One group: its names in OpenSSL's list syntax (what TlsClientOptions::groups holds), GnuTLS's
// priority keyword, and the name an observation records: OpenSSL's short name (OBJ_nid2sn), so
// that both libraries name a group alike.
struct Group {
  std::vector<const char*> openssl_names;  // Lower case.
  const char* priority;
  gnutls_group_t id;
  const char* recorded;
};

const std::vector<Group>& Groups() {
  static const std::vector<Group>* groups = new std::vector<Group>{
      {{"x25519"}, "GROUP-X25519", GNUTLS_GROUP_X25519, "X25519"},
      {{"x448"}, "GROUP-X448", GNUTLS_GROUP_X448, "X448"},
      {{"p-256", "prime256v1", "secp256r1"},
       "GROUP-SECP256R1",
       GNUTLS_GROUP_SECP256R1,
       "prime256v1"},
      {{"p-384", "secp384r1"}, "GROUP-SECP384R1", GNUTLS_GROUP_SECP384R1, "secp384r1"},
      {{"p-521", "secp521r1"}, "GROUP-SECP521R1", GNUTLS_GROUP_SECP521R1, "secp521r1"},
      {{"ffdhe2048"}, "GROUP-FFDHE2048", GNUTLS_GROUP_FFDHE2048, "ffdhe2048"},
      {{"ffdhe3072"}, "GROUP-FFDHE3072", GNUTLS_GROUP_FFDHE3072, "ffdhe3072"},
      {{"ffdhe4096"}, "GROUP-FFDHE4096", GNUTLS_GROUP_FFDHE4096, "ffdhe4096"},
      {{"ffdhe6144"}, "GROUP-FFDHE6144", GNUTLS_GROUP_FFDHE6144, "ffdhe6144"},
      {{"ffdhe8192"}, "GROUP-FFDHE8192", GNUTLS_GROUP_FFDHE8192, "ffdhe8192"},
  };
  return *groups;
}

const Group* GroupNamed(const std::string& openssl_name) {
  const std::string lower = absl::AsciiStrToLower(openssl_name);
  for (const Group& group : Groups()) {
    for (const char* name : group.openssl_names) {
      if (lower == name) return &group;
    }
  }
  return nullptr;
}

std::string RecordedGroupName(gnutls_group_t id) {
  for (const Group& group : Groups()) {
    if (group.id == id) return group.recorded;
  }
  return "";
}

// OfferSelecting's signature schemes (RFC 8446 §4.2.3), in GnuTLS's priority keywords. GnuTLS has
// two entries for each ECDSA code point: the TLS 1.3 scheme bound to its curve and the TLS 1.2
// hash-and-ECDSA pair (RFC 5246 §7.4.1.4.1); both are enabled, and the ClientHello carries the
// code point once.
const std::map<std::string, std::string>& SignatureKeywords() {
  static const std::map<std::string, std::string>* keywords =
      new std::map<std::string, std::string>{
          {"ecdsa_secp256r1_sha256", "+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SHA256"},
          {"ecdsa_secp384r1_sha384", "+SIGN-ECDSA-SECP384R1-SHA384:+SIGN-ECDSA-SHA384"},
          {"rsa_pss_rsae_sha256", "+SIGN-RSA-PSS-RSAE-SHA256"},
          {"rsa_pss_rsae_sha384", "+SIGN-RSA-PSS-RSAE-SHA384"},
          {"rsa_pss_rsae_sha512", "+SIGN-RSA-PSS-RSAE-SHA512"},
          {"rsa_pkcs1_sha256", "+SIGN-RSA-SHA256"},
          {"rsa_pkcs1_sha384", "+SIGN-RSA-SHA384"},
          {"rsa_pkcs1_sha512", "+SIGN-RSA-SHA512"},
          {"ed25519", "+SIGN-EDDSA-ED25519"},
      };
  return *keywords;
}

// OfferSelecting's TLS 1.2 cipher suites, by their authentication: the key exchanges whose suites
// a server with such a key can choose (RFC 8422 §2, RFC 5246 §7.4.2).
const std::map<std::string, std::string>& KeyExchangeKeywords() {
  static const std::map<std::string, std::string>* keywords =
      new std::map<std::string, std::string>{
          {"aECDSA:!eNULL", "+ECDHE-ECDSA"},
          {"aRSA:!eNULL", "+ECDHE-RSA:+DHE-RSA:+RSA"},
      };
  return *keywords;
}

// The default offer's key exchanges: every one the OpenSSL client's default offers but for
// anonymous and PSK ones.
constexpr char kDefaultKeyExchanges[] = "+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA:+RSA";

// The default offer's signature schemes: the OpenSSL client's at security level 0, in its order
// (ECDSA and EdDSA before RSA, so that a server holding an ECDSA and an RSA certificate shows the
// default offer the one it shows the OpenSSL client), without DSA and SHA-224, which GnuTLS does
// not offer; the SHA-1 ones only when TLS 1.2 is offered, as OpenSSL does.
constexpr char kDefaultSignatures[] =
    "-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SHA256:+SIGN-ECDSA-SECP384R1-SHA384:"
    "+SIGN-ECDSA-SHA384:+SIGN-ECDSA-SECP521R1-SHA512:+SIGN-ECDSA-SHA512:+SIGN-EDDSA-ED25519:"
    "+SIGN-EDDSA-ED448:+SIGN-RSA-PSS-SHA256:+SIGN-RSA-PSS-SHA384:+SIGN-RSA-PSS-SHA512:"
    "+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-PSS-RSAE-SHA384:+SIGN-RSA-PSS-RSAE-SHA512:"
    "+SIGN-RSA-SHA256:+SIGN-RSA-SHA384:+SIGN-RSA-SHA512";
constexpr char kDefaultTls12Signatures[] = "+SIGN-ECDSA-SHA1:+SIGN-RSA-SHA1";

// AES-128-GCM first, as the OpenSSL client's TLS 1.3 suites (a SHA-256 key schedule where the
// server follows the client's order); the CBC suites of TLS 1.2 with SHA-1 and SHA-2 MACs, which
// the OpenSSL client's default offers too; AES-CCM, AES-CCM-8 and Camellia-CBC, which its
// key-typed offers ("aECDSA", "aRSA") hold. Not ARIA (RFC 6209), which GnuTLS lacks.
constexpr char kCiphers[] =
    "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:+AES-256-CCM:"
    "+AES-128-CBC:+AES-256-CBC:+AES-128-CCM-8:+AES-256-CCM-8:+CAMELLIA-128-CBC:+CAMELLIA-256-CBC:"
    "-MAC-ALL:+AEAD:+SHA1:+SHA256:+SHA384";

// More than OpenSSL's limit of consecutive warning alerts (MAX_WARN_ALERT_COUNT, 5) is refused.
constexpr int kMaxWarningAlerts = 5;
// gnutls_handshake results that are neither progress nor GNUTLS_E_AGAIN nor fatal, per handshake.
constexpr int kMaxNonFatalResults = 16;

// All the bytes one handshake may read from the server: the bound on the certificate list and
// room for the rest of the server's flight (ServerHello, EncryptedExtensions or ServerKeyExchange,
// a stapled OCSP response, CertificateVerify, Finished, record framing).
constexpr size_t kMaxHandshakeBytesRead = kMaxCertificateListBytes + 64 * 1024;

// The engine's socket as GnuTLS reads it during one handshake, counting what it read. GnuTLS 3.7
// buffers a handshake message whole, up to the 16 MiB its header may declare, before its own
// bound (gnutls_handshake_set_max_packet_length) is applied; reading no more than
// kMaxHandshakeBytesRead keeps each connection's memory within the bound, as OpenSSL's check of
// the message header does (trust rule 8).
struct CountedReads {
  int fd = -1;
  size_t read = 0;
  bool over_bound = false;
};

ssize_t CountedPull(gnutls_transport_ptr_t transport, void* data, size_t size) {
  auto* reads = static_cast<CountedReads*>(transport);
  if (reads->read >= kMaxHandshakeBytesRead) {
    reads->over_bound = true;
    errno = EMSGSIZE;
    return -1;
  }
  const ssize_t got =
      recv(reads->fd, data, std::min(size, kMaxHandshakeBytesRead - reads->read), 0);
  if (got > 0) reads->read += static_cast<size_t>(got);
  return got;
}

// Only for a handshake timeout, which the engine never sets (its own timers bound each phase).
int CountedPullTimeout(gnutls_transport_ptr_t transport, unsigned int ms) {
  return gnutls_system_recv_timeout(reinterpret_cast<gnutls_transport_ptr_t>(static_cast<intptr_t>(
                                        static_cast<CountedReads*>(transport)->fd)),
                                    ms);
}

std::string GnuTlsMessage(int result) {
  const char* name = gnutls_strerror_name(result);
  return absl::StrCat(gnutls_strerror(result), " (", name != nullptr ? name : "GnuTLS error", ")");
}

class GnuTlsHandshake : public TlsHandshake {
 public:
  GnuTlsHandshake(gnutls_session_t session, const std::string& target)
      : session_(session), failed_(absl::StrCat("TLS handshake with ", target, " failed")) {}
  ~GnuTlsHandshake() override { gnutls_deinit(session_); }
  GnuTlsHandshake(const GnuTlsHandshake&) = delete;
  GnuTlsHandshake& operator=(const GnuTlsHandshake&) = delete;

  Step Continue() override {
    while (true) {
      errno = 0;
      const int result = gnutls_handshake(session_);
      const int saved_errno = errno;
      if (result == GNUTLS_E_SUCCESS) return Step::kDone;
      if (result == GNUTLS_E_AGAIN) {
        return gnutls_record_get_direction(session_) == 1 ? Step::kWantWrite : Step::kWantRead;
      }
      if (result == GNUTLS_E_WARNING_ALERT_RECEIVED && ++warning_alerts_ <= kMaxWarningAlerts) {
        continue;
      }
      if (result != GNUTLS_E_WARNING_ALERT_RECEIVED && gnutls_error_is_fatal(result) == 0 &&
          ++non_fatal_results_ <= kMaxNonFatalResults) {
        continue;
      }
      Failed(result, saved_errno);
      return Step::kFailed;
    }
  }

  const HandshakeFailure& failure() const override { return failure_; }

  // Where GnuTLS reads the server's bytes from (CountedPull).
  CountedReads* reads() { return &reads_; }

  HandshakeEvidence Finish() override {
    HandshakeEvidence evidence;
    unsigned int count = 0;
    const gnutls_datum_t* peers = gnutls_certificate_get_peers(session_, &count);
    if (peers == nullptr || count == 0) return evidence;
    for (unsigned int i = 0; i < count; ++i) {
      evidence.chain_der.emplace_back(reinterpret_cast<const char*>(peers[i].data), peers[i].size);
    }
    const gnutls_protocol_t version = gnutls_protocol_get_version(session_);
    if (version == GNUTLS_TLS1_3) {
      evidence.version = "TLSv1.3";
    } else if (version == GNUTLS_TLS1_2) {
      evidence.version = "TLSv1.2";
    } else {
      const char* name = gnutls_protocol_get_name(version);
      evidence.version = name != nullptr ? name : "";
    }
    // The canonical name is the IANA one, as SSL_CIPHER_standard_name's.
    const char* cipher = gnutls_ciphersuite_get(session_);
    if (cipher != nullptr) evidence.cipher = cipher;
    evidence.group = RecordedGroupName(gnutls_group_get(session_));
    // Non-blocking: sent if the socket takes it now, never waited for.
    gnutls_bye(session_, GNUTLS_SHUT_WR);
    return evidence;
  }

 private:
  // Classifies a fatal gnutls_handshake result as the OpenSSL client does: a fatal alert from the
  // server (RFC 8446 §6.2), a connection closed or reset, or any other protocol failure.
  void Failed(int result, int saved_errno) {
    failure_.error_class = v1::PROTOCOL_ERROR;
    if (reads_.over_bound) {
      failure_.sentence = absl::StrCat(failed_, ": excessive message size: the server sent over ",
                                       kMaxHandshakeBytesRead, " bytes of handshake");
      return;
    }
    switch (result) {
      case GNUTLS_E_FATAL_ALERT_RECEIVED: {
        const gnutls_alert_description_t alert = gnutls_alert_get(session_);
        const char* name = gnutls_alert_get_name(alert);
        failure_.error_class = v1::TLS_ALERT;
        failure_.alert = static_cast<uint32_t>(alert);
        failure_.sentence =
            absl::StrCat(failed_, ": the server sent the fatal alert ",
                         name != nullptr ? name : "(unnamed)", " (TLS alert number ", alert, ")");
        return;
      }
      case GNUTLS_E_PREMATURE_TERMINATION:
      // A close_notify alert (RFC 8446 §6.1) before the handshake ended, as OpenSSL's
      // SSL_ERROR_ZERO_RETURN.
      case GNUTLS_E_SESSION_EOF:
        failure_.error_class = v1::CONNECTION_CLOSED;
        failure_.sentence = absl::StrCat(failed_, ": the server closed the connection");
        return;
      case GNUTLS_E_PULL_ERROR:
      case GNUTLS_E_PUSH_ERROR:
        failure_.error_class = v1::CONNECTION_CLOSED;
        failure_.sentence = absl::StrCat(
            failed_, ": ", saved_errno != 0 ? std::strerror(saved_errno) : GnuTlsMessage(result));
        return;
      case GNUTLS_E_HANDSHAKE_TOO_LARGE:
        failure_.sentence =
            absl::StrCat(failed_, ": excessive message size: a handshake over ",
                         kMaxHandshakeBytesRead, " bytes (", GnuTlsMessage(result), ")");
        return;
      case GNUTLS_E_WARNING_ALERT_RECEIVED:
        failure_.sentence = absl::StrCat(failed_, ": more than ", kMaxWarningAlerts,
                                         " warning alerts from the server");
        return;
      default:
        failure_.sentence = absl::StrCat(failed_, ": ", GnuTlsMessage(result));
        return;
    }
  }

  const gnutls_session_t session_;
  const std::string failed_;
  CountedReads reads_;
  int warning_alerts_ = 0;
  int non_fatal_results_ = 0;
  HandshakeFailure failure_;
};

class GnuTlsClient : public TlsClient {
 public:
  GnuTlsClient() = default;
  ~GnuTlsClient() override {
    for (auto& [key_type, priority] : priorities_) gnutls_priority_deinit(priority);
    if (credentials_ != nullptr) gnutls_certificate_free_credentials(credentials_);
  }
  GnuTlsClient(const GnuTlsClient&) = delete;
  GnuTlsClient& operator=(const GnuTlsClient&) = delete;

  absl::Status Init(const TlsClientOptions& options) {
    // An empty credential: the client sends no certificate and sets no trust anchors (nothing is
    // verified unless a session asks, and none does).
    if (gnutls_certificate_allocate_credentials(&credentials_) != GNUTLS_E_SUCCESS) {
      credentials_ = nullptr;
      return absl::InternalError("gnutls_certificate_allocate_credentials failed");
    }
    std::vector<v1::CertificateKeyType> key_types = {v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED};
    key_types.insert(key_types.end(), std::begin(kSelectableKeyTypes),
                     std::end(kSelectableKeyTypes));
    for (v1::CertificateKeyType key_type : key_types) {
      absl::StatusOr<std::string> text = GnuTlsPriority(options, key_type);
      if (!text.ok()) return text.status();
      gnutls_priority_t priority = nullptr;
      const char* error_at = nullptr;
      const int result = gnutls_priority_init(&priority, text->c_str(), &error_at);
      if (result != GNUTLS_E_SUCCESS) {
        return absl::InvalidArgumentError(
            absl::StrCat("GnuTLS refuses the priority string '", *text, "' at '",
                         error_at != nullptr ? error_at : "", "': ", GnuTlsMessage(result)));
      }
      priorities_.emplace(key_type, priority);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<TlsHandshake>> Start(int fd, const std::string& sni,
                                                      v1::CertificateKeyType key_type,
                                                      const std::string& target) override {
    auto found = priorities_.find(key_type);
    if (found == priorities_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot set up TLS for ", target, ": no ClientHello for ", KeyTypeName(key_type)));
    }
    // No tickets (RFC 8446 §2.2: a resumed handshake carries no certificate, and the client keeps
    // no session); one key share, the first group's (the OpenSSL client's too); no SIGPIPE.
    gnutls_session_t session = nullptr;
    int result = gnutls_init(&session, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS |
                                           GNUTLS_KEY_SHARE_TOP | GNUTLS_NO_SIGNAL);
    if (result != GNUTLS_E_SUCCESS) {
      return absl::InternalError(
          absl::StrCat("cannot set up TLS for ", target, ": gnutls_init: ", GnuTlsMessage(result)));
    }
    auto handshake = std::make_unique<GnuTlsHandshake>(session, target);
    result = gnutls_priority_set(session, found->second);
    if (result == GNUTLS_E_SUCCESS) {
      result = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials_);
    }
    if (result == GNUTLS_E_SUCCESS && !sni.empty()) {
      result = gnutls_server_name_set(session, GNUTLS_NAME_DNS, sni.data(), sni.size());
    }
    if (result != GNUTLS_E_SUCCESS) {
      return absl::InternalError(
          absl::StrCat("cannot set up TLS for ", target, ": ", GnuTlsMessage(result)));
    }
    // Trust rule 8. GnuTLS's own bound counts the whole handshake (every message, a stapled OCSP
    // response), not the Certificate message alone: set to what the engine reads at most, so that
    // the certificate list is bounded as OpenSSL bounds it, by the engine (TlsEngine's Record).
    gnutls_handshake_set_max_packet_length(session, kMaxHandshakeBytesRead);
    // Reads counted (CountedReads); writes straight to the socket (GnuTLS's own, MSG_NOSIGNAL).
    CountedReads* reads = handshake->reads();
    reads->fd = fd;
    gnutls_transport_set_ptr2(session, reads,
                              reinterpret_cast<gnutls_transport_ptr_t>(static_cast<intptr_t>(fd)));
    gnutls_transport_set_pull_function(session, CountedPull);
    gnutls_transport_set_pull_timeout_function(session, CountedPullTimeout);
    return handshake;
  }

 private:
  gnutls_certificate_credentials_t credentials_ = nullptr;
  // By key type, CERTIFICATE_KEY_TYPE_UNSPECIFIED for the default offer; constant after Init.
  // Shared by the sessions of every event loop: gnutls_priority_set counts a cache's users
  // atomically, and sessions only read it and the credential.
  std::map<v1::CertificateKeyType, gnutls_priority_t> priorities_;
};

}  // namespace

absl::StatusOr<std::string> GnuTlsPriority(const TlsClientOptions& options,
                                           v1::CertificateKeyType key_type) {
  // NORMAL, then every list replaced. %PROFILE_VERY_WEAK: GnuTLS's lowest security level, as
  // the OpenSSL client's security level 0, so that a server with a small DH prime is still seen.
  std::string priority = "NORMAL:%PROFILE_VERY_WEAK:-VERS-ALL";
  if (options.max_version >= 0x0304) absl::StrAppend(&priority, ":+VERS-TLS1.3");
  if (options.min_version <= 0x0303) absl::StrAppend(&priority, ":+VERS-TLS1.2");
  if (!options.groups.empty()) {
    absl::StrAppend(&priority, ":-GROUP-ALL");
    for (absl::string_view name : absl::StrSplit(options.groups, ':')) {
      const Group* group = GroupNamed(std::string(name));
      if (group == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("TLS groups '", options.groups, "': GnuTLS has no group '", name,
                         "' (X25519, X448, P-256, P-384, P-521, ffdhe2048 ... ffdhe8192)"));
      }
      absl::StrAppend(&priority, ":+", group->priority);
    }
  }
  absl::StrAppend(&priority, ":", kCiphers);
  if (key_type == v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED) {
    absl::StrAppend(&priority, ":-KX-ALL:", kDefaultKeyExchanges, ":", kDefaultSignatures);
    if (options.min_version <= 0x0303) absl::StrAppend(&priority, ":", kDefaultTls12Signatures);
    return priority;
  }
  absl::StatusOr<KeyTypeOffer> offer = OfferSelecting(key_type);
  if (!offer.ok()) return offer.status();
  auto key_exchanges = KeyExchangeKeywords().find(offer->tls12_cipher_suites);
  if (key_exchanges == KeyExchangeKeywords().end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no GnuTLS key exchanges for the TLS 1.2 suites '", offer->tls12_cipher_suites, "'"));
  }
  absl::StrAppend(&priority, ":-KX-ALL:", key_exchanges->second, ":-SIGN-ALL");
  for (absl::string_view scheme : absl::StrSplit(offer->signature_algorithms, ':')) {
    auto keyword = SignatureKeywords().find(std::string(scheme));
    if (keyword == SignatureKeywords().end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("no GnuTLS name for the signature scheme '", scheme, "'"));
    }
    absl::StrAppend(&priority, ":", keyword->second);
  }
  return priority;
}

absl::StatusOr<std::unique_ptr<TlsClient>> CreateGnuTlsClient(const TlsClientOptions& options) {
  auto client = std::make_unique<GnuTlsClient>();
  absl::Status initialized = client->Init(options);
  if (!initialized.ok()) return initialized;
  return client;
}

}  // namespace probe_agent
}  // namespace mecai
