"""Find the code blocks of a post with a real CommonMark parser, and the markers that steer their check.

Blocks are fenced code blocks, the code of Hugo's `{{< highlight LANG >}}` shortcode (Hugo expands
shortcodes before Markdown, so their inner text is taken out before parsing), and indented code blocks,
which have no language and are only counted (as `(indented)`, unchecked).

A block's `first_line` is the line of its first code line in the Markdown file (1-based, front matter
counted), so any error found at line k of the code is reported at `first_line + k - 1` of the post.

Markers (HTML comments, invisible on the page):
    <!-- snippet: skip -->        the next block is not checked
    <!-- snippet: no-run -->      the next (Python) block is compiled but not run
    <!-- snippet: setup           Python run before every Python block of the post;
    import os                     its names are visible to the blocks
    -->
and the fence attribute ```` ```python {check=false} ````, which works like `skip`.
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from scripts.content.fences import scan_flat

# Fence labels, as written, mapped to the language the checker knows them by.
LANGUAGES = {
    "python": "python", "py": "python", "python3": "python",
    "bash": "bash", "shell": "bash", "sh": "sh",
    "console": "console", "shell-session": "console",
    "json": "json",
    "yaml": "yaml", "yml": "yaml",
    "toml": "toml",
    "bibtex": "bibtex", "bib": "bibtex",
}
UNLABELLED = "(none)"
INDENTED = "(indented)"  # an indented code block: no language, never checked

MARKER = re.compile(r"<!--\s*snippet:\s*([\w-]+)(.*?)-->", re.DOTALL)
BIBTEX_START = re.compile(r"\s*@[A-Za-z]+\s*[{(]")
FENCE_ATTRIBUTES = re.compile(r"\{([^}]*)\}\s*$")
ATTRIBUTE = re.compile(r"""([\w-]+)\s*=\s*("[^"]*"|'[^']*'|[^,\s]+)""")
CONTAINER_OPENS = {"bullet_list_open", "ordered_list_open", "list_item_open", "blockquote_open"}
# {{< highlight LANG ["OPTIONS"] >}} … {{< /highlight >}}, also with {{% %}}; {{</* … */>}} is escaped text.
HIGHLIGHT_OPEN = re.compile(r"\{\{([<%])\s*highlight(?=[\s>%])(.*?)[>%]\}\}", re.DOTALL)
HIGHLIGHT_CLOSE = re.compile(r"\{\{[<%]\s*/highlight\s*[>%]\}\}")
SHORTCODE_ARG = re.compile(r'"[^"]*"|`[^`]*`|\S+')


@dataclass(frozen=True)
class Snippet:
    """One fenced code block."""

    path: Path
    label: str  # the info string's first word as written, "" when unlabelled
    language: str  # what it is checked as: a value of LANGUAGES, or the label / UNLABELLED when unchecked
    code: str
    first_line: int  # line of the first code line in the Markdown file
    skip: bool = False  # <!-- snippet: skip --> or {check=false}
    no_run: bool = False  # <!-- snippet: no-run -->


@dataclass(frozen=True)
class SetupCode:
    """A post's invisible setup block: Python whose first line sits at `first_line` of the post."""

    code: str
    first_line: int


@dataclass(frozen=True)
class MarkerProblem:
    """A marker that cannot be honoured (unknown name, nothing to apply to, second setup block)."""

    path: Path
    line: int
    message: str


@dataclass
class PostSnippets:
    """Everything the checker needs from one Markdown file."""

    path: Path
    snippets: list[Snippet] = field(default_factory=list)
    setup: SetupCode | None = None
    problems: list[MarkerProblem] = field(default_factory=list)


def markdown_files(content_dir: Path) -> list[Path]:
    """Every Markdown file under `content_dir`, in a stable order."""
    return sorted(p for p in content_dir.rglob("*.md") if p.is_file())


def blank_front_matter(text: str) -> str:
    """Replace YAML (---), TOML (+++) or JSON ({...}) front matter with empty lines, keeping line numbers."""
    lines = text.split("\n")
    if not lines:
        return text
    opener = lines[0].rstrip()
    closer = {"---": "---", "+++": "+++", "{": "}"}.get(opener)
    if closer is None:
        return text
    for end in range(1, len(lines)):
        if lines[end].rstrip() == closer:
            return "\n" * (end + 1) + "\n".join(lines[end + 1:])
    return text  # unterminated: Hugo will complain; leave the text to the parser


def parse_fence_info(info: str) -> tuple[str, dict[str, str]]:
    """The label and the {key=value} attributes of a fence's info string, e.g. 'python {check=false}'."""
    attributes: dict[str, str] = {}
    match = FENCE_ATTRIBUTES.search(info)
    if match:
        attributes = {k: v.strip("\"'") for k, v in ATTRIBUTE.findall(match.group(1))}
        info = info[: match.start()]
    words = info.split()
    return (words[0] if words else ""), attributes


def _language(label: str, code: str) -> str:
    if label:
        return LANGUAGES.get(label.lower(), label)
    return "bibtex" if BIBTEX_START.match(code) else UNLABELLED


def _setup_code(body: str, comment_line: int) -> SetupCode:
    # body is what follows "setup" up to "-->"; keep its first line (usually empty) so lines stay aligned.
    first, _, rest = body.partition("\n")
    code = first.strip() + "\n" + textwrap.dedent(rest) if rest else first.strip()
    return SetupCode(code=code, first_line=comment_line)


