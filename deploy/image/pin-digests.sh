#!/usr/bin/env bash
# deploy/image/pin-digests.sh: pins the images of every region overlay (deploy/k8s/overlays/*) and
# of the witness (deploy/k8s/witness) to the manifest digests that deploy/image/build.sh wrote, as
# kustomize `images:` entries with `digest:` (and `newName:` with --registry, the repository the
# images were pushed to). Each kustomization gets an entry for the images its workloads run (the
# overlays those of ../k8s/base). It replaces the block from the marker line below to the end of
# each kustomization.yaml.
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

# pin KUSTOMIZATION MANIFESTS_DIR: the block of the images that MANIFESTS_DIR/*.yaml run.
pin() {
  local kustomization="$1" manifests="$2" block="${marker}"$'\n'"images:" image digest kept
  while read -r image digest; do
    [[ "${digest}" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "pin-digests: bad digest of ${image}: ${digest}" >&2; exit 1; }
    grep -qE "image: mecai/${image}(:|@|\$)" "${manifests}"/*.yaml || continue
    block+=$'\n'"  - name: mecai/${image}"
    [[ -n "${registry}" ]] && block+=$'\n'"    newName: ${registry}/mecai/${image}"
    block+=$'\n'"    digest: ${digest}"
  done < <(LC_ALL=C sort "${digests}")
  kept="$(awk -v marker="${marker}" '$0 == marker {exit} {print}' "${kustomization}")"
  printf '%s\n\n%s\n' "${kept%$'\n'}" "${block}" | cat -s >"${kustomization}.new"
  mv "${kustomization}.new" "${kustomization}"
  echo "pin-digests: ${kustomization#"${k8s}/"}"
}

for kustomization in "${k8s}"/overlays/*/kustomization.yaml; do
  pin "${kustomization}" "${k8s}/base"
done
pin "${k8s}/witness/kustomization.yaml" "${k8s}/witness"
