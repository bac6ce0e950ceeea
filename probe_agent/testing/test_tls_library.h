// The TLS library the probe agent's tests run their engines in: the same tests run once per
// library (probe_agent/tls_library_tests.bzl: each such test has an "_openssl" twin that sets
// MECAI_TEST_TLS_LIBRARY=openssl).
#ifndef MECAI_PROBE_AGENT_TESTING_TEST_TLS_LIBRARY_H_
#define MECAI_PROBE_AGENT_TESTING_TEST_TLS_LIBRARY_H_

#include <string>

#include "probe_agent/tls_engine.h"

namespace mecai {
namespace test_support {

// $MECAI_TEST_TLS_LIBRARY ("openssl" or "gnutls"); unset: the default library's
// (TlsEngineOptions::library). Any other value aborts the test.
std::string TestTlsLibraryName();

// TlsEngineOptions' defaults with the library of TestTlsLibraryName().
probe_agent::TlsEngineOptions TestEngineOptions();

}  // namespace test_support
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_TESTING_TEST_TLS_LIBRARY_H_
