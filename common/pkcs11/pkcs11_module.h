// A PKCS#11 module (Cryptoki library) loaded with dlopen, and sessions with its tokens. The VA's
// private key lives only inside the token; this layer moves handles and byte strings, never keys.
// References are to PKCS#11 Cryptographic Token Interface Base Specification v2.40 ("v2.40").
#ifndef MECAI_COMMON_PKCS11_PKCS11_MODULE_H_
#define MECAI_COMMON_PKCS11_PKCS11_MODULE_H_

#include <p11-kit-1/p11-kit/pkcs11.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// The name of a Cryptoki return value (v2.40 §3.6), e.g. "CKR_PIN_INCORRECT"; values this code does
// not know print as "CKR_0x<hex>" (vendor-defined values as "CKR_VENDOR_DEFINED+0x<hex>").
std::string CkrName(CK_RV rv);

// The Status for a Cryptoki call that returned `rv` (not CKR_OK): "<what>: <CkrName>". Codes:
// PERMISSION_DENIED for PIN failures (CKR_PIN_INCORRECT, _LOCKED, _INVALID, _LEN_RANGE, _EXPIRED),
// UNAVAILABLE when the token went away (CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_REMOVED), INTERNAL else.
absl::Status Pkcs11Error(absl::string_view what, CK_RV rv);

// A token label as PKCS#11 stores it in CK_TOKEN_INFO (v2.40 §3.2): 32 bytes, blank padded, no NUL.
// Returns the label without its padding.
std::string TrimPaddedLabel(const unsigned char* label, size_t size);

// A loaded and initialized PKCS#11 module. Load() dlopens the library, fetches its function list
// (C_GetFunctionList, v2.40 §5.2) and calls C_Initialize with CKF_OS_LOCKING_OK so the module may
// be called from several threads (v2.40 §5.4, §6.7.6). The destructor calls C_Finalize and dlclose.
//
// Cryptoki is initialized once per process, not per caller: several Pkcs11Module objects for the
// same library share one initialization, reference counted, and the last one destroyed finalizes
// it. A module that something else in the process initialized is used and never finalized here.
//
// Thread-safe. Every Pkcs11Session must be destroyed before the module it came from.
class Pkcs11Module {
 public:
  // NOT_FOUND when `module_path` does not exist; FAILED_PRECONDITION when it is not a loadable
  // PKCS#11 library; INTERNAL (with the CKR name) when C_Initialize fails. Errors name the path.
  static absl::StatusOr<std::unique_ptr<Pkcs11Module>> Load(const std::string& module_path);

  ~Pkcs11Module();
  Pkcs11Module(const Pkcs11Module&) = delete;
  Pkcs11Module& operator=(const Pkcs11Module&) = delete;

  // The slot whose token carries `label` (compared without CK_TOKEN_INFO's blank padding), among
  // slots with an initialized token (C_GetSlotList(CK_TRUE), v2.40 §5.5; CKF_TOKEN_INITIALIZED).
  // NOT_FOUND names the label and the labels present; FAILED_PRECONDITION when two tokens carry
  // it; INVALID_ARGUMENT when the label is empty or longer than 32 bytes.
  absl::StatusOr<CK_SLOT_ID> FindSlotByTokenLabel(absl::string_view label) const;

  // C_GetTokenInfo (v2.40 §5.5): flags such as CKF_USER_PIN_LOCKED, the label, the serial number.
  absl::StatusOr<CK_TOKEN_INFO> GetTokenInfo(CK_SLOT_ID slot) const;

  // The module's function list; borrowed, valid while this object lives.
  CK_FUNCTION_LIST* functions() const { return functions_; }
  const std::string& path() const { return path_; }

 private:
  Pkcs11Module(std::string path, void* library, CK_FUNCTION_LIST* functions)
      : path_(std::move(path)), library_(library), functions_(functions) {}

  const std::string path_;
  void* const library_;  // dlopen handle.
  CK_FUNCTION_LIST* const functions_;
};

// A session with one token (v2.40 §5.6), closed on destruction. Login state belongs to the
// application, not to the session (v2.40 §5.6 C_Login): closing the last session of the process
// with a token logs it out, so nothing here ever calls C_Logout.
//
// Not thread-safe: a session runs one operation at a time (v2.40 §2.6.7); callers serialize.
class Pkcs11Session {
 public:
  // Opens a serial session (CKF_SERIAL_SESSION, plus CKF_RW_SESSION when `read_write`). `module`
  // is borrowed and must outlive the session.
  static absl::StatusOr<std::unique_ptr<Pkcs11Session>> Open(const Pkcs11Module& module,
                                                             CK_SLOT_ID slot, bool read_write);

  ~Pkcs11Session();
  Pkcs11Session(const Pkcs11Session&) = delete;
  Pkcs11Session& operator=(const Pkcs11Session&) = delete;

  // C_Login as CKU_USER (v2.40 §5.6). CKR_USER_ALREADY_LOGGED_IN (another session of this process
  // logged in) is success. A wrong PIN is PERMISSION_DENIED "...: wrong PIN (CKR_PIN_INCORRECT)", a
  // locked one PERMISSION_DENIED "...: PIN locked (CKR_PIN_LOCKED)". The PIN is never logged.
  absl::Status Login(absl::string_view pin);

  // Every object matching `match` (C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal, v2.40
  // §5.7). The attribute values `match` points to are read, not kept.
  absl::StatusOr<std::vector<CK_OBJECT_HANDLE>> FindObjects(std::vector<CK_ATTRIBUTE> match);

  // The value of one attribute (C_GetAttributeValue, v2.40 §5.7): its length first, then its
  // bytes. CKR_ATTRIBUTE_SENSITIVE and CKR_ATTRIBUTE_TYPE_INVALID come back as errors.
  absl::StatusOr<std::string> GetAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  // The same for CK_BBOOL and CK_ULONG attributes (CKA_SENSITIVE, CKA_KEY_TYPE, ...).
  absl::StatusOr<bool> GetBoolAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  absl::StatusOr<CK_ULONG> GetUlongAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);

  CK_SESSION_HANDLE handle() const { return handle_; }
  CK_FUNCTION_LIST* functions() const { return functions_; }

 private:
  Pkcs11Session(CK_FUNCTION_LIST* functions, CK_SESSION_HANDLE handle)
      : functions_(functions), handle_(handle) {}

  CK_FUNCTION_LIST* const functions_;
  const CK_SESSION_HANDLE handle_;
};

}  // namespace mecai

#endif  // MECAI_COMMON_PKCS11_PKCS11_MODULE_H_
