// mecai: the command line of the MECAI Vouching Cluster (ARCHITECTURE.md §10).
#include <openssl/rand.h>

#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/approval_client.h"
#include "cli/audit_client.h"
#include "cli/demo.h"
#include "cli/flags.h"
#include "cli/internal_pki.h"
#include "cli/log_command.h"
#include "cli/public_log_command.h"
#include "cli/report.h"
#include "cli/store_command.h"
#include "cli/tls_commands.h"
#include "cli/trust_list_client.h"
#include "cli/vouch_client.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/rpc/grpc_channel.h"
#include "proto/mecai/v1/probe.grpc.pb.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitRefused = 3;

constexpr char kUsage[] =
    "usage: mecai <command> [flags]\n"
    "\n"
    "commands:\n"
    "  demo [--workdir DIR] [--perspectives N] [--network-namespaces]\n"
    "      Runs a whole local cluster and vouches for a local TLS server; exit 0 on success.\n"
    "      --network-namespaces puts each agent in its own network namespace with its own\n"
    "      resolver, a region each (needs root).\n"
    "  vouch --vs ADDR --host H [--port P] --trust-list TL --cert C --key K\n"
    "        [--next-cert C2 [--next-key K2]] --out VD [--http]  <connection>\n"
    "      Sends a signed Vouching Request; writes the VD to VD. Exit 0 issued, 3 refused.\n"
    "      To a public endpoint, --tls-ca alone: no client certificate (the VR's signature is\n"
    "      the authentication; --tls-server-name defaults to the host of ADDR). --http: an\n"
    "      HTTPS POST to its HTTP binding instead of gRPC.\n"
    "  verify --vd VD --host H --cert C --va-list L [--max-age DUR] [--va ID ...]\n"
    "         [--require-approval]\n"
    "      Verifies a VD as a TLS client would. Exit 0 valid, 3 invalid (reason on stderr).\n"
    "      --max-age: the oldest VD accepted (default 24h).\n"
    "      --require-approval: the VD must say issuance was approved out of band.\n"
    "  probe --agent ADDR --host H [--port P]  <connection>\n"
    "      Asks one probe agent what it sees for H:P.\n"
    "  s_server --cert C --key K (--vd-dir DIR | --vd VD ...) [--accept HOST:PORT] [--tls V]\n"
    "      A TLS server stapling VDs in the MECAI extension.\n"
    "  s_client --connect H:P --va-list L [--servername N] [--serverport P] [--trust-list TL]\n"
    "           [--va ID ...] [--ask-all]\n"
    "      Connects and verifies the stapled VDs. Exit 0 valid, 3 no valid VD. Stock servers\n"
    "      stapling a serverinfo file answer its default request; --ask-all asks a MECAI server\n"
    "      for every VD it holds.\n"
    "  serverinfo --vd VD ... --out F\n"
    "      Writes a serverinfo file stapling the VDs (openssl s_server -serverinfo, nginx,\n"
    "      Apache).\n"
    "  pki --out DIR --identity NAME [--identity NAME ...] [--days N]\n"
    "      Makes the internal mutual-TLS CA (or reuses DIR/ca.pem) and one certificate per\n"
    "      service identity (serverAuth + clientAuth).\n"
    "  audit --vs ADDR [--host H | --index N] [--since T] [--verify --va-list L [--state F]]\n"
    "        <connection>\n"
    "      Lists quorum records (T: RFC 3339 time, or a duration back from now such as 24h).\n"
    "      --verify checks the signed checkpoint against the VA list L (its VA's certificate\n"
    "      chain, pinned key and id), an inclusion proof per record and, with --state, that the\n"
    "      log shard and VA are those seen last time and the log is consistent with that\n"
    "      checkpoint. Exit 3 on any problem.\n"
    "  audit --log URL --key VKEY [--state F] [--host H] [--prove N --proof-out F [--entry-out "
    "F]]\n"
    "      Audits a shard's public log with only its URL and vkey: verifies the checkpoint,\n"
    "      every entry bundle and tile, the root, consistency with --state, the evidence of\n"
    "      H's records; --prove writes a c2sp.org/tlog-proof (docs/PUBLIC_LOG.md). Exit 3 on any\n"
    "      problem.\n"
    "  trust-list list --vs ADDR  <connection>\n"
    "      Lists each trust list's roots, removed roots and last change sequence.\n"
    "  trust-list add --vs ADDR --trust-list TL --root PEM --reason TEXT <maintainer key>\n"
    "             [--sequence N] [--out F]  <connection>\n"
    "  trust-list remove --vs ADDR --trust-list TL (--root PEM | --root-sha256 HEX)\n"
    "             --reason TEXT <maintainer key> [--sequence N] [--out F]  <connection>\n"
    "      Makes a trust-list change, signs it as a trust-list maintainer and submits it to the\n"
    "      coordinator, which relays it to the signer. The sequence defaults to one above the\n"
    "      list's last. --out F writes the signed change to F instead of submitting it (offline\n"
    "      signing: give --sequence, or --vs to ask for it).\n"
    "      <maintainer key>: --maintainer-key PEM, or a PKCS#11 token: --pkcs11-module SO\n"
    "      --pkcs11-token LABEL --pkcs11-key-label LABEL --pkcs11-pin-file F.\n"
    "  trust-list submit --vs ADDR --change F  <connection>\n"
    "      Submits a change signed earlier (trust-list add|remove --out F).\n"
    "  trust-list keygen --key F --public-key F\n"
    "      Makes a maintainer key pair (Ed25519); the services' trust_list_maintainer_key_files\n"
    "      name the public key. Exit 3 when a change is refused.\n"
    "  store check --store DIR --shard ID\n"
    "      Verifies a copy of a coordinator's record store (a backup) before a restore: every\n"
    "      record against the Merkle log; prints tree size, root and latest checkpoint.\n"
    "  log vkey --public-key F (--origin O | --signer-config F --shard ID)\n"
    "      Prints the verifier key of a shard's public log (C2SP vkey; docs/PUBLIC_LOG.md).\n"
    "  log verify-proof --key VKEY --proof F --entry F\n"
    "      Checks a c2sp.org/tlog-proof of an entry against the log's vkey.\n"
    "\n"
    "<connection>: --tls-ca F --tls-cert F --tls-key F --tls-server-name NAME (mutual TLS),\n"
    "              or --plaintext (local development only).\n"
    "Run `mecai <command> --help` for one command.\n";

