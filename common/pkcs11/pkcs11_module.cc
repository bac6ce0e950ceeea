#include "common/pkcs11/pkcs11_module.h"

#include <dlfcn.h>
#include <errno.h>
#include <sys/stat.h>

#include <cstring>
#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/base/logging.h"

namespace mecai {
namespace {

#define MECAI_CKR_NAME(suffix) \
  { CKR_##suffix, "CKR_" #suffix }

struct CkrNameEntry {
  CK_RV value;
  const char* name;
};

// Every return value of v2.40 §3.6 that p11-kit's header defines.
constexpr CkrNameEntry kCkrNames[] = {
    MECAI_CKR_NAME(OK),
    MECAI_CKR_NAME(CANCEL),
    MECAI_CKR_NAME(HOST_MEMORY),
    MECAI_CKR_NAME(SLOT_ID_INVALID),
    MECAI_CKR_NAME(GENERAL_ERROR),
    MECAI_CKR_NAME(FUNCTION_FAILED),
    MECAI_CKR_NAME(ARGUMENTS_BAD),
    MECAI_CKR_NAME(NO_EVENT),
    MECAI_CKR_NAME(NEED_TO_CREATE_THREADS),
    MECAI_CKR_NAME(CANT_LOCK),
    MECAI_CKR_NAME(ATTRIBUTE_READ_ONLY),
    MECAI_CKR_NAME(ATTRIBUTE_SENSITIVE),
    MECAI_CKR_NAME(ATTRIBUTE_TYPE_INVALID),
    MECAI_CKR_NAME(ATTRIBUTE_VALUE_INVALID),
    MECAI_CKR_NAME(ACTION_PROHIBITED),
    MECAI_CKR_NAME(DATA_INVALID),
    MECAI_CKR_NAME(DATA_LEN_RANGE),
    MECAI_CKR_NAME(DEVICE_ERROR),
    MECAI_CKR_NAME(DEVICE_MEMORY),
    MECAI_CKR_NAME(DEVICE_REMOVED),
    MECAI_CKR_NAME(ENCRYPTED_DATA_INVALID),
    MECAI_CKR_NAME(ENCRYPTED_DATA_LEN_RANGE),
    MECAI_CKR_NAME(FUNCTION_CANCELED),
    MECAI_CKR_NAME(FUNCTION_NOT_PARALLEL),
    MECAI_CKR_NAME(FUNCTION_NOT_SUPPORTED),
    MECAI_CKR_NAME(KEY_HANDLE_INVALID),
    MECAI_CKR_NAME(KEY_SIZE_RANGE),
    MECAI_CKR_NAME(KEY_TYPE_INCONSISTENT),
    MECAI_CKR_NAME(KEY_NOT_NEEDED),
    MECAI_CKR_NAME(KEY_CHANGED),
    MECAI_CKR_NAME(KEY_NEEDED),
    MECAI_CKR_NAME(KEY_INDIGESTIBLE),
    MECAI_CKR_NAME(KEY_FUNCTION_NOT_PERMITTED),
    MECAI_CKR_NAME(KEY_NOT_WRAPPABLE),
    MECAI_CKR_NAME(KEY_UNEXTRACTABLE),
    MECAI_CKR_NAME(MECHANISM_INVALID),
    MECAI_CKR_NAME(MECHANISM_PARAM_INVALID),
    MECAI_CKR_NAME(OBJECT_HANDLE_INVALID),
    MECAI_CKR_NAME(OPERATION_ACTIVE),
    MECAI_CKR_NAME(OPERATION_NOT_INITIALIZED),
    MECAI_CKR_NAME(PIN_INCORRECT),
    MECAI_CKR_NAME(PIN_INVALID),
    MECAI_CKR_NAME(PIN_LEN_RANGE),
    MECAI_CKR_NAME(PIN_EXPIRED),
    MECAI_CKR_NAME(PIN_LOCKED),
    MECAI_CKR_NAME(SESSION_CLOSED),
    MECAI_CKR_NAME(SESSION_COUNT),
    MECAI_CKR_NAME(SESSION_HANDLE_INVALID),
    MECAI_CKR_NAME(SESSION_PARALLEL_NOT_SUPPORTED),
    MECAI_CKR_NAME(SESSION_READ_ONLY),
    MECAI_CKR_NAME(SESSION_EXISTS),
    MECAI_CKR_NAME(SESSION_READ_ONLY_EXISTS),
    MECAI_CKR_NAME(SESSION_READ_WRITE_SO_EXISTS),
    MECAI_CKR_NAME(SIGNATURE_INVALID),
    MECAI_CKR_NAME(SIGNATURE_LEN_RANGE),
    MECAI_CKR_NAME(TEMPLATE_INCOMPLETE),
    MECAI_CKR_NAME(TEMPLATE_INCONSISTENT),
    MECAI_CKR_NAME(TOKEN_NOT_PRESENT),
    MECAI_CKR_NAME(TOKEN_NOT_RECOGNIZED),
    MECAI_CKR_NAME(TOKEN_WRITE_PROTECTED),
    MECAI_CKR_NAME(UNWRAPPING_KEY_SIZE_RANGE),
    MECAI_CKR_NAME(UNWRAPPING_KEY_TYPE_INCONSISTENT),
    MECAI_CKR_NAME(USER_ALREADY_LOGGED_IN),
    MECAI_CKR_NAME(USER_NOT_LOGGED_IN),
    MECAI_CKR_NAME(USER_PIN_NOT_INITIALIZED),
    MECAI_CKR_NAME(USER_TYPE_INVALID),
    MECAI_CKR_NAME(USER_ANOTHER_ALREADY_LOGGED_IN),
    MECAI_CKR_NAME(USER_TOO_MANY_TYPES),
    MECAI_CKR_NAME(WRAPPED_KEY_INVALID),
    MECAI_CKR_NAME(WRAPPED_KEY_LEN_RANGE),
    MECAI_CKR_NAME(WRAPPING_KEY_HANDLE_INVALID),
    MECAI_CKR_NAME(WRAPPING_KEY_SIZE_RANGE),
    MECAI_CKR_NAME(WRAPPING_KEY_TYPE_INCONSISTENT),
    MECAI_CKR_NAME(RANDOM_SEED_NOT_SUPPORTED),
    MECAI_CKR_NAME(RANDOM_NO_RNG),
    MECAI_CKR_NAME(DOMAIN_PARAMS_INVALID),
    MECAI_CKR_NAME(CURVE_NOT_SUPPORTED),
    MECAI_CKR_NAME(BUFFER_TOO_SMALL),
    MECAI_CKR_NAME(SAVED_STATE_INVALID),
    MECAI_CKR_NAME(INFORMATION_SENSITIVE),
    MECAI_CKR_NAME(STATE_UNSAVEABLE),
    MECAI_CKR_NAME(CRYPTOKI_NOT_INITIALIZED),
    MECAI_CKR_NAME(CRYPTOKI_ALREADY_INITIALIZED),
    MECAI_CKR_NAME(MUTEX_BAD),
    MECAI_CKR_NAME(MUTEX_NOT_LOCKED),
    MECAI_CKR_NAME(NEW_PIN_MODE),
    MECAI_CKR_NAME(NEXT_OTP),
    MECAI_CKR_NAME(EXCEEDED_MAX_ITERATIONS),
    MECAI_CKR_NAME(FIPS_SELF_TEST_FAILED),
    MECAI_CKR_NAME(LIBRARY_LOAD_FAILED),
    MECAI_CKR_NAME(PIN_TOO_WEAK),
    MECAI_CKR_NAME(PUBLIC_KEY_INVALID),
    MECAI_CKR_NAME(FUNCTION_REJECTED),
};

#undef MECAI_CKR_NAME

// Names of the attributes this code reads, for error messages.
std::string AttributeName(CK_ATTRIBUTE_TYPE type) {
  switch (type) {
    case CKA_CLASS:
      return "CKA_CLASS";
    case CKA_TOKEN:
      return "CKA_TOKEN";
    case CKA_PRIVATE:
      return "CKA_PRIVATE";
    case CKA_LABEL:
      return "CKA_LABEL";
    case CKA_VALUE:
      return "CKA_VALUE";
    case CKA_KEY_TYPE:
      return "CKA_KEY_TYPE";
    case CKA_ID:
      return "CKA_ID";
    case CKA_SENSITIVE:
      return "CKA_SENSITIVE";
    case CKA_SIGN:
      return "CKA_SIGN";
    case CKA_VERIFY:
      return "CKA_VERIFY";
    case CKA_EXTRACTABLE:
      return "CKA_EXTRACTABLE";
    case CKA_NEVER_EXTRACTABLE:
      return "CKA_NEVER_EXTRACTABLE";
    case CKA_ALWAYS_SENSITIVE:
      return "CKA_ALWAYS_SENSITIVE";
    case CKA_EC_PARAMS:
      return "CKA_EC_PARAMS";
    case CKA_EC_POINT:
      return "CKA_EC_POINT";
    case CKA_MODULUS:
      return "CKA_MODULUS";
    case CKA_MODULUS_BITS:
      return "CKA_MODULUS_BITS";
    case CKA_PUBLIC_EXPONENT:
      return "CKA_PUBLIC_EXPONENT";
    default:
      return absl::StrCat("CKA_0x", absl::Hex(type));
  }
}

// Process-wide Cryptoki initialization state, one entry per dlopen handle (dlopen returns the same
// handle for the same library). C_Initialize may be called once per process until C_Finalize
// (v2.40 §5.4: a second call returns CKR_CRYPTOKI_ALREADY_INITIALIZED).
struct Initialization {
  int references = 0;
  // False when something else in the process had initialized the module before us.
  bool finalize_when_unused = true;
};

struct Registry {
  absl::Mutex mutex;
  std::map<void*, Initialization> initializations ABSL_GUARDED_BY(mutex);
};

Registry& GetRegistry() {
  static auto* registry = new Registry();  // Never destroyed: modules may outlive static teardown.
  return *registry;
}

absl::Status LoadError(const std::string& path, const std::string& detail) {
  if (path.find('/') == std::string::npos) {
    // Without a slash dlopen searches the library path (ld.so(8)).
    return absl::NotFoundError(absl::StrCat("cannot load PKCS#11 module ", path,
                                            ": not found in the library search path (", detail,
                                            ")"));
  }
  struct stat status;
  if (stat(path.c_str(), &status) != 0 && errno == ENOENT) {
    return absl::NotFoundError(absl::StrCat("cannot load PKCS#11 module ", path, ": no such file"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("cannot load PKCS#11 module ", path, ": ", detail));
}

}  // namespace

std::string CkrName(CK_RV rv) {
  for (const CkrNameEntry& entry : kCkrNames) {
    if (entry.value == rv) return entry.name;
  }
  if (rv >= CKR_VENDOR_DEFINED) {
    return absl::StrCat("CKR_VENDOR_DEFINED+0x", absl::Hex(rv - CKR_VENDOR_DEFINED));
  }
  return absl::StrCat("CKR_0x", absl::Hex(rv));
}

absl::Status Pkcs11Error(absl::string_view what, CK_RV rv) {
  std::string message = absl::StrCat(what, ": ", CkrName(rv));
  switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LOCKED:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
      return absl::PermissionDeniedError(message);
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_DEVICE_REMOVED:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

std::string TrimPaddedLabel(const unsigned char* label, size_t size) {
  // v2.40 §3.2: blank padded. Some modules pad with NUL instead; accept both.
  while (size > 0 && (label[size - 1] == ' ' || label[size - 1] == '\0')) --size;
  return std::string(reinterpret_cast<const char*>(label), size);
}

absl::StatusOr<std::unique_ptr<Pkcs11Module>> Pkcs11Module::Load(const std::string& module_path) {
  if (module_path.empty()) {
    return absl::InvalidArgumentError("the PKCS#11 module path is empty");
  }
  Registry& registry = GetRegistry();
  absl::MutexLock lock(&registry.mutex);
  // RTLD_NODELETE: the module stays mapped after C_Finalize and dlclose. Modules (SoftHSM2 among
  // them) may leave OpenSSL callbacks and thread-local state behind that must not point into
  // unmapped code.
  void* library = dlopen(module_path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (library == nullptr) {
    const char* detail = dlerror();
    return LoadError(module_path, detail != nullptr ? detail : "dlopen failed");
  }
  auto get_function_list =
      reinterpret_cast<CK_C_GetFunctionList>(dlsym(library, "C_GetFunctionList"));
  if (get_function_list == nullptr) {
    dlclose(library);
    return absl::FailedPreconditionError(absl::StrCat("cannot load PKCS#11 module ", module_path,
                                                      ": it exports no C_GetFunctionList"));
  }
  CK_FUNCTION_LIST* functions = nullptr;
  CK_RV rv = get_function_list(&functions);
  if (rv != CKR_OK || functions == nullptr) {
    dlclose(library);
    return Pkcs11Error(absl::StrCat("C_GetFunctionList of PKCS#11 module ", module_path),
                       rv != CKR_OK ? rv : CKR_GENERAL_ERROR);
  }

  Initialization& initialization = registry.initializations[library];
  if (initialization.references == 0) {
    // v2.40 §5.4: CKF_OS_LOCKING_OK with no mutex callbacks lets the module use the operating
    // system's locking; we call it from several threads.
    CK_C_INITIALIZE_ARGS arguments;
    std::memset(&arguments, 0, sizeof(arguments));
    arguments.flags = CKF_OS_LOCKING_OK;
    rv = functions->C_Initialize(&arguments);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      initialization.finalize_when_unused = false;
    } else if (rv != CKR_OK) {
      registry.initializations.erase(library);
      dlclose(library);
      return Pkcs11Error(absl::StrCat("C_Initialize of PKCS#11 module ", module_path), rv);
    } else {
      initialization.finalize_when_unused = true;
    }
  }
  ++initialization.references;
  return std::unique_ptr<Pkcs11Module>(new Pkcs11Module(module_path, library, functions));
}

Pkcs11Module::~Pkcs11Module() {
  Registry& registry = GetRegistry();
  absl::MutexLock lock(&registry.mutex);
  auto found = registry.initializations.find(library_);
  if (found != registry.initializations.end() && --found->second.references == 0) {
    if (found->second.finalize_when_unused) {
      CK_RV rv = functions_->C_Finalize(nullptr);
      if (rv != CKR_OK) {
        MECAI_LOG(Warning) << "C_Finalize of PKCS#11 module " << path_ << ": " << CkrName(rv);
      }
    }
    registry.initializations.erase(found);
  }
  dlclose(library_);
}

absl::StatusOr<CK_SLOT_ID> Pkcs11Module::FindSlotByTokenLabel(absl::string_view label) const {
  if (label.empty() || label.size() > sizeof(CK_TOKEN_INFO::label)) {
    return absl::InvalidArgumentError(absl::StrCat("token label '", label, "' must have 1 to ",
                                                   sizeof(CK_TOKEN_INFO::label), " bytes"));
  }
  std::vector<CK_SLOT_ID> slots;
  CK_RV rv;
  do {  // The slot count can change between the two calls (v2.40 §5.5 C_GetSlotList).
    CK_ULONG count = 0;
    rv = functions_->C_GetSlotList(CK_TRUE, nullptr, &count);
    if (rv != CKR_OK) return Pkcs11Error(absl::StrCat("C_GetSlotList of ", path_), rv);
    slots.resize(count);
    rv = functions_->C_GetSlotList(CK_TRUE, slots.data(), &count);
    slots.resize(count);
  } while (rv == CKR_BUFFER_TOO_SMALL);
  if (rv != CKR_OK) return Pkcs11Error(absl::StrCat("C_GetSlotList of ", path_), rv);

  std::vector<std::string> labels_present;
  std::vector<CK_SLOT_ID> matches;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info;
    rv = functions_->C_GetTokenInfo(slot, &info);
    if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED) continue;
    if (rv != CKR_OK) {
      return Pkcs11Error(absl::StrCat("C_GetTokenInfo of slot ", slot, " of ", path_), rv);
    }
    // A token never initialized has no meaningful label (SoftHSM2 always offers one such token).
    if (!(info.flags & CKF_TOKEN_INITIALIZED)) continue;
    std::string token_label = TrimPaddedLabel(info.label, sizeof(info.label));
    if (token_label == label) matches.push_back(slot);
    labels_present.push_back(absl::StrCat("'", token_label, "'"));
  }
  if (matches.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no token with label '", label, "' in PKCS#11 module ", path_, " (tokens present: ",
        labels_present.empty() ? "none" : absl::StrJoin(labels_present, ", "), ")"));
  }
  if (matches.size() > 1) {
    return absl::FailedPreconditionError(absl::StrCat(matches.size(), " tokens carry the label '",
                                                      label, "' in PKCS#11 module ", path_,
                                                      "; token labels must be unique"));
  }
  return matches.front();
}

absl::StatusOr<CK_TOKEN_INFO> Pkcs11Module::GetTokenInfo(CK_SLOT_ID slot) const {
  CK_TOKEN_INFO info;
  CK_RV rv = functions_->C_GetTokenInfo(slot, &info);
  if (rv != CKR_OK) {
    return Pkcs11Error(absl::StrCat("C_GetTokenInfo of slot ", slot, " of ", path_), rv);
  }
  return info;
}

absl::StatusOr<std::unique_ptr<Pkcs11Session>> Pkcs11Session::Open(const Pkcs11Module& module,
                                                                   CK_SLOT_ID slot,
                                                                   bool read_write) {
  // v2.40 §5.6: CKF_SERIAL_SESSION must always be set.
  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  CK_RV rv = module.functions()->C_OpenSession(slot, flags, nullptr, nullptr, &handle);
  if (rv != CKR_OK) {
    return Pkcs11Error(absl::StrCat("C_OpenSession on slot ", slot, " of ", module.path()), rv);
  }
  return std::unique_ptr<Pkcs11Session>(new Pkcs11Session(module.functions(), handle));
}

Pkcs11Session::~Pkcs11Session() {
  CK_RV rv = functions_->C_CloseSession(handle_);
  // The session may already be gone (C_CloseAllSessions, token removal); nothing is left to free.
  if (rv != CKR_OK && rv != CKR_SESSION_HANDLE_INVALID && rv != CKR_SESSION_CLOSED) {
    MECAI_LOG(Warning) << "C_CloseSession: " << CkrName(rv);
  }
}

absl::Status Pkcs11Session::Login(absl::string_view pin) {
  CK_RV rv = functions_->C_Login(
      handle_, CKU_USER,
      reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.data())),  // Read, not written.
      pin.size());
  switch (rv) {
    case CKR_OK:
    case CKR_USER_ALREADY_LOGGED_IN:  // Login state is per application (v2.40 §5.6).
      return absl::OkStatus();
    case CKR_PIN_INCORRECT:
      return absl::PermissionDeniedError("wrong PIN (CKR_PIN_INCORRECT)");
    case CKR_PIN_LOCKED:
      return absl::PermissionDeniedError(
          "PIN locked (CKR_PIN_LOCKED); the security officer must unlock it");
    case CKR_PIN_EXPIRED:
      return absl::PermissionDeniedError("PIN expired (CKR_PIN_EXPIRED); set a new one");
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
      return absl::PermissionDeniedError(
          absl::StrCat("the PIN is not acceptable to the token (", CkrName(rv), ")"));
    case CKR_USER_PIN_NOT_INITIALIZED:
      return absl::FailedPreconditionError(
          "the token's user PIN was never set (CKR_USER_PIN_NOT_INITIALIZED)");
    default:
      return Pkcs11Error("C_Login", rv);
  }
}

