// One TLS client handshake on a connected non-blocking socket, apart from the event loop that
// drives it (probe_agent/tls_engine.h): the engine owns the socket, the timers and the record of
// the observation; a TlsClient makes the ClientHello and runs the handshake in one TLS library.
// Two libraries implement it: OpenSSL 3 (probe_agent/openssl_handshake.h) and GnuTLS
// (probe_agent/gnutls_handshake.h); docs/PERFORMANCE.md, "Probe engine on GnuTLS", compares them.
// Both report the same evidence with the same names, so an observation does not tell which
// library made it.
#ifndef MECAI_PROBE_AGENT_TLS_HANDSHAKE_H_
#define MECAI_PROBE_AGENT_TLS_HANDSHAKE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {
namespace probe_agent {

// What the engine offers in every ClientHello. The defaults are ProbeAgentConfig's.
struct TlsClientOptions {
  // TLS1_2_VERSION (RFC 5246) or TLS1_3_VERSION (RFC 8446).
  int min_version = 0x0303;
  int max_version = 0x0304;
  // Key-exchange groups in preference order, OpenSSL list syntax (RFC 8446 §4.2.7, RFC 8422
  // §5.1.1), whichever library runs the handshake.
  std::string groups = "X25519:P-256:P-384:P-521:X448";
};

// Parses "TLSv1.2" / "TLSv1.3" into TLS1_2_VERSION / TLS1_3_VERSION; INVALID_ARGUMENT otherwise.
absl::StatusOr<int> ParseTlsVersion(const std::string& text);

// The TLS library a probe engine runs its handshakes in.
enum class TlsLibrary { kOpenSsl, kGnuTls };

// Parses "openssl" / "gnutls"; INVALID_ARGUMENT otherwise.
absl::StatusOr<TlsLibrary> ParseTlsLibrary(absl::string_view text);
// "openssl" / "gnutls".
std::string TlsLibraryName(TlsLibrary library);
// The library's name and the version this process runs ("gnutls 3.7.9", "openssl 3.0.19"), for
// the agent's start-up line: agents of one quorum should run the same library
// (docs/OPERATIONS.md "Adding a probe agent").
std::string TlsLibraryDescription(TlsLibrary library);

// What a completed handshake showed.
struct HandshakeEvidence {
  // The server's certificates, DER, as its Certificate message lists them (RFC 8446 §4.4.2, RFC
  // 5246 §7.4.2): the leaf first. Empty when the server sent none.
  std::vector<std::string> chain_der;
  // "TLSv1.2" or "TLSv1.3".
  std::string version;
  // The cipher suite's IANA name, e.g. "TLS_AES_128_GCM_SHA256",
  // "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384".
  std::string cipher;
  // The key-exchange group by OpenSSL's short name ("X25519", "prime256v1", "secp384r1",
  // "secp521r1", "X448", "ffdhe2048", ...); empty when none was negotiated or it is unknown.
  std::string group;
};

// Why a handshake failed.
struct HandshakeFailure {
  // PROTOCOL_ERROR, TLS_ALERT (a fatal alert from the server, RFC 8446 §6.2), CONNECTION_CLOSED.
  v1::ErrorClass error_class = v1::PROTOCOL_ERROR;
  // With TLS_ALERT: the alert's number.
  uint32_t alert = 0;
  // "TLS handshake with <target> failed: <why>".
  std::string sentence;
};

// One client handshake. Not thread-safe: only the thread of the connection's event loop uses it.
class TlsHandshake {
 public:
  enum class Step {
    kDone,       // Completed: call Finish.
    kWantRead,   // Call Continue again when the socket is readable.
    kWantWrite,  // ... writable.
    kFailed,     // Failed: see failure().
  };

  virtual ~TlsHandshake() = default;

  // Runs the handshake as far as the socket allows.
  virtual Step Continue() = 0;
  // After kFailed.
  virtual const HandshakeFailure& failure() const = 0;
  // After kDone: what the handshake showed; then a close_notify (RFC 8446 §6.1) is sent, once,
  // without waiting for the server's.
  virtual HandshakeEvidence Finish() = 0;
};

// The client side of one library, made once per engine. Thread-safe.
class TlsClient {
 public:
  virtual ~TlsClient() = default;

  // Starts a handshake on `fd`, a connected non-blocking TCP socket (borrowed: the caller closes it
  // after destroying the handshake), sending `sni` as server_name (RFC 6066 §3; empty: none) and,
  // unless `key_type` is CERTIFICATE_KEY_TYPE_UNSPECIFIED, offering only what selects a
  // certificate of `key_type` (OfferSelecting, common/crypto/certificate_key_type.h). `target`
  // ("address port N") is for sentences. An error says in a sentence why nothing started.
  virtual absl::StatusOr<std::unique_ptr<TlsHandshake>> Start(int fd, const std::string& sni,
                                                              v1::CertificateKeyType key_type,
                                                              const std::string& target) = 0;
};

// A client of `library` for `options`: no certificate verification (the agent reports what it was
// sent; the coordinator and the signer judge it, ARCHITECTURE.md §3), never a resumed session (RFC
// 8446 §2.2: a resumed handshake carries no certificate), a Certificate message of at most
// kMaxCertificateListBytes (trust rule 8), and one offer per key type of kSelectableKeyTypes.
// INVALID_ARGUMENT for versions or groups the library refuses.
absl::StatusOr<std::unique_ptr<TlsClient>> CreateTlsClient(TlsLibrary library,
                                                           const TlsClientOptions& options);

// Trust rule 8: the largest handshake message carrying the server's certificates accepted. A
// server that sends more fails the handshake (PROTOCOL_ERROR).
inline constexpr int kMaxCertificateListBytes = 100 * 1024;

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_TLS_HANDSHAKE_H_
