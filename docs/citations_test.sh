#!/bin/bash
# Every citation in the tree resolves inside the repository (docs/check_citations.py): first on a
# small tree with known bad citations, which the checker must name, then on the repository itself.
set -euo pipefail
checker="$(readlink -f docs/check_citations.py)"
root="$(dirname "$(dirname "$(readlink -f docs/ARCHITECTURE.md)")")"

bad="${TEST_TMPDIR}/bad-tree"
mkdir -p "$bad/docs" "$bad/common"
cp "$root/docs/ARCHITECTURE.md" "$root/docs/CONTRIBUTING.md" "$bad/docs/"
# A rule naming a test that does not exist, and a code file with every kind of bad citation.
sed -i 's/`SignedObjectTest.ASignatureOfOneKindNeverVerifiesAsAnother`/`NoSuchTest.AtAll`/' \
  "$bad/docs/ARCHITECTURE.md"
# The bad citations are put together here, so that the repository itself cites nothing outside it.
design="DES""IGN"; seed="seed 00"; Seed="Seed 00"; shared="../sha""red"; style="STY""LE.md"
cat > "$bad/common/bad.cc" <<CC
// See ${design} §4 and ${seed}4, trust rule 12, ARCHITECTURE.md §42, CONTRIBUTING.md rule 99,
// ${shared}/reviews/x.md, ${style}, PROTOCOL.md §3; ${Seed}0: "a quote".
TEST(SignedObjectTest, RefusesAnUnknownFieldInsideANestedMessage) {}
CC
if out="$(python3 "$checker" "$bad")"; then
  echo "FAIL: the checker accepted a tree with bad citations:"; echo "$out"; exit 1
fi
for expected in \
  "names the test NoSuchTest.AtAll, which does not exist" \
  "cites a design document that is not in the repository" \
  "cites a file that is not in the repository" \
  "trust rule 12 is not in docs/ARCHITECTURE.md §2" \
  "ARCHITECTURE.md has no section 42" \
  "CONTRIBUTING.md rule 99 does not exist" \
  "cites a path outside the repository" \
  "cites a style guide that is not in the repository" \
  "PROTOCOL.md is not a page of docs/"; do
  if ! grep -qF "$expected" <<<"$out"; then
    echo "FAIL: the checker did not report: $expected"; echo "$out"; exit 1
  fi
done

python3 "$checker" "$root"
