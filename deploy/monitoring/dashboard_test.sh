#!/usr/bin/env bash
# The Grafana dashboard parses, its panels are complete, every metric its queries name is one a
# service registers (or one docs/OPERATIONS.md "Alerts" declares), and promtool accepts every query
# (written as recording rules by monitoring_check.py).
set -euo pipefail
here="deploy/monitoring"
root="$(cd "$(dirname "$(readlink -f "${here}/mecai.rules.yaml")")/../.." && pwd)"
work="${TEST_TMPDIR:-$(mktemp -d)}"
command -v promtool >/dev/null || { echo "dashboard_test: no promtool on PATH (run scripts/bootstrap.sh)" >&2; exit 1; }
python3 "${here}/monitoring_check.py" dashboard "${root}" "${work}/dashboard.rules.yaml"
promtool check rules "${work}/dashboard.rules.yaml"
# promtool refuses a bad query in that form (the check above can fail).
printf 'groups:\n  - name: bad\n    rules:\n      - record: bad\n        expr: sum(rate(x[5m])\n' >"${work}/bad.rules.yaml"
if promtool check rules "${work}/bad.rules.yaml" >/dev/null 2>&1; then
  echo "FAIL: promtool accepted an unbalanced query" >&2
  exit 1
fi
echo "dashboard_test: OK"
