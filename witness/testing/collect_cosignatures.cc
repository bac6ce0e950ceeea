// collect_cosignatures STORE SHARD WITNESS_URL WITNESS_VKEY BODY_FILE OLD: what the coordinator
// does after storing a checkpoint (coordinator/witness_collector.h), on the newest checkpoint of
// the record store STORE of log shard SHARD: asks the witness for its cosignature, verifies it and
// stores the cosigned note. Also writes to BODY_FILE the add-checkpoint body from size OLD that
// the store's own consistency proof makes, for an independent check of the proof. Prints the
// number of signature lines of the stored note. For //witness/testing:witness_go_test.
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "coordinator/record_store.h"
#include "coordinator/witness_collector.h"
#include "proto/mecai/v1/signer.pb.h"
#include "witness/add_checkpoint_request.h"

namespace mecai {
namespace {

absl::Status Run(const std::string& store_path, const std::string& shard, const std::string& url,
                 const std::string& vkey, const std::string& body_file, uint64_t old_size) {
  ASSIGN_OR_RETURN(std::unique_ptr<RecordStore> store, RecordStore::Open(store_path, shard));
  ASSIGN_OR_RETURN(v1::SignedCheckpoint latest, store->GetLatestCheckpoint());
  ASSIGN_OR_RETURN(ParsedNote parsed, ParseSignedNote(latest.note()));
  ASSIGN_OR_RETURN(TlogCheckpoint checkpoint, ParseCheckpointText(parsed.text));
  witness::AddCheckpointRequest request;
  request.old_size = old_size;
  if (old_size > 0) {
    ASSIGN_OR_RETURN(request.consistency_proof,
                     store->ConsistencyProof(old_size, checkpoint.tree_size));
  }
  request.note = latest.note();
  RETURN_IF_ERROR(WriteFileAtomically(body_file, witness::FormatAddCheckpointRequest(request)));

  v1::WitnessEndpoint endpoint;
  endpoint.set_url(url);
  endpoint.set_vkey(vkey);
  endpoint.set_timeout_milliseconds(10000);
  ASSIGN_OR_RETURN(std::unique_ptr<WitnessCollector> collector,
                   WitnessCollector::Create({endpoint}, *store, nullptr));
  collector->CheckpointStored(latest);
  collector->WaitUntilIdle();
  ASSIGN_OR_RETURN(v1::SignedCheckpoint stored, store->GetLatestCheckpoint());
  ASSIGN_OR_RETURN(ParsedNote cosigned, ParseSignedNote(stored.note()));
  std::cout << cosigned.signatures.size() << "\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  uint64_t old_size = 0;
  if (argc != 7 || !absl::SimpleAtoi(argv[6], &old_size)) {
    std::cerr << "usage: collect_cosignatures STORE SHARD WITNESS_URL WITNESS_VKEY BODY_FILE OLD\n";
    return 2;
  }
  absl::Status status = mecai::Run(argv[1], argv[2], argv[3], argv[4], argv[5], old_size);
  if (!status.ok()) {
    std::cerr << "collect_cosignatures: " << status << "\n";
    return 1;
  }
  return 0;
}
