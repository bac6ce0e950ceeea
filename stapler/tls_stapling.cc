#include "stapler/tls_stapling.h"

#include <openssl/crypto.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/crypto/openssl_error.h"

namespace mecai {
namespace {

// What this connection's ClientHello asked for, recorded by the parse callbacks (OpenSSL calls
// them in an order of its own), and the answer, computed by the first add callback once the whole
// ClientHello has been parsed. Owned by the SSL through its ex_data; freed with it.
struct ConnectionState {
  // A non-empty mecai_vouching body: the form of clients before mecai_vouching_request.
  std::optional<MecaiRequest> vouching_body;
  // mecai_vouching_request.
  std::optional<MecaiRequest> request;
  bool answered = false;
  std::string answer;

  // docs/TLS_EXTENSION.md §3: mecai_vouching_request decides; else the older non-empty
  // mecai_vouching body; else the empty request, "every VD".
  MecaiRequest Effective() const {
    if (request.has_value()) return *request;
    if (vouching_body.has_value()) return *vouching_body;
    return MecaiRequest{};
  }
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
  if (options_.extension_type == options_.request_extension_type ||
      options_.extension_type == options_.feedback_extension_type ||
      options_.request_extension_type == options_.feedback_extension_type) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the MECAI extensions need three code points, not ", options_.extension_type, ", ",
        options_.request_extension_type, " and ", options_.feedback_extension_type));
  }
  ClearOpenSslErrors();
  // ARCHITECTURE.md §5: one registration serves TLS 1.2 (ServerHello) and TLS 1.3 (the end-entity
  // CertificateEntry, RFC 8446 §4.4.2).
  if (SSL_CTX_add_custom_ext(
          context, options_.extension_type,
          SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO | SSL_EXT_TLS1_3_CERTIFICATE,
          &AddCallback, &FreeCallback, this, &ParseCallback, this) != 1) {
    return OpenSslError(absl::StrCat("registering TLS extension ", options_.extension_type));
  }
  // mecai_vouching_request and mecai_feedback travel only in the ClientHello; the server never
  // answers them (OpenSSL 3.0 still wants an add callback for a ClientHello-only extension).
  const auto never_answered = [](SSL*, unsigned int, unsigned int, const unsigned char**, size_t*,
                                 X509*, size_t, int*, void*) { return 0; };
  if (SSL_CTX_add_custom_ext(context, options_.request_extension_type, SSL_EXT_CLIENT_HELLO,
                             never_answered, nullptr, nullptr, &ParseRequestCallback, this) != 1) {
    return OpenSslError(
        absl::StrCat("registering TLS extension ", options_.request_extension_type));
  }
  if (SSL_CTX_add_custom_ext(context, options_.feedback_extension_type, SSL_EXT_CLIENT_HELLO,
                             never_answered, nullptr, nullptr, &ParseFeedbackCallback, this) != 1) {
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

void StaplingServer::CountMalformedRequest() {
  absl::MutexLock lock(&mutex_);
  ++counts_.requests;
  ++counts_.malformed_requests;
  if (requests_metric_ != nullptr) requests_metric_->Add({{"outcome", "malformed"}}).Increment();
}

int StaplingServer::ParseCallback(SSL* ssl, unsigned int /*type*/, unsigned int context,
                                  const unsigned char* in, size_t in_length, X509* /*certificate*/,
                                  size_t /*chain_index*/, int* alert, void* argument) {
  auto* server = static_cast<StaplingServer*>(argument);
  if ((context & SSL_EXT_CLIENT_HELLO) == 0) return 1;
  auto request =
      DecodeMecaiRequest(absl::string_view(reinterpret_cast<const char*>(in), in_length));
  if (!request.ok()) {
    // docs/TLS_EXTENSION.md §2: a malformed request ends the handshake with decode_error
    // (RFC 8446 §6.2).
    server->CountMalformedRequest();
    *alert = SSL_AD_DECODE_ERROR;
    return 0;
  }
  ConnectionState* state = StateOf(ssl, /*create=*/true);
  state->vouching_body.reset();
  if (!request->AsksForEverything()) state->vouching_body = std::move(*request);
  return 1;
}

int StaplingServer::ParseRequestCallback(SSL* ssl, unsigned int /*type*/, unsigned int /*context*/,
                                         const unsigned char* in, size_t in_length,
                                         X509* /*certificate*/, size_t /*chain_index*/, int* alert,
                                         void* argument) {
  auto* server = static_cast<StaplingServer*>(argument);
  auto request =
      DecodeVouchingRequest(absl::string_view(reinterpret_cast<const char*>(in), in_length));
  if (!request.ok()) {
    // Strict as mecai_vouching (docs/TLS_EXTENSION.md §2): decode_error (RFC 8446 §6.2).
    server->CountMalformedRequest();
    *alert = SSL_AD_DECODE_ERROR;
    return 0;
  }
  StateOf(ssl, /*create=*/true)->request = std::move(*request);
  return 1;
}

int StaplingServer::AddCallback(SSL* ssl, unsigned int /*type*/, unsigned int context,
                                const unsigned char** out, size_t* out_length,
                                X509* /*certificate*/, size_t chain_index, int* /*alert*/,
                                void* argument) {
  auto* server = static_cast<StaplingServer*>(argument);
  // OpenSSL 3.0 calls this once per CertificateEntry in TLS 1.3; the VDs belong to the end-entity
  // certificate, the first entry (RFC 8446 §4.4.2).
  if ((context & SSL_EXT_TLS1_3_CERTIFICATE) != 0 && chain_index != 0) return 0;
  // OpenSSL calls a server's add callback only for an extension the ClientHello carried (RFC 8446
  // §4.2), so the parse callback made the state.
  ConnectionState* state = StateOf(ssl, /*create=*/false);
  if (state == nullptr) return 0;
  if (!state->answered) {
    state->answered = true;
    state->answer = EncodeVouchingDataList(server->vd_set()->Select(state->Effective()));
    absl::MutexLock lock(&server->mutex_);
    ++server->counts_.requests;
    if (!state->answer.empty()) ++server->counts_.stapled;
    if (server->requests_metric_ != nullptr) {
      server->requests_metric_->Add({{"outcome", state->answer.empty() ? "no_vd" : "stapled"}})
          .Increment();
    }
  }
  if (state->answer.empty()) return 0;  // Nothing selected: omit the extension.
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
