"""Benchmark of `check_snippets` on a generated bilingual site (not a test: timings belong here).

    python -m scripts.perf.snippet_corpus [POSTS]     # default 1,000 posts = 2,000 Markdown files

Each generated post is a copy of the announcement in both languages, so every file carries its Python
sample (run against the stub) and its BibTeX citation: 2,000 Python blocks for 1,000 posts, each asking a
question of its own, so that all 2,000 run.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANNOUNCEMENT = ROOT / "content" / "blog" / "qwen2.5-max"


@dataclass(frozen=True)
class BenchResult:
    posts: int
    python_blocks: int
    seconds: float
    ok: bool


def generate_posts(content_dir: Path, posts: int) -> None:
    """Write `posts` copies of the announcement (English and Chinese) under content_dir/blog/."""
    sources = {name: (ANNOUNCEMENT / name).read_text(encoding="utf-8") for name in ("index.md", "index.zh.md")}
    for n in range(posts):
        bundle = content_dir / "blog" / f"post-{n:04d}"
        bundle.mkdir(parents=True)
        for name, text in sources.items():
            # A question of its own in every file: check_snippets runs identical blocks once, and this
            # benchmark is of running 2,000 of them.
            (bundle / name).write_text(text.replace("9.11 or 9.8", f"9.11 or 9.8 (#{n}, {name})"), encoding="utf-8")


def bench_snippets(posts: int = 1000) -> BenchResult:
    from scripts.snippets.check import check_snippets

    workdir = Path(tempfile.mkdtemp(prefix="snippet-bench-"))
    try:
        generate_posts(workdir / "content", posts)
        started = time.perf_counter()
        report = check_snippets(workdir / "content", project_root=workdir)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    python = report.counts().get("python")
    return BenchResult(posts=posts, python_blocks=python["passed"] + python["failed"] if python else 0,
                       seconds=seconds, ok=report.ok)


if __name__ == "__main__":
    result = bench_snippets(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
    verdict = "all pass" if result.ok else "FAILURES"
    print(f"check_snippets: {result.posts} posts, {result.python_blocks} Python blocks run in "
          f"{result.seconds:.1f} s ({verdict})")
