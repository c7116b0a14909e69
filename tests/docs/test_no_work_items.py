"""No user-facing text names internal work items ("issue 10", "issue-10", "issue #10"): they mean nothing to a user."""
from __future__ import annotations

import re

import pytest

from fedforge import cli
from tests.conftest import REPO
from tests.docs.pages import pages, rel

WORK_ITEM = re.compile(r"\bissues?[\s_#-]*\d+", re.IGNORECASE)


def help_texts(parser, prog="fedforge"):
    """The --help text of the parser and of every sub-command, recursively."""
    yield prog, parser.format_help()
    for action in parser._actions:
        if hasattr(action, "choices") and isinstance(action.choices, dict):
            for name, sub in action.choices.items():
                yield from help_texts(sub, f"{prog} {name}")


def dashboard_sources():
    """The dashboard's own sources; its tests and fixtures are not user-facing."""
    return [p for p in sorted((REPO / "dashboard/src").rglob("*")) if p.is_file() and ".test." not in p.name
            and "test" not in p.relative_to(REPO / "dashboard/src").parts[:-1]]


def params_comments():
    return "\n".join(line.split("#", 1)[1] for line in (REPO / "params.yaml").read_text().splitlines() if "#" in line)


def hits(text: str) -> list[str]:
    return WORK_ITEM.findall(text)


@pytest.mark.parametrize("page", pages(), ids=rel)
def test_pages_name_no_work_item(page):
    assert hits(page.read_text()) == []


def test_cli_help_names_no_work_item():
    assert {prog: hits(text) for prog, text in help_texts(cli.build_parser()) if hits(text)} == {}


def test_params_comments_name_no_work_item():
    assert hits(params_comments()) == []


def test_dashboard_names_no_work_item():
    assert dashboard_sources(), "dashboard/src not found"
    assert {rel(p): hits(p.read_text(errors="replace")) for p in dashboard_sources() if hits(p.read_text(errors="replace"))} == {}


def test_the_pattern_finds_work_items():
    assert hits("Queue issue 10's grid; see Issue #12 and issue-3") == ["issue 10", "Issue #12", "issue-3"]
    assert hits("known issues with 10 hospitals") == []
