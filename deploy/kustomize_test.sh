#!/usr/bin/env bash
# Renders every region overlay of deploy/k8s, deploy/k8s/witness and deploy/k8s/approval with
# `kubectl kustomize` and checks that each overlay holds the whole region: the kinds below, its
# region label, its own configs (hash-named ConfigMaps, referenced by those names), gRPC health
# probes, the public log server in the coordinator's pod and the front coordinators beside the
# sequencer (deploy/k8s_workload_check.py) and least privilege on the network
# (deploy/network_policy_check.py); and that the witness is one replica
# with its state on a persistent volume. kubectl: $KUBECTL, else from PATH (scripts/bootstrap.sh
# installs Debian's kubernetes-client when there is none).
set -euo pipefail

kubectl="${KUBECTL:-$(command -v kubectl || true)}"
if [[ -z "${kubectl}" ]]; then
  echo "kustomize_test: no kubectl on PATH (run scripts/bootstrap.sh)" >&2
  exit 1
fi

# The tree is copied out of the runfiles, symlinks resolved: kustomize refuses files whose real
# path lies outside the kustomization's directory.
source_dir="deploy/k8s"
work="${TEST_TMPDIR:-$(mktemp -d)}/k8s"
rm -rf "${work}"
mkdir -p "$(dirname "${work}")"
cp -RL "${source_dir}" "${work}"

checker="$(pwd)/deploy/network_policy_check.py"
workload_checker="$(pwd)/deploy/k8s_workload_check.py"
regions=(eu-west us-east ap-south sa-east)
kinds=(Namespace StatefulSet Deployment HorizontalPodAutoscaler PodDisruptionBudget NetworkPolicy
  ServiceMonitor Service ConfigMap)
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# The checks every kustomization applied once (not per region) shares: rendered `$1` (its name,
# its directory under k8s/) holds each kind listed after the probe kind `$2`, is in namespace mecai,
# references its generated ConfigMap mecai-$1-config by its hash-suffixed name only, and has three
# probes (readiness, liveness, startup) of kind `$2` (grpc or httpGet).
check_single_app() {
  local name="$1" probe="$2"
  shift 2
  local kind
  for kind in "$@"; do
    grep -qx "kind: ${kind}" "${rendered}" || fail "${name}: no ${kind}"
  done
  grep -q "^  namespace: mecai\$" "${rendered}" || fail "${name}: not in namespace mecai"
  grep -Eq "^  name: mecai-${name}-config-[a-z0-9]+\$" "${rendered}" ||
    fail "${name}: no generated ConfigMap mecai-${name}-config"
  grep -Eq "^ +name: mecai-${name}-config\$" "${rendered}" &&
    fail "${name}: a reference to mecai-${name}-config without its hash suffix"
  local probes
  probes="$(grep -A3 -E '^ +(readiness|liveness|startup)Probe:' "${rendered}" |
    grep -c -E "^ +${probe}:" || true)"
  [[ "${probes}" -eq 3 ]] || fail "${name}: ${probes} ${probe} probes, expected 3"
}

# The approval service, rendered once more below for its own checks: the fronts' check verifies
# that it accepts their identity.
approval_for_fronts="${work}/approval-for-fronts.yaml"
"${kubectl}" kustomize "${work}/approval" >"${approval_for_fronts}" 2>/dev/null ||
  : >"${approval_for_fronts}"

# Exactly the overlays this test knows.
found_regions="$(cd "${work}/overlays" && ls -1 | sort | tr '\n' ' ')"
expected_regions="$(printf '%s\n' "${regions[@]}" | sort | tr '\n' ' ')"
[[ "${found_regions}" == "${expected_regions}" ]] ||
  fail "overlays are '${found_regions}', expected '${expected_regions}'"

