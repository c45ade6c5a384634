"""Math on `math: true` pages as the old blog's KaTeX auto-render found it: its delimiters, spaces inside,
TeX written with Markdown escapes, and what stays text (prices, a lone dollar); rendered to MathML by real
Hugo at build time."""
from __future__ import annotations

from pathlib import Path

import pytest

from scripts.site.hugo import BuildOptions, build
from tests.conftest import HTMLParser, copy_project

MATH = r"""---
title: "Sums of cubes"
date: 2024-07-01T10:00:00+08:00
math: true
---

Spaced: $ x_1, x_2, \ldots, x_t $. Open: $ 2022$ Martians. Tight: $t$.

Escaped: $\\{y_i\\}\_{i=1}^G$ and $\widehat{A}\_{i}$ with a thin space $a\,b$.

Parentheses: \(p+q\) and, escaped for Markdown, \\(r+s\\).

A ticket costs $5 and a guide $10. A lone $3 stays too, and so does \$4 with \$ written out.

$$
\begin{aligned}
a &= 1, \\\\
b &= 2
\end{aligned}
$$

\\[
\sum_{k=1}^{n} k
\\]
"""

PLAIN = r"""---
title: "No math here"
date: 2024-07-02T10:00:00+08:00
---

Costs $x$ and $y$ are just text.
"""


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("math") / "project", with_content=False)
    for slug, text in (("cubes", MATH), ("plain", PLAIN)):
        (root / "content" / "blog" / slug).mkdir(parents=True)
        (root / "content" / "blog" / slug / "index.md").write_text(text, encoding="utf-8")
    build(BuildOptions(source=root, destination=root / "public"))
    return root / "public"


@pytest.fixture(scope="module")
def page(public: Path) -> HTMLParser:
    return HTMLParser((public / "blog" / "cubes" / "index.html").read_text(encoding="utf-8"))


def tex(page: HTMLParser) -> list[str]:
    """The TeX of each formula, in order, as KaTeX was given it (MathML keeps it as an annotation)."""
    return [a.text().strip() for a in page.css(".post-content math annotation")]


def test_every_delimiter_and_spacing_renders(page):
    found = tex(page)
    for expected in (r"x_1, x_2, \ldots, x_t", "2022", "t", "p+q", "r+s"):
        assert expected in found, (expected, found)


def test_markdown_escapes_are_resolved_but_tex_spacing_kept(page):
    found = tex(page)
    assert r"\{y_i\}_{i=1}^G" in found
    assert r"\widehat{A}_{i}" in found
    assert r"a\,b" in found


def test_display_math_from_dollars_and_escaped_brackets(page):
    blocks = page.css(".post-content .math-display math")
    assert [m.attributes.get("display") for m in blocks] == ["block", "block"]
    aligned = blocks[0].css_first("annotation").text()
    assert "a &= 1, \\\\\n" in aligned, "\\\\\\\\ in Markdown is the TeX line break \\\\"
    assert blocks[0].css_first("mtable") is not None
    assert blocks[1].css_first("annotation").text().strip() == r"\sum_{k=1}^{n} k"


def test_prices_and_a_lone_dollar_stay_text(page):
    prose = page.css(".post-content p")[3].text()
    assert prose == "A ticket costs $5 and a guide $10. A lone $3 stays too, and so does $4 with $ written out."
    assert not page.css(".post-content p")[3].css("math")


def test_no_math_without_math_true(public):
    plain = HTMLParser((public / "blog" / "plain" / "index.html").read_text(encoding="utf-8"))
    assert plain.css_first(".post-content p").text() == "Costs $x$ and $y$ are just text."
    assert not plain.css("math")
