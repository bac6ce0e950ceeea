#!/usr/bin/env bash
# Runs the whole MECAI test suite: installs what is missing, builds everything, runs every Bazel test
# target, then the tests again under ASan + UBSan and under TSan, and ends with one line
# "N passed, N failed" counted from Bazel's per-target results of all three runs.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp /tmp/mecai-test.XXXXXX)
trap 'rm -f "$log"' EXIT

# Formatting is part of the suite: every C++ file must be clang-formatted (.clang-format).
format_failed=0
if command -v clang-format >/dev/null 2>&1; then
  unformatted=$(git ls-files '*.cc' '*.h' 2>/dev/null | xargs -r clang-format --dry-run --Werror 2>&1 | grep -c 'error:' || true)
  if [ "${unformatted:-0}" != "0" ]; then
    echo "clang-format: $unformatted formatting differences (run clang-format -i on the listed files)"
    git ls-files '*.cc' '*.h' | xargs -r clang-format --dry-run --Werror 2>&1 | grep 'error:' | head -20
    format_failed=1
  fi
fi

# 1. Every target, normal build.
bazel test //... --test_summary=short 2>&1 | grep -v 'linux-sandbox' | tee "$log"
bazel_status=${PIPESTATUS[0]}

# 2. and 3. The tests again under the sanitizers (.bazelrc; which targets and why: docs/BUILD.md
# "Sanitizers"). Binaries that tests start are built with the same sanitizer, and a report in
# any process, children included, exits 66 and fails the test (common/process/child_process.cc). Their
# per-target results count like the others, marked [asan] or [tsan].
#   ASan + UBSan: every C++ unit test and the integration tests at the trust boundaries; not the
#   Chromium page test (a browser under ASan's memory overhead), the image test (it runs the
#   binaries only for --help; docs/BUILD.md "Images"), nor the integration tests of deployment
#   behaviour (procedures, failures, rotations, health, interop with stock servers), whose C++
#   paths the other integration tests run under ASan too.
#   The tests without C++ (shell, YAML, promtool) run once, in the normal run.
#   TSan: the unit tests of the concurrent code (threads, event loops, gRPC callbacks), named one
#   by one: the integration tests would build every binary a third time for little more.
sanitizer_run() {
  local config="$1"
  shift
  echo "== the tests under --config=$config =="
  bazel test --config="$config" --build_tests_only --test_summary=short "$@" 2>&1 |
    grep -v 'linux-sandbox' | sed -E "s#^//([^ ]+)#//\\1 [$config]#" | tee -a "$log"
  local status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ] && [ "$bazel_status" -eq 0 ]; then bazel_status=$status; fi
}
sanitizer_run asan --test_tag_filters=-no_sanitizers -- //... \
  -//approval:approval_page_chromium_test -//deploy/image:image_test \
  -//tests:trust_list_test -//tests:stock_servers_test -//tests:structured_logs_test \
  -//tests:approval_proxy_test -//tests:failure_test -//tests:procedures_test \
  -//tests:key_rotation_test -//tests:public_certificate_rotation_test \
  -//tests:stapler_health_test -//tests:split_view_test
sanitizer_run tsan -- //common/rpc:mutual_tls_test //common/rpc:grpc_server_test \
  //common/net:http_server_test //common/pkcs11:pkcs11_session_pool_test \
  //common/crypto:certificate_cache_test \
  //probe_agent:event_loop_test //probe_agent:tls_engine_test //probe_agent:worker_pool_test \
  //probe_agent:probe_service_test //probe_agent:prober_test \
  //coordinator:record_store_test //coordinator:log_guard_test //coordinator:store_backup_test \
  //coordinator:trust_list_relay_test //coordinator:public_endpoint_test \
  //coordinator:rate_limiter_test //coordinator:admission_test //coordinator:worker_pool_test \
  //coordinator:call_limit_test //common/base:single_flight_test \
  //coordinator:coordinator_metrics_test \
  //coordinator:decision_reuse_test //coordinator:logged_vd_proofs_test \
  //coordinator:revocation_checker_test //coordinator:checkpoint_signer_test \
  //coordinator:probe_fanout_test //coordinator:probe_stream_client_test \
  //signer:vouching_signer_test //signer:log_state_test \
  //stapler:stapler_daemon_test //stapler:endpoint_failover_test

passed=$(grep -cE '^//[^ ]+( \[[a-z]+\])? +(\(cached\) )?PASSED' "$log")
failed=$(grep -cE '^//[^ ]+( \[[a-z]+\])? +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FLAKY|FAILED TO BUILD|INCOMPLETE)' "$log")
failed=$((failed + format_failed))
if [ "$bazel_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build itself failed before any test ran: count that as a failure.
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
