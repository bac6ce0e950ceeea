#!/usr/bin/env bash
# runtime_packages.sh BINARY...: prints, sorted and one a line, the Debian packages that hold the
# shared libraries the binaries load (the closure `ldd` reports, the dynamic loader included), as
# installed on this machine. Fails when a library is missing or belongs to no installed package.
set -euo pipefail

libraries=()
for binary in "$@"; do
  listing="$(ldd "${binary}")"
  if grep -q 'not found' <<<"${listing}"; then
    echo "runtime_packages: ${binary}: $(grep 'not found' <<<"${listing}" | tr -s ' \t' ' ')" >&2
    exit 1
  fi
  # "libx.so.1 => /lib/.../libx.so.1 (0x...)" and the loader, "/lib64/ld-linux-x86-64.so.2 (0x...)".
  while read -r library; do
    libraries+=("${library}")
  done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"${listing}")
done
mapfile -t libraries < <(printf '%s\n' "${libraries[@]}" | LC_ALL=C sort -u)

# Each library under the names dpkg may have registered it by: as ldd gives it, its real path,
# and both across the merged /usr (ldd says /lib/..., the package may ship /usr/lib/...).
declare -A names_of
all_names=()
for library in "${libraries[@]}"; do
  names=()
  for path in "${library}" "$(readlink -f "${library}")"; do
    names+=("${path}" "$(if [[ "${path}" == /usr/* ]]; then echo "${path#/usr}"; else echo "/usr${path}"; fi)")
  done
  names_of[${library}]="${names[*]}"
  all_names+=("${names[@]}")
done

# One dpkg-query for all of them: "package[, package]: path" for each name some package holds.
declare -A owner_of
while IFS= read -r line; do
  path="${line##*: }"
  packages="${line%: *}"
  [[ "${packages}" == diversion* ]] && continue
  owner_of[${path}]="$(sed -e 's/:[a-z0-9]*//g' -e 's/, /\n/g' <<<"${packages}")"
done < <(dpkg-query -S $(printf '%s\n' "${all_names[@]}" | LC_ALL=C sort -u) 2>/dev/null || true)

for library in "${libraries[@]}"; do
  owner=""
  for name in ${names_of[${library}]}; do
    if [[ -n "${owner_of[${name}]:-}" ]]; then owner="${owner_of[${name}]}"; break; fi
  done
  [[ -n "${owner}" ]] || { echo "runtime_packages: no installed package holds ${library}" >&2; exit 1; }
  echo "${owner}"
done | LC_ALL=C sort -u
