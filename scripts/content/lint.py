"""`invoke lint`: check the front matter and shortcode calls of every page under content/.

Errors: front matter that does not parse, unknown keys (naming the nearest known one), values of the
wrong type, a missing title or date, and every shortcode call Hugo would refuse or that is called wrongly
(scripts/content/shortcodes.py). Warnings: a date in the future, drafts, translations whose date or weight
differ, code fences without a language, keys Hugo ignores. Keys, types and shortcode parameters come from
scripts/content/schema.py; which shortcodes exist, from the site's layouts/_shortcodes/.
"""
from __future__ import annotations

import datetime as dt
import difflib
import multiprocessing
import os
import threading
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.errors import UsageError
from scripts.content.frontmatter import FrontMatter, FrontMatterError, parse_split, split_front_matter
from scripts.content.schema import IGNORED_KEYS, REQUIRED_KEYS, Key, known_keys, type_matches
from scripts.content.fences import scan_flat
from scripts.content.shortcodes import ShortcodeChecker, available_shortcodes, scan_calls
from scripts.site.config import SiteConfig, read_site_config

ERROR = "error"
WARNING = "warning"
CONTENT_SUFFIXES = (".md", ".markdown", ".html", ".htm")
MARKDOWN_SUFFIXES = (".md", ".markdown")

_EXPECTED = {
    "string": "a string",
    "int": "an integer",
    "bool": "true or false",
    "date": "a date (ISO 8601, like 2025-01-28T23:00:04+08:00)",
    "string-list": "a list of strings",
    "map": "a mapping of keys to values",
}


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    level: str
    message: str

    def render(self) -> str:
        return f"{self.path}:{self.line}: {self.level}: {self.message}"


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)
    pages: int = 0
    strict: bool = False
    workers: int = 1  # processes that checked the pages

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.level == WARNING)

    @property
    def ok(self) -> bool:
        """No errors (with strict, warnings have already become errors)."""
        return self.errors == 0

    def render(self) -> str:
        lines = [finding.render() for finding in sorted(self.findings)]
        files = len({finding.path for finding in self.findings})
        summary = (f"{self.pages} page{_s(self.pages)} checked: {self.errors} error{_s(self.errors)}, "
                   f"{self.warnings} warning{_s(self.warnings)}")
        if self.findings:
            summary += f" in {files} file{_s(files)}"
        lines.append(summary)
        return "\n".join(lines)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


@dataclass(frozen=True)
class _Page:
    """What the cross-file checks need of a page (small: workers send these back)."""
    shown: str
    lang: str
    group: tuple[str, str]  # pages with the same group are translations of each other
    parsed: bool  # its front matter parsed
    date: dt.datetime | None = None
    date_line: int = 1
    weight: Any = 0
    weight_line: int = 1


def lint_content(content_dir: Path, *, strict: bool = False, now: dt.datetime | None = None,
                 config: SiteConfig | None = None) -> LintReport:
    """Lint every page under `content_dir`; the site's languages and timezone come from the hugo.yaml
    beside it. `now` (default: the current time) decides which dates are in the future."""
    content_dir = Path(content_dir)
    if not content_dir.is_dir():
        raise UsageError(f"no content folder at {content_dir}")
    root = content_dir.parent
    if config is None:
        config = read_site_config(root) if (root / "hugo.yaml").is_file() else SiteConfig(
            time_zone=dt.timezone.utc, languages=("en",), default_language="en")  # type: ignore[arg-type]
    now = (now or dt.datetime.now(dt.timezone.utc))
    if now.tzinfo is None:
        now = now.replace(tzinfo=config.time_zone)
    paths = _content_files(content_dir)
    shortcodes = available_shortcodes(root)
    findings, pages, workers = _lint_in_parallel(paths, content_dir, config, now, shortcodes)
    findings += _check_translations(pages, config)
    if strict:
        findings = [Finding(f.path, f.line, ERROR, f.message) if f.level == WARNING else f for f in findings]
    return LintReport(findings=sorted(findings), pages=len(pages), strict=strict, workers=workers)


PARALLEL_FROM = 300  # pages; below this, starting workers costs more than it saves


