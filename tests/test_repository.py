"""The repository as text: a clone of it stands on its own.

Every file git tracks is read. No file may point at a path outside the
project (the shared folder next to the checkout, the machine's work folder,
the founding documents by file name), every relative link in a Markdown file
must lead to something in the repository, and no Python file may edit the
import path: packages are installed (editable where they are ours), never
found by hand. A failure names each file and line.
"""

import json
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Paths that lead out of the project. Each is written so that this file does
# not match itself, and so that prose ("the design", "shared by every
# service", a URL with /work/ in it) does not match.
OUTSIDE = {
    # A relative climb out of the checkout into the folder beside it.
    "a relative path to the shared folder beside the checkout": re.compile(r"(?:\.\./)+shared(?![\w-])"),
    # An absolute path on the machine the project was made on.
    "an absolute path into the machine's work folder": re.compile(r"(?<![\w.~%-])/wor[k]/"),
    # The Japanese blog posts the project started from.
    "the seed blog posts kept outside the repository": re.compile(r"cotoami-blog-posts|(?<![\w-])seed/cotoami"),
}
# The founding documents, by file name: outside the project unless a file of
# that name is tracked (then a mention of it is a mention of our own file).
FOUNDING_DOCUMENT = re.compile(r"(?<![\w/-])(?:shared/)?((?:DESIGN|PRODUCT)\.md)\b")

# An edit of the import path: assigning to it, to a slice of it, adding to
# it, or calling one of its mutating methods; or site.addsitedir.
SYS_PATH_EDIT = re.compile(
    r"\bsys\s*\.\s*path\s*(?:\[[^\]\n]*\]\s*=(?!=)|\+=|=(?!=)|\.\s*(?:insert|append|extend|remove|pop|clear)\s*\()"
    r"|\bsite\s*\.\s*addsitedir\s*\("
)

# [text](target) in Markdown; a title after the target is allowed.
MARKDOWN_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.why}: {self.text}"


def tracked_files() -> list[str]:
    """Every path git tracks, relative to the repository's root."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return sorted(name for name in listed.decode("utf-8").split("\0") if name)


def text_of(relative: str) -> str | None:
    """The file's text, or None for what is not UTF-8 text (or is gone from the working tree)."""
    try:
        data = (ROOT / relative).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# This file's own tables of examples are exactly what the checks catch.
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()


def tracked_texts() -> Iterator[tuple[str, str]]:
    for relative in tracked_files():
        if relative == THIS_FILE:
            continue
        text = text_of(relative)
        if text is not None:
            yield relative, text


