#!/usr/bin/env bash
# Checks of the systemd units with systemd's own tools (systemd 252, Debian's `systemd` package):
# - `systemd-analyze security --offline=yes`: every unit's exposure is at most 2.0 ("OK"; the
#   threshold of deploy/systemd/README.md), and the old unhardened form scores above it;
# - the hardening block, the exit statuses not to restart on, LimitNOFILE, one user each;
# - `systemd-sysusers --root` and `systemd-tmpfiles --root` on the shipped sysusers.d and
#   tmpfiles.d files: every unit's user exists, every configuration directory is its service's;
# - `systemd-analyze verify --root`: the units load cleanly against the real binaries at their
#   ExecStart paths and the distribution's units;
# - the configs agree with the units: file names, LoadCredential= and pin_file.
set -euo pipefail
dir="deploy/systemd"
work="${TEST_TMPDIR:-$(mktemp -d)}"
threshold="2.0"
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
command -v systemd-analyze >/dev/null || { echo "systemd_test: no systemd-analyze (scripts/bootstrap.sh)" >&2; exit 1; }

services=(mecai-coordinator mecai-signer mecai-probe-agent mecai-stapler mecai-approval mecai-witness)
helpers=(mecai-stapler-reload)
# Services that run as another service's user: the public log server reads the coordinator's store.
followers=(mecai-log-server)
found="$(cd "${dir}" && ls -1 *.service | sort | tr '\n' ' ')"
expected="$(printf '%s.service\n' "${services[@]}" "${helpers[@]}" "${followers[@]}" | sort | tr '\n' ' ')"
[[ "${found}" == "${expected}" ]] || fail "units are '${found}', expected '${expected}'"

# The exposure score of a unit file: "→ Overall exposure level for NAME: 1.3 OK".
exposure() {
  local unit="$1"
  systemd-analyze security --offline=yes "$(readlink -f "${unit}")" 2>&1 |
    sed -n 's/^.*Overall exposure level for [^:]*: \([0-9.]*\) .*$/\1/p'
}
above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

for unit in "${services[@]}" "${helpers[@]}" "${followers[@]}"; do
  file="${dir}/${unit}.service"
  score="$(exposure "${file}")"
  if [[ -z "${score}" ]]; then
    fail "${unit}: systemd-analyze security gave no score"
  elif above "${score}" "${threshold}"; then
    fail "${unit}: exposure ${score} is above ${threshold}"
  fi
  echo "${unit}: exposure ${score}"
done

# The check can fail: the hardening block removed, the signer scores above the threshold.
mkdir -p "${work}/weak"
sed '/^# Hardening/,$d' "${dir}/mecai-signer.service" >"${work}/weak/mecai-signer.service"
weak="$(exposure "${work}/weak/mecai-signer.service")"
if [[ -z "${weak}" ]] || ! above "${weak}" "${threshold}"; then
  fail "the signer without its hardening block scores '${weak}', not above ${threshold}"
fi
echo "mecai-signer without hardening: exposure ${weak}"

required=(UMask=0077 NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes
  PrivateDevices=yes PrivateMounts=yes ProtectClock=yes ProtectKernelTunables=yes
  ProtectKernelModules=yes ProtectKernelLogs=yes ProtectControlGroups=yes ProtectHostname=yes
  ProtectProc=invisible ProcSubset=pid RestrictNamespaces=yes RestrictRealtime=yes
  RestrictSUIDSGID=yes RemoveIPC=yes LockPersonality=yes MemoryDenyWriteExecute=yes
  SystemCallArchitectures=native SystemCallFilter=@system-service SystemCallErrorNumber=EPERM)
for unit in "${services[@]}"; do
  file="${dir}/${unit}.service"
  for line in "${required[@]}" "LimitNOFILE=65536" "RestartPreventExitStatus=78 2" \
    "Restart=on-failure" "User=${unit}" "Group=${unit}" "StateDirectory=${unit}"; do
    grep -qx "${line}" "${file}" || fail "${unit}: no '${line}'"
  done
  grep -q '^CapabilityBoundingSet=' "${file}" || fail "${unit}: no CapabilityBoundingSet="
  grep -q '^PrivateUsers=' "${file}" || fail "${unit}: no PrivateUsers="