for region in "${regions[@]}"; do
  rendered="${work}/${region}.yaml"
  if ! "${kubectl}" kustomize "${work}/overlays/${region}" >"${rendered}" 2>"${rendered}.stderr"; then
    fail "${region}: kubectl kustomize failed: $(cat "${rendered}.stderr")"
    continue
  fi
  for kind in "${kinds[@]}"; do
    grep -qx "kind: ${kind}" "${rendered}" || fail "${region}: no ${kind}"
  done
  grep -q "mecai.example/region: ${region}\$" "${rendered}" || fail "${region}: no region label"
  # This region's probe-agent config and log shard are in its ConfigMaps.
  grep -q "region: \"${region}\"" "${rendered}" || fail "${region}: no perspective of ${region}"
  grep -q "log_shard_id: \"shard-${region}-1\"" "${rendered}" ||
    fail "${region}: no log shard of ${region}"
  for other in "${regions[@]}"; do
    [[ "${other}" == "${region}" ]] && continue
    if grep -q "region: \"${other}\"" <(awk '/probe-agent.textproto:/,/^kind:/' "${rendered}"); then
      fail "${region}: the probe-agent config names region ${other}"
    fi
  done
  # Every generated ConfigMap is referenced by its hash-suffixed name, never the bare one.
  for config in coordinator front signer probe-agent log-server; do
    grep -Eq "^  name: mecai-${config}-config-[a-z0-9]+\$" "${rendered}" ||
      fail "${region}: no generated ConfigMap mecai-${config}-config"
    grep -Eq "^ +name: mecai-${config}-config\$" "${rendered}" &&
      fail "${region}: a reference to mecai-${config}-config without its hash suffix"
  done
  # The four workloads (sequencer, fronts, signer, agent) each probe the plaintext health port with
  # gRPC three ways.
  grpc_probes="$(grep -A3 -E '^ +(readiness|liveness|startup)Probe:' "${rendered}" |
    grep -c -E '^ +grpc:' || true)"
  [[ "${grpc_probes}" -eq 12 ]] ||
    fail "${region}: ${grpc_probes} gRPC probes, expected 12 (3 per workload)"
  # The log server has no gRPC health port: HTTP GETs of its metrics endpoint, three ways.
  http_probes="$(grep -A3 -E '^ +(readiness|liveness|startup)Probe:' "${rendered}" |
    grep -c -E '^ +httpGet:' || true)"
  [[ "${http_probes}" -eq 3 ]] ||
    fail "${region}: ${http_probes} HTTP probes, expected 3 (the log server's)"
  # This region's shard's public log: the log-server container in the coordinator's pod, on its
  # store volume read-only, its config's paths and ports those of the manifests.
  if ! python3 "${workload_checker}" log-server "${rendered}" >"${rendered}.log-server" 2>&1; then
    fail "${region}: $(cat "${rendered}.log-server")"
  fi
  # The fronts (docs/ARCHITECTURE.md §14): a Deployment the CPU autoscaler sizes (at least two), a
  # disruption budget of one, the public Vouch endpoint, their config's sequencer the Service of
  # the one sequencer, whose budget admits no eviction and whose front_identities name them; their
  # own identity, from their own TLS Secret, accepted by the agent and the approval service and
  # refused by the signer; their way to the sequencer open and to the signer closed.
  if ! python3 "${workload_checker}" front "${rendered}" "${approval_for_fronts}" \
    >"${rendered}.front" 2>&1; then
    fail "${region}: $(cat "${rendered}.front")"
  fi
  # One signer, on a persistent volume: two signer states could sign two histories of a shard.
  signer_set="$(awk '/^kind: StatefulSet$/{keep=1; block=""} keep{block=block $0 "\n"} /^---$/{if (keep && block ~ /\n  name: signer\n/) print block; keep=0}' "${rendered}")"
  [[ -n "${signer_set}" ]] || fail "${region}: the signer is not a StatefulSet"
  grep -q "^  replicas: 1\$" <<<"${signer_set}" || fail "${region}: the signer has more than one replica"
  grep -q "name: signer-state" <<<"${signer_set}" && grep -q "volumeClaimTemplates:" <<<"${signer_set}" ||
    fail "${region}: the signer's state is not on a persistent volume"
  # Least privilege (deploy/network_policy_check.py): a default deny, ingress and egress policies
  # of its own for every workload, the agents' load balancer limited to the other regions.
  if ! python3 "${checker}" "${rendered}" >"${rendered}.policies" 2>&1; then
    fail "${region}: $(cat "${rendered}.policies")"
  fi
  # The probe agents: the autoscaler owns their count (no replicas in the Deployment), scales on
  # probes in flight, and a headless Service gives the coordinator every pod's address.
  agent_deployment="$(awk '/^kind: Deployment$/{keep=1; block=""} keep{block=block $0 "\n"} /^---$/{if (keep && block ~ /\n  name: probe-agent\n/) print block; keep=0}' "${rendered}")"
  [[ -n "${agent_deployment}" ]] || fail "${region}: no probe-agent Deployment"
  grep -q "^  replicas:" <<<"${agent_deployment}" &&
    fail "${region}: the probe-agent Deployment sets replicas under its HorizontalPodAutoscaler"
  grep -q "name: mecai_probe_agent_probes_in_flight" "${rendered}" ||
    fail "${region}: the autoscaler does not scale on mecai_probe_agent_probes_in_flight"
  grep -q "^  name: probe-agent-headless\$" "${rendered}" && grep -q "clusterIP: None" "${rendered}" ||
    fail "${region}: no headless Service probe-agent-headless"
  # Every container's image is pinned by a manifest digest (the overlay's `images:`, written by
  # deploy/image/pin-digests.sh), never by a tag alone.
  containers=0
  while read -r image; do
    containers=$((containers + 1))
    [[ "${image}" =~ ^[a-z0-9][a-z0-9./:_-]*@sha256:[0-9a-f]{64}$ ]] ||
      fail "${region}: image ${image} is not pinned by digest"
  done < <(sed -n -E 's/^ +image: *//p' "${rendered}")
  [[ "${containers}" -eq 6 ]] || fail "${region}: ${containers} containers, expected 6"
  # Pod Security "restricted" (https://kubernetes.io/docs/concepts/security/pod-security-standards/):
  # the namespace enforces it, and every pod and container meets it, with no host volume.
  grep -q '^    pod-security.kubernetes.io/enforce: restricted$' "${rendered}" ||
    fail "${region}: the namespace does not enforce Pod Security \"restricted\""
  grep -q 'hostPath:' "${rendered}" && fail "${region}: a hostPath volume"
  for setting in 'allowPrivilegeEscalation: false' '- ALL'; do
    [[ "$(grep -c -E "^ +${setting}\$" "${rendered}")" -eq "${containers}" ]] ||
      fail "${region}: not every container has ${setting}"
  done
  for setting in 'runAsNonRoot: true' 'type: RuntimeDefault'; do
    [[ "$(grep -c -E "^ +${setting}\$" "${rendered}")" -eq 4 ]] ||
      fail "${region}: not every pod has ${setting}"
  done
  echo "${region}: rendered $(grep -c '^kind:' "${rendered}") objects"
