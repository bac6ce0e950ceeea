#include "client/mecai_tls_client.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/vd_verifier.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"

namespace mecai {

// Per-connection state, owned by the SSL through its ex_data and freed with it.
struct MecaiConnectionState {
  std::string server;  // "host:port", the feedback memo's key.
  std::string hostname;
  uint16_t port = 0;
  std::string trust_list;
  std::vector<std::string> candidate_vas;
  std::string request;   // mecai_vouching_request body; empty: not sent.
  std::string feedback;  // mecai_feedback body; empty: not sent.
  bool received = false;
  std::vector<std::string> vds;
  std::string handshake_problem;
  // The verdict on the received VDs, reached inside the handshake (CertificateVerifyCallback) or
  // by VerifyConnection when the callback did not run.
  std::optional<absl::StatusOr<MecaiVerification>> verdict;
};

namespace {

void FreeConnectionState(void* /*parent*/, void* pointer, CRYPTO_EX_DATA* /*data*/, int /*index*/,
                         long /*argl*/, void* /*argp*/) {
  delete static_cast<MecaiConnectionState*>(pointer);
}

int ConnectionStateIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeConnectionState);
  return index;
}

MecaiConnectionState* StateOf(SSL* ssl) {
  return static_cast<MecaiConnectionState*>(SSL_get_ex_data(ssl, ConnectionStateIndex()));
}

// A registered SSL_CTX's ex_data: one of the two markers below, saying whether the application
// asked for the server certificate's web-PKI verification (it had set SSL_VERIFY_PEER when
// MecaiTlsClient::Register ran); null for a context not registered.
int RegistrationIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
char web_pki_required;
char web_pki_recorded_only;

// The VA a parsed VD claims to be from, before verification (labels and feedback only), or "".
// Parses the statement: called only for a VD that failed, so a valid VD's statement is parsed once
// (by VerifyVouchingData).
std::string ClaimedVaId(const v1::VouchingData& vd) {
  v1::VouchingStatement statement;
  if (!statement.ParseFromString(vd.statement())) return "";
  return statement.va_id();
}

// "VD n (naming <va>)" for problem reports.
std::string VdLabel(size_t index, const std::string& claimed) {
  return absl::StrCat("VD ", index + 1, " (naming ", claimed.empty() ? "?" : claimed, ")");
}

}  // namespace

std::vector<std::string> ChooseCandidateVas(const VaList& vas, const std::string& hostname,
                                            const std::function<size_t(size_t)>& random_index) {
  std::vector<std::string> chosen;
  const size_t dot = hostname.rfind('.');
  const std::string tld =
      absl::AsciiStrToLower(dot == std::string::npos ? hostname : hostname.substr(dot + 1));
  for (const VaList::Entry& entry : vas.entries()) {
    const auto& tlds = entry.config.preferred_tlds();
    if (chosen.size() < kMaxCandidateVas &&
        std::any_of(tlds.begin(), tlds.end(), [&](const std::string& preferred) {
          return absl::AsciiStrToLower(preferred) == tld;
        })) {
      chosen.push_back(entry.config.id());
    }
  }
  if (!chosen.empty()) return chosen;
  const size_t count = vas.entries().size();
  if (count <= 2) {
    for (const VaList::Entry& entry : vas.entries()) chosen.push_back(entry.config.id());
    return chosen;
  }
  const size_t first = random_index(count);
  size_t second = random_index(count - 1);
  if (second >= first) ++second;  // Uniform over the others.
  chosen.push_back(vas.entries()[first].config.id());
  chosen.push_back(vas.entries()[second].config.id());
  return chosen;
}

void FeedbackMemo::Record(const std::string& server, const std::vector<FeedbackEntry>& entries) {
  absl::MutexLock lock(&mutex_);
  std::vector<FeedbackEntry>& held = entries_[server];
  for (const FeedbackEntry& entry : entries) {
    if (std::find(held.begin(), held.end(), entry) == held.end() &&
        held.size() < kMaxFeedbackEntries) {
      held.push_back(entry);
    }
  }
  if (held.empty()) entries_.erase(server);
}

std::vector<FeedbackEntry> FeedbackMemo::Take(const std::string& server) {
  absl::MutexLock lock(&mutex_);
  auto found = entries_.find(server);
  if (found == entries_.end()) return {};
  std::vector<FeedbackEntry> taken = std::move(found->second);
  entries_.erase(found);
  return taken;
}

