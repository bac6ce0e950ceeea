#!/usr/bin/env bash
# deploy/image/build.sh: builds the seven service images as reproducible OCI image layouts, with no
# container daemon and no registry: Debian packages through apt, `mmdebstrap`, tar, and the small
# JSON step oci_layout.py (deploy/k8s/README.md "Images", docs/BUILD.md "Images").
#
#   deploy/image/build.sh [--out DIR] [--bin-dir DIR] [--cache DIR] [--tag TAG]
#
# --bin-dir  a tree laid out like bazel-bin (DIR/signer/signer, ...) holding the seven binaries;
#            without it, `bazel build -c opt` builds them.
# --out      where the layouts go (default /var/tmp/mecai-images): OUT/<image>/ is an OCI image
#            layout whose index.json names the image by TAG; OUT/<image>.spdx.json its SBOM (also a
#            blob of the layout, named by the manifest annotation example.mecai.sbom.digest);
#            OUT/digests lists "<image> <manifest digest>" for deploy/image/pin-digests.sh.
# --cache    the .debs and apt's package lists of earlier runs (default $MECAI_IMAGE_CACHE or
#            /var/cache/mecai-image), so that a repeated run downloads only what the archive changed.
# --tag      the tag in index.json (default 1.0).
#
# Each image is three layers: (1) the base shared by all seven, the Debian packages every binary
# needs (the intersection of their `ldd` closures mapped to packages by runtime_packages.sh) plus
# base-files, netbase and ca-certificates; (2) the image's own further packages, when it has any
# (the signer's and the witness's: the PKCS#11 module libsofthsm2, and tar for their init
# containers); (3) the binary as /usr/local/bin/<binary>. Packages are unpacked by `mmdebstrap
# --variant=extract` (no maintainer scripts, no shell, no dpkg in the image); extract_hook.sh
# writes /var/lib/dpkg/status for scanners. The image runs as 65532:65532 ("nonroot" in /etc/passwd
# and /etc/group) with the binary as its entrypoint.
#
# Reproducible: SOURCE_DATE_EPOCH (default: the commit time of HEAD) is every created time and the
# upper bound of every file time, tar entries are sorted with numeric owners and no atime/ctime,
# gzip writes no name or time, and JSON is canonical. The same binaries and the same Debian
# package versions give the same manifest digests. Runs as root (mmdebstrap's root mode).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
out="/var/tmp/mecai-images"
bin_dir=""
cache="${MECAI_IMAGE_CACHE:-/var/cache/mecai-image}"
tag="1.0"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --cache) cache="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done

log() { echo "build.sh: $*" >&2; }
# Debian's tools first (mmdebstrap runs python3 for every package it filters).
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH}"
[[ "$(id -u)" -eq 0 ]] || { log "run as root (mmdebstrap --mode=root)"; exit 1; }
for tool in mmdebstrap python3 dpkg-deb ldd tar gzip flock; do
  command -v "${tool}" >/dev/null || { log "no ${tool} (scripts/bootstrap.sh installs it)"; exit 1; }
done

# image name -> binary (its path under bazel-bin, its name in /usr/local/bin).
images=(coordinator signer probe-agent stapler approval log-server witness)
declare -A binary_of=(
  [coordinator]=coordinator/coordinator [signer]=signer/signer
  [probe-agent]=probe_agent/probe_agent [stapler]=stapler/stapler [approval]=approval/approval
  [log-server]=log_server/log_server [witness]=witness/witness)
# What an image needs beyond its binary's libraries: the PKCS#11 module the signer and the witness
# load by path (deploy/k8s/base/config/signer.textproto, deploy/k8s/witness/config/
# witness.textproto) and tar, which their init containers run.
declare -A extras_of=([signer]="libsofthsm2 tar" [witness]="libsofthsm2 tar")
base_extras=(base-files netbase ca-certificates)

if [[ -z "${bin_dir}" ]]; then
  targets=()
  for image in "${images[@]}"; do targets+=("//${binary_of[${image}]%/*}:${binary_of[${image}]#*/}"); done
  (cd "${repo}" && bazel build -c opt --jobs=2 "${targets[@]}")
  bin_dir="$(cd "${repo}" && bazel info -c opt bazel-bin)"
fi
for image in "${images[@]}"; do
  [[ -x "${bin_dir}/${binary_of[${image}]}" ]] || { log "no ${bin_dir}/${binary_of[${image}]}"; exit 1; }
