"""Shared fixtures: a copy of the project to build or modify, and the real site built by real Hugo."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser  # the modest backend is gone in 1.0

ROOT = Path(__file__).resolve().parent.parent

# What a Hugo build reads; copying just these keeps a project copy small and fast.
PROJECT_PARTS = ("hugo.yaml", "content", "layouts", "assets", "i18n", "archetypes", "static", "data")


def copy_project(dest: Path, *, with_content: bool = True) -> Path:
    """Copy the parts of the project Hugo reads into `dest` (which must not exist yet)."""
    dest.mkdir(parents=True)
    for part in PROJECT_PARTS:
        src = ROOT / part
        if not src.exists() or (part == "content" and not with_content):
            continue
        if src.is_dir():
            shutil.copytree(src, dest / part)
        else:
            shutil.copy2(src, dest / part)
    if not with_content:
        (dest / "content").mkdir()
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throw-away copy of the project, free to modify."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real project built once per test session (per xdist worker) by `scripts.site.build_site`."""
    from scripts.site import build_site

    dest = tmp_path_factory.mktemp("site") / "site"
    build_site(ROOT, destination=dest)
    return dest


def parse(path: Path) -> HTMLParser:
    """Parse one built HTML file with a real HTML5 parser."""
    return HTMLParser(path.read_text(encoding="utf-8"))
