"""Every front-matter key of scripts/content/schema.py has a visible effect on the built site, for
both of its values.

One Hugo build serves the whole module: for each key (and each child of `cover` and `header`) two
posts are generated, variant "a" and variant "b", differing only in that key. The cases below are
looked up by the schema's key names, so a key added to the schema without a case here fails.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml

from scripts.content.schema import POST_KEYS
from tests.conftest import ROOT
from tests.images import write_png
from scripts.site.hugo import BuildOptions, build
from tests.conftest import HTMLParser, copy_project


# The body of every generated post: headings for the TOC, a code block, math, and a literal dollar.
BODY = r"""
This opening paragraph is the summary of the generated post. Prices such as $5 and $10 stay text.

## First section

Inline math $x^2 + y^2$ in a sentence.

### A subsection

```python
print("hello")
```

$$
\int_0^1 x\,dx = \frac{1}{2}
$$

## Second section

Closing words.
"""


@dataclass
class Site:
    """The built test site, and lookups by post slug."""

    root: Path

    def path(self, slug: str) -> Path:
        return self.root / "blog" / slug / "index.html"

    def exists(self, slug: str) -> bool:
        return self.path(slug).is_file()

    def page(self, slug: str) -> HTMLParser:
        assert self.exists(slug), f"post {slug} was not built"
        return HTMLParser(self.path(slug).read_text(encoding="utf-8"))

    def home_pages(self) -> list[HTMLParser]:
        pages = [HTMLParser((self.root / "index.html").read_text(encoding="utf-8"))]
        n = 2
        while (self.root / "page" / str(n) / "index.html").is_file():
            pages.append(HTMLParser((self.root / "page" / str(n) / "index.html").read_text(encoding="utf-8")))
            n += 1
        return pages

    def home_entries(self) -> list:
        return [e for page in self.home_pages() for e in page.css("article.post-entry")]

    def entry(self, slug: str):
        """The post's entry in the home page's (paginated) list, or None."""
        for entry in self.home_entries():
            link = entry.css_first(".entry-title a")
            if link is not None and link.attributes["href"].endswith(f"/blog/{slug}/"):
                return entry
        return None


Check = Callable[[Site, str, str], None]


@dataclass(frozen=True)
class Case:
    a: dict
    b: dict
    check: Check
    files: tuple[str, ...] = field(default=())  # bundle images to create in both posts


def _present(selector: str, when: str) -> Check:
    """A check that `selector` is on the post page of variant `when` ("a" or "b") only."""

    def check(site: Site, a: str, b: str) -> None:
        on, off = (a, b) if when == "a" else (b, a)
        assert site.page(on).css_first(selector) is not None, f"{selector} missing on {on}"
        assert site.page(off).css_first(selector) is None, f"{selector} present on {off}"

    return check


def check_title(site: Site, a: str, b: str) -> None:
    for slug, title in ((a, "Alpha <Title> & Co"), (b, "Beta title")):
        page = site.page(slug)
        assert page.css_first("h1").text(strip=True) == title
        assert page.css_first("title").text().startswith(title + " | ")
        assert len(page.css("h1")) == 1


def check_date(site: Site, a: str, b: str) -> None:
    for slug, iso, shown in ((a, "2021-03-05T10:00:00+08:00", "March 5, 2021"),
                             (b, "2019-11-20T09:30:00+08:00", "November 20, 2019")):
        time = site.page(slug).css_first(".post-header .post-meta time")
        assert time.attributes["datetime"] == iso
        assert time.text(strip=True) == shown


def check_weight(site: Site, a: str, b: str) -> None:
    entries = site.home_entries()
    first = entries[0].css_first(".entry-title a").attributes["href"]
    assert first.endswith(f"/blog/{a}/"), "a weighted post is pinned first though it is the oldest"
    assert site.entry(a).css_first(".pinned-badge") is not None
    assert site.entry(b).css_first(".pinned-badge") is None
    # After the pinned post, the list is newest first.
    dates = [e.css_first(".post-meta time").attributes["datetime"] for e in entries[1:] if e.css_first(".post-meta time")]
    assert len(dates) > 10 and dates == sorted(dates, reverse=True)


def check_aliases(site: Site, a: str, b: str) -> None:
    alias = site.root / "old-alias-a" / "index.html"
    assert alias.is_file()
    refresh = HTMLParser(alias.read_text()).css_first('meta[http-equiv="refresh"]')
    assert refresh.attributes["content"].endswith(f"/blog/{a}/")
    assert not (site.root / "old-alias-b").exists()


def check_tags(site: Site, a: str, b: str) -> None:
    tags = [t.text(strip=True) for t in site.page(a).css(".post-tags a[rel=tag]")]
    assert tags == ["MoE Models", "Research"] or sorted(tags) == ["MoE Models", "Research"]
    term = site.root / "tags" / "research" / "index.html"
    links = [x.attributes["href"] for x in HTMLParser(term.read_text()).css(".entry-title a")]
    assert any(h.endswith(f"/blog/{a}/") for h in links)
    assert site.page(b).css_first(".post-tags") is None
    index = HTMLParser((site.root / "tags" / "index.html").read_text())
    terms = {" ".join(li.text().split()) for li in index.css(".term-list li")}
    assert {"MoE Models 1 post", "Research 1 post"} <= terms


def check_draft(site: Site, a: str, b: str) -> None:
    assert not site.exists(a), "a draft is left out of a production build"
    assert site.entry(a) is None
    assert site.exists(b) and site.entry(b) is not None


def check_description(site: Site, a: str, b: str) -> None:
    page = site.page(a)
    assert page.css_first('meta[name="description"]').attributes["content"] == "A hand-written description."
    assert page.css_first(".post-description").text(strip=True) == "A hand-written description."
    assert site.entry(a).css_first(".entry-summary").text(strip=True) == "A hand-written description."
    other = site.page(b)
    assert other.css_first(".post-description") is None
    assert other.css_first('meta[name="description"]').attributes["content"].startswith("This opening paragraph")


def check_disable_share(site: Site, a: str, b: str) -> None:
    assert site.page(a).css_first(".share") is None
    links = site.page(b).css(".share a")
    assert links and all(x.attributes["rel"] == "noopener noreferrer" for x in links)


def check_hide_meta(site: Site, a: str, b: str) -> None:
    assert site.page(a).css_first(".post-meta") is None
    assert site.entry(a).css_first(".post-meta") is None
    assert site.page(b).css_first(".post-meta time") is not None
    assert site.entry(b).css_first(".post-meta time") is not None


def check_hide_summary(site: Site, a: str, b: str) -> None:
    assert site.entry(a).css_first(".entry-summary") is None
    assert site.entry(b).css_first(".entry-summary").text(strip=True).startswith("This opening paragraph")


def check_math(site: Site, a: str, b: str) -> None:
    content = site.page(a).css_first(".post-content")
    maths = content.css("math")
    assert len(maths) == 2
    assert any(m.attributes.get("display") == "block" for m in maths)
    assert "$5 and $10 stay text" in content.text(), "spaced dollars are prose, not math"
    assert not site.page(a).css("script[src*=math], script[src*=katex]")
    plain = site.page(b).css_first(".post-content")
    assert not plain.css("math")
    assert "$x^2 + y^2$" in plain.text()


def check_search_hidden(site: Site, a: str, b: str) -> None:
    assert "data-pagefind-body" not in site.page(a).css_first("article.post").attributes
    assert "data-pagefind-body" in site.page(b).css_first("article.post").attributes


def check_reading_time(site: Site, a: str, b: str) -> None:
    assert site.page(a).css_first(".reading-time").text(strip=True) == "1 min read"
    assert site.page(b).css_first(".reading-time") is None


def check_word_count(site: Site, a: str, b: str) -> None:
    words = site.page(a).css_first(".word-count").text(strip=True)
    assert words.endswith(" words") and 30 < int(words.split()[0]) < 80
    assert site.page(b).css_first(".word-count") is None


def check_post_nav(site: Site, a: str, b: str) -> None:
    nav = site.page(a).css_first("nav.post-nav")
    assert nav is not None
    assert nav.css_first("a[rel=prev]") is not None or nav.css_first("a[rel=next]") is not None
    assert site.page(b).css_first("nav.post-nav") is None


def check_copy_buttons(site: Site, a: str, b: str) -> None:
    on = site.page(a)
    assert len(on.css(".code-block button.copy-code")) == 1
    assert on.css_first('script[src*="code-copy"]') is not None
    off = site.page(b)
    assert off.css_first(".code-block") is not None and off.css_first("button.copy-code") is None
    assert off.css_first('script[src*="code-copy"]') is None


def check_use_hugo_toc(site: Site, a: str, b: str) -> None:
    hugo_toc = site.page(a).css_first("details.toc nav#TableOfContents")
    assert [x.text() for x in hugo_toc.css("a")] == ["First section", "A subsection", "Second section"]
    own = site.page(b).css_first("details.toc nav.toc-own")
    assert own.css_first("ol") is not None and site.page(b).css_first("#TableOfContents") is None
    assert [x.text() for x in own.css("a")] == ["First section", "A subsection", "Second section"]


def check_toc_open(site: Site, a: str, b: str) -> None:
    assert "open" in site.page(a).css_first("details.toc").attributes
    assert "open" not in site.page(b).css_first("details.toc").attributes


def check_cover_image(site: Site, a: str, b: str) -> None:
    img = site.page(a).css_first("figure.cover img")
    assert img.attributes["src"].startswith(f"/blog/{a}/")
    assert site.page(a).css_first('meta[property="og:image"]').attributes["content"].startswith("https://")
    assert site.page(a).css_first('meta[name="twitter:card"]').attributes["content"] == "summary_large_image"
    assert site.page(b).css_first('meta[name="twitter:card"]').attributes["content"] == "summary"
    assert site.entry(a).css_first("figure.cover img") is not None
    assert site.page(b).css_first("figure.cover") is None
    assert site.entry(b).css_first("figure.cover") is None


def check_cover_alt(site: Site, a: str, b: str) -> None:
    assert site.page(a).css_first("figure.cover img").attributes["alt"] == "A <gradient> cover"
    plain = site.page(b).css_first("figure.cover img").attributes
    assert "alt" in plain and not plain["alt"], "an empty alt, not a missing one"  # minified: a bare `alt`


def check_cover_caption(site: Site, a: str, b: str) -> None:
    caption = site.page(a).css_first("figure.cover figcaption")
    assert " ".join(caption.text().split()) == "Made by a test" and caption.css_first("em") is not None
    assert site.page(b).css_first("figure.cover figcaption") is None


def check_cover_relative(site: Site, a: str, b: str) -> None:
    # relative: the bundle's file, with its intrinsic size; not relative: a site path, as written.
    img = site.page(a).css_first("figure.cover img")
    assert img.attributes["src"] == f"/blog/{a}/cover.png"
    assert (img.attributes["width"], img.attributes["height"]) == ("1600", "900")
    other = site.page(b).css_first("figure.cover img")
    assert other.attributes["src"] == "/images/cover.png"
    assert "width" not in other.attributes


def check_cover_responsive(site: Site, a: str, b: str) -> None:
    img = site.page(a).css_first("figure.cover img")
    candidates = [c.strip().split() for c in img.attributes["srcset"].split(",")]
    assert [w for _, w in candidates] == ["480w", "720w", "960w", "1200w"]
    assert all(url.endswith(".webp") and (site.root / url.lstrip("/")).is_file() for url, _ in candidates)
    assert (img.attributes["width"], img.attributes["height"]) == ("1200", "675")
    plain = site.page(b).css_first("figure.cover img")
    assert "srcset" not in plain.attributes and plain.attributes["src"].endswith("/cover.png")


def check_cover_hidden(site: Site, a: str, b: str) -> None:
    assert site.page(a).css_first("figure.cover") is None
    assert site.entry(a).css_first("figure.cover img") is not None, "lists still show a hidden cover"
    assert site.page(b).css_first("figure.cover img") is not None


def _backdrop_style(site: Site, slug: str) -> str | None:
    backdrop = site.page(slug).css_first("header.post-header .post-header-backdrop")
    # Compare without spaces and quotes: the minifier rewrites the style attribute.
    return None if backdrop is None else backdrop.attributes["style"].replace(" ", "").replace('"', "")


def check_header_background(site: Site, a: str, b: str) -> None:
    assert "background:#334155" in _backdrop_style(site, a)
    assert "has-backdrop" in site.page(a).css_first("header.post-header").attributes["class"]
    assert _backdrop_style(site, b) is None


def check_header_background_image(site: Site, a: str, b: str) -> None:
    assert f"background-image:url(/blog/{a}/header.png)" in _backdrop_style(site, a)
    assert _backdrop_style(site, b) is None


def _header_class(name: str) -> Check:
    def check(site: Site, a: str, b: str) -> None:
        assert name in site.page(a).css_first("header.post-header").attributes["class"].split()
        assert name not in site.page(b).css_first("header.post-header").attributes["class"].split()
    return check


COVER = {"image": "cover.png", "relative": True}
HEADER = {"background_image": "header.png"}

CASES: dict[str, Case] = {
    "title": Case({"title": "Alpha <Title> & Co"}, {"title": "Beta title"}, check_title),
    "date": Case({"date": "2021-03-05T10:00:00+08:00"}, {"date": "2019-11-20T09:30:00+08:00"}, check_date),
    "weight": Case({"weight": 1, "date": "2001-01-01T00:00:00+08:00"}, {}, check_weight),
    "aliases": Case({"aliases": ["/old-alias-a/"]}, {}, check_aliases),
    "tags": Case({"tags": ["Research", "MoE Models"]}, {}, check_tags),
    "draft": Case({"draft": True}, {"draft": False}, check_draft),
    "comments": Case({"comments": True}, {"comments": False}, _present('section#comments a[href="https://github.com/QwenLM"]', "a")),
    "description": Case({"description": "A hand-written description."}, {}, check_description),
    "disable_share": Case({"disable_share": True}, {"disable_share": False}, check_disable_share),
    "hide_meta": Case({"hide_meta": True}, {"hide_meta": False}, check_hide_meta),
    "hide_summary": Case({"hide_summary": True}, {"hide_summary": False}, check_hide_summary),
    "hide_footer": Case({"hide_footer": True}, {"hide_footer": False}, _present("footer.post-footer", "b")),
    "math": Case({"math": True}, {"math": False}, check_math),
    "search_hidden": Case({"search_hidden": True}, {"search_hidden": False}, check_search_hidden),
    "show_reading_time": Case({"show_reading_time": True}, {"show_reading_time": False}, check_reading_time),
    "show_bread_crumbs": Case({"show_bread_crumbs": True}, {"show_bread_crumbs": False},
                              _present("nav.breadcrumbs", "a")),
    "show_post_nav_links": Case({"show_post_nav_links": True}, {"show_post_nav_links": False}, check_post_nav),
    "show_code_copy_buttons": Case({"show_code_copy_buttons": True}, {"show_code_copy_buttons": False},
                                   check_copy_buttons),
    "show_word_count": Case({"show_word_count": True}, {"show_word_count": False}, check_word_count),
    "use_hugo_toc": Case({"use_hugo_toc": True}, {"use_hugo_toc": False}, check_use_hugo_toc),
    "show_toc": Case({"show_toc": True}, {"show_toc": False}, _present("details.toc", "a")),
    "toc_open": Case({"toc_open": True}, {"toc_open": False}, check_toc_open),
    "cover.image": Case({"cover": COVER}, {}, check_cover_image, files=("cover.png",)),
    "cover.alt": Case({"cover": {**COVER, "alt": "A <gradient> cover"}}, {"cover": COVER}, check_cover_alt,
                      files=("cover.png",)),
    "cover.caption": Case({"cover": {**COVER, "caption": "Made by *a test*"}}, {"cover": COVER},
                          check_cover_caption, files=("cover.png",)),
    "cover.relative": Case({"cover": COVER}, {"cover": {"image": "/images/cover.png", "relative": False}},
                           check_cover_relative, files=("cover.png",)),
    "cover.responsive_images": Case({"cover": {**COVER, "responsive_images": True}},
                                    {"cover": {**COVER, "responsive_images": False}},
                                    check_cover_responsive, files=("cover.png",)),
    "cover.hidden": Case({"cover": {**COVER, "hidden": True}}, {"cover": {**COVER, "hidden": False}},
                         check_cover_hidden, files=("cover.png",)),
    "header.background": Case({"header": {"background": "#334155"}}, {}, check_header_background),
    "header.background_image": Case({"header": HEADER}, {}, check_header_background_image, files=("header.png",)),
    "header.gradient": Case({"header": {**HEADER, "gradient": True}}, {"header": {**HEADER, "gradient": False}},
                            _header_class("has-gradient"), files=("header.png",)),
    "header.blur": Case({"header": {**HEADER, "blur": True}}, {"header": {**HEADER, "blur": False}},
                        _header_class("has-blur"), files=("header.png",)),
}


def schema_key_paths() -> list[str]:
    """Every key of the schema, children as parent.child."""
    paths = []
    for key in POST_KEYS:
        if key.children:
            paths += [f"{key.name}.{child.name}" for child in key.children]
        else:
            paths.append(key.name)
    return paths


def slug_of(key_path: str, variant: str) -> str:
    return f"fm-{key_path.replace('.', '-').replace('_', '-')}-{variant}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A copy of the project whose blog holds only the generated a/b posts, built once with Hugo."""
    root = copy_project(tmp_path_factory.mktemp("frontmatter") / "project")
    shutil.rmtree(root / "content" / "blog" / "qwen2.5-max")
    for n, (key_path, case) in enumerate(sorted(CASES.items())):
        for variant, overrides in (("a", case.a), ("b", case.b)):
            slug = slug_of(key_path, variant)
            bundle = root / "content" / "blog" / slug
            bundle.mkdir(parents=True)
            # Distinct dates keep the list order stable; b is a day after a.
            front = {"title": f"Post {slug}", "date": f"2024-01-{1 + n % 28:02d}T{10 if variant == 'a' else 11}:00:00+08:00"}
            front.update(overrides)
            (bundle / "index.md").write_text("---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False)
                                             + "---\n" + BODY, encoding="utf-8")
            for name in case.files:
                write_png(bundle / name, 1600, 900)
    # A date without an offset is read in hugo.yaml's timeZone (Asia/Shanghai).
    local = root / "content" / "blog" / "fm-local-date"
    local.mkdir()
    (local / "index.md").write_text("---\ntitle: Local date\ndate: 2024-06-01T23:30:00\n---\n" + BODY, encoding="utf-8")
    build(BuildOptions(source=root, destination=root / "public"))
    return Site(root / "public")