done
for line in "${required[@]}"; do
  grep -qx "${line}" "${dir}/mecai-stapler-reload.service" || fail "mecai-stapler-reload: no '${line}'"
done
# The log server: the coordinator's user (the store's files are its only), its own state
# directory, the coordinator's mounted read-only, no capability.
for line in "${required[@]}" "LimitNOFILE=65536" "RestartPreventExitStatus=78 2" \
  "Restart=on-failure" "User=mecai-coordinator" "Group=mecai-coordinator" \
  "StateDirectory=mecai-log-server" "ReadOnlyPaths=/var/lib/mecai-coordinator" \
  "CapabilityBoundingSet=" "PrivateUsers=yes" "After=mecai-coordinator.service"; do
  grep -qx "${line}" "${dir}/mecai-log-server.service" || fail "mecai-log-server: no '${line}'"
done
# A co-located coordinator starts after its signer.
grep -qx "After=mecai-signer.service" "${dir}/mecai-coordinator.service" ||
  fail "mecai-coordinator: not After=mecai-signer.service"
grep -qx "Wants=mecai-signer.service" "${dir}/mecai-coordinator.service" ||
  fail "mecai-coordinator: not Wants=mecai-signer.service"

# Users and configuration directories, created by systemd's tools in a scratch root.
root="${work}/root"
rm -rf "${root}"
mkdir -p "${root}/etc" "${root}/usr/local/bin" "${root}/usr/bin" "${root}/usr/lib/systemd" \
  "${root}/etc/systemd/system"
systemd-sysusers --root="${root}" "$(readlink -f "${dir}/sysusers.d/mecai.conf")" >/dev/null 2>&1 ||
  fail "systemd-sysusers refused sysusers.d/mecai.conf"
systemd-tmpfiles --root="${root}" --create "$(readlink -f "${dir}/tmpfiles.d/mecai.conf")" ||
  fail "systemd-tmpfiles refused tmpfiles.d/mecai.conf"
for unit in "${services[@]}"; do
  grep -q "^${unit}:" "${root}/etc/passwd" || fail "${unit}: sysusers.d creates no user ${unit}"
  service="${unit#mecai-}"
  owner="$(stat -c '%U:%a' "${root}/etc/mecai/${service}" 2>/dev/null || true)"
  group_id="$(awk -F: -v g="${unit}" '$1 == g { print $3 }' "${root}/etc/group")"
  actual_group="$(stat -c '%g' "${root}/etc/mecai/${service}" 2>/dev/null || true)"
  [[ "${owner}" == "root:750" && -n "${group_id}" && "${actual_group}" == "${group_id}" ]] ||
    fail "${unit}: /etc/mecai/${service} is '${owner}' group ${actual_group}, expected root:750 group ${unit}"
done
[[ "$(stat -c '%a' "${root}/etc/mecai/credstore")" == "700" ]] || fail "credstore is not 0700"

# systemd-analyze verify against the distribution's units and the real binaries.
cp -R /lib/systemd/system "${root}/usr/lib/systemd/"
cp "$(readlink -f /usr/bin/systemctl)" "${root}/usr/bin/systemctl"
for binary in coordinator signer probe_agent stapler approval log_server witness; do
  cp "$(readlink -f "${binary}/${binary}")" "${root}/usr/local/bin/${binary}"
done
for unit in "${services[@]}" "${helpers[@]}" "${followers[@]}"; do
  cp "${dir}/${unit}.service" "${root}/etc/systemd/system/"
done
cp "${dir}/mecai-stapler-reload.path" "${root}/etc/systemd/system/"
if ! systemd-analyze verify --root="${root}" $(printf '%s.service ' "${services[@]}" "${helpers[@]}" "${followers[@]}") \
  mecai-stapler-reload.path >"${work}/verify.out" 2>&1 || [[ -s "${work}/verify.out" ]]; then
  fail "systemd-analyze verify: $(cat "${work}/verify.out")"
fi
# ...and it can fail: a unit whose binary is absent.
rm "${root}/usr/local/bin/signer"
if systemd-analyze verify --root="${root}" mecai-signer.service >/dev/null 2>&1; then
  fail "systemd-analyze verify accepted a unit without its binary"
