#!/usr/bin/env bash
# Witness cosignatures and the coordinator's consistency proofs, checked by an independent
# implementation (docs/PUBLIC_LOG.md "Witnesses"): grow_test_log fills a record store as the
# coordinator does with checkpoints the signer's own code signs; the real witness (its Ed25519 key
# in SoftHSM2) cosigns them as the coordinator's WitnessCollector asks (collect_cosignatures); the
# real log server serves the cosigned note; cosignature_verify.go, built here against Go's standard
# library and golang.org/x/mod/sumdb/{note,tlog} (Debian, GOPATH mode, offline), verifies the log's
# signature and the cosignature/v1 with its own verifier, and the store's consistency proofs with
# tlog.CheckTree. A flipped bit and another witness's vkey must fail.
set -euo pipefail
grow="$1"
log_server="$2"
witness="$3"
make_config="$4"
collect="$5"
verify_source="$6"
mecai="$7"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/witness-go.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
wait_for_file() {  # FILE PID LOG
  for _ in $(seq 1 300); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; fail "process $2 exited"; }
    sleep 0.1
  done
  fail "$1 not written within 30 s"
}

export GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOTOOLCHAIN=local
export GOCACHE="$work/gocache" HOME="$work"
command -v go >/dev/null || fail "go is not installed (scripts/bootstrap.sh: golang-go)"
[ -d /usr/share/gocode/src/golang.org/x/mod/sumdb/note ] ||
  fail "golang.org/x/mod is not installed (scripts/bootstrap.sh: golang-golang-x-mod-dev)"
go build -o "$work/verify" "$verify_source"

"$grow" "$work" shard-1 log.test.example/mecai 300
log_vkey="$(cat "$work/vkey")"

mkdir "$work/witness"
witness_vkey="$("$make_config" "$work/witness" witness.test.example/w1 "$log_vkey")"
SOFTHSM2_CONF="$work/witness/hsm/softhsm2.conf" "$witness" --config "$work/witness/witness.textproto" \
  2>"$work/witness.log" &
pids+=($!)
wait_for_file "$work/witness/port" "$!" "$work/witness.log"
[ "$(cat "$work/witness/vkey")" = "$witness_vkey" ] || fail "the witness's vkey file"
witness_url="http://127.0.0.1:$(cat "$work/witness/port")"

cat >"$work/log_server.textproto" <<CONFIG
store_path: "$work/store"
secondary_path: "$work/secondary"
log_shard_id: "shard-1"
vkey: "$log_vkey"
listen_address: "127.0.0.1:0"
port_file: "$work/log_port"
catch_up_interval_milliseconds: 50
CONFIG
"$log_server" --config "$work/log_server.textproto" 2>"$work/log_server.log" &
pids+=($!)
wait_for_file "$work/log_port" "$!" "$work/log_server.log"
log_url="http://127.0.0.1:$(cat "$work/log_port")"

# 300 entries: the witness cosigns its first checkpoint of the log (old 0).
[ "$("$collect" "$work/store" shard-1 "$witness_url" "$witness_vkey" "$work/body-300" 0)" = 2 ] ||
  fail "the stored note of 300 does not carry the log's signature and one cosignature"
"$work/verify" -body "$work/body-300" -state "$work/tree"
"$work/verify" -log-url "$log_url" -log-vkey "$log_vkey" -witness-vkey "$witness_vkey" \
  -min-size 300 | tee "$work/first.out"
grep -q "^verified log.test.example/mecai/shard-1: 300 entries, cosigned by witness.test.example/w1 at " \
  "$work/first.out" || fail "the first cosigned checkpoint"

# 700 entries: the collector learns 300 from the witness's 409 and proves 300 -> 700.
"$grow" "$work" shard-1 log.test.example/mecai 700
[ "$("$collect" "$work/store" shard-1 "$witness_url" "$witness_vkey" "$work/body-700" 300)" = 2 ] ||
  fail "the stored note of 700 does not carry the log's signature and one cosignature"