def _lint_files(paths: list[Path], content_dir: Path, config: SiteConfig, now: dt.datetime,
                shortcodes: dict[str, bool]) -> tuple[list[Finding], list[_Page]]:
    linter = _Linter(config=config, now=now, shortcodes=shortcodes)
    root = content_dir.parent
    pages = [linter.lint_file(path, _shown(path, root), content_dir) for path in paths]
    return linter.findings, pages


def _lint_in_parallel(paths: list[Path], content_dir: Path, config: SiteConfig, now: dt.datetime,
                      shortcodes: dict[str, bool]) -> tuple[list[Finding], list[_Page], int]:
    """Checking a page is pure Python and CPU-bound: big sites are split across forked workers, one per core."""
    workers = min(os.cpu_count() or 1, 4)
    # Forking a process that runs other threads (a caller's server, say) can copy a held lock into the
    # child: then stay serial.
    if (len(paths) < PARALLEL_FROM or workers < 2 or threading.active_count() > 1
            or "fork" not in multiprocessing.get_all_start_methods()):
        return (*_lint_files(paths, content_dir, config, now, shortcodes), 1)
    import markdown_it  # noqa: F401 - imported once here, not in every worker
    chunks = [paths[i::workers] for i in range(workers)]
    findings: list[Finding] = []
    pages: list[_Page] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for chunk_findings, chunk_pages in pool.map(_lint_files, chunks, [content_dir] * workers, [config] * workers,
                                                    [now] * workers, [shortcodes] * workers):
            findings += chunk_findings
            pages += chunk_pages
    return findings, pages, workers


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _content_files(content_dir: Path) -> list[Path]:
    """Pages, not page resources: in a leaf bundle (a folder with index.*) only the index files count."""
    files: list[Path] = []
    for folder, subfolders, names in os.walk(content_dir):
        subfolders.sort()
        is_leaf = any(name.startswith("index.") and name.endswith(CONTENT_SUFFIXES) for name in names)
        for name in sorted(names):
            if name.endswith(CONTENT_SUFFIXES) and (not is_leaf or name.startswith("index.")):
                files.append(Path(folder) / name)
        if is_leaf:
            subfolders.clear()
    return files


