#include "common/evidence/trust_lists.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/certificate_cache.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"
#include "common/evidence/refusal.h"

namespace mecai {

absl::StatusOr<std::unique_ptr<TrustLists>> TrustLists::Load(
    const google::protobuf::RepeatedPtrField<v1::TrustListConfig>& configs) {
  std::unique_ptr<TrustLists> lists(new TrustLists());
  absl::MutexLock lock(&lists->mutex_);
  for (const v1::TrustListConfig& config : configs) {
    if (config.name().empty()) return absl::InvalidArgumentError("a trust list has no name");
    if (lists->lists_.count(config.name()) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("trust list '", config.name(), "' is configured twice"));
    }
    auto roots = LoadPemCertificates(config.pem_file());
    if (!roots.ok()) {
      return Annotate(roots.status(), absl::StrCat("trust list '", config.name(), "'"));
    }
    List& list = lists->lists_[config.name()];
    list.pem_file = config.pem_file();
    list.require_issuance_approval = config.require_issuance_approval();
    struct stat info;
    if (stat(config.pem_file().c_str(), &info) == 0) {
      list.file_modified_nanoseconds =
          static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
      list.file_size = static_cast<int64_t>(info.st_size);
    }
    list.roots = std::move(*roots);
  }
  return lists;
}

std::vector<std::string> TrustLists::RemovedRootHashes(const std::string& trust_list) const {
  absl::MutexLock lock(&mutex_);
  auto it = lists_.find(trust_list);
  return it == lists_.end() ? std::vector<std::string>() : it->second.removed_root_sha256;
}

absl::Status TrustLists::CheckChange(const v1::TrustListChange& change) const {
  if (change.root_sha256().size() != 32) {
    return absl::InvalidArgumentError("root_sha256 must be 32 bytes");
  }
  if (change.action() == v1::TrustListChange::ADD_ROOT) {
    ASSIGN_OR_RETURN(X509Ptr root, ParseDerCertificate(change.root_certificate_der()));
    if (Sha256(change.root_certificate_der()) != change.root_sha256()) {
      return absl::InvalidArgumentError("root_sha256 is not the SHA-256 of the certificate");
    }
    if (X509_check_ca(root.get()) == 0 || X509_check_issued(root.get(), root.get()) != X509_V_OK) {
      return absl::InvalidArgumentError("the certificate is not a self-signed CA certificate");
    }
  } else if (change.action() != v1::TrustListChange::REMOVE_ROOT) {
    return absl::InvalidArgumentError("the change names no action");
  }
  absl::MutexLock lock(&mutex_);
  auto it = lists_.find(change.trust_list());
  if (it == lists_.end()) {
    return absl::NotFoundError(absl::StrCat("no trust list named '", change.trust_list(), "'"));
  }
  if (change.action() == v1::TrustListChange::REMOVE_ROOT) {
    bool known = false;
    for (const auto* roots : {&it->second.roots, &it->second.added_roots}) {
      for (const X509Ptr& root : *roots) {
        if (Sha256(CertificateToDer(root.get())) == change.root_sha256()) known = true;
      }
    }
    if (!known) {
      return absl::NotFoundError(absl::StrCat("trust list '", change.trust_list(), "' has no root ",
                                              HexEncode(change.root_sha256())));
    }
  }
  return absl::OkStatus();
}

absl::Status TrustLists::ApplyChange(const v1::TrustListChange& change) {
  RETURN_IF_ERROR(CheckChange(change));
  if (change.action() == v1::TrustListChange::REMOVE_ROOT) {
    return RemoveRoot(change.trust_list(), change.root_sha256());
  }
  ASSIGN_OR_RETURN(X509Ptr root, ParseDerCertificate(change.root_certificate_der()));
  absl::MutexLock lock(&mutex_);
  List& list = lists_[change.trust_list()];
  auto& removed = list.removed_root_sha256;
  removed.erase(std::remove(removed.begin(), removed.end(), change.root_sha256()), removed.end());
  ForgetValidatedChains();
  for (const X509Ptr& added : list.added_roots) {
    if (Sha256(CertificateToDer(added.get())) == change.root_sha256()) return absl::OkStatus();
  }
  list.added_roots.push_back(std::move(root));
  return absl::OkStatus();
}

absl::Status TrustLists::RestoreChange(const v1::TrustListChange& change) {
  if (change.action() != v1::TrustListChange::REMOVE_ROOT) return ApplyChange(change);
  if (change.root_sha256().size() != 32) {
    return absl::InvalidArgumentError("root_sha256 must be 32 bytes");
  }
  absl::MutexLock lock(&mutex_);
  auto it = lists_.find(change.trust_list());
  if (it == lists_.end()) {
    return absl::NotFoundError(absl::StrCat("no trust list named '", change.trust_list(), "'"));
  }
  auto& removed = it->second.removed_root_sha256;
  if (std::find(removed.begin(), removed.end(), change.root_sha256()) == removed.end()) {
    removed.push_back(change.root_sha256());
  }
  ForgetValidatedChains();
  return absl::OkStatus();
}