fi

# Configs: the file each unit reads, and its PIN from the unit's credential.
config_of() { sed -n 's|^ExecStart=.* --config /etc/mecai/\([^ ]*\)$|\1|p' "${dir}/$1.service"; }
for unit in mecai-coordinator mecai-signer mecai-probe-agent; do
  name="$(config_of "${unit}")"
  [[ "${name}" == "${unit#mecai-}.textproto" && -f "${dir}/${name}" ]] ||
    fail "${unit}: reads /etc/mecai/${name}, but the example is ${dir}/${unit#mecai-}.textproto"
done
[[ "$(config_of mecai-stapler)" == "stapler.textproto" ]] || fail "mecai-stapler: not /etc/mecai/stapler.textproto"
[[ "$(config_of mecai-approval)" == "approval.textproto" ]] || fail "mecai-approval: not /etc/mecai/approval.textproto"
[[ "$(config_of mecai-witness)" == "witness.textproto" && -f "${dir}/witness.textproto" ]] ||
  fail "mecai-witness: does not read /etc/mecai/witness.textproto"
# The witness's PIN is its unit's credential, and its state is in its own state directory.
grep -qx "LoadCredential=witness-token.pin:/etc/mecai/credstore/witness-token.pin" "${dir}/mecai-witness.service" ||
  fail "mecai-witness: no LoadCredential of witness-token.pin"
grep -q '^  pin_file: "/run/credentials/mecai-witness.service/witness-token.pin"$' "${dir}/witness.textproto" ||
  fail "witness.textproto's pin_file is not the unit's credential"
for field_name in state_file vkey_file; do
  grep -q "^${field_name}: \"/var/lib/mecai-witness/" "${dir}/witness.textproto" ||
    fail "witness.textproto's ${field_name} is outside the unit's state directory"
done
[[ "$(config_of mecai-log-server)" == "log-server.textproto" && -f "${dir}/log-server.textproto" ]] ||
  fail "mecai-log-server: does not read /etc/mecai/log-server.textproto"
# The log server follows the coordinator's store and shard, under the signer's origin prefix, and
# writes only under its own state directory.
field() { sed -n "s|^$2: \"\(.*\)\"$|\1|p" "${dir}/$1"; }
[[ "$(field log-server.textproto store_path)" == "$(field coordinator.textproto store_path)" ]] ||
  fail "log-server.textproto's store_path is not the coordinator's"
shard="$(field coordinator.textproto log_shard_id)"
[[ "$(field log-server.textproto log_shard_id)" == "${shard}" ]] ||
  fail "log-server.textproto's log_shard_id is not the coordinator's"
[[ "$(field log-server.textproto vkey)" == "$(field signer.textproto log_origin_prefix)/${shard}+"* ]] ||
  fail "log-server.textproto's vkey is not of the origin <signer's log_origin_prefix>/${shard}"
[[ "$(field log-server.textproto secondary_path)" == /var/lib/mecai-log-server/* ]] ||
  fail "log-server.textproto's secondary_path is outside the unit's state directory"
for unit in mecai-signer mecai-probe-agent; do
  credential="$(sed -n 's/^LoadCredential=\([^:]*\):.*$/\1/p' "${dir}/${unit}.service")"
  grep -q "pin_file: \"/run/credentials/${unit}.service/${credential}\"" "${dir}/$(config_of "${unit}")" ||
    fail "${unit}: the config's pin_file is not the credential ${credential}"
done
# The path unit watches the serverinfo file the stapler examples write.
watched="$(sed -n 's/^PathChanged=//p' "${dir}/mecai-stapler-reload.path")"
grep -q "serverinfo_file: \"${watched}\"" deploy/nginx/stapler.textproto ||
  fail "mecai-stapler-reload.path watches ${watched}, not nginx/stapler.textproto's serverinfo_file"

if [[ "${failures}" -ne 0 ]]; then
  echo "systemd_test: ${failures} failure(s)" >&2
  exit 1
fi
echo "systemd_test: every unit at most ${threshold}, verified"
