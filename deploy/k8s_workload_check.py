#!/usr/bin/env python3
"""Checks of the two public HTTP services in rendered manifests (kustomize_test.sh;
deploy/k8s/README.md "The public log server and the witness").

Usage: k8s_workload_check.py log-server RENDERED_REGION.yaml
       k8s_workload_check.py witness RENDERED_WITNESS.yaml

log-server: the log-server container is in the coordinator StatefulSet's pod and mounts the
  coordinator's store volume, read-only, at the directory of the config's store_path; its config
  is the generated ConfigMap, by its hash-suffixed name; its probes are HTTP GETs of /metrics on
  the config's metrics port; its config's ports are its container ports; the public Service
  log-server and a metrics Service for the ServiceMonitor reach them.
witness: a StatefulSet of exactly one replica whose state file lies on a volumeClaimTemplate's
  volume; the generated ConfigMap by its hash-suffixed name; HTTP GET /health probes on the
  config's listen port; a PodDisruptionBudget that lets no voluntary eviction take the pod; a
  public Service of the listen port and a ServiceMonitor of the metrics port.

Both: non-root, read-only root file system, no privilege escalation, every capability dropped,
seccomp RuntimeDefault. Prints one line per problem and exits 1 when there is any.
"""
import posixpath
import re
import sys

import yaml


def field(textproto, name):
  """The string value of a top-level field of a text-format config."""
  match = re.search(rf'^{name}: "([^"]*)"$', textproto, re.MULTILINE)
  return match.group(1) if match else None


def port_of(address):
  return int(address.rsplit(":", 1)[1]) if address else None


def find(objects, kind, name):
  for o in objects:
    if o["kind"] == kind and o["metadata"]["name"] == name:
      return o
  return None


