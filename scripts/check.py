"""`invoke check`: every offline check in order — lint, build, check-links, check-snippets — stopping at the
first stage that fails, so CI and `invoke publish` run one command and read one summary.

Each stage is called in-process (one Python start-up, one site build shared by the link check).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scripts.errors import EXIT_OK, EXIT_PROBLEMS, UserError

STAGES = ("lint", "build", "check-links", "check-snippets")

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

    def render_summary(self) -> str:
        """At most a dozen lines: one per stage (status, time, what it found), then the verdict."""
        width = max(len(name) for name in STAGES)
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


def run_check(root: Path, *, strict: bool = False, on_stage: StageHook | None = None) -> CheckRun:
    """Run the stages in order on the project at `root`; stop at the first that fails.

    `on_stage` is called with each finished stage (for progress output); the stages that were not
    reached are in the result as NOT_RUN.
    """
    stages: list[tuple[str, Callable[[], tuple[bool, str, str]]]] = [
        ("lint", lambda: _lint(root, strict)),
        ("build", lambda: _build(root)),
        ("check-links", lambda: _links(root)),
        ("check-snippets", lambda: _snippets(root)),
    ]
    run = CheckRun()
    for index, (name, stage) in enumerate(stages):
        started = time.perf_counter()
        try:
            ok, summary, report = stage()
            code = EXIT_OK if ok else EXIT_PROBLEMS
        except UserError as err:  # a stage that could not run at all (bad config, Hugo error): its message
            ok, summary, report, code = False, _last_line(str(err)), str(err), err.exit_code
        result = StageResult(name=name, status=OK if ok else FAILED, seconds=time.perf_counter() - started,
                             summary=summary, report=report, exit_code=code)
        run.stages.append(result)
        if on_stage is not None:
            on_stage(result)
        if not ok:
            run.stages += [StageResult(name=later, status=NOT_RUN) for later, _ in stages[index + 1:]]
            break
    return run


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _lint(root: Path, strict: bool) -> tuple[bool, str, str]:
    from scripts.content.lint import lint_content

    report = lint_content(root / "content", strict=strict)
    text = report.render()
    return report.ok, _last_line(text), text


def _build(root: Path) -> tuple[bool, str, str]:
    from scripts.site.build import build_site

    # Hugo only: no stage reads the search index, and Pagefind would add a third to the time on a large
    # site. `invoke build` (and `invoke publish`) index it.
    built = build_site(root, search=False)  # a Hugo error raises CheckFailed with Hugo's own message
    summary = f"{built.pages} HTML pages (search index not built)"
    return True, summary, summary


def _links(root: Path) -> tuple[bool, str, str]:
    from scripts.links.internal import check_internal

    report = check_internal(root / "site", project_root=root)
    text = report.render()
    return report.ok, _last_line(text), text


def _snippets(root: Path) -> tuple[bool, str, str]:
    from scripts.snippets.check import check_snippets

    report = check_snippets(root / "content", project_root=root)
    text = report.render()
    return report.ok, _last_line(text), text
