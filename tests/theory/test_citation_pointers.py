"""What the built-in theorems tell a user points at what a user has: the paper's own place (chapter,
section, equation, theorem) or a section of docs/derivations.md, never the team's private worked
notes ("notes Sec. 5.3", "notes errata 4", "(E5)", ``asysvrg-dfsdca.md``, "[DERIVED]"), which no
user of the package has. The rendered text of every built-in theorem, the statements left out, the
theory package's sources (reasons of verdicts, docstrings), the docs, the plugins, suites and
benchmarks are scanned."""

from __future__ import annotations

import json
import re

from conftest import ROOT

# the private notes' vocabulary: a section/erratum pointer into them, their file names, their markers
PRIVATE = re.compile(
    r"\bnotes?'?,?\s+(?:Sec\.|§|errata\b|E\d|[AB]\.\d|\([AB]\.\d|``|\[)"   # notes Sec. 5.3 / notes E5 / notes A.3.1
    r"|\bnotes,?\s*\[DERIVED"                                               # (notes, [DERIVED])
    r"|\bthe notes\b"                                                       # "as the notes recommend"
    r"|\berrata\s+\d+"                                                      # errata 7
    r"|\(E\d+\)"                                                            # (E6)
    r"|\[(?:DERIVED|FLAG|REF-CODE|NOTE)\b"                                  # the notes' markers
    r"|(?:asysvrg-dfsdca|ddg-features-replay|large-batch-clars|minibatch-and-growing-batch)\.md"
    r"|notes/[\w-]+\.md|shared/papers")
# a pointer to this repository's derivations: "docs/derivations.md, SECTION, 'ITEM'"
POINTER = re.compile(r"docs/derivations\.md,\s+(\w+),\s+'([^'\n]+)'")
DERIVATIONS = ROOT / "docs" / "derivations.md"


def _hits(text: str) -> list[str]:
    return [text[max(0, m.start() - 50):m.end() + 20].replace("\n", " ") for m in PRIVATE.finditer(text)]


def _builtin_text() -> dict[str, str]:
    from harness.theory.registry import BUILTIN, LEFT_OUT, all_theorems

    out = {t.id: t.show() + json.dumps(t.summary()) for t in all_theorems() if t.id.split(".")[0] in BUILTIN}
    assert {i.split(".")[0] for i in out} == set(BUILTIN)
    out["registry.LEFT_OUT"] = json.dumps(LEFT_OUT)
    return out


def _sources() -> dict[str, str]:
    """The theory package, the docs, and what else a user reads: plugins (parameter docs, verdict
    facts), suites, benchmarks' printed labels."""
    files = [*sorted((ROOT / "theory").glob("*.py")), *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "plugins").rglob("*.py")), *sorted((ROOT / "suites").glob("*.toml")),
             *sorted((ROOT / "benchmarks").glob("*.py"))]
    return {str(p.relative_to(ROOT)): p.read_text() for p in files}


def test_no_builtin_theorem_or_theory_source_points_into_the_private_notes():
    found = {where: _hits(text) for where, text in {**_builtin_text(), **_sources()}.items()}
    found = {k: v for k, v in found.items() if v}
    assert not found, "pointers into the private notes (cite the paper, or docs/derivations.md):\n" + "\n".join(
        f"  {k}: {h!r}" for k, v in found.items() for h in v)


def _sections(page: str) -> dict[str, set[str]]:
    """'## SECTION' -> its '### ITEM' headings (an item's name is its heading up to a colon)."""
    out: dict[str, set[str]] = {}
    current = None
    for line in page.splitlines():
        if line.startswith("## "):
            current = out.setdefault(line[3:].strip(), set())
        elif line.startswith("### ") and current is not None:
            current.add(line[4:].split(":", 1)[0].strip())
    return out


def test_every_derivation_pointer_names_a_section_and_item_of_docs_derivations():
    from harness.theory.registry import BUILTIN

    sections = _sections(DERIVATIONS.read_text())
    assert set(BUILTIN) <= set(sections), "docs/derivations.md needs one section per built-in theorem module"
    pointers = {(where, m.group(1), m.group(2)) for where, text in {**_builtin_text(), **_sources()}.items()
                for m in POINTER.finditer(text)}
    assert len({(s, i) for _, s, i in pointers}) >= 20   # the derived facts are pointed at, not just the page
    missing = sorted((w, s, i) for w, s, i in pointers if i not in sections.get(s, set()))
    assert not missing, f"pointers to no heading of docs/derivations.md: {missing}"
    used = {(s, i) for _, s, i in pointers}
    unused = sorted((s, i) for s, items in sections.items() for i in items if (s, i) not in used)
    assert not unused, f"derivations no theorem or module points at: {unused}"


def test_the_derivations_page_is_in_the_docs_toctree():
    assert re.search(r"```\{toctree\}[^`]*\n\s*derivations\n", (ROOT / "docs" / "index.md").read_text())