def test_every_schema_key_has_a_case():
    assert sorted(schema_key_paths()) == sorted(CASES), "each front-matter key needs a case in CASES"


@pytest.mark.parametrize("key_path", schema_key_paths())
def test_front_matter_key_has_effect(site: Site, key_path: str):
    case = CASES.get(key_path)
    assert case is not None, f"no test for front-matter key {key_path!r}: add it to CASES"
    case.check(site, slug_of(key_path, "a"), slug_of(key_path, "b"))


@pytest.mark.parametrize("key_path", sorted(CASES))
def test_each_check_tells_the_two_values_apart(site: Site, key_path: str):
    """A check that also passed with a and b swapped could not catch a key without effect."""
    # A missing element surfaces as None.attribute / missing key errors rather than an assert.
    with pytest.raises((AssertionError, AttributeError, KeyError, TypeError)):
        CASES[key_path].check(site, slug_of(key_path, "b"), slug_of(key_path, "a"))


def test_site_defaults_apply_without_front_matter(site: Site):
    """A post that sets none of the switches gets hugo.yaml's params defaults."""
    page = site.page(slug_of("aliases", "b"))  # sets nothing but title and date
    assert page.css_first("nav.breadcrumbs") is not None          # show_bread_crumbs: true
    assert page.css_first(".reading-time") is not None            # show_reading_time: true
    assert page.css_first(".word-count") is not None              # show_word_count: true
    assert page.css_first("details.toc nav.toc-own") is not None  # show_toc: true, use_hugo_toc: false
    assert "open" not in page.css_first("details.toc").attributes  # toc_open: false
    assert page.css_first(".share") is not None                    # disable_share: false
    assert page.css_first("section#comments") is None              # comments: false
    assert not page.css(".post-content math")                      # math: false


