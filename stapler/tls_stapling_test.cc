// The MECAI extension end to end in memory: StaplingServer on one SSL, MecaiTlsClient on the
// other, over TLS 1.2 and TLS 1.3, with VDs signed by the golden-vector VA (testdata/vd/).
#include "stapler/tls_stapling.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/mecai_tls_client.h"
#include "client/va_list.h"
#include "common/base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stapler/testing/tls_pair.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing_tls::VectorPath;

constexpr char kHost[] = "www.example.com";

class TlsStaplingTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    auto vas = VaList::Load(VectorPath("va-list.textproto"));
    ASSERT_TRUE(vas.ok()) << vas.status();
    vas_ = std::move(*vas);
    StaplingOptions options;
    options.known_va_ids = {"va-example", "va-other"};
    server_ = std::make_unique<StaplingServer>(options, nullptr);
    MecaiClientOptions client_options;
    client_options.max_age = absl::Hours(24);
    client_ = std::make_unique<MecaiTlsClient>(*vas_, clock_, client_options, &memo_);
  }

  void AskForEverything() {
    MecaiClientOptions options;
    options.max_age = absl::Hours(24);
    options.ask_for_everything = true;
    client_ = std::make_unique<MecaiTlsClient>(*vas_, clock_, options, &memo_);
  }

  // A server context serving testdata/vd/<leaf>.pem, with the stapling server registered; null on
  // failure.
  SslCtxPtr RegisteredServerContext(const std::string& leaf) {
    auto context = testing_tls::MakeServerContext(VectorPath(leaf + ".pem"),
                                                  VectorPath(leaf + ".key.pem"), GetParam());
    if (!context.ok() || !server_->Register(context->get()).ok()) return nullptr;
    return std::move(*context);
  }

  // A client context with the MECAI client registered; `web_pki_required` sets SSL_VERIFY_PEER
  // before. Null on failure.
  SslCtxPtr RegisteredClientContext(bool web_pki_required = false) {
    SslCtxPtr context = testing_tls::MakeClientContext(GetParam());
    if (web_pki_required) SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
    if (!client_->Register(context.get()).ok()) return nullptr;
    return context;
  }

  // A client connection asking va-example about kHost; null on failure.
  SslPtr PreparedClient(SSL_CTX* context) {
    SslPtr client(SSL_new(context));
    if (!client_->PrepareConnection(client.get(), kHost, port_, trust_list_, {"va-example"}).ok()) {
      return nullptr;
    }
    return client;
  }

  // Staples VDs for these leaf files, issued `age` ago.
  void Staple(const std::vector<std::string>& leaves, absl::Duration age = absl::Hours(1)) {
    std::vector<std::string> leaf_paths;
    for (const std::string& leaf : leaves) leaf_paths.push_back(VectorPath(leaf));
    auto vd = testing_tls::SignVouchingData(kHost, leaf_paths, clock_.Now() - age);
    ASSERT_TRUE(vd.ok()) << vd.status();
    auto set = VdSet::FromSerialized({*vd});
    ASSERT_TRUE(set.ok()) << set.status();
    server_->SetVdSet(*set);
  }

  // One handshake against a server serving `leaf` ("server-leaf" or "other-leaf"), asking
  // `candidates`. Returns the verification outcome.
  absl::StatusOr<MecaiVerification> Connect(const std::string& leaf,
                                            const std::vector<std::string>& candidates,
                                            SSL_CTX* server_context = nullptr) {
    SslCtxPtr owned_server_context;
    if (server_context == nullptr) {
      auto context = testing_tls::MakeServerContext(VectorPath(leaf + ".pem"),
                                                    VectorPath(leaf + ".key.pem"), GetParam());
      if (!context.ok()) return context.status();
      owned_server_context = std::move(*context);
      absl::Status registered = server_->Register(owned_server_context.get());
      if (!registered.ok()) return registered;
      server_context = owned_server_context.get();
    }
    SslCtxPtr client_context = testing_tls::MakeClientContext(GetParam());
    absl::Status registered = client_->Register(client_context.get());
    if (!registered.ok()) return registered;
    SslPtr client(SSL_new(client_context.get()));
    SslPtr server(SSL_new(server_context));
    absl::Status prepared =
        client_->PrepareConnection(client.get(), kHost, port_, trust_list_, candidates);
    if (!prepared.ok()) return prepared;
    absl::Status handshake = testing_tls::HandshakeInMemory(client.get(), server.get());
    if (!handshake.ok()) {
      // A MECAI refusal happens inside the handshake; its verdict is the outcome.
      auto verdict = client_->VerifyConnection(client.get());
      if (!verdict.ok() && absl::IsPermissionDenied(verdict.status())) return verdict.status();
      return absl::Status(
          handshake.code(),
          absl::StrCat(MecaiTlsClient::HandshakeProblem(client.get()), " | ", handshake.message()));
    }
    return client_->VerifyConnection(client.get());
  }

  FakeClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  // What the client connects to and asks for (the VDs of Staple name port 443, the trust list
  // "mozilla").
  uint16_t port_ = 443;
  std::string trust_list_;
  std::unique_ptr<VaList> vas_;
  std::unique_ptr<StaplingServer> server_;
  FeedbackMemo memo_;
  std::unique_ptr<MecaiTlsClient> client_;
};

