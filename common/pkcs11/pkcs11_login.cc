#include "common/pkcs11/pkcs11_login.h"

#include <openssl/crypto.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/pkcs11/pkcs11_pin.h"

namespace mecai {

absl::StatusOr<std::unique_ptr<Pkcs11Session>> OpenLoggedInSession(const Pkcs11Module& module,
                                                                   const v1::Pkcs11Config& config,
                                                                   bool read_write) {
  ASSIGN_OR_RETURN(CK_SLOT_ID slot, module.FindSlotByTokenLabel(config.token_label()));
  ASSIGN_OR_RETURN(CK_TOKEN_INFO info, module.GetTokenInfo(slot));
  const std::string login_failed =
      absl::StrCat("login to token '", config.token_label(), "' failed");
  // v2.40 §3.2 CK_TOKEN_INFO flags: refuse before C_Login so no attempt is spent.
  if (info.flags & CKF_USER_PIN_LOCKED) {
    return absl::PermissionDeniedError(absl::StrCat(
        login_failed, ": PIN locked (CKF_USER_PIN_LOCKED); the security officer must unlock it"));
  }
  if (!(info.flags & CKF_USER_PIN_INITIALIZED)) {
    return absl::FailedPreconditionError(
        absl::StrCat(login_failed, ": the token's user PIN was never set"));
  }
  if (info.flags & CKF_USER_PIN_FINAL_TRY) {
    MECAI_LOG(Warning) << "token '" << config.token_label()
                       << "': one more wrong PIN locks it (CKF_USER_PIN_FINAL_TRY)";
  }
  ASSIGN_OR_RETURN(std::string pin, ReadPin(config));
  absl::StatusOr<std::unique_ptr<Pkcs11Session>> session =
      Pkcs11Session::Open(module, slot, read_write);
  absl::Status login = session.ok() ? (*session)->Login(pin) : session.status();
  OPENSSL_cleanse(pin.data(), pin.size());
  if (!login.ok()) return Annotate(login, login_failed);
  return session;
}

}  // namespace mecai
