// A PKCS#11 module that forwards every call to another module (SoftHSM2 by default) and counts the
// signatures asked of it, for the benchmarks that count HSM signatures at the PKCS#11 layer
// (docs/PERFORMANCE.md "Logged VDs: HSM signatures per 1,000 VDs at the signer").
//
// C_GetFunctionList (PKCS#11 v2.40 §5.2) loads the real module named by
// $MECAI_COUNTING_PKCS11_MODULE (default /usr/lib/softhsm/libsofthsm2.so) and returns a copy of its
// function list in which C_SignInit, C_Sign and C_SignFinal count before and after they forward.
// The counts live in the file named by $MECAI_COUNTING_PKCS11_FILE, mapped shared, as
// CountingPkcs11Counts (bench/counting_pkcs11_counts.h): every process that loads this module adds
// to the same counters, atomically, and a reader maps the file to see them. Without that variable,
// or when the real module cannot be loaded, C_GetFunctionList fails (CKR_GENERAL_ERROR): a run
// never goes uncounted.
//
// Only libc and libdl: the module is loaded into processes that bring their own libraries.
#include <dlfcn.h>
#include <fcntl.h>
#include <p11-kit-1/p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench/counting_pkcs11_counts.h"

namespace {

constexpr char kDefaultModule[] = "/usr/lib/softhsm/libsofthsm2.so";

CK_FUNCTION_LIST* real = nullptr;
CK_FUNCTION_LIST counting;
mecai::CountingPkcs11Counts* counts = nullptr;
pthread_once_t once = PTHREAD_ONCE_INIT;

void Add(uint64_t* counter) { __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }

CK_RV CountingSignInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                       CK_OBJECT_HANDLE key) {
  Add(&counts->sign_init_calls);
  return real->C_SignInit(session, mechanism, key);
}

// v2.40 §5.2: a call with a null signature buffer only asks for the length; a call that returns
// CKR_OK with a buffer has produced a signature.
CK_RV CountingSign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_length,
                   CK_BYTE_PTR signature, CK_ULONG_PTR signature_length) {
  Add(&counts->sign_calls);
  const CK_RV rv = real->C_Sign(session, data, data_length, signature, signature_length);
  if (rv == CKR_OK && signature != nullptr) Add(&counts->signatures);
  return rv;
}

CK_RV CountingSignFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR signature,
                        CK_ULONG_PTR signature_length) {
  Add(&counts->sign_final_calls);
  const CK_RV rv = real->C_SignFinal(session, signature, signature_length);
  if (rv == CKR_OK && signature != nullptr) Add(&counts->signatures);
  return rv;
}

CK_RV CountingGetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

void Load() {
  const char* counts_file = getenv("MECAI_COUNTING_PKCS11_FILE");
  if (counts_file == nullptr) return;
  const int fd = open(counts_file, O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  void* mapped =
      mmap(nullptr, sizeof(mecai::CountingPkcs11Counts), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED) return;
  const char* module = getenv("MECAI_COUNTING_PKCS11_MODULE");
  void* library = dlopen(module != nullptr ? module : kDefaultModule, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return;
  auto get_function_list =
      reinterpret_cast<CK_C_GetFunctionList>(dlsym(library, "C_GetFunctionList"));
  CK_FUNCTION_LIST* functions = nullptr;
  if (get_function_list == nullptr || get_function_list(&functions) != CKR_OK ||
      functions == nullptr) {
    return;
  }
  counting = *functions;
  counting.C_GetFunctionList = CountingGetFunctionList;
  counting.C_SignInit = CountingSignInit;
  counting.C_Sign = CountingSign;
  counting.C_SignFinal = CountingSignFinal;
  counts = static_cast<mecai::CountingPkcs11Counts*>(mapped);
  real = functions;
}

CK_RV CountingGetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  pthread_once(&once, Load);
  if (real == nullptr) return CKR_GENERAL_ERROR;
  *list = &counting;
  return CKR_OK;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(
    CK_FUNCTION_LIST_PTR_PTR list) {
  return CountingGetFunctionList(list);
}
