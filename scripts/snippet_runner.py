"""Compile and run Python code samples on a pool of warm worker processes (scripts/snippet_worker.py).

One interpreter per block costs ~0.6 s of `import openai` alone; a worker imports the SDK once and forks a
child per block, which isolates blocks from each other and lets a hung block be killed alone. Each worker
runs its own OpenAI stub (scripts/openai_stub.py) inside its loopback-only network namespace.
"""
from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from scripts.snippets import SetupCode

WORKER_SCRIPT = Path(__file__).with_name("snippet_worker.py")
STUB_SCRIPT = Path(__file__).with_name("openai_stub.py")
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class PythonJob:
    """One Python block to run; `filename` is the absolute path of its Markdown file."""

    key: int
    filename: str
    code: str
    first_line: int
    setup: SetupCode | None = None


@dataclass(frozen=True)
class PythonOutcome:
    passed: bool
    message: str = ""
    line: int | None = None  # the Markdown line of the error
    output: str = ""  # what the block printed (stdout and stderr)


def padded(code: str, first_line: int) -> str:
    """Code preceded by empty lines, so compiled line numbers are the Markdown file's line numbers."""
    return "\n" * (first_line - 1) + code


def syntax_error(code: str, first_line: int, filename: str) -> PythonOutcome | None:
    """A failed outcome if the block does not compile, else None."""
    try:
        compile(padded(code, first_line), filename, "exec", dont_inherit=True)
    except SyntaxError as err:
        detail = err.msg if err.msg else "invalid syntax"
        return PythonOutcome(passed=False, message=f"{type(err).__name__}: {detail}", line=err.lineno)
    except ValueError as err:  # e.g. a NUL byte in the source
        return PythonOutcome(passed=False, message=f"cannot compile: {err}", line=first_line)
    return None


class _Worker:
    def __init__(self, home: str) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": home}
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(WORKER_SCRIPT), str(STUB_SCRIPT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=home,
        )
        self.ready = False
        self.network = ""  # "namespace" (kernel-enforced loopback only) or "guard" (Python-level only)
        self.job: PythonJob | None = None

    @property
    def stdout(self) -> IO[bytes]:
        assert self.process.stdout is not None
        return self.process.stdout

    def send(self, job: PythonJob, timeout: float) -> None:
        assert self.process.stdin is not None
        setup = {"code": job.setup.code, "first_line": job.setup.first_line} if job.setup else None
        message = {"id": job.key, "filename": job.filename, "code": job.code, "first_line": job.first_line,
                   "setup": setup, "timeout": timeout}
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()
        self.job = job

    def stop(self) -> None:
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class PythonRunner:
    """A pool of warm workers; use as a context manager so the workers are always stopped.

    Workers start (and import the SDK) as soon as the context opens, while the caller does other work.
    """

    def __init__(self, *, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        # One more worker than cores: while a block waits for the stub, another can use the core.
        self.size = max(1, workers or (os.cpu_count() or 1) + 1)
        self.timeout = timeout
        self._workers: list[_Worker] = []
        self._home: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> "PythonRunner":
        self._home = tempfile.TemporaryDirectory(prefix="snippet-runner-")
        self._workers = [_Worker(self._home.name) for _ in range(self.size)]
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers = []
        if self._home is not None:
            self._home.cleanup()
            self._home = None

    @property
    def network(self) -> str:
        """How the network was closed to samples: "namespace" where every worker got one, else "guard"."""
        kinds = {w.network for w in self._workers if w.ready}
        return "namespace" if kinds == {"namespace"} else "guard"

    def run(self, jobs: list[PythonJob]) -> dict[int, PythonOutcome]:
        """Run every job, each in its own child process; outcomes by job key."""
        queue = deque(jobs)
        outcomes: dict[int, PythonOutcome] = {}
        selector = selectors.DefaultSelector()
        for worker in self._workers:
            selector.register(worker.stdout, selectors.EVENT_READ, worker)
        try:
            while queue or any(w.job is not None for w in self._workers):
                for worker in self._workers:
                    if worker.ready and worker.job is None and queue:
                        worker.send(queue.popleft(), self.timeout)
                for key, _ in selector.select():
                    worker = key.data
                    line = worker.stdout.readline()
                    if not line:
                        self._replace(worker, selector, outcomes)
                        continue
                    message = json.loads(line)
                    if message.get("ready"):
                        worker.ready = True
                        worker.network = message["network"]
                        continue
                    outcomes[message["id"]] = PythonOutcome(
                        passed=message["status"] == "passed", message=message["message"], line=message["line"],
                        output=message["output"])
                    worker.job = None
        finally:
            selector.close()
        return outcomes

    def _replace(self, worker: _Worker, selector: selectors.BaseSelector, outcomes: dict[int, PythonOutcome]) -> None:
        """A worker died (it should not): fail its job, and start a fresh worker in its place."""
        selector.unregister(worker.stdout)
        worker.stop()
        if not worker.ready:
            raise RuntimeError(f"the snippet worker failed to start (exit status {worker.process.returncode})")
        if worker.job is not None:
            outcomes[worker.job.key] = PythonOutcome(passed=False, message="the snippet worker died running this block",
                                                     line=worker.job.first_line)
        assert self._home is not None
        fresh = _Worker(self._home.name)
        self._workers[self._workers.index(worker)] = fresh
        selector.register(fresh.stdout, selectors.EVENT_READ, fresh)
