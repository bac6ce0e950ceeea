#!/usr/bin/env python3
"""Structural checks of deploy/monitoring, beside promtool's own (rules_test.sh, dashboard_test.sh).

  monitoring_check.py rules ROOT      the alert rules: every alert has a severity, a summary, a
                                      description and a runbook_url naming an anchor of
                                      docs/OPERATIONS.md; every alert is tested firing and not
                                      firing in rules_test*.yaml; prometheus-rule.yaml holds the
                                      same groups; every metric an expression names exists.
  monitoring_check.py dashboard ROOT OUT
                                      the Grafana dashboard: it parses, its panels are complete,
                                      every metric its queries name exists, and OUT receives the
                                      queries as a rules file for `promtool check rules`.

A metric "exists" when a service registers it (prometheus::Build*().Name("...") in the sources
under ROOT), when mecai.rules.yaml records it, or when it is one of EXTERNAL (kubelet, node
exporter, Prometheus) or DECLARED (metrics the alerts and runbooks are written against, named in
docs/OPERATIONS.md "Alerts"; the check says which of them no source registers yet).
"""
import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIRS = ["coordinator", "signer", "probe_agent", "stapler", "approval", "log_server", "witness", "common"]
EXTERNAL = {
    "up": "gauge",
    "kubelet_volume_stats_available_bytes": "gauge",
    "kubelet_volume_stats_capacity_bytes": "gauge",
    "node_filesystem_avail_bytes": "gauge",
    "node_filesystem_size_bytes": "gauge",
    "node_filesystem_readonly": "gauge",
}
DECLARED = {
    "mecai_certificate_expiry_timestamp_seconds": "gauge",
    "mecai_coordinator_store_commit_seconds": "histogram",
    "mecai_coordinator_vouch_in_flight": "gauge",
    "mecai_stapler_vouching_data_age_seconds": "gauge",
}
SEVERITIES = {"critical", "warning"}
TEST_FILES = ["rules_test.yaml", "rules_test_slo_days.yaml"]
RUNBOOK = re.compile(r"^docs/OPERATIONS\.md#([a-z0-9-]+)$")
# Grafana's interval variables, replaced by durations for promtool.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "atan2"}

problems = []


def problem(message):
  problems.append(message)


def registered_metrics(root):
  """{name: type} of every prometheus::Build<Type>().Name("...") under the source directories."""
  pattern = re.compile(r'prometheus::Build(Counter|Gauge|Histogram|Summary)\(\)\s*\.Name\("([^"]+)"\)')
  found = {}
  for directory in SOURCE_DIRS:
    for base, _, names in os.walk(os.path.join(root, directory)):
      for name in names:
        if not name.endswith((".cc", ".h")):
          continue
        with open(os.path.join(base, name), encoding="utf-8", errors="replace") as f:
          for kind, metric in pattern.findall(f.read()):
            found[metric] = kind.lower()
  return found


def series_names(metrics):
  """Every series name the metrics expose: histograms add _bucket, _sum and _count."""
  names = set()
  for name, kind in metrics.items():
    names.add(name)
    if kind in ("histogram", "summary"):
      names.update({name + "_bucket", name + "_sum", name + "_count"})
  return names


def metric_names(expr):
  """The metric names a PromQL expression selects (not functions, labels or keywords)."""
  text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
  text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
  text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
  text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
  text = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", text)
  names = set()
  for match in re.finditer(r"(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*", text):
    word = match.group(0)
    called = text[match.end():].lstrip().startswith("(")  # a function or an aggregation
    if word.lower() not in KEYWORDS and not called:
      names.add(word)
  return names


def check_names(where, expr, known):
  for name in sorted(metric_names(expr)):
    if name not in known:
      problem(f"{where}: metric {name} is exported by no service and declared nowhere")


def load_yaml(path):
  with open(path, encoding="utf-8") as f:
    return yaml.safe_load(f)


def known_names(root, rules):
  registered = registered_metrics(root)
  if not registered:
    problem(f"no prometheus::Build*().Name(...) found under {root}: wrong ROOT?")
  for name in sorted(DECLARED):
    if name in registered:
      print(f"declared metric {name}: registered by a service")
    else:
      print(f"declared metric {name}: not registered by any service yet")
  recorded = {rule["record"] for group in rules["groups"] for rule in group["rules"]
              if "record" in rule}
  return series_names({**registered, **EXTERNAL, **DECLARED}) | recorded


def anchors_of(path):
  """The GitHub anchors of the headings of a Markdown file."""
  anchors = set()
  with open(path, encoding="utf-8") as f:
    for line in f:
      match = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
      if match:
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
        anchors.add(slug)
  return anchors


