"""`invoke lint` on shortcode calls: each call read as Hugo reads it, checked against the shortcodes the
site's templates define (read when lint starts) and the parameters schema.SHORTCODES lists, and every
problem reported in one run. One test builds each case with real Hugo to hold lint to it."""
from __future__ import annotations

import re
from pathlib import Path

from scripts.content.lint import lint_content
from scripts.content.schema import SHORTCODES
from tests.conftest import ROOT
from tests.content.test_lint import NOW, found, lint, post


def test_shortcodes_with_unknown_or_missing_parameters(site: Path):
    body = "\n".join([
        '{{< figure src="a.png" alt="A" caption="c" title="t" link="/" target="_blank" width="100%" '
        'height="3" class="x" >}}',  # 6: fine
        '{{< figure scr="a.png" >}}',  # 7: typo, and src missing
        '{{< button href="https://x" label="X" external=true >}}',  # 8: fine
        '{{< button href="https://x" >}}',  # 9: no label
        '{{% button label="Y" colour=red %}}',  # 10: no href, unknown colour
        '{{< figure "a.png" >}}',  # 11: positional, and src missing
        '{{</* figure nonsense="1" */>}}',  # 12: escaped: shown, not run
        '{{< param title >}}',  # 13: Hugo's own, which this site uses
        '{{< button href="h"',  # 14-15: a call over two lines
        '   label="L" lable="typo" >}}',
        '{{< figure src="a.png" caption="a >}} in quotes" >}}',  # 16: fine
    ])
    post(site, "blog/p/index.md", body=body)
    f = "content/blog/p/index.md"
    assert found(lint(site)) == [
        (f, 7, "error", 'shortcode "figure" needs the parameter "src"'),
        (f, 7, "error", 'unknown parameter of shortcode "figure" "scr" (did you mean "src"?)'),
        (f, 9, "error", 'shortcode "button" needs the parameter "label"'),
        (f, 10, "error", 'shortcode "button" needs the parameter "href"'),
        (f, 10, "error", 'unknown parameter of shortcode "button" "colour"'),
        (f, 11, "error", 'shortcode "figure" needs the parameter "src"'),
        (f, 11, "error", 'shortcode "figure" takes named parameters only, not "a.png"'),
        (f, 14, "error", 'unknown parameter of shortcode "button" "lable" (did you mean "label"?)'),
    ]


BOX = '<div class="box">{{ .Inner }}</div>\n'  # a shortcode that takes content: calls must be closed
NOTE = "{{/* .Inner in a comment does not count, as in Hugo */}}<span>{{ .Get 0 }}</span>\n"


def test_every_unknown_unclosed_or_stray_shortcode_is_reported_in_one_run(site: Path):
    (site / "layouts" / "_shortcodes" / "box.html").write_text(BOX, encoding="utf-8")
    (site / "layouts" / "_shortcodes" / "note.html").write_text(NOTE, encoding="utf-8")
    post(site, "blog/a/index.md", body="\n".join([
        "{{< fgure src=\"a.png\" >}}",  # 6: a typo
        "{{< box >}}",  # 7: never closed
        "text",
        "{{< /note >}}",  # 9: note takes no content
        "{{< /box2 >}}",  # 10: closes nothing known (box2 is unknown, and reported only where it opens)
        "{{< youtube abc >}}",  # 11: Hugo's, left out here
    ]))
    post(site, "blog/b/index.md", body="\n".join([
        "{{< box >}}inner{{< /box >}}",  # 6: fine
        "{{< box />}}",  # 7: self-closed: fine
        "{{% box %}}",  # 8: opened...
        "{{% /box %}}",  # 9: ...and closed
        "{{< /box >}}",  # 10: closes nothing
        "{{< note \"x\" />}}",  # 11: takes no content, so no self-closing
        "{{< note a=\"1\" \"x\" >}}",  # 12: named and positional mixed
        "{{< note \"unterminated\"",  # 13: never reaches >}}
        "",
        "{{< highlight python >}}",  # 15: Hugo's own highlight takes content
        "x = 1",
        "{{< /highlight >}}",
        "```text",  # 18: Hugo runs shortcodes in code blocks too
        "{{< vdeo src=\"v.mp4\" >}}",  # 19
        "```",
        "{{</* vdeo */>}} is shown, not run",  # 21
        "{{< box >}}",  # 22: never closed
    ]))
    report = lint(site)
    assert [(f.path.split("/")[2], f.line, f.message) for f in report.findings] == [
        ("a", 6, 'unknown shortcode "fgure" (did you mean "figure"?)'),
        ("a", 7, '"box" is never closed: end its content with {{< /box >}}, or self-close the call (… />}})'),
        ("a", 9, '"note" takes no content, so it has no closing tag: remove {{< /note >}}'),
        ("a", 11, 'shortcode "youtube" is one of Hugo\'s that this site leaves out: it shows another site\'s '
                  "content, and builds here are offline and pages load nothing from other sites"),
        ("b", 10, '{{< /box >}} closes nothing: no "box" is open above it'),
        ("b", 11, '"note" takes no content, so it cannot be self-closed: remove the / before the closing braces'),
        ("b", 12, 'shortcode "note" mixes named and positional parameters (Hugo refuses the call)'),
        ("b", 13, 'the call of "note" is not closed with >}}'),
        ("b", 19, 'unknown shortcode "vdeo"' + (' (did you mean "video"?)' if (ROOT / "layouts" / "_shortcodes" /
                                                                         "video.html").exists() else "")
         + "; Hugo runs shortcodes inside code blocks too: write {{</* … */>}} to show one"),
        ("b", 22, '"box" is never closed: end its content with {{< /box >}}, or self-close the call (… />}})'),
    ]
    assert {f.level for f in report.findings} == {"error"}


