#!/usr/bin/env python3
"""Least-privilege checks of one rendered region (kustomize_test.sh; deploy/k8s/README.md
"Network policies").

Usage: network_policy_check.py RENDERED.yaml...

The files are read as one cluster (a region's overlay, and the witness where it runs).

- a default deny: a NetworkPolicy with both policy types, no rule, that selects every pod;
- every workload's pods are selected by a policy of their own (one that does not select every
  pod) with ingress rules, and by one of their own for egress;
- every container that declares ports (the log server beside the coordinator too) has one of them
  admitted by an ingress rule of a policy of its pods' own;
- every numbered port of an ingress rule is a container port of a pod the policy selects;
- a port is open to everyone (an ingress rule without "from") only where it is the target of one
  of the public LoadBalancer Services (PUBLIC_LOAD_BALANCERS) on those pods, and every target port
  of those is open to everyone;
- every other LoadBalancer Service has loadBalancerSourceRanges, none of them "everything", each
  admitted on the same pods by a NetworkPolicy ipBlock.

Prints one line per problem and exits 1 when there is any.
"""
import ipaddress
import sys

import yaml

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"}
# Open to the Internet by design: the public Vouch endpoint (docs/PROTOCOL.md "The public
# endpoint"), the shard's public log and the witness (docs/PUBLIC_LOG.md).
PUBLIC_LOAD_BALANCERS = {"coordinator-public", "log-server", "witness"}


def pod_template(workload):
  spec = workload.get("spec", {})
  if workload["kind"] == "CronJob":
    spec = spec.get("jobTemplate", {}).get("spec", {})
  return spec.get("template", {})


def selects(selector, labels):
  """Whether a Kubernetes LabelSelector selects an object with these labels."""
  if selector is None:
    return False
  for key, value in (selector.get("matchLabels") or {}).items():
    if labels.get(key) != value:
      return False
  for expression in selector.get("matchExpressions") or []:
    key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
    if operator == "In" and labels.get(key) not in values:
      return False
    if operator == "NotIn" and labels.get(key) in values:
      return False
    if operator == "Exists" and key not in labels:
      return False
    if operator == "DoesNotExist" and key in labels:
      return False
  return True


def ingress_ports(policy, everyone=None):
  """The numbered ports the policy's ingress rules admit; with everyone=True only those of rules
  without "from" (any source), with everyone=False only those of rules with one."""
  ports = set()
  for rule in policy["spec"].get("ingress") or []:
    if everyone is not None and everyone != (not rule.get("from")):
      continue
    for port in rule.get("ports") or []:
      if isinstance(port.get("port"), int):
        ports.add(port["port"])
  return ports