absl::Status FeedbackMemo::Load(const std::string& path) {
  auto contents = ReadFile(path, 1 << 20);
  if (absl::IsNotFound(contents.status())) return absl::OkStatus();
  if (!contents.ok()) return contents.status();
  for (absl::string_view line : absl::StrSplit(*contents, '\n', absl::SkipEmpty())) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int reason = 0;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[2], &reason) ||
        (reason != static_cast<int>(FeedbackReason::kNoVouchingData) &&
         reason != static_cast<int>(FeedbackReason::kInvalidVouchingData))) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": malformed line '", line, "'"));
    }
    Record(fields[0], {{fields[1], static_cast<FeedbackReason>(reason)}});
  }
  return absl::OkStatus();
}

absl::Status FeedbackMemo::Save(const std::string& path) const {
  std::string contents;
  {
    absl::MutexLock lock(&mutex_);
    for (const auto& [server, entries] : entries_) {
      for (const FeedbackEntry& entry : entries) {
        absl::StrAppend(&contents, server, " ", entry.va_id, " ", static_cast<int>(entry.reason),
                        "\n");
      }
    }
  }
  return WriteFileAtomically(path, contents, 0600);
}

MecaiTlsClient::MecaiTlsClient(const VaList& vas, const Clock& clock, MecaiClientOptions options,
                               FeedbackMemo* memo)
    : vas_(vas), clock_(clock), options_(options), memo_(memo) {}

absl::Status MecaiTlsClient::Register(SSL_CTX* context) const {
  if (SSL_CTX_get_ex_data(context, RegistrationIndex()) != nullptr) {
    return absl::FailedPreconditionError("MecaiTlsClient::Register: this SSL_CTX is registered");
  }
  if (options_.extension_type == options_.request_extension_type ||
      options_.extension_type == options_.feedback_extension_type ||
      options_.request_extension_type == options_.feedback_extension_type) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the MECAI extensions need three code points, not ", options_.extension_type, ", ",
        options_.request_extension_type, " and ", options_.feedback_extension_type));
  }
  void* self = const_cast<MecaiTlsClient*>(this);
  ClearOpenSslErrors();
  if (SSL_CTX_add_custom_ext(
          context, options_.extension_type,
          SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO | SSL_EXT_TLS1_3_CERTIFICATE,
          &AddCallback, &FreeCallback, self, &ParseCallback, self) != 1) {
    return OpenSslError(absl::StrCat("registering TLS extension ", options_.extension_type));
  }
  // ClientHello only: a server never answers mecai_vouching_request or mecai_feedback.
  for (uint16_t type : {options_.request_extension_type, options_.feedback_extension_type}) {
    if (SSL_CTX_add_custom_ext(context, type, SSL_EXT_CLIENT_HELLO, &AddCallback, &FreeCallback,
                               self, &ParseCallback, self) != 1) {
      return OpenSslError(absl::StrCat("registering TLS extension ", type));
    }
  }
  // The VDs are verified inside the handshake (docs/TLS_EXTENSION.md §4), in the certificate
  // verification step: after the server's extension has arrived (ServerHello in TLS 1.2, the
  // end-entity CertificateEntry in TLS 1.3) and before the client finishes. OpenSSL enforces that
  // step's verdict only under SSL_VERIFY_PEER, so the mode is set here, and the application's
  // own choice about the web-PKI check is kept for the callback.
  const bool web_pki = (SSL_CTX_get_verify_mode(context) & SSL_VERIFY_PEER) != 0;
  if (SSL_CTX_set_ex_data(context, RegistrationIndex(),
                          web_pki ? &web_pki_required : &web_pki_recorded_only) != 1) {
    return OpenSslError("SSL_CTX_set_ex_data");
  }
  SSL_CTX_set_verify(context, SSL_CTX_get_verify_mode(context) | SSL_VERIFY_PEER,
                     SSL_CTX_get_verify_callback(context));
  SSL_CTX_set_cert_verify_callback(context, &CertificateVerifyCallback, self);
  return absl::OkStatus();
}

int MecaiTlsClient::CertificateVerifyCallback(X509_STORE_CTX* store, void* argument) {
  const auto* client = static_cast<const MecaiTlsClient*>(argument);
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 0;
  const bool web_pki_required =
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), RegistrationIndex()) != &web_pki_recorded_only;
  // OpenSSL's own verification (RFC 5280 path to the context's trust store, the host name of
  // SSL_set1_host): its result stays in SSL_get_verify_result whether or not it is required.
  const bool web_pki_ok = X509_verify_cert(store) == 1;
  MecaiConnectionState* state = StateOf(ssl);
  if (state == nullptr) return web_pki_ok || !web_pki_required ? 1 : 0;  // Not a MECAI connection.
  X509* leaf = X509_STORE_CTX_get0_cert(store);                          // Borrowed.
  if (leaf == nullptr) return 0;
  state->verdict = client->VerifyVds(*state, leaf);
  if (!state->verdict->ok()) {
    // Fails the handshake with a handshake_failure alert (X509_V_ERR_APPLICATION_VERIFICATION).
    state->handshake_problem = std::string(state->verdict->status().message());
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  return web_pki_ok || !web_pki_required ? 1 : 0;
}

