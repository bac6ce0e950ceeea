// grow_test_log WORKDIR SHARD ORIGIN_PREFIX RECORDS [VARIANT]: grows the record store WORKDIR/store
// of log shard SHARD to RECORDS records, as the coordinator does (coordinator/record_store.h), and
// has the signer's own code (signer/vouching_signer.h SignCheckpoint) sign a checkpoint of the
// whole tree with an Ed25519 log key and the origin prefix ORIGIN_PREFIX, proving consistency from
// the last one it signed (its log state is WORKDIR/signer-log-state.pb). The checkpoint is stored
// as the coordinator stores it. The log key is WORKDIR/log-key.pem, made on the first run; the
// log's vkey goes to WORKDIR/vkey, and the vkey of another key under the same name to
// WORKDIR/other-vkey. The records for host-3.example name a revocation response by hash (one of
// two CRLs), stored in the evidence family. VARIANT, when given, goes into every record's VR: a
// store grown with another VARIANT and the same log key (copied into its WORKDIR first) is a fork
// of the same log. For //log_server/testing:public_log_go_test and :public_log_audit_test
// (docs/PUBLIC_LOG.md).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/enrolled_agents.h"
#include "common/evidence/trust_lists.h"
#include "common/pki/pki_builder.h"
#include "common/transparency/note_key.h"
#include "coordinator/record_store.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/signer.pb.h"
#include "signer/log_state.h"
#include "signer/vouching_signer.h"

