#include "witness/testing/witness_process.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/pkcs11/pkcs11_provisioning.h"
#include "common/transparency/cosignature.h"
#include "google/protobuf/text_format.h"

namespace mecai {
namespace witness {

std::string WitnessProcess::BinaryPath() {
  for (const char* variable : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* runfiles = getenv(variable)) {
      return absl::StrCat(runfiles, "/mecai/witness/witness");
    }
  }
  return "witness/witness";
}

absl::StatusOr<std::unique_ptr<WitnessProcess>> WitnessProcess::Create(const std::string& directory,
                                                                       const std::string& name) {
  std::unique_ptr<WitnessProcess> witness(new WitnessProcess());
  witness->directory_ = directory;
  RETURN_IF_ERROR(InitSoftHsmToken(directory + "/hsm", "witness", "4321", "87654321"));
  witness->softhsm_conf_ = SoftHsmConfigPath(directory + "/hsm");
  RETURN_IF_ERROR(WriteFileAtomically(directory + "/pin", "4321", 0600));
  v1::Pkcs11Config pkcs11;
  pkcs11.set_module_path(kSoftHsmModulePath);
  pkcs11.set_token_label("witness");
  pkcs11.set_pin_file(directory + "/pin");
  pkcs11.set_key_label("witness-key");
  ASSIGN_OR_RETURN(EvpPkeyPtr public_key, GenerateEd25519KeyPairInToken(pkcs11));
  ASSIGN_OR_RETURN(witness->key_, CosignerKey(name, public_key.get()));
  v1::WitnessConfig& config = witness->config_;
  config.set_listen_address("127.0.0.1:0");
  config.set_port_file(directory + "/port");
  config.set_metrics_address("127.0.0.1:0");
  config.set_metrics_port_file(directory + "/metrics_port");
  *config.mutable_pkcs11() = pkcs11;
  config.set_witness_name(name);
  config.set_state_file(directory + "/state.pb");
  config.set_vkey_file(directory + "/vkey");
  return witness;
}

std::string WitnessProcess::Url(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", port_, path);
}

absl::Status WitnessProcess::Start() {
  std::string text;
  google::protobuf::TextFormat::PrintToString(config_, &text);
  RETURN_IF_ERROR(WriteFileAtomically(config_path(), text));
  unlink(config_.port_file().c_str());
  ASSIGN_OR_RETURN(process_,
                   ChildProcess::Start({BinaryPath(), "--config", config_path()}, log_path(),
                                       {absl::StrCat("SOFTHSM2_CONF=", softhsm_conf_)}));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> port = ReadFile(config_.port_file());
    if (port.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*port), &port_)) {
      return WaitForTcpPort("127.0.0.1", port_, absl::Seconds(10), process_.get());
    }
    if (!process_->Running()) {
      return absl::UnavailableError(
          absl::StrCat("the witness ", process_->ExitDescription(), ": ", TailOfFile(log_path())));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("the witness did not write its port within 30 s");
}

absl::Status WitnessProcess::Kill(int signal) {
  if (process_ == nullptr) return absl::FailedPreconditionError("not started");
  ::kill(-process_->pid(), signal);
  if (!process_->WaitForExit(absl::Seconds(10))) {
    return absl::DeadlineExceededError("the witness did not exit within 10 s");
  }
  return absl::OkStatus();
}

}  // namespace witness
}  // namespace mecai