// A server that sends whatever it holds whatever the request, as `openssl s_server -serverinfo`
// does (OpenSSL's serverinfo server accepts only the empty request).
absl::StatusOr<SslCtxPtr> ServerinfoContext(const std::string& extension_body, int tls_version) {
  auto context = testing_tls::MakeServerContext(VectorPath("server-leaf.pem"),
                                                VectorPath("server-leaf.key.pem"), tls_version);
  if (!context.ok()) return context.status();
  // SERVERINFOV2: context (ClientHello | TLS 1.2 ServerHello | TLS 1.3 Certificate), type, length.
  std::string serverinfo = std::string("\x00\x00\x11\x80\xff\x00", 6);
  serverinfo.push_back(static_cast<char>(extension_body.size() >> 8));
  serverinfo.push_back(static_cast<char>(extension_body.size() & 0xff));
  serverinfo += extension_body;
  if (SSL_CTX_use_serverinfo_ex(context->get(), SSL_SERVERINFOV2,
                                reinterpret_cast<const unsigned char*>(serverinfo.data()),
                                serverinfo.size()) != 1) {
    return absl::InternalError("SSL_CTX_use_serverinfo_ex");
  }
  return context;
}

TEST_P(TlsStaplingTest, ValidVdIsStapledAndVerified) {
  Staple({"server-leaf.pem"});
  auto verified = Connect("server-leaf", {"va-example"});
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->statement.va_id(), "va-example");
  EXPECT_TRUE(verified->problems.empty());
  EXPECT_EQ(server_->counts().stapled, 1u);
}

TEST_P(TlsStaplingTest, NoVdNamesTheVasAskedFor) {
  auto verified = Connect("server-leaf", {"va-example", "va-other"});
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(verified.status().message()),
            "MECAI: the server sent no Vouching Data for www.example.com; VAs asked for: "
            "va-example, va-other");
}

TEST_P(TlsStaplingTest, StaleVdIsRejected) {
  Staple({"server-leaf.pem"}, absl::Hours(25));
  auto verified = Connect("server-leaf", {"va-example"});
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(verified.status().message()),
            "MECAI: no valid Vouching Data for www.example.com from the VAs asked for "
            "(va-example): VD 1 (naming va-example): the VD is 25h old; the maximum age is 24h");
}

TEST_P(TlsStaplingTest, ServerSendsOnlyRequestedVas) {
  Staple({"server-leaf.pem"});
  auto verified = Connect("server-leaf", {"va-other"});
  EXPECT_THAT(std::string(verified.status().message()),
              HasSubstr("the server sent no Vouching Data for www.example.com; VAs asked for: "
                        "va-other"));
}

TEST_P(TlsStaplingTest, VdFromAnUnrequestedVaIsRejected) {
  // A server that sends whatever it holds (as `openssl s_server -serverinfo` does).
  auto vd = testing_tls::SignVouchingData(kHost, {VectorPath("server-leaf.pem")},
                                          clock_.Now() - absl::Hours(1));
  ASSERT_TRUE(vd.ok());
  auto context = ServerinfoContext(EncodeVouchingDataList({*vd}), GetParam());
  ASSERT_TRUE(context.ok()) << context.status();
  auto verified = Connect("", {"va-other"}, context->get());
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(verified.status().message()),
              HasSubstr("from the VAs asked for (va-other): VD 1 (naming va-example): the VA "
                        "certificate does not chain to the CA of any VA asked for (va-other)"));
}