def line_at(text: str, offset: int) -> tuple[int, str]:
    """The 1-based number and the (shortened) content of the line holding offset."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    content = text[start : end if end != -1 else len(text)].strip()
    return text.count("\n", 0, offset) + 1, content if len(content) <= 160 else content[:157] + "..."


def finding(path: str, text: str, offset: int, why: str) -> Finding:
    number, content = line_at(text, offset)
    return Finding(path, number, content, why)


def outside_references(path: str, text: str, tracked_names: Iterable[str]) -> list[Finding]:
    """Each place in the text that points at something outside the project."""
    names = set(tracked_names)
    found = [
        finding(path, text, match.start(), why) for why, pattern in OUTSIDE.items() for match in pattern.finditer(text)
    ]
    found += [
        finding(path, text, match.start(), f"{match.group(1)}, a file outside the repository")
        for match in FOUNDING_DOCUMENT.finditer(text)
        if match.group(1) not in names
    ]
    return sorted(found, key=lambda item: item.line)


def sys_path_edits(path: str, text: str) -> list[Finding]:
    return [
        finding(path, text, match.start(), "edits the import path (install the package instead)")
        for match in SYS_PATH_EDIT.finditer(text)
    ]


def without_fenced_code(text: str) -> str:
    """The text with each fenced code block blanked out, line numbers kept."""
    return FENCE.sub(lambda block: "\n" * block.group(0).count("\n"), text)


def broken_links(path: str, text: str) -> list[Finding]:
    """Each relative link in a Markdown file that leads out of the repository or to nothing."""
    found = []
    prose = without_fenced_code(text)
    for match in MARKDOWN_LINK.finditer(prose):
        target = match.group(1)
        if target.startswith("#") or SCHEME.match(target):
            continue
        local = target.split("#", 1)[0].split("?", 1)[0]
        if local.startswith("/"):
            found.append(finding(path, prose, match.start(), f"links to {target}, an absolute path"))
            continue
        resolved = ((ROOT / path).parent / local).resolve()
        if not resolved.is_relative_to(ROOT):
            found.append(finding(path, prose, match.start(), f"links to {target}, outside the repository"))
        elif not resolved.exists():
            found.append(finding(path, prose, match.start(), f"links to {target}, which does not exist"))
    return found


def report(findings: list[Finding], what: str) -> None:
    if findings:
        pytest.fail(f"{len(findings)} {what}:\n" + "\n".join(str(item) for item in findings), pytrace=False)


def test_no_file_refers_to_a_path_outside_the_project():
    names = {Path(relative).name for relative in tracked_files()}
    findings = [item for path, text in tracked_texts() for item in outside_references(path, text, names)]
    report(findings, "references to paths outside the project (say the thing itself, or link to docs/)")


def test_markdown_links_stay_inside_the_repository():
    findings = [item for path, text in tracked_texts() if path.endswith(".md") for item in broken_links(path, text)]
    report(findings, "Markdown links that lead out of the repository or to nothing")


def test_no_python_file_edits_the_import_path():
    findings = [item for path, text in tracked_texts() if path.endswith(".py") for item in sys_path_edits(path, text)]
    report(findings, "edits of the import path")


# What the web client serves from npm packages (gateway/web/vendor/, copied from
# node_modules by tools/vendor-web.sh) is what package.json pins, as `npm ci` installs
# it (tools/install.sh), so the pin and the served file cannot drift apart.
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "gateway" / "web" / "vendor"
# "======== NAME VERSION (node_modules/.../LICENSE)" opens each package's licence.
LICENCE_HEADER = re.compile(r"^======== (\S+) (\S+) \((\S+)\)\n", re.MULTILINE)
REFRESH = "run tools/install.sh, then tools/vendor-web.sh, and commit gateway/web/vendor/"


def package_json(path: Path) -> dict[str, object]:
    manifest: dict[str, object] = json.loads((path / "package.json").read_text())
    return manifest


def test_the_served_markdown_it_is_the_pinned_one():
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["markdown-it"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "markdown-it is pinned to one version"
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/markdown-it"]
    assert locked["version"] == pinned
    assert package_json(NODE_MODULES / "markdown-it")["version"] == pinned, REFRESH
    build = NODE_MODULES / "markdown-it" / "dist" / "browser" / "markdown-it.umd.min.js"
    assert (VENDOR / "markdown-it.umd.min.js").read_bytes() == build.read_bytes(), REFRESH


def test_the_served_markdown_it_carries_the_licences_of_what_it_bundles():
    """markdown-it's licence and that of each package bundled into its browser build (its
    dependencies but argparse, its command line's), each exactly as the package ships it."""
    parts = LICENCE_HEADER.split((VENDOR / "markdown-it.LICENSE.txt").read_text())
    preamble, sections = parts[0], [parts[i : i + 4] for i in range(1, len(parts), 4)]
    assert "markdown-it.umd.min.js" in preamble
    dependencies = package_json(NODE_MODULES / "markdown-it")["dependencies"]
    assert isinstance(dependencies, dict)
    assert [name for name, *_ in sections] == ["markdown-it", *sorted(set(dependencies) - {"argparse"})], REFRESH
    for name, version, path, text in sections:
        licence = ROOT / path
        assert licence.parent.is_relative_to(NODE_MODULES) and licence.is_file(), (name, path, REFRESH)
        assert package_json(licence.parent)["name"] == name
        assert package_json(licence.parent)["version"] == version, (name, REFRESH)
        assert text.strip("\n") == licence.read_text().strip("\n"), (name, REFRESH)