absl::Status MecaiTlsClient::PrepareConnection(
    SSL* ssl, const std::string& hostname, uint16_t port, const std::string& trust_list,
    const std::vector<std::string>& candidate_vas) const {
  if (candidate_vas.empty()) {
    return absl::InvalidArgumentError("a MECAI connection asks at least one VA");
  }
  if (port == 0) return absl::InvalidArgumentError("a MECAI connection names its port, 1..65535");
  for (const std::string& va_id : candidate_vas) {
    if (vas_.Find(va_id) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("VA '", va_id, "' is not in the VA list"));
    }
  }
  ASSIGN_OR_RETURN(std::string canonical, CanonicalClientHostname(hostname));
  auto state = std::make_unique<MecaiConnectionState>();
  state->server = absl::StrCat(canonical, ":", port);
  state->hostname = canonical;
  state->port = port;
  state->trust_list = trust_list;
  state->candidate_vas = candidate_vas;
  if (!options_.ask_for_everything) {
    ASSIGN_OR_RETURN(state->request, EncodeVouchingRequest({trust_list, candidate_vas}));
  }
  if (memo_ != nullptr) {
    std::vector<FeedbackEntry> feedback = memo_->Take(state->server);
    if (!feedback.empty()) {
      ASSIGN_OR_RETURN(state->feedback, EncodeFeedback(feedback));
    }
  }
  delete StateOf(ssl);
  if (SSL_set_ex_data(ssl, ConnectionStateIndex(), state.get()) != 1) {
    return OpenSslError("SSL_set_ex_data");
  }
  state.release();
  return absl::OkStatus();
}

int MecaiTlsClient::AddCallback(SSL* ssl, unsigned int type, unsigned int context,
                                const unsigned char** out, size_t* out_length,
                                X509* /*certificate*/, size_t /*chain_index*/, int* /*alert*/,
                                void* argument) {
  const auto* client = static_cast<const MecaiTlsClient*>(argument);
  MecaiConnectionState* state = StateOf(ssl);
  if ((context & SSL_EXT_CLIENT_HELLO) == 0 || state == nullptr) return 0;
  // mecai_vouching is always empty, the one form OpenSSL's serverinfo server accepts
  // (docs/TLS_EXTENSION.md §5); the other two are sent only when they say something.
  absl::string_view body;
  if (type == client->options_.request_extension_type) body = state->request;
  if (type == client->options_.feedback_extension_type) body = state->feedback;
  if (type != client->options_.extension_type && body.empty()) return 0;
  // OpenSSL needs a non-null pointer, also for an empty body.
  auto* copy = static_cast<unsigned char*>(OPENSSL_zalloc(body.size() + 1));
  if (copy == nullptr) return -1;
  if (!body.empty()) memcpy(copy, body.data(), body.size());
  *out = copy;
  *out_length = body.size();
  return 1;
}

void MecaiTlsClient::FreeCallback(SSL* /*ssl*/, unsigned int /*type*/, unsigned int /*context*/,
                                  const unsigned char* out, void* /*argument*/) {
  OPENSSL_free(const_cast<unsigned char*>(out));
}

int MecaiTlsClient::ParseCallback(SSL* ssl, unsigned int type, unsigned int context,
                                  const unsigned char* in, size_t in_length, X509* /*certificate*/,
                                  size_t chain_index, int* alert, void* argument) {
  const auto* client = static_cast<const MecaiTlsClient*>(argument);
  MecaiConnectionState* state = StateOf(ssl);
  if (type != client->options_.extension_type || state == nullptr) {
    *alert = SSL_AD_UNSUPPORTED_EXTENSION;  // RFC 8446 §4.2: a response nobody asked for.
    return 0;
  }
  // VDs belong to the end-entity certificate (RFC 8446 §4.4.2); elsewhere they are ignored.
  if ((context & SSL_EXT_TLS1_3_CERTIFICATE) != 0 && chain_index != 0) return 1;
  auto vds =
      DecodeVouchingDataList(absl::string_view(reinterpret_cast<const char*>(in), in_length));
  if (!vds.ok()) {
    state->handshake_problem =
        absl::StrCat("the server's MECAI extension is malformed: ", vds.status().message());
    *alert = SSL_AD_DECODE_ERROR;
    return 0;
  }
  state->received = true;
  state->vds = std::move(*vds);
  return 1;
}

