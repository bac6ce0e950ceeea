// The witness's decision on one add-checkpoint request (https://c2sp.org/tlog-witness
// "add-checkpoint"), independent of HTTP: it cosigns (https://c2sp.org/tlog-cosignature
// cosignature/v1) a checkpoint of a known log, signed by that log's key, that extends the last
// checkpoint it cosigned of the log, after recording it durably (witness/witness_state.h).
//
//   400 malformed body, note or checkpoint, or old size > checkpoint size
//   404 the origin is not a configured log
//   403 no signature of the log's keys verifies
//   409 old size ≠ the size last cosigned (body: that size, text/x.tlog.size), or the same size
//       with another root hash
//   422 the consistency proof does not verify
//   500 the state cannot be written or the HSM does not sign (nothing is cosigned)
//   200 one cosignature line
#ifndef MECAI_WITNESS_WITNESS_H_
#define MECAI_WITNESS_WITNESS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/crypto/signature.h"
#include "common/transparency/note_key.h"
#include "witness/witness_metrics.h"
#include "witness/witness_state.h"

namespace mecai {
namespace witness {

struct AddCheckpointResult {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // For metrics: "cosigned", "malformed", "unknown_log", "bad_signature", "conflict",
  // "bad_proof" or "internal".
  const char* result = "internal";
};

// Thread-safe: requests for one origin are serialized (check, record and cosign as one step), those
// for different origins run concurrently.
class Witness {
 public:
  // `logs`: each origin with its note verifier keys (type 0x01). `key` is the cosigner key
  // (type 0x04) whose private half `signer` holds. `metrics` may be null.
  Witness(std::map<std::string, std::vector<NoteVerifierKey>> logs, NoteVerifierKey key,
          SigningKey& signer, WitnessState& state, const Clock& clock, WitnessMetrics* metrics);

  AddCheckpointResult AddCheckpoint(absl::string_view body);

  const NoteVerifierKey& key() const { return key_; }

 private:
  struct Log {
    std::vector<NoteVerifierKey> keys;
    absl::Mutex mutex;
  };
  AddCheckpointResult Decide(absl::string_view body);

  const NoteVerifierKey key_;
  SigningKey& signer_;
  WitnessState& state_;
  const Clock& clock_;
  WitnessMetrics* const metrics_;
  // Fixed after construction; each Log's mutex serializes its origin.
  std::map<std::string, std::unique_ptr<Log>> logs_;
};

}  // namespace witness
}  // namespace mecai

#endif  // MECAI_WITNESS_WITNESS_H_
