#!/usr/bin/env bash
# extract_hook.sh ROOT CACHE: mmdebstrap's --extract-hook for the image root file systems
# (build.sh). mmdebstrap's extract variant unpacks packages without dpkg, so it leaves
# /var/lib/dpkg/status empty; this writes it from the control fields of exactly the packages
# unpacked ($MMDEBSTRAP_ESSENTIAL, their .deb paths inside ROOT), each "install ok installed" and
# sorted by name as dpkg keeps it, so that image scanners see every package and its version. It
# also keeps those .debs and apt's package lists in CACHE (debs/, lists/) for the next run.
set -euo pipefail

root="$1"
cache="$2"
mkdir -p "${cache}/debs" "${cache}/lists"
find "${root}/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -exec cp -p {} "${cache}/lists/" \;
paragraphs="$(mktemp -d)"
trap 'rm -rf "${paragraphs}"' EXIT

for deb in ${MMDEBSTRAP_ESSENTIAL}; do
  file="${root}${deb}"
  [[ -e "${cache}/debs/$(basename "${deb}")" ]] || cp "${file}" "${cache}/debs/"
  package="$(dpkg-deb --field "${file}" Package)"
  {
    echo "Package: ${package}"
    echo "Status: install ok installed"
    dpkg-deb --field "${file}" | grep -v '^Package:'
    echo
  } >"${paragraphs}/${package}"
done

status="${root}/var/lib/dpkg/status"
mkdir -p "$(dirname "${status}")"
: >"${status}"
while read -r package; do
  cat "${paragraphs}/${package}" >>"${status}"
done < <(ls -1 "${paragraphs}" | LC_ALL=C sort)
