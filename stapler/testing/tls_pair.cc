#include "stapler/testing/tls_pair.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "client/testing/vd_vectors.h"
#include "common/base/status.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"

namespace mecai {
namespace testing_tls {

std::string VectorPath(const std::string& name) {
  const char* runfiles = std::getenv("TEST_SRCDIR");
  return absl::StrCat(runfiles != nullptr ? runfiles : ".", "/mecai/testdata/vd/", name);
}

absl::StatusOr<SslCtxPtr> MakeServerContext(const std::string& chain_file,
                                            const std::string& key_file, int tls_version) {
  ClearOpenSslErrors();
  SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_set_min_proto_version(context.get(), tls_version);
  SSL_CTX_set_max_proto_version(context.get(), tls_version);
  if (SSL_CTX_use_certificate_chain_file(context.get(), chain_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(context.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return OpenSslError(absl::StrCat("loading ", chain_file));
  }
  return context;
}

SslCtxPtr MakeClientContext(int tls_version) {
  SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(context.get(), tls_version);
  SSL_CTX_set_max_proto_version(context.get(), tls_version);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  return context;
}

absl::StatusOr<std::string> SignVouchingData(const std::string& hostname,
                                             const std::vector<std::string>& leaf_files,
                                             absl::Time issued_at, const std::string& va_id) {
  if (va_id != vd_vectors::kVaId && va_id != vd_vectors::kOtherVaId) {
    return absl::InvalidArgumentError(absl::StrCat("no key for VA '", va_id, "'"));
  }
  const std::string va_file = va_id == vd_vectors::kVaId ? "va" : "other-va";
  ASSIGN_OR_RETURN(auto first_leaf, LoadPemCertificatesAsDer(leaf_files.front()));
  v1::VouchingStatement statement = vd_vectors::ValidStatement(first_leaf.front());
  statement.set_va_id(va_id);
  statement.set_hostname(hostname);
  statement.clear_certificate_sha256();
  for (const std::string& file : leaf_files) {
    ASSIGN_OR_RETURN(auto leaf, LoadPemCertificatesAsDer(file));
    ASSIGN_OR_RETURN(auto certificate, ParseDerCertificate(leaf.front()));
    unsigned char digest[32];
    unsigned int length = 0;
    X509_digest(certificate.get(), EVP_sha256(), digest, &length);
    statement.add_certificate_sha256(std::string(reinterpret_cast<char*>(digest), length));
  }
  statement.set_issued_at_unix_seconds(absl::ToUnixSeconds(issued_at));
  ASSIGN_OR_RETURN(EvpPkeyPtr va_key, LoadPemPrivateKey(VectorPath(va_file + ".key.pem")));
  ASSIGN_OR_RETURN(auto va_chain, LoadPemCertificatesAsDer(VectorPath(va_file + ".pem")));
  v1::VouchingData vd;
  vd.set_statement(statement.SerializeAsString());
  ASSIGN_OR_RETURN(*vd.mutable_signature(),
                   SignBytes(va_key.get(), v1::ECDSA_P256_SHA256,
                             SignedMessage(SignedObject::kVouchingStatement, vd.statement())));
  for (const std::string& der : va_chain) vd.add_va_certificate_chain_der(der);
  return vd.SerializeAsString();
}

}  // namespace testing_tls
}  // namespace mecai
