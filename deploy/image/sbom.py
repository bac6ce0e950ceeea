#!/usr/bin/env python3
"""sbom.py: the SPDX 2.3 JSON document of one image (https://spdx.github.io/spdx-spec/v2.3/):
every Debian package of the image's /var/lib/dpkg/status with its version and package URL
(https://github.com/package-url/purl-spec, type "deb"), and the MECAI binary with its SHA-256.
Deterministic: the same inputs give the same bytes.

  sbom.py --status FILE --binary PATH --install-path /usr/local/bin/NAME --image NAME
          --version TEXT --created RFC3339 --distro debian-12 > image.spdx.json"""

import argparse
import hashlib
import json
import re
import sys
import urllib.parse


def paragraphs(path):
    """dpkg's status file as a list of {field: value} (first lines of each field only)."""
    result, current = [], {}
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            line = line.rstrip("\n")
            if not line:
                if current:
                    result.append(current)
                current = {}
            elif not line[0].isspace() and ":" in line:
                field, value = line.split(":", 1)
                current[field] = value.strip()
    if current:
        result.append(current)
    return result


def spdx_id(kind, index, name):
    return "SPDXRef-%s-%d-%s" % (kind, index, re.sub(r"[^A-Za-z0-9.-]", "-", name))


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--status", "--binary", "--install-path", "--image", "--version", "--created",
                 "--distro"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()

    with open(args.binary, "rb") as stream:
        binary_sha256 = hashlib.sha256(stream.read()).hexdigest()
    installed = sorted((p for p in paragraphs(args.status)
                        if p.get("Status") == "install ok installed"),
                       key=lambda p: p["Package"])

    binary_id = spdx_id("mecai", 0, args.install_path.rsplit("/", 1)[-1])
    packages = [{
        "SPDXID": binary_id,
        "name": args.install_path.rsplit("/", 1)[-1],
        "versionInfo": args.version,
        "packageFileName": args.install_path,
        "checksums": [{"algorithm": "SHA256", "checksumValue": binary_sha256}],
        "primaryPackagePurpose": "APPLICATION",
        "supplier": "Organization: MECAI",
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
    }]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": binary_id}]
    for index, package in enumerate(installed, start=1):
        name, version = package["Package"], package["Version"]
        arch = package.get("Architecture", "all")
        purl = "pkg:deb/debian/%s@%s?arch=%s&distro=%s" % (
            name, urllib.parse.quote(version, safe=""), arch, args.distro)
        entry = {
            "SPDXID": spdx_id("deb", index, name),
            "name": name,
            "versionInfo": version,
            # SPDX writes a supplier's e-mail address in parentheses.
            "supplier": "Organization: " + re.sub(r"\s*<([^>]*)>", r" (\1)",
                                                  package.get("Maintainer", "Debian")),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "LIBRARY" if name.startswith("lib") else "OPERATING-SYSTEM",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                              "referenceLocator": purl}],
        }
        if "Source" in package:
            entry["sourceInfo"] = "built package from Debian source package " + package["Source"]
        packages.append(entry)
        relationships.append({"spdxElementId": binary_id, "relationshipType": "DEPENDS_ON",
                              "relatedSpdxElement": entry["SPDXID"]})

    fingerprint = hashlib.sha256(
        (binary_sha256 + "".join(p["Package"] + "=" + p["Version"] + "\n" for p in installed))
        .encode()).hexdigest()
    document = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "mecai/" + args.image,
        "documentNamespace": "https://mecai.example/spdx/%s/%s" % (args.image, fingerprint),
        "creationInfo": {"created": args.created, "creators": ["Tool: mecai deploy/image/build.sh"]},
        "packages": packages,
        "relationships": relationships,
    }
    json.dump(document, sys.stdout, sort_keys=True, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
