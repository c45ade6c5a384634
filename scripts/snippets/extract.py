"""Find the code blocks of a post with a real CommonMark parser, and the markers that steer their check.

Blocks are fenced code blocks, the code of Hugo's `{{< highlight LANG >}}` shortcode (Hugo expands
shortcodes before Markdown, so their inner text is taken out before parsing), and indented code blocks,
which have no language and are only counted (as `(indented)`, unchecked).

`check_snippets` checks them all (scripts/snippets/formats.py for the parsed languages,
scripts/snippets/run.py for Python) and returns a SnippetReport.

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
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt

from scripts.errors import UsageError
from scripts.content.fences import scan_flat

if TYPE_CHECKING:
    from types import CodeType

    from scripts.snippets.formats import FormatOutcome

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


# ---------------------------------------------------------------------------------------------------------
# Checking

PARSED_CHECKS = ("json", "yaml", "toml", "bibtex")
SHELL_LANGUAGES = ("bash", "sh", "console")
CHECKED_LANGUAGES = ("python", *SHELL_LANGUAGES, *PARSED_CHECKS)
STATUSES = ("passed", "failed", "skipped", "unchecked")


@dataclass(frozen=True)
class SnippetResult:
    """What became of one block."""

    path: Path
    language: str
    first_line: int
    status: str  # one of STATUSES
    message: str = ""
    line: int | None = None  # the Markdown line of the error itself
    output: str = ""  # what a Python block printed
    # A Python block identical to one run before it (same code, same setup: typically one sample in a post
    # and its translation) is not run again: it takes that run's result, and this is where that block is.
    same_as: tuple[Path, int] | None = None


@dataclass(frozen=True)
class Finding:
    """A problem that belongs to a post rather than to one block (a marker, the setup block)."""

    path: Path
    line: int
    kind: str
    message: str


@dataclass
class SnippetReport:
    project_root: Path
    results: list[SnippetResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    network: str = ""  # how Python blocks were kept off the network: "namespace", "guard", "" (none ran)

    @property
    def failures(self) -> list[SnippetResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.findings

    def where(self, path: Path) -> str:
        """A path as the report shows it: relative to the project root when inside it."""
        try:
            return str(path.resolve().relative_to(self.project_root.resolve()))
        except ValueError:
            return str(path)

    def counts(self) -> dict[str, Counter[str]]:
        """Per language, how many blocks passed, failed, were skipped or are not checked at all."""
        table: dict[str, Counter[str]] = {}
        for result in self.results:
            table.setdefault(result.language, Counter())[result.status] += 1
        return table

    def problem_lines(self) -> list[str]:
        lines = [(self.where(f.path), f.line, f"{self.where(f.path)}:{f.line}: {f.kind}: {f.message}")
                 for f in self.findings]
        lines += [(self.where(r.path), r.line or r.first_line,
                   f"{self.where(r.path)}:{r.line or r.first_line}: {r.language}: {r.message}")
                  for r in self.failures]
        return [text for _, _, text in sorted(lines)]

    def render(self, *, verbose: bool = False) -> str:
        """The problems as `file:line: language: message`, then a table of counts per language."""
        out = self.problem_lines()
        if verbose:
            for r in self.results:
                if r.language == "python" and r.status == "passed" and r.output:
                    ran = f" (as {self.where(r.same_as[0])}:{r.same_as[1]}, run once for both)" if r.same_as else ""
                    out.append(f"{self.where(r.path)}:{r.first_line}: python: passed{ran}, printed:")
                    out += ["    " + line for line in r.output.rstrip("\n").split("\n")]
        if out:
            out.append("")
        counts = self.counts()
        ordered = [lang for lang in CHECKED_LANGUAGES if lang in counts] + sorted(
            lang for lang in counts if lang not in CHECKED_LANGUAGES)
        rows = [("language", "checked", "passed", "failed", "skipped", "unchecked")]
        total: Counter[str] = Counter()
        for lang in ordered:
            c = counts[lang]
            total.update(c)
            rows.append((lang, str(c["passed"] + c["failed"]), str(c["passed"]), str(c["failed"]), str(c["skipped"]),
                         str(c["unchecked"])))
        rows.append(("total", str(total["passed"] + total["failed"]), str(total["passed"]), str(total["failed"]),
                     str(total["skipped"]), str(total["unchecked"])))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            out.append("  ".join([row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]))
        checked = total["passed"] + total["failed"]
        problems = len(self.failures) + len(self.findings)
        repeats = sum(r.same_as is not None for r in self.results)
        if repeats:
            out.append(f"{repeats} Python block{'s' if repeats != 1 else ''} identical to another (code and setup) "
                       f"took its result instead of running again")
        verdict = "all pass" if self.ok else f"{problems} problem{'s' if problems != 1 else ''}"
        out.append(f"{checked} blocks checked in {self.files} Markdown files: {verdict}")
        if self.network == "guard":
            out.append("note: no network namespace was available (needs root or user namespaces), so only "
                       "Python's own sockets were kept to loopback; programs a block starts were not")
        return "\n".join(out)


def _check_parsed(language: str, code: str, first_line: int) -> "FormatOutcome":
    from scripts.snippets import formats

    check = {"json": formats.check_json, "yaml": formats.check_yaml, "toml": formats.check_toml,
             "bibtex": formats.check_bibtex}[language]
    return formats.within_block(check(code, first_line), code, first_line)


def _static_outcomes(snippets: list[Snippet], shellcheck: bool) -> list["FormatOutcome"]:
    from scripts.snippets.formats import ShellBlock, check_shell_blocks

    outcomes: dict[int, FormatOutcome] = {}
    shell = [(i, s) for i, s in enumerate(snippets) if s.language in SHELL_LANGUAGES]
    shell_outcomes = check_shell_blocks([ShellBlock(s.code, s.first_line, s.language) for _, s in shell],
                                        shellcheck=shellcheck)
    outcomes.update({i: o for (i, _), o in zip(shell, shell_outcomes)})
    for i, s in enumerate(snippets):
        if s.language in PARSED_CHECKS:
            outcomes[i] = _check_parsed(s.language, s.code, s.first_line)
    return [outcomes[i] for i in range(len(snippets))]


def check_snippets(content_dir: Path, *, project_root: Path, timeout: float | None = None,
                   workers: int | None = None, shellcheck: bool = True) -> SnippetReport:
    """Check every fenced code block of every Markdown file under `content_dir`.

    Python blocks are compiled, then run (each in its own process, `timeout` seconds each, default 10)
    against a local OpenAI-compatible stub, a block identical to one already run (code and setup) taking
    that run's result; shell blocks go through `bash -n` and ShellCheck; JSON, YAML,
    TOML and BibTeX are parsed; anything else is counted as unchecked.
    """
    from scripts.snippets.run import DEFAULT_TIMEOUT, PythonJob, PythonOutcome, PythonRunner, compile_block

    if not content_dir.is_dir():
        raise UsageError("content directory not found", path=content_dir)
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    if timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout:g}")
    report = SnippetReport(project_root=project_root)
    with PythonRunner(workers=workers, timeout=timeout) as runner:
        # The workers import the SDK while the posts are parsed.
        parser = block_parser()
        posts = [extract_snippets(path, parser=parser) for path in markdown_files(content_dir)]
        report.files = len(posts)
        for post in posts:
            report.findings += [Finding(p.path, p.line, "marker", p.message) for p in post.problems]
        snippets = [s for post in posts for s in post.snippets]
        setups = {post.path: post.setup for post in posts}
        root = content_dir.resolve()  # blocks are compiled with their file's absolute path, as tracebacks show
        filenames = {post.path: str(root / post.path.relative_to(content_dir)) for post in posts}
        results: dict[int, SnippetResult] = {}
        jobs: list[PythonJob] = []
        # A block runs once however often it appears: its result depends on nothing but its code and its
        # post's setup (each run gets an empty directory, the same environment and the same stub). The
        # announcement's sample appears in both languages, as a translated post's samples mostly do.
        first_run: dict[tuple[str, str | None], PythonJob] = {}
        repeats: list[tuple[PythonJob, PythonJob]] = []  # (a job not run, the identical job that is)
        compiled_setups: dict[Path, CodeType] = {}
        broken_setups: set[Path] = set()
        for post in posts:
            if post.setup is not None:
                compiled = compile_block(post.setup.code, post.setup.first_line, filenames[post.path])
                if isinstance(compiled, PythonOutcome):
                    broken_setups.add(post.path)
                    report.findings.append(Finding(post.path, compiled.line or post.setup.first_line, "python",
                                                   f"setup block: {compiled.message}"))
                else:
                    compiled_setups[post.path] = compiled
        static_indexes = []
        for i, s in enumerate(snippets):
            if s.skip:
                results[i] = SnippetResult(s.path, s.language, s.first_line, "skipped")
            elif s.language == "python":
                compiled = compile_block(s.code, s.first_line, filenames[s.path])
                if isinstance(compiled, PythonOutcome):
                    results[i] = SnippetResult(s.path, "python", s.first_line, "failed", compiled.message,
                                               compiled.line)
                elif s.no_run:
                    results[i] = SnippetResult(s.path, "python", s.first_line, "passed", "compiled, not run")
                elif s.path in broken_setups:
                    results[i] = SnippetResult(s.path, "python", s.first_line, "failed",
                                               "not run: the post's setup block does not compile")
                else:
                    setup = setups[s.path]
                    job = PythonJob(i, filenames[s.path], s.code, s.first_line, setup, compiled,
                                    compiled_setups.get(s.path))
                    first = first_run.setdefault((s.code, setup.code if setup else None), job)
                    if first is job:
                        jobs.append(job)
                    else:
                        repeats.append((job, first))
            elif s.language in CHECKED_LANGUAGES:
                static_indexes.append(i)
            else:
                results[i] = SnippetResult(s.path, s.language, s.first_line, "unchecked")
        # Parsed languages and shell tools run on a thread while the workers run Python.
        with ThreadPoolExecutor(max_workers=1) as pool:
            static = pool.submit(_static_outcomes, [snippets[i] for i in static_indexes], shellcheck)
            python_outcomes = runner.run(jobs)
            # The repeats of a block that failed run after all, each on its own: a failure is reported with the
            # line and output of the block it is in.
            python_outcomes.update(runner.run([job for job, first in repeats
                                               if not python_outcomes[first.key].passed]))
            static_outcomes = static.result()
        report.network = runner.network if jobs else ""
    for i, outcome in zip(static_indexes, static_outcomes):
        s = snippets[i]
        results[i] = SnippetResult(s.path, s.language, s.first_line, "passed" if outcome.passed else "failed",
                                   outcome.message, outcome.line)
    for key, outcome in python_outcomes.items():
        s = snippets[key]
        results[key] = SnippetResult(s.path, "python", s.first_line, "passed" if outcome.passed else "failed",
                                     outcome.message, outcome.line, outcome.output)
    for job, first in repeats:
        if job.key not in results:
            s, ran = snippets[job.key], results[first.key]
            results[job.key] = SnippetResult(s.path, "python", s.first_line, ran.status, ran.message,
                                             output=ran.output, same_as=(ran.path, ran.first_line))
    report.results = [results[i] for i in range(len(snippets))]
    return report