done

# The witness (deploy/k8s/witness): one per VA, in the cluster of one region (here eu-west's). One
# replica with its state on a persistent volume, its generated config by hash, HTTP probes of
# /health, a disruption budget that admits no eviction, its image by digest, and least privilege
# together with the region it runs beside.
rendered="${work}/witness.yaml"
if ! "${kubectl}" kustomize "${work}/witness" >"${rendered}" 2>"${rendered}.stderr"; then
  fail "witness: kubectl kustomize failed: $(cat "${rendered}.stderr")"
else
  check_single_app witness httpGet StatefulSet PodDisruptionBudget Service ConfigMap NetworkPolicy \
    ServiceMonitor
  if ! python3 "${workload_checker}" witness "${rendered}" >"${rendered}.check" 2>&1; then
    fail "$(cat "${rendered}.check")"
  fi
  images=0
  while read -r image; do
    images=$((images + 1))
    [[ "${image}" =~ ^mecai/witness@sha256:[0-9a-f]{64}$ ]] ||
      fail "witness: image ${image} is not the witness's pinned by digest"
  done < <(sed -n -E 's/^ +image: *//p' "${rendered}")
  [[ "${images}" -eq 2 ]] || fail "witness: ${images} containers, expected 2 (init and witness)"
  if ! python3 "${checker}" "${work}/eu-west.yaml" "${rendered}" >"${rendered}.policies" 2>&1; then
    fail "witness beside eu-west: $(cat "${rendered}.policies")"
  fi
  echo "witness: rendered $(grep -c '^kind:' "${rendered}") objects"
