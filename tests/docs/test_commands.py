"""Every `fedforge …` command and flag shown in README.md or docs/ exists in the CLI parser."""
from __future__ import annotations

import argparse
import re

import pytest

from fedforge import cli
from tests.docs.pages import code_snippets, pages, rel

# `fedforge` where a command starts: the line's start, after $( && ; | or environment assignments (not the
# `fedforge` federation name in `flwr run app fedforge`, nor the fedforge/ package path)
COMMAND = re.compile(r"(?:^|(?<=\$\()|(?<=&& )|(?<=; )|(?<=\| ))fedforge(?= |$)(?: +[^\s`'\"]+)*")
STOP = {"#", "|", "&", "&&", ";", ")", "<", ">"}  # the command ends at a comment, pipe or shell operator


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def problems(command: str, parser: argparse.ArgumentParser) -> list[str]:
    """What in `fedforge <args>` the parser does not know: an unknown command or an unknown flag."""
    words = command.split()[1:]  # after `fedforge`
    found, current, first = [], parser, True
    for word in words:
        if word in STOP or word.startswith(("#", "$", "`")):
            break
        if word.startswith("<") or word in ("…", "..."):  # a placeholder: `fedforge <stage>`, `fedforge …`
            break
        subs = subcommands(current)
        if word in subs:
            current, first = subs[word], False
        elif word.startswith("-"):
            flag = word.split("=", 1)[0].rstrip(",.:)")
            if flag not in current._option_string_actions:
                found.append(f"unknown flag {flag} in `{command}`")
        elif first:
            found.append(f"unknown command {word!r} in `{command}`")
            break
        first = False
    return found


def shown_commands(page) -> list[str]:
    """`fedforge …` as a page shows it in code: from `fedforge` to the end of the line or code span."""
    return [m.group(0) for snippet in code_snippets(page)
            for m in COMMAND.finditer(snippet.strip())]


@pytest.mark.parametrize("page", pages(include_reference=False), ids=rel)
def test_every_fedforge_command_and_flag_shown_exists(page):
    parser = cli.build_parser()
    wrong = [p for command in shown_commands(page) for p in problems(command, parser)]
    assert wrong == [], f"{rel(page)}: {wrong}"


def test_the_check_catches_an_unknown_flag_and_command():
    parser = cli.build_parser()
    assert problems("fedforge federate --phase A", parser) == []
    assert problems("fedforge grid queue --scale 0.25", parser) == []
    assert problems("fedforge federate --phases A", parser) == ["unknown flag --phases in `fedforge federate --phases A`"]
    assert problems("fedforge frobnicate", parser) == ["unknown command 'frobnicate' in `fedforge frobnicate`"]


def test_the_pages_show_every_command():
    """Every command is shown in the README or a hand-written page (the generated CLI reference does not count)."""
    shown = " ".join(c for page in pages(include_reference=False) for c in shown_commands(page))
    missing = [name for name in subcommands(cli.build_parser()) if not re.search(rf"fedforge {name}\b", shown)]
    assert missing == []
