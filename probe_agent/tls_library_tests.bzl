"""A cc_test run once per TLS library of the probe engine (probe_agent/tls_handshake.h).

`name` runs with the default library (TlsEngineOptions::library: GnuTLS); `name`_openssl is the
same test with MECAI_TEST_TLS_LIBRARY=openssl, which probe_agent/testing/test_tls_library.h's
TestEngineOptions reads.
"""

def cc_test_each_tls_library(name, deps = [], env = {}, **kwargs):
    deps = deps + ["//probe_agent/testing:test_tls_library"]
    native.cc_test(name = name, deps = deps, env = env, **kwargs)
    openssl_env = dict(env)
    openssl_env["MECAI_TEST_TLS_LIBRARY"] = "openssl"
    native.cc_test(name = name + "_openssl", deps = deps, env = openssl_env, **kwargs)