std::vector<std::string> TrustLists::ReloadChangedFiles(std::vector<std::string>* errors) {
  std::vector<std::string> reloaded;
  absl::MutexLock lock(&mutex_);
  for (auto& [name, list] : lists_) {
    struct stat info;
    if (stat(list.pem_file.c_str(), &info) != 0) {
      errors->push_back(absl::StrCat("trust list '", name, "': cannot stat ", list.pem_file));
      continue;
    }
    const int64_t modified =
        static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
    if (modified == list.file_modified_nanoseconds &&
        static_cast<int64_t>(info.st_size) == list.file_size) {
      continue;
    }
    auto roots = LoadPemCertificates(list.pem_file);
    if (!roots.ok()) {
      errors->push_back(
          absl::StrCat("trust list '", name, "' kept as it was: ", roots.status().message()));
      continue;
    }
    list.roots = std::move(*roots);
    list.file_modified_nanoseconds = modified;
    list.file_size = static_cast<int64_t>(info.st_size);
    reloaded.push_back(name);
  }
  if (!reloaded.empty()) ForgetValidatedChains();
  return reloaded;
}

bool TrustLists::Has(const std::string& name) const {
  absl::MutexLock lock(&mutex_);
  return lists_.count(name) != 0;
}

bool TrustLists::RequiresIssuanceApproval(const std::string& name) const {
  absl::MutexLock lock(&mutex_);
  auto it = lists_.find(name);
  return it != lists_.end() && it->second.require_issuance_approval;
}

std::vector<std::string> TrustLists::Names() const {
  absl::MutexLock lock(&mutex_);
  std::vector<std::string> names;
  for (const auto& entry : lists_) names.push_back(entry.first);
  return names;
}

ChainVerdict TrustLists::VerifyChain(const std::string& trust_list, const std::vector<X509*>& chain,
                                     absl::Time at) const {
  ChainVerdict verdict;
  if (chain.empty()) {
    verdict.refusal = MakeRefusal(v1::MALFORMED_REQUEST, "the certificate chain is empty");
    return verdict;
  }
  const std::string key = ValidatedChainCache::KeyOf(trust_list, chain);
  std::vector<std::string> removed;
  std::optional<ValidatedPath> validated;
  X509StorePtr store;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mutex_);
    auto it = lists_.find(trust_list);
    if (it == lists_.end()) {
      verdict.refusal = MakeRefusal(
          v1::UNKNOWN_TRUST_LIST,
          absl::StrCat("this Vouching Server does not serve trust list '", trust_list, "'"));
      return verdict;
    }
    removed = it->second.removed_root_sha256;
    // Found under mutex_, so that no change comes between the lookup and the list it answers for.
    validated = validated_chains_.Find(key, at);
    if (!validated.has_value()) {
      store.reset(X509_STORE_new());
      for (const X509Ptr& root : it->second.roots) X509_STORE_add_cert(store.get(), root.get());
      for (const X509Ptr& root : it->second.added_roots) {
        X509_STORE_add_cert(store.get(), root.get());
      }
      generation = generation_;
    }
  }
  if (!validated.has_value()) {
    validated = ValidateChain(store.get(), trust_list, chain, at, &verdict.refusal);
    if (!validated.has_value()) return verdict;
    absl::MutexLock lock(&mutex_);
    // Not kept when a list changed while it was validated: the cache holds no path from before.
    if (generation == generation_) validated_chains_.Insert(key, *validated);
  }
  verdict.path = std::move(validated->path);
  verdict.root_sha256 = std::move(validated->root_sha256);
  if (std::find(removed.begin(), removed.end(), verdict.root_sha256) != removed.end()) {
    verdict.refusal = MakeRefusal(
        v1::ROOT_REMOVED, absl::StrCat("the chain ends at root ", ShortHex(verdict.root_sha256),
                                       ", which was removed from trust list '", trust_list, "'"));
  }
  return verdict;
}