def test_long_lists_are_paginated(site: Site):
    """More posts than pagination.pagerSize: the home page links to older posts, and back."""
    first, second = site.home_pages()[:2]
    assert first.css_first("nav.pagination a[rel=next]").attributes["href"] == "/page/2/"
    assert first.css_first("nav.pagination a[rel=prev]") is None
    assert second.css_first("nav.pagination a[rel=prev]").attributes["href"] == "/"
    assert len(first.css("article.post-entry")) == 10


def test_drafts_build_shows_the_draft_marked_and_unindexed(tmp_path: Path):
    """`invoke build --drafts` includes a draft, marked as one and kept out of search engines."""
    root = copy_project(tmp_path / "project", with_content=False)
    bundle = root / "content" / "blog" / "wip"
    bundle.mkdir(parents=True)
    (bundle / "index.md").write_text("---\ntitle: Work in progress\ndate: 2024-01-01T00:00:00Z\ndraft: true\n---\n"
                                     + BODY, encoding="utf-8")
    build(BuildOptions(source=root, destination=root / "public", drafts=True))
    page = HTMLParser((root / "public" / "blog" / "wip" / "index.html").read_text(encoding="utf-8"))
    assert page.css_first(".post-header .draft-badge").text() == "Draft"
    assert page.css_first('meta[name="robots"]').attributes["content"] == "noindex"


def test_dates_without_offset_are_in_the_sites_time_zone(site: Site):
    time = site.page("fm-local-date").css_first(".post-meta time")
    assert time.attributes["datetime"] == "2024-06-01T23:30:00+08:00"
    assert time.text() == "June 1, 2024"


def test_writing_guide_documents_every_front_matter_key():
    guide = (ROOT / "docs" / "writing.md").read_text(encoding="utf-8")
    section = guide.split("\n## Front matter\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip().strip("`") for line in section.splitlines() if line.startswith("| `")}
    missing = [k for k in schema_key_paths() if k not in rows]
    assert not missing, f"docs/writing.md's front-matter table lacks {missing}"