absl::StatusOr<std::vector<CK_OBJECT_HANDLE>> Pkcs11Session::FindObjects(
    std::vector<CK_ATTRIBUTE> match) {
  CK_RV rv = functions_->C_FindObjectsInit(handle_, match.data(), match.size());
  if (rv != CKR_OK) return Pkcs11Error("C_FindObjectsInit", rv);
  std::vector<CK_OBJECT_HANDLE> found;
  while (true) {
    CK_OBJECT_HANDLE batch[16];
    CK_ULONG count = 0;
    rv = functions_->C_FindObjects(handle_, batch, 16, &count);
    if (rv != CKR_OK || count == 0) break;
    found.insert(found.end(), batch, batch + count);
  }
  // v2.40 §5.7: the search must be finished even when it failed, or the session stays busy.
  CK_RV final_rv = functions_->C_FindObjectsFinal(handle_);
  if (rv != CKR_OK) return Pkcs11Error("C_FindObjects", rv);
  if (final_rv != CKR_OK) return Pkcs11Error("C_FindObjectsFinal", final_rv);
  return found;
}

absl::StatusOr<std::string> Pkcs11Session::GetAttribute(CK_OBJECT_HANDLE object,
                                                        CK_ATTRIBUTE_TYPE type) {
  // v2.40 §5.7 C_GetAttributeValue: a NULL pValue asks for the length.
  CK_ATTRIBUTE attribute = {type, nullptr, 0};
  CK_RV rv = functions_->C_GetAttributeValue(handle_, object, &attribute, 1);
  if (rv != CKR_OK) {
    return Pkcs11Error(absl::StrCat("C_GetAttributeValue(", AttributeName(type), ")"), rv);
  }
  if (attribute.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return absl::InternalError(
        absl::StrCat("C_GetAttributeValue(", AttributeName(type), "): value unavailable"));
  }
  std::string value(attribute.ulValueLen, '\0');
  attribute.pValue = value.data();
  rv = functions_->C_GetAttributeValue(handle_, object, &attribute, 1);
  if (rv != CKR_OK) {
    return Pkcs11Error(absl::StrCat("C_GetAttributeValue(", AttributeName(type), ")"), rv);
  }
  value.resize(attribute.ulValueLen);
  return value;
}