def check_rules(root):
  rules = load_yaml(os.path.join(HERE, "mecai.rules.yaml"))
  known = known_names(root, rules)
  anchors = anchors_of(os.path.join(root, "docs", "OPERATIONS.md"))
  alerts = []
  for group in rules["groups"]:
    for rule in group["rules"]:
      name = rule.get("alert") or rule.get("record")
      check_names(f"rule {name}", rule["expr"], known)
      if "alert" not in rule:
        continue
      alerts.append(name)
      labels = rule.get("labels", {})
      annotations = rule.get("annotations", {})
      if labels.get("severity") not in SEVERITIES:
        problem(f"alert {name}: severity {labels.get('severity')!r} is not one of {sorted(SEVERITIES)}")
      for key in ("summary", "description", "runbook_url"):
        if not str(annotations.get(key, "")).strip():
          problem(f"alert {name}: no {key} annotation")
      runbook = RUNBOOK.match(str(annotations.get("runbook_url", "")))
      if not runbook:
        problem(f"alert {name}: runbook_url {annotations.get('runbook_url')!r} is not docs/OPERATIONS.md#<anchor>")
      elif runbook.group(1) not in anchors:
        problem(f"alert {name}: docs/OPERATIONS.md has no heading with anchor #{runbook.group(1)}")
  if len(alerts) != len(set(alerts)):
    problem("two alerts share a name")

  # Every alert tested both ways.
  firing, silent = set(), set()
  for test_file in TEST_FILES:
    for test in load_yaml(os.path.join(HERE, test_file))["tests"]:
      for case in test.get("alert_rule_test", []):
        (firing if case.get("exp_alerts") else silent).add(case["alertname"])
  for name in alerts:
    if name not in firing:
      problem(f"alert {name}: no test expects it to fire")
    if name not in silent:
      problem(f"alert {name}: no test expects it to stay silent")

  # The PrometheusRule holds exactly the rules file's groups.
  wrapper = load_yaml(os.path.join(HERE, "prometheus-rule.yaml"))
  if wrapper.get("apiVersion") != "monitoring.coreos.com/v1" or wrapper.get("kind") != "PrometheusRule":
    problem("prometheus-rule.yaml is not a monitoring.coreos.com/v1 PrometheusRule")
  if wrapper.get("spec") != rules:
    problem("prometheus-rule.yaml's spec differs from mecai.rules.yaml")
  print(f"rules: {len(alerts)} alerts, {len(anchors)} headings in docs/OPERATIONS.md")


def panels_of(dashboard):
  for panel in dashboard.get("panels", []):
    yield panel
    yield from panel.get("panels", [])  # collapsed rows


def check_dashboard(root, out):
  with open(os.path.join(HERE, "mecai-dashboard.json"), encoding="utf-8") as f:
    dashboard = json.load(f)
  rules = load_yaml(os.path.join(HERE, "mecai.rules.yaml"))
  known = known_names(root, rules)
  for key in ("title", "uid", "panels", "schemaVersion"):
    if key not in dashboard:
      problem(f"dashboard: no {key}")
  ids = set()
  generated = []
  for panel in panels_of(dashboard):
    title = panel.get("title", "")
    if not title:
      problem(f"dashboard: a panel without a title: {panel.get('id')}")
    if panel.get("id") in ids:
      problem(f"dashboard: panel id {panel.get('id')} used twice")
    ids.add(panel.get("id"))
    if "gridPos" not in panel:
      problem(f"dashboard: panel {title!r} has no gridPos")
    if panel.get("type") == "row":
      continue
    targets = panel.get("targets", [])
    if not targets:
      problem(f"dashboard: panel {title!r} has no query")
    for target in targets:
      expr = target.get("expr", "")
      if not expr:
        problem(f"dashboard: panel {title!r} has a target without expr")
        continue
      for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
      if "$" in expr:
        problem(f"dashboard: panel {title!r}: a variable promtool cannot check: {expr}")
      check_names(f"dashboard panel {title!r}", expr, known)
      generated.append({"record": f"dashboard:panel_{panel.get('id')}:{target.get('refId', 'A')}",
                        "expr": expr})
  with open(out, "w", encoding="utf-8") as f:
    yaml.safe_dump({"groups": [{"name": "dashboard", "rules": generated}]}, f, sort_keys=False)
  print(f"dashboard: {len(ids)} panels, {len(generated)} queries written to {out}")


def main(argv):
  if len(argv) >= 3 and argv[1] == "rules":
    check_rules(argv[2])
  elif len(argv) >= 4 and argv[1] == "dashboard":
    check_dashboard(argv[2], argv[3])
  else:
    sys.exit(__doc__)
  for message in problems:
    print("FAIL: " + message, file=sys.stderr)
  return 1 if problems else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