// OpenSSL's serverinfo server (what nginx's and Apache's ServerInfoFile use) answers a non-empty
// mecai_vouching with decode_error and ignores mecai_vouching_request (docs/TLS_EXTENSION.md §5):
// the default client sends mecai_vouching empty, so it reads such a server's VDs.
TEST_P(TlsStaplingTest, DefaultClientReadsAServerinfoServer) {
  auto vd = testing_tls::SignVouchingData(kHost, {VectorPath("server-leaf.pem")},
                                          clock_.Now() - absl::Hours(1));
  ASSERT_TRUE(vd.ok());
  auto context = ServerinfoContext(EncodeVouchingDataList({*vd}), GetParam());
  ASSERT_TRUE(context.ok()) << context.status();
  trust_list_ = "mozilla";
  auto verified = Connect("", {"va-example"}, context->get());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->statement.va_id(), "va-example");
}

// A VD vouches for the port its VR named, which the perspectives probed: a client connected to
// another port refuses it (the same host may serve another certificate there).
TEST_P(TlsStaplingTest, AVdForAnotherPortIsRefused) {
  Staple({"server-leaf.pem"});
  port_ = 8443;
  auto verified = Connect("server-leaf", {"va-example"});
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(verified.status().message()),
            "MECAI: no valid Vouching Data for www.example.com from the VAs asked for "
            "(va-example): VD 1 (naming va-example): the VD vouches for port 443, not 8443");
  port_ = 443;
  EXPECT_TRUE(Connect("server-leaf", {"va-example"}).ok());
}

// The trust list travels in mecai_vouching_request and the server selects by it.
TEST_P(TlsStaplingTest, ServerSelectsByTheRequestedTrustList) {
  Staple({"server-leaf.pem"});
  trust_list_ = "other-list";
  auto other = Connect("server-leaf", {"va-example"});
  EXPECT_EQ(std::string(other.status().message()),
            "MECAI: the server sent no Vouching Data for www.example.com; VAs asked for: "
            "va-example");
  EXPECT_EQ(server_->counts().requests, 1u);
  EXPECT_EQ(server_->counts().stapled, 0u);
  trust_list_ = "mozilla";
  auto verified = Connect("server-leaf", {"va-example"});
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->statement.trust_list(), "mozilla");
  EXPECT_EQ(server_->counts().stapled, 1u);
}

// Without mecai_vouching_request the server sends every VD it holds, as a stock server does; the
// client still checks them against its candidates.
TEST_P(TlsStaplingTest, AskingForEverythingGetsEveryVdAndStillChecksTheCandidates) {
  Staple({"server-leaf.pem"});
  AskForEverything();
  auto verified = Connect("server-leaf", {"va-other"});
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(verified.status().message()),
              HasSubstr("from the VAs asked for (va-other): VD 1 (naming va-example): the VA "
                        "certificate does not chain to the CA of any VA asked for (va-other)"));
  EXPECT_EQ(server_->counts().stapled, 1u);
  ASSERT_TRUE(Connect("server-leaf", {"va-example"}).ok());
}

TEST_P(TlsStaplingTest, ThreeCodePointsAreNeeded) {
  MecaiClientOptions client_options;
  client_options.request_extension_type = client_options.extension_type;
  MecaiTlsClient client(*vas_, clock_, client_options, nullptr);
  SslCtxPtr client_context = testing_tls::MakeClientContext(GetParam());
  absl::Status registered = client.Register(client_context.get());
  EXPECT_EQ(registered.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registered.message(),
            "the MECAI extensions need three code points, not 65280, 65280 and 65282");
  StaplingOptions server_options;
  server_options.feedback_extension_type = server_options.request_extension_type;
  StaplingServer server(server_options, nullptr);
  auto server_context = testing_tls::MakeServerContext(
      VectorPath("server-leaf.pem"), VectorPath("server-leaf.key.pem"), GetParam());
  ASSERT_TRUE(server_context.ok());
  registered = server.Register(server_context->get());
  EXPECT_EQ(registered.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registered.message(),
            "the MECAI extensions need three code points, not 65280, 65283 and 65283");
}

