// The client side of the MECAI TLS extension (ARCHITECTURE.md §5; docs/TLS_EXTENSION.md; MECAI
// proposal, "Client behaviour"): candidate VAs chosen from the built-in VA list, the request in the
// ClientHello (an empty mecai_vouching, which stock servers stapling a serverinfo file accept, and
// the trust list and candidates in mecai_vouching_request, which MECAI servers read and stock
// servers ignore), every received VD verified inside the handshake, and feedback about VAs that
// could not be verified carried in the next ClientHello to the same server.
#ifndef MECAI_CLIENT_MECAI_TLS_CLIENT_H_
#define MECAI_CLIENT_MECAI_TLS_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "common/base/clock.h"
#include "common/crypto/openssl_types.h"
#include "common/tls_extension/mecai_extension.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// The MECAI proposal: "The client may have a preference that is based on the toplevel domain of S's
// hostname ... Alternatively, the client might simply pick two VAs at random." Returns the VAs
// whose preferred_tlds hold the hostname's last label (list order, at most kMaxCandidateVas);
// when none does, two distinct VAs chosen with `random_index(n)` (uniform in [0, n)), or every VA
// of a list of one or two.
std::vector<std::string> ChooseCandidateVas(const VaList& vas, const std::string& hostname,
                                            const std::function<size_t(size_t)>& random_index);

// What a client learned about VAs per server ("host:port"), sent in the next ClientHello to that
// server and then forgotten. Thread-safe.
class FeedbackMemo {
 public:
  void Record(const std::string& server, const std::vector<FeedbackEntry>& entries);
  // Returns and forgets the entries for `server` (at most kMaxFeedbackEntries).
  std::vector<FeedbackEntry> Take(const std::string& server);

  // A text file, one "server va_id reason" per line (for one-shot clients like `mecai s_client`).
  // A missing file is an empty memo.
  absl::Status Load(const std::string& path);
  absl::Status Save(const std::string& path) const;

 private:
  mutable absl::Mutex mutex_;
  std::map<std::string, std::vector<FeedbackEntry>> entries_ ABSL_GUARDED_BY(mutex_);
};

struct MecaiClientOptions {
  // The code points (docs/TLS_EXTENSION.md §1); three distinct values.
  uint16_t extension_type = kDefaultMecaiExtensionType;
  uint16_t feedback_extension_type = kDefaultMecaiFeedbackExtensionType;
  uint16_t request_extension_type = kDefaultMecaiRequestExtensionType;
  // Oldest VD accepted (ARCHITECTURE.md §4: operator-set).
  absl::Duration max_age = kDefaultMaxVdAge;
  // Send no mecai_vouching_request, so that a MECAI server sends every VD it holds, as a stock
  // server does anyway; the received VDs are still checked against the candidates and the trust
  // list. mecai_vouching is sent empty either way (docs/TLS_EXTENSION.md §2).
  bool ask_for_everything = false;
  // Accept only VDs that say issuance was approved out of band (ARCHITECTURE.md §7;
  // docs/APPROVAL.md).
  bool require_out_of_band_approval = false;
};

// The outcome of a connection whose VDs verified.
struct MecaiVerification {
  // The statement of the first VD that verified (ARCHITECTURE.md §5: one is enough).
  v1::VouchingStatement statement;
  // Every VD that did not verify, "VD n (naming <va>): reason".
  std::vector<std::string> problems;
};

// One connection's MECAI state, owned by its SSL (client/mecai_tls_client.cc).
struct MecaiConnectionState;

// Thread-safe; one instance serves any number of connections. `vas`, `clock` and `memo` (may be
// null: no feedback) must outlive it.
class MecaiTlsClient {
 public:
  MecaiTlsClient(const VaList& vas, const Clock& clock, MecaiClientOptions options,
                 FeedbackMemo* memo);

  // Registers mecai_vouching, mecai_vouching_request and mecai_feedback on a client SSL_CTX
  // (INVALID_ARGUMENT when the options give two of them one code point), and the verification of
  // the received VDs inside the handshake: it takes over the context's certificate verification
  // callback (SSL_CTX_set_cert_verify_callback) and sets SSL_VERIFY_PEER. Call it after
  // SSL_CTX_set_verify: if the application had asked for SSL_VERIFY_PEER, the server certificate
  // must also pass OpenSSL's web-PKI verification; with SSL_VERIFY_NONE that result is only
  // recorded (SSL_get_verify_result), as OpenSSL does. Do not change the verify mode afterwards.
  // Once per context: FAILED_PRECONDITION for a context registered before.
  absl::Status Register(SSL_CTX* context) const;

  // Before SSL_connect: the server's name and the TCP port connected to (1..65535; a VD must name
  // both), the trust list and the candidate VAs (at least one, each in the VA list) this
  // connection asks for. Attaches any remembered feedback.
  absl::Status PrepareConnection(SSL* ssl, const std::string& hostname, uint16_t port,
                                 const std::string& trust_list,
                                 const std::vector<std::string>& candidate_vas) const;

  // The verdict on the received VDs (client/vd_verifier.h, against the handshake's leaf
  // certificate), reached inside the handshake: PERMISSION_DENIED naming the VAs asked for when
  // none verifies, in which case the handshake failed with a handshake_failure alert (also
  // answered after that failed handshake). FAILED_PRECONDITION for any other handshake that did
  // not finish, even if its VDs verified. Feedback for the next connection is recorded either
  // way.
  absl::StatusOr<MecaiVerification> VerifyConnection(SSL* ssl) const;

  // Why the handshake failed on the MECAI side (a malformed server extension, or no valid VD), or
  // "".
  static std::string HandshakeProblem(SSL* ssl);

 private:
  // Installed by Register with SSL_CTX_set_cert_verify_callback: OpenSSL's verification, then
  // the VDs. A MECAI refusal always fails the handshake; a web-PKI failure fails it only when the
  // application had set SSL_VERIFY_PEER before Register.
  static int CertificateVerifyCallback(X509_STORE_CTX* store, void* argument);
  // Verifies the VDs of `state` against `leaf` and records feedback.
  absl::StatusOr<MecaiVerification> VerifyVds(MecaiConnectionState& state, X509* leaf) const;

  static int AddCallback(SSL* ssl, unsigned int type, unsigned int context,
                         const unsigned char** out, size_t* out_length, X509* certificate,
                         size_t chain_index, int* alert, void* argument);
  static void FreeCallback(SSL* ssl, unsigned int type, unsigned int context,
                           const unsigned char* out, void* argument);
  static int ParseCallback(SSL* ssl, unsigned int type, unsigned int context,
                           const unsigned char* in, size_t in_length, X509* certificate,
                           size_t chain_index, int* alert, void* argument);

  // Constant after construction.
  const VaList& vas_;
  const Clock& clock_;
  const MecaiClientOptions options_;
  FeedbackMemo* const memo_;
};

}  // namespace mecai

#endif  // MECAI_CLIENT_MECAI_TLS_CLIENT_H_
