// A transparency log for witness tests: leaves in a Merkle tree (RFC 9162), checkpoints signed as
// C2SP notes by an in-memory Ed25519 log key, and add-checkpoint bodies with consistency proofs.
#ifndef MECAI_WITNESS_TESTING_TEST_LOG_H_
#define MECAI_WITNESS_TESTING_TEST_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/crypto/signature.h"
#include "common/transparency/merkle.h"
#include "common/transparency/note_key.h"

namespace mecai {
namespace witness {

// Not thread-safe.
class TestLog {
 public:
  // A log named `origin` with a fresh Ed25519 key.
  static absl::StatusOr<std::unique_ptr<TestLog>> Create(const std::string& origin);

  // Appends leaves until the tree has `size`; the leaves are "<tag> <index>".
  absl::Status GrowTo(uint64_t size, const std::string& tag = "leaf");

  const NoteVerifierKey& key() const { return key_; }
  std::string vkey() const { return FormatVerifierKey(key_); }
  uint64_t size() const { return tree_.size(); }

  // The note text and the signed note of the tree of `size` leaves (≤ size()), signed by this
  // log's key (or by `signer` under this log's key name and ID, for a forged note).
  absl::StatusOr<std::string> Text(uint64_t size) const;
  absl::StatusOr<std::string> Note(uint64_t size, SigningKey* signer = nullptr) const;
  // The add-checkpoint body: "old <old>", the proof from old to size, the note of size.
  absl::StatusOr<std::string> Body(uint64_t old_size, uint64_t size) const;
  // The root and consistency proof.
  absl::StatusOr<std::string> Root(uint64_t size) const { return tree_.RootHash(size); }
  absl::StatusOr<std::vector<std::string>> Proof(uint64_t old_size, uint64_t size) const;

 private:
  TestLog() = default;
  std::string origin_;
  NoteVerifierKey key_;
  std::unique_ptr<InMemorySigningKey> signer_;
  MerkleTree tree_;
};

}  // namespace witness
}  // namespace mecai

#endif  // MECAI_WITNESS_TESTING_TEST_LOG_H_