def main(paths):
  objects = []
  for path in paths:
    with open(path, encoding="utf-8") as f:
      objects += [o for o in yaml.safe_load_all(f) if o]
  problems = []
  workloads = []  # (name, pod labels, container ports)
  containers = []  # (workload/container, pod labels, container ports)
  named_ports = {}  # (workload name, port name) -> number
  for o in objects:
    if o["kind"] in WORKLOAD_KINDS:
      template = pod_template(o)
      labels = template.get("metadata", {}).get("labels", {})
      name = f'{o["kind"]}/{o["metadata"]["name"]}'
      ports = set()
      for container in template.get("spec", {}).get("containers", []):
        own = set()
        for port in container.get("ports", []):
          own.add(port["containerPort"])
          if "name" in port:
            named_ports[(name, port["name"])] = port["containerPort"]
        ports |= own
        if own:
          containers.append((f'{name}/{container["name"]}', labels, own))
      workloads.append((name, labels, ports))
  if not workloads:
    problems.append("no workload rendered")
  policies = [o for o in objects if o["kind"] == "NetworkPolicy"]

  def selected(policy):
    return [w for w in workloads if selects(policy["spec"].get("podSelector"), w[1])]

  default_deny = [
      p for p in policies
      if set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
      and not p["spec"].get("ingress") and not p["spec"].get("egress")
      and len(selected(p)) == len(workloads)
  ]
  if not default_deny:
    problems.append("no default-deny NetworkPolicy (both types, no rule, every pod)")

  own = [p for p in policies if 0 < len(selected(p)) < len(workloads)]
  for name, labels, _ in workloads:
    mine = [p for p in own if selects(p["spec"].get("podSelector"), labels)]
    if not any("Ingress" in p["spec"].get("policyTypes", []) and p["spec"].get("ingress")
               for p in mine):
      problems.append(f"{name}: no NetworkPolicy of its own admits any ingress")
    if not any("Egress" in p["spec"].get("policyTypes", []) for p in mine):
      problems.append(f"{name}: no NetworkPolicy of its own states its egress")

  for name, labels, ports in containers:
    mine = [p for p in own if selects(p["spec"].get("podSelector"), labels)]
    if not any(ingress_ports(p) & ports for p in mine):
      problems.append(f"{name}: no NetworkPolicy of its own admits ingress to any of its ports "
                      f"{sorted(ports)}")

  # Open to everyone only what a public LoadBalancer serves, and all of that.
  public = {}  # workload name -> target port numbers of public LoadBalancers on its pods
  for service in (o for o in objects if o["kind"] == "Service"):
    spec = service.get("spec", {})
    if spec.get("type") != "LoadBalancer" or service["metadata"]["name"] not in PUBLIC_LOAD_BALANCERS:
      continue
    for name, labels, _ in workloads:
      if not selects({"matchLabels": spec.get("selector", {})}, labels):
        continue
      for port in spec.get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        number = target if isinstance(target, int) else named_ports.get((name, target))
        if number is None:
          problems.append(f'Service/{service["metadata"]["name"]}: target port {target} is no '
                          f"container port of {name}")
          continue
        public.setdefault(name, set()).add(number)
  for name, labels, _ in workloads:
    open_ports = set().union(set(), *(ingress_ports(p, everyone=True) for p in policies
                                      if selects(p["spec"].get("podSelector"), labels)))
    for number in sorted(open_ports - public.get(name, set())):
      problems.append(f"{name}: port {number} is open to everyone, but no public LoadBalancer "
                      f"serves it")
    for number in sorted(public.get(name, set()) - open_ports):
      problems.append(f"{name}: port {number} of a public LoadBalancer is not open to everyone")

  for policy in policies:
    pods = selected(policy)
    declared = set().union(*(w[2] for w in pods)) if pods else set()
    for rule in policy["spec"].get("ingress") or []:
      for port in rule.get("ports") or []:
        number = port.get("port")
        if isinstance(number, int) and number not in declared:
          problems.append(f'NetworkPolicy/{policy["metadata"]["name"]}: ingress port {number} is '
                          f"no container port of the pods it selects")

  for service in (o for o in objects if o["kind"] == "Service"):
    spec = service.get("spec", {})
    name = service["metadata"]["name"]
    if spec.get("type") != "LoadBalancer" or name in PUBLIC_LOAD_BALANCERS:
      continue
    ranges = spec.get("loadBalancerSourceRanges") or []
    if not ranges:
      problems.append(f"Service/{name}: a LoadBalancer without loadBalancerSourceRanges")
    service_pods = [w for w in workloads if selects({"matchLabels": spec.get("selector", {})}, w[1])]
    for cidr in ranges:
      try:
        network = ipaddress.ip_network(cidr)
      except ValueError:
        problems.append(f"Service/{name}: loadBalancerSourceRanges {cidr!r} is not a CIDR")
        continue
      if network.prefixlen == 0:
        problems.append(f"Service/{name}: loadBalancerSourceRanges {cidr} admits everyone")
      admitted = any(
          peer.get("ipBlock", {}).get("cidr") == cidr
          for policy in policies
          if any(selects(policy["spec"].get("podSelector"), w[1]) for w in service_pods)
          for rule in policy["spec"].get("ingress") or []
          for peer in rule.get("from") or [])
      if not admitted:
        problems.append(f"Service/{name}: source range {cidr} is admitted by no NetworkPolicy "
                        f"ipBlock on its pods")

  for problem in problems:
    print(problem)
  print(f"{len(workloads)} workloads, {len(policies)} NetworkPolicies, {len(problems)} problem(s)",
        file=sys.stderr)
  return 1 if problems else 0


if __name__ == "__main__":
  if len(sys.argv) < 2:
    sys.exit(__doc__)
  sys.exit(main(sys.argv[1:]))
