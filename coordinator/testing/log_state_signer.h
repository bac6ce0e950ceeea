// A SignerService that keeps the real SignerLogState for checkpoints but holds no keys: the real
// log state decides (docs/SECURITY.md T7); the "signature" of a checkpoint is its body, which is
// all the coordinator side looks at. For in-process tests of the coordinator's checkpoint code.
#ifndef MECAI_COORDINATOR_TESTING_LOG_STATE_SIGNER_H_
#define MECAI_COORDINATOR_TESTING_LOG_STATE_SIGNER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "signer/log_state.h"

namespace mecai {

// Thread-safe.
class LogStateSigner final : public v1::SignerService::Service {
 public:
  explicit LogStateSigner(SignerLogState& state) : state_(state) {}

  grpc::Status SignCheckpoint(grpc::ServerContext* /*context*/,
                              const v1::SignCheckpointRequest* request,
                              v1::SignCheckpointResponse* response) override {
    {
      absl::MutexLock lock(&mutex_);
      ++calls_;
    }
    SignerLogState::CheckpointShortfall shortfall;
    const v1::CheckpointBody& asked = request->checkpoint();
    absl::Status advanced = state_.AdvanceCheckpoint(
        asked.log_shard_id(), asked.tree_size(), asked.root_hash(),
        asked.timestamp_unix_milliseconds(), request->previous_tree_size(),
        {request->consistency_proof().begin(), request->consistency_proof().end()},
        {request->vouched_records().begin(), request->vouched_records().end()}, &shortfall);
    if (advanced.code() == absl::StatusCode::kAborted) {
      response->set_signer_tree_size(shortfall.signer_tree_size);
      response->set_previous_tree_size_mismatch(shortfall.previous_tree_size_mismatch);
      for (uint64_t index : shortfall.records_needed) response->add_records_needed(index);
      for (const v1::SignerVouchedEntry& entry : shortfall.unrecorded) {
        v1::VouchingData* vd = response->add_unrecorded_vouching_data();
        vd->set_statement(entry.statement());
        *vd->mutable_signature() = entry.signature();
      }
      return grpc::Status::OK;
    }
    if (!advanced.ok()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, std::string(advanced.message()));
    }
    response->mutable_checkpoint()->set_tbs(asked.SerializeAsString());
    return grpc::Status::OK;
  }

  int calls() {
    absl::MutexLock lock(&mutex_);
    return calls_;
  }

 private:
  SignerLogState& state_;
  absl::Mutex mutex_;
  int calls_ ABSL_GUARDED_BY(mutex_) = 0;
};

// A LogStateSigner on its own SignerLogState, served in process. Not thread-safe.
class InProcessLogStateSigner {
 public:
  // The log state lives at `state_path` (SignerConfig.log_state_file).
  static absl::StatusOr<std::unique_ptr<InProcessLogStateSigner>> Start(
      const std::string& state_path) {
    auto signer = std::unique_ptr<InProcessLogStateSigner>(new InProcessLogStateSigner());
    absl::StatusOr<std::unique_ptr<SignerLogState>> state = SignerLogState::Open(state_path);
    if (!state.ok()) return state.status();
    signer->state_ = *std::move(state);
    signer->service_ = std::make_unique<LogStateSigner>(*signer->state_);
    grpc::ServerBuilder builder;
    builder.RegisterService(signer->service_.get());
    builder.SetMaxReceiveMessageSize(1 << 20);
    signer->server_ = builder.BuildAndStart();
    if (signer->server_ == nullptr)
      return absl::InternalError("the in-process signer did not start");
    grpc::ChannelArguments arguments;
    signer->stub_ = v1::SignerService::NewStub(signer->server_->InProcessChannel(arguments));
    return signer;
  }
  ~InProcessLogStateSigner() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }

  SignerLogState& state() { return *state_; }
  LogStateSigner& service() { return *service_; }
  v1::SignerService::Stub& stub() { return *stub_; }

 private:
  InProcessLogStateSigner() = default;
  std::unique_ptr<SignerLogState> state_;
  std::unique_ptr<LogStateSigner> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::SignerService::Stub> stub_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_TESTING_LOG_STATE_SIGNER_H_
