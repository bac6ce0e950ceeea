#include "probe_agent/testing/test_tls_library.h"

#include <cstdio>
#include <cstdlib>

namespace mecai {
namespace test_support {

std::string TestTlsLibraryName() {
  const char* name = std::getenv("MECAI_TEST_TLS_LIBRARY");
  if (name == nullptr || *name == '\0') {
    return probe_agent::TlsLibraryName(probe_agent::TlsEngineOptions().library);
  }
  if (!probe_agent::ParseTlsLibrary(name).ok()) {
    std::fprintf(stderr, "MECAI_TEST_TLS_LIBRARY=%s is neither openssl nor gnutls\n", name);
    std::abort();
  }
  return name;
}

probe_agent::TlsEngineOptions TestEngineOptions() {
  probe_agent::TlsEngineOptions options;
  options.library = *probe_agent::ParseTlsLibrary(TestTlsLibraryName());
  return options;
}

}  // namespace test_support
}  // namespace mecai
