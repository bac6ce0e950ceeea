// The built-in VA list of a client or server (MECAI proposal: "The list of VA servers (hostnames)
// shall be announced by CAs and embedded into software"; ARCHITECTURE.md §5 "VA list").
#ifndef MECAI_CLIENT_VA_LIST_H_
#define MECAI_CLIENT_VA_LIST_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/verified_va_cache.h"
#include "common/crypto/openssl_types.h"
#include "common/transparency/note_key.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// The entries are immutable after Load; the verified-VA cache is internally synchronized.
// Thread-safe.
class VaList {
 public:
  struct Entry {
    v1::VaListEntry config;
    // The CA certificate the VA certificate must chain to.
    X509Ptr ca_certificate;
    // SHA-256 of its DER encoding: the CA half of the verified-VA cache's key.
    std::string ca_certificate_sha256;
    // The pinned VA keys (config.va_spki_sha256 decoded): 32-byte SHA-256 digests of the
    // SubjectPublicKeyInfo DER of each key that may speak for this VA. Never empty.
    std::vector<std::string> va_spki_sha256;

    // Whether `spki_sha256` (32 bytes) is one of this VA's pinned keys.
    bool PinsKey(const std::string& spki_sha256) const;
    // The VA's witness (config.witness_vkey parsed; docs/PUBLIC_LOG.md "Witnesses"), if listed.
    std::optional<NoteVerifierKey> witness_key;
    // The VA's public logs (config.log_vkeys parsed, note keys named by their origins). When any
    // is listed, a logged VD of this VA is accepted only from one of them
    // (client/log_proof_verifier.h).
    std::vector<NoteVerifierKey> log_keys;
  };

  // Loads a v1::VaList text file and each entry's CA certificate. Relative certificate paths are
  // resolved against the list file's directory. Every entry needs a unique id and at least one
  // va_spki_sha256 (64 hex digits each), and no key may be pinned for two VAs; a witness_vkey must
  // be a cosigner vkey (type 0x04) of a name no other VA's witness has, and min_cosignatures at
  // most the number of witnesses; otherwise INVALID_ARGUMENT naming the list, the VA and the field.
  // `verified_va_cache_capacity` bounds the cache of VA chain validations against this list's CAs
  // (0: validate every chain every time).
  static absl::StatusOr<std::unique_ptr<VaList>> Load(
      const std::string& path,
      size_t verified_va_cache_capacity = VerifiedVaCache::kDefaultCapacity);

  const std::vector<Entry>& entries() const { return entries_; }
  // The witnesses of the list (each entry's witness_key, in order) and the cosignatures of distinct
  // ones a checkpoint needs (VaList.min_cosignatures; at most witness_keys().size()), for
  // VerifyCosignedCheckpoint (common/transparency/cosigned_checkpoint.h).
  const std::vector<NoteVerifierKey>& witness_keys() const { return witness_keys_; }
  size_t min_cosignatures() const { return min_cosignatures_; }
  // The entry with this id, or null.
  const Entry* Find(const std::string& id) const;

  // VA chain validations against this list's CA certificates (client/vd_verifier.cc). Owned by
  // the list, so another list never reuses its entries.
  VerifiedVaCache& verified_va_cache() const { return *verified_va_cache_; }

 private:
  explicit VaList(size_t verified_va_cache_capacity)
      : verified_va_cache_(std::make_unique<VerifiedVaCache>(verified_va_cache_capacity)) {}

  // Constant after Load.
  std::vector<Entry> entries_;
  std::vector<NoteVerifierKey> witness_keys_;
  size_t min_cosignatures_ = 0;
  // Non-null; thread-safe itself.
  const std::unique_ptr<VerifiedVaCache> verified_va_cache_;
};

// The VaListEntry.va_spki_sha256 value that pins `key`: the lower-case hex SHA-256 of its
// SubjectPublicKeyInfo DER. What VA list producers write for a VA certificate's key.
std::string VaKeyPin(EVP_PKEY* key);

}  // namespace mecai

#endif  // MECAI_CLIENT_VA_LIST_H_
