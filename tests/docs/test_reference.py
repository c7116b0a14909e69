"""The generated reference pages (params, CLI, monitor API) are what the code generates today."""
from __future__ import annotations

import pytest

from tests.docs.gen import generator


@pytest.mark.parametrize("name", ["params.md", "cli.md", "api.md"])
def test_generated_page_is_current(name):
    gen = generator()
    page = gen.REFERENCE / name
    assert page.is_file() and page.read_text() == gen.PAGES[name](), \
        f"docs/reference/{name} is stale: run `make docs-ref` (python docs/gen_reference.py) and commit it"
