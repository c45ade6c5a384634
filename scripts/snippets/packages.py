"""Which of the modules samples import are missing where samples run.

Samples run in the interpreter of the workers, started as ISOLATED_PYTHON (`python -I`: no user site, no
PYTHONPATH, no current directory). So the modules are looked up there, with importlib's own find_spec, in
one short process for all of them: what it cannot find, a sample cannot import.
"""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable

from scripts.snippets.stub import ISOLATED_PYTHON

_FIND = """
import importlib.util, sys
for name in sys.stdin.read().split():
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        print(name)
"""


def missing_modules(names: Iterable[str]) -> frozenset[str]:
    """The top-level modules among `names` that the workers' interpreter cannot import."""
    candidates = sorted({name for name in names if name.isidentifier()} - set(sys.builtin_module_names))
    if not candidates:
        return frozenset()
    found = subprocess.run([*ISOLATED_PYTHON, "-c", _FIND], input="\n".join(candidates), capture_output=True,
                           text=True, timeout=60, check=True)
    return frozenset(found.stdout.split())
