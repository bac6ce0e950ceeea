// Appends plain REFUSED quorum records to a RecordStore, for tests of what is built on the log
// (checkpoints, backups, the log guard) rather than of the records themselves.
#ifndef MECAI_COORDINATOR_TESTING_REFUSAL_RECORDS_H_
#define MECAI_COORDINATOR_TESTING_REFUSAL_RECORDS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "coordinator/record_store.h"
#include "proto/mecai/v1/record.pb.h"

namespace mecai {

// A REFUSED record of `shard` at the next index of `store`, explained by `explanation`.
inline absl::Status AppendRefusalRecord(RecordStore& store, const std::string& shard,
                                        const std::string& explanation = "") {
  return store
      .Append([&](uint64_t log_index) -> absl::StatusOr<v1::QuorumRecord> {
        v1::QuorumRecord record;
        record.set_log_index(log_index);
        record.set_log_shard_id(shard);
        record.set_decision(v1::REFUSED);
        if (!explanation.empty()) record.mutable_refusal()->set_explanation(explanation);
        return record;
      })
      .status();
}

}  // namespace mecai

#endif  // MECAI_COORDINATOR_TESTING_REFUSAL_RECORDS_H_
