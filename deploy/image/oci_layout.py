#!/usr/bin/env python3
"""oci_layout.py: writes one image as an OCI image layout (OCI image-spec v1.0.2, "image-layout"):
the gzip layers given, in order, a config and a manifest, and index.json naming the manifest by
its tag. Every JSON document is written with sorted keys and no whitespace, and every time stamp is
--created, so the same inputs give the same digests. An SBOM given with --sbom is stored as a blob
of the layout and named by the manifest annotation example.mecai.sbom.digest.

  oci_layout.py --layout DIR --tag TAG --created RFC3339 --entrypoint PATH --user UID:GID
                [--label K=V]... [--annotation K=V]... [--sbom FILE]
                --layer GZIP_TAR=HISTORY_TEXT [--layer ...]
Prints the manifest digest (sha256:...)."""

import argparse
import gzip
import hashlib
import json
import os
import shutil

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
INDEX = "application/vnd.oci.image.index.v1+json"
SPDX = "application/spdx+json"


def sha256_of(path, opener=open):
    digest = hashlib.sha256()
    with opener(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def canonical(document):
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class Layout:
    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)

    def _path(self, digest):
        return os.path.join(self.root, "blobs", "sha256", digest.split(":", 1)[1])

    def add_file(self, path, media_type):
        digest = sha256_of(path)
        shutil.copyfile(path, self._path(digest))
        return {"mediaType": media_type, "digest": digest, "size": os.path.getsize(path)}

    def add_bytes(self, data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(self._path(digest), "wb") as stream:
            stream.write(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def write(self, name, data):
        with open(os.path.join(self.root, name), "wb") as stream:
            stream.write(data)


def pairs(values):
    return dict(value.split("=", 1) for value in values)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layout", required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--created", required=True)
    parser.add_argument("--entrypoint", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--label", action="append", default=[])
    parser.add_argument("--annotation", action="append", default=[])
    parser.add_argument("--sbom")
    parser.add_argument("--layer", action="append", required=True)
    args = parser.parse_args()

    if os.path.exists(args.layout):
        shutil.rmtree(args.layout)
    layout = Layout(args.layout)
    layers, diff_ids, history = [], [], []
    for layer in args.layer:
        path, text = layer.split("=", 1)
        layers.append(layout.add_file(path, LAYER))
        diff_ids.append(sha256_of(path, gzip.open))
        history.append({"created": args.created, "created_by": text})

    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": args.created,
        "config": {
            "User": args.user,
            "Entrypoint": [args.entrypoint],
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            "WorkingDir": "/",
            "Labels": pairs(args.label),
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    annotations = pairs(args.annotation)
    if args.sbom:
        sbom = layout.add_file(args.sbom, SPDX)
        annotations["example.mecai.sbom.digest"] = sbom["digest"]
        annotations["example.mecai.sbom.mediaType"] = SPDX
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": layout.add_bytes(canonical(config), CONFIG),
        "layers": layers,
        "annotations": annotations,
    }
    descriptor = layout.add_bytes(canonical(manifest), MANIFEST)
    descriptor["annotations"] = {"org.opencontainers.image.ref.name": args.tag}
    layout.write("index.json", canonical(
        {"schemaVersion": 2, "mediaType": INDEX, "manifests": [descriptor]}))
    layout.write("oci-layout", canonical({"imageLayoutVersion": "1.0.0"}))
    print(descriptor["digest"])


if __name__ == "__main__":
    main()
