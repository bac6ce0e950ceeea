#include "probe_agent/tls_handshake.h"

#include <gnutls/gnutls.h>
#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "probe_agent/gnutls_handshake.h"
#include "probe_agent/openssl_handshake.h"

namespace mecai {
namespace probe_agent {

absl::StatusOr<int> ParseTlsVersion(const std::string& text) {
  if (text == "TLSv1.2") return 0x0303;
  if (text == "TLSv1.3") return 0x0304;
  return absl::InvalidArgumentError(
      absl::StrCat("TLS version '", text, "' is neither \"TLSv1.2\" nor \"TLSv1.3\""));
}

absl::StatusOr<TlsLibrary> ParseTlsLibrary(absl::string_view text) {
  if (text == "openssl") return TlsLibrary::kOpenSsl;
  if (text == "gnutls") return TlsLibrary::kGnuTls;
  return absl::InvalidArgumentError(
      absl::StrCat("TLS library '", text, "' is neither \"openssl\" nor \"gnutls\""));
}

std::string TlsLibraryName(TlsLibrary library) {
  return library == TlsLibrary::kGnuTls ? "gnutls" : "openssl";
}

std::string TlsLibraryDescription(TlsLibrary library) {
  const char* version = library == TlsLibrary::kGnuTls ? gnutls_check_version(nullptr)
                                                       : OpenSSL_version(OPENSSL_VERSION_STRING);
  return absl::StrCat(TlsLibraryName(library), " ", version != nullptr ? version : "?");
}

absl::StatusOr<std::unique_ptr<TlsClient>> CreateTlsClient(TlsLibrary library,
                                                           const TlsClientOptions& options) {
  if (options.min_version < 0x0303 || options.max_version > 0x0304 ||
      options.min_version > options.max_version) {
    return absl::InvalidArgumentError("TLS versions must satisfy TLSv1.2 <= min <= max <= TLSv1.3");
  }
  if (library == TlsLibrary::kGnuTls) return CreateGnuTlsClient(options);
  return CreateOpenSslClient(options);
}

}  // namespace probe_agent
}  // namespace mecai
