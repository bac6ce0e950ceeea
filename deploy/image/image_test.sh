#!/usr/bin/env bash
# Builds the seven service images twice with deploy/image/build.sh from this build's binaries and
# checks what a cluster relies on:
#   - both runs give the same manifest digest for every image (reproducible);
#   - each config runs the image's binary as its entrypoint as user 65532:65532, which the image's
#     /etc/passwd names "nonroot";
#   - unpacked with umoci, each image's binary (the very bytes of this build) runs `--help` chrooted
#     in its root file system as 65532:65532, exits 0 and prints its usage;
#   - the signer's and the witness's images hold the PKCS#11 module that their configs
#     (deploy/k8s/base/config/signer.textproto, deploy/k8s/witness/config/witness.textproto) name,
#     loadable there with every library it needs, and a tar that unpacks the token as their init
#     containers do;
#   - each SBOM names the binary with its SHA-256, every package of the image's dpkg status with
#     its version, among them every package the binary's libraries come from, and the manifest
#     names the SBOM's blob.
# Needs root (mmdebstrap --mode=root, chroot, unshare) and apt's Debian archive; the .debs are
# cached between runs (build.sh --cache).
set -euo pipefail
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH}"  # chroot is in /usr/sbin

tmp="${TEST_TMPDIR:-$(mktemp -d)}"
bin_dir="${PWD}"  # the runfiles tree is laid out like bazel-bin
here="${PWD}/deploy/image"
export SOURCE_DATE_EPOCH=1767225600
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
[[ "$(id -u)" -eq 0 ]] || { echo "image_test: needs root (mmdebstrap, chroot)" >&2; exit 1; }
for tool in skopeo umoci jq unshare chroot; do
  command -v "${tool}" >/dev/null || { echo "image_test: no ${tool} (scripts/bootstrap.sh)" >&2; exit 1; }
done

declare -A binary_of=(
  [coordinator]=coordinator/coordinator [signer]=signer/signer
  [probe-agent]=probe_agent/probe_agent [stapler]=stapler/stapler [approval]=approval/approval
  [log-server]=log_server/log_server [witness]=witness/witness)

