"""Decide what becomes of each block before anything runs: skipped, compiled only, parsed, not run for a
missing package, run (alone, or after the blocks it continues), or run once for every identical copy.

A Python block continues an earlier block of its post when it reads a name that block defines and it
does not define first itself (scripts/snippets/names.py): `tokenizer` in a fragment that follows the
block that loaded it. It then runs after the blocks it continues, in one namespace, as a reader who runs
the post from the top would run it; the blocks it continues are its setup. A block that continues none
runs alone. A block that imports a module the workers' interpreter lacks, or continues one that does, or
whose post's setup does, is not run; it is a failure only when snippets.yaml `requires` that module.
"""
from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType

from scripts.snippets.extract import PostSnippets, SetupCode, Snippet
from scripts.snippets.formats import looks_like_shell
from scripts.snippets.names import BlockNames, block_names
from scripts.snippets.report import CHECKED_LANGUAGES, Finding, SnippetResult
from scripts.snippets.run import PythonJob, PythonOutcome, compile_block, padded
from scripts.snippets.settings import CONFIG_FILE


@dataclass
class CheckPlan:
    """The blocks of every post, indexed by position, and what is to be done with each."""

    snippets: list[Snippet]
    results: dict[int, SnippetResult] = field(default_factory=dict)  # settled without running anything
    findings: list[Finding] = field(default_factory=list)
    jobs: list[PythonJob] = field(default_factory=list)  # Python blocks to run
    repeats: list[tuple[PythonJob, PythonJob]] = field(default_factory=list)  # (a job not run, its twin that is)
    static_indexes: list[int] = field(default_factory=list)  # blocks checked by a parser or shell tool
    continues: dict[int, tuple[int, ...]] = field(default_factory=dict)  # block -> the blocks it runs after


@dataclass(frozen=True)
class _Python:
    """A Python block (or setup block) as the plan sees it."""

    index: int  # position in CheckPlan.snippets; SETUP for a post's setup block
    code: str
    first_line: int
    tree: ast.Module | None  # None when it does not compile
    names: BlockNames | None


SETUP = -1


def _read(index: int, code: str, first_line: int) -> _Python:
    try:
        tree = ast.parse(padded(code, first_line))
    except (SyntaxError, ValueError):
        return _Python(index, code, first_line, None, None)
    return _Python(index, code, first_line, tree, block_names(tree))


def plan_checks(posts: list[PostSnippets], filenames: dict[Path, str], *,
                missing_modules: Callable[[Iterable[str]], frozenset[str]] = lambda names: frozenset(),
                requires: frozenset[str] = frozenset()) -> CheckPlan:
    """Compile every Python block and setup block once, and sort the blocks by how they are checked.

    `filenames` maps each post's path to the file name its code is compiled with (what tracebacks show);
    `missing_modules` tells which of the modules the blocks import cannot be imported where they run;
    `requires` are the modules that must be (snippets.yaml).
    """
    plan = CheckPlan(snippets=[s for post in posts for s in post.snippets])
    for post in posts:
        plan.findings += [Finding(p.path, p.line, "marker", p.message) for p in post.problems]
    offset = 0
    read_posts = []
    for post in posts:
        setup = _read(SETUP, post.setup.code, post.setup.first_line) if post.setup is not None else None
        blocks = [_read(offset + i, s.code, s.first_line) for i, s in enumerate(post.snippets)
                  if s.language == "python"]
        read_posts.append((post, offset, setup, blocks))
        offset += len(post.snippets)
    imported = {module for _, _, setup, blocks in read_posts for block in [setup, *blocks]
                if block is not None and block.names is not None for module, _ in block.names.imports}
    planner = _Planner(plan, filenames, missing_modules(imported), requires)
    for post, first, setup, blocks in read_posts:
        planner.plan_post(post, first, setup, blocks)
    return plan


