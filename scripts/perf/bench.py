"""`invoke bench`: the tooling timed at blog scale, as whole processes, against bare Hugo and LinkChecker.

A generated N-post bilingual site (scripts/perf/corpus.py) is written into a temporary copy of the project;
each step runs there as a user would run it (`python -m invoke …`), `runs` times, interleaved so that a
burst of load on a shared machine hits every step alike. Reported per step: the median wall time, the
median CPU time (user + system of the whole process tree), and the peak memory of the process tree.

Peak memory: this process makes itself the "child subreaper" (prctl), so every descendant — even one
whose parent exits first — stays in its tree; a sampler thread sums the RSS of all live descendants every
10 ms, and the result is at least the kernel's ru_maxrss of the largest single process (wait4), which
catches a peak between two samples. Summed RSS counts pages shared between processes more than once, so
the figure errs high, never low.
"""
from __future__ import annotations

import ctypes
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scripts.errors import UsageError

PR_SET_CHILD_SUBREAPER = 36
SAMPLE_INTERVAL = 0.01
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024
STEP_TIMEOUT = 3600.0
LINKCHECKER_TIMEOUT = 1200.0  # its anchor-checking crawl of 2,000 pages takes many minutes
ORPHAN_GRACE = 5.0
MEMORY_BUDGET_MB = 2048
SCALING_SLACK = 1.1  # N×10 posts may cost at most 11× the time
BUDGET_POSTS = 1000  # the time budgets are set for N = 1,000
INDEX_SITE = "from pathlib import Path; from scripts.site.search import index_site; index_site(Path('site'))"


@dataclass(frozen=True)
class Step:
    name: str  # key in the JSON
    label: str  # the command as the table shows it
    argv: tuple[str, ...]
    remove_site: bool = False  # start from no site/ (a build step); otherwise site/ must exist
    budget_seconds: float | None = None  # at N = BUDGET_POSTS
    compare_to: str | None = None  # the step this one's time is shown as a ratio of
    ratio_budget: float | None = None  # this step's time / compare_to's time must not exceed it
    # A slow reference (LinkChecker's crawl takes minutes) runs once, and is stopped after `timeout`
    # seconds: the table then shows its time as a lower bound.
    single_run: bool = False
    timeout: float = STEP_TIMEOUT
    # Someone else's tool, timed for comparison (bare Hugo, LinkChecker): the budgets are ours, not its.
    reference: bool = False


@dataclass
class Sample:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    exit_code: int
    output_tail: str = ""
    leftover_processes: int = 0  # still running ORPHAN_GRACE s after the step ended, then killed
    timed_out: bool = False  # stopped at the step's timeout: `seconds` is a lower bound


@dataclass
class StepResult:
    name: str
    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.samples) and all(s.exit_code == 0 for s in self.samples)

    @property
    def timed_out(self) -> bool:
        return any(s.timed_out for s in self.samples)

    @property
    def median_seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def median_cpu_seconds(self) -> float:
        return statistics.median(s.cpu_seconds for s in self.samples)

    @property
    def peak_rss_mb(self) -> float:
        return max(s.peak_rss_mb for s in self.samples)


@dataclass(frozen=True)
class Check:
    """One budget line: what was measured against what limit."""

    name: str
    value: float
    limit: float
    unit: str  # "s", "x", "MB"

    @property
    def ok(self) -> bool:
        return self.value <= self.limit