TEST_P(TlsStaplingTest, VdForTheOtherCertificateIsRejectedAndReportedNextTime) {
  Staple({"server-leaf.pem"});
  auto verified = Connect("other-leaf", {"va-example"});
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(verified.status().message()),
              HasSubstr("VD 1 (naming va-example): the certificate "));
  EXPECT_THAT(std::string(verified.status().message()),
              HasSubstr("is not among the vouched certificates"));
  EXPECT_TRUE(server_->counts().feedback.empty());
  // The next ClientHello to the same server carries the feedback, and the server counts it.
  auto again = Connect("server-leaf", {"va-example", "va-other"});
  EXPECT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(server_->counts().feedback,
              ElementsAre(Pair(Pair("va-example", "invalid_vouching_data"), 1u)));
  // The memo was sent once; what the second connection learned waits for the third.
  auto third = Connect("server-leaf", {"va-example"});
  EXPECT_THAT(server_->counts().feedback,
              ElementsAre(Pair(Pair("va-example", "invalid_vouching_data"), 1u),
                          Pair(Pair("va-other", "no_vouching_data"), 1u)));
}

TEST_P(TlsStaplingTest, RolloverVdServesBothCertificates) {
  Staple({"server-leaf.pem", "other-leaf.pem"});
  for (const char* leaf : {"server-leaf", "other-leaf"}) {
    auto verified = Connect(leaf, {"va-example"});
    ASSERT_TRUE(verified.ok()) << leaf << ": " << verified.status();
    EXPECT_EQ(verified->statement.certificate_sha256_size(), 2);
  }
}

TEST_P(TlsStaplingTest, MalformedServerExtensionFailsTheHandshake) {
  // A list whose length overruns its body.
  auto context = ServerinfoContext(std::string("\x00\x09\x00", 3), GetParam());
  ASSERT_TRUE(context.ok()) << context.status();
  auto verified = Connect("", {"va-example"}, context->get());
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(verified.status().message()),
              HasSubstr("the server's MECAI extension is malformed: vouching_data_list: length 9 "
                        "exceeds the 1 bytes left"));
}

// The VDs are verified inside the handshake (docs/TLS_EXTENSION.md §4): a client without a valid
// VD ends it with a handshake_failure alert before it finishes, so neither side completes and no
// application data can flow.
TEST_P(TlsStaplingTest, RefusalEndsTheHandshakeWithAnAlert) {
  Staple({"server-leaf.pem"});
  SslCtxPtr server_context = RegisteredServerContext("other-leaf");
  SslCtxPtr client_context = RegisteredClientContext();
  ASSERT_TRUE(server_context != nullptr && client_context != nullptr);
  SslPtr client = PreparedClient(client_context.get());
  SslPtr server(SSL_new(server_context.get()));
  ASSERT_NE(client, nullptr);
  absl::Status handshake = testing_tls::HandshakeInMemory(client.get(), server.get());
  EXPECT_EQ(handshake.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(handshake.message()), HasSubstr("client handshake"));
  EXPECT_EQ(SSL_is_init_finished(client.get()), 0);
  EXPECT_EQ(SSL_get_verify_result(client.get()), X509_V_ERR_APPLICATION_VERIFICATION);
  EXPECT_THAT(MecaiTlsClient::HandshakeProblem(client.get()),
              HasSubstr("is not among the vouched certificates"));
  // The server reads the client's alert and fails too.
  ERR_clear_error();
  EXPECT_LE(SSL_do_handshake(server.get()), 0);
  EXPECT_EQ(ERR_GET_REASON(ERR_peek_last_error()), SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE);
  EXPECT_EQ(SSL_is_init_finished(server.get()), 0);
  auto verdict = client_->VerifyConnection(client.get());
  EXPECT_EQ(verdict.status().code(), absl::StatusCode::kPermissionDenied);
}

