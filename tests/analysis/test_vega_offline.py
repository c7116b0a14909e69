"""The offline page for `dvc plots show`: Vega inlined, no network scripts, and DVC really uses it."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fedforge.analysis import vega_offline

REPO = Path(__file__).resolve().parents[2]
NETWORK_SCRIPT = re.compile(r"<script[^>]+src=[\"']?(https?:)?//", re.IGNORECASE)


def test_committed_template_inlines_the_pinned_libraries():
    page = vega_offline.TEMPLATE.read_text(encoding="utf-8")
    assert "{plot_divs}" in page and "{scripts}" not in page
    assert not NETWORK_SCRIPT.search(page) and "<script src" not in page
    for name, version in vega_offline.PACKAGES.items():
        assert f"<script>/* {name}@{version} */" in page
    assert page.index("/* vega@") < page.index("/* vega-lite@") < page.index("/* vega-embed@")


def test_dvc_config_points_plots_at_the_template():
    config = (REPO / ".dvc" / "config").read_text()
    match = re.search(r"^\s*html_template\s*=\s*(\S+)", config, re.MULTILINE)
    assert match, ".dvc/config has no plots.html_template"
    assert (REPO / ".dvc" / match.group(1)).resolve() == vega_offline.TEMPLATE.resolve()


def test_render_page_refuses_a_build_that_would_end_the_script_early():
    meta = {"version": "0.0.0", "license": "BSD-3-Clause"}
    with pytest.raises(ValueError, match="</script"):
        vega_offline.render_page({"vega": ("var s = '</script>';", meta, "")})
    with pytest.raises(ValueError, match="plot_divs"):
        vega_offline.render_page({"vega": ("var s = '{plot_divs}';", meta, "")})


@pytest.fixture(scope="module")
def plots_page(tmp_path_factory) -> Path:
    """`dvc plots show` in a throwaway repo with two phases' rounds.tsv and the offline template."""
    repo = tmp_path_factory.mktemp("plots_repo")
    dvc = [sys.executable, "-m", "dvc"]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*dvc, "init", "-q"], cwd=repo, check=True, env=env)
    shutil.copyfile(vega_offline.TEMPLATE, repo / ".dvc" / "offline.html")
    subprocess.run([*dvc, "config", "plots.html_template", "offline.html"], cwd=repo, check=True, env=env)
    for phase in ("A", "B"):
        folder = repo / "artifacts" / "federated" / phase
        folder.mkdir(parents=True)
        (folder / "rounds.tsv").write_text("round\ttest_acc\n1\t0.41\n2\t0.57\n3\t0.66\n")
    (repo / "dvc.yaml").write_text(
        "plots:\n  - global_test_acc:\n      x: round\n      y:\n"
        "        artifacts/federated/A/rounds.tsv: test_acc\n        artifacts/federated/B/rounds.tsv: test_acc\n")
    subprocess.run([*dvc, "plots", "show", "-o", "out"], cwd=repo, check=True, capture_output=True, env=env)
    return repo / "out" / "index.html"


def test_dvc_plots_show_page_needs_no_network(plots_page):
    page = plots_page.read_text(encoding="utf-8")
    assert not NETWORK_SCRIPT.search(page)
    assert "vegaEmbed('#global_test_acc'" in page and "0.57" in page
    assert f"/* vega-embed@{vega_offline.PACKAGES['vega-embed']} */" in page


@pytest.mark.browser
def test_chromium_draws_the_plot_with_the_network_blocked(plots_page, tmp_path):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("needs Debian chromium")
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}",
         "--proxy-server=127.0.0.1:9", "--virtual-time-budget=5000", "--dump-dom", plots_page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    sizes = re.findall(r'<canvas width="(\d+)" height="(\d+)"', dom)
    assert sizes and all(int(w) > 0 and int(h) > 0 for w, h in sizes), dom[:500]
