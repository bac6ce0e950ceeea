#!/usr/bin/env bash
# A second implementation checks the golden vectors as docs/VOUCHING_DATA.md §1 tells it to:
# Python decodes the protobuf wire format by hand (no generated code of this project), and the
# openssl command line verifies the ECDSA P-256/SHA-256 signature over
#   "MECAI vouching statement v2" || 0x00 || statement
# with the public key of va.pem. valid.vd must verify; the same signature over the bare statement
# (what statement version 1 signed), tampered-statement.vd and version-1.vd must not.
set -euo pipefail
here="$(dirname "$0")"
if [ -n "${TEST_SRCDIR:-}" ]; then here="$TEST_SRCDIR/mecai/testdata/vd"; fi
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/vd-verify.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Splits a serialized VouchingData into statement (field 1) and Signature.value (field 2.2).
split_vd() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys

def fields(data):
    i, out = 0, []
    while i < len(data):
        key, shift = 0, 0
        while True:
            b = data[i]; i += 1
            key |= (b & 0x7F) << shift; shift += 7
            if not b & 0x80: break
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, shift = 0, 0
            while True:
                b = data[i]; i += 1
                value |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80: break
        elif wire == 2:
            length, shift = 0, 0
            while True:
                b = data[i]; i += 1
                length |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80: break
            value = data[i:i + length]; i += length
        else:
            raise SystemExit("unexpected wire type %d" % wire)
        out.append((number, value))
    return out

vd = dict((n, v) for n, v in fields(open(sys.argv[1], "rb").read()) if n in (1, 2))
signature = dict(fields(vd[2]))
assert signature[1] == 1, "ECDSA_P256_SHA256 expected"
open(sys.argv[2], "wb").write(vd[1])
open(sys.argv[3], "wb").write(signature[2])
PY
}

openssl x509 -in "$here/va.pem" -pubkey -noout > "$work/va.pub.pem"
verify() {  # verify <signed bytes> <signature>; exit status of openssl
  openssl dgst -sha256 -verify "$work/va.pub.pem" -signature "$2" "$1" > /dev/null 2>&1
}
with_context() {  # with_context <statement> <out>
  { printf 'MECAI vouching statement v2\0'; cat "$1"; } > "$2"
}

split_vd "$here/valid.vd" "$work/statement" "$work/signature.der"
# The statement is the one statement.hex lists.
[ "$(xxd -p "$work/statement" | tr -d '\n')" = "$(tr -d '\n' < "$here/statement.hex")" ] ||
  { echo "FAIL: valid.vd's statement differs from statement.hex"; exit 1; }
with_context "$work/statement" "$work/signed"
verify "$work/signed" "$work/signature.der" ||
  { echo "FAIL: valid.vd does not verify over context || 0x00 || statement"; exit 1; }
if verify "$work/statement" "$work/signature.der"; then
  echo "FAIL: valid.vd's signature verifies over the bare statement"; exit 1
fi

split_vd "$here/tampered-statement.vd" "$work/tampered" "$work/tampered.der"
with_context "$work/tampered" "$work/tampered-signed"
if verify "$work/tampered-signed" "$work/tampered.der"; then
  echo "FAIL: tampered-statement.vd verifies"; exit 1
fi

split_vd "$here/version-1.vd" "$work/v1" "$work/v1.der"
with_context "$work/v1" "$work/v1-signed"
if verify "$work/v1-signed" "$work/v1.der"; then
  echo "FAIL: version-1.vd verifies under the version 2 context"; exit 1
fi
verify "$work/v1" "$work/v1.der" ||
  { echo "FAIL: version-1.vd is not a bare-statement signature as documented"; exit 1; }
echo "OK: valid.vd verifies with openssl over the documented bytes; the others do not"
