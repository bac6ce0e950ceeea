#!/usr/bin/env bash
# Installs what is missing, builds the cluster and runs `mecai demo` (arguments are passed on, e.g.
# --workdir DIR --perspectives 5).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
bazel build //cli:mecai //coordinator //signer //probe_agent //log_server 2>&1 | grep -v 'linux-sandbox' | tail -3
exec bazel-bin/cli/mecai demo "$@"