std::string MecaiTlsClient::HandshakeProblem(SSL* ssl) {
  MecaiConnectionState* state = StateOf(ssl);
  return state == nullptr ? "" : state->handshake_problem;
}

absl::StatusOr<MecaiVerification> MecaiTlsClient::VerifyConnection(SSL* ssl) const {
  MecaiConnectionState* state = StateOf(ssl);
  if (state == nullptr) return absl::FailedPreconditionError("PrepareConnection was not called");
  if (SSL_is_init_finished(ssl) != 1 && !(state->verdict.has_value() && !state->verdict->ok())) {
    // Only a refusal is a verdict on a connection that did not finish: VDs that verified do not
    // make a failed handshake (e.g. a web-PKI failure) usable.
    return absl::FailedPreconditionError(
        absl::StrCat("the handshake did not finish",
                     state->handshake_problem.empty() ? "" : ": " + state->handshake_problem));
  }
  if (state->verdict.has_value()) return *state->verdict;
  if (SSL_session_reused(ssl) == 1) {
    // No Certificate message, no VD: a session is only established by a handshake that passed.
    return absl::FailedPreconditionError(
        "the session was resumed: its VDs were verified in the handshake that established it");
  }
  // The verification callback did not run: the application replaced it on the context.
  X509* leaf = SSL_get0_peer_certificate(ssl);  // Borrowed.
  if (leaf == nullptr) return absl::FailedPreconditionError("the server sent no certificate");
  state->verdict = VerifyVds(*state, leaf);
  return *state->verdict;
}

absl::StatusOr<MecaiVerification> MecaiTlsClient::VerifyVds(MecaiConnectionState& state,
                                                            X509* leaf) const {
  VdExpectation expected;
  expected.hostname = state.hostname;
  expected.port = state.port;
  expected.certificate_der = CertificateToDer(leaf);
  expected.candidate_vas = state.candidate_vas;
  expected.require_out_of_band_approval = options_.require_out_of_band_approval;
  expected.now = clock_.Now();
  expected.max_age = options_.max_age;

  MecaiVerification verification;
  bool verified = false;
  std::set<std::string> valid_vas;
  std::set<std::string> invalid_vas;
  for (size_t i = 0; i < state.vds.size(); ++i) {
    v1::VouchingData vd;
    if (!vd.ParseFromString(state.vds[i])) {
      verification.problems.push_back(
          absl::StrCat(VdLabel(i, ""), ": not a serialized VouchingData"));
      invalid_vas.insert("");
      continue;
    }
    auto statement = VerifyVouchingData(vd, vas_, expected);
    if (statement.ok() && !state.trust_list.empty() &&
        statement->trust_list() != state.trust_list) {
      statement = absl::PermissionDeniedError(absl::StrCat("the VD vouches in trust list '",
                                                           statement->trust_list(), "', not '",
                                                           state.trust_list, "'"));
    }
    if (!statement.ok()) {
      const std::string claimed = ClaimedVaId(vd);
      verification.problems.push_back(
          absl::StrCat(VdLabel(i, claimed), ": ", statement.status().message()));
      invalid_vas.insert(claimed);
      continue;
    }
    valid_vas.insert(statement->va_id());
    if (!verified) verification.statement = std::move(*statement);
    verified = true;
  }

  // Feedback (docs/TLS_EXTENSION.md §4): candidates that sent nothing, or only invalid VDs.
  std::vector<FeedbackEntry> feedback;
  for (const std::string& va_id : state.candidate_vas) {
    if (valid_vas.count(va_id) != 0) continue;
    feedback.push_back({va_id, invalid_vas.count(va_id) != 0 ? FeedbackReason::kInvalidVouchingData
                                                             : FeedbackReason::kNoVouchingData});
  }
  if (memo_ != nullptr && !feedback.empty()) memo_->Record(state.server, feedback);

  if (verified) return verification;
  const std::string asked = absl::StrJoin(state.candidate_vas, ", ");
  if (!state.received) {
    return absl::PermissionDeniedError(absl::StrCat("MECAI: the server sent no Vouching Data for ",
                                                    state.hostname, "; VAs asked for: ", asked));
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "MECAI: no valid Vouching Data for ", state.hostname, " from the VAs asked for (", asked,
      "): ", absl::StrJoin(verification.problems, "; ")));
}

}  // namespace mecai
