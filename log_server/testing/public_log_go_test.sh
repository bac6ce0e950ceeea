#!/usr/bin/env bash
# The public log, checked by an independent implementation (docs/PUBLIC_LOG.md): the real
# log_server follows a record store that grow_test_log fills as the coordinator does, with
# checkpoints signed by the signer's own code; tlog_verify.go, built here with the Go toolchain
# against golang.org/x/mod/sumdb/{note,tlog} from Debian (GOPATH mode, offline), fetches it over
# HTTP and verifies the checkpoint note, inclusion and consistency proofs and the root. It must
# also refuse tampered tiles and a vkey of another key.
set -euo pipefail
grow="$1"
log_server="$2"
verify_source="$3"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/public-log.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Build the verifier offline from Debian's golang-golang-x-mod-dev.
export GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOTOOLCHAIN=local
export GOCACHE="$work/gocache" HOME="$work"
command -v go >/dev/null || fail "go is not installed (scripts/bootstrap.sh: golang-go)"
[ -d /usr/share/gocode/src/golang.org/x/mod/sumdb/tlog ] ||
  fail "golang.org/x/mod is not installed (scripts/bootstrap.sh: golang-golang-x-mod-dev)"
go build -o "$work/tlog_verify" "$verify_source"

# 300 entries: one full tile and a partial one (44 entries).
"$grow" "$work" shard-1 log.test.example/mecai 300
vkey="$(cat "$work/vkey")"
other_vkey="$(cat "$work/other-vkey")"
cat >"$work/log_server.textproto" <<CONFIG
store_path: "$work/store"
secondary_path: "$work/secondary"
log_shard_id: "shard-1"
vkey: "$vkey"
listen_address: "127.0.0.1:0"
port_file: "$work/port"
metrics_address: "127.0.0.1:0"
metrics_port_file: "$work/metrics_port"
catch_up_interval_milliseconds: 50
CONFIG
"$log_server" --config "$work/log_server.textproto" 2>"$work/log_server.log" &
server_pid=$!
for _ in $(seq 1 200); do
  [ -s "$work/port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/log_server.log" >&2; fail "log_server exited"; }
  sleep 0.1
done
[ -s "$work/port" ] || fail "log_server did not start within 20 s"
url="http://127.0.0.1:$(cat "$work/port")"

"$work/tlog_verify" -url "$url" -vkey "$vkey" -state "$work/seen" -min-size 300 |
  tee "$work/first.out"
grep -q "verified log.test.example/mecai/shard-1: 300 entries" "$work/first.out" ||
  fail "the first checkpoint is not of 300 entries"

# The log grows while the server runs: 700 entries (two full tiles, a partial one of 188, a
# partial level-1 tile of 2); the verifier proves 300 -> 700 consistent.
"$grow" "$work" shard-1 log.test.example/mecai 700
"$work/tlog_verify" -url "$url" -vkey "$vkey" -state "$work/seen" -min-size 700 |
  tee "$work/second.out"
grep -q "consistent with the previous checkpoint of 300 entries" "$work/second.out" ||
  fail "no consistency proof from 300 to 700"
grep -q "verified log.test.example/mecai/shard-1: 700 entries" "$work/second.out" ||
  fail "the second checkpoint is not of 700 entries"

# A bit flipped in any level-0 tile: refused.
if "$work/tlog_verify" -url "$url" -vkey "$vkey" -tamper 2>"$work/tamper.err"; then
  fail "tampered tiles were accepted"
fi
grep -q "inclusion proof of entry 0" "$work/tamper.err" || { cat "$work/tamper.err" >&2; fail "tampering refused for another reason"; }
# The note is not signed by another key under the same name.
if "$work/tlog_verify" -url "$url" -vkey "$other_vkey" 2>"$work/other.err"; then
  fail "a checkpoint verified with the vkey of another key"
fi
grep -q "note.Open: note has no verifiable signatures" "$work/other.err" || { cat "$work/other.err" >&2; fail "the other key was refused for another reason"; }

# Headers and limits, with curl.
headers="$(curl -sS -D - -o /dev/null "$url/tile/0/000")"
grep -qi "^cache-control: public, max-age=31536000, immutable" <<<"$headers" || fail "full tile headers: $headers"
grep -qi "^content-type: application/octet-stream" <<<"$headers" || fail "full tile type: $headers"
headers="$(curl -sS -D - -o /dev/null "$url/tile/entries/002.p/188")"
grep -qi "^cache-control: public, max-age=5" <<<"$headers" || fail "partial bundle headers: $headers"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/tile/0/002.p/189")" = 404 ] || fail "a partial tile beyond the tree"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/tile/0/02")" = 404 ] || fail "a malformed tile path"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/checkpoint")" = 405 ] || fail "POST"
curl -s "http://127.0.0.1:$(cat "$work/metrics_port")/metrics" >"$work/metrics"
grep -q '^mecai_log_server_checkpoint_tree_size 700' "$work/metrics" || fail "tree size metric"
grep -q 'mecai_log_server_requests_total{code="200",resource="tile"}' "$work/metrics" ||
  fail "request metric"

kill -TERM "$server_pid"
wait "$server_pid" || fail "log_server exited with $? on SIGTERM"
server_pid=""
echo PASS
