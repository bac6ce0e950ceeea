// The built-in VA list of a client or server (seed 004: "The list of VA servers (hostnames) shall
// be announced by CAs and embedded into software"; DESIGN §5 "VA list").
#ifndef MECAI_CLIENT_VA_LIST_H_
#define MECAI_CLIENT_VA_LIST_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/openssl_types.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// Immutable after Load. Thread-safe.
class VaList {
 public:
  struct Entry {
    v1::VaListEntry config;
    // The CA certificate the VA certificate must chain to.
    X509Ptr ca_certificate;
  };

  // Loads a v1::VaList text file and each entry's CA certificate. Relative certificate paths are
  // resolved against the list file's directory.
  static absl::StatusOr<std::unique_ptr<VaList>> Load(const std::string& path);

  const std::vector<Entry>& entries() const { return entries_; }
  // The entry with this id, or null.
  const Entry* Find(const std::string& id) const;

 private:
  VaList() = default;
  std::vector<Entry> entries_;
};

}  // namespace mecai

#endif  // MECAI_CLIENT_VA_LIST_H_
