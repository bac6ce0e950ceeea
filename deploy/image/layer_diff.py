#!/usr/bin/env python3
"""layer_diff.py BASE FULL: prints, sorted and NUL-separated, the paths (as ./relative/path) of
the tree FULL that a layer on top of the tree BASE must carry so that BASE + layer == FULL: every
entry that BASE lacks or holds differently (type, mode, owner, content, link target), with the
directories above it. Exits 1 when FULL lacks something BASE has: such a layer would need
whiteouts, which the image build never needs (FULL's packages are a superset of BASE's)."""

import filecmp
import os
import stat
import sys


def entries(root):
    """Every path under root, relative, mapped to its lstat result."""
    found = {}
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories + files:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, root)] = os.lstat(path)
    return found


def same(base_root, full_root, path, base, full):
    if (base.st_mode, base.st_uid, base.st_gid) != (full.st_mode, full.st_uid, full.st_gid):
        return False
    if stat.S_ISLNK(full.st_mode):
        return os.readlink(os.path.join(base_root, path)) == os.readlink(os.path.join(full_root, path))
    if stat.S_ISREG(full.st_mode):
        return base.st_size == full.st_size and filecmp.cmp(
            os.path.join(base_root, path), os.path.join(full_root, path), shallow=False)
    return True  # directories: their metadata above is all a layer carries for them


def main():
    base_root, full_root = sys.argv[1], sys.argv[2]
    base, full = entries(base_root), entries(full_root)
    missing = sorted(set(base) - set(full))
    if missing:
        sys.stderr.write("layer_diff: %s lacks %d path(s) of the base, e.g. %s\n" %
                         (full_root, len(missing), missing[0]))
        return 1
    changed = {path for path, info in full.items()
               if path not in base or not same(base_root, full_root, path, base[path], info)}
    with_parents = set(changed)
    for path in changed:
        parent = os.path.dirname(path)
        while parent:
            with_parents.add(parent)
            parent = os.path.dirname(parent)
    out = sys.stdout.buffer
    for path in sorted(with_parents):
        out.write(b"./" + os.fsencode(path) + b"\0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