fi

# The least-privilege check can fail: without the agents' policies and source ranges, it must name
# what is missing.
strip='import sys, yaml
objects = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
kept = [o for o in objects
        if not (o["kind"] == "NetworkPolicy" and (o["metadata"]["name"].startswith("probe-agent")
                                                  or o["metadata"]["name"] == "coordinator-front"))]
for o in kept:
  if o["kind"] == "Service":
    o["spec"].pop("loadBalancerSourceRanges", None)
yaml.safe_dump_all(kept, open(sys.argv[2], "w"))'
python3 -c "${strip}" "${work}/eu-west.yaml" "${work}/stripped.yaml"
if python3 "${checker}" "${work}/stripped.yaml" >"${work}/stripped.out" 2>&1; then
  fail "the policy check accepted a region without the probe agent's and the fronts' policies"
fi
for expected in "Deployment/probe-agent: no NetworkPolicy of its own admits any ingress" \
  "Deployment/probe-agent: no NetworkPolicy of its own states its egress" \
  "Deployment/coordinator-front: no NetworkPolicy of its own admits any ingress" \
  "Deployment/coordinator-front: port 8444 of a public LoadBalancer is not open to everyone" \
  "Deployment/coordinator-front: port 8445 of a public LoadBalancer is not open to everyone" \
  "Service/probe-agent: a LoadBalancer without loadBalancerSourceRanges"; do
  grep -qF "${expected}" "${work}/stripped.out" || fail "the policy check did not report '${expected}'"
done

# Without the log server's and the witness's policies, or with a port open to everyone that no
# public LoadBalancer serves, the check names each.
mutate='import sys, yaml
objects = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
objects += [o for o in yaml.safe_load_all(open(sys.argv[2])) if o]
if sys.argv[3] == "strip":
  objects = [o for o in objects if not (o["kind"] == "NetworkPolicy"
                                        and o["metadata"]["name"] in ("log-server", "witness"))]
else:
  for o in objects:
    if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "witness":
      o["spec"]["ingress"].append({"ports": [{"protocol": "TCP", "port": 9090}]})
yaml.safe_dump_all(objects, open(sys.argv[4], "w"))'
for variant in strip open; do
  python3 -c "${mutate}" "${work}/eu-west.yaml" "${work}/witness.yaml" "${variant}" \
    "${work}/${variant}.yaml"
  if python3 "${checker}" "${work}/${variant}.yaml" >"${work}/${variant}.out" 2>&1; then
    fail "the policy check accepted the ${variant} variant"
  fi
done
for expected in \
  "strip:StatefulSet/coordinator/log-server: no NetworkPolicy of its own admits ingress to any of its ports [8090, 9093]" \
  "strip:StatefulSet/coordinator: port 8090 of a public LoadBalancer is not open to everyone" \
  "strip:StatefulSet/witness: no NetworkPolicy of its own states its egress" \
  "open:StatefulSet/witness: port 9090 is open to everyone, but no public LoadBalancer serves it"; do
  grep -qxF "${expected#*:}" "${work}/${expected%%:*}.out" ||
    fail "the policy check did not report '${expected#*:}' ($(cat "${work}/${expected%%:*}.out"))"
done

# The log server's and the witness's checks can fail: a writable store, a second witness replica,
# a witness state off the persistent volume, a PodDisruptionBudget that admits an eviction.
break_workloads='import sys, yaml
objects = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
for o in objects:
  if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "coordinator":
    for c in o["spec"]["template"]["spec"]["containers"]:
      for m in c.get("volumeMounts", []):
        if c["name"] == "log-server" and m["name"] == "store":
          m["readOnly"] = False
  if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "witness":
    o["spec"]["replicas"] = 2
    o["spec"]["volumeClaimTemplates"] = []
  if o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == "witness":
    o["spec"]["maxUnavailable"] = 1