constexpr char kApprovalUsage[] =
    "usage: mecai approval <subcommand> [flags]  <connection>\n"
    "\n"
    "  approval submit --server HOST:PORT --domain D [--tn TN] --requester TEXT\n"
    "                  (--csr FILE | --key FILE | --spki FILE --proof FILE) [--wait SECONDS]\n"
    "      Submits an issuance request to the approval service and prints its state, calls and\n"
    "      audit trail. Without --tn the service draws the transaction number (printed). The\n"
    "      service answers at once (state CALLING) and calls in the background: --wait polls\n"
    "      until the calls are done, at most SECONDS. --csr: a PKCS #10 request (PEM or DER).\n"
    "      --key: a private key (PEM): its public key is sent with a proof of possession.\n"
    "      --spki: a public key (PEM, certificate or DER) with --proof, the raw signature over\n"
    "      \"MECAI approval proof of possession v1\\n<domain>\\n\".\n"
    "      Sending the same request again answers with its current state.\n"
    "  approval status --server HOST:PORT (--tn TN | --key-sha256 HEX [--hostname H])\n"
    "      Prints the request's state, calls and audit trail; by key, the approved request that\n"
    "      covers H (else the latest covering it, else the latest).\n"
    "\n"
    "Exit 0 answered, 1 fault (unreachable, internal), 2 usage, 3 refused by the service.\n"
    "<connection>: --tls-ca F --tls-cert F --tls-key F --tls-server-name NAME (mutual TLS),\n"
    "              or --plaintext (local development only).\n";

