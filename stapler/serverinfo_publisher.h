// The serverinfo files of stock TLS servers (docs/TLS_EXTENSION.md §5, §7): nginx
// (`ssl_conf_command ServerInfoFile`) and Apache (`SSLOpenSSLConfCmd ServerInfoFile`) staple a
// fixed file and read it again only when reloaded. For each served certificate the publisher
// keeps one file (common/tls_extension/serverinfo_file.h) holding the stapler's current VDs, and
// after writing runs the server's reload command.
//
// A file is never made worse, as a web server keeps a stapled OCSP response it holds rather than
// replace it by a failure: a VD that does not verify for the file's certificate, or that is not
// newer than the file's VD of the same VA, is not written; while the stapler holds no VD the file
// stays as it is; the file's VDs that still verify are kept beside the new ones. Each file is
// written atomically (a rename), so a reloading server reads the old file or the new one, whole.
#ifndef MECAI_STAPLER_SERVERINFO_PUBLISHER_H_
#define MECAI_STAPLER_SERVERINFO_PUBLISHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/tls_extension/mecai_extension.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/vouching.pb.h"
#include "stapler/tls_stapling.h"

namespace mecai {

struct ServerinfoFile {
  // Where the file is written (the directory must exist).
  std::string path;
  // The DER leaf certificate the TLS server serves with this file.
  std::string certificate_der;
};

struct ServerinfoOptions {
  std::vector<ServerinfoFile> files;
  // mecai_vouching's code point in the files.
  uint16_t extension_type = kDefaultMecaiExtensionType;
  // Run after any file was written, without a shell; empty: nothing is run.
  std::vector<std::string> reload_command;
  absl::Duration reload_timeout = absl::Seconds(30);
};

// Whether a VD may be written into the file of the server certificate `certificate_der` now
// (verification as a client would do it).
using ServerinfoCheckFunction =
    std::function<absl::Status(const v1::VouchingData& vd, const std::string& certificate_der)>;

enum class ReloadResult { kSucceeded, kFailed, kTimedOut, kNotStarted };
// "succeeded", "failed", "timed_out", "not_started" (bounded metric label values).
const char* ReloadResultName(ReloadResult result);

struct ReloadOutcome {
  ReloadResult result = ReloadResult::kNotStarted;
  // How it ended, e.g. "exited with status 1".
  std::string description;
};

// Runs a command and waits for it at most `timeout`.
using ReloadRunner =
    std::function<ReloadOutcome(const std::vector<std::string>& argv, absl::Duration timeout)>;

// The real runner: argv[0] with arguments argv[1..], no shell, stdin from /dev/null, output to
// this process's stdout and stderr (common/process/child_process.h); killed (its process group)
// after `timeout`.
ReloadOutcome RunReloadCommand(const std::vector<std::string>& argv, absl::Duration timeout);

// Thread-safe: Update calls are serialized.
class ServerinfoPublisher {
 public:
  // `registry` may be null (no Prometheus metrics); counts() always counts.
  ServerinfoPublisher(ServerinfoOptions options, ServerinfoCheckFunction check, ReloadRunner reload,
                      prometheus::Registry* registry);
  ServerinfoPublisher(const ServerinfoPublisher&) = delete;
  ServerinfoPublisher& operator=(const ServerinfoPublisher&) = delete;

  // The stapler's listener (Stapler::SetListener): brings every file up to `set` as the header
  // says, then, when a file was written, runs the reload command once.
  void Update(const VdSet& set) ABSL_LOCKS_EXCLUDED(mutex_);

  struct Counts {
    // Per file and update, by outcome: "written", "unchanged", "kept_empty" (the stapler held no
    // VD), "kept_invalid", "kept_older" (no VD was written, one was refused for that reason),
    // "write_failed".
    std::map<std::string, uint64_t> updates;
    // VDs not written, by reason: "invalid", "older".
    std::map<std::string, uint64_t> refused_vds;
    // Reload commands by ReloadResultName.
    std::map<std::string, uint64_t> reloads;
  };
  Counts counts() const ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  // Brings one file up to `set`; returns its outcome's name.
  std::string UpdateFile(const ServerinfoFile& file, const VdSet& set)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void CountRefused(const char* reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  // Constant after construction.
  const ServerinfoOptions options_;
  const ServerinfoCheckFunction check_;
  const ReloadRunner reload_;
  prometheus::Family<prometheus::Counter>* updates_metric_ = nullptr;
  prometheus::Family<prometheus::Counter>* refused_metric_ = nullptr;
  prometheus::Family<prometheus::Counter>* reloads_metric_ = nullptr;

  mutable absl::Mutex mutex_;
  Counts counts_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_STAPLER_SERVERINFO_PUBLISHER_H_
