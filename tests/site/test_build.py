"""`build_site` replaces the site as a whole: nothing of an earlier build survives it, a failed build leaves
the earlier site as it was, and what a user keeps in site/ (a git checkout of the published branch) stays."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts.errors import CheckFailed
from scripts.site import swap
from scripts.site.build import build_site
from tests.conftest import write_wombat_posts


def site_files(site: Path) -> set[Path]:
    return {p.relative_to(site) for p in site.rglob("*") if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    return sorted(name for name in os.listdir(parent) if name.startswith(".site."))


def test_a_page_whose_post_is_gone_does_not_survive_the_next_build(project: Path):
    write_wombat_posts(project, 2)
    site = project / "site"
    build_site(project, search=False)
    assert (site / "blog" / "wombat-1" / "index.html").is_file()
    (site / "notes-from-an-old-build.txt").write_text("stale", encoding="utf-8")
    for name in ("index.md", "index.zh.md"):
        (project / "content" / "blog" / "wombat-1" / name).unlink()
    build_site(project, search=False)
    assert not (site / "blog" / "wombat-1").exists() and not (site / "zh" / "blog" / "wombat-1").exists()
    assert not (site / "notes-from-an-old-build.txt").exists()
    assert (site / "blog" / "wombat-0" / "index.html").is_file()
    assert leftovers(project) == [], "the directory built into and the old site are both gone"


def test_a_failed_build_leaves_the_earlier_site_whole(project: Path):
    site = project / "site"
    build_site(project, search=False)
    before = {rel: (site / rel).read_bytes() for rel in site_files(site)}
    # Every page of the new build would differ (a new site title), and one page fails to render: a build
    # that wrote into site/ would leave old and new pages mixed, or pages missing.
    config = project / "hugo.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("title: Qwen", "title: Qwen Renamed"),
                      encoding="utf-8")
    write_wombat_posts(project, 1)
    post = project / "content" / "blog" / "wombat-0" / "index.md"
    post.write_text(post.read_text(encoding="utf-8") + "\n{{< figure >}}\n", encoding="utf-8")
    with pytest.raises(CheckFailed):
        build_site(project, search=False)
    assert {rel: (site / rel).read_bytes() for rel in site_files(site)} == before
    assert leftovers(project) == []


def test_what_a_user_keeps_in_site_stays(project: Path):
    """A git checkout of the published branch in site/, as Hugo's --cleanDestinationDir allowed: .git (a
    directory, or a worktree's file), .gitignore, .gitattributes and other dot-directories stay."""
    site = project / "site"
    build_site(project, search=False)
    (site / ".git").mkdir()
    (site / ".git" / "HEAD").write_text("ref: refs/heads/gh-pages\n", encoding="utf-8")
    (site / ".gitignore").write_text("*.tmp\n", encoding="utf-8")
    (site / ".gitattributes").write_text("* -text\n", encoding="utf-8")
    (site / ".well-known").mkdir()
    (site / ".well-known" / "security.txt").write_text("Contact: x\n", encoding="utf-8")
    build_site(project, search=False)
    assert (site / ".git" / "HEAD").read_text(encoding="utf-8") == "ref: refs/heads/gh-pages\n"
    assert (site / ".gitignore").read_text(encoding="utf-8") == "*.tmp\n"
    assert (site / ".gitattributes").is_file() and (site / ".well-known" / "security.txt").is_file()
    assert (site / "index.html").is_file()


def test_a_site_that_is_a_symlink_stays_one(project: Path, tmp_path: Path):
    elsewhere = tmp_path / "served" / "blog"
    elsewhere.mkdir(parents=True)
    (elsewhere / "stale.html").write_text("<p>old</p>", encoding="utf-8")
    (project / "site").symlink_to(elsewhere, target_is_directory=True)
    build_site(project, search=False)
    assert (project / "site").is_symlink() and (project / "site").resolve() == elsewhere.resolve()
    assert (elsewhere / "index.html").is_file() and not (elsewhere / "stale.html").exists()
    assert leftovers(elsewhere.parent) == []


def test_what_a_killed_build_left_beside_the_site_is_removed_but_not_a_running_ones(tmp_path: Path):
    target = tmp_path / "site"
    dead = tmp_path / f".site.{swap.FRESH_TAG}-{2 ** 22 + 1}-deadbeef"  # above Linux's largest pid
    running = tmp_path / f".site.{swap.FRESH_TAG}-{os.getpid()}-cafef00d"
    unrelated = tmp_path / ".site.notes"
    for path in (dead, running, unrelated):
        path.mkdir()
    assert swap.remove_leftovers(target) == [dead]
    assert running.is_dir() and unrelated.is_dir()


def test_invoke_clean_removes_what_a_killed_build_left(project: Path):
    from scripts.site.build import clean_site

    build_site(project, search=False)
    killed = project / f".site.{swap.FRESH_TAG}-{2 ** 22 + 1}-0badf00d"
    (killed / "blog").mkdir(parents=True)
    removed = clean_site(project)
    assert killed in removed and project / "site" in removed
    assert leftovers(project) == [] and not (project / "site").exists()


def test_invoke_clean_removes_the_search_cache_but_not_the_link_checkers(project: Path):
    from scripts.site.build import SEARCH_CACHE, clean_site

    build_site(project, search_cache=project / SEARCH_CACHE)
    assert len([entry for entry in (project / SEARCH_CACHE).iterdir() if entry.is_dir()]) == 2, \
        "a cache entry per language"
    (project / ".cache" / "links.json").write_text("{}\n", encoding="utf-8")
    assert project / SEARCH_CACHE in clean_site(project)
    assert not (project / SEARCH_CACHE).exists()
    assert (project / ".cache" / "links.json").read_text(encoding="utf-8") == "{}\n"