int UsageError(const std::string& command, const absl::Status& status) {
  std::cerr << "mecai " << command << ": " << status.message() << "\n\n" << kUsage;
  return kExitUsage;
}

bool WantsHelp(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") return true;
  }
  return false;
}

int Demo(int argc, char** argv) {
  auto flags =
      mecai::Flags::Parse(argc, argv, 2, {"workdir", "perspectives"}, {"network-namespaces"});
  if (!flags.ok()) return UsageError("demo", flags.status());
  mecai::DemoOptions options;
  options.network_namespaces = flags->Has("network-namespaces");
  options.workdir = flags->Get("workdir");
  if (flags->Has("perspectives") &&
      !absl::SimpleAtoi(flags->Get("perspectives"), &options.perspectives)) {
    return UsageError("demo", absl::InvalidArgumentError("--perspectives must be a number"));
  }
  absl::Status status = mecai::RunDemo(options);
  if (!status.ok()) {
    std::cerr << "mecai demo: FAILED: " << status.message() << "\n";
    return kExitError;
  }
  std::cout << "mecai demo: OK — the cluster vouched for the server and the VD verified.\n";
  return kExitOk;
}

int Vouch(int argc, char** argv) {
  std::set<std::string> valued = {"vs",  "host",      "port",     "trust-list", "cert",
                                  "key", "next-cert", "next-key", "out",        "timeout"};
  valued.insert(mecai::kConnectionFlags.begin(), mecai::kConnectionFlags.end());
  std::set<std::string> boolean = mecai::kConnectionBooleanFlags;
  boolean.insert("http");
  auto flags = mecai::Flags::Parse(argc, argv, 2, valued, boolean);
  if (!flags.ok()) return UsageError("vouch", flags.status());
  mecai::VouchOptions options;
  for (const char* required : {"vs", "host", "trust-list", "cert", "key", "out"}) {
    if (!flags->Has(required)) {
      return UsageError("vouch",
                        absl::InvalidArgumentError(absl::StrCat("--", required, " is required")));
    }
  }
  auto peer = mecai::PublicPeerFromFlags(*flags, flags->Get("vs"));
  if (!peer.ok()) return UsageError("vouch", peer.status());
  options.http = flags->Has("http");
  if (options.http && flags->Has("plaintext")) {
    return UsageError("vouch", absl::InvalidArgumentError("--http is HTTPS only: no --plaintext"));
  }
  auto port = flags->GetPort("port", 443);
  if (!port.ok()) return UsageError("vouch", port.status());
  if (flags->Has("next-key") && !flags->Has("next-cert")) {
    return UsageError("vouch", absl::InvalidArgumentError("--next-key needs --next-cert"));
  }
  options.vouching_server = *peer;
  options.server.hostname = flags->Get("host");
  options.server.port = *port;
  options.server.trust_list = flags->Get("trust-list");
  options.server.certificate_file = flags->Get("cert");
  options.server.key_file = flags->Get("key");
  options.server.next_certificate_file = flags->Get("next-cert");
  options.server.next_key_file = flags->Get("next-key");
  if (flags->Has("timeout") && !absl::ParseDuration(flags->Get("timeout"), &options.timeout)) {
    return UsageError("vouch", absl::InvalidArgumentError("--timeout must be a duration (30s)"));
  }
  auto response = mecai::RequestVouching(options);
  if (!response.ok()) {
    std::cerr << "mecai vouch: " << response.status().message() << "\n";
    return kExitError;
  }
  std::cout << mecai::DescribeVouchResponse(*response);
  if (!response->has_vouching_data()) return kExitRefused;
  absl::Status written =
      mecai::WriteFileAtomically(flags->Get("out"), response->vouching_data().SerializeAsString());
  if (!written.ok()) {
    std::cerr << "mecai vouch: " << written.message() << "\n";
    return kExitError;
  }
  std::cout << "VD written to " << flags->Get("out") << "\n";
  return kExitOk;
}