done

export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "${repo}" log -1 --format=%ct 2>/dev/null || echo 0)}"
created="$(date -u -d "@${SOURCE_DATE_EPOCH}" +%Y-%m-%dT%H:%M:%SZ)"
revision="$(git -C "${repo}" rev-parse HEAD 2>/dev/null || echo unknown)"

# The Debian archive this machine's apt uses (the one that installed the libraries the binaries
# were linked against), or the one-line sources of $MECAI_IMAGE_SOURCES.
. /etc/os-release
suite="${VERSION_CODENAME}"
if [[ -n "${MECAI_IMAGE_SOURCES:-}" ]]; then
  mapfile -t sources < <(grep -E '^deb ' "${MECAI_IMAGE_SOURCES}")
else
  mapfile -t sources < <(apt-get indextargets --format 'deb $(REPO_URI) $(RELEASE) $(COMPONENT)' \
    'Identifier: Packages' "Architecture: $(dpkg --print-architecture)" 'Origin: Debian' | sort -u)
fi
[[ ${#sources[@]} -gt 0 ]] || { log "no Debian sources in apt's configuration"; exit 1; }

mkdir -p "${cache}/debs" "${cache}/lists" "${out}"
exec 9>"${cache}/lock"
flock 9  # one build at a time uses the cache
work="$(mktemp -d "${TMPDIR:-/tmp}/mecai-image.XXXXXX")"
trap 'rm -rf "${work}"' EXIT

# rootfs DIR PACKAGE...: the packages and their dependencies unpacked into DIR, made into an
# image root: no device nodes, apt state or documentation (but the licenses), a CA bundle, the
# users, a writable /tmp.
rootfs() {
  local dir="$1"
  shift
  mmdebstrap --quiet --mode=root --variant=extract --include="$(IFS=,; echo "$*")" \
    --setup-hook='mkdir -p "$1/var/cache/apt/archives" "$1/var/lib/apt/lists"' \
    --setup-hook="sync-in ${cache}/debs /var/cache/apt/archives/" \
    --setup-hook="sync-in ${cache}/lists /var/lib/apt/lists/" \
    --extract-hook="${here}/extract_hook.sh \"\$1\" ${cache}" \
    "${suite}" "${dir}" "${sources[@]}"
  rm -rf "${dir:?}"/dev/* "${dir}/etc/apt" "${dir}/etc/dpkg" "${dir}/var/lib/apt" \
    "${dir}/var/cache/apt" "${dir}/var/log/apt" "${dir}/etc/resolv.conf" "${dir}/etc/hostname" \
    "${dir}/etc/fstab" "${dir}"/usr/share/{man,info,locale,lintian}
  # Documentation but the licenses (removed here rather than filtered by mmdebstrap's path-exclude,
  # which runs a filter process for every package).
  find "${dir}/usr/share/doc" -mindepth 2 ! -type d ! -name copyright -delete
  find "${dir}/usr/share/doc" -mindepth 1 -depth -type d -empty -delete
  # What ca-certificates' maintainer script (update-ca-certificates) would write: every
  # certificate it ships, in name order, each ending in a newline.
  mkdir -p "${dir}/etc/ssl/certs"
  (cd "${dir}/usr/share/ca-certificates" && find . -name '*.crt' | LC_ALL=C sort |
    while read -r certificate; do sed -e '$a\' "${certificate}"; done) \
    >"${dir}/etc/ssl/certs/ca-certificates.crt"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"${dir}/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'nonroot:x:65532:' >"${dir}/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' 'networks: files' \
    'protocols: files' 'services: files' >"${dir}/etc/nsswitch.conf"
  install -d -m 0700 -o 65532 -g 65532 "${dir}/home/nonroot"
  install -d -m 1777 "${dir}/tmp"
}

# layer DIR OUT.tar.gz [LIST]: a gzip layer of DIR, or of the NUL-separated paths in LIST.
layer() {
  local -a args=(--create --file=- --directory="$1" --format=posix --numeric-owner
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime
    --mtime="@${SOURCE_DATE_EPOCH}" --clamp-mtime)
  if [[ $# -eq 3 ]]; then
    args+=(--no-recursion --null --verbatim-files-from --files-from="$3")
  else
    args+=(--sort=name .)
  fi
  LC_ALL=C tar "${args[@]}" | gzip -n -6 >"$2"
}

contains_all() {  # contains_all "SET" ITEM...: every ITEM is a word of SET
  local item
  for item in "${@:2}"; do [[ " $1 " == *" ${item} "* ]] || return 1; done
}

# The packages of each image, and the base: those every image needs.
declare -A packages_of
for image in "${images[@]}"; do
  packages_of[${image}]="$( ("${here}/runtime_packages.sh" "${bin_dir}/${binary_of[${image}]}"
    printf '%s\n' ${extras_of[${image}]:-}) | LC_ALL=C sort -u | tr '\n' ' ')"
done
base_packages=()
for package in ${packages_of[${images[0]}]} "${base_extras[@]}"; do
  common=1
  for image in "${images[@]}"; do
    contains_all "${packages_of[${image}]}" "${package}" || common=0
  done
  [[ " ${base_extras[*]} " == *" ${package} "* ]] && common=1
  [[ ${common} -eq 1 ]] && base_packages+=("${package}")
done
log "base: ${base_packages[*]}"

start=${SECONDS}
rootfs "${work}/base" "${base_packages[@]}"
layer "${work}/base" "${work}/base.tar.gz"
distro="debian-$(. "${work}/base/usr/lib/os-release" && echo "${VERSION_ID}")"
log "base layer: $(stat -c %s "${work}/base.tar.gz") bytes, $((SECONDS - start)) s"

: >"${work}/digests"
for image in "${images[@]}"; do
  binary="${bin_dir}/${binary_of[${image}]}"
  name="${binary_of[${image}]#*/}"
  layers=("${work}/base.tar.gz=debian packages: ${base_packages[*]}")
  status="${work}/base/var/lib/dpkg/status"
  # shellcheck disable=SC2086
  if ! contains_all "${base_packages[*]}" ${packages_of[${image}]}; then
    rootfs "${work}/${image}" "${base_packages[@]}" ${packages_of[${image}]}
    python3 "${here}/layer_diff.py" "${work}/base" "${work}/${image}" >"${work}/${image}.list"
    layer "${work}/${image}" "${work}/${image}.tar.gz" "${work}/${image}.list"
    extra="$(tr ' ' '\n' <<<"${packages_of[${image}]}" | grep . |
      grep -vxF -f <(printf '%s\n' "${base_packages[@]}") | tr '\n' ' ')"
    layers+=("${work}/${image}.tar.gz=debian packages: ${extra% }")
    status="${work}/${image}/var/lib/dpkg/status"
  fi
  install -D -m 0755 -o 0 -g 0 "${binary}" "${work}/${image}-bin/usr/local/bin/${name}"
  chmod 0755 "${work}/${image}-bin" "${work}/${image}-bin/usr" "${work}/${image}-bin/usr/local" \
    "${work}/${image}-bin/usr/local/bin"
  printf './usr\0./usr/local\0./usr/local/bin\0./usr/local/bin/%s\0' "${name}" >"${work}/${image}-bin.list"
  layer "${work}/${image}-bin" "${work}/${image}-bin.tar.gz" "${work}/${image}-bin.list"
  layers+=("${work}/${image}-bin.tar.gz=mecai ${name} ${revision}")

  python3 "${here}/sbom.py" --status "${status}" --binary "${binary}" \
    --install-path "/usr/local/bin/${name}" --image "${image}" --version "${revision}" \
    --created "${created}" --distro "${distro}" >"${out}/${image}.spdx.json"
  layer_args=()
  for entry in "${layers[@]}"; do layer_args+=(--layer "${entry}"); done
  digest="$(python3 "${here}/oci_layout.py" --layout "${out}/${image}" --tag "${tag}" \
    --created "${created}" --entrypoint "/usr/local/bin/${name}" --user 65532:65532 \
    --label "org.opencontainers.image.title=mecai/${image}" \
    --label "org.opencontainers.image.revision=${revision}" \
    --label "org.opencontainers.image.version=${tag}" \
    --annotation "org.opencontainers.image.created=${created}" \
    --annotation "org.opencontainers.image.revision=${revision}" \
    --annotation "org.opencontainers.image.version=${tag}" \
    --sbom "${out}/${image}.spdx.json" "${layer_args[@]}")"
  echo "${image} ${digest}" >>"${work}/digests"
  log "${image}: ${digest}, $(du -sb "${out}/${image}/blobs" | cut -f1) bytes, $((SECONDS - start)) s"
done
mv "${work}/digests" "${out}/digests"
cat "${out}/digests"