class _Linter:
    def __init__(self, config: SiteConfig, now: dt.datetime, shortcodes: dict[str, bool]):
        self.config = config
        self.now = now
        self.shortcodes = ShortcodeChecker(shortcodes)
        self.findings: list[Finding] = []
        keys = known_keys()
        self.keys = {name.lower(): key for name, key in keys.items()}
        self.key_names = sorted(keys)
        self._fence_parser = None
        self._bare_fences: dict[str, list[int]] = {}

    def add(self, shown: str, line: int, level: str, message: str) -> None:
        self.findings.append(Finding(shown, line, level, message))

    # --- one file ---------------------------------------------------------------------------------

    def lint_file(self, path: Path, shown: str, content_dir: Path) -> _Page:
        lang, group = self._language_of(path, content_dir)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            self.add(shown, 1, ERROR, f"not UTF-8 text ({err.reason} at byte {err.start})")
            return _Page(shown, lang, group, parsed=False)
        except OSError as err:
            self.add(shown, 1, ERROR, f"cannot read: {err.strerror}")
            return _Page(shown, lang, group, parsed=False)
        try:
            split = split_front_matter(text, shown)
        except FrontMatterError as err:
            self.add(shown, err.line or 1, ERROR, err.message)
            return _Page(shown, lang, group, parsed=False)
        front_matter: FrontMatter | None
        try:
            front_matter = parse_split(split, shown)
        except FrontMatterError as err:
            self.add(shown, err.line or split.start_line, ERROR, err.message)
            front_matter = None
        if front_matter is not None:
            if isinstance(front_matter.data.get("translationKey"), str):
                group = ("key", front_matter.data["translationKey"])
            # Posts live in a section; top-level pages (search, archives) and list pages (_index) need no date.
            is_post = path.parent != content_dir and not path.name.startswith("_index.")
            self._check_keys(shown, front_matter, is_post=is_post, lang=lang)
            self._check_dates(shown, front_matter)
        if path.suffix in MARKDOWN_SUFFIXES:
            self._check_fences(shown, split.body, split.body_line)
        self._check_shortcodes(shown, split.body, split.body_line)
        if front_matter is None:
            return _Page(shown, lang, group, parsed=False)
        return _Page(shown, lang, group, parsed=True,
                     date=as_datetime(front_matter.data.get("date"), self.config.time_zone),
                     date_line=front_matter.line_of("date"), weight=front_matter.data.get("weight", 0),
                     weight_line=front_matter.line_of("weight"))

    def _language_of(self, path: Path, content_dir: Path) -> tuple[str, tuple[str, str]]:
        """index.zh.md -> ('zh', (folder, 'index')); index.md -> (default language, (folder, 'index'))."""
        stem = path.name[: -len(path.suffix)]
        base, dot, lang = stem.rpartition(".")
        if not (dot and lang in self.config.languages):
            base, lang = stem, self.config.default_language
        return lang, (path.parent.relative_to(content_dir).as_posix(), base)

    def _check_keys(self, shown: str, fm: FrontMatter, *, is_post: bool, lang: str) -> None:
        for name, line in fm.duplicate_keys:
            self.add(shown, line, ERROR, f'key "{name}" is set twice (Hugo rejects the file)')
        for name, value in fm.data.items():
            key = self.keys.get(str(name).lower())
            if str(name).lower() in IGNORED_KEYS:
                self._ignored_key(shown, fm, str(name), value, lang)
            elif key is None:
                self.add(shown, fm.line_of(name), ERROR, _unknown("key", str(name), self.key_names))
            else:
                self._check_value(shown, fm, key, str(name), value)
        for required in REQUIRED_KEYS:
            if required == "date" and not is_post:
                continue
            value = next((v for k, v in fm.data.items() if str(k).lower() == required), None)
            if value is None or value == "":
                self.add(shown, fm.start_line, ERROR, f'missing "{required}"')

    def _ignored_key(self, shown: str, fm: FrontMatter, name: str, value: Any, lang: str) -> None:
        self.add(shown, fm.line_of(name), WARNING,
                 f'"{name}" has no effect: {IGNORED_KEYS[name.lower()]} (this page is "{lang}"); remove it')

    def _check_value(self, shown: str, fm: FrontMatter, key: Key, name: str, value: Any) -> None:
        if value is None:
            return  # an empty value leaves Hugo's default (required keys are checked apart)
        line = fm.line_of(name)
        if not type_matches(key, value):
            self.add(shown, line, ERROR, f'"{name}" must be {_EXPECTED.get(key.type, key.type)}, not {_describe(value)}')
            return
        if key.children and isinstance(value, dict):
            children = {child.name: child for child in key.children}
            for child_name, child_value in value.items():
                child = children.get(str(child_name))
                dotted = f"{name}.{child_name}"
                if child is None:
                    self.add(shown, fm.line_of(dotted) if dotted in fm.key_lines else line, ERROR,
                             _unknown(f'key in "{name}"', str(child_name), sorted(children)))
                else:
                    self._check_value(shown, fm, child, dotted, child_value)

    def _check_dates(self, shown: str, fm: FrontMatter) -> None:
        if fm.data.get("draft") is True:
            self.add(shown, fm.line_of("draft"), WARNING, "draft: true, so the page is left out of the published site")
        name = "publishDate" if "publishDate" in fm.data else "date"
        moment = as_datetime(fm.data.get(name), self.config.time_zone)
        if moment is not None and moment > self.now:
            self.add(shown, fm.line_of(name), WARNING,
                     f"{name} {moment.isoformat()} is in the future: Hugo leaves the page out until then "
                     "(invoke build --future shows it)")
        expiry = as_datetime(fm.data.get("expiryDate"), self.config.time_zone)
        if expiry is not None and expiry <= self.now:
            self.add(shown, fm.line_of("expiryDate"), WARNING,
                     f"expiryDate {expiry.isoformat()} has passed: Hugo leaves the page out")

    # --- the body ---------------------------------------------------------------------------------

    def _check_fences(self, shown: str, body: str, body_line: int) -> None:
        if "```" not in body and "~~~" not in body:
            return
        offsets = self._bare_fences.get(body)
        if offsets is None:  # translations and generated pages often share a body: parse each body once
            offsets = flat_bare_fences(body)
            if offsets is None:
                offsets = [token.map[0] for token in self._fences().parse(body)
                           if token.type == "fence" and not token.info.strip() and token.map]
            self._bare_fences[body] = offsets
        for offset in offsets:
            self.add(shown, body_line + offset, WARNING,
                     "code fence without a language (write ```python, ```text, …): it gets no highlighting or label")

    def _fences(self):
        if self._fence_parser is None:
            from markdown_it import MarkdownIt

            # Only the block structure decides what is a fence; inline parsing is most of the cost.
            parser = MarkdownIt("commonmark")
            parser.core.ruler.disable(["inline", "text_join"])
            # Headings, rules and link definitions are paragraphs to us: they cannot hide or open a fence.
            parser.block.ruler.disable(["heading", "lheading", "hr", "reference"])
            self._fence_parser = parser
        return self._fence_parser

    def _check_shortcodes(self, shown: str, body: str, body_line: int) -> None:
        if "{{" not in body:
            return
        calls = scan_calls(body, body_line)
        code_lines: frozenset[int] = frozenset()
        if any(call.name and call.name not in self.shortcodes.available for call in calls):
            code_lines = self._code_lines(body, body_line)  # only for the hint of an unknown name
        for line, message in self.shortcodes.check(calls, code_lines):
            self.add(shown, line, ERROR, message)

    def _code_lines(self, body: str, body_line: int) -> frozenset[int]:
        """The file lines inside the body's code blocks."""
        lines: set[int] = set()
        for token in self._fences().parse(body):
            if token.type in ("fence", "code_block") and token.map:
                lines.update(range(body_line + token.map[0], body_line + token.map[1]))
        return frozenset(lines)


