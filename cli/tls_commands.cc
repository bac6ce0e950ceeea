#include "cli/tls_commands.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/flags.h"
#include "cli/report.h"
#include "client/mecai_tls_client.h"
#include "client/va_list.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/openssl_error.h"
#include "common/tls_extension/mecai_extension.h"
#include "common/tls_extension/serverinfo_file.h"
#include "stapler/tls_stapling.h"

namespace mecai {

const char kTlsCommandsUsage[] =
    "  s_server --cert C --key K (--vd-dir DIR | --vd VD ...) [--accept HOST:PORT]\n"
    "           [--port-file F] [--tls 1.2|1.3] [--va-list L] [--max-connections N]\n"
    "           [--code-point N] [--request-code-point N]\n"
    "      A TLS server that staples VDs in the MECAI extension (DIR: a stapler's cache).\n"
    "  s_client --connect HOST:PORT --va-list L [--servername NAME] [--serverport PORT]\n"
    "           [--trust-list TL] [--va ID ...] [--tls 1.2|1.3] [--max-age DUR] [--ask-all]\n"
    "           [--feedback-file F] [--require-approval] [--code-point N]\n"
    "           [--request-code-point N]\n"
    "      Connects and verifies the stapled VDs inside the handshake. Exit 0 valid, 3 no valid\n"
    "      VD (--require-approval: none saying issuance was approved out of band). It sends\n"
    "      mecai_vouching empty, which stock servers stapling a serverinfo file accept, and the\n"
    "      trust list and candidate VAs in mecai_vouching_request, which MECAI servers select by.\n"
    "      --servername, --serverport: the name and port the VDs must vouch for (default: those\n"
    "      of --connect). --ask-all: no mecai_vouching_request, the server sends every VD it\n"
    "      holds (still checked against the candidates). --max-age: the oldest VD accepted\n"
    "      (default 24h). --code-point, --request-code-point: mecai_vouching (65280) and\n"
    "      mecai_vouching_request (65283).\n"
    "  serverinfo --vd VD ... --out F [--code-point N]\n"
    "      Writes a serverinfo file stapling the VDs, for `openssl s_server -serverinfo`,\n"
    "      nginx's `ssl_conf_command ServerInfoFile` and Apache's\n"
    "      `SSLOpenSSLConfCmd ServerInfoFile` (docs/TLS_EXTENSION.md §5).\n";

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitRefused = 3;

int Usage(const std::string& command, const absl::Status& status) {
  std::cerr << "mecai " << command << ": " << status.message() << "\n\nusage:\n"
            << kTlsCommandsUsage;
  return kExitUsage;
}

int Fail(const std::string& command, const absl::Status& status) {
  std::cerr << "mecai " << command << ": " << status.message() << "\n";
  return kExitError;
}

// --`name`, a TLS extension code point, or `fallback`.
absl::StatusOr<uint16_t> ExtensionTypeFlag(const Flags& flags,
                                           const std::string& name = "code-point",
                                           uint16_t fallback = kDefaultMecaiExtensionType) {
  uint32_t type = fallback;
  if (flags.Has(name) && (!absl::SimpleAtoi(flags.Get(name), &type) || type > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " must be 0..65535"));
  }
  return static_cast<uint16_t>(type);
}

absl::StatusOr<int> TlsVersionFlag(const Flags& flags) {
  const std::string version = flags.Get("tls", "any");
  if (version == "1.2") return TLS1_2_VERSION;
  if (version == "1.3") return TLS1_3_VERSION;
  if (version == "any") return 0;
  return absl::InvalidArgumentError("--tls must be 1.2 or 1.3");
}

void LimitVersion(SSL_CTX* context, int version) {
  SSL_CTX_set_min_proto_version(context, version == 0 ? TLS1_2_VERSION : version);
  SSL_CTX_set_max_proto_version(context, version);
}

absl::StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& text) {
  const size_t colon = text.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(text.substr(colon + 1), &port) ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not HOST:PORT"));
  }
  return std::make_pair(text.substr(0, colon), static_cast<uint16_t>(port));
}

// Every "*.vd" file of `directory` and the files named by --vd, as a VdSet.
absl::StatusOr<std::shared_ptr<const VdSet>> LoadVdSet(const std::string& directory,
                                                       const std::vector<std::string>& files) {
  std::vector<std::string> paths = files;
  if (!directory.empty()) {
    DIR* dir = opendir(directory.c_str());
    if (dir == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", directory));
    while (dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name[0] != '.' && absl::EndsWith(name, ".vd")) paths.push_back(directory + "/" + name);
    }
    closedir(dir);
  }
  std::vector<std::string> serialized;
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(std::string contents, ReadFile(path, 1 << 20));
    serialized.push_back(std::move(contents));
  }
  return VdSet::FromSerialized(serialized);
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

