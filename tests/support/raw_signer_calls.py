#!/usr/bin/env python3
"""Sends the signer bytes that are not protobuf messages, over its own mutual TLS.

Usage: raw_signer_calls.py ADDRESS SERVER_IDENTITY CA_FILE CERTIFICATE_FILE KEY_FILE

ADDRESS and the TLS files are the coordinator's (its signer PeerConfig), as a compromised
coordinator holds them (docs/SECURITY.md T7). Each call is made with gRPC's raw-bytes path (no
serializer): what goes on the wire is exactly the bytes below. Prints one line per call:
"<name> <status code name> <details>"; tests/evidence_by_hash_test.cc checks them.
"""
import sys

import grpc

SERVICE = "/mecai.v1.SignerService/"

# A varint that never ends: no protobuf parser accepts it.
UNTERMINATED_VARINT = b"\x08" + b"\xff" * 11
# Field 3 (chunk, length-delimited) claiming 1 MiB but carrying 4 bytes.
TRUNCATED_CHUNK = b"\x1a\x80\x80\x40" + b"abcd"
# Field 1 with wire type 7, which does not exist.
BAD_WIRE_TYPE = b"\x0f\x00"


def main(argv):
    if len(argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    address, identity, ca_file, certificate_file, key_file = argv[1:]
    with open(ca_file, "rb") as ca, open(certificate_file, "rb") as certificate, open(
        key_file, "rb"
    ) as key:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca.read(),
            private_key=key.read(),
            certificate_chain=certificate.read(),
        )
    options = [("grpc.ssl_target_name_override", identity)]
    with grpc.secure_channel(address, credentials, options=options) as channel:
        upload = channel.stream_unary(SERVICE + "UploadEvidence")
        sign = channel.unary_unary(SERVICE + "SignVouching")
        calls = [
            ("upload-unterminated-varint", lambda: upload(iter([UNTERMINATED_VARINT]), timeout=20)),
            ("upload-truncated-chunk", lambda: upload(iter([TRUNCATED_CHUNK]), timeout=20)),
            ("upload-bad-wire-type", lambda: upload(iter([BAD_WIRE_TYPE]), timeout=20)),
            ("sign-unterminated-varint", lambda: sign(UNTERMINATED_VARINT, timeout=20)),
            ("sign-truncated-field", lambda: sign(TRUNCATED_CHUNK, timeout=20)),
        ]
        for name, call in calls:
            try:
                call()
                print(name, "OK", "")
            except grpc.RpcError as error:
                print(name, error.code().name, error.details().replace("\n", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
