"""The cluster tests of tests/: each starts a LocalCluster of the real binaries (cluster/local_cluster.h)."""

def mecai_cluster_test(name, deps = [], data = [], shard_count = None, size = "medium"):
    """A cc_test, source `name`.cc, that runs a whole cluster on this machine.

    The coordinator, probe agent and signer binaries are data dependencies, built with the test's
    configuration (so a sanitizer build runs instrumented services, docs/BUILD.md "Children fail the
    test"). The test starts system daemons (dnsmasq, nginx, openssl s_server) and binds loopback
    ports, hence the tag "local".

    Args:
      name: the test's name.
      deps: the test's own dependencies beyond the cluster fixture, //cluster, //cli:cli_lib and gtest_main.
      data: binaries the test runs beyond the coordinator, the probe agent and the signer.
      shard_count: run the test's cases in this many shards (each a cluster of its own per case),
        to keep each shard's time short.
      size: the test's size (its timeout).
    """
    native.cc_test(
        name = name,
        size = size,
        shard_count = shard_count,
        srcs = [name + ".cc"],
        data = [
            "//coordinator",
            "//probe_agent",
            "//signer",
        ] + data,
        tags = ["local"],
        deps = deps + [
            "//cli:cli_lib",
            "//cluster:local_cluster",
            "//cluster:network_regions",
            "//tests/support:cluster_fixture",
            "@system_libraries//:gtest_main",
        ],
    )