# The checks themselves: what they catch and what they let through.
UP, WORK = "../", "/" + "work" + "/"
DESIGN, PRODUCT = "DESIGN" + ".md", "PRODUCT" + ".md"


@pytest.mark.parametrize(
    "text",
    [
        f"The decisions are in `{UP}shared/{DESIGN}`.",
        f"see {UP}{UP}shared/seed",
        f"cd {WORK}main && make up",
        f"-- per service ({DESIGN}, data ownership).",
        f'"""Cotonomas ({PRODUCT} 3 and 4) end to end."""',
        "read seed/cotoami-blog-posts.ja.txt",
    ],
)
def test_outside_references_are_caught(text):
    found = outside_references("example.txt", text, tracked_names=())
    assert found, text
    assert found[0].path == "example.txt" and found[0].line == 1


@pytest.mark.parametrize(
    "text",
    [
        "The design says why; the product is a notebook.",
        "shared by every service; the shared port; services/common",
        "resources: [../../base, ../../components/gateway-api]",
        f"https://example.com{WORK}page and http://127.0.0.1:8000{WORK}x",
        "docs/decisions.md and docs/architecture.md",
    ],
)
def test_prose_and_inside_paths_pass(text):
    assert outside_references("example.txt", text, tracked_names=()) == []


def test_a_founding_document_tracked_in_the_repository_may_be_named():
    assert outside_references("example.txt", f"see {DESIGN}", tracked_names={DESIGN}) == []


@pytest.mark.parametrize(
    "code",
    [
        "sys.path.insert(0, str(ROOT))",
        "sys.path.append('tools')",
        "sys.path[:0] = sys.argv[1:]",
        "sys.path = ['x']",
        "sys.path += ['x']",
        "site.addsitedir('tools')",
    ],
)
def test_import_path_edits_are_caught(code):
    found = sys_path_edits("example.py", f"import sys\n{code}\n")
    assert [item.line for item in found] == [2], code


@pytest.mark.parametrize(
    "code",
    [
        "print(sys.path)",
        "if 'x' in sys.path: pass",
        "assert sys.path == before",
        "# tests import the package instead of editing sys.path",
    ],
)
def test_reading_the_import_path_passes(code):
    assert sys_path_edits("example.py", code) == []


def test_links_are_read_outside_code_blocks_only():
    text = "[ok](architecture.md) [gone](nothing-here.md)\n```\n[not a link](../../x)\n```\n[up](../../elsewhere.md)\n"
    found = broken_links("docs/example.md", text)
    assert [(item.line, "nothing-here" in item.why or "outside" in item.why) for item in found] == [
        (1, True),
        (5, True),
    ]


def test_the_served_cytoscape_is_the_pinned_one_with_its_licence():
    """The graph view's Cytoscape.js (its minified ES module, served as .js) and its licence are the
    pinned package's own bytes (tools/vendor-web.sh copies them); it bundles no other package."""
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["cytoscape"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "cytoscape is pinned to one version"
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/cytoscape"]
    assert locked["version"] == pinned
    package = NODE_MODULES / "cytoscape"
    assert package_json(package)["version"] == pinned, REFRESH
    assert not package_json(package).get("dependencies"), "a dependency would be bundled: its licence is needed too"
    build = package / "dist" / "cytoscape.esm.min.mjs"
    assert (VENDOR / "cytoscape.esm.min.js").read_bytes() == build.read_bytes(), REFRESH
    assert (VENDOR / "cytoscape.LICENSE.txt").read_bytes() == (package / "LICENSE").read_bytes(), REFRESH