build() {  # build RUN: the images into $tmp/runRUN
  local start=${SECONDS}
  "${here}/build.sh" --bin-dir "${bin_dir}" --out "${tmp}/run$1" >"${tmp}/run$1.log" 2>&1 ||
    { cat "${tmp}/run$1.log" >&2; echo "image_test: build.sh failed" >&2; exit 1; }
  echo "run $1: $((SECONDS - start)) s"
  cat "${tmp}/run$1/digests"
}
build 1
build 2
# The Debian archive may publish an update between the two runs: then the SBOMs' package versions
# differ too, and the first run is repeated once.
if ! cmp -s "${tmp}/run1/digests" "${tmp}/run2/digests" &&
  ! cat "${tmp}"/run1/*.spdx.json | jq -r '.packages[].versionInfo' |
  cmp -s - <(cat "${tmp}"/run2/*.spdx.json | jq -r '.packages[].versionInfo'); then
  echo "the archive changed between the runs; building again"
  build 1
fi
[[ "$(wc -l <"${tmp}/run1/digests")" -eq 7 ]] || fail "run 1 built $(wc -l <"${tmp}/run1/digests") images, expected 7"
cmp -s "${tmp}/run1/digests" "${tmp}/run2/digests" || fail "the two runs gave different digests"

out="${tmp}/run1"
for image in "${!binary_of[@]}"; do
  name="${binary_of[${image}]#*/}"
  binary="${bin_dir}/${binary_of[${image}]}"
  layout="${out}/${image}"

  # The config, as a registry client reads it from the layout.
  config="$(skopeo inspect --config "oci:${layout}:1.0")" || { fail "${image}: skopeo inspect"; continue; }
  [[ "$(jq -r '.config.User' <<<"${config}")" == "65532:65532" ]] || fail "${image}: user is not 65532:65532"
  [[ "$(jq -c '.config.Entrypoint' <<<"${config}")" == "[\"/usr/local/bin/${name}\"]" ]] ||
    fail "${image}: entrypoint is $(jq -c '.config.Entrypoint' <<<"${config}")"

  bundle="${tmp}/bundle-${image}"
  umoci unpack --image "${layout}:1.0" "${bundle}" >/dev/null || { fail "${image}: umoci unpack"; continue; }
  rootfs="${bundle}/rootfs"
  grep -qx 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' "${rootfs}/etc/passwd" ||
    fail "${image}: no user 65532 in /etc/passwd"
  cmp -s "${binary}" "${rootfs}/usr/local/bin/${name}" || fail "${image}: the binary is not this build's"
  grep -q 'BEGIN CERTIFICATE' "${rootfs}/etc/ssl/certs/ca-certificates.crt" || fail "${image}: no CA bundle"

  # Its own /proc (ASan builds read /proc/self/maps), in a mount and PID namespace of its own.
  if help="$(unshare --mount --pid --fork --mount-proc="${rootfs}/proc" \
    chroot --userspec=65532:65532 "${rootfs}" "/usr/local/bin/${name}" --help 2>"${tmp}/${image}.stderr")"; then
    grep -q "^usage: ${name} --config FILE" <<<"${help}" || fail "${image}: --help printed: ${help}"
  else
    fail "${image}: --help exited $? in the image: $(cat "${tmp}/${image}.stderr")"
  fi

  # The SBOM: beside the layout and, the same bytes, the blob the manifest names.
  sbom="${out}/${image}.spdx.json"
  manifest="$(skopeo inspect --raw "oci:${layout}:1.0")"
  sbom_digest="$(jq -r '.annotations["example.mecai.sbom.digest"]' <<<"${manifest}")"
  [[ "${sbom_digest}" == "sha256:$(sha256sum "${sbom}" | cut -d' ' -f1)" ]] ||
    fail "${image}: the manifest names SBOM ${sbom_digest}"
  cmp -s "${sbom}" "${layout}/blobs/sha256/${sbom_digest#sha256:}" || fail "${image}: no SBOM blob"
  [[ "$(jq -r --arg path "/usr/local/bin/${name}" \
    '.packages[] | select(.packageFileName == $path) | .checksums[0].checksumValue' "${sbom}")" == \
    "$(sha256sum "${binary}" | cut -d' ' -f1)" ]] || fail "${image}: the SBOM's SHA-256 of ${name}"
  listed="$(jq -r '.packages[] | select(.externalRefs) | "\(.name) \(.versionInfo)"' "${sbom}" | LC_ALL=C sort)"
  installed="$(awk '/^Package:/ {p=$2} /^Version:/ {print p, $2}' "${rootfs}/var/lib/dpkg/status" | LC_ALL=C sort)"
  [[ -n "${installed}" && "${listed}" == "${installed}" ]] ||
    fail "${image}: the SBOM's packages differ from dpkg's status: $(diff <(echo "${listed}") <(echo "${installed}") | head -5)"
  for package in $("${here}/runtime_packages.sh" "${binary}"); do
    grep -q "^${package} " <<<"${listed}" || fail "${image}: the SBOM lacks runtime package ${package}"
  done
  echo "${image}: $(jq -r '.manifests[0].digest' "${layout}/index.json"), $(du -sb "${layout}/blobs" | cut -f1) bytes, $(wc -l <<<"${listed}") packages"
done

# The PKCS#11 module of the signer and the witness, by the path each config names, loads in the
# image: the image's dynamic loader lists it with every dependency resolved (through the module's
# relative symlink). Then the init container's command (deploy/k8s/base/signer.yaml,
# deploy/k8s/witness/witness.yaml) as user 65532.
for image_config in signer:deploy/k8s/base/config/signer.textproto \
  witness:deploy/k8s/witness/config/witness.textproto; do
  image="${image_config%%:*}"
  module="$(sed -n -E 's/^ *module_path: "(.*)"$/\1/p' "${image_config#*:}")"
  [[ -n "${module}" ]] || fail "${image}: ${image_config#*:} names no module_path"
  rootfs="${tmp}/bundle-${image}/rootfs"
  if listing="$(chroot --userspec=65532:65532 "${rootfs}" /lib64/ld-linux-x86-64.so.2 --list "${module}" 2>&1)"; then
    grep -q 'not found' <<<"${listing}" && fail "${image}: ${module} lacks a library: ${listing}"
  else
    fail "${image}: ${module} does not load in the image: ${listing}"
  fi
  rm -rf "${tmp}/token"
  mkdir -p "${tmp}/token/objects" "${rootfs}/tmp/tokens"
  echo "token object" >"${tmp}/token/objects/object"
  tar -C "${tmp}/token" -cf "${rootfs}/tmp/token.tar" .
  chown 65532:65532 "${rootfs}/tmp/tokens"
  chroot --userspec=65532:65532 "${rootfs}" tar --extract --no-same-owner --file /tmp/token.tar \
    --directory /tmp/tokens || fail "${image}: tar exited $? in the image"
  [[ "$(cat "${rootfs}/tmp/tokens/objects/object" 2>/dev/null)" == "token object" ]] ||
    fail "${image}: tar did not unpack the token"
done

if [[ "${failures}" -ne 0 ]]; then
  echo "image_test: ${failures} failure(s)" >&2
  exit 1
fi
echo "image_test: seven images, reproducible, each runs its binary as 65532"
