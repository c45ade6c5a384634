"""List entries (layouts/_partials/list/posts.html) are drawn once per post and kept in the post's Store,
which Hugo's server keeps across rebuilds. Served live, a list must still show every change a writer makes:
to the post itself, to a template, to a UI string."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from tests.conftest import copy_project, served_project, write_wombat_posts


def entries(html: str) -> dict[str, str]:
    """href -> the entry's whole HTML, for every entry of a list page."""
    page = HTMLParser(html)
    return {node.css_first("h2 a").attributes["href"]: node.html for node in page.css("article.post-entry")}


def test_a_post_has_the_same_entry_in_every_list(project: Path, tmp_path: Path):
    from scripts.site.build import build_site

    write_wombat_posts(project, 2)
    post = project / "content" / "blog" / "wombat-1" / "index.md"
    post.write_text(post.read_text(encoding="utf-8").replace("---\n\n", 'tags: ["Burrows", "Night"]\n---\n\n', 1),
                    encoding="utf-8")
    site = build_site(project, destination=tmp_path / "site", search=False).destination
    href = "/blog/wombat-1/"
    lists = [entries((site / rel).read_text(encoding="utf-8"))
             for rel in ("index.html", "blog/index.html", "tags/burrows/index.html", "tags/night/index.html")]
    assert all(href in each for each in lists)
    assert len({each[href] for each in lists}) == 1


@pytest.fixture
def served(tmp_path: Path):
    """A copy of the project with six more posts, served as `invoke serve` serves it; yields (root, get)."""
    root = copy_project(tmp_path / "project")
    write_wombat_posts(root, 6)
    with served_project(root) as get:
        yield root, get


def wait_for(get, path: str, predicate, what: str) -> dict[str, str]:
    deadline = time.monotonic() + 60
    last = None
    while time.monotonic() < deadline:
        html = get(path)
        if html is not None:
            last = entries(html)
            if predicate(last):
                return last
        time.sleep(0.2)
    raise AssertionError(f"{path} never showed {what}; last entries: {last}")


def test_lists_served_live_show_each_edit_of_a_post_a_template_and_a_ui_string(served):
    root, get = served
    wait_for(get, "/", lambda e: "/blog/wombat-3/" in e, "the wombat posts")
    get("/blog/wombat-3/")  # a page the writer looks at, as a browser would
    post = root / "content" / "blog" / "wombat-3" / "index.md"
    for title in ("Wombats at dawn", "Wombats at dusk"):  # twice: the second edit meets a memo of the first
        text = post.read_text(encoding="utf-8")
        post.write_text(text.replace(text.split('title: "', 1)[1].split('"', 1)[0], title, 1), encoding="utf-8")
        wait_for(get, "/", lambda e, t=title: t in e["/blog/wombat-3/"], f"the title {title!r}")

    entry = root / "layouts" / "_partials" / "list" / "entry.html"
    entry.write_text(entry.read_text(encoding="utf-8").replace('class="post-entry"', 'class="post-entry edited"'),
                     encoding="utf-8")
    shown = wait_for(get, "/", lambda e: all("post-entry edited" in html for html in e.values()),
                     "the edited template in every entry")
    assert len(shown) == 7, "the unchanged posts' entries too"

    strings = root / "i18n" / "en.yaml"
    text = strings.read_text(encoding="utf-8")
    assert '"{{ .Count }} min read"' in text
    strings.write_text(text.replace("min read", "minutes of reading"), encoding="utf-8")
    wait_for(get, "/", lambda e: all("minutes of reading" in html for html in e.values()),
             "the new reading-time label in every entry")
