"""What `invoke bench` measured: steps, their samples, the budgets they are held to, and the table."""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field

from scripts.perf.measure import STEP_TIMEOUT, Sample

MEMORY_BUDGET_MB = 2048
SCALING_SLACK = 1.1  # N×10 posts may cost at most 11× the time
BUDGET_POSTS = 1000  # the time budgets are set for N = 1,000


@dataclass(frozen=True)
class Step:
    name: str  # key in the JSON
    label: str  # the command as the table shows it
    argv: tuple[str, ...]
    remove_site: bool = False  # start from no site/ (a build step); otherwise site/ must exist
    needs_index: bool = False  # start from a site built by `invoke build`, search index included
    remove_search_cache: bool = False  # start from no search cache (.cache/search): every language indexed
    project: str = "project"  # the directory it runs in, beside the generated project (see reference.py)
    budget_seconds: float | None = None  # at N = BUDGET_POSTS
    compare_to: str | None = None  # the step this one's time is shown as a ratio of
    ratio_budget: float | None = None  # this step's CPU time / compare_to's must not exceed it
    # This step's largest process / compare_to's, in peak memory, must not exceed it.
    memory_ratio_budget: float | None = None
    # A live-reload server (see serve_probe.py): its row is the start until it serves the site, and the row
    # named `edit_row` the edit until it shows; `argv` holds "{port}" where the port goes.
    edit_row: str | None = None
    # A slow reference (LinkChecker's crawl takes minutes) runs once, and is stopped after `timeout`
    # seconds: the table then shows its time as a lower bound.
    single_run: bool = False
    timeout: float = STEP_TIMEOUT
    # Someone else's tool, timed for comparison (bare Hugo, LinkChecker): the budgets are ours, not its.
    reference: bool = False


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

    @property
    def largest_rss_mb(self) -> float:
        """The median over runs of the peak of the step's largest single process."""
        return statistics.median(s.largest_rss_mb for s in self.samples)


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

    def ratio(self, name: str, measure: str = "median_seconds") -> float | None:
        """This step's `measure` (median_seconds, median_cpu_seconds, largest_rss_mb) over its compare_to's."""
        step = self.step_defs[name]
        if step.compare_to is None or step.compare_to not in self.steps or name not in self.steps:
            return None
        reference = self.steps[step.compare_to]
        if not (self.steps[name].ok and reference.ok) or not getattr(reference, measure):
            return None
        return getattr(self.steps[name], measure) / getattr(reference, measure)

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
            if step.ratio_budget is not None and (ratio := self.ratio(name, "median_cpu_seconds")) is not None:
                out.append(Check(f"{name} / {step.compare_to} (CPU)", ratio, step.ratio_budget, "x"))
            if step.memory_ratio_budget is not None and (ratio := self.ratio(name, "largest_rss_mb")) is not None:
                out.append(Check(f"{name} / {step.compare_to} (peak memory of the largest process)", ratio,
                                 step.memory_ratio_budget, "x"))
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
                "largest_rss_mb": round(result.largest_rss_mb, 1) if result.samples else None,
                "ratio": _round(self.ratio(name)),
                "cpu_ratio": _round(self.ratio(name, "median_cpu_seconds")),
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
        end = self.machine.get("loadavg_end", [load])[0]
        head = (f"invoke bench: {self.posts:,} posts ({self.html_pages:,} HTML pages), seed {self.seed}, "
                f"median of {self.runs} run{'s' if self.runs != 1 else ''}; {self.started[:16]} UTC, "
                f"{self.machine.get('cpus')} CPUs, load average {load:.1f} at start, {end:.1f} at the end")
        scale_col = f"vs {self.baseline['posts']:,}" if self.baseline else None
        rows = [["step", "wall s", "cpu s", "peak MB", "ratio wall/cpu"] + ([scale_col] if scale_col else [])]
        for name, result in self.steps.items():
            step = self.step_defs[name]
            label = f"{step.label}, 1 run" if step.single_run and self.runs > 1 else step.label
            if result.timed_out or not result.ok:
                codes = ",".join(map(str, sorted({s.exit_code for s in result.samples})))
                outcome = (f"> {max(s.seconds for s in result.samples):.0f} (stopped)" if result.timed_out
                           else f"FAILED (exit {codes})")
                rows.append([label, outcome, "", "", ""] + ([""] if scale_col else []))
                continue
            ratio, cpu_ratio = self.ratio(name), self.ratio(name, "median_cpu_seconds")
            ratio_text = (f"{ratio:.2f}x/{cpu_ratio:.2f}x {step.compare_to}"
                          if ratio is not None and cpu_ratio is not None else "")
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