yaml.safe_dump_all(objects, open(sys.argv[2], "w"))'
python3 -c "${break_workloads}" "${work}/eu-west.yaml" "${work}/broken-region.yaml"
python3 -c "${break_workloads}" "${work}/witness.yaml" "${work}/broken-witness.yaml"
python3 "${workload_checker}" log-server "${work}/broken-region.yaml" >"${work}/broken.out" 2>&1 &&
  fail "the log server check accepted a writable store"
python3 "${workload_checker}" witness "${work}/broken-witness.yaml" >>"${work}/broken.out" 2>&1 &&
  fail "the witness check accepted a broken witness"
for expected in "log-server: the log server mounts the store writable" \
  "witness: the witness has not exactly one replica" \
  "witness: state_file /var/lib/mecai/witness/state.pb is on no volumeClaimTemplate's volume" \
  "witness: the witness's PodDisruptionBudget lets evictions take it"; do
  grep -qxF "${expected}" "${work}/broken.out" ||
    fail "the workload check did not report '${expected}' ($(cat "${work}/broken.out"))"
done

# The fronts' check can fail: replicas under the autoscaler, no cpu request, one front as the
# autoscaler's minimum, a memory metric, an evictable sequencer, a front config with a store, a
# sequencer that does not name the fronts, a way from the fronts to the signer, the public
# endpoint on the sequencer.
break_front='import sys, yaml
objects = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
for o in objects:
  kind, name = o["kind"], o["metadata"]["name"]
  if kind == "Deployment" and name == "coordinator-front":
    o["spec"]["replicas"] = 2
    del o["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
  if kind == "HorizontalPodAutoscaler" and name == "coordinator-front":
    o["spec"]["minReplicas"] = 1
    o["spec"]["metrics"][0]["resource"]["name"] = "memory"
  if kind == "PodDisruptionBudget" and name == "coordinator":
    o["spec"]["maxUnavailable"] = 1
  if kind == "ConfigMap" and name.startswith("mecai-front-config-"):
    o["data"]["front.textproto"] += "store_path: \"/var/lib/mecai/store\"\n"
  if kind == "ConfigMap" and name.startswith("mecai-coordinator-config-"):
    o["data"]["coordinator.textproto"] = o["data"]["coordinator.textproto"].replace(
        "front_identities: \"front\"", "")
  if kind == "NetworkPolicy" and name == "coordinator-front":
    o["spec"]["egress"].append({"to": [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "signer"}}}], "ports": [{"protocol": "TCP", "port": 8443}]})
  if kind == "Service" and name == "coordinator-public":
    o["spec"]["selector"] = {"app.kubernetes.io/name": "coordinator"}
yaml.safe_dump_all(objects, open(sys.argv[2], "w"))'
python3 -c "${break_front}" "${work}/eu-west.yaml" "${work}/broken-front.yaml"
python3 "${workload_checker}" front "${work}/broken-front.yaml" >"${work}/broken-front.out" 2>&1 &&
  fail "the front check accepted broken fronts"
for expected in "front: the front Deployment sets replicas under its HorizontalPodAutoscaler" \
  "front: front coordinator: no cpu request (the autoscaler's utilization)" \
  "front: the fronts' autoscaler keeps 1 front(s), fewer than 2" \
  "front: the fronts' autoscaler does not scale on CPU utilization" \
  "front: the sequencer's PodDisruptionBudget lets evictions take it" \
  "front: the front's config has store_path" \
  "front: the sequencer's front_identities name no identity of the fronts" \
  "front: coordinator-public selects the sequencer" \
  "front: a NetworkPolicy admits the fronts' egress to the signer"; do
  grep -qxF "${expected}" "${work}/broken-front.out" ||
    fail "the front check did not report '${expected}' ($(cat "${work}/broken-front.out"))"
done

