#include "client/va_list.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/config_loader.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/transparency/cosignature.h"

namespace mecai {
namespace {

bool IsSha256Hex(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return absl::ascii_isxdigit(static_cast<unsigned char>(c));
         });
}

}  // namespace

bool VaList::Entry::PinsKey(const std::string& spki_sha256) const {
  return std::find(va_spki_sha256.begin(), va_spki_sha256.end(), spki_sha256) !=
         va_spki_sha256.end();
}

std::string VaKeyPin(EVP_PKEY* key) { return HexEncode(Sha256(PublicKeyToDer(key))); }

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
  // Each pinned key (32-byte digest) and the VA it speaks for.
  std::map<std::string, std::string> pinned_by;
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
    // docs/VOUCHING_DATA.md §4: the VA certificate's key names the VA, so a key
    // certified by a shared CA for another purpose cannot speak for this one.
    if (entry.va_spki_sha256().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "VA list ", path, ": VA '", entry.id(),
          "' needs va_spki_sha256 (the SHA-256 of its VA certificate's SubjectPublicKeyInfo, 64 "
          "hex digits)"));
    }
    Entry loaded;
    for (const std::string& pin : entry.va_spki_sha256()) {
      if (!IsSha256Hex(pin)) {
        return absl::InvalidArgumentError(absl::StrCat("VA list ", path, ": VA '", entry.id(),
                                                       "' va_spki_sha256 '", pin,
                                                       "' is not 64 hex digits"));
      }
      const std::string digest = absl::HexStringToBytes(pin);
      auto [previous, inserted] = pinned_by.emplace(digest, entry.id());
      if (!inserted && previous->second == entry.id()) {
        return absl::InvalidArgumentError(absl::StrCat("VA list ", path, ": VA '", entry.id(),
                                                       "' lists va_spki_sha256 ",
                                                       absl::AsciiStrToLower(pin), " twice"));
      }
      if (!inserted) {
        return absl::InvalidArgumentError(
            absl::StrCat("VA list ", path, ": va_spki_sha256 ", absl::AsciiStrToLower(pin),
                         " is pinned for both '", previous->second, "' and '", entry.id(),
                         "'; a VA key speaks for one VA"));
      }
      loaded.va_spki_sha256.push_back(digest);
    }
    if (!entry.witness_vkey().empty()) {
      absl::StatusOr<NoteVerifierKey> witness = ParseCosignerVkey(entry.witness_vkey());
      if (!witness.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("VA list ", path, ": VA '", entry.id(),
                         "' witness_vkey: ", witness.status().message()));
      }
      for (const NoteVerifierKey& other : list->witness_keys_) {
        if (other.name == witness->name) {
          return absl::InvalidArgumentError(absl::StrCat("VA list ", path, ": VA '", entry.id(),
                                                         "' witness_vkey: the witness name ",
                                                         witness->name, " is listed twice"));
        }
        // cosignature/v1 does not sign the witness's name (c2sp.org/tlog-cosignature).
        if (other.public_key == witness->public_key) {
          return absl::InvalidArgumentError(absl::StrCat(
              "VA list ", path, ": VA '", entry.id(), "' witness_vkey: the witness key of ",
              witness->name, " is also that of ", other.name));
        }
      }
      loaded.witness_key = *witness;
      list->witness_keys_.push_back(*std::move(witness));
    }
    for (const std::string& vkey : entry.log_vkeys()) {
      absl::StatusOr<NoteVerifierKey> log_key = ParseVerifierKey(vkey);
      if (!log_key.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "VA list ", path, ": VA '", entry.id(), "' log_vkeys: ", log_key.status().message()));
      }
      loaded.log_keys.push_back(*std::move(log_key));
    }
    loaded.config = entry;
    loaded.ca_certificate = std::move(certificates->front());
    loaded.ca_certificate_sha256 = Sha256(CertificateToDer(loaded.ca_certificate.get()));
    list->entries_.push_back(std::move(loaded));
  }
  if (config.min_cosignatures() > list->witness_keys_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VA list ", path, ": min_cosignatures ", config.min_cosignatures(), " exceeds the ",
        list->witness_keys_.size(), " witnesses it lists (witness_vkey)"));
  }
  list->min_cosignatures_ = config.min_cosignatures();
  return list;
}

const VaList::Entry* VaList::Find(const std::string& id) const {
  for (const Entry& entry : entries_) {
    if (entry.config.id() == id) return &entry;
  }
  return nullptr;
}

}  // namespace mecai