int SServerCommand(int argc, char** argv) {
  auto flags = Flags::Parse(argc, argv, 2,
                            {"cert", "key", "vd-dir", "vd", "accept", "port-file", "tls", "va-list",
                             "max-connections", "code-point", "request-code-point"},
                            {});
  if (!flags.ok()) return Usage("s_server", flags.status());
  for (const char* required : {"cert", "key"}) {
    if (!flags->Has(required)) {
      return Usage("s_server",
                   absl::InvalidArgumentError(absl::StrCat("--", required, " is required")));
    }
  }
  if (!flags->Has("vd-dir") && !flags->Has("vd")) {
    return Usage("s_server", absl::InvalidArgumentError("--vd-dir or --vd is required"));
  }
  auto version = TlsVersionFlag(*flags);
  if (!version.ok()) return Usage("s_server", version.status());
  auto type = ExtensionTypeFlag(*flags);
  if (!type.ok()) return Usage("s_server", type.status());
  auto request_type =
      ExtensionTypeFlag(*flags, "request-code-point", kDefaultMecaiRequestExtensionType);
  if (!request_type.ok()) return Usage("s_server", request_type.status());
  auto address = SplitHostPort(flags->Get("accept", "127.0.0.1:0"));
  if (!address.ok()) return Usage("s_server", address.status());
  int max_connections = 0;
  if (flags->Has("max-connections") &&
      !absl::SimpleAtoi(flags->Get("max-connections"), &max_connections)) {
    return Usage("s_server", absl::InvalidArgumentError("--max-connections must be a number"));
  }

  StaplingOptions options;
  options.extension_type = *type;
  options.request_extension_type = *request_type;
  if (flags->Has("va-list")) {
    auto vas = VaList::Load(flags->Get("va-list"));
    if (!vas.ok()) return Fail("s_server", vas.status());
    for (const auto& entry : (*vas)->entries()) options.known_va_ids.insert(entry.config.id());
  }
  StaplingServer stapling(options, nullptr);
  ClearOpenSslErrors();
  SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
  LimitVersion(context.get(), *version);
  if (SSL_CTX_use_certificate_chain_file(context.get(), flags->Get("cert").c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(context.get(), flags->Get("key").c_str(), SSL_FILETYPE_PEM) !=
          1) {
    return Fail("s_server", OpenSslError("loading --cert/--key"));
  }
  absl::Status registered = stapling.Register(context.get());
  if (!registered.ok()) return Usage("s_server", registered);

  FileDescriptor listener(socket(AF_INET, SOCK_STREAM, 0));
  const int yes = 1;
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  sockaddr_in bind_address{};
  bind_address.sin_family = AF_INET;
  bind_address.sin_port = htons(address->second);
  if (inet_pton(AF_INET, address->first.c_str(), &bind_address.sin_addr) != 1 ||
      bind(listener.get(), reinterpret_cast<sockaddr*>(&bind_address), sizeof(bind_address)) != 0 ||
      listen(listener.get(), 64) != 0) {
    return Fail("s_server", absl::UnavailableError(absl::StrCat(
                                "cannot listen on ", flags->Get("accept", "127.0.0.1:0"))));
  }
  socklen_t length = sizeof(bind_address);
  getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bind_address), &length);
  const int port = ntohs(bind_address.sin_port);
  if (flags->Has("port-file")) {
    absl::Status written = WriteFileAtomically(flags->Get("port-file"), absl::StrCat(port, "\n"));
    if (!written.ok()) return Fail("s_server", written);
  }
  std::cout << "mecai s_server: listening on " << address->first << ":" << port << std::endl;

  for (int served = 0; max_connections == 0 || served < max_connections; ++served) {
    // The stapler's cache may have changed: staple what it holds now.
    auto set = LoadVdSet(flags->Get("vd-dir"), flags->GetAll("vd"));
    if (!set.ok()) return Fail("s_server", set.status());
    stapling.SetVdSet(*set);
    FileDescriptor connection(accept(listener.get(), nullptr, nullptr));
    if (connection.get() < 0) continue;
    SslPtr ssl(SSL_new(context.get()));
    SSL_set_fd(ssl.get(), connection.get());
    ClearOpenSslErrors();
    if (SSL_accept(ssl.get()) != 1) {
      std::cout << "connection " << served + 1
                << ": handshake failed: " << OpenSslError("SSL_accept").message() << std::endl;
      continue;
    }
    const std::string greeting = "mecai s_server: hello\n";
    SSL_write(ssl.get(), greeting.data(), static_cast<int>(greeting.size()));
    SSL_shutdown(ssl.get());
    const StaplingServer::Counts counts = stapling.counts();
    std::string feedback;
    for (const auto& [key, count] : counts.feedback) {
      absl::StrAppend(&feedback, feedback.empty() ? "" : ", ", key.first, "/", key.second, "=",
                      count);
    }
    std::cout << "connection " << served + 1 << ": " << SSL_get_version(ssl.get()) << "; VDs held "
              << (*set)->entries().size() << "; answers with VDs so far " << counts.stapled
              << "; feedback so far: " << (feedback.empty() ? "none" : feedback) << std::endl;
  }
  return kExitOk;
}