def block_parser() -> MarkdownIt:
    """A CommonMark parser that stops at block structure: fences and HTML blocks are all we read, and
    skipping inline parsing (emphasis, links, …) makes it about five times faster."""
    return MarkdownIt("commonmark").disable("inline")


@dataclass(frozen=True)
class _Block:
    """A block as the extraction sees it, from markdown-it, the flat scan or a highlight shortcode."""

    kind: str  # "fence", "highlight", "code_block", "html_block" or "other"
    line: int  # 1-based line where it starts
    content: str = ""
    info: str = ""


def take_highlights(body: str) -> tuple[str, list[_Block]]:
    """The body with every highlight shortcode's lines blanked (so line numbers stay), and the shortcodes
    as blocks: `info` is the language argument, `line` the line of the code's first line."""
    found: list[_Block] = []
    lines: list[str] | None = None
    position = 0
    while (opened := HIGHLIGHT_OPEN.search(body, position)) is not None:
        closed = HIGHLIGHT_CLOSE.search(body, opened.end())
        if closed is None:
            break  # Hugo refuses an unclosed highlight; nothing to take
        inner = body[opened.end():closed.start()]
        code = inner.lstrip("\r\n")
        first_line = body.count("\n", 0, opened.end()) + 1 + inner.count("\n", 0, len(inner) - len(code))
        code = textwrap.dedent(code.rstrip("\r\n"))  # as Hugo's .InnerDeindent, trimmed of newlines
        arguments = [a.strip('"`') for a in SHORTCODE_ARG.findall(opened.group(2))]
        found.append(_Block("highlight", first_line, code + "\n" if code else "", arguments[0] if arguments else ""))
        if lines is None:
            lines = body.split("\n")
        first, last = body.count("\n", 0, opened.start()), body.count("\n", 0, closed.end())
        lines[first:last + 1] = [""] * (last - first + 1)
        position = closed.end()
    return ("\n".join(lines) if lines is not None else body), found


def _flat_fences(body: str) -> list[_Block] | None:
    """The fences of a flat body (scripts/content/fences.py); None for any other body, or one with a
    line indented four spaces or more outside its fences (perhaps an indented code block): ask markdown-it."""
    scan = scan_flat(body)
    if scan is None or scan.indented_outside:
        return None
    return [_Block("fence", fence.line, fence.code, fence.info) for fence in scan.fences]


def _parsed_blocks(body: str, parser: MarkdownIt) -> list[_Block]:
    blocks = []
    line = 1
    for token in parser.parse(body):
        line = token.map[0] + 1 if token.map else line  # closing tokens have no map: they stay in place
        if token.type in ("fence", "code_block", "html_block"):
            blocks.append(_Block(token.type, line, token.content, token.info))
        elif token.type not in CONTAINER_OPENS:  # anything else (closing tokens too) ends a marker's reach
            blocks.append(_Block("other", line))
    return blocks


def extract_snippets(path: Path, text: str | None = None, *, parser: MarkdownIt | None = None) -> PostSnippets:
    """The code blocks, setup block and marker problems of one Markdown file."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    post = PostSnippets(path=path)
    body, highlights = take_highlights(blank_front_matter(text))
    blocks = _flat_fences(body)
    if blocks is None:
        blocks = _parsed_blocks(body, parser or block_parser())
    if highlights:
        blocks = sorted(blocks + highlights, key=lambda b: b.line)  # stable: a shortcode's lines are blank
    pending: tuple[str, int] | None = None  # a skip/no-run marker waiting for its block, and its line
    for block in blocks:
        if block.kind == "html_block":
            for match in MARKER.finditer(block.content):
                name = match.group(1)
                at = block.line + block.content.count("\n", 0, match.start())
                if name == "setup":
                    if post.setup is not None:
                        post.problems.append(MarkerProblem(path, at, "second setup block; a post has at most one"))
                    else:
                        post.setup = _setup_code(match.group(2), at)
                elif name in ("skip", "no-run"):
                    if pending is not None:
                        post.problems.append(MarkerProblem(path, pending[1], f"marker '{pending[0]}' is not "
                                                           "followed by a code block"))
                    pending = (name, at)
                else:
                    post.problems.append(MarkerProblem(path, at, f"unknown snippet marker '{name}' "
                                                       "(known: skip, no-run, setup)"))
            continue
        if block.kind == "other":
            if pending is not None:
                post.problems.append(MarkerProblem(path, pending[1], f"marker '{pending[0]}' is not followed by "
                                                   "a code block"))
                pending = None
            continue
        skip = pending is not None and pending[0] == "skip"
        no_run = pending is not None and pending[0] == "no-run"
        pending = None
        if block.kind == "code_block":
            post.snippets.append(Snippet(path=path, label="", language=INDENTED, code=block.content,
                                         first_line=block.line, skip=skip))
            continue
        if block.kind == "highlight":
            label, first_line, check = block.info, block.line, "true"
        else:
            label, attributes = parse_fence_info(block.info)
            first_line, check = block.line + 1, attributes.get("check", "true").lower()
            if check not in ("true", "false"):
                post.problems.append(MarkerProblem(path, block.line,
                                                   f"check={check}: expected check=true or check=false"))
        post.snippets.append(Snippet(
            path=path, label=label, language=_language(label, block.content), code=block.content,
            first_line=first_line, skip=skip or check == "false", no_run=no_run,
        ))
    if pending is not None:
        post.problems.append(MarkerProblem(path, pending[1], f"marker '{pending[0]}' is not followed by a code block"))
    return post
