"""The line scan for flat Markdown bodies (scripts/content/fences.py), which `invoke lint` and
`invoke check-snippets` use instead of a parse, held to markdown-it on random and real bodies."""
from __future__ import annotations

import random
import tempfile
from pathlib import Path

from markdown_it import MarkdownIt

from scripts.perf.corpus import generate_corpus
from scripts.content.fences import Fence, scan_flat
from tests.conftest import ROOT

# Lines that are, almost are, or break fences, and lines that make a body not flat.
LINES = ("```", "```python", "``` text ", "````", "`````", "~~~", "~~~ x", "~~~~", "   ```", "    ```", "  ```py",
         "  ~~~  ", "```a`b", "~~~a`b", "``", "```  ", "``` \t", "text", "", "# heading", "---", "```\r",
         "print(1)", "  two spaces", "    four spaces", "     five", "code ```", "= = =", "| a | b |", "```\x00",
         "\u3000```", "```\u3000", "[a]: /u 'b", "'", "\t```", "- item", "> quote", "<div>", "1. one", "***",
         "   ~~~~", "``` {check=false}", "  page\x0cbreak", "\u2028 ", "x\x00y")


def bodies() -> list[str]:
    rng = random.Random(20250128)
    found = ["\n".join(rng.choice(LINES) for _ in range(rng.randint(1, 14))) + rng.choice(["", "\n", "\r\n"])
             for _ in range(8000)]
    found += [p.read_text(encoding="utf-8") for p in (ROOT / "content").rglob("*.md")]
    with tempfile.TemporaryDirectory() as corpus:
        generate_corpus(Path(corpus) / "content", posts=6)
        found += [p.read_text(encoding="utf-8") for p in Path(corpus).rglob("*.md")]
    return found


def test_the_scan_finds_what_markdown_it_finds_on_every_body_it_accepts():
    parser = MarkdownIt("commonmark").disable("inline")
    accepted = without_indented = 0
    for body in bodies():
        scan = scan_flat(body)
        if scan is None:
            continue
        accepted += 1
        tokens = parser.parse(body)
        assert scan.fences == [Fence(t.map[0] + 1, t.info, t.content) for t in tokens if t.type == "fence"], repr(body)
        if not scan.indented_outside:
            without_indented += 1
            assert not [t for t in tokens if t.type == "code_block"], repr(body)
    # The random bodies must exercise both kinds of accepted body, not only the refusals.
    assert accepted > 3000 and without_indented > 1500, (accepted, without_indented)


def test_bodies_with_containers_are_refused():
    for body in ("- item\n\n  ```", "> ```", "<div>\n```\n</div>", "1. x\n```", "\t```", "+ a\n```"):
        assert scan_flat(body) is None, body


def test_a_line_indented_outside_the_fences_is_reported():
    assert scan_flat("text\n\n    code").indented_outside
    assert not scan_flat("```\n    inside a fence\n```").indented_outside