int SClientCommand(int argc, char** argv) {
  auto flags =
      Flags::Parse(argc, argv, 2,
                   {"connect", "va-list", "servername", "serverport", "trust-list", "va", "tls",
                    "max-age", "feedback-file", "code-point", "request-code-point", "timeout"},
                   {"ask-all", "require-approval"});
  if (!flags.ok()) return Usage("s_client", flags.status());
  for (const char* required : {"connect", "va-list"}) {
    if (!flags->Has(required)) {
      return Usage("s_client",
                   absl::InvalidArgumentError(absl::StrCat("--", required, " is required")));
    }
  }
  auto address = SplitHostPort(flags->Get("connect"));
  if (!address.ok()) return Usage("s_client", address.status());
  auto version = TlsVersionFlag(*flags);
  if (!version.ok()) return Usage("s_client", version.status());
  MecaiClientOptions options;
  auto type = ExtensionTypeFlag(*flags);
  if (!type.ok()) return Usage("s_client", type.status());
  options.extension_type = *type;
  auto request_type =
      ExtensionTypeFlag(*flags, "request-code-point", kDefaultMecaiRequestExtensionType);
  if (!request_type.ok()) return Usage("s_client", request_type.status());
  options.request_extension_type = *request_type;
  options.ask_for_everything = flags->Has("ask-all");
  // The port the VDs must name (docs/TLS_EXTENSION.md §4); another only for a server reached
  // through a port forward.
  uint32_t serverport = address->second;
  if (flags->Has("serverport") && (!absl::SimpleAtoi(flags->Get("serverport"), &serverport) ||
                                   serverport == 0 || serverport > 65535)) {
    return Usage("s_client", absl::InvalidArgumentError("--serverport must be 1..65535"));
  }
  options.require_out_of_band_approval = flags->Has("require-approval");
  if (flags->Has("max-age") && (!absl::ParseDuration(flags->Get("max-age"), &options.max_age) ||
                                options.max_age <= absl::ZeroDuration())) {
    return Usage("s_client",
                 absl::InvalidArgumentError("--max-age must be a positive duration (24h)"));
  }
  auto vas = VaList::Load(flags->Get("va-list"));
  if (!vas.ok()) return Fail("s_client", vas.status());
  const std::string servername = flags->Get("servername", address->first);
  std::vector<std::string> candidates = flags->GetAll("va");
  if (candidates.empty()) {
    std::mt19937_64 random(std::random_device{}());
    candidates = ChooseCandidateVas(**vas, servername, [&random](size_t n) {
      return std::uniform_int_distribution<size_t>(0, n - 1)(random);
    });
  }
  FeedbackMemo memo;
  const std::string feedback_file = flags->Get("feedback-file");
  if (!feedback_file.empty()) {
    absl::Status loaded = memo.Load(feedback_file);
    if (!loaded.ok()) return Fail("s_client", loaded);
  }
  MecaiTlsClient client(**vas, SystemClock::Get(), options, &memo);
  SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
  LimitVersion(context.get(), *version);
  // The web-PKI check of the server certificate is the application's (as in `openssl s_client`);
  // this command checks MECAI: the VDs vouch for exactly the certificate of this handshake.
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  absl::Status registered = client.Register(context.get());
  if (!registered.ok()) return Usage("s_client", registered);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* resolved = nullptr;
  if (getaddrinfo(address->first.c_str(), std::to_string(address->second).c_str(), &hints,
                  &resolved) != 0 ||
      resolved == nullptr) {
    return Fail("s_client",
                absl::UnavailableError(absl::StrCat("cannot resolve ", address->first)));
  }
  FileDescriptor socket_fd(socket(resolved->ai_family, resolved->ai_socktype, 0));
  const bool connected = connect(socket_fd.get(), resolved->ai_addr, resolved->ai_addrlen) == 0;
  freeaddrinfo(resolved);
  if (!connected) {
    return Fail("s_client",
                absl::UnavailableError(absl::StrCat("cannot connect to ", flags->Get("connect"))));
  }
  SslPtr ssl(SSL_new(context.get()));
  SSL_set_fd(ssl.get(), socket_fd.get());
  SSL_set_tlsext_host_name(ssl.get(), servername.c_str());
  absl::Status prepared =
      client.PrepareConnection(ssl.get(), servername, static_cast<uint16_t>(serverport),
                               flags->Get("trust-list"), candidates);
  if (!prepared.ok()) return Usage("s_client", prepared);
  std::cout << "VAs asked for: " << absl::StrJoin(candidates, ", ") << std::endl;
  ClearOpenSslErrors();
  int exit_code = kExitOk;
  if (SSL_connect(ssl.get()) != 1) {
    // The VDs are verified inside the handshake: a refusal there ends it with an alert.
    auto verdict = client.VerifyConnection(ssl.get());
    if (!verdict.ok() && absl::IsPermissionDenied(verdict.status())) {
      std::cerr << "mecai s_client: handshake refused: " << verdict.status().message() << "\n";
      exit_code = kExitRefused;
    } else {
      const std::string problem = MecaiTlsClient::HandshakeProblem(ssl.get());
      std::cerr << "mecai s_client: handshake failed: "
                << (problem.empty() ? OpenSslError("SSL_connect").message() : problem) << "\n";
      exit_code = kExitError;
    }
  } else {
    std::cout << "protocol: " << SSL_get_version(ssl.get()) << std::endl;
    auto verification = client.VerifyConnection(ssl.get());
    if (!verification.ok()) {
      std::cerr << "mecai s_client: " << verification.status().message() << "\n";
      exit_code = kExitRefused;
    } else {
      std::cout << "MECAI: VALID, vouched by " << verification->statement.va_id() << "\n"
                << DescribeStatement(verification->statement);
      for (const std::string& problem : verification->problems) {
        std::cout << "  not verified: " << problem << "\n";
      }
      // A greeting, if the server sends one soon (`openssl s_server` sends none).
      timeval wait{1, 0};
      setsockopt(socket_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
      char buffer[256];
      const int read = SSL_read(ssl.get(), buffer, sizeof(buffer));
      if (read > 0) std::cout << "server says: " << std::string(buffer, read);
    }
    SSL_shutdown(ssl.get());
  }
  if (!feedback_file.empty()) {
    absl::Status saved = memo.Save(feedback_file);
    if (!saved.ok()) return Fail("s_client", saved);
  }
  return exit_code;
}

int ServerinfoCommand(int argc, char** argv) {
  auto flags = Flags::Parse(argc, argv, 2, {"vd", "out", "code-point"}, {});
  if (!flags.ok()) return Usage("serverinfo", flags.status());
  if (!flags->Has("vd") || !flags->Has("out")) {
    return Usage("serverinfo", absl::InvalidArgumentError("--vd and --out are required"));
  }
  auto type = ExtensionTypeFlag(*flags);
  if (!type.ok()) return Usage("serverinfo", type.status());
  std::vector<std::string> vds;
  for (const std::string& path : flags->GetAll("vd")) {
    auto contents = ReadFile(path, 1 << 20);
    if (!contents.ok()) return Fail("serverinfo", contents.status());
    vds.push_back(std::move(*contents));
  }
  const std::string list = EncodeVouchingDataList(vds);
  if (list.empty()) {
    return Fail("serverinfo", absl::InvalidArgumentError("the VDs do not fit in one extension"));
  }
  // SSL_CTX_use_serverinfo_file's SERVERINFOV2 file (docs/TLS_EXTENSION.md §5).
  auto pem = EncodeServerinfoFile(*type, list);
  if (!pem.ok()) return Fail("serverinfo", pem.status());
  absl::Status written = WriteFileAtomically(flags->Get("out"), *pem);
  if (!written.ok()) return Fail("serverinfo", written);
  std::cout << "serverinfo for extension " << *type << " (" << vds.size() << " VDs, " << list.size()
            << " bytes) written to " << flags->Get("out") << "\n";
  return kExitOk;
}

}  // namespace mecai
