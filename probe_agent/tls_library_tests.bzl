"""A cc_test run once per TLS library of the probe engine (probe_agent/tls_handshake.h).

`name` runs with the default library (OpenSSL); `name`_gnutls is the same test with
MECAI_TEST_TLS_LIBRARY=gnutls, which probe_agent/testing/test_tls_library.h's TestEngineOptions
reads.
"""

def cc_test_each_tls_library(name, deps = [], env = {}, **kwargs):
    deps = deps + ["//probe_agent/testing:test_tls_library"]
    native.cc_test(name = name, deps = deps, env = env, **kwargs)
    gnutls_env = dict(env)
    gnutls_env["MECAI_TEST_TLS_LIBRARY"] = "gnutls"
    native.cc_test(name = name + "_gnutls", deps = deps, env = gnutls_env, **kwargs)
