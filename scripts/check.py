"""The stages every offline check goes through — lint, build, check-links, check-snippets — shared by
`invoke check` (which stops at the first that fails) and `invoke publish` (which checks what it pushes).

Each stage is called in-process (one Python start-up, one site build shared by the link check).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scripts.content.lint import lint_content
from scripts.errors import EXIT_OK, UserError
from scripts.links.internal import check_internal
from scripts.reports import Report, exit_code, last_line
from scripts.site.build import build_site
from scripts.snippets.check import check_snippets
from scripts.snippets.limits import Limits

OK, FAILED, NOT_RUN = "ok", "FAILED", "not run"


@dataclass(frozen=True)
class StageResult:
    name: str
    status: str  # OK | FAILED | NOT_RUN
    seconds: float | None = None
    summary: str = ""  # one line for the summary table
    report: str = ""  # the stage's full report, as its own task prints it
    exit_code: int = EXIT_OK


@dataclass
class CheckRun:
    stages: list[StageResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(stage.status == OK for stage in self.stages)

    @property
    def failed(self) -> StageResult | None:
        return next((stage for stage in self.stages if stage.status == FAILED), None)

    @property
    def exit_code(self) -> int:
        failed = self.failed
        return EXIT_OK if failed is None else failed.exit_code

    @property
    def seconds(self) -> float:
        return sum(stage.seconds or 0.0 for stage in self.stages)

    def render(self) -> str:
        """At most a dozen lines: one per stage (status, time, what it found), then the verdict."""
        width = max(len(stage.name) for stage in STAGES)
        lines = [f"{'stage':<{width}}  {'status':<7}  {'time':>7}  result"]
        for stage in self.stages:
            took = f"{stage.seconds:6.2f}s" if stage.seconds is not None else "      -"
            summary = stage.summary if len(stage.summary) <= 80 else stage.summary[:77] + "..."
            lines.append(f"{stage.name:<{width}}  {stage.status:<7}  {took:>7}  {summary}".rstrip())
        failed = self.failed
        if failed is None:
            lines.append(f"all {len(self.stages)} checks passed in {self.seconds:.1f}s")
        else:
            lines.append(f"check failed at {failed.name} (exit {failed.exit_code}); later stages not run")
        return "\n".join(lines)


StageHook = Callable[[StageResult], None]


@dataclass(frozen=True)
class StageContext:
    """What the stages work on: the project, where the site is built, and for which URL."""

    root: Path
    site: Path  # where the build stage writes and the link check reads
    base_url: str | None = None  # hugo.yaml's baseURL when None
    strict: bool = False  # lint warnings count as problems
    search: bool = False  # whether the build stage also indexes the site for search
    snippet_limits: Limits = Limits()  # the caps on each Python block (check-snippets' options)
    sandboxed: bool = True  # False: Python blocks run unconfined (--unsandboxed)


@dataclass(frozen=True)
class Stage:
    name: str  # the task that runs the same check on its own
    run: Callable[[StageContext], Report]


class _BuildReport:
    """The build stage's report: Hugo errors raise, so a build that returns has passed."""

    ok = True

    def __init__(self, pages: int, search: bool) -> None:
        self.pages, self.search = pages, search

    def render(self) -> str:
        return f"{self.pages} HTML pages" + ("" if self.search else " (search index not built)")


def _lint(context: StageContext) -> Report:
    return lint_content(context.root / "content", strict=context.strict)


def _build(context: StageContext) -> Report:
    # Hugo errors raise CheckFailed with Hugo's own message.
    built = build_site(context.root, destination=context.site, base_url=context.base_url, search=context.search)
    return _BuildReport(built.pages, built.search is not None)


def _links(context: StageContext) -> Report:
    return check_internal(context.site, project_root=context.root, base_url=context.base_url)


def _snippets(context: StageContext) -> Report:
    return check_snippets(context.root / "content", project_root=context.root, limits=context.snippet_limits,
                          sandboxed=context.sandboxed)


# The checks `invoke check` runs and `invoke publish` runs before it pushes, in order.
STAGES: tuple[Stage, ...] = (Stage("lint", _lint), Stage("build", _build), Stage("check-links", _links),
                             Stage("check-snippets", _snippets))


def run_stages(context: StageContext, *, keep_going: bool = False, on_stage: StageHook | None = None) -> CheckRun:
    """Run STAGES in order; stop at the first that fails unless `keep_going` (publish --force wants every
    report). A build that fails always stops the run: the later stages read what it builds.

    `on_stage` is called with each finished stage (for progress output); the stages that were not
    reached are in the result as NOT_RUN.
    """
    run = CheckRun()
    for index, stage in enumerate(STAGES):
        started = time.perf_counter()
        try:
            report = stage.run(context)
            text = report.render()
            ok, summary, code = report.ok, last_line(text), exit_code(report)
        except UserError as err:  # a stage that could not run at all (bad config, Hugo error): its message
            ok, text, code = False, str(err), err.exit_code
            summary = last_line(text)
        result = StageResult(name=stage.name, status=OK if ok else FAILED, seconds=time.perf_counter() - started,
                             summary=summary, report=text, exit_code=code)
        run.stages.append(result)
        if on_stage is not None:
            on_stage(result)
        if not ok and (not keep_going or stage.name == "build"):
            run.stages += [StageResult(name=later.name, status=NOT_RUN) for later in STAGES[index + 1:]]
            break
    return run


def run_check(root: Path, *, strict: bool = False, snippet_limits: Limits = Limits(), sandboxed: bool = True,
              on_stage: StageHook | None = None) -> CheckRun:
    """`invoke check`: the stages on the project at `root`, building into site/ without a search index (no
    stage reads it, and Pagefind would add a third to the time on a large site)."""
    context = StageContext(root=root, site=root / "site", strict=strict, snippet_limits=snippet_limits,
                           sandboxed=sandboxed)
    return run_stages(context, on_stage=on_stage)
