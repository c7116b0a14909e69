"""Every relative link and image in README.md and docs/ resolves; docs pages link only inside docs/."""
from __future__ import annotations

import pytest

from tests.conftest import REPO
from tests.docs.pages import DOCS, README, links, pages, rel

EXTERNAL = ("http://", "https://", "mailto:")


def relative_links(path):
    return [t for t in links(path) if not t.startswith(EXTERNAL) and not t.startswith("#")]


def test_the_readme_links_to_the_docs():
    assert any(t.startswith("docs/") for t in relative_links(README))


@pytest.mark.parametrize("page", pages(), ids=rel)
def test_every_relative_link_and_image_resolves(page):
    broken = [t for t in relative_links(page) if not (page.parent / t.split("#")[0]).exists()]
    assert broken == [], f"{rel(page)}: broken links {broken}"


@pytest.mark.parametrize("page", [p for p in pages() if p != README], ids=rel)
def test_docs_pages_link_only_inside_docs(page):
    """Code is named by path in backticks: a link out of docs/ breaks in the built site."""
    outside = [t for t in relative_links(page) if DOCS not in (page.parent / t.split("#")[0]).resolve().parents]
    assert outside == [], f"{rel(page)} links out of docs/: {outside}"


def test_every_page_under_docs_is_in_the_site_nav():
    import yaml

    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]

    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)

    listed = set(walk(nav))
    assert {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")} - listed == set()
