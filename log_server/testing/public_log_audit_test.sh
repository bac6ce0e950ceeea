#!/usr/bin/env bash
# `mecai audit --log URL --key VKEY` against the real log_server over a real record store
# (docs/PUBLIC_LOG.md "Auditing with only the URL and the key"): a clean audit, a log that grows,
# the records of one hostname (by the hash their entries name) and their evidence, a server that
# lies about one entry, one tile, the checkpoint, a CRL or a record (lying_log_server.py, in front
# of the real one), a shrunk and a forked log under the same key, and a c2sp.org/tlog-proof checked by `mecai log verify-proof` and by the Go
# module authors' golang.org/x/mod/sumdb/tlog (tlog_verify.go -proof).
set -euo pipefail
grow="$1"
log_server="$2"
mecai="$3"
liar="$4"
verify_source="$5"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/public-log-audit.XXXXXX")"
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

# wait_for_port FILE PID: the port a server wrote to FILE.
wait_for_port() {
  for _ in $(seq 1 200); do
    [ -s "$1" ] && { cat "$1"; return; }
    kill -0 "$2" 2>/dev/null || fail "a server exited before listening"
    sleep 0.1
  done
  fail "a server did not listen within 20 s"
}

# start_log_server DIR: sets $started to the URL of a log_server following DIR/store (shard-1).
start_log_server() {
  local dir="$1"
  cat >"$dir/log_server.textproto" <<CONFIG
store_path: "$dir/store"
secondary_path: "$dir/secondary"
log_shard_id: "shard-1"
vkey: "$(cat "$dir/vkey")"
listen_address: "127.0.0.1:0"
port_file: "$dir/port"
metrics_address: "127.0.0.1:0"
metrics_port_file: "$dir/metrics_port"
catch_up_interval_milliseconds: 50
CONFIG
  "$log_server" --config "$dir/log_server.textproto" >/dev/null 2>"$dir/log_server.log" &
  pids+=($!)
  started="http://127.0.0.1:$(wait_for_port "$dir/port" $!)"
}

# wait_for_size URL SIZE: until the server serves a checkpoint of SIZE entries (10 s at most).
wait_for_size() {
  for _ in $(seq 1 100); do
    [ "$(curl -s "$1/checkpoint" | sed -n 2p)" = "$2" ] && return
    sleep 0.1
  done
  fail "$1 does not serve a checkpoint of $2 entries"
}

# audit EXPECTED_EXIT NAME ARGS...: runs mecai audit --log, output in $work/NAME.out/.err.
audit() {
  local expected="$1" name="$2"
  shift 2
  local code=0
  "$mecai" audit "$@" >"$work/$name.out" 2>"$work/$name.err" || code=$?
  if [ "$code" != "$expected" ]; then
    cat "$work/$name.out" "$work/$name.err" >&2
    fail "$name: exit $code, expected $expected"
  fi
}

# expect NAME TEXT: the output of audit NAME holds TEXT (fixed string).
expect() {
  grep -qF -- "$2" "$work/$1.out" "$work/$1.err" || {
    cat "$work/$1.out" "$work/$1.err" >&2
    fail "$1: no \"$2\""
  }
}

# lie MODE: sets $liar_url to a lying server in front of $url.
lie() {
  rm -f "$work/liar-port"
  python3 "$liar" "$url" "$work/liar-port" "$1" >/dev/null 2>"$work/liar.log" &
  pids+=($!)
  liar_url="http://127.0.0.1:$(wait_for_port "$work/liar-port" $!)"
}

mkdir -p "$work/log" "$work/fork"
"$grow" "$work/log" shard-1 log.test.example/mecai 300 >/dev/null
vkey="$(cat "$work/log/vkey")"
start_log_server "$work/log"
url="$started"

# 1. The first audit saves the checkpoint; the vkey may also be given as a file.
audit 0 first --log "$url" --key "$work/log/vkey" --state "$work/state"
expect first "checkpoint: log.test.example/mecai/shard-1 size 300 root"
expect first "recomputed 300 leaf hashes from 2 entry bundles and the tree from them: its root is the checkpoint's"
expect first "first audit of this log: its checkpoint is saved in $work/state"
expect first "verified log.test.example/mecai/shard-1: 300 entries"
grep -qx "size 300" "$work/state" || fail "the state file does not hold size 300"