int Verify(int argc, char** argv) {
  auto flags = mecai::Flags::Parse(
      argc, argv, 2, {"vd", "host", "cert", "va-list", "max-age", "va"}, {"require-approval"});
  if (!flags.ok()) return UsageError("verify", flags.status());
  for (const char* required : {"vd", "host", "cert", "va-list"}) {
    if (!flags->Has(required)) {
      return UsageError("verify",
                        absl::InvalidArgumentError(absl::StrCat("--", required, " is required")));
    }
  }
  mecai::VerifyOptions options;
  options.vouching_data_file = flags->Get("vd");
  options.hostname = flags->Get("host");
  options.certificate_file = flags->Get("cert");
  options.va_list_file = flags->Get("va-list");
  options.candidate_vas = flags->GetAll("va");
  options.require_out_of_band_approval = flags->Has("require-approval");
  if (flags->Has("max-age") && (!absl::ParseDuration(flags->Get("max-age"), &options.max_age) ||
                                options.max_age <= absl::ZeroDuration())) {
    return UsageError("verify",
                      absl::InvalidArgumentError("--max-age must be a positive duration (24h)"));
  }
  auto statement = mecai::VerifyVouchingDataFile(options);
  if (!statement.ok()) {
    std::cerr << "mecai verify: INVALID: " << statement.status().message() << "\n";
    return statement.status().code() == absl::StatusCode::kPermissionDenied ? kExitRefused
                                                                            : kExitError;
  }
  std::cout << "VALID\n" << mecai::DescribeStatement(*statement);
  return kExitOk;
}

int Probe(int argc, char** argv) {
  std::set<std::string> valued = {"agent", "host", "port", "timeout"};
  valued.insert(mecai::kConnectionFlags.begin(), mecai::kConnectionFlags.end());
  auto flags = mecai::Flags::Parse(argc, argv, 2, valued, mecai::kConnectionBooleanFlags);
  if (!flags.ok()) return UsageError("probe", flags.status());
  for (const char* required : {"agent", "host"}) {
    if (!flags->Has(required)) {
      return UsageError("probe",
                        absl::InvalidArgumentError(absl::StrCat("--", required, " is required")));
    }
  }
  auto peer = mecai::PeerFromFlags(*flags, flags->Get("agent"));
  if (!peer.ok()) return UsageError("probe", peer.status());
  auto port = flags->GetPort("port", 443);
  if (!port.ok()) return UsageError("probe", port.status());
  auto channel = mecai::MakeChannel(*peer);
  if (!channel.ok()) {
    std::cerr << "mecai probe: " << channel.status().message() << "\n";
    return kExitError;
  }
  auto stub = mecai::v1::ProbeService::NewStub(*channel);
  mecai::v1::ProbeRequest request;
  request.mutable_task()->set_hostname(flags->Get("host"));
  request.mutable_task()->set_port(*port);
  std::string random(48, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(&random[0]), static_cast<int>(random.size()));
  request.mutable_task()->set_vouching_request_sha256(random.substr(0, 32));
  request.mutable_task()->set_nonce(random.substr(32));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  mecai::v1::ProbeResponse response;
  grpc::Status status = stub->Probe(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "mecai probe: agent " << flags->Get("agent") << ": " << status.error_message()
              << "\n";
    return kExitError;
  }
  mecai::v1::ObservationBody body;
  body.ParseFromString(response.observation().tbs());
  std::cout << "perspective " << body.perspective().id() << " (" << body.perspective().region()
            << "): " << mecai::v1::ProbeOutcome_Name(body.outcome()) << "\n"
            << mecai::DescribeObservation(body, "  ");
  return body.outcome() == mecai::v1::PROBE_OK ? kExitOk : kExitRefused;
}

