#include "client/va_list.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/config_loader.h"
#include "common/hashing.h"
#include "common/pem.h"
#include "common/status.h"

namespace mecai {

absl::StatusOr<std::unique_ptr<VaList>> VaList::Load(const std::string& path,
                                                     size_t verified_va_cache_capacity) {
  ASSIGN_OR_RETURN(v1::VaList config, LoadConfig<v1::VaList>(path));
  if (config.vas().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("VA list ", path, " names no VA"));
  }
  const size_t slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::unique_ptr<VaList> list(new VaList(verified_va_cache_capacity));
  std::set<std::string> ids;
  for (const v1::VaListEntry& entry : config.vas()) {
    if (entry.id().empty() || !ids.insert(entry.id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("VA list ", path, ": every VA needs a unique id ('", entry.id(), "')"));
    }
    std::string certificate_path = entry.ca_certificate_file();
    if (!certificate_path.empty() && certificate_path[0] != '/') {
      certificate_path = directory + certificate_path;
    }
    auto certificates = LoadPemCertificates(certificate_path);
    if (!certificates.ok()) {
      return Annotate(certificates.status(), absl::StrCat("VA '", entry.id(), "' CA certificate"));
    }
    Entry loaded;
    loaded.config = entry;
    loaded.ca_certificate = std::move(certificates->front());
    loaded.ca_certificate_sha256 = Sha256(CertificateToDer(loaded.ca_certificate.get()));
    list->entries_.push_back(std::move(loaded));
  }
  return list;
}

const VaList::Entry* VaList::Find(const std::string& id) const {
  for (const Entry& entry : entries_) {
    if (entry.config.id() == id) return &entry;
  }
  return nullptr;
}

}  // namespace mecai
