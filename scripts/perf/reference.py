"""A reference for the benchmark: the same generated content rendered by a theme checkout (PaperMod, the
theme most Hugo blogs use) instead of our layouts. The project does not ship the theme; `invoke bench
--reference-theme PATH` points at a checkout.

The reference project holds a copy of the content and static files, our hugo.yaml, and reference.yaml on top
of it (Hugo merges `--config hugo.yaml,reference.yaml`, the later file winning): the theme, the home
page's JSON output (the search index such themes build with Hugo), and PaperMod's switches for the parts
of a post our layouts draw, so that both render a like page. A shortcode our content uses that neither
the theme nor Hugo has gets a stand-in: it prints the inner content of one that is closed, nothing otherwise
(Hugo insists that a shortcode whose template reads .Inner is closed, and that one whose template does not
is not).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from scripts.errors import UsageError

CONFIG_FILES = "hugo.yaml,reference.yaml"
REFERENCE_CONFIG = """\
# The benchmark's reference build: {theme} in place of our layouts, with the home page's JSON search index.
theme: {theme}
themesDir: {themes_dir}
outputs:
  home: [html, rss, json]
# What our layouts draw on a post, under the names PaperMod reads: without them the reference would
# leave out reading time, word count, table of contents, breadcrumbs, copy buttons, post links, sharing.
params:
  ShowReadingTime: true
  ShowWordCount: true
  ShowToc: true
  ShowBreadCrumbs: true
  ShowCodeCopyButtons: true
  ShowPostNavLinks: true
  ShowShareButtons: true
"""
STANDIN = "{{- /* Stand-in: the reference theme has no such shortcode. */ -}}\n"
STANDIN_INNER = STANDIN + "{{- .Inner -}}\n"
SHORTCODE_USE = re.compile(r"\{\{[<%]\s*(/?)\s*([A-Za-z][\w-]*)")
HUGO_SHORTCODES = frozenset({"comment", "details", "figure", "gist", "highlight", "instagram", "param", "qr",
                             "ref", "relref", "vimeo", "x", "youtube"})


def make_reference_project(project: Path, theme: Path, dest: Path) -> Path:
    """The reference project for `project`'s content and `theme`, written into `dest` (must not exist)."""
    theme = theme.resolve()
    if not (theme / "layouts").is_dir():
        raise UsageError(f"--reference-theme {theme}: not a Hugo theme checkout (no layouts/ in it)")
    dest.mkdir(parents=True)
    shutil.copytree(project / "content", dest / "content")
    if (project / "static").is_dir():
        shutil.copytree(project / "static", dest / "static")
    shutil.copy2(project / "hugo.yaml", dest / "hugo.yaml")
    (dest / "reference.yaml").write_text(REFERENCE_CONFIG.format(theme=_quoted(theme.name),
                                                                 themes_dir=_quoted(str(theme.parent))),
                                         encoding="utf-8")
    for name, closed in sorted(missing_shortcodes(dest / "content", theme).items()):
        standin = dest / "layouts" / "_shortcodes" / f"{name}.html"
        standin.parent.mkdir(parents=True, exist_ok=True)
        standin.write_text(STANDIN_INNER if closed else STANDIN, encoding="utf-8")
    return dest


def missing_shortcodes(content: Path, theme: Path) -> dict[str, bool]:
    """Shortcodes used in `content` that neither `theme` (either template layout) nor Hugo itself provides,
    each with whether it is used with a closing tag."""
    closed: dict[str, bool] = {}
    for page in content.rglob("*.md"):
        for slash, name in SHORTCODE_USE.findall(page.read_text(encoding="utf-8")):
            closed[name] = closed.get(name, False) or slash == "/"
    provided = {path.stem.split(".")[0] for folder in ("_shortcodes", "shortcodes")
                for path in (theme / "layouts" / folder).glob("*.*")}
    return {name: is_closed for name, is_closed in closed.items() if name not in provided | HUGO_SHORTCODES}


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
