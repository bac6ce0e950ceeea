// The start every cluster test (tests/) shares: a LocalCluster (cluster/local_cluster.h) of real
// processes in a fresh directory of its own under $TEST_TMPDIR.
#ifndef MECAI_TESTS_SUPPORT_CLUSTER_FIXTURE_H_
#define MECAI_TESTS_SUPPORT_CLUSTER_FIXTURE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cluster/local_cluster.h"

namespace mecai {

// Creates $TEST_TMPDIR/`name` (/tmp/`name` outside Bazel; `name` may name a subdirectory of one
// made before) and returns its path. Fails if it exists: every test run starts empty.
absl::StatusOr<std::string> MakeTestDirectory(const std::string& name);

// Starts a quiet LocalCluster in MakeTestDirectory(`name`), with `options` otherwise as given
// (their workdir and verbose are set here), and waits until every process serves. Destroying the
// cluster stops every process.
absl::StatusOr<std::unique_ptr<LocalCluster>> StartTestCluster(const std::string& name,
                                                               LocalClusterOptions options = {});

}  // namespace mecai

#endif  // MECAI_TESTS_SUPPORT_CLUSTER_FIXTURE_H_