int Pki(int argc, char** argv) {
  auto flags = mecai::Flags::Parse(argc, argv, 2, {"out", "identity", "days"}, {});
  if (!flags.ok()) return UsageError("pki", flags.status());
  mecai::InternalPkiOptions options;
  options.directory = flags->Get("out");
  options.identities = flags->GetAll("identity");
  if (options.directory.empty() || options.identities.empty()) {
    return UsageError("pki", absl::InvalidArgumentError("--out and --identity are required"));
  }
  int days = 365;
  if (flags->Has("days") && (!absl::SimpleAtoi(flags->Get("days"), &days) || days < 1)) {
    return UsageError("pki", absl::InvalidArgumentError("--days must be a positive number"));
  }
  options.validity = absl::Hours(24 * days);
  absl::Status status = mecai::MakeInternalPki(options);
  if (!status.ok()) {
    std::cerr << "mecai pki: " << status.message() << "\n";
    return kExitError;
  }
  std::cout << "internal CA and " << options.identities.size() << " identities in "
            << options.directory << " (keep ca.key offline)\n";
  return kExitOk;
}

int Audit(int argc, char** argv) {
  if (mecai::IsPublicLogAudit(argc, argv)) return mecai::PublicLogAuditCommand(argc, argv);
  std::set<std::string> valued = {"vs", "host", "since", "va-list", "state", "index"};
  valued.insert(mecai::kConnectionFlags.begin(), mecai::kConnectionFlags.end());
  std::set<std::string> boolean = mecai::kConnectionBooleanFlags;
  boolean.insert("verify");
  auto flags = mecai::Flags::Parse(argc, argv, 2, valued, boolean);
  if (!flags.ok()) return UsageError("audit", flags.status());
  if (!flags->Has("vs")) {
    return UsageError("audit", absl::InvalidArgumentError("--vs is required"));
  }
  auto peer = mecai::PeerFromFlags(*flags, flags->Get("vs"));
  if (!peer.ok()) return UsageError("audit", peer.status());
  mecai::AuditOptions options;
  options.vouching_server = *peer;
  options.hostname = flags->Get("host");
  options.verify = flags->Has("verify");
  options.va_list_file = flags->Get("va-list");
  options.state_file = flags->Get("state");
  if (options.verify && options.va_list_file.empty()) {
    return UsageError("audit", absl::InvalidArgumentError(
                                   "--verify needs --va-list: the VA list says which VA may sign "
                                   "the checkpoint"));
  }
  if (!options.verify && (flags->Has("va-list") || flags->Has("state"))) {
    return UsageError("audit", absl::InvalidArgumentError("--va-list and --state need --verify"));
  }
  if (flags->Has("index") &&
      (!absl::SimpleAtoi(flags->Get("index"), &options.log_index) || options.log_index < 0)) {
    return UsageError("audit", absl::InvalidArgumentError("--index must be a log index"));
  }
  if (flags->Has("since")) {
    absl::Time since;
    absl::Duration back;
    std::string error;
    if (absl::ParseDuration(flags->Get("since"), &back)) {
      since = absl::Now() - back;
    } else if (!absl::ParseTime(absl::RFC3339_full, flags->Get("since"), &since, &error)) {
      return UsageError("audit", absl::InvalidArgumentError(
                                     "--since must be an RFC 3339 time or a duration (24h)"));
    }
    options.since_unix_milliseconds = absl::ToUnixMillis(since);
  }
  auto report = mecai::RunAudit(options, std::cout);
  if (!report.ok()) {
    std::cerr << "mecai audit: " << report.status().message() << "\n";
    return kExitError;
  }
  std::cout << report->records_listed << " records listed";
  if (options.verify) {
    std::cout << (report->problems.empty() ? "; all verified against the signed checkpoint"
                                           : "; VERIFICATION FAILED");
  }
  std::cout << "\n";
  for (const std::string& problem : report->problems) std::cerr << "PROBLEM: " << problem << "\n";
  return report->problems.empty() ? kExitOk : kExitRefused;
}

