// A real witness process for tests: a fresh SoftHSM2 token in `directory` with an Ed25519 witness
// key, the witness binary started with a WitnessConfig for the given logs, and its vkey.
#ifndef MECAI_WITNESS_TESTING_WITNESS_PROCESS_H_
#define MECAI_WITNESS_TESTING_WITNESS_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/process/child_process.h"
#include "common/transparency/note_key.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace witness {

// Not thread-safe.
class WitnessProcess {
 public:
  // Creates the token (softhsm2-util) and key under `directory` (absolute, existing) and writes
  // the config; does not start the witness. The token's SOFTHSM2_CONF is set for this process
  // and kept for the witness's.
  static absl::StatusOr<std::unique_ptr<WitnessProcess>> Create(const std::string& directory,
                                                                const std::string& name);

  // The witness's config, to change before Start (logs, listen_address, ...).
  v1::WitnessConfig& config() { return config_; }
  // Starts the binary (runfiles witness/witness) and waits until it serves.
  absl::Status Start();
  // Ends it with `signal` (SIGTERM, SIGKILL) and waits.
  absl::Status Kill(int signal);
  ChildProcess* process() { return process_.get(); }

  const NoteVerifierKey& key() const { return key_; }
  int port() const { return port_; }
  std::string Url(const std::string& path) const;
  std::string log_path() const { return directory_ + "/witness.log"; }
  std::string config_path() const { return directory_ + "/witness.textproto"; }
  // The binary, from the test's runfiles.
  static std::string BinaryPath();

 private:
  WitnessProcess() = default;
  std::string directory_;
  std::string softhsm_conf_;
  v1::WitnessConfig config_;
  NoteVerifierKey key_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

}  // namespace witness
}  // namespace mecai

#endif  // MECAI_WITNESS_TESTING_WITNESS_PROCESS_H_
