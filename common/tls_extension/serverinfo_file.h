// The serverinfo file that stock TLS servers staple from (docs/TLS_EXTENSION.md §5): OpenSSL's
// SSL_CTX_use_serverinfo_file format, behind nginx's `ssl_conf_command ServerInfoFile` and
// Apache's `SSLOpenSSLConfCmd ServerInfoFile`. A PEM block whose label begins "SERVERINFOV2 FOR "
// holds a sequence of entries, each
//
//   uint32 context;                      -- the TLS messages (SSL_EXT_* bits)
//   uint16 extension_type;
//   opaque extension_data<0..2^16-1>;    -- RFC 8446 §4.2 Extension
//
// The MECAI entry carries a VouchingDataList (common/tls_extension/mecai_extension.h) in the
// contexts ClientHello | TLS 1.2 ServerHello | TLS 1.3 Certificate (0x1180, ARCHITECTURE.md §5).
// Written by `mecai serverinfo` and by the stapler; no I/O here.
#ifndef MECAI_COMMON_TLS_EXTENSION_SERVERINFO_FILE_H_
#define MECAI_COMMON_TLS_EXTENSION_SERVERINFO_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO | SSL_EXT_TLS1_3_CERTIFICATE.
inline constexpr uint32_t kMecaiServerinfoContext = 0x1180;

// The PEM text ("-----BEGIN SERVERINFOV2 FOR MECAI VOUCHING DATA-----", 64-column base64) of one
// entry of `extension_type` in kMecaiServerinfoContext carrying `vouching_data_list`.
// INVALID_ARGUMENT for an empty list or one over 2^16-1 bytes.
absl::StatusOr<std::string> EncodeServerinfoFile(uint16_t extension_type,
                                                 absl::string_view vouching_data_list);

// The extension_data of the entry of `extension_type` in the PEM text `pem`, which holds one or
// more "SERVERINFOV2 FOR ..." blocks. Strict: INVALID_ARGUMENT for text outside the blocks, a
// block that is not base64, an entry whose length does not fit, or two entries of the type;
// NOT_FOUND when no entry has the type.
absl::StatusOr<std::string> DecodeServerinfoFile(absl::string_view pem, uint16_t extension_type);

}  // namespace mecai

#endif  // MECAI_COMMON_TLS_EXTENSION_SERVERINFO_FILE_H_
