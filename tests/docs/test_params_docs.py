"""Every params.yaml key is documented with a meaning; every `-S key=value` shown parses through the config."""
from __future__ import annotations

import re

import pytest
import yaml

from fedforge import config
from tests.conftest import REPO, set_key, tiny_params_dict
from tests.docs.gen import generator
from tests.docs.pages import pages, rel

OVERRIDE = re.compile(r"(?<!\S)-S\s+([A-Za-z_][\w.]*)=([^\s`'\"]+)")


def test_every_params_key_has_a_meaning_in_the_reference():
    gen = generator()
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    phases = list(raw["phases"])
    keys = {gen.generic_key(k, phases) for k in gen.leaf_keys(raw)}
    rows = {row["key"]: row for row in gen.params_rows()}
    assert set(rows) == keys
    undocumented = sorted(key for key, row in rows.items() if not row["meaning"].strip())
    assert undocumented == [], f"params.yaml keys without a comment (their meaning): {undocumented}"
    page = (REPO / "docs/reference/params.md").read_text()
    assert [key for key in keys if f"| `{key}` |" not in page] == []


def overrides(page) -> list[list[tuple[str, str]]]:
    """The -S overrides a page shows, grouped by line (one command's overrides apply together)."""
    text = page.read_text().replace("\\\n", " ")
    groups = [OVERRIDE.findall(line) for line in text.splitlines()]
    return [group for group in groups if group]


def parses(group: list[tuple[str, str]]) -> None:
    params = tiny_params_dict()
    for key, value in group:
        set_key(params, key, yaml.safe_load(value.rstrip(".,;:)")))  # DVC reads -S values as YAML
    config.parse(params)


@pytest.mark.parametrize("page", pages(), ids=rel)
def test_every_override_shown_parses(page):
    bad = []
    for group in overrides(page):
        try:
            parses(group)
        except (config.ConfigError, KeyError, TypeError) as exc:
            bad.append(f"{group}: {exc}")
    assert bad == [], f"{rel(page)}: {bad}"


def test_an_override_of_an_unknown_key_or_value_fails():
    with pytest.raises(config.ConfigError):
        parses([("phases.A.strategy", "fedfoo")])
    with pytest.raises(config.ConfigError):
        parses([("federation.wrokers", "2")])
