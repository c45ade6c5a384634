"""Figures and the room they keep before their image arrives: a remote image of unknown size is marked
`unsized` for the stylesheet's fixed box; data/remote_images.yaml gives remote images their real size.
(How a browser lays them out is in tests/browser/test_figures.py.)"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from scripts.errors import CheckFailed
from scripts.site.hugo import BuildOptions, build
from tests.conftest import HTMLParser, copy_project, parse
from tests.images import write_png

REMOTE = "https://qianwen-res.oss-cn-beijing.aliyuncs.com/"
POSTS = ("blog/qwen2.5-max/index.html", "zh/blog/qwen2.5-max/index.html")


def css_text(site: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in (site / "css").glob("*.css"))


def test_the_announcements_remote_figures_are_marked_unsized(built_site: Path):
    for post in POSTS:
        images = parse(built_site / post).css(".post-content figure img")
        assert [img.attributes["src"].removeprefix(REMOTE) for img in images] == [
            "Qwen2.5-max-banner.png", "Qwen2.5-max-instruct.jpg", "Qwen2.5-Max.jpeg"], post
        for img in images:
            assert img.attributes.get("class") == "unsized"
            assert "width" not in img.attributes and "height" not in img.attributes, "no guessed size"
            assert img.attributes["style"].replace(" ", "") == "width:100%", "the author's width is kept"


def test_the_stylesheet_keeps_a_16_9_box_for_unsized_figures(built_site: Path):
    css = css_text(built_site)
    rule = re.search(r"figure img\.unsized\{([^}]*)\}", css)
    assert rule, "no rule for unsized figure images"
    declarations = set(rule.group(1).split(";"))
    assert {"aspect-ratio:16/9", "object-fit:scale-down"} <= declarations
    assert "figure img.unsized:not([width]){width:100%}" in css


POST = f"""---
title: Sizes
date: 2024-05-01T10:00:00+08:00
---

{{{{< figure src="{REMOTE}known.png" width="100%" >}}}}

{{{{< figure src="{REMOTE}known.png" width="600" >}}}}

{{{{< figure src="{REMOTE}unknown.png" >}}}}

{{{{< figure src="chart.png" >}}}}

![A known remote image]({REMOTE}known.png) and ![an unknown one]({REMOTE}unknown.png)
"""


def project_with_sizes(root: Path, data: str) -> Path:
    copy_project(root)
    bundle = root / "content" / "blog" / "sizes"
    bundle.mkdir(parents=True)
    (bundle / "index.md").write_text(POST, encoding="utf-8")
    write_png(bundle / "chart.png", 800, 400)
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "remote_images.yaml").write_text(data, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def sizes_page(tmp_path_factory: pytest.TempPathFactory) -> HTMLParser:
    root = project_with_sizes(tmp_path_factory.mktemp("sizes") / "project",
                              f'"{REMOTE}known.png": {{width: 2000, height: 500}}\n')
    build(BuildOptions(source=root, destination=root / "public"))
    return parse(root / "public" / "blog" / "sizes" / "index.html")


def test_a_remote_figure_listed_in_data_gets_its_width_and_height(sizes_page):
    full, scaled, unknown, bundle = [f.css_first("img") for f in sizes_page.css(".post-content figure")]
    assert (full.attributes["width"], full.attributes["height"]) == ("2000", "500")
    assert full.attributes["style"].replace(" ", "") == "width:100%"
    assert "class" not in full.attributes
    assert (scaled.attributes["width"], scaled.attributes["height"]) == ("600", "150"), "a width alone keeps its proportions"
    assert unknown.attributes.get("class") == "unsized" and "width" not in unknown.attributes
    assert (bundle.attributes["width"], bundle.attributes["height"]) == ("800", "400")
    assert "class" not in bundle.attributes


def test_a_remote_markdown_image_listed_in_data_gets_its_width_and_height(sizes_page):
    known = sizes_page.css_first('.post-content p img[alt="A known remote image"]')
    assert (known.attributes["width"], known.attributes["height"]) == ("2000", "500")
    unknown = sizes_page.css_first('.post-content p img[alt="an unknown one"]')
    assert "width" not in unknown.attributes and "class" not in unknown.attributes


@pytest.mark.parametrize("entry", ["{width: 2000}", "{width: 0, height: 500}", "{width: wide, height: 500}",
                                   "{width: 20.5, height: 500}"])
def test_a_bad_size_in_data_fails_the_build(tmp_path: Path, entry: str):
    root = project_with_sizes(tmp_path / "project", f'"{REMOTE}known.png": {entry}\n')
    with pytest.raises(CheckFailed) as err:
        build(BuildOptions(source=root, destination=root / "public"))
    assert f"data/remote_images.yaml: {REMOTE}known.png: width and height must be positive whole numbers" in str(err.value)
