#!/usr/bin/env bash
# Runs the whole MECAI test suite: installs what is missing, builds everything, runs every Bazel test
# target, and ends with one line "N passed, N failed" counted from Bazel's per-target results.
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

bazel test //... --test_summary=short 2>&1 | grep -v 'linux-sandbox' | tee "$log"
bazel_status=${PIPESTATUS[0]}

# The unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer (.bazelrc --config=asan;
# docs/SECURITY.md). Their per-target results count like the others.
echo "== the unit tests under ASan + UBSan =="
bazel test --config=asan //common/... //coordinator/... //signer/... //client/... //stapler/... \
  //fuzz/... --test_summary=short 2>&1 | grep -v 'linux-sandbox' | sed -E 's#^//([^ ]+)#//\1 [asan]#' |
  tee -a "$log"
asan_status=${PIPESTATUS[0]}
if [ "$asan_status" -ne 0 ] && [ "$bazel_status" -eq 0 ]; then bazel_status=$asan_status; fi

passed=$(grep -cE '^//[^ ]+( \[asan\])? +(\(cached\) )?PASSED' "$log")
failed=$(grep -cE '^//[^ ]+( \[asan\])? +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FLAKY|FAILED TO BUILD|INCOMPLETE)' "$log")
failed=$((failed + format_failed))
if [ "$bazel_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build itself failed before any test ran: count that as a failure.
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