class _Planner:
    def __init__(self, plan: CheckPlan, filenames: dict[Path, str], missing: frozenset[str],
                 requires: frozenset[str]) -> None:
        self.plan = plan
        self.filenames = filenames
        self.missing = missing
        self.requires = requires
        # A block runs once however often it appears: its result depends on nothing but its code and what
        # runs before it (each run gets an empty directory, the same environment and the same stub).
        self.first_run: dict[tuple[str, tuple[str, ...]], PythonJob] = {}
        self.setup_compiled: CodeType | None = None  # the current post's setup block, compiled
        self.setup_broken = False  # the current post's setup block does not compile

    def plan_post(self, post: PostSnippets, first: int, setup: _Python | None, blocks: list[_Python]) -> None:
        """Plan the blocks of one post, whose first block is at `first` in CheckPlan.snippets."""
        filename = self.filenames[post.path]
        self.setup_compiled, self.setup_broken = None, False
        if post.setup is not None:
            compiled = compile_block(post.setup.code, post.setup.first_line, filename)
            if isinstance(compiled, PythonOutcome):
                self.setup_broken = True
                self.plan.findings.append(Finding(post.path, compiled.line or post.setup.first_line, "python",
                                                  f"setup block: {compiled.message}"))
            else:
                self.setup_compiled = compiled
        by_index = {block.index: block for block in blocks}
        for i, s in enumerate(post.snippets, start=first):
            if s.skip:
                self.plan.results[i] = SnippetResult(s.path, s.language, s.first_line, "skipped")
            elif s.language == "python":
                self._plan_python(i, s, by_index[i], blocks, setup, filename)
            elif s.language in CHECKED_LANGUAGES:
                self.plan.static_indexes.append(i)
            else:
                self.plan.results[i] = SnippetResult(s.path, s.language, s.first_line, "unchecked")

    def _plan_python(self, i: int, s: Snippet, block: _Python, blocks: list[_Python], setup: _Python | None,
                     filename: str) -> None:
        plan = self.plan
        compiled = compile_block(s.code, s.first_line, filename)
        if isinstance(compiled, PythonOutcome):
            hint = " (this looks like a shell command: fence it as ```bash)" if looks_like_shell(s.code) else ""
            plan.results[i] = SnippetResult(s.path, "python", s.first_line, "failed", compiled.message + hint,
                                            compiled.line)
            return
        earlier = _continued(block, [b for b in blocks if b.index < i])
        if earlier:
            plan.continues[i] = tuple(b.index for b in earlier)
        skipped = next((b for b in earlier if plan.snippets[b.index].skip), None)
        if skipped is not None:
            plan.results[i] = SnippetResult(s.path, "python", s.first_line, "skipped",
                                            f"it continues the skipped block at line {skipped.first_line}")
            return
        needed = self._needed(block, earlier, setup)
        if needed is not None:
            plan.results[i] = needed
            return
        quiet = next((b for b in earlier if plan.snippets[b.index].no_run), None)
        if s.no_run or quiet is not None:
            plan.results[i] = SnippetResult(s.path, "python", s.first_line, "passed", "compiled, not run" + (
                f" (it continues the no-run block at line {quiet.first_line})" if quiet and not s.no_run else ""))
            return
        if self.setup_broken:
            plan.results[i] = SnippetResult(s.path, "python", s.first_line, "failed",
                                            "not run: the post's setup block does not compile")
            return
        pieces = [p for p in (setup, *earlier) if p is not None]
        setup_code, setup_compiled = self._setup(pieces, filename)
        if setup_compiled is None and earlier:  # the pieces do not compile as one module: run it alone
            plan.continues.pop(i, None)
            pieces = [setup] if setup is not None else []
            setup_code, setup_compiled = self._setup(pieces, filename)
        job = PythonJob(i, filename, s.code, s.first_line, setup_code, compiled, setup_compiled,
                        tuple((p.first_line, p.code) for p in pieces))
        first = self.first_run.setdefault((s.code, tuple(p.code for p in pieces)), job)
        if first is job:
            plan.jobs.append(job)
        else:
            plan.repeats.append((job, first))

    def _needed(self, block: _Python, earlier: list[_Python], setup: _Python | None) -> SnippetResult | None:
        """The result of a block that cannot run for a missing module: its own, the setup's, or that of a
        block it continues; None when nothing it needs is missing."""
        s = self.plan.snippets[block.index]
        for source in (block, setup, *reversed(earlier)):
            if source is None or source.names is None:
                continue
            for module, line in source.names.imports:
                if module not in self.missing:
                    continue
                where = ("" if source is block else " (in the post's setup block)" if source is setup
                         else f" (for the block at line {source.first_line}, which it continues)")
                if module in self.requires:
                    return SnippetResult(s.path, "python", s.first_line, "failed",
                                         f"needs {module}{where}, which {CONFIG_FILE} requires, and it is not "
                                         "installed", line if source is block else None)
                return SnippetResult(s.path, "python", s.first_line, "not-run", f"not run: needs {module}{where}",
                                     line if source is block else None, needs=module)
        return None

    def _setup(self, pieces: list[_Python], filename: str) -> tuple[SetupCode | None, CodeType | None]:
        """What runs before a block, as one setup: the post's setup block, then the blocks it continues."""
        if not pieces:
            return None, None
        if len(pieces) == 1 and pieces[0].index == SETUP:  # the post's setup block alone
            return SetupCode(pieces[0].code, pieces[0].first_line), self.setup_compiled
        module = ast.Module(body=[node for piece in pieces if piece.tree is not None for node in piece.tree.body],
                            type_ignores=[])
        try:
            compiled = compile(module, filename, "exec", dont_inherit=True)
        except SyntaxError:  # e.g. a `from __future__` import that is no longer first
            return None, None
        return SetupCode("\n".join(p.code for p in pieces), pieces[0].first_line), compiled


def _continued(block: _Python, earlier: list[_Python]) -> list[_Python]:
    """The earlier blocks `block` continues, directly or through another, in the post's order: for each
    name it uses, the last earlier block that defines it."""
    if block.names is None:
        return []
    chosen: dict[int, _Python] = {}
    wanted = set(block.names.uses)
    for candidate in reversed(earlier):
        if candidate.names is None:
            continue
        found = wanted & candidate.names.defines
        if found and candidate.index not in chosen:
            chosen[candidate.index] = candidate
            for inherited in _continued(candidate, [b for b in earlier if b.index < candidate.index]):
                chosen.setdefault(inherited.index, inherited)
        wanted -= found
    return sorted(chosen.values(), key=lambda b: b.index)
