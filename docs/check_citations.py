#!/usr/bin/env python3
"""Checks that every citation in the tree resolves inside the repository.

- "trust rule N" names a rule of docs/ARCHITECTURE.md §2, and every test a rule names exists;
- "ARCHITECTURE.md §N", "PROTOCOL.md §N" (any docs/*.md) name a numbered section of that page;
  a bare "§N" in a page names one of its own sections;
- "CONTRIBUTING.md rule N" names a rule of docs/CONTRIBUTING.md;
- nothing cites a document that is not in the repository.

Usage: check_citations.py ROOT   (ROOT: the repository's top directory)
"""
import os
import re
import subprocess
import sys

FORBIDDEN = [
    # Spelled in pieces so that this file cites nothing itself.
    (re.compile(r"\bDES" r"IGN(\.md)?\b|\bdes" r"ign §"), "a design document that is not in the repository"),
    (re.compile(r"\bse" r"ed 00\d", re.I), "a file that is not in the repository"),
    (re.compile(r"\.\./sha" r"red|sha" r"red/(seeds|reviews)"), "a path outside the repository"),
    (re.compile(r"\bSTY" r"LE\.md\b"), "a style guide that is not in the repository"),
]
SKIPPED_PREFIXES = ("testdata/", "bazel-")
TEXT_SUFFIXES = (".cc", ".h", ".md", ".bazel", ".bzl", ".proto", ".py", ".sh", ".yaml",
                 ".textproto", ".service", ".conf", ".txt", "")


def tracked_files(root):
  if os.path.isdir(os.path.join(root, ".git")):
    out = subprocess.run(["git", "-C", root, "ls-files"], check=True, capture_output=True,
                         text=True).stdout
    return [f for f in out.splitlines() if f]
  files = []
  for directory, dirs, names in os.walk(root):
    dirs[:] = [d for d in dirs if not d.startswith((".", "bazel-"))]
    for name in names:
      files.append(os.path.relpath(os.path.join(directory, name), root))
  return files


def numbered_sections(text):
  return {m.group(1) for m in re.finditer(r"^#{2,4} (\d+(?:\.\d+)?)\.? ", text, re.M)}


def numbered_rules(text, heading):
  """The numbers of the top-level list items under `heading` (a "## " heading)."""
  part = text.split(heading, 1)[1]
  part = re.split(r"^## ", part, maxsplit=1, flags=re.M)[0]
  return {m.group(1) for m in re.finditer(r"^(\d+)\. \*\*", part, re.M)}, part


def resolves(number, sections):
  """§N names a numbered section; §N.M a numbered section or item M of section N."""
  return number in sections or number.split(".")[0] in sections


def numbers_after(text):
  return re.findall(r"\d+(?:\.\d+)?", text)


def main():
  root = sys.argv[1]
  problems = []
  docs = {}
  for name in os.listdir(os.path.join(root, "docs")):
    if name.endswith(".md"):
      with open(os.path.join(root, "docs", name), encoding="utf-8") as f:
        docs[name] = f.read()
  if "ARCHITECTURE.md" not in docs:
    print("docs/ARCHITECTURE.md is missing")
    return 1
  trust_rules, rules_text = numbered_rules(docs["ARCHITECTURE.md"], "## 2. Trust rules")
  style_rules, _ = numbered_rules(docs["CONTRIBUTING.md"], "## Rules")
  sections = {name: numbered_sections(text) for name, text in docs.items()}
  if trust_rules != {str(n) for n in range(1, len(trust_rules) + 1)} or not trust_rules:
    problems.append(f"docs/ARCHITECTURE.md: trust rules are not numbered 1..N: {trust_rules}")

  files = [f for f in tracked_files(root)
           if not f.startswith(SKIPPED_PREFIXES) and os.path.splitext(f)[1] in TEXT_SUFFIXES]
  test_names = set()
  texts = {}
  for path in files:
    try:
      with open(os.path.join(root, path), encoding="utf-8") as f:
        texts[path] = f.read()
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
      continue
    if path.endswith(".cc"):
      for m in re.finditer(r"\bTEST(?:_F|_P)?\(\s*(\w+),\s*(\w+)\)", texts[path]):
        test_names.add(f"{m.group(1)}.{m.group(2)}")

  for name in re.findall(r"`(\w+\.\w+)`", rules_text):
    if name not in test_names:
      problems.append(f"docs/ARCHITECTURE.md §2 names the test {name}, which does not exist")

  for path, text in texts.items():
    if path == "docs/citations_test.sh":  # its bad inputs
      continue
    previous = ""
    for number, line in enumerate(text.splitlines(), 1):
      tail, previous = previous[-40:], line
      where = f"{path}:{number}"
      for pattern, what in FORBIDDEN:
        if pattern.search(line):
          problems.append(f"{where}: cites {what}: {line.strip()}")
      for m in re.finditer(r"trust rules? ((?:\d+(?:, | and | or |-|–)?)+)", line):
        for n in numbers_after(m.group(1)):
          if n not in trust_rules:
            problems.append(f"{where}: trust rule {n} is not in docs/ARCHITECTURE.md §2")
      for m in re.finditer(r"CONTRIBUTING\.md rules? ((?:\d+(?:, | and |-)?)+)", line):
        for n in numbers_after(m.group(1)):
          if n not in style_rules:
            problems.append(f"{where}: CONTRIBUTING.md rule {n} does not exist")
      for m in re.finditer(r"\b([A-Z_]+\.md),? ((?:§ ?\d+(?:\.\d+)?(?:, | and | or |-|–)?)+)",
                           line):
        doc = m.group(1)
        if doc not in docs:
          if doc != "README.md":
            problems.append(f"{where}: {doc} is not a page of docs/")
          continue
        for n in numbers_after(m.group(2)):
          if not resolves(n, sections[doc]):
            problems.append(f"{where}: {doc} has no section {n}")
      if path.startswith("docs/") and path.endswith(".md"):
        own = os.path.basename(path)
        for m in re.finditer(r"(?<![\w.)])\(?§ ?(\d+(?:\.\d+)?)", line):
          before = tail + " " + line[:m.start()]
          if re.search(r"(RFC ?\d+|[A-Z_]+\.md|draft-[\w-]+|FIPS[\w .-]*|X\.\d+),?\s*(§ ?\d+(\.\d+)?(, | and | or )?)*$", before):
            continue
          if not resolves(m.group(1), sections[own]):
            problems.append(f"{where}: {own} has no section {m.group(1)}")
  for problem in problems:
    print(problem)
  print(f"{len(texts)} files checked, {len(problems)} unresolved citations")
  return 1 if problems else 0


if __name__ == "__main__":
  sys.exit(main())