class Checker:

  def __init__(self, objects):
    self.objects = objects
    self.problems = []

  def require(self, condition, problem):
    if not condition:
      self.problems.append(problem)
    return condition

  def config_map(self, pod_spec, volume_name, prefix, key):
    """The text of `key` in the ConfigMap the pod mounts as `volume_name`, which must be the
    generated `prefix`-<hash>."""
    volume = next((v for v in pod_spec.get("volumes", []) if v["name"] == volume_name), None)
    if not self.require(volume and "configMap" in volume, f"no ConfigMap volume {volume_name}"):
      return ""
    name = volume["configMap"]["name"]
    self.require(re.fullmatch(rf"{prefix}-[a-z0-9]+", name),
                 f"volume {volume_name} names ConfigMap {name}, not the generated {prefix}-<hash>")
    config_map = find(self.objects, "ConfigMap", name)
    if not self.require(config_map and key in config_map.get("data", {}),
                        f"no ConfigMap {name} with {key}"):
      return ""
    return config_map["data"][key]

  def hardened(self, what, pod_spec, container):
    pod = pod_spec.get("securityContext", {})
    own = container.get("securityContext", {})
    self.require(pod.get("runAsNonRoot") is True, f"{what}: the pod may run as root")
    self.require(pod.get("seccompProfile", {}).get("type") == "RuntimeDefault",
                 f"{what}: no seccomp profile RuntimeDefault")
    self.require(own.get("readOnlyRootFilesystem") is True, f"{what}: writable root file system")
    self.require(own.get("allowPrivilegeEscalation") is False, f"{what}: privilege escalation")
    self.require(own.get("capabilities", {}).get("drop") == ["ALL"],
                 f"{what}: capabilities not all dropped")
    self.require(container.get("resources", {}).get("limits"), f"{what}: no resource limits")

  def http_probes(self, what, container, path, port):
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
      probe = container.get(kind, {}).get("httpGet")
      self.require(probe and probe.get("path") == path and probe.get("port") == port,
                   f"{what}: {kind} is not an HTTP GET of {path} on port {port}: "
                   f"{container.get(kind)}")

  def service_port(self, name, selector, target_port, container):
    """The Service `name` selects `selector` and has a port whose target is `target_port`, by
    number or by the container's name for it."""
    service = find(self.objects, "Service", name)
    if not self.require(service, f"no Service {name}"):
      return None
    spec = service["spec"]
    self.require(spec.get("selector") == selector,
                 f"Service {name} selects {spec.get('selector')}, not {selector}")
    names = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    for port in spec.get("ports", []):
      target = port.get("targetPort", port.get("port"))
      if (target if isinstance(target, int) else names.get(target)) == target_port:
        return service
    self.problems.append(f"Service {name} has no port to {target_port}")
    return service

  def log_server(self):
    coordinator = find(self.objects, "StatefulSet", "coordinator")
    if not self.require(coordinator, "no coordinator StatefulSet"):
      return
    pod = coordinator["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod.get("containers", [])}
    container = containers.get("log-server")
    if not self.require(container, "the log-server container is not in the coordinator's pod"):
      return
    config = self.config_map(pod, "log-server-config", "mecai-log-server-config",
                             "log-server.textproto")
    store_path = field(config, "store_path")
    coordinator_mounts = {m["name"]: m for m in containers["coordinator"].get("volumeMounts", [])}
    mounts = {m["name"]: m for m in container.get("volumeMounts", [])}
    store = mounts.get("store")
    if self.require(store, "the log server does not mount the coordinator's volume store"):
      self.require(store.get("readOnly") is True, "the log server mounts the store writable")
      self.require(store["mountPath"] == coordinator_mounts["store"]["mountPath"],
                   "the log server mounts the store elsewhere than the coordinator")
      self.require(store_path and posixpath.dirname(store_path) == store["mountPath"],
                   f"store_path {store_path} is not on the store volume at {store['mountPath']}")
    templates = [t["metadata"]["name"] for t in coordinator["spec"].get("volumeClaimTemplates", [])]
    self.require("store" in templates, "the store is not the coordinator's volumeClaimTemplate")
    secondary = field(config, "secondary_path") or ""
    self.require(
        any(secondary.startswith(m["mountPath"] + "/") for n, m in mounts.items()
            if n != "store" and not m.get("readOnly")),
        f"secondary_path {secondary} is on no writable volume of the log server")
    listen = port_of(field(config, "listen_address"))
    metrics = port_of(field(config, "metrics_address"))
    declared = {p["containerPort"] for p in container.get("ports", [])}
    self.require({listen, metrics} <= declared,
                 f"the config's ports {listen}, {metrics} are not all container ports {declared}")
    self.http_probes("log-server", container, "/metrics", metrics)
    self.hardened("log-server", pod, container)
    selector = coordinator["spec"]["selector"]["matchLabels"]
    public = self.service_port("log-server", selector, listen, container)
    if public:
      self.require(public["spec"].get("type") == "LoadBalancer",
                   "the public log is not a LoadBalancer Service")
    scraped = self.service_port("log-server-metrics", selector, metrics, container)
    monitor = find(self.objects, "ServiceMonitor", "mecai")
    if scraped and self.require(monitor, "no ServiceMonitor mecai"):
      labels = scraped["metadata"].get("labels", {})
      self.require(
          all(labels.get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items()),
          "the ServiceMonitor does not select Service log-server-metrics")
      self.require(any(p.get("name") in [e["port"] for e in monitor["spec"]["endpoints"]]
                       for p in scraped["spec"]["ports"]),
                   "the ServiceMonitor scrapes no port of Service log-server-metrics")

  def witness(self):
    witness = find(self.objects, "StatefulSet", "witness")
    if not self.require(witness, "the witness is not a StatefulSet"):
      return
    self.require(witness["spec"].get("replicas") == 1, "the witness has not exactly one replica")
    pod = witness["spec"]["template"]["spec"]
    container = next((c for c in pod.get("containers", []) if c["name"] == "witness"), None)
    if not self.require(container, "no witness container"):
      return
    config = self.config_map(pod, "config", "mecai-witness-config", "witness.textproto")
    state_file = field(config, "state_file") or ""
    templates = [t["metadata"]["name"] for t in witness["spec"].get("volumeClaimTemplates", [])]
    on_claim = [
        m for m in container.get("volumeMounts", [])
        if m["name"] in templates and state_file.startswith(m["mountPath"] + "/")
        and not m.get("readOnly")
    ]
    self.require(on_claim, f"state_file {state_file} is on no volumeClaimTemplate's volume")
    listen = port_of(field(config, "listen_address"))
    metrics = port_of(field(config, "metrics_address"))
    self.http_probes("witness", container, "/health", listen)
    self.hardened("witness", pod, container)
    for init in pod.get("initContainers", []):
      self.hardened(f"witness init {init['name']}", pod, init)
    budget = find(self.objects, "PodDisruptionBudget", "witness")
    if self.require(budget, "no PodDisruptionBudget witness"):
      self.require(budget["spec"].get("maxUnavailable") == 0,
                   "the witness's PodDisruptionBudget lets evictions take it")
    selector = witness["spec"]["selector"]["matchLabels"]
    self.require(witness["spec"].get("serviceName") and find(
        self.objects, "Service", witness["spec"]["serviceName"]),
                 "the witness's governing Service is missing")
    public = self.service_port("witness", selector, listen, container)
    if public:
      self.require(public["spec"].get("type") == "LoadBalancer",
                   "the witness is not a LoadBalancer Service")
    monitor = find(self.objects, "ServiceMonitor", "witness")
    if self.require(monitor, "no ServiceMonitor witness"):
      scraped = [
          s for s in self.objects if s["kind"] == "Service" and all(
              s["metadata"].get("labels", {}).get(k) == v
              for k, v in monitor["spec"]["selector"]["matchLabels"].items())
      ]
      ports = [e["port"] for e in monitor["spec"]["endpoints"]]
      self.require(
          any(self.service_port(s["metadata"]["name"], selector, metrics, container)
              and any(p.get("name") in ports for p in s["spec"]["ports"]) for s in scraped),
          "the ServiceMonitor witness scrapes no Service of the witness's metrics port")


def main(argv):
  if len(argv) != 3 or argv[1] not in ("log-server", "witness"):
    sys.exit(__doc__)
  with open(argv[2], encoding="utf-8") as f:
    checker = Checker([o for o in yaml.safe_load_all(f) if o])
  getattr(checker, argv[1].replace("-", "_"))()
  for problem in checker.problems:
    print(f"{argv[1]}: {problem}")
  return 1 if checker.problems else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
