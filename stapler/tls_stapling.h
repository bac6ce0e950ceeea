// The server side of the MECAI TLS extension (ARCHITECTURE.md §5; docs/TLS_EXTENSION.md):
// registered on an SSL_CTX, it answers each ClientHello's mecai_vouching with the VDs its
// mecai_vouching_request asks for from the current set (every VD without one), and counts the
// mecai_feedback clients send (MECAI proposal, "Client behaviour": "the client might still send a
// feedback message to the server, informing the server about VAs that cannot be verified").
#ifndef MECAI_STAPLER_TLS_STAPLING_H_
#define MECAI_STAPLER_TLS_STAPLING_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto/openssl_types.h"
#include "common/tls_extension/mecai_extension.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// The VDs a server holds, one per VA. Immutable. Thread-safe.
class VdSet {
 public:
  struct Entry {
    std::string va_id;
    std::string trust_list;
    // The serialized VouchingData, exactly as it is stapled.
    std::string serialized;
  };

  // Reads each VD's statement (unverified: these are the server's own, already checked VDs) for
  // its VA id and trust list. INVALID_ARGUMENT for bytes that are not a VouchingData, and for two
  // VDs of one VA.
  static absl::StatusOr<std::shared_ptr<const VdSet>> FromSerialized(
      const std::vector<std::string>& serialized_vds);

  const std::vector<Entry>& entries() const { return entries_; }
  // The serialized VDs answering `request`: every VD for the empty request; otherwise the VD of
  // each candidate VA (in the client's order) whose trust list is the requested one (any, when the
  // request names none).
  std::vector<std::string> Select(const MecaiRequest& request) const;

 private:
  std::vector<Entry> entries_;
};

struct StaplingOptions {
  // The code points (docs/TLS_EXTENSION.md §1); three distinct values.
  uint16_t extension_type = kDefaultMecaiExtensionType;
  uint16_t feedback_extension_type = kDefaultMecaiFeedbackExtensionType;
  uint16_t request_extension_type = kDefaultMecaiRequestExtensionType;
  // VA ids that get their own feedback metric label (the server's VA list); others count as
  // "other" (CONTRIBUTING.md rule 7: bounded labels).
  std::set<std::string> known_va_ids;
};

// Thread-safe: SetVdSet may run while handshakes on any thread read the set.
class StaplingServer {
 public:
  // `registry` may be null (no Prometheus metrics); the counters below always count.
  StaplingServer(StaplingOptions options, prometheus::Registry* registry);
  StaplingServer(const StaplingServer&) = delete;
  StaplingServer& operator=(const StaplingServer&) = delete;

  // Registers mecai_vouching (contexts ClientHello | TLS 1.2 ServerHello | TLS 1.3 Certificate),
  // mecai_vouching_request and mecai_feedback (ClientHello) on a server SSL_CTX; INVALID_ARGUMENT
  // when the options give two of them one code point. `this` must outlive every SSL made from it.
  //
  // What a ClientHello asks for (docs/TLS_EXTENSION.md §3): its mecai_vouching_request when it
  // carries one; otherwise a non-empty mecai_vouching body, the form of clients before
  // mecai_vouching_request (decoded with the same strict codec); otherwise every VD.
  absl::Status Register(SSL_CTX* context);

  void SetVdSet(std::shared_ptr<const VdSet> set);
  std::shared_ptr<const VdSet> vd_set() const;

  struct Counts {
    // ClientHellos carrying mecai_vouching that were answered or were malformed (mecai_vouching
    // or mecai_vouching_request; the handshake failed with decode_error), and answers with at
    // least one VD.
    uint64_t requests = 0;
    uint64_t malformed_requests = 0;
    uint64_t stapled = 0;
    // Feedback entries by (VA id or "other", reason name); malformed feedback (ignored).
    std::map<std::pair<std::string, std::string>, uint64_t> feedback;
    uint64_t malformed_feedback = 0;
  };
  Counts counts() const;

 private:
  static int AddCallback(SSL* ssl, unsigned int type, unsigned int context,
                         const unsigned char** out, size_t* out_length, X509* certificate,
                         size_t chain_index, int* alert, void* argument);
  static void FreeCallback(SSL* ssl, unsigned int type, unsigned int context,
                           const unsigned char* out, void* argument);
  static int ParseCallback(SSL* ssl, unsigned int type, unsigned int context,
                           const unsigned char* in, size_t in_length, X509* certificate,
                           size_t chain_index, int* alert, void* argument);
  static int ParseRequestCallback(SSL* ssl, unsigned int type, unsigned int context,
                                  const unsigned char* in, size_t in_length, X509* certificate,
                                  size_t chain_index, int* alert, void* argument);
  static int ParseFeedbackCallback(SSL* ssl, unsigned int type, unsigned int context,
                                   const unsigned char* in, size_t in_length, X509* certificate,
                                   size_t chain_index, int* alert, void* argument);

  void CountFeedback(const std::vector<FeedbackEntry>& entries);
  // Counts a ClientHello whose mecai_vouching or mecai_vouching_request did not decode.
  void CountMalformedRequest();

  // Constant after construction.
  const StaplingOptions options_;
  prometheus::Family<prometheus::Counter>* requests_metric_ = nullptr;
  prometheus::Family<prometheus::Counter>* feedback_metric_ = nullptr;

  mutable absl::Mutex mutex_;
  std::shared_ptr<const VdSet> set_ ABSL_GUARDED_BY(mutex_);
  Counts counts_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_STAPLER_TLS_STAPLING_H_
