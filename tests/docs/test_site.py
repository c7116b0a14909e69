"""`mkdocs build --strict` passes: no broken link, no missing page, no page left out of nav."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO


def test_mkdocs_build_strict_passes(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    for page in ("index.html", "privacy.html", "reference/params.html", "search/search_index.json"):
        assert (tmp_path / "site" / page).is_file(), page
    home = (tmp_path / "site" / "index.html").read_text()
    assert "fonts.googleapis.com" not in home and "fonts.gstatic.com" not in home  # theme.font: false, offline