# 2. The log grows (two full tiles, a partial one, a level-1 tile): consistent with the saved one.
"$grow" "$work/log" shard-1 log.test.example/mecai 700 >/dev/null
wait_for_size "$url" 700
audit 0 grown --log "$url/" --key "$vkey" --state "$work/state" --host HOST-3.example
expect grown "consistent with the checkpoint of 300 entries saved by the last audit"
expect grown "4 tiles checked against the entries"
expect grown "41 records for host-3.example, their evidence checked"
expect grown "683  2026-01-01 00:11:23  host-3.example:443  REFUSED"
grep -qx "size 700" "$work/state" || fail "the state file does not hold size 700"
cp "$work/state" "$work/state-700"

# 3. Evidence by content hash, and its headers and bounds.
crl_sha256="$(printf 'CRL number 1 of the test CA' | sha256sum | cut -d' ' -f1)"
headers="$(curl -sS -D - -o "$work/crl" "$url/evidence/$crl_sha256")"
[ "$(cat "$work/crl")" = "CRL number 1 of the test CA" ] || fail "evidence body"
grep -qi "^cache-control: public, max-age=31536000, immutable" <<<"$headers" || fail "evidence headers: $headers"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/evidence/$(printf x | sha256sum | cut -d' ' -f1)")" = 404 ] || fail "unknown evidence"
upper="$(tr 'a-f' 'A-F' <<<"$crl_sha256")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/evidence/$upper")" = 404 ] || fail "upper-case evidence path"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/evidence/${crl_sha256}0")" = 404 ] || fail "long evidence path"
curl -s "http://127.0.0.1:$(cat "$work/log/metrics_port")/metrics" >"$work/metrics"
grep -q 'mecai_log_server_requests_total{code="200",resource="evidence"}' "$work/metrics" || fail "evidence metric"

# 4. A server that lies, each time about one thing: named exactly, exit 3, state untouched.
lie entry:300
audit 3 entry --log "$liar_url" --key "$vkey" --state "$work/state"
expect entry "PROBLEM: entry 300 (tile/entries/001 entry 44, and hash 44 of tile/0/001) does not hash to leaf 300 of the signed tree: the entry was altered"
expect entry "VERIFICATION FAILED"
lie entry:690
audit 3 partial-entry --log "$liar_url" --key "$vkey"
expect partial-entry "PROBLEM: entry 690 (tile/entries/002.p/188 entry 178, and hash 178 of tile/0/002.p/188) does not hash to leaf 690"
lie tile:tile/0/001:7
audit 3 tile0 --log "$liar_url" --key "$vkey" --state "$work/state"
expect tile0 "PROBLEM: level-0 tile hash of entry 263 (tile/entries/001 entry 7, and hash 7 of tile/0/001) is not the hash of entry 263, which the signed tree holds: the tile is wrong"
lie tile:tile/1/000.p/2:1
audit 3 tile1 --log "$liar_url" --key "$vkey"
expect tile1 "PROBLEM: tile tile/1/000.p/2 hash 1 (entries 256..511) is not the hash of those entries"
lie checkpoint
audit 3 checkpoint --log "$liar_url" --key "$vkey" --state "$work/state"
expect checkpoint "/checkpoint does not verify with the vkey"
lie "evidence:$crl_sha256"
audit 3 evidence --log "$liar_url" --key "$vkey" --host host-3.example
expect evidence "PROBLEM: record 3: the revocation evidence served for $crl_sha256 does not hash to it"
# The record entry 3 names by hash (a refusal's entry: 0x12 0x20 and the record's SHA-256, after
# its 2-byte length in the bundle), served altered.
record_sha256="$(curl -s "$url/tile/entries/000" | python3 -c 'import sys; b = sys.stdin.buffer.read(); print(b[3 * 36 + 4:3 * 36 + 36].hex())')"
[ "$(curl -s "$url/evidence/$record_sha256" | sha256sum | cut -d' ' -f1)" = "$record_sha256" ] ||
  fail "the log server does not serve record 3 by its hash"
lie "evidence:$record_sha256"
audit 3 record --log "$liar_url" --key "$vkey" --host host-3.example
expect record "PROBLEM: entry 3: the record served for $record_sha256 does not hash to it"
cmp -s "$work/state" "$work/state-700" || fail "a failed audit changed the state file"
# Another key under the same name.
audit 3 other-key --log "$url" --key "$(cat "$work/log/other-vkey")"
expect other-key "does not verify with the vkey"
# Nothing listens: an error, not a verdict.
audit 1 unreachable --log "http://127.0.0.1:1" --key "$vkey"
expect unreachable "mecai audit: GET http://127.0.0.1:1/checkpoint"

