#!/usr/bin/env python3
"""Checks of workloads in rendered manifests against their configs (kustomize_test.sh;
deploy/k8s/README.md "The public log server and the witness", "Fronts and the sequencer").

Usage: k8s_workload_check.py log-server RENDERED_REGION.yaml
       k8s_workload_check.py front RENDERED_REGION.yaml [RENDERED_APPROVAL.yaml]
       k8s_workload_check.py witness RENDERED_WITNESS.yaml

log-server: the log-server container is in the coordinator StatefulSet's pod and mounts the
  coordinator's store volume, read-only, at the directory of the config's store_path; its config
  is the generated ConfigMap, by its hash-suffixed name; its probes are HTTP GETs of /metrics on
  the config's metrics port; its config's ports are its container ports; the public Service
  log-server and a metrics Service for the ServiceMonitor reach them.
front: the fronts (docs/ARCHITECTURE.md §14) are a Deployment without replicas whose
  HorizontalPodAutoscaler (autoscaling/v2) scales it on CPU utilization between minReplicas >= 2
  and maxReplicas >= minReplicas, every container with a cpu request; a PodDisruptionBudget lets
  one front at a time be evicted, the sequencer's (the coordinator StatefulSet's) none. The
  front's config (the generated ConfigMap, front.textproto) has a sequencer and none of the log's
  fields, its listener ports are container ports and its health port the gRPC probes'; its
  sequencer address is a Service of the sequencer's pods on the sequencer's listen port. The
  fronts hold an identity of their own: every mutual-TLS file of their config is in a TLS Secret
  they mount that is not the sequencer's; the sequencer's front_identities name it (and it is an
  allowed client there), not the sequencer's own identity (the one the fronts' sequencer peer
  expects); the probe agent accepts it, the approval service too when rendered with the region,
  and the signer does not. The public Vouch Service
  selects the fronts only, on their public_listen ports; the ServiceMonitor scrapes a Service of
  the fronts' metrics port. The fronts' NetworkPolicies admit egress to the sequencer's listen
  port and never to the signer; the sequencer's admit ingress from the fronts there, the signer's
  never.
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

# One reading of a LabelSelector for both checks (this script's directory is on sys.path); no
# bytecode is written beside the sources.
sys.dont_write_bytecode = True
from network_policy_check import selects  # pylint: disable=wrong-import-position


def field(textproto, name):
  """The string value of a top-level field of a text-format config."""
  match = re.search(rf'^{name}: "([^"]*)"$', textproto, re.MULTILINE)
  return match.group(1) if match else None


def port_of(address):
  return int(address.rsplit(":", 1)[1]) if address else None


def block(textproto, name):
  """The text inside the first top-level `name { ... }` of a text-format config, comments
  dropped; None without one."""
  text = "\n".join(line.split("#", 1)[0] for line in textproto.splitlines())
  match = re.search(rf"^{name} {{", text, re.MULTILINE)
  if not match:
    return None
  depth, start = 1, match.end()
  for i in range(start, len(text)):
    depth += {"{": 1, "}": -1}.get(text[i], 0)
    if depth == 0:
      return text[start:i]
  return None


def strings(textproto, name):
  """Every value of the string field `name` anywhere in a text-format config."""
  return re.findall(rf'^\s*{name}: "([^"]*)"$', textproto, re.MULTILINE)


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

  def secret_of(self, pod_spec, container, path):
    """The name of the Secret the container mounts at the directory of `path`; None if none."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
      volume = volumes.get(mount["name"], {})
      if "secret" in volume and posixpath.dirname(path) == mount["mountPath"]:
        return volume["secret"]["secretName"]
    return None

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

  def policies_of(self, labels):
    return [
        p for p in self.objects
        if p["kind"] == "NetworkPolicy" and selects(p["spec"].get("podSelector"), labels)
    ]

  def admitted(self, policies, direction, peer_labels, port):
    """Whether a rule of `direction` ("ingress" from, "egress" to) of these policies admits the
    pods with `peer_labels` of this namespace on TCP `port`."""
    key = "from" if direction == "ingress" else "to"
    for policy in policies:
      if direction.capitalize() not in policy["spec"].get("policyTypes", []):
        continue
      for rule in policy["spec"].get(direction) or []:
        ports = rule.get("ports")
        if ports and not any(p.get("port") in (None, port) for p in ports):
          continue
        peers = rule.get(key)
        if peers is None or any("podSelector" in peer and "namespaceSelector" not in peer
                                and "ipBlock" not in peer
                                and selects(peer["podSelector"], peer_labels) for peer in peers):
          return True
    return False

  def front(self):
    front = find(self.objects, "Deployment", "coordinator-front")
    sequencer = find(self.objects, "StatefulSet", "coordinator")
    signer = find(self.objects, "StatefulSet", "signer")
    if not (self.require(front, "no Deployment coordinator-front")
            and self.require(sequencer, "no sequencer (StatefulSet coordinator)")
            and self.require(signer, "no StatefulSet signer")):
      return
    self.require("replicas" not in front["spec"],
                 "the front Deployment sets replicas under its HorizontalPodAutoscaler")
    pod = front["spec"]["template"]["spec"]
    labels = front["spec"]["template"]["metadata"]["labels"]
    sequencer_pod = sequencer["spec"]["template"]["spec"]
    sequencer_labels = sequencer["spec"]["template"]["metadata"]["labels"]
    signer_labels = signer["spec"]["template"]["metadata"]["labels"]
    containers = pod.get("containers", [])
    for container in containers:
      self.hardened(f"front {container['name']}", pod, container)
      self.require(container.get("resources", {}).get("requests", {}).get("cpu"),
                   f"front {container['name']}: no cpu request (the autoscaler's utilization)")
    container = next((c for c in containers if c["name"] == "coordinator"), None)
    if not self.require(container, "no coordinator container in the fronts' pod"):
      return

    # The autoscaler and the disruption budgets.
    autoscaler = next((h for h in self.objects if h["kind"] == "HorizontalPodAutoscaler"
                       and h["spec"]["scaleTargetRef"].get("kind") == "Deployment"
                       and h["spec"]["scaleTargetRef"].get("name") == "coordinator-front"), None)
    if self.require(autoscaler, "no HorizontalPodAutoscaler of the fronts"):
      spec = autoscaler["spec"]
      self.require(autoscaler["apiVersion"] == "autoscaling/v2",
                   f"the fronts' autoscaler is {autoscaler['apiVersion']}, not autoscaling/v2")
      low, high = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
      self.require(low >= 2, f"the fronts' autoscaler keeps {low} front(s), fewer than 2")
      self.require(low <= high,
                   f"the fronts' autoscaler has minReplicas {low} > maxReplicas {high}")
      self.require(
          any(m.get("type") == "Resource" and m["resource"]["name"] == "cpu"
              and m["resource"]["target"].get("type") == "Utilization"
              for m in spec.get("metrics", [])),
          "the fronts' autoscaler does not scale on CPU utilization")
    budgets = [b for b in self.objects if b["kind"] == "PodDisruptionBudget"]
    front_budget = next((b for b in budgets if selects(b["spec"]["selector"], labels)), None)
    if self.require(front_budget, "no PodDisruptionBudget of the fronts"):
      spec = front_budget["spec"]
      self.require(
          spec.get("maxUnavailable") == 1 or spec.get("minAvailable") == 1,
          f"the fronts' PodDisruptionBudget is not maxUnavailable 1 or minAvailable 1: {spec}")
    sequencer_budget = next(
        (b for b in budgets if selects(b["spec"]["selector"], sequencer_labels)), None)
    if self.require(sequencer_budget, "no PodDisruptionBudget of the sequencer"):
      self.require(sequencer_budget["spec"].get("maxUnavailable") == 0,
                   "the sequencer's PodDisruptionBudget lets evictions take it")
    self.require(sequencer["spec"].get("replicas") == 1,
                 "the sequencer has not exactly one replica")

    # The configs.
    config = self.config_map(pod, "config", "mecai-front-config", "front.textproto")
    sequencer_config = self.config_map(sequencer_pod, "config", "mecai-coordinator-config",
                                       "coordinator.textproto")
    self.require(container["command"][-1] == "/etc/mecai/config/front.textproto",
                 f"the front runs {container['command']}, not its front.textproto")
    peer = block(config, "sequencer")
    if not self.require(peer is not None, "the front's config has no sequencer"):
      return
    for name in ("store_path", "log_shard_id"):
      self.require(field(config, name) is None, f"the front's config has {name}")
    for name in ("signer", "store_backup"):
      self.require(block(config, name) is None, f"the front's config has {name}")
    listen = block(config, "listen") or ""
    public = block(config, "public_listen") or ""
    declared = {p["containerPort"] for p in container.get("ports", [])}
    health = port_of((strings(listen, "health_address") or [None])[0])
    config_ports = {
        port_of(a) for a in strings(listen, "address") + strings(listen, "health_address") +
        strings(listen, "metrics_address") + strings(public, "address") +
        strings(public, "http_address")
    }
    self.require(config_ports <= declared,
                 f"the front's config ports {sorted(config_ports)} are not all container ports "
                 f"{sorted(declared)}")
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
      self.require((container.get(kind) or {}).get("grpc", {}).get("port") == health,
                   f"front: {kind} is not a gRPC probe of the health port {health}")
    address = (strings(peer, "address") or [""])[0]
    match = re.fullmatch(r"dns:///([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)", address)
    sequencer_container = next(c for c in sequencer_pod["containers"] if c["name"] == "coordinator")
    sequencer_listen = port_of(
        (strings(block(sequencer_config, "listen") or "", "address") or [None])[0])
    if self.require(match, f"the front's sequencer address {address} is no Service's DNS name"):
      service = self.service_port(match.group(1), sequencer["spec"]["selector"]["matchLabels"],
                                  sequencer_listen, sequencer_container)
      if service:
        self.require(
            any(p["port"] == int(match.group(3)) for p in service["spec"]["ports"]),
            f"Service {match.group(1)} has no port {match.group(3)}")
    # The identities (docs/ARCHITECTURE.md §14): the fronts hold their own, from a TLS Secret of
    # their own, which the sequencer serves, every agent (and the approval service) accepts and
    # the signer refuses.
    sequencer_identity = (strings(peer, "server_identity") or [None])[0]
    fronts = strings(sequencer_config, "front_identities")
    allowed = strings(block(sequencer_config, "listen") or "", "allowed_client_identities")
    self.require(fronts, "the sequencer's front_identities name no identity of the fronts")
    self.require(sequencer_identity not in fronts,
                 f"the sequencer's front_identities {fronts} name its own identity "
                 f"{sequencer_identity}, not the fronts' own")
    self.require(set(fronts) <= set(allowed),
                 f"the sequencer's front_identities {fronts} are not all allowed clients {allowed}")
    front_secret = self.secret_of(pod, container, (strings(listen, "certificate_file") or [""])[0])
    sequencer_secret = self.secret_of(
        sequencer_pod, sequencer_container,
        (strings(block(sequencer_config, "listen") or "", "certificate_file") or [""])[0])
    if self.require(front_secret, "the fronts' listener certificate is in no Secret they mount"):
      self.require(front_secret != sequencer_secret,
                   f"the fronts present the sequencer's TLS Secret {front_secret}, not their own")
      files = [
          f for name in ("certificate_file", "private_key_file", "client_ca_file",
                         "server_ca_file") for f in strings(config, name)
          if f not in strings(public, name)
      ]
      for path in files:
        self.require(self.secret_of(pod, container, path) == front_secret,
                     f"the fronts' {path} is not in their own Secret {front_secret}")
    agent = find(self.objects, "Deployment", "probe-agent")
    if self.require(agent, "no Deployment probe-agent"):
      agent_config = self.config_map(agent["spec"]["template"]["spec"], "config",
                                     "mecai-probe-agent-config", "probe-agent.textproto")
      agent_allowed = strings(block(agent_config, "listen") or "", "allowed_client_identities")
      for identity in fronts:
        self.require(identity in agent_allowed,
                     f"the probe agent does not accept the fronts' identity {identity}")
    signer_config = self.config_map(signer["spec"]["template"]["spec"], "config",
                                    "mecai-signer-config", "signer.textproto")
    signer_allowed = strings(block(signer_config, "listen") or "", "allowed_client_identities")
    for identity in fronts:
      self.require(identity not in signer_allowed,
                   f"the signer accepts the fronts' identity {identity}")
    approval = find(self.objects, "Deployment", "approval")
    if approval:
      approval_config = self.config_map(approval["spec"]["template"]["spec"], "config",
                                        "mecai-approval-config", "approval.textproto")
      approval_allowed = strings(block(approval_config, "listen") or "",
                                 "allowed_client_identities")
      for identity in fronts:
        self.require(identity in approval_allowed,
                     f"the approval service does not accept the fronts' identity {identity}")

    # The public endpoint: the fronts, not the sequencer.
    vouch = find(self.objects, "Service", "coordinator-public")
    if self.require(vouch, "no Service coordinator-public"):
      self.require(vouch["spec"].get("type") == "LoadBalancer",
                   "coordinator-public is not a LoadBalancer")
      self.require(
          not selects({"matchLabels": vouch["spec"]["selector"]}, sequencer_labels),
          "coordinator-public selects the sequencer")
      public_addresses = strings(public, "address") + strings(public, "http_address")
      for port in (port_of(a) for a in public_addresses):
        self.service_port("coordinator-public", front["spec"]["selector"]["matchLabels"], port,
                          container)
    metrics = port_of((strings(listen, "metrics_address") or [None])[0])
    monitor = find(self.objects, "ServiceMonitor", "mecai")
    if self.require(monitor, "no ServiceMonitor mecai"):
      scraped = [
          s for s in self.objects if s["kind"] == "Service" and all(
              s["metadata"].get("labels", {}).get(k) == v
              for k, v in monitor["spec"]["selector"]["matchLabels"].items())
          and selects({"matchLabels": s["spec"].get("selector", {})}, labels)
      ]
      ports = [e["port"] for e in monitor["spec"]["endpoints"]]
      self.require(
          any(p.get("name") in ports and p.get("targetPort") in (metrics, "metrics")
              for s in scraped for p in s["spec"]["ports"]),
          "the ServiceMonitor scrapes no Service of the fronts' metrics port")

    # The network: fronts to the sequencer, never to the signer.
    mine = self.policies_of(labels)
    signer_ports = signer["spec"]["template"]["spec"]["containers"][0]["ports"]
    signer_port = next(p["containerPort"] for p in signer_ports if p.get("name") == "grpc")
    self.require(self.admitted(mine, "egress", sequencer_labels, sequencer_listen),
                 f"no NetworkPolicy admits the fronts' egress to the sequencer's port "
                 f"{sequencer_listen}")
    self.require(not self.admitted(mine, "egress", signer_labels, signer_port),
                 "a NetworkPolicy admits the fronts' egress to the signer")
    self.require(
        self.admitted(self.policies_of(sequencer_labels), "ingress", labels, sequencer_listen),
        f"no NetworkPolicy admits the fronts into the sequencer's port {sequencer_listen}")
    self.require(not self.admitted(self.policies_of(signer_labels), "ingress", labels, signer_port),
                 "a NetworkPolicy admits the fronts into the signer")

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
  if (len(argv) < 3 or argv[1] not in ("log-server", "front", "witness")
      or len(argv) > (4 if argv[1] == "front" else 3)):
    sys.exit(__doc__)
  objects = []
  for path in argv[2:]:
    with open(path, encoding="utf-8") as f:
      objects += [o for o in yaml.safe_load_all(f) if o]
  checker = Checker(objects)
  getattr(checker, argv[1].replace("-", "_"))()
  for problem in checker.problems:
    print(f"{argv[1]}: {problem}")
  return 1 if checker.problems else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
