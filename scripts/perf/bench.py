"""`invoke bench`: the tooling timed at blog scale, as whole processes, against bare Hugo, LinkChecker and,
given a checkout, a reference theme.

A generated N-post bilingual site (scripts/perf/corpus.py) is written into a temporary copy of the project;
each step runs there as a user would run it (`python -m invoke …`), `runs` times, interleaved so that a
burst of load on a shared machine hits every step alike, every other run in reverse order. Reported per
step: the median wall time, the median CPU time (user + system of the whole process tree), and the peak
memory of the process tree (see scripts/perf/measure.py). The live-reload server is timed from its start
until it serves the site, and per edit of one post until the post's page shows it (see
scripts/perf/serve_probe.py). With a theme checkout (PaperMod), the same content is also built and served
with that theme (see scripts/perf/reference.py).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from scripts.errors import UsageError
from scripts.perf.measure import become_subreaper, measure
from scripts.perf.results import BenchResult, Step, StepResult

LINKCHECKER_TIMEOUT = 1200.0  # its anchor-checking crawl of 2,000 pages takes many minutes
INDEX_SITE = "from pathlib import Path; from scripts.site.search import index_site; index_site(Path('site'))"
EDITS_PER_RUN = 5
REFERENCE_DIR = "reference"  # beside the generated project


def bench_steps(*, only: set[str] | None = None, reference_theme: Path | None = None,
                port: int = 1313) -> list[Step]:
    """The steps, in the order they run; the reference theme's only with a theme checkout."""
    from scripts.perf.reference import CONFIG_FILES
    from scripts.site.hugo import hugo_binary
    from scripts.site.serve import serve_command

    invoke = (sys.executable, "-m", "invoke")
    theme = reference_theme.name if reference_theme else None
    reference_build = "reference" if theme else None
    edits = f"median of {EDITS_PER_RUN} edits"
    steps = [
        Step("hugo", "hugo --minify (bare)", (str(hugo_binary()), "--minify"), remove_site=True, reference=True),
        Step("build_hugo", "invoke build --no-search", (*invoke, "build", "--no-search"), remove_site=True,
             compare_to="hugo", ratio_budget=1.05, memory_ratio_budget=1.05),
        # As `invoke build` runs it (a run per language, side by side), but without the search cache.
        Step("pagefind", "Pagefind index (alone)", (sys.executable, "-c", INDEX_SITE)),
        Step("build", "invoke build, cold (Hugo + Pagefind)", (*invoke, "build"), remove_site=True,
             remove_search_cache=True, compare_to=reference_build or "hugo", ratio_budget=0.7 if theme else None),
        Step("build_cached", "invoke build, empty site/, index cached", (*invoke, "build"), remove_site=True,
             needs_index=True, compare_to="build"),
        Step("rebuild", "invoke build again, no text changed", (*invoke, "build"), needs_index=True,
             compare_to="build"),
        Step("serve", "invoke serve: ready", (*invoke, "serve", "--port", str(port)), budget_seconds=10.0,
             edit_row="serve_edit", compare_to="reference_serve" if theme else None),
        Step("serve_edit", f"invoke serve: edit to visible ({edits})", (), budget_seconds=0.3,
             compare_to="reference_serve_edit" if theme else None),
        Step("lint", "invoke lint", (*invoke, "lint"), budget_seconds=2.0),
        Step("check_links", "invoke check-links --no-build", (*invoke, "check-links", "--no-build"),
             budget_seconds=3.0),
        Step("linkchecker", "LinkChecker (check-links --crawl)", (*invoke, "check-links", "--no-build", "--crawl"),
             compare_to="check_links", single_run=True, timeout=LINKCHECKER_TIMEOUT, reference=True),
        Step("snippets", "invoke check-snippets", (*invoke, "check-snippets"), budget_seconds=20.0),
        Step("check", "invoke check", (*invoke, "check"), remove_site=True, budget_seconds=30.0),
    ]
    if theme:
        steps += [
            Step("reference", f"{theme}: hugo --minify, JSON index (reference)",
                 (str(hugo_binary()), "--minify", "--config", CONFIG_FILES), remove_site=True,
                 project=REFERENCE_DIR, reference=True),
            Step("reference_serve", f"{theme}: hugo server: ready (reference)",
                 (*serve_command(Path("."), port=port), "--config", CONFIG_FILES), project=REFERENCE_DIR,
                 edit_row="reference_serve_edit", reference=True),
            Step("reference_serve_edit", f"{theme}: hugo server: edit to visible ({edits})", (),
                 project=REFERENCE_DIR, reference=True),
        ]
    names = {s.name for s in steps}
    if only:
        unknown = only - names
        if unknown & {"reference", "reference_serve"}:
            raise UsageError("--only: the reference steps need --reference-theme PATH (a theme checkout)")
        if unknown:
            raise UsageError(f"--only: unknown step(s) {', '.join(sorted(unknown))}; "
                             f"choose from {', '.join(s.name for s in steps if s.argv)}")
        # A server's edit row comes with it.
        wanted = only | {s.edit_row for s in steps if s.name in only and s.edit_row}
        steps = [s for s in steps if s.name in wanted]
    return steps


