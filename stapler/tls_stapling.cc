#include "stapler/tls_stapling.h"

#include <openssl/crypto.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/crypto/openssl_error.h"

namespace mecai {
namespace {

// The body of this connection's answer, computed when the ClientHello is parsed and sent by the
// add callback. Owned by the SSL through its ex_data; freed with it.
struct ConnectionState {
  std::string answer;
};

void FreeConnectionState(void* /*parent*/, void* pointer, CRYPTO_EX_DATA* /*data*/, int /*index*/,
                         long /*argl*/, void* /*argp*/) {
  delete static_cast<ConnectionState*>(pointer);
}

int ConnectionStateIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeConnectionState);
  return index;
}

ConnectionState* StateOf(SSL* ssl, bool create) {
  auto* state = static_cast<ConnectionState*>(SSL_get_ex_data(ssl, ConnectionStateIndex()));
  if (state == nullptr && create) {
    state = new ConnectionState();
    SSL_set_ex_data(ssl, ConnectionStateIndex(), state);
  }
  return state;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const VdSet>> VdSet::FromSerialized(
    const std::vector<std::string>& serialized_vds) {
  auto set = std::make_shared<VdSet>();
  std::set<std::string> seen;
  for (const std::string& serialized : serialized_vds) {
    v1::VouchingData vd;
    v1::VouchingStatement statement;
    if (!vd.ParseFromString(serialized) || !statement.ParseFromString(vd.statement())) {
      return absl::InvalidArgumentError("a stapled VD is not a serialized VouchingData");
    }
    if (!seen.insert(statement.va_id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("two VDs of VA '", statement.va_id(), "' in one set"));
    }
    set->entries_.push_back({statement.va_id(), statement.trust_list(), serialized});
  }
  return std::shared_ptr<const VdSet>(std::move(set));
}

std::vector<std::string> VdSet::Select(const MecaiRequest& request) const {
  std::vector<std::string> selected;
  if (request.AsksForEverything()) {
    for (const Entry& entry : entries_) selected.push_back(entry.serialized);
    return selected;
  }
  for (const std::string& va_id : request.candidate_vas) {
    for (const Entry& entry : entries_) {
      if (entry.va_id == va_id &&
          (request.trust_list.empty() || request.trust_list == entry.trust_list)) {
        selected.push_back(entry.serialized);
      }
    }
  }
  return selected;
}

StaplingServer::StaplingServer(StaplingOptions options, prometheus::Registry* registry)
    : options_(std::move(options)), set_(std::make_shared<VdSet>()) {
  if (registry != nullptr) {
    requests_metric_ = &prometheus::BuildCounter()
                            .Name("mecai_stapler_tls_requests_total")
                            .Help("ClientHellos carrying mecai_vouching, by outcome")
                            .Register(*registry);
    feedback_metric_ = &prometheus::BuildCounter()
                            .Name("mecai_stapler_feedback_total")
                            .Help("mecai_feedback entries received, by VA and reason")
                            .Register(*registry);
  }
}

absl::Status StaplingServer::Register(SSL_CTX* context) {
  ClearOpenSslErrors();
  // ARCHITECTURE.md §5: one registration serves TLS 1.2 (ServerHello) and TLS 1.3 (the end-entity
  // CertificateEntry, RFC 8446 §4.4.2).
  if (SSL_CTX_add_custom_ext(
          context, options_.extension_type,
          SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO | SSL_EXT_TLS1_3_CERTIFICATE,
          &AddCallback, &FreeCallback, this, &ParseCallback, this) != 1) {
    return OpenSslError(absl::StrCat("registering TLS extension ", options_.extension_type));
  }
  // mecai_feedback travels only in the ClientHello; the server never answers it (OpenSSL 3.0 still
  // wants an add callback for a ClientHello-only extension).
  if (SSL_CTX_add_custom_ext(
          context, options_.feedback_extension_type, SSL_EXT_CLIENT_HELLO,
          [](SSL*, unsigned int, unsigned int, const unsigned char**, size_t*, X509*, size_t, int*,
             void*) { return 0; },
          nullptr, nullptr, &ParseFeedbackCallback, this) != 1) {
    return OpenSslError(
        absl::StrCat("registering TLS extension ", options_.feedback_extension_type));
  }
  return absl::OkStatus();
}

void StaplingServer::SetVdSet(std::shared_ptr<const VdSet> set) {
  absl::MutexLock lock(&mutex_);
  set_ = std::move(set);
}

std::shared_ptr<const VdSet> StaplingServer::vd_set() const {
  absl::MutexLock lock(&mutex_);
  return set_;
}

StaplingServer::Counts StaplingServer::counts() const {
  absl::MutexLock lock(&mutex_);
  return counts_;
}

int StaplingServer::ParseCallback(SSL* ssl, unsigned int /*type*/, unsigned int context,
                                  const unsigned char* in, size_t in_length, X509* /*certificate*/,
                                  size_t /*chain_index*/, int* alert, void* argument) {
  auto* server = static_cast<StaplingServer*>(argument);
  if ((context & SSL_EXT_CLIENT_HELLO) == 0) return 1;
  auto request =
      DecodeMecaiRequest(absl::string_view(reinterpret_cast<const char*>(in), in_length));
  if (!request.ok()) {
    // docs/TLS_EXTENSION.md: a malformed request ends the handshake with decode_error
    // (RFC 8446 §6.2).
    absl::MutexLock lock(&server->mutex_);
    ++server->counts_.requests;
    ++server->counts_.malformed_requests;
    if (server->requests_metric_ != nullptr) {
      server->requests_metric_->Add({{"outcome", "malformed"}}).Increment();
    }
    *alert = SSL_AD_DECODE_ERROR;
    return 0;
  }
  std::shared_ptr<const VdSet> set = server->vd_set();
  ConnectionState* state = StateOf(ssl, /*create=*/true);
  state->answer = EncodeVouchingDataList(set->Select(*request));
  absl::MutexLock lock(&server->mutex_);
  ++server->counts_.requests;
  if (!state->answer.empty()) ++server->counts_.stapled;
  if (server->requests_metric_ != nullptr) {
    server->requests_metric_->Add({{"outcome", state->answer.empty() ? "no_vd" : "stapled"}})
        .Increment();
  }
  return 1;
}

int StaplingServer::AddCallback(SSL* ssl, unsigned int /*type*/, unsigned int context,
                                const unsigned char** out, size_t* out_length,
                                X509* /*certificate*/, size_t chain_index, int* /*alert*/,
                                void* /*argument*/) {
  // OpenSSL 3.0 calls this once per CertificateEntry in TLS 1.3; the VDs belong to the end-entity
  // certificate, the first entry (RFC 8446 §4.4.2).
  if ((context & SSL_EXT_TLS1_3_CERTIFICATE) != 0 && chain_index != 0) return 0;
  ConnectionState* state = StateOf(ssl, /*create=*/false);
  if (state == nullptr || state->answer.empty()) return 0;  // Nothing held: omit the extension.
  *out =
      static_cast<const unsigned char*>(OPENSSL_memdup(state->answer.data(), state->answer.size()));
  if (*out == nullptr) return 0;
  *out_length = state->answer.size();
  return 1;
}

void StaplingServer::FreeCallback(SSL* /*ssl*/, unsigned int /*type*/, unsigned int /*context*/,
                                  const unsigned char* out, void* /*argument*/) {
  OPENSSL_free(const_cast<unsigned char*>(out));
}

int StaplingServer::ParseFeedbackCallback(SSL* /*ssl*/, unsigned int /*type*/,
                                          unsigned int /*context*/, const unsigned char* in,
                                          size_t in_length, X509* /*certificate*/,
                                          size_t /*chain_index*/, int* /*alert*/, void* argument) {
  auto* server = static_cast<StaplingServer*>(argument);
  auto entries = DecodeFeedback(absl::string_view(reinterpret_cast<const char*>(in), in_length));
  if (!entries.ok()) {
    // Feedback is advisory: a malformed one is counted and ignored, never a handshake failure.
    absl::MutexLock lock(&server->mutex_);
    ++server->counts_.malformed_feedback;
    if (server->feedback_metric_ != nullptr) {
      server->feedback_metric_->Add({{"va", "other"}, {"reason", "malformed"}}).Increment();
    }
    return 1;
  }
  server->CountFeedback(*entries);
  return 1;
}

void StaplingServer::CountFeedback(const std::vector<FeedbackEntry>& entries) {
  absl::MutexLock lock(&mutex_);
  for (const FeedbackEntry& entry : entries) {
    const std::string va =
        options_.known_va_ids.count(entry.va_id) != 0 ? entry.va_id : std::string("other");
    const std::string reason = FeedbackReasonName(entry.reason);
    ++counts_.feedback[{va, reason}];
    if (feedback_metric_ != nullptr) {
      feedback_metric_->Add({{"va", va}, {"reason", reason}}).Increment();
    }
  }
}

}  // namespace mecai
