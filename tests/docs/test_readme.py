"""README.md is a short first contact: ≤ 250 lines, the quick start up front, its sections in a fixed order."""
from __future__ import annotations

import re

from tests.docs.pages import README

SECTIONS = ["Quick start", "Everyday use", "Watch it live", "The pipeline at a glance", "Headline results",
            "Code map", "Documentation", "Troubleshooting"]


def test_readme_is_at_most_250_lines():
    assert len(README.read_text().splitlines()) <= 250


def test_make_demo_and_make_test_are_in_the_first_40_lines():
    top = "\n".join(README.read_text().splitlines()[:40])
    assert re.search(r"^make demo\b", top, re.MULTILINE) and re.search(r"^make test\b", top, re.MULTILINE)


def test_sections_come_in_the_order_of_first_contact():
    text = re.sub(r"^```.*?^```", "", README.read_text(), flags=re.MULTILINE | re.DOTALL)
    assert re.findall(r"^## (.+)$", text, re.MULTILINE) == SECTIONS


def test_it_opens_with_three_sentences_naming_the_synthetic_twin_and_the_real_data_switch():
    intro = README.read_text().split("\n## ", 1)[0].split("\n", 1)[1]
    sentences = re.findall(r"[.!?](?:\s|$)", intro)
    assert len(sentences) <= 3, intro
    assert "synthetic twin" in intro and "-S data.source=medmnist" in intro
