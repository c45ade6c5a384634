"""Fixtures of the content tests."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A project with the real hugo.yaml and shortcode templates (lint reads which exist) and an empty
    content/ folder."""
    root = tmp_path / "site"
    (root / "content").mkdir(parents=True)
    shutil.copy2(ROOT / "hugo.yaml", root / "hugo.yaml")
    shutil.copytree(ROOT / "layouts" / "_shortcodes", root / "layouts" / "_shortcodes")
    return root