std::optional<ValidatedPath> TrustLists::ValidateChain(X509_STORE* store,
                                                       const std::string& trust_list,
                                                       const std::vector<X509*>& chain,
                                                       absl::Time at, v1::Refusal* refusal) {
  X509StackPtr untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain.size(); ++i) {
    X509_up_ref(chain[i]);
    sk_X509_push(untrusted.get(), chain[i]);
  }
  ClearOpenSslErrors();
  X509StoreCtxPtr context(X509_STORE_CTX_new());
  X509_STORE_CTX_init(context.get(), store, chain[0], untrusted.get());
  X509_STORE_CTX_set_time(context.get(), 0, absl::ToTimeT(at));
  X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(context.get()), X509_V_FLAG_X509_STRICT);
  if (X509_verify_cert(context.get()) != 1) {
    int error = X509_STORE_CTX_get_error(context.get());
    int depth = X509_STORE_CTX_get_error_depth(context.get());
    ClearOpenSslErrors();
    std::string what =
        absl::StrCat(X509_verify_cert_error_string(error), " (at chain depth ", depth, ")");
    if (error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID) {
      *refusal = MakeRefusal(v1::CERTIFICATE_EXPIRED,
                             absl::StrCat("the certificate chain is not valid now: ", what));
    } else {
      *refusal = MakeRefusal(v1::UNTRUSTED_CHAIN,
                             absl::StrCat("the chain does not build to a root of trust list '",
                                          trust_list, "': ", what));
    }
    return std::nullopt;
  }
  // get1_chain gives ownership of a stack whose elements carry their own references.
  X509StackPtr path(X509_STORE_CTX_get1_chain(context.get()));
  ValidatedPath validated;
  for (int i = 0; i < sk_X509_num(path.get()); ++i) {
    validated.path.push_back(ShareCertificate(sk_X509_value(path.get(), i)));
  }
  validated.root_sha256 = Sha256(CertificateToDer(validated.path.back().get()));
  return validated;
}

absl::Status TrustLists::RemoveRoot(const std::string& trust_list, const std::string& root_sha256) {
  absl::MutexLock lock(&mutex_);
  auto it = lists_.find(trust_list);
  if (it == lists_.end()) {
    return absl::NotFoundError(absl::StrCat("no trust list named '", trust_list, "'"));
  }
  List& list = it->second;
  auto matches = [&](const X509Ptr& root) {
    return Sha256(CertificateToDer(root.get())) == root_sha256;
  };
  const bool known = std::any_of(list.roots.begin(), list.roots.end(), matches) ||
                     std::any_of(list.added_roots.begin(), list.added_roots.end(), matches);
  if (!known) {
    return absl::NotFoundError(
        absl::StrCat("trust list '", trust_list, "' has no root ", HexEncode(root_sha256)));
  }
  // The root stays in the store so that a chain to it still builds and is refused by name
  // (ROOT_REMOVED) rather than as an unexplained UNTRUSTED_CHAIN; every copy shares the hash.
  if (std::find(list.removed_root_sha256.begin(), list.removed_root_sha256.end(), root_sha256) ==
      list.removed_root_sha256.end()) {
    list.removed_root_sha256.push_back(root_sha256);
  }
  ForgetValidatedChains();
  return absl::OkStatus();
}

std::vector<std::string> TrustLists::RootHashes(const std::string& trust_list) const {
  absl::MutexLock lock(&mutex_);
  std::vector<std::string> hashes;
  auto it = lists_.find(trust_list);
  if (it == lists_.end()) return hashes;
  const auto& removed = it->second.removed_root_sha256;
  for (const auto* roots : {&it->second.roots, &it->second.added_roots}) {
    for (const X509Ptr& root : *roots) {
      std::string hash = Sha256(CertificateToDer(root.get()));
      if (std::find(removed.begin(), removed.end(), hash) == removed.end()) {
        hashes.push_back(std::move(hash));
      }
    }
  }
  return hashes;
}

bool CertificateMatchesHostname(X509* certificate, const std::string& hostname) {
  ClearOpenSslErrors();
  // NEVER_CHECK_SUBJECT: the DNS-ID comes from subjectAltName only, never from the subject CN
  // (OpenSSL would otherwise fall back to the CN when there is no DNS subjectAltName).
  int result = X509_check_host(
      certificate, hostname.data(), hostname.size(),
      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr);
  ClearOpenSslErrors();
  return result == 1;
}

namespace {

bool HasExtendedKeyUsage(X509* certificate, int nid, bool absent_means_any) {
  // X509_get_extension_flags computes and caches the extension flags.
  uint32_t flags = X509_get_extension_flags(certificate);
  if ((flags & EXFLAG_XKUSAGE) == 0) return absent_means_any;
  uint32_t usage = X509_get_extended_key_usage(certificate);
  if (nid == NID_server_auth) return (usage & XKU_SSL_SERVER) != 0;
  if (nid == NID_OCSP_sign) return (usage & XKU_OCSP_SIGN) != 0;
  return false;
}

}  // namespace

bool HasServerAuthUsage(X509* certificate) {
  return HasExtendedKeyUsage(certificate, NID_server_auth, /*absent_means_any=*/true);
}

bool HasOcspSigningUsage(X509* certificate) {
  return HasExtendedKeyUsage(certificate, NID_OCSP_sign, /*absent_means_any=*/false);
}

}  // namespace mecai
