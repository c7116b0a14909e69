"""Fixtures for the dashboard's browser tests: a fresh monitor per test, one Chromium per module."""
from __future__ import annotations

import pytest

from tests.dashboard.harness import Monitor, launch_browser, missing_requirements


@pytest.fixture(scope="module")
def browser():
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()


@pytest.fixture
def monitor(tmp_path):
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    m = Monitor(tmp_path).start()
    yield m
    m.stop()
    m.http.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