namespace mecai {
namespace {

// The record at `index`: a refusal whose VR is `index`-dependent bytes of a varying length, so
// that leaves differ in size (up to about 3 kB).
v1::QuorumRecord RecordAt(uint64_t index, const std::string& shard, const std::string& variant) {
  v1::QuorumRecord record;
  record.set_log_index(index);
  record.set_log_shard_id(shard);
  record.set_decided_at_unix_milliseconds(1767225600000 + static_cast<int64_t>(index) * 1000);
  std::string request = absl::StrCat("VR ", variant, index, " ");
  request.append((index * 37) % 3000, static_cast<char>('a' + index % 26));
  record.set_vouching_request(request);
  record.set_vouching_request_sha256(Sha256(request));
  record.set_hostname(absl::StrCat("host-", index % 17, ".example"));
  record.set_port(443);
  record.set_trust_list("mozilla");
  record.set_decision(v1::REFUSED);
  if (index % 17 == 3) {
    v1::RevocationEvidence* evidence = record.add_revocation();
    evidence->set_source(v1::CRL);
    evidence->set_url("http://crl.test.example/ca.crl");
    evidence->set_response_der(absl::StrCat("CRL number ", index % 2, " of the test CA"));
  }
  return record;
}

absl::StatusOr<EvpPkeyPtr> LogKey(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (pem.ok()) return ParsePemPrivateKey(*pem);
  if (pem.status().code() != absl::StatusCode::kNotFound) return pem.status();
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEd25519Key());
  RETURN_IF_ERROR(WriteFileAtomically(path, PrivateKeyToPem(key.get()), 0600));
  return key;
}

absl::Status Grow(const std::string& workdir, const std::string& shard, const std::string& prefix,
                  uint64_t records, const std::string& variant) {
  ASSIGN_OR_RETURN(EvpPkeyPtr log_private, LogKey(workdir + "/log-key.pem"));
  ASSIGN_OR_RETURN(EvpPkeyPtr log_public, ParsePemPublicKey(PublicKeyToPem(log_private.get())));
  ASSIGN_OR_RETURN(auto log_key, InMemorySigningKey::Create(std::move(log_private)));
  ASSIGN_OR_RETURN(EvpPkeyPtr va_private, GenerateEcKey(256));
  ASSIGN_OR_RETURN(auto va_key, InMemorySigningKey::Create(std::move(va_private)));
  const std::string origin = absl::StrCat(prefix, "/", shard);
  ASSIGN_OR_RETURN(NoteVerifierKey vkey, Ed25519VerifierKey(origin, log_public.get()));
  RETURN_IF_ERROR(WriteFileAtomically(workdir + "/vkey", FormatVerifierKey(vkey) + "\n"));
  ASSIGN_OR_RETURN(EvpPkeyPtr other, GenerateEd25519Key());
  ASSIGN_OR_RETURN(NoteVerifierKey other_vkey, Ed25519VerifierKey(origin, other.get()));
  RETURN_IF_ERROR(
      WriteFileAtomically(workdir + "/other-vkey", FormatVerifierKey(other_vkey) + "\n"));

  ASSIGN_OR_RETURN(auto store, RecordStore::Open(workdir + "/store", shard));
  while (store->TreeSize() < records) {
    RETURN_IF_ERROR(
        store->Append([&](uint64_t index) { return RecordAt(index, shard, variant); }).status());
  }

  v1::SignerConfig config;
  config.set_va_id("va-test");
  config.set_log_origin_prefix(prefix);
  ASSIGN_OR_RETURN(auto log_state, SignerLogState::Open(workdir + "/signer-log-state.pb"));
  ASSIGN_OR_RETURN(auto agents, EnrolledAgents::Load({}));
  ASSIGN_OR_RETURN(auto trust_lists, TrustLists::Load({}));
  VouchingSigner signer(config, {}, {*va_key, *log_key, log_public.get()}, *log_state, *agents,
                        *trust_lists, SystemClock::Get());
  // The coordinator's request (coordinator/checkpoint_signer.h): the whole tree, proven
  // consistent with the last tree the signer signed.
  uint64_t previous = 0;
  if (absl::StatusOr<v1::SignedCheckpoint> last = store->GetLatestCheckpoint(); last.ok()) {
    v1::CheckpointBody body;
    if (!body.ParseFromString(last->tbs())) return absl::DataLossError("stored checkpoint");
    previous = body.tree_size();
  }
  const uint64_t size = store->TreeSize();
  v1::SignCheckpointRequest request;
  request.mutable_checkpoint()->set_log_shard_id(shard);
  request.mutable_checkpoint()->set_tree_size(size);
  ASSIGN_OR_RETURN(*request.mutable_checkpoint()->mutable_root_hash(), store->RootHash(size));
  request.mutable_checkpoint()->set_timestamp_unix_milliseconds(
      SystemClock::Get().NowUnixMilliseconds());
  request.set_previous_tree_size(previous);
  if (previous > 0) {
    ASSIGN_OR_RETURN(std::vector<std::string> proof, store->ConsistencyProof(previous, size));
    for (const std::string& hash : proof) request.add_consistency_proof(hash);
  }
  ASSIGN_OR_RETURN(v1::SignCheckpointResponse response, signer.SignCheckpoint(request));
  if (!response.has_checkpoint()) {
    return absl::FailedPreconditionError("the signer signed no checkpoint");
  }
  RETURN_IF_ERROR(store->PutCheckpoint(response.checkpoint(), size));
  std::printf("%s: %llu records, checkpoint of %llu signed by %s\n", workdir.c_str(),
              static_cast<unsigned long long>(store->TreeSize()),  // NOLINT(runtime/int)
              static_cast<unsigned long long>(size),               // NOLINT(runtime/int)
              FormatVerifierKey(vkey).c_str());
  return absl::OkStatus();
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  uint64_t records = 0;
  if ((argc != 5 && argc != 6) || !absl::SimpleAtoi(argv[4], &records)) {
    std::fprintf(stderr, "usage: grow_test_log WORKDIR SHARD ORIGIN_PREFIX RECORDS [VARIANT]\n");
    return 2;
  }
  absl::Status status = mecai::Grow(argv[1], argv[2], argv[3], records, argc == 6 ? argv[5] : "");
  if (!status.ok()) {
    std::fprintf(stderr, "grow_test_log: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
