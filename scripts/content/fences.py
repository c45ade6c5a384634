"""The fenced code blocks of a flat Markdown body, found line by line instead of by a Markdown parse.

Flat: no line opens a list, block quote or HTML block, or indents with a tab. In such a body CommonMark's
fence rules are line-local: an opener is up to 3 spaces, then 3 or more backticks (info without
backticks) or tildes; the fence runs to a line of up to 3 spaces and the same character, at least as
many, then only spaces and tabs, or to the end of the body; the opener's indentation is taken off each
code line. Nearly every post is flat, and a line scan costs far less than a markdown-it parse. `invoke lint`
(bare fences) and `invoke check-snippets` (the code) both use it; tests/content/test_fences.py holds it
to markdown-it.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

LINE_BREAKS = re.compile(r"\r\n?")
# Lines that open a container or an HTML block (list item, block quote, `<…`) or indent with a tab: only a
# parser knows what a fence means after them. Matched against "\n" + body + "\n": a literal first
# character lets the regex engine skip ahead.
NOT_FLAT = re.compile(r"\n(?: {0,3}(?:[-+*]|\d{1,9}[.)])[ \t\n]| {0,3}[<>]| *\t)")
FENCE_LINE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$", re.MULTILINE)
INDENTED_LINE = re.compile(r"^ {4,}[^ \n]", re.MULTILINE)


@dataclass(frozen=True)
class Fence:
    """One fenced code block: the 1-based line of its opener, its info string and its code."""

    line: int
    info: str
    code: str


@dataclass(frozen=True)
class FlatScan:
    """The fences of a flat body. `indented_outside` is true when a line indented four spaces or more lies
    outside every fence: it may belong to an indented code block, which this scan does not find."""

    fences: list[Fence]
    indented_outside: bool


def normalize(body: str) -> str:
    """As markdown-it normalises a source: CR LF and a lone CR end lines too, and NUL becomes U+FFFD."""
    return LINE_BREAKS.sub("\n", body).replace("\0", "\ufffd")


def scan_flat(body: str) -> FlatScan | None:
    """The fences of `body` if it is flat, else None (ask a Markdown parser)."""
    body = normalize(body)
    if NOT_FLAT.search(f"\n{body}\n"):
        return None
    fences: list[Fence] = []
    spans: list[tuple[int, int]] = []  # where fences are, opener to closer
    opener: re.Match[str] | None = None
    opener_line = line = last = 0
    for found in FENCE_LINE.finditer(body):
        line += body.count("\n", last, found.start())
        last = found.start()
        marker, rest = found.group(2), found.group(3)
        if opener is None:
            if not (marker[0] == "`" and "`" in rest):  # a backtick fence's info cannot hold a backtick
                opener, opener_line = found, line
            continue
        if marker[0] == opener.group(2)[0] and len(marker) >= len(opener.group(2)) and not rest.strip(" \t"):
            fences.append(_fence(body, opener, opener_line, found.start()))
            spans.append((opener.start(), found.end()))
            opener = None
    if opener is not None:  # an unclosed fence runs to the end of the body
        fences.append(_fence(body, opener, opener_line, len(body)))
        spans.append((opener.start(), len(body)))
    starts = [start for start, _ in spans]
    indented_outside = False
    for indented in INDENTED_LINE.finditer(body):
        at = bisect.bisect_right(starts, indented.start()) - 1
        if at < 0 or indented.start() >= spans[at][1]:
            indented_outside = True
            break
    return FlatScan(fences, indented_outside)


def _fence(body: str, opener: re.Match[str], line: int, end: int) -> Fence:
    code = body[opener.end() + 1:end]
    indent = len(opener.group(1))
    if indent:  # the opener's indentation comes off each line, as far as the line has it
        code = "\n".join(text[min(indent, len(text) - len(text.lstrip(" "))):] for text in code.split("\n"))
    return Fence(line + 1, opener.group(3), code)