"$work/verify" -body "$work/body-700" -state "$work/tree" | tee "$work/proof.out"
grep -q "^consistency proof from 300 to 700 verified" "$work/proof.out" || fail "the proof 300 -> 700"
"$work/verify" -log-url "$log_url" -log-vkey "$log_vkey" -witness-vkey "$witness_vkey" \
  -min-size 700 | tee "$work/second.out"
grep -q "^verified log.test.example/mecai/shard-1: 700 entries, cosigned by witness.test.example/w1 at " \
  "$work/second.out" || fail "the second cosigned checkpoint"

# This project's own auditor, requiring the witness (docs/PUBLIC_LOG.md "Auditing with only the URL
# and the key"): accepted with this witness's vkey, refused with another's.
"$mecai" audit --log "$log_url" --key "$log_vkey" --witnesses "$witness_vkey" \
  --min-cosignatures 1 >"$work/audit.out" 2>&1 || { cat "$work/audit.out" >&2; fail "mecai audit with the witness"; }
grep -q "^cosigned by witness.test.example/w1" "$work/audit.out" || fail "mecai audit: no cosigner line"

# A flipped bit of the cosignature: refused by note.Open.
if "$work/verify" -log-url "$log_url" -log-vkey "$log_vkey" -witness-vkey "$witness_vkey" \
  -min-size 700 -flip 2>"$work/flip.err"; then
  fail "a flipped cosignature verified"
fi
grep -q "note.Open: invalid signature for key witness.test.example/w1" "$work/flip.err" ||
  { cat "$work/flip.err" >&2; fail "the flipped cosignature was refused for another reason"; }
# Another witness key under the same name: its cosignature is not there.
mkdir "$work/other"
other_vkey="$("$make_config" "$work/other" witness.test.example/w1 "$log_vkey")"
if "$work/verify" -log-url "$log_url" -log-vkey "$log_vkey" -witness-vkey "$other_vkey" \
  -min-size 700 2>"$work/other.err"; then
  fail "a cosignature verified with another witness's vkey"
fi
grep -q "no checkpoint of at least 700 entries with a cosignature of witness.test.example/w1" "$work/other.err" ||
  grep -q "no verified cosignature of witness.test.example/w1" "$work/other.err" ||
  { cat "$work/other.err" >&2; fail "the other vkey was refused for another reason"; }

status=0
"$mecai" audit --log "$log_url" --key "$log_vkey" --witnesses "$other_vkey" \
  --min-cosignatures 1 >"$work/audit-other.out" 2>&1 || status=$?
[ "$status" = 3 ] || { cat "$work/audit-other.out" >&2; fail "mecai audit with another witness: exit $status"; }
grep -q "is not cosigned as required: 0 of the required 1 cosignatures" "$work/audit-other.out" ||
  { cat "$work/audit-other.out" >&2; fail "mecai audit with another witness: wrong reason"; }

# The same tree again from an old size the witness no longer holds: 409 with its size.
answer="$(curl -sS -D "$work/headers" --data-binary @"$work/body-300" "$witness_url/add-checkpoint")"
grep -q "^HTTP/1.1 409" "$work/headers" || fail "an old checkpoint: $(cat "$work/headers")"
grep -qi "^content-type: text/x.tlog.size" "$work/headers" || fail "409 content type"
[ "$answer" = 700 ] || fail "409 body: $answer"
curl -s "http://127.0.0.1:$(cat "$work/witness/metrics_port")/metrics" >"$work/metrics"
grep -q '^mecai_witness_requests_total{result="cosigned"} 2' "$work/metrics" ||
  fail "cosigned metric: $(grep mecai_witness "$work/metrics")"
grep -q '^mecai_witness_cosigned_tree_size{origin="log.test.example/mecai/shard-1"} 700' "$work/metrics" ||
  fail "tree size metric: $(grep mecai_witness "$work/metrics")"
echo PASS