// `mecai trust-list list|add|remove|submit|keygen` (docs/PROTOCOL.md "Trust-list changes").
int TrustList(int argc, char** argv) {
  const std::string usage = "trust-list";
  if (argc < 3) {
    return UsageError(usage, absl::InvalidArgumentError(
                                 "a subcommand is required: list, add, remove, submit or keygen"));
  }
  const std::string subcommand = argv[2];
  std::set<std::string> valued = {"vs"};
  if (subcommand == "add" || subcommand == "remove") {
    valued.insert({"trust-list", "root", "root-sha256", "reason", "maintainer-key", "sequence",
                   "out", "pkcs11-module", "pkcs11-token", "pkcs11-key-label", "pkcs11-pin-file"});
  } else if (subcommand == "submit") {
    valued.insert("change");
  } else if (subcommand == "keygen") {
    valued = {"key", "public-key"};
  } else if (subcommand != "list") {
    return UsageError(
        usage, absl::InvalidArgumentError(absl::StrCat("unknown subcommand '", subcommand, "'")));
  }
  if (subcommand != "keygen") {
    valued.insert(mecai::kConnectionFlags.begin(), mecai::kConnectionFlags.end());
  }
  auto flags = mecai::Flags::Parse(
      argc, argv, 3, valued,
      subcommand == "keygen" ? std::set<std::string>() : mecai::kConnectionBooleanFlags);
  if (!flags.ok()) return UsageError(usage, flags.status());
  // A refusal by the coordinator or the signer is 3; a fault (unreachable, internal) is 1.
  auto failed = [&](const absl::Status& status) {
    std::cerr << "mecai trust-list " << subcommand << ": " << status.message() << "\n";
    switch (status.code()) {
      case absl::StatusCode::kUnavailable:
      case absl::StatusCode::kDeadlineExceeded:
      case absl::StatusCode::kInternal:
      case absl::StatusCode::kUnknown:
        return kExitError;
      default:
        return kExitRefused;
    }
  };
  if (subcommand == "keygen") {
    if (!flags->Has("key") || !flags->Has("public-key")) {
      return UsageError(usage, absl::InvalidArgumentError("--key and --public-key are required"));
    }
    absl::Status made = mecai::GenerateMaintainerKey(flags->Get("key"), flags->Get("public-key"));
    if (!made.ok()) {
      std::cerr << "mecai trust-list keygen: " << made.message() << "\n";
      return kExitError;
    }
    std::cout << "maintainer key in " << flags->Get("key") << " (keep it offline), public key in "
              << flags->Get("public-key") << " (for trust_list_maintainer_key_files)\n";
    return kExitOk;
  }
  mecai::v1::PeerConfig peer;
  const bool has_peer = flags->Has("vs");
  if (has_peer) {
    auto parsed = mecai::PeerFromFlags(*flags, flags->Get("vs"));
    if (!parsed.ok()) return UsageError(usage, parsed.status());
    peer = *std::move(parsed);
  } else if (subcommand == "list" || subcommand == "submit") {
    return UsageError(usage, absl::InvalidArgumentError("--vs is required"));
  } else if (!flags->Has("out")) {
    return UsageError(
        usage, absl::InvalidArgumentError("--vs is required (or --out F to only sign the change)"));
  }
  if (subcommand == "list") {
    auto lists = mecai::ListTrustLists(peer);
    if (!lists.ok()) return failed(lists.status());
    std::cout << mecai::DescribeTrustLists(*lists);
    return kExitOk;
  }
  mecai::v1::SignedTrustListChange change;
  if (subcommand == "submit") {
    if (!flags->Has("change")) {
      return UsageError(usage, absl::InvalidArgumentError("--change is required"));
    }
    auto bytes = mecai::ReadFile(flags->Get("change"));
    if (!bytes.ok() || !change.ParseFromString(*bytes)) {
      std::cerr << "mecai trust-list submit: " << flags->Get("change")
                << " is not a signed trust-list change\n";
      return kExitError;
    }
  } else {
    mecai::TrustListChangeOptions options;
    options.vouching_server = peer;
    options.has_vouching_server = has_peer;
    options.action = subcommand == "add" ? mecai::v1::TrustListChange::ADD_ROOT
                                         : mecai::v1::TrustListChange::REMOVE_ROOT;
    for (const char* required : {"trust-list", "reason"}) {
      if (!flags->Has(required)) {
        return UsageError(usage,
                          absl::InvalidArgumentError(absl::StrCat("--", required, " is required")));
      }
    }
    options.trust_list = flags->Get("trust-list");
    options.reason = flags->Get("reason");
    options.root_certificate_file = flags->Get("root");
    options.root_sha256_hex = flags->Get("root-sha256");
    if (subcommand == "add" ? !flags->Has("root")
                            : flags->Has("root") == flags->Has("root-sha256")) {
      return UsageError(
          usage, absl::InvalidArgumentError(subcommand == "add" ? "--root is required"
                                                                : "give exactly one of --root and "
                                                                  "--root-sha256"));
    }
    if (flags->Has("sequence") &&
        (!absl::SimpleAtoi(flags->Get("sequence"), &options.sequence) || options.sequence == 0)) {
      return UsageError(usage,
                        absl::InvalidArgumentError("--sequence must be a number of at least 1"));
    }
    options.maintainer_key_file = flags->Get("maintainer-key");
    if (flags->Has("pkcs11-module")) {
      mecai::v1::Pkcs11Config& token = options.maintainer_pkcs11;
      token.set_module_path(flags->Get("pkcs11-module"));
      token.set_token_label(flags->Get("pkcs11-token"));
      token.set_key_label(flags->Get("pkcs11-key-label"));
      token.set_pin_file(flags->Get("pkcs11-pin-file"));
      token.set_session_pool_size(1);
    }
    if (options.maintainer_key_file.empty() == options.maintainer_pkcs11.module_path().empty()) {
      return UsageError(usage, absl::InvalidArgumentError(
                                   "give the maintainer's key: --maintainer-key or --pkcs11-module "
                                   "(with --pkcs11-token, --pkcs11-key-label, --pkcs11-pin-file)"));
    }
    auto made = mecai::MakeTrustListChange(options);
    if (!made.ok()) {
      const int exit_code = failed(made.status());  // Prints the reason.
      // A file or key that cannot be used is an error; the coordinator refusing to say the
      // list's sequence (not an administrator) is a refusal.
      return made.status().code() == absl::StatusCode::kPermissionDenied ? exit_code : kExitError;
    }
    change = *std::move(made);
    if (flags->Has("out")) {
      absl::Status written =
          mecai::WriteFileAtomically(flags->Get("out"), change.SerializeAsString());
      if (!written.ok()) {
        std::cerr << "mecai trust-list " << subcommand << ": " << written.message() << "\n";
        return kExitError;
      }
      mecai::v1::TrustListChangeBody body;
      body.ParseFromString(change.tbs());
      std::cout << "signed change (sequence " << body.sequence() << ") written to "
                << flags->Get("out") << "; submit it with `mecai trust-list submit`\n";
      return kExitOk;
    }
  }
  auto submitted = mecai::SubmitTrustListChange(peer, change);
  if (!submitted.ok()) return failed(submitted.status());
  std::cout << "applied: " << mecai::DescribeTrustListChange(submitted->change())
            << "; recorded at log index " << submitted->log_index() << "\n";
  return kExitOk;
}