def flat_bare_fences(body: str) -> list[int] | None:
    """The 0-based lines of fences with no language in a flat body (scripts/content/fences.py); None for
    any other body (ask markdown-it). An indented line outside the fences does not matter here: a line
    indented four spaces cannot open a fence, whatever block it is in."""
    scan = scan_flat(body)
    if scan is None:
        return None
    return [fence.line - 1 for fence in scan.fences if not fence.info.strip()]


def as_datetime(value: Any, time_zone: dt.tzinfo) -> dt.datetime | None:
    """A front-matter date as an aware datetime; dates without an offset are in the site's timezone."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=time_zone)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=time_zone)
    return None


def _check_translations(pages: list[_Page], config: SiteConfig) -> list[Finding]:
    """Translations of one page should share its date and weight; each differing one is compared with the
    version in the first of the site's languages."""
    groups: dict[tuple[str, str], list[_Page]] = defaultdict(list)
    for page in pages:
        if page.parsed:
            groups[page.group].append(page)
    order = {lang: i for i, lang in enumerate(config.languages)}
    findings: list[Finding] = []
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda page: (order.get(page.lang, len(order)), page.shown))
        reference = group[0]
        for page in group[1:]:
            where = f"in the {reference.lang} version {reference.shown}"
            if page.date is not None and reference.date is not None and page.date != reference.date:
                findings.append(Finding(page.shown, page.date_line, WARNING,
                                        f"date {page.date.isoformat()} differs from {reference.date.isoformat()} {where}"))
            if _is_int(page.weight) and _is_int(reference.weight) and page.weight != reference.weight:
                findings.append(Finding(page.shown, page.weight_line, WARNING,
                                        f"weight {page.weight} differs from {reference.weight} {where}"))
    return findings


def _is_int(value: Any) -> bool:  # a wrong type is reported as such, not compared
    return isinstance(value, int) and not isinstance(value, bool)


def _unknown(what: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=1, cutoff=0.6)
        close = [next(k for k in known if k.lower() == close[0])] if close else []
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return f'unknown {what} "{name}"{hint}'


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'the string "{shown}"'
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, dt.datetime | dt.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, list):
        return "a list" if all(isinstance(v, str) for v in value) else "a list with non-string items"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