# 5. The same log key signing another history: first shorter, then of the same size.
cp "$work/log/log-key.pem" "$work/fork/log-key.pem"
"$grow" "$work/fork" shard-1 log.test.example/mecai 300 fork >/dev/null
[ "$(cat "$work/fork/vkey")" = "$vkey" ] || fail "the fork is not under the same vkey"
start_log_server "$work/fork"
fork_url="$started"
audit 3 shrunk --log "$fork_url" --key "$vkey" --state "$work/state"
expect shrunk "PROBLEM: the log shrank: the checkpoint saved by the last audit covers more entries than the one served now"
expect shrunk "  saved:  log.test.example/mecai/shard-1 size 700 root $(sed -n 's/^root //p' "$work/state-700")"
expect shrunk "  served: log.test.example/mecai/shard-1 size 300 root"
"$grow" "$work/fork" shard-1 log.test.example/mecai 700 fork >/dev/null
wait_for_size "$fork_url" 700
audit 3 forked --log "$fork_url" --key "$vkey" --state "$work/state"
expect forked "PROBLEM: fork: the log served is not an extension of the one the last audit saw (its first 700 entries make the root"
expect forked "  saved:  log.test.example/mecai/shard-1 size 700 root $(sed -n 's/^root //p' "$work/state-700")"
cmp -s "$work/state" "$work/state-700" || fail "the fork replaced the saved checkpoint"

# 6. A c2sp.org/tlog-proof of entry 299, verified by mecai and by golang.org/x/mod/sumdb/tlog.
audit 0 prove --log "$url" --key "$vkey" --prove 299 --proof-out "$work/299.tlog-proof" --entry-out "$work/299.entry"
expect prove "proof of entry 299 (c2sp.org/tlog-proof@v1) written to $work/299.tlog-proof"
[ "$(head -2 "$work/299.tlog-proof")" = "$(printf 'c2sp.org/tlog-proof@v1\nindex 299')" ] || fail "proof header"
"$mecai" log verify-proof --key "$vkey" --proof "$work/299.tlog-proof" --entry "$work/299.entry" >"$work/verify.out"
grep -qF "verified: entry 299 of log.test.example/mecai/shard-1, in the tree of 700 entries" "$work/verify.out" || fail "verify-proof output"
export GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOTOOLCHAIN=local
export GOCACHE="$work/gocache" HOME="$work"
go build -o "$work/tlog_verify" "$verify_source"
"$work/tlog_verify" -vkey "$vkey" -proof "$work/299.tlog-proof" -entry "$work/299.entry" >"$work/go.out"
grep -qF "proof verified: entry 299 of log.test.example/mecai/shard-1, tree of 700 entries" "$work/go.out" || fail "Go did not verify the proof"
# One bit flipped in the first hash of the proof: both refuse it.
python3 - "$work/299.tlog-proof" "$work/flipped.tlog-proof" <<'PY'
import base64, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
hash_ = bytearray(base64.b64decode(lines[2]))
hash_[0] ^= 0x01
lines[2] = base64.b64encode(bytes(hash_))
open(sys.argv[2], "wb").write(b"\n".join(lines))
PY
code=0
"$mecai" log verify-proof --key "$vkey" --proof "$work/flipped.tlog-proof" --entry "$work/299.entry" 2>"$work/flipped.err" || code=$?
[ "$code" = 3 ] || fail "verify-proof of a flipped proof: exit $code"
grep -qF "NOT VERIFIED: the entry is not entry 299 of the tree of 700 entries" "$work/flipped.err" || fail "flipped proof refused for another reason"
if "$work/tlog_verify" -vkey "$vkey" -proof "$work/flipped.tlog-proof" -entry "$work/299.entry" 2>"$work/go-flipped.err"; then
  fail "Go accepted a flipped proof"
fi
grep -qF "proof of entry 299: " "$work/go-flipped.err" || fail "Go refused the flipped proof for another reason"
# An entry beyond the tree cannot be proven.
audit 3 beyond --log "$url" --key "$vkey" --prove 700 --proof-out "$work/700.tlog-proof"
expect beyond "PROBLEM: entry 700 is not in the log: the checkpoint covers 700 entries"
echo PASS
