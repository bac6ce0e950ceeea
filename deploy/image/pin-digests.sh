#!/usr/bin/env bash
# deploy/image/pin-digests.sh: pins the images of every region overlay (deploy/k8s/overlays/*) to
# the manifest digests that deploy/image/build.sh wrote, as kustomize `images:` entries with
# `digest:` (and `newName:` with --registry, the repository the images were pushed to). Only the
# images the base's workloads run get an entry. It replaces the block from the marker line below to
# the end of each kustomization.yaml.
#
#   deploy/image/pin-digests.sh [--registry REGISTRY] [BUILD_OUT]   (default /var/tmp/mecai-images)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s="${here}/../k8s"
registry=""
if [[ "${1:-}" == "--registry" ]]; then
  registry="${2%/}"
  shift 2
fi
build_out="${1:-/var/tmp/mecai-images}"
digests="${build_out}/digests"
[[ -f "${digests}" ]] || { echo "pin-digests: no ${digests} (run deploy/image/build.sh)" >&2; exit 1; }
marker="# Images by digest: written by deploy/image/pin-digests.sh from deploy/image/build.sh."

block="${marker}"$'\n'"images:"
while read -r image digest; do
  [[ "${digest}" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "pin-digests: bad digest of ${image}: ${digest}" >&2; exit 1; }
  grep -qE "image: mecai/${image}(:|@|\$)" "${k8s}"/base/*.yaml || continue
  block+=$'\n'"  - name: mecai/${image}"
  [[ -n "${registry}" ]] && block+=$'\n'"    newName: ${registry}/mecai/${image}"
  block+=$'\n'"    digest: ${digest}"
done < <(LC_ALL=C sort "${digests}")

for kustomization in "${k8s}"/overlays/*/kustomization.yaml; do
  kept="$(awk -v marker="${marker}" '$0 == marker {exit} {print}' "${kustomization}")"
  printf '%s\n\n%s\n' "${kept%$'\n'}" "${block}" | cat -s >"${kustomization}.new"
  mv "${kustomization}.new" "${kustomization}"
  echo "pin-digests: ${kustomization#"${k8s}/"}"
done
