#include "cli/demo.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/demo_public_log.h"
#include "cli/report.h"
#include "cli/vouch_client.h"
#include "cluster/binaries.h"
#include "cluster/local_cluster.h"
#include "cluster/network_regions.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/process/child_process.h"

namespace mecai {
namespace {

// The work directory, for the signal handler (which may not allocate).
char g_workdir_for_signal[PATH_MAX];

// SIGINT/SIGTERM: stop every child, say where the work directory is, and leave.
void OnInterrupt(int signal_number) {
  KillAllChildrenFromSignalHandler();
  const char message[] =
      "\nmecai demo: interrupted; every process it started was stopped.\nwork directory: ";
  ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);
  ignored = write(STDERR_FILENO, g_workdir_for_signal, strlen(g_workdir_for_signal));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  _exit(128 + signal_number);
}

absl::StatusOr<std::string> PrepareWorkdir(const std::string& requested) {
  if (requested.empty()) {
    char pattern[] = "/tmp/mecai-demo-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      return absl::InternalError(
          absl::StrCat("cannot create a work directory in /tmp: ", std::strerror(errno)));
    }
    return std::string(pattern);
  }
  if (mkdir(requested.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create ", requested, ": ", std::strerror(errno)));
  }
  char resolved[PATH_MAX];
  if (realpath(requested.c_str(), resolved) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", requested));
  }
  std::string workdir = resolved;
  struct stat info;
  if (stat((workdir + "/store").c_str(), &info) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(workdir, " already holds a demo cluster; pass an empty or new --workdir"));
  }
  return workdir;
}

// Vouches for the target as its TLS server would, then verifies the VD as a client would.
absl::Status VouchAndVerify(const LocalCluster& cluster) {
  std::cout << "• vouching for " << LocalCluster::kTargetHost << ":" << cluster.target_port()
            << " (mecai vouch, public endpoint, no client certificate)" << std::endl;
  VouchOptions vouch;
  // As any TLS server on the Internet would: the VR's signature is the authentication.
  vouch.vouching_server = cluster.CoordinatorPublicPeer();
  vouch.server.hostname = LocalCluster::kTargetHost;
  vouch.server.port = static_cast<uint32_t>(cluster.target_port());
  vouch.server.trust_list = LocalCluster::kTrustList;
  vouch.server.certificate_file = cluster.ServerChainFile();
  vouch.server.key_file = cluster.ServerKeyFile();
  ASSIGN_OR_RETURN(v1::VouchResponse response, RequestVouching(vouch));
  std::cout << "\n" << DescribeVouchResponse(response);
  if (!response.has_vouching_data()) {
    return absl::FailedPreconditionError("the cluster refused to vouch (see above)");
  }
  const std::string vd_file = cluster.Path("www.mecai.test.vd");
  RETURN_IF_ERROR(WriteFileAtomically(vd_file, response.vouching_data().SerializeAsString()));

  std::cout << "\n• verifying the VD as a client would (mecai verify)" << std::endl;
  VerifyOptions verify;
  verify.vouching_data_file = vd_file;
  verify.hostname = LocalCluster::kTargetHost;
  verify.certificate_file = cluster.ServerLeafFile();
  verify.va_list_file = cluster.VaListFile();
  ASSIGN_OR_RETURN(v1::VouchingStatement statement, VerifyVouchingDataFile(verify));
  std::cout << "\nVouching Data — VALID (" << response.vouching_data().ByteSizeLong() << " bytes, "
            << (response.vouching_data().has_log_proof()
                    ? "logged: proven by its log entry in a signed checkpoint, "
                    : "signed by the VA key, ")
            << vd_file << "):\n"
            << DescribeStatement(statement);

  // The other side: a certificate the CA's CRL lists is refused before any probe.
  std::cout << "\n• asking for a revoked certificate of the same host (pki/revoked.pem)"
            << std::endl;
  vouch.server.certificate_file = cluster.RevokedChainFile();
  vouch.server.key_file = cluster.RevokedKeyFile();
  ASSIGN_OR_RETURN(v1::VouchResponse revoked, RequestVouching(vouch));
  if (revoked.has_vouching_data()) {
    return absl::InternalError("the cluster vouched for a revoked certificate");
  }
  std::cout << "  REFUSED — " << v1::RefusalReason_Name(revoked.refusal().reason()) << ": "
            << revoked.refusal().explanation() << "\n";
  return absl::OkStatus();
}

}  // namespace

absl::Status RunDemo(const DemoOptions& options) {
  if (options.perspectives < 3 || options.perspectives > 16) {
    return absl::InvalidArgumentError("--perspectives must be between 3 and 16");
  }
  ASSIGN_OR_RETURN(std::string workdir, PrepareWorkdir(options.workdir));
  std::strncpy(g_workdir_for_signal, workdir.c_str(), sizeof(g_workdir_for_signal) - 1);
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::cout << "MECAI demo — work directory " << workdir << std::endl;
  absl::Status status;
  {
    LocalClusterOptions cluster_options;
    cluster_options.workdir = workdir;
    cluster_options.perspectives = options.perspectives;
    // Logged VDs, as the shipped configurations (docs/VOUCHING_DATA.md "Logged VDs").
    cluster_options.logged_vouching_data = true;
    std::unique_ptr<NetworkRegions> regions;
    if (options.network_namespaces) {
      if (options.perspectives > 9) {
        return absl::InvalidArgumentError("--network-namespaces supports up to 9 perspectives");
      }
      const std::string regions_directory = workdir + "/regions";
      mkdir(regions_directory.c_str(), 0700);
      std::cout << "• creating " << options.perspectives
                << " regions: network namespaces with their own dnsmasq (10.77.<n>.0/24)"
                << std::endl;
      auto created = NetworkRegions::Create(regions_directory, options.perspectives,
                                            LocalCluster::kTargetHost, absl::StrCat(getpid()));
      if (!created.ok()) return created.status();
      regions = std::move(*created);
      cluster_options.agent_placements = regions->Placements();
      cluster_options.target_listen_address = "0.0.0.0";
    }
    // A checkpoint (and its note, for the public log) a few seconds after the VRs, not a minute.
    cluster_options.coordinator_overrides.set_checkpoint_interval_seconds(3);
    LocalCluster cluster(cluster_options);
    status = cluster.Start();
    if (status.ok()) status = VouchAndVerify(cluster);
    if (status.ok()) {
      absl::StatusOr<BinaryPaths> binaries = FindClusterBinaries();
      if (binaries.ok() && !binaries->log_server.empty()) {
        status = AuditDemoPublicLog(cluster, binaries->log_server, absl::Seconds(60));
      } else {
        std::cout << "\n• no log_server binary (bazel build //log_server): public log skipped\n";
      }
    }
    std::cout << "\n• stopping every process the demo started" << std::endl;
  }
  std::cout << "work directory: " << workdir << " (configs, keys, token, store, logs/)\n";
  return status;
}

}  // namespace mecai