absl::StatusOr<bool> Pkcs11Session::GetBoolAttribute(CK_OBJECT_HANDLE object,
                                                     CK_ATTRIBUTE_TYPE type) {
  CK_BBOOL value = CK_FALSE;
  CK_ATTRIBUTE attribute = {type, &value, sizeof(value)};
  CK_RV rv = functions_->C_GetAttributeValue(handle_, object, &attribute, 1);
  if (rv != CKR_OK) {
    return Pkcs11Error(absl::StrCat("C_GetAttributeValue(", AttributeName(type), ")"), rv);
  }
  if (attribute.ulValueLen != sizeof(value)) {
    return absl::InternalError(
        absl::StrCat(AttributeName(type), " has ", attribute.ulValueLen, " bytes, not 1"));
  }
  return value == CK_TRUE;
}

absl::StatusOr<CK_ULONG> Pkcs11Session::GetUlongAttribute(CK_OBJECT_HANDLE object,
                                                          CK_ATTRIBUTE_TYPE type) {
  CK_ULONG value = 0;
  CK_ATTRIBUTE attribute = {type, &value, sizeof(value)};
  CK_RV rv = functions_->C_GetAttributeValue(handle_, object, &attribute, 1);
  if (rv != CKR_OK) {
    return Pkcs11Error(absl::StrCat("C_GetAttributeValue(", AttributeName(type), ")"), rv);
  }
  if (attribute.ulValueLen != sizeof(value)) {
    return absl::InternalError(absl::StrCat(AttributeName(type), " has ", attribute.ulValueLen,
                                            " bytes, not ", sizeof(value)));
  }
  return value;
}

}  // namespace mecai
