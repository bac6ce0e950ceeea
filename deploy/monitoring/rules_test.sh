#!/usr/bin/env bash
# The alert rules: promtool accepts them and their unit tests pass (every alert firing and not
# firing), the PrometheusRule is the rules file wrapped (generate_prometheus_rule.sh), and
# monitoring_check.py's structural checks hold (severity, annotations, runbook anchors in
# docs/OPERATIONS.md, tests both ways, metric names the services register). promtool comes from
# Debian's prometheus package (scripts/bootstrap.sh).
set -euo pipefail
here="deploy/monitoring"
# The source tree (the real path of a data file), whose services' metric names are checked.
root="$(cd "$(dirname "$(readlink -f "${here}/mecai.rules.yaml")")/../.." && pwd)"
work="${TEST_TMPDIR:-$(mktemp -d)}"
command -v promtool >/dev/null || { echo "rules_test: no promtool on PATH (run scripts/bootstrap.sh)" >&2; exit 1; }

promtool check rules "${here}/mecai.rules.yaml"
promtool test rules "${here}/rules_test.yaml" "${here}/rules_test_slo_days.yaml"

# The wrapper is exactly what the generator makes of the rules file, and promtool accepts its spec.
if ! diff -u "${here}/prometheus-rule.yaml" <("${here}/generate_prometheus_rule.sh" "${here}/mecai.rules.yaml"); then
  echo "FAIL: prometheus-rule.yaml is stale: run deploy/monitoring/generate_prometheus_rule.sh > deploy/monitoring/prometheus-rule.yaml" >&2
  exit 1
fi
python3 -c 'import sys, yaml; yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["spec"], open(sys.argv[2], "w"))' \
  "${here}/prometheus-rule.yaml" "${work}/spec.rules.yaml"
promtool check rules "${work}/spec.rules.yaml"

python3 "${here}/monitoring_check.py" rules "${root}"

# The unit tests can fail: with the region-loss threshold moved from 50 % to 95 %, the test that
# expects MecaiRegionUnreachable at 91 % must fail.
mkdir -p "${work}/mutant"
sed 's/^          > 0.5$/          > 0.95/' "${here}/mecai.rules.yaml" >"${work}/mutant/mecai.rules.yaml"
cmp -s "${here}/mecai.rules.yaml" "${work}/mutant/mecai.rules.yaml" && { echo "FAIL: the mutation changed nothing" >&2; exit 1; }
python3 -c 'import sys, yaml
tests = yaml.safe_load(open(sys.argv[1]))
tests["tests"] = [t for t in tests["tests"]
                  if any(c["alertname"] == "MecaiRegionUnreachable" for c in t["alert_rule_test"])]
yaml.safe_dump(tests, open(sys.argv[2], "w"))' "${here}/rules_test.yaml" "${work}/mutant/rules_test.yaml"
if promtool test rules "${work}/mutant/rules_test.yaml" >"${work}/mutant.out" 2>&1; then
  echo "FAIL: promtool test rules passed with a mutated rule" >&2
  exit 1
fi
grep -q "MecaiRegionUnreachable" "${work}/mutant.out" || { cat "${work}/mutant.out" >&2; exit 1; }
echo "rules_test: OK"
