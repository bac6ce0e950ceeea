#include "cli/demo_public_log.h"

#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cli/log_command.h"
#include "cli/public_log_audit.h"
#include "cli/public_log_client.h"
#include "cli/record_observations.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"
#include "common/process/child_process.h"
#include "common/transparency/note_key.h"

namespace mecai {
namespace {

// The port the server wrote to `port_file`, waiting up to `wait` while it runs.
absl::StatusOr<int> AwaitPort(ChildProcess& server, const std::string& port_file,
                              absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> text = ReadFile(port_file, 64);
    int port = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port) && port > 0) {
      return port;
    }
    if (!server.Running()) {
      return absl::UnavailableError(absl::StrCat("log_server ", server.ExitDescription(),
                                                 "; its log: ", TailOfFile(server.log_path())));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError("log_server did not listen within the wait");
}

// Waits until `log` serves a checkpoint of at least `min_size` entries (the signer signs a note
// with each checkpoint). The note is only read here; the audit verifies it.
absl::Status AwaitCheckpoint(const PublicLogClient& log, uint64_t min_size, absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  std::string last = "none";
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> note = log.Checkpoint();
    if (note.ok()) {
      const std::vector<absl::string_view> lines = absl::StrSplit(*note, '\n');
      uint64_t size = 0;
      if (lines.size() > 1 && absl::SimpleAtoi(lines[1], &size) && size >= min_size) {
        return absl::OkStatus();
      }
      last = absl::StrCat("a checkpoint of ", lines.size() > 1 ? lines[1] : "?", " entries");
    } else {
      last = std::string(note.status().message());
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "no checkpoint of ", min_size, " entries was served within the wait (last: ", last, ")"));
}

}  // namespace

absl::Status AuditDemoPublicLog(const LocalCluster& cluster, const std::string& log_server_binary,
                                absl::Duration wait) {
  const std::string directory = cluster.Path("public-log");
  mkdir(directory.c_str(), 0700);
  const std::string origin = absl::StrCat(cluster.LogOriginPrefix(), "/", LocalCluster::kShardId);
  ASSIGN_OR_RETURN(std::string vkey_text, LogVkey(cluster.Path("pki/log-key.pub.pem"), origin));
  ASSIGN_OR_RETURN(NoteVerifierKey vkey, ParseVerifierKey(vkey_text));
  RETURN_IF_ERROR(WriteFileAtomically(directory + "/vkey", vkey_text + "\n"));
  const std::string port_file = directory + "/port";
  RETURN_IF_ERROR(WriteFileAtomically(
      directory + "/log-server.textproto",
      absl::StrCat("store_path: \"", cluster.Path("store/coordinator"), "\"\n",
                   "secondary_path: \"", directory, "/secondary\"\n", "log_shard_id: \"",
                   LocalCluster::kShardId, "\"\n", "vkey: \"", vkey_text, "\"\n",
                   "listen_address: \"127.0.0.1:0\"\n", "port_file: \"", port_file, "\"\n",
                   "catch_up_interval_milliseconds: 200\n")));
  std::cout << "\n• serving the shard's public log (log_server, docs/PUBLIC_LOG.md) and auditing it"
            << " with only its URL and vkey" << std::endl;
  ASSIGN_OR_RETURN(
      std::unique_ptr<ChildProcess> server,
      ChildProcess::Start({log_server_binary, "--config", directory + "/log-server.textproto"},
                          cluster.Path("logs/log_server.log")));
  ASSIGN_OR_RETURN(int port, AwaitPort(*server, port_file, absl::Seconds(20)));
  const std::string url = absl::StrCat("http://127.0.0.1:", port);
  ASSIGN_OR_RETURN(AddressPolicy policy, AddressPolicy::Create({"127.0.0.0/8"}));
  CurlHttpFetcher fetcher(std::move(policy));
  PublicLogClient log(fetcher, url);
  // The demo's VD is record 0: its checkpoint covers at least one entry.
  RETURN_IF_ERROR(AwaitCheckpoint(log, 1, wait));
  PublicLogAuditOptions options;
  options.state_file = directory + "/audit.state";
  options.hostname = LocalCluster::kTargetHost;
  // The VA's enrolled agents, as its signer knows them: each record's Observations are verified
  // with their keys.
  ASSIGN_OR_RETURN(v1::SignerConfig signer,
                   LoadConfig<v1::SignerConfig>(cluster.Path("signer.textproto")));
  std::string agent_lines;
  for (const v1::AgentEndpoint& agent : signer.agents()) {
    absl::StrAppend(&agent_lines, agent.perspective().id(), " ", agent.public_key_file(), "\n");
  }
  const std::string agents_file = directory + "/agents";
  RETURN_IF_ERROR(WriteFileAtomically(agents_file, agent_lines));
  ASSIGN_OR_RETURN(AgentKeys agents, LoadAgentKeys(agents_file));
  options.agents = &agents;
  std::cout << "  mecai audit --log " << url << " --key " << directory << "/vkey --state "
            << options.state_file << " --host " << options.hostname << " --agents " << agents_file
            << "\n";
  ASSIGN_OR_RETURN(PublicLogAuditReport report, RunPublicLogAudit(log, vkey, options, std::cout));
  server->Stop();
  for (const std::string& problem : report.problems) std::cout << "  PROBLEM: " << problem << "\n";
  if (!report.problems.empty()) {
    return absl::FailedPreconditionError("the public log did not verify (see above)");
  }
  std::cout << "  public log VERIFIED: " << report.checkpoint.tree_size << " entries of "
            << report.checkpoint.origin << "\n";
  return absl::OkStatus();
}

}  // namespace mecai
