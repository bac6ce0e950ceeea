#!/usr/bin/env bash
# Installs, from Debian's archive, everything the MECAI build, demo and tests need. Idempotent: it
# asks apt only for packages that are missing, and runs `apt-get update` only when it must install.
set -euo pipefail

PACKAGES=(
  # Build: Bazel (offline, ARCHITECTURE.md §9) and the system libraries.
  bazel-bootstrap bazel-platforms pkg-config g++
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev prometheus-cpp-dev libssl-dev libgtest-dev libgmock-dev
  libp11-kit-dev libc-ares-dev libcurl4-openssl-dev libmicrohttpd-dev
  # libsodium: Ed25519 verification (common/crypto/ed25519_verify.h).
  libsodium-dev
  # TCMalloc, every binary's allocator but the sanitizer and fuzz builds' (bazel/system_libraries.bzl).
  libtcmalloc-minimal4
  # GnuTLS: the probe engine's second TLS library (probe_agent/gnutls_handshake.h); with wolfSSL
  # and Mbed TLS, the TLS client libraries //bench:tls_client_candidates_bench compares with OpenSSL
  # (docs/PERFORMANCE.md "TLS client libraries for the probe engine"); @system_libraries links them.
  libgnutls28-dev libwolfssl-dev libmbedtls-dev
  # clang 14 and its runtimes (libFuzzer, sanitizers) for the fuzz targets: --config=fuzz (fuzz/README.md).
  clang-14 libclang-rt-14-dev
  # The HSM and its tools.
  softhsm2 opensc
  # Real components the demo and tests run against; nginx and Apache also as stock TLS servers
  # stapling the stapler's serverinfo file (docs/TLS_EXTENSION.md §7, tests/stock_servers_test.cc).
  openssl nginx apache2 dnsmasq-base iproute2 procps curl prometheus
  # An independent check of the golden VD vectors (testdata/vd/independent_verify_test.sh), and
  # the citation check of the docs (docs/check_citations.py, which lists the tree with git).
  python3 xxd git
  # An independent check of the public log (docs/PUBLIC_LOG.md, //log_server/testing:public_log_go_test):
  # the Go toolchain and golang.org/x/mod (sumdb/note, sumdb/tlog), built offline in GOPATH mode.
  golang-go golang-golang-x-mod-dev
  # YAML for the structural checks of deploy/monitoring and deploy/k8s (monitoring_check.py,
  # k8s_policy_check.py); systemd-analyze for deploy/systemd's security check.
  python3-yaml systemd
  # Raw bytes on the signer's gRPC methods, past any protobuf serializer (tests/evidence_by_hash_test.cc).
  python3-grpcio
  # The approval page is tested in a real headless browser (ARCHITECTURE.md §7), with the axe-core
  # accessibility rules from the npm registry (below): npm unless one is on PATH already.
  chromium
  $(command -v npm >/dev/null 2>&1 || echo npm)
  # The service images without a container daemon (deploy/image/build.sh, //deploy/image:image_test):
  # root file systems from Debian packages, unpacking and inspecting OCI image layouts, their JSON.
  mmdebstrap umoci skopeo jq
  # kubectl for `kubectl kustomize` (deploy:kustomize_test): any kubectl already on PATH will do,
  # else Debian's (ARCHITECTURE.md §9).
  $(command -v kubectl >/dev/null 2>&1 || echo kubernetes-client)
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

# axe-core, pinned, in a fixed directory that //approval:approval_page_chromium_test reads
# (docs/APPROVAL.md "The web page"): installed when absent or of another version.
AXE_CORE_VERSION=4.14.1
AXE_CORE_DIR=/opt/mecai/axe-core
install_axe_core() {
  local package_json="${AXE_CORE_DIR}/node_modules/axe-core/package.json"
  if [ -f "${AXE_CORE_DIR}/node_modules/axe-core/axe.min.js" ] &&
    grep -q "\"version\": \"${AXE_CORE_VERSION}\"" "${package_json}" 2>/dev/null; then
    echo "bootstrap: axe-core ${AXE_CORE_VERSION} present"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ] && [ ! -w "$(dirname "${AXE_CORE_DIR}")" ]; then
    echo "bootstrap: axe-core ${AXE_CORE_VERSION} missing in ${AXE_CORE_DIR}; run as root" >&2
    return 1
  fi
  mkdir -p "${AXE_CORE_DIR}"
  npm install --prefix "${AXE_CORE_DIR}" --no-audit --no-fund --no-save \
    "axe-core@${AXE_CORE_VERSION}"
  echo "bootstrap: axe-core ${AXE_CORE_VERSION} installed in ${AXE_CORE_DIR}"
}

if [ "${#missing[@]}" -eq 0 ]; then
  echo "bootstrap: all ${#PACKAGES[@]} packages present"
  install_axe_core
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: missing packages: ${missing[*]}" >&2
  echo "bootstrap: run as root (or install them with apt-get) and try again" >&2
  exit 1
fi

echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
install_axe_core
echo "bootstrap: done"