def test_what_lint_refuses_hugo_refuses_and_what_it_accepts_hugo_builds(tmp_path: Path):
    """Lint's reading of shortcode calls agrees with real Hugo's, case by case."""
    from scripts.errors import CheckFailed
    from scripts.site.hugo import BuildOptions, build

    cases = {
        "closed": ("{{< box >}}x{{< /box >}}", True),
        "self-closed": ("{{< box />}}", True),
        "nested": ("{{< box >}}{{< box >}}x{{< /box >}}{{< /box >}}", True),
        "in-a-fence": ("```text\n{{< note \"shown\" >}}\n```", True),
        "escaped": ("{{</* nosuch */>}}", True),
        "unclosed": ("{{< box >}}\nx", False),
        "stray": ("{{< /box >}}", False),
        "closed-without-content": ("{{< note \"x\" >}}y{{< /note >}}", False),
        "self-closed-without-content": ("{{< note \"x\" />}}", False),
        "unknown-in-a-fence": ("```text\n{{< nosuch >}}\n```", False),
        "unknown-in-a-comment": ("<!-- {{< nosuch >}} -->", False),
        "mixed-parameters": ("{{< note a=\"1\" \"x\" >}}", False),
    }
    verdicts = {}
    for name, (body, _) in cases.items():
        root = tmp_path / name
        (root / "layouts" / "_shortcodes").mkdir(parents=True)
        (root / "layouts" / "_shortcodes" / "box.html").write_text(BOX, encoding="utf-8")
        (root / "layouts" / "_shortcodes" / "note.html").write_text(NOTE, encoding="utf-8")
        (root / "layouts" / "single.html").write_text("{{ .Content }}", encoding="utf-8")
        (root / "hugo.yaml").write_text("baseURL: https://example.org/\ndisableKinds: [taxonomy, term, rss, sitemap, "
                                        "robotsTXT, 404, home, section]\n", encoding="utf-8")
        post(root, "p.md", 'title: "p"\ndate: 2025-01-01\n', body + "\n")
        linted = lint_content(root / "content", now=NOW).ok
        try:
            build(BuildOptions(source=root, destination=root / "public"))
            built = True
        except CheckFailed:  # Hugo refused the page
            built = False
        verdicts[name] = (linted, built)
    assert verdicts == {name: (ok, ok) for name, (_, ok) in cases.items()}


def test_the_shortcodes_lint_knows_are_read_from_the_templates_at_lint_time(tmp_path: Path):
    from scripts.content.shortcodes import available_shortcodes

    folder = tmp_path / "layouts" / "_shortcodes"
    (folder / "media").mkdir(parents=True)
    (folder / "box.html").write_text(BOX, encoding="utf-8")
    (folder / "note.en.html").write_text(NOTE, encoding="utf-8")  # a language variant names "note"
    (folder / "media" / "clip.html").write_text("{{ .InnerDeindent }}", encoding="utf-8")
    known = available_shortcodes(tmp_path)
    assert {name: known[name] for name in ("box", "note", "media/clip")} == {"box": True, "note": False,
                                                                              "media/clip": True}
    assert known["highlight"] is True and known["ref"] is False and "youtube" not in known


def test_the_shortcode_specs_are_what_the_templates_read():
    """One source of truth: each of our shortcodes reads exactly the parameters its spec lists, and every
    template has a spec. (A spec whose template is missing is an unknown shortcode to lint, as to Hugo.)"""
    templates = sorted((ROOT / "layouts" / "_shortcodes").glob("*.html"))
    assert {t.stem for t in templates} <= set(SHORTCODES)
    for template in templates:
        text = template.read_text(encoding="utf-8")
        read = set(re.findall(r'\.Get\s+"([A-Za-z_][\w-]*)"', text))
        assert read == set(SHORTCODES[template.stem].params), template.name
        positions = {int(n) for n in re.findall(r"\.Get\s+(\d+)", text)}
        assert len(SHORTCODES[template.stem].positional) == (max(positions) + 1 if positions else 0), template.name


def test_the_shortcode_specs_match_the_brief():
    assert SHORTCODES["figure"].required == ("src",)
    assert set(SHORTCODES["figure"].params) == {"src", "alt", "caption", "title", "link", "target", "width",
                                                "height", "class"}
    assert SHORTCODES["button"].required == ("href", "label")
    assert set(SHORTCODES["button"].params) == {"href", "label", "external"}
    # The old blog's (issue 17): video also takes its src as its one positional parameter.
    assert {"src", "controls", "loop", "autoplay", "poster", "title", "class"} <= set(SHORTCODES["video"].params)
    assert SHORTCODES["video"].positional == ("src",)
    assert SHORTCODES["fullwidth"].params == ("class",)
    for name in ("example", "example_audio"):
        assert set(SHORTCODES[name].params) == {"data", "next", "hide", "scroll"}
    assert SHORTCODES["rawhtml"].params == ()
