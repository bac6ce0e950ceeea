// A session logged in to a PKCS#11 token, refusing a locked PIN before any attempt is spent.
#ifndef MECAI_COMMON_PKCS11_PKCS11_LOGIN_H_
#define MECAI_COMMON_PKCS11_PKCS11_LOGIN_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/pkcs11/pkcs11_module.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// A session logged in as CKU_USER to the token `config.token_label()` of `module`, the PIN from
// ReadPin(config) (common/pkcs11/pkcs11_pin.h). Before logging in it refuses a token whose flags
// say the PIN is locked (PERMISSION_DENIED; v2.40 §3.2 CK_TOKEN_INFO flags), so a restart loop
// cannot burn PIN attempts on a locked token. Errors read "login to token '<label>' failed: wrong
// PIN (CKR_PIN_INCORRECT)" and the like.
absl::StatusOr<std::unique_ptr<Pkcs11Session>> OpenLoggedInSession(const Pkcs11Module& module,
                                                                   const v1::Pkcs11Config& config,
                                                                   bool read_write);

}  // namespace mecai

#endif  // MECAI_COMMON_PKCS11_PKCS11_LOGIN_H_