// The application's web-PKI choice is kept: with SSL_VERIFY_PEER set before Register, a server
// certificate that does not verify (the test leaf is self-signed and the client has no trust
// anchor) fails the handshake even with a valid VD; with SSL_VERIFY_NONE the result is only
// recorded, as OpenSSL does.
TEST_P(TlsStaplingTest, WebPkiVerificationStaysTheApplicationsChoice) {
  Staple({"server-leaf.pem"});
  SslCtxPtr server_context = RegisteredServerContext("server-leaf");
  ASSERT_NE(server_context, nullptr);
  for (bool web_pki_required : {true, false}) {
    SCOPED_TRACE(web_pki_required ? "SSL_VERIFY_PEER" : "SSL_VERIFY_NONE");
    SslCtxPtr client_context = RegisteredClientContext(web_pki_required);
    ASSERT_NE(client_context, nullptr);
    SslPtr client = PreparedClient(client_context.get());
    SslPtr server(SSL_new(server_context.get()));
    ASSERT_NE(client, nullptr);
    absl::Status handshake = testing_tls::HandshakeInMemory(client.get(), server.get());
    EXPECT_EQ(handshake.ok(), !web_pki_required) << handshake;
    EXPECT_EQ(SSL_get_verify_result(client.get()), X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    auto verdict = client_->VerifyConnection(client.get());
    if (web_pki_required) {
      // The VDs verified, but a connection that failed is never reported usable.
      EXPECT_EQ(verdict.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_THAT(std::string(verdict.status().message()),
                  HasSubstr("the handshake did not finish"));
    } else {
      ASSERT_TRUE(verdict.ok()) << verdict.status();
      EXPECT_EQ(verdict->statement.va_id(), "va-example");
    }
  }
}

TEST_P(TlsStaplingTest, ContextIsRegisteredOnce) {
  SslCtxPtr client_context = RegisteredClientContext();
  ASSERT_NE(client_context, nullptr);
  EXPECT_EQ(client_->Register(client_context.get()).code(), absl::StatusCode::kFailedPrecondition);
}

// A client that demands out-of-band approval (ARCHITECTURE.md §7) refuses, inside the handshake, a
// VD that does not say so.
TEST_P(TlsStaplingTest, ClientRequiringApprovalRefusesAVdThatDoesNotSayIt) {
  Staple({"server-leaf.pem"});
  MecaiClientOptions options;
  options.max_age = absl::Hours(24);
  options.require_out_of_band_approval = true;
  client_ = std::make_unique<MecaiTlsClient>(*vas_, clock_, options, &memo_);
  auto verified = Connect("server-leaf", {"va-example"});
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(verified.status().message()),
              HasSubstr("the VD does not say that issuance was approved out of band"));
}

// A resumed session has no Certificate message and no VD; it exists only because the handshake
// that established it passed, and the client says so instead of reporting "no VD".
TEST_P(TlsStaplingTest, ResumedSessionReliesOnTheHandshakeThatEstablishedIt) {
  if (GetParam() != TLS1_2_VERSION) GTEST_SKIP() << "TLS 1.3 tickets arrive after the handshake";
  Staple({"server-leaf.pem"});
  SslCtxPtr server_context = RegisteredServerContext("server-leaf");
  SslCtxPtr client_context = RegisteredClientContext();
  ASSERT_TRUE(server_context != nullptr && client_context != nullptr);
  std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)> session(nullptr, &SSL_SESSION_free);
  for (int connection = 0; connection < 2; ++connection) {
    SslPtr client = PreparedClient(client_context.get());
    SslPtr server(SSL_new(server_context.get()));
    ASSERT_NE(client, nullptr);
    if (session != nullptr) {
      ASSERT_EQ(SSL_set_session(client.get(), session.get()), 1);
    }
    ASSERT_TRUE(testing_tls::HandshakeInMemory(client.get(), server.get()).ok());
    auto verdict = client_->VerifyConnection(client.get());
    if (connection == 0) {
      ASSERT_TRUE(verdict.ok()) << verdict.status();
      session.reset(SSL_get1_session(client.get()));
      ASSERT_NE(session, nullptr);
    } else {
      EXPECT_EQ(SSL_session_reused(client.get()), 1);
      EXPECT_EQ(verdict.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_THAT(std::string(verdict.status().message()), HasSubstr("the session was resumed"));
    }
    // A connection freed without a shutdown makes OpenSSL drop its session (RFC 5246 §7.2.1).
    SSL_set_shutdown(client.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_set_shutdown(server.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
}

int AddMalformedRequest(SSL*, unsigned int, unsigned int, const unsigned char** out,
                        size_t* out_length, X509*, size_t, int*, void*) {
  static const unsigned char kBody[] = {0x00, 0x00, 0x05, 0x01, 'a'};
  *out = kBody;
  *out_length = sizeof(kBody);
  return 1;
}

TEST_P(TlsStaplingTest, MalformedClientRequestIsACleanHandshakeFailure) {
  Staple({"server-leaf.pem"});
  auto server_context = testing_tls::MakeServerContext(
      VectorPath("server-leaf.pem"), VectorPath("server-leaf.key.pem"), GetParam());
  ASSERT_TRUE(server_context.ok());
  ASSERT_TRUE(server_->Register(server_context->get()).ok());
  SslCtxPtr client_context = testing_tls::MakeClientContext(GetParam());
  ASSERT_EQ(SSL_CTX_add_custom_ext(
                client_context.get(), kDefaultMecaiExtensionType,
                SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO | SSL_EXT_TLS1_3_CERTIFICATE,
                &AddMalformedRequest, nullptr, nullptr, nullptr, nullptr),
            1);
  SslPtr client(SSL_new(client_context.get()));
  SslPtr server(SSL_new(server_context->get()));
  absl::Status handshake = testing_tls::HandshakeInMemory(client.get(), server.get());
  EXPECT_EQ(handshake.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server_->counts().malformed_requests, 1u);
  EXPECT_EQ(server_->counts().stapled, 0u);
}

// A hand-made ClientHello: mecai_vouching with `vouching_body` and, unless null,
// mecai_vouching_request with `*request_body`; records the server's mecai_vouching body.
struct RawClientHello {
  std::string vouching_body;
  std::optional<std::string> request_body;
  bool answered = false;
  std::string answer;
};

int AddRawBody(SSL*, unsigned int, unsigned int context, const unsigned char** out,
               size_t* out_length, X509*, size_t, int*, void* argument) {
  if ((context & SSL_EXT_CLIENT_HELLO) == 0) return 0;
  const auto* body = static_cast<const std::string*>(argument);
  *out = reinterpret_cast<const unsigned char*>(body->data());
  *out_length = body->size();
  return 1;
}

int ParseRawAnswer(SSL*, unsigned int, unsigned int, const unsigned char* in, size_t in_length,
                   X509*, size_t chain_index, int*, void* argument) {
  auto* hello = static_cast<RawClientHello*>(argument);
  if (chain_index != 0) return 1;
  hello->answered = true;
  hello->answer.assign(reinterpret_cast<const char*>(in), in_length);
  return 1;
}

// The handshake of a client sending `hello` against a server with the stapling server registered.
absl::Status RawHandshake(StaplingServer& stapling, RawClientHello& hello, int tls_version) {
  auto server_context = testing_tls::MakeServerContext(
      VectorPath("server-leaf.pem"), VectorPath("server-leaf.key.pem"), tls_version);
  if (!server_context.ok()) return server_context.status();
  if (absl::Status s = stapling.Register(server_context->get()); !s.ok()) return s;
  SslCtxPtr client_context = testing_tls::MakeClientContext(tls_version);
  if (SSL_CTX_add_custom_ext(
          client_context.get(), kDefaultMecaiExtensionType,
          SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO | SSL_EXT_TLS1_3_CERTIFICATE,
          &AddRawBody, nullptr, &hello.vouching_body, &ParseRawAnswer, &hello) != 1) {
    return absl::InternalError("SSL_CTX_add_custom_ext");
  }
  if (hello.request_body.has_value() &&
      SSL_CTX_add_custom_ext(client_context.get(), kDefaultMecaiRequestExtensionType,
                             SSL_EXT_CLIENT_HELLO, &AddRawBody, nullptr, &*hello.request_body,
                             nullptr, nullptr) != 1) {
    return absl::InternalError("SSL_CTX_add_custom_ext");
  }
  SslPtr client(SSL_new(client_context.get()));
  SslPtr server(SSL_new(server_context->get()));
  return testing_tls::HandshakeInMemory(client.get(), server.get());
}

// A non-empty mecai_vouching, the form of clients before mecai_vouching_request, still selects;
// mecai_vouching_request, when present, decides.
TEST_P(TlsStaplingTest, OlderNonEmptyVouchingBodyStillSelectsAndTheRequestExtensionDecides) {
  Staple({"server-leaf.pem"});
  auto asks_other = EncodeMecaiRequest({"", {"va-other"}});
  auto asks_example = EncodeMecaiRequest({"mozilla", {"va-example"}});
  ASSERT_TRUE(asks_other.ok() && asks_example.ok());
  const std::string stapled = EncodeVouchingDataList({server_->vd_set()->entries()[0].serialized});
  const struct {
    std::string name;
    std::string vouching_body;
    std::optional<std::string> request_body;
    bool stapled;
  } kCases[] = {
      {"empty: everything", "", std::nullopt, true},
      {"older body naming va-other", *asks_other, std::nullopt, false},
      {"older body naming va-example", *asks_example, std::nullopt, true},
      {"request naming va-other", "", *asks_other, false},
      {"request naming va-example", "", *asks_example, true},
      {"request decides over the older body", *asks_example, *asks_other, false},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    RawClientHello hello{c.vouching_body, c.request_body};
    ASSERT_TRUE(RawHandshake(*server_, hello, GetParam()).ok());
    EXPECT_EQ(hello.answered, c.stapled);
    EXPECT_EQ(hello.answer, c.stapled ? stapled : "");
  }
  EXPECT_EQ(server_->counts().requests, 6u);
  EXPECT_EQ(server_->counts().stapled, 3u);
  EXPECT_EQ(server_->counts().malformed_requests, 0u);
}

// mecai_vouching_request is decoded as strictly as mecai_vouching: a malformed or empty one ends
// the handshake with decode_error.
TEST_P(TlsStaplingTest, MalformedRequestExtensionIsACleanHandshakeFailure) {
  Staple({"server-leaf.pem"});
  for (const std::string& body : {std::string(), std::string("\x00\x00\x05\x01a", 5),
                                  std::string("\x00\x00\x02\x01"
                                              "a"
                                              "z",
                                              6)}) {
    RawClientHello hello{"", body};
    absl::Status handshake = RawHandshake(*server_, hello, GetParam());
    EXPECT_EQ(handshake.code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(std::string(handshake.message()), HasSubstr("server handshake"));
    EXPECT_FALSE(hello.answered);
  }
  EXPECT_EQ(server_->counts().malformed_requests, 3u);
  EXPECT_EQ(server_->counts().stapled, 0u);
}

TEST_P(TlsStaplingTest, EmptyRequestGetsEveryVd) {
  Staple({"server-leaf.pem"});
  auto server_context = testing_tls::MakeServerContext(
      VectorPath("server-leaf.pem"), VectorPath("server-leaf.key.pem"), GetParam());
  ASSERT_TRUE(server_context.ok());
  ASSERT_TRUE(server_->Register(server_context->get()).ok());
  EXPECT_THAT(server_->vd_set()->Select(MecaiRequest{}), ::testing::SizeIs(1));
  EXPECT_THAT(server_->vd_set()->Select({"other-list", {"va-example"}}), ::testing::IsEmpty());
  EXPECT_THAT(server_->vd_set()->Select({"mozilla", {"va-example"}}), ::testing::SizeIs(1));
}

INSTANTIATE_TEST_SUITE_P(TlsVersions, TlsStaplingTest,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == TLS1_2_VERSION ? std::string("Tls12")
                                                               : std::string("Tls13");
                         });

TEST(ChooseCandidateVasTest, PrefersTheTopLevelDomainElseTwoAtRandom) {
  auto vas = VaList::Load(VectorPath("va-list.textproto"));
  ASSERT_TRUE(vas.ok());
  auto never = [](size_t) -> size_t {
    ADD_FAILURE() << "random used";
    return 0;
  };
  EXPECT_THAT(ChooseCandidateVas(**vas, "www.example.COM", never), ElementsAre("va-example"));
  // Two VAs in the list and no preference: both.
  EXPECT_THAT(ChooseCandidateVas(**vas, "www.example.de", never),
              ElementsAre("va-example", "va-other"));
}

}  // namespace
}  // namespace mecai
