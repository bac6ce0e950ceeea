// Mutual TLS for tests and benchmarks (trust rule 7: services reach each other only over mutual
// TLS): a throwaway private CA and a server and a client identity it issues, written as the PEM
// files a ServerTls or ClientTls config names (proto/mecai/v1/config.proto).
#ifndef MECAI_COMMON_TESTING_MTLS_FILES_H_
#define MECAI_COMMON_TESTING_MTLS_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace mecai {

// Paths of the files WriteMutualTlsFiles wrote.
struct MutualTlsFiles {
  std::string ca;  // The CA's certificate: a server's client_ca_file, a client's server_ca_file.
  std::string ca_key;  // The CA's private key (mode 0600), to issue more identities.
  std::string server_certificate;
  std::string server_key;
  std::string client_certificate;
  std::string client_key;
};

// Writes into `directory` ca.pem and ca.key, a fresh EC P-256 CA named `ca_name`, and for each of
// the server identity `server_name` (extended key usage serverAuth) and the client identity
// `client_name` (clientAuth) <name>.pem, its certificate, and <name>.key, its EC P-256 key (mode
// 0600). The identity is the certificate's DNS subjectAltName (and common name), which a peer
// checks (ServerTls.allowed_client_identities, ClientTls.server_identity). Everything is valid from
// an hour ago for a day.
absl::StatusOr<MutualTlsFiles> WriteMutualTlsFiles(const std::string& directory,
                                                   const std::string& ca_name,
                                                   const std::string& server_name,
                                                   const std::string& client_name);

// Issues `name` again under the CA of `files`, with a fresh EC P-256 key and a new serial number,
// and writes <name>.pem and <name>.key into `directory` as WriteMutualTlsFiles does (the key file
// first, each by rename): a rotated identity. `usage` is "serverAuth" or "clientAuth".
absl::Status ReissueIdentity(const MutualTlsFiles& files, const std::string& directory,
                             const std::string& name, const std::string& usage);

}  // namespace mecai

#endif  // MECAI_COMMON_TESTING_MTLS_FILES_H_