@dataclass
class BenchResult:
    posts: int
    seed: int
    runs: int
    started: str  # ISO date-time, UTC
    machine: dict
    generate_seconds: float
    html_pages: int
    steps: dict[str, StepResult]
    step_defs: dict[str, Step]
    baseline: dict | None = None  # an earlier run's JSON, for the scaling ratios

    def ratio(self, name: str) -> float | None:
        step = self.step_defs[name]
        if step.compare_to is None or step.compare_to not in self.steps or name not in self.steps:
            return None
        reference = self.steps[step.compare_to]
        if not (self.steps[name].ok and reference.ok):
            return None
        return self.steps[name].median_seconds / reference.median_seconds

    def scaling(self, name: str) -> float | None:
        """This run's median time over the baseline's, for the same step."""
        if not self.baseline or name not in self.steps or not self.steps[name].ok:
            return None
        earlier = self.baseline.get("steps", {}).get(name)
        if not earlier or not earlier.get("ok") or not earlier.get("median_seconds"):
            return None
        return self.steps[name].median_seconds / earlier["median_seconds"]

    def checks(self) -> list[Check]:
        out: list[Check] = []
        for name, result in self.steps.items():
            step = self.step_defs[name]
            if not result.ok or step.reference:
                continue
            if step.ratio_budget is not None and (ratio := self.ratio(name)) is not None:
                out.append(Check(f"{name} / {step.compare_to}", ratio, step.ratio_budget, "x"))
            if step.budget_seconds is not None and self.posts == BUDGET_POSTS:
                out.append(Check(f"{name} time", result.median_seconds, step.budget_seconds, "s"))
            out.append(Check(f"{name} peak memory", result.peak_rss_mb, MEMORY_BUDGET_MB, "MB"))
            if (scale := self.scaling(name)) is not None:
                factor = self.posts / self.baseline["posts"]
                out.append(Check(f"{name} time vs {self.baseline['posts']} posts", scale,
                                 round(SCALING_SLACK * factor, 2), "x"))
        return out

    def to_json(self) -> dict:
        steps = {}
        for name, result in self.steps.items():
            steps[name] = {
                "command": self.step_defs[name].label,
                "ok": result.ok,
                "timed_out": result.timed_out,
                "median_seconds": round(result.median_seconds, 3) if result.samples else None,
                "median_cpu_seconds": round(result.median_cpu_seconds, 3) if result.samples else None,
                "peak_rss_mb": round(result.peak_rss_mb, 1) if result.samples else None,
                "ratio": _round(self.ratio(name)),
                "ratio_to": self.step_defs[name].compare_to,
                "scaling_vs_baseline": _round(self.scaling(name)),
                "samples": [asdict(s) for s in result.samples],
            }
        return {
            "posts": self.posts, "seed": self.seed, "runs": self.runs, "started": self.started,
            "machine": self.machine, "generate_seconds": round(self.generate_seconds, 3),
            "html_pages": self.html_pages, "steps": steps,
            "baseline_posts": self.baseline["posts"] if self.baseline else None,
            "budgets": [asdict(c) | {"ok": c.ok} for c in self.checks()],
        }

    def render(self) -> str:
        load = self.machine.get("loadavg_start", [0])[0]
        head = (f"invoke bench: {self.posts:,} posts ({self.html_pages:,} HTML pages), seed {self.seed}, "
                f"median of {self.runs} run{'s' if self.runs != 1 else ''}; {self.started[:16]} UTC, "
                f"{self.machine.get('cpus')} CPUs, load average {load:.1f} at start")
        scale_col = f"vs {self.baseline['posts']:,}" if self.baseline else None
        rows = [["step", "wall s", "cpu s", "peak MB", "ratio"] + ([scale_col] if scale_col else [])]
        for name, result in self.steps.items():
            step = self.step_defs[name]
            label = f"{step.label}, 1 run" if step.single_run and self.runs > 1 else step.label
            if result.timed_out or not result.ok:
                codes = ",".join(map(str, sorted({s.exit_code for s in result.samples})))
                outcome = (f"> {max(s.seconds for s in result.samples):.0f} (stopped)" if result.timed_out
                           else f"FAILED (exit {codes})")
                rows.append([label, outcome, "", "", ""] + ([""] if scale_col else []))
                continue
            ratio = self.ratio(name)
            ratio_text = f"{ratio:.2f}x {step.compare_to}" if ratio is not None else ""
            row = [label, f"{result.median_seconds:.2f}", f"{result.median_cpu_seconds:.2f}",
                   f"{result.peak_rss_mb:.0f}", ratio_text]
            if scale_col:
                scale = self.scaling(name)
                row.append(f"{scale:.2f}x" if scale is not None else "")
            rows.append(row)
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [head, ""]
        for r in rows:
            lines.append("  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]).rstrip())
        checks = self.checks()
        if checks:
            lines += ["", "budgets:"]
            for c in checks:
                value = f"{c.value:.2f}{c.unit}" if c.unit != "MB" else f"{c.value:.0f} MB"
                limit = f"{c.limit:g}{c.unit}" if c.unit != "MB" else f"{c.limit:g} MB"
                lines.append(f"  {'ok  ' if c.ok else 'OVER'}  {c.name}: {value} (limit {limit})")
        for name, result in self.steps.items():
            if not result.ok and not result.timed_out:
                tail = next((s.output_tail for s in result.samples if s.exit_code), "")
                lines += ["", f"{self.step_defs[name].label} failed; the end of its output:", tail]
        return "\n".join(lines)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --- measuring one process tree ---------------------------------------------------------------------------


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to us instead of init, so the sampler still sees them."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(k) for k in f.read().split()]
        except OSError:
            pass
    return kids


def descendants(pid: int) -> list[int]:
    found, todo = [], _children(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo += _children(child)
    return found


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class _TreeSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self._done = threading.Event()
        self._me = os.getpid()

    def run(self) -> None:
        while not self._done.is_set():
            total = sum(_rss_bytes(pid) for pid in descendants(self._me))
            self.peak = max(self.peak, total)
            self._done.wait(SAMPLE_INTERVAL)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def measure(argv: list[str] | tuple[str, ...], *, cwd: Path, timeout: float = STEP_TIMEOUT) -> Sample:
    """Run one command to completion; its wall time, CPU time and the peak RSS of its whole process tree."""
    with tempfile.TemporaryFile() as output:
        sampler = _TreeSampler()
        sampler.start()
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=output,
                                stderr=subprocess.STDOUT)
        deadline = started + timeout
        status, timed_out = None, False
        while status is None:  # wait4 (not Popen.wait) for the child's own rusage
            pid, raw_status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status = raw_status
                break
            if time.perf_counter() > deadline and not timed_out:
                timed_out = True
                _kill([proc.pid, *descendants(proc.pid)])  # LinkChecker and the server it crawls
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        # Work a step left behind in the background still counts towards its memory and CPU.
        leftover, orphans_cpu = _finish_orphans(ORPHAN_GRACE)
        tree_peak = sampler.stop()
        cpu = usage.ru_utime + usage.ru_stime + orphans_cpu
        peak = max(tree_peak, usage.ru_maxrss * 1024)
        output.seek(0)
        tail = output.read()[-4000:].decode("utf-8", "replace")
    return Sample(seconds=round(seconds, 4), cpu_seconds=round(cpu, 3), peak_rss_mb=round(peak / MB, 1),
                  exit_code=proc.returncode, output_tail=tail if proc.returncode else "",
                  leftover_processes=leftover, timed_out=timed_out)


def _kill(pids: list[int]) -> int:
    """SIGKILL each process still there; returns how many were."""
    killed = 0
    for pid in pids:
        try:
            os.kill(pid, 9)
            killed += 1
        except ProcessLookupError:
            pass
    return killed


def _finish_orphans(grace: float) -> tuple[int, float]:
    """Wait up to `grace` seconds for descendants that outlived the step (re-parented to us), then kill the
    rest; reap them all. Returns how many had to be killed and the CPU time of those reaped."""
    cpu, deadline, killed = 0.0, time.perf_counter() + grace, 0
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            cpu += usage.ru_utime + usage.ru_stime
            continue
        alive = descendants(os.getpid())
        if time.perf_counter() > deadline and alive:
            killed += _kill(alive)
            deadline = float("inf")
        time.sleep(0.01)
    return killed, cpu


# --- the benchmark ------------------------------------------------------------------------------------------


def bench_steps(*, only: set[str] | None = None) -> list[Step]:
    from scripts.site.hugo import hugo_binary

    invoke = (sys.executable, "-m", "invoke")
    steps = [
        Step("hugo", "hugo --minify (bare)", (str(hugo_binary()), "--minify"), remove_site=True, reference=True),
        Step("build_hugo", "invoke build --no-search", (*invoke, "build", "--no-search"), remove_site=True,
             compare_to="hugo", ratio_budget=1.2),
        # As `invoke build` runs it: in bundles of about PAGES_PER_BUNDLE pages on a large site.
        Step("pagefind", "Pagefind index (alone)", (sys.executable, "-c", INDEX_SITE)),
        Step("build", "invoke build (Hugo + Pagefind)", (*invoke, "build"), remove_site=True, compare_to="hugo"),
        Step("lint", "invoke lint", (*invoke, "lint"), budget_seconds=2.0),
        Step("check_links", "invoke check-links --no-build", (*invoke, "check-links", "--no-build"),
             budget_seconds=3.0),
        Step("linkchecker", "LinkChecker (check-links --crawl)", (*invoke, "check-links", "--no-build", "--crawl"),
             compare_to="check_links", single_run=True, timeout=LINKCHECKER_TIMEOUT, reference=True),
        Step("snippets", "invoke check-snippets", (*invoke, "check-snippets"), budget_seconds=20.0),
        Step("check", "invoke check", (*invoke, "check"), remove_site=True, budget_seconds=30.0),
    ]
    if only:
        unknown = only - {s.name for s in steps}
        if unknown:
            raise UsageError(f"--only: unknown step(s) {', '.join(sorted(unknown))}; "
                             f"choose from {', '.join(s.name for s in steps)}")
        steps = [s for s in steps if s.name in only]
    return steps


def run_bench(root: Path, *, posts: int = 1000, runs: int = 3, seed: int = 0, only: set[str] | None = None,
              baseline: dict | None = None, workdir: Path | None = None, keep: bool = False,
              progress: Callable[[str], None] | None = None) -> BenchResult:
    """Generate the corpus in a temporary project copy, run every step `runs` times, and return the timings."""
    from scripts.perf.corpus import make_bench_project
    from scripts.site.build import count_html_files

    if posts < 2:
        raise UsageError(f"--posts must be at least 2, got {posts}")
    if runs < 1:
        raise UsageError(f"--runs must be at least 1, got {runs}")
    say = progress or (lambda _msg: None)
    become_subreaper()
    parent = Path(tempfile.mkdtemp(prefix="qwen-bench-", dir=workdir))
    os.chmod(parent, 0o755)  # LinkChecker runs as `nobody` when we are root
    project = parent / "project"
    try:
        started = dt.datetime.now(dt.timezone.utc)
        machine = {"cpus": os.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()],
                   "platform": platform.platform(), "python": platform.python_version()}
        t0 = time.perf_counter()
        make_bench_project(root, project, posts=posts, seed=seed)
        generate_seconds = time.perf_counter() - t0
        say(f"generated {posts} posts in {generate_seconds:.1f}s at {project}")
        steps = bench_steps(only=only)
        bare_hugo = bench_steps(only={"hugo"})[0].argv
        # Untimed: fill Hugo's image cache (resources/_gen) and leave a built site for the steps that read it.
        warm = measure(bare_hugo, cwd=project)
        if warm.exit_code:
            raise UsageError(f"hugo failed on the generated site:\n{warm.output_tail}")
        html_pages = count_html_files(project / "site")
        results = {s.name: StepResult(s.name, s.label) for s in steps}
        for run in range(runs):
            for step in steps:
                if step.single_run and run > 0:
                    continue
                if step.remove_site:
                    shutil.rmtree(project / "site", ignore_errors=True)
                elif not (project / "site").is_dir():
                    measure(bare_hugo, cwd=project)
                if step.name == "pagefind":
                    shutil.rmtree(project / "site" / "pagefind", ignore_errors=True)
                sample = measure(step.argv, cwd=project, timeout=step.timeout)
                results[step.name].samples.append(sample)
                status = ("stopped at its timeout" if sample.timed_out
                          else "ok" if sample.exit_code == 0 else f"exit {sample.exit_code}")
                say(f"run {run + 1}/{runs}  {step.label:<36} {sample.seconds:8.2f}s  {sample.peak_rss_mb:7.0f} MB  {status}")
        machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        return BenchResult(posts=posts, seed=seed, runs=runs, started=started.isoformat(timespec="seconds"),
                           machine=machine, generate_seconds=generate_seconds, html_pages=html_pages,
                           steps=results, step_defs={s.name: s for s in steps}, baseline=baseline)
    finally:
        if keep:
            say(f"kept the generated project at {project}")
        else:
            shutil.rmtree(parent, ignore_errors=True)


def load_baseline(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError("baseline file not found", path=path) from None
    except ValueError as err:
        raise UsageError(f"not a bench JSON file ({err})", path=path) from None
    if not isinstance(data, dict) or "posts" not in data or "steps" not in data:
        raise UsageError("not a bench JSON file (no posts/steps)", path=path)
    return data


def write_json(result: BenchResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
