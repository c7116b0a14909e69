"""What the documentation tests read: the user-facing Markdown pages, their links, code and commands."""
from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

DOCS = REPO / "docs"
README = REPO / "README.md"
REFERENCE = DOCS / "reference"  # generated from the code: listing a command there proves nothing
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]*(?:\n[^`\n]*)?)`")


def pages(include_reference: bool = True) -> list[Path]:
    """README.md and every Markdown page under docs/."""
    found = [README, *sorted(DOCS.rglob("*.md"))]
    return [p for p in found if include_reference or REFERENCE not in p.parents]


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def links(path: Path) -> list[str]:
    """The link and image targets of a page, outside code blocks."""
    return LINK.findall(FENCE.sub("", path.read_text()))


def bash_blocks(text: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang in ("bash", "sh", "")]


def bash_lines(text: str) -> list[str]:
    """Each command line of the ```bash blocks: continuation lines joined, comments and blank lines dropped."""
    lines = []
    for block in bash_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"(^|\s+)#(\s.*)?$", "", line).strip()
            if line:
                lines.append(re.sub(r"\s+", " ", line))
    return lines


def code_snippets(path: Path) -> list[str]:
    """Every piece of code a page shows: lines of its code blocks and its inline code spans."""
    text = path.read_text()
    snippets = [re.sub(r"(^|\s)#(\s.*)?$", "", line) for _, body in FENCE.findall(text)
                for line in body.replace("\\\n", " ").splitlines()]
    return snippets + [" ".join(span.split()) for span in INLINE.findall(FENCE.sub("", text))]
