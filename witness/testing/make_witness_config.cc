// make_witness_config DIR NAME LOG_VKEY: a witness for a test: a SoftHSM2 token in DIR/hsm with an
// Ed25519 witness key, and DIR/witness.textproto, a WitnessConfig named NAME that witnesses the
// log of LOG_VKEY, listening on 127.0.0.1:0 (port in DIR/port, metrics port in DIR/metrics_port,
// vkey in DIR/vkey). Run the witness with SOFTHSM2_CONF=DIR/hsm/softhsm2.conf. For
// //witness/testing:witness_go_test (docs/PUBLIC_LOG.md "Witnesses").
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/pkcs11/pkcs11_provisioning.h"
#include "common/transparency/cosignature.h"
#include "google/protobuf/text_format.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace {

absl::Status Run(const std::string& directory, const std::string& name,
                 const std::string& log_vkey) {
  RETURN_IF_ERROR(InitSoftHsmToken(directory + "/hsm", "witness", "4321", "87654321"));
  RETURN_IF_ERROR(WriteFileAtomically(directory + "/pin", "4321", 0600));
  v1::WitnessConfig config;
  v1::Pkcs11Config* pkcs11 = config.mutable_pkcs11();
  pkcs11->set_module_path(kSoftHsmModulePath);
  pkcs11->set_token_label("witness");
  pkcs11->set_pin_file(directory + "/pin");
  pkcs11->set_key_label("witness-key");
  ASSIGN_OR_RETURN(EvpPkeyPtr public_key, GenerateEd25519KeyPairInToken(*pkcs11));
  ASSIGN_OR_RETURN(NoteVerifierKey key, CosignerKey(name, public_key.get()));
  config.set_listen_address("127.0.0.1:0");
  config.set_port_file(directory + "/port");
  config.set_metrics_address("127.0.0.1:0");
  config.set_metrics_port_file(directory + "/metrics_port");
  config.set_witness_name(name);
  config.set_state_file(directory + "/state.pb");
  config.set_vkey_file(directory + "/vkey");
  config.add_logs()->add_vkeys(log_vkey);
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  RETURN_IF_ERROR(WriteFileAtomically(directory + "/witness.textproto", text));
  std::cout << FormatCosignerVkey(key) << "\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: make_witness_config DIR NAME LOG_VKEY\n";
    return 2;
  }
  absl::Status status = mecai::Run(argv[1], argv[2], argv[3]);
  if (!status.ok()) {
    std::cerr << "make_witness_config: " << status << "\n";
    return 1;
  }
  return 0;
}