def run_bench(root: Path, *, posts: int = 1000, runs: int = 3, seed: int = 0, only: set[str] | None = None,
              baseline: dict | None = None, workdir: Path | None = None, keep: bool = False,
              reference_theme: Path | None = None, progress: Callable[[str], None] | None = None) -> BenchResult:
    """Generate the corpus in a temporary project copy, run every step `runs` times, and return the timings."""
    from scripts.perf.corpus import make_bench_project
    from scripts.perf.reference import make_reference_project
    from scripts.perf.serve_probe import EditTarget, probe_server

    if posts < 2:
        raise UsageError(f"--posts must be at least 2, got {posts}")
    if runs < 1:
        raise UsageError(f"--runs must be at least 1, got {runs}")
    if reference_theme is not None and not (reference_theme / "layouts").is_dir():
        raise UsageError(f"--reference-theme {reference_theme}: not a Hugo theme checkout (no layouts/ in it)")
    port = _free_port()
    steps = bench_steps(only=only, reference_theme=reference_theme, port=port)
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
        corpus = make_bench_project(root, project, posts=posts, seed=seed)
        if any(s.project == REFERENCE_DIR for s in steps):
            make_reference_project(project, reference_theme, parent / REFERENCE_DIR)
        generate_seconds = time.perf_counter() - t0
        say(f"generated {posts} posts in {generate_seconds:.1f}s at {project}")
        # The post a server step edits: one from the middle, in English.
        edited = corpus.posts[len(corpus.posts) // 2].pages[0]
        edited_source = edited.path.relative_to(project)
        projects = ["project", *sorted({s.project for s in steps} - {"project"})]
        html_pages = {name: _warm_up(parent / name) for name in projects}["project"]
        results = {s.name: StepResult(s.name, s.label) for s in steps}
        for run in range(runs):
            # Every other run goes backwards: no step always follows the same one (a step pays for some of
            # what the one before it left behind, such as memory the kernel has to hand out again).
            for step in steps if run % 2 == 0 else steps[::-1]:
                if not step.argv or (step.single_run and run > 0):
                    continue  # an edit row is filled by its server's step
                cwd = parent / step.project
                _prepare_run(cwd, step)
                os.sync()  # a step must not pay for the writeback of what the previous one wrote
                if step.edit_row:
                    timing = probe_server(list(step.argv), cwd=cwd, base_url=f"http://127.0.0.1:{port}/",
                                          target=EditTarget(cwd / edited_source, edited.url),
                                          edits=EDITS_PER_RUN, seed=seed * 1000 + run)
                    results[step.name].samples.append(timing.ready)
                    results[step.edit_row].samples.append(timing.edit)
                    sample = timing.ready
                    detail = ("  edits " + " ".join(f"{s:.2f}s/{c:.2f}cpu" for s, c in
                                                    zip(timing.edit_seconds, timing.edit_cpu_seconds)))
                else:
                    sample = measure(step.argv, cwd=cwd, timeout=step.timeout)
                    results[step.name].samples.append(sample)
                    detail = ""
                status = ("stopped at its timeout" if sample.timed_out
                          else "ok" if sample.exit_code == 0 else f"exit {sample.exit_code}")
                say(f"run {run + 1}/{runs}  {step.label:<44} {sample.seconds:8.2f}s {sample.cpu_seconds:8.2f}s cpu "
                    f"{sample.peak_rss_mb:7.0f} MB  load {os.getloadavg()[0]:.1f}  {status}{detail}")
        machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        return BenchResult(posts=posts, seed=seed, runs=runs, started=started.isoformat(timespec="seconds"),
                           machine=machine, generate_seconds=generate_seconds, html_pages=html_pages,
                           steps=results, step_defs={s.name: s for s in steps}, baseline=baseline)
    finally:
        if keep:
            say(f"kept the generated project at {project}")
        else:
            shutil.rmtree(parent, ignore_errors=True)


def _bare_build(cwd: Path) -> tuple[str, ...]:
    """Bare Hugo, which leaves a site in `cwd` for the steps that read one."""
    from scripts.perf.reference import CONFIG_FILES
    from scripts.site.hugo import hugo_binary

    extra = ("--config", CONFIG_FILES) if cwd.name == REFERENCE_DIR else ()
    return (str(hugo_binary()), "--minify", *extra)


def _warm_up(cwd: Path) -> int:
    """Untimed: fill Hugo's image cache (resources/_gen) and leave a built site; the HTML pages it holds."""
    from scripts.site.build import count_html_files

    warm = measure(_bare_build(cwd), cwd=cwd)
    if warm.exit_code:
        raise UsageError(f"hugo failed on the generated site in {cwd.name}:\n{warm.output_tail}")
    return count_html_files(cwd / "site")


def _prepare_run(cwd: Path, step: Step) -> None:
    """Leave `cwd` as `step` starts from: no site, a site, or a site with its search index (and the search
    cache that `invoke build` keeps beside it), or no search cache."""
    from scripts.site.build import SEARCH_CACHE
    from scripts.site.search import BUNDLE_DIR
    from scripts.site.search_bundle import ENTRY_FILE

    site, cache = cwd / "site", cwd / SEARCH_CACHE
    if step.needs_index and not ((site / BUNDLE_DIR / ENTRY_FILE).is_file() and cache.is_dir()
                                 and any(entry.is_dir() for entry in cache.iterdir())):
        measure((sys.executable, "-m", "invoke", "build"), cwd=cwd)
    if step.remove_search_cache:
        shutil.rmtree(cache, ignore_errors=True)
    if step.remove_site:
        shutil.rmtree(site, ignore_errors=True)
    elif not step.edit_row and not site.is_dir():
        measure(_bare_build(cwd), cwd=cwd)
    if step.name == "pagefind":
        shutil.rmtree(site / BUNDLE_DIR, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