int Approval(int argc, char** argv) {
  const std::string subcommand = argc >= 3 ? argv[2] : "";
  if (subcommand.empty() || subcommand == "--help" || subcommand == "-h" || WantsHelp(argc, argv)) {
    std::cout << kApprovalUsage;
    return subcommand.empty() ? kExitUsage : kExitOk;
  }
  auto usage_error = [](const absl::Status& status) {
    std::cerr << "mecai approval: " << status.message() << "\n\n" << kApprovalUsage;
    return kExitUsage;
  };
  std::set<std::string> valued = {"server"};
  if (subcommand == "submit") {
    valued.insert({"domain", "tn", "requester", "csr", "key", "spki", "proof", "wait"});
  } else if (subcommand == "status") {
    valued.insert({"tn", "key-sha256", "hostname"});
  } else {
    return usage_error(
        absl::InvalidArgumentError(absl::StrCat("unknown subcommand '", subcommand, "'")));
  }
  valued.insert(mecai::kConnectionFlags.begin(), mecai::kConnectionFlags.end());
  auto flags = mecai::Flags::Parse(argc, argv, 3, valued, mecai::kConnectionBooleanFlags);
  if (!flags.ok()) return usage_error(flags.status());
  auto server = flags->Require("server");
  if (!server.ok()) return usage_error(server.status());
  auto peer = mecai::PeerFromFlags(*flags, *server);
  if (!peer.ok()) return usage_error(peer.status());
  absl::StatusOr<mecai::v1::IssuanceStatus> status;
  if (subcommand == "submit") {
    mecai::ApprovalSubmitOptions options;
    options.server = *peer;
    for (const char* required : {"domain", "requester"}) {
      if (!flags->Has(required)) {
        return usage_error(flags->Require(required).status());
      }
    }
    options.domain = flags->Get("domain");
    options.transaction_number = flags->Get("tn");
    options.requester = flags->Get("requester");
    options.csr_file = flags->Get("csr");
    options.key_file = flags->Get("key");
    options.spki_file = flags->Get("spki");
    options.proof_file = flags->Get("proof");
    if ((!options.csr_file.empty()) + (!options.key_file.empty()) + (!options.spki_file.empty()) !=
            1 ||
        (!options.spki_file.empty() && options.proof_file.empty())) {
      return usage_error(absl::InvalidArgumentError(
          "give exactly one of --csr, --key and --spki (--spki with --proof)"));
    }
    int wait_seconds = 0;
    if (flags->Has("wait") && (!absl::SimpleAtoi(flags->Get("wait"), &wait_seconds) ||
                               wait_seconds < 0 || wait_seconds > 3600)) {
      return usage_error(absl::InvalidArgumentError("--wait must be 0..3600 seconds"));
    }
    options.wait = absl::Seconds(wait_seconds);
    status = mecai::SubmitApprovalRequest(options);
  } else {
    mecai::ApprovalStatusOptions options;
    options.server = *peer;
    options.transaction_number = flags->Get("tn");
    options.key_sha256_hex = flags->Get("key-sha256");
    options.hostname = flags->Get("hostname");
    if (options.transaction_number.empty() == options.key_sha256_hex.empty()) {
      return usage_error(absl::InvalidArgumentError("give exactly one of --tn and --key-sha256"));
    }
    status = mecai::GetApprovalStatus(options);
  }
  if (!status.ok()) {
    std::cerr << "mecai approval " << subcommand << ": "
              << absl::StatusCodeToString(status.status().code()) << ": "
              << status.status().message() << "\n";
    switch (status.status().code()) {
      case absl::StatusCode::kInvalidArgument:
      case absl::StatusCode::kAlreadyExists:
      case absl::StatusCode::kNotFound:
      case absl::StatusCode::kResourceExhausted:
      case absl::StatusCode::kPermissionDenied:
      case absl::StatusCode::kFailedPrecondition:
        return kExitRefused;
      default:
        return kExitError;
    }
  }
  std::cout << mecai::DescribeIssuanceStatus(*status);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    std::cout << kUsage;
    return argc < 2 ? kExitUsage : kExitOk;
  }
  const std::string command = argv[1];
  // Its own usage, --help included.
  if (command == "approval") return Approval(argc, argv);
  if (WantsHelp(argc, argv)) {
    std::cout << kUsage;
    return kExitOk;
  }
  if (command == "demo") return Demo(argc, argv);
  if (command == "vouch") return Vouch(argc, argv);
  if (command == "verify") return Verify(argc, argv);
  if (command == "probe") return Probe(argc, argv);
  if (command == "s_server") return mecai::SServerCommand(argc, argv);
  if (command == "s_client") return mecai::SClientCommand(argc, argv);
  if (command == "serverinfo") return mecai::ServerinfoCommand(argc, argv);
  if (command == "audit") return Audit(argc, argv);
  if (command == "pki") return Pki(argc, argv);
  if (command == "store") return mecai::StoreCommand(argc, argv);
  if (command == "log") return mecai::LogCommand(argc, argv);
  if (command == "trust-list") return TrustList(argc, argv);
  std::cerr << "mecai: unknown command '" << command << "'\n\n" << kUsage;
  return kExitUsage;
}