# The fronts' identity is their own (docs/ARCHITECTURE.md §14): the check fails when the fronts
# mount the sequencer's TLS Secret, when an agent or the approval service does not accept the
# fronts' identity, when the signer does ("own"); and when the sequencer names its own identity
# as the fronts' ("shared").
break_identity='import sys, yaml
objects = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
objects += [o for o in yaml.safe_load_all(open(sys.argv[2])) if o]
front = "allowed_client_identities: \"front\""
for o in objects:
  kind, name = o["kind"], o["metadata"]["name"]
  data = o.get("data", {}) if kind == "ConfigMap" else {}
  if sys.argv[3] == "shared":
    if "coordinator.textproto" in data:
      data["coordinator.textproto"] = data["coordinator.textproto"].replace(
          "front_identities: \"front\"", "front_identities: \"coordinator\"")
    continue
  if kind == "Deployment" and name == "coordinator-front":
    for volume in o["spec"]["template"]["spec"]["volumes"]:
      if volume.get("secret", {}).get("secretName") == "mecai-front-tls":
        volume["secret"]["secretName"] = "mecai-coordinator-tls"
  if "probe-agent.textproto" in data:
    data["probe-agent.textproto"] = data["probe-agent.textproto"].replace(front, "")
  if "approval.textproto" in data:
    data["approval.textproto"] = data["approval.textproto"].replace(front, "")
  if "signer.textproto" in data:
    data["signer.textproto"] = data["signer.textproto"].replace(
        "client_ca_file:", front + "\n    client_ca_file:", 1)
yaml.safe_dump_all(objects, open(sys.argv[4], "w"))'
for variant in own shared; do
  python3 -c "${break_identity}" "${work}/eu-west.yaml" "${approval_for_fronts}" "${variant}" \
    "${work}/identity-${variant}.yaml"
  python3 "${workload_checker}" front "${work}/identity-${variant}.yaml" \
    >"${work}/identity-${variant}.out" 2>&1 &&
    fail "the front check accepted the fronts' identity variant ${variant}"
done
for expected in \
  "own:front: the fronts present the sequencer's TLS Secret mecai-coordinator-tls, not their own" \
  "own:front: the probe agent does not accept the fronts' identity front" \
  "own:front: the approval service does not accept the fronts' identity front" \
  "own:front: the signer accepts the fronts' identity front" \
  "shared:front: the sequencer's front_identities ['coordinator'] name its own identity"\
" coordinator, not the fronts' own" \
  "shared:front: the signer accepts the fronts' identity coordinator"; do
  grep -qxF "${expected#*:}" "${work}/identity-${expected%%:*}.out" ||
    fail "the front check did not report '${expected#*:}'"\
" ($(cat "${work}/identity-${expected%%:*}.out"))"
done

# The phone-approval service (deploy/k8s/approval, one per CA): its objects, its generated config
# referenced by hash, gRPC probes, one replica that recreates (one RocksDB writer), a restricted
# security context, and the page only behind the Ingress.
rendered="${work}/approval.yaml"
if ! "${kubectl}" kustomize "${work}/approval" >"${rendered}" 2>"${rendered}.stderr"; then
  fail "approval: kubectl kustomize failed: $(cat "${rendered}.stderr")"
else
  check_single_app approval grpc Deployment Service ConfigMap PersistentVolumeClaim NetworkPolicy \
    Ingress ServiceMonitor
  grep -q "^  replicas: 1\$" "${rendered}" || fail "approval: not exactly one replica"
  grep -q "type: Recreate" "${rendered}" || fail "approval: the Deployment does not recreate"
  for setting in "runAsNonRoot: true" "allowPrivilegeEscalation: false" \
    "readOnlyRootFilesystem: true" "type: RuntimeDefault" "automountServiceAccountToken: false"; do
    grep -q "${setting}" "${rendered}" || fail "approval: no ${setting}"
  done
  grep -A1 "capabilities:" "${rendered}" | grep -q "drop:" || fail "approval: capabilities kept"
  grep -q "claimName: approval-store" "${rendered}" || fail "approval: the store is not on a volume"
  grep -q "secretName: mecai-approval-site-tls" "${rendered}" ||
    fail "approval: the Ingress does not terminate TLS"
  grep -q "web_trusted_proxies:" "${rendered}" ||
    fail "approval: the config names no trusted proxy for the Ingress"
  echo "approval: rendered $(grep -c '^kind:' "${rendered}") objects"
fi

if [[ "${failures}" -ne 0 ]]; then
  echo "kustomize_test: ${failures} failure(s)" >&2
  exit 1
fi
echo "kustomize_test: every overlay, the witness and the approval service render"
