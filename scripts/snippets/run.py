"""Compile and run Python code samples on a pool of warm worker processes (scripts/snippets/worker.py).

One interpreter per block costs ~0.6 s of `import openai` alone; one process imports the SDK and forks the
workers, and each worker forks a child per block, which isolates blocks from each other and lets a hung
block be killed alone. Each worker runs its own OpenAI stub (scripts/snippets/stub.py) inside its
loopback-only network namespace. Blocks are compiled here, once, and workers get code objects.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import IO, Any

from scripts.snippets.stub import ISOLATED_PYTHON
from scripts.snippets.worker import read_frame, send_frame
from scripts.snippets.extract import SetupCode

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
STUB_SCRIPT = Path(__file__).with_name("stub.py")
DEFAULT_TIMEOUT = 10.0
# Jobs a worker holds at once: the next one waits in its pipe, so it forks the next child as soon as one
# ends, without a round trip through the runner.
QUEUED_PER_WORKER = 2


@dataclass(frozen=True)
class PythonJob:
    """One Python block to run; `filename` is the absolute path of its Markdown file.

    `compiled` and `setup_compiled`, when given, are the block and setup already compiled by compile_block
    with that filename (check_snippets compiles each block once, to report syntax errors); otherwise they
    are compiled here. Workers get code objects, never source: compiling in a forked child would copy the
    compiler's share of the worker's memory for every block.
    """

    key: int
    filename: str
    code: str
    first_line: int
    setup: SetupCode | None = None
    compiled: CodeType | None = None
    setup_compiled: CodeType | None = None


@dataclass(frozen=True)
class PythonOutcome:
    passed: bool
    message: str = ""
    line: int | None = None  # the Markdown line of the error
    output: str = ""  # what the block printed (stdout and stderr)


def padded(code: str, first_line: int) -> str:
    """Code preceded by empty lines, so compiled line numbers are the Markdown file's line numbers."""
    return "\n" * (first_line - 1) + code


def compile_block(code: str, first_line: int, filename: str) -> CodeType | PythonOutcome:
    """The block compiled as a module of its own (no inherited `__future__` flags), line numbers being the
    Markdown file's; or a failed outcome if it does not compile."""
    try:
        return compile(padded(code, first_line), filename, "exec", dont_inherit=True)
    except SyntaxError as err:
        detail = err.msg if err.msg else "invalid syntax"
        return PythonOutcome(passed=False, message=f"{type(err).__name__}: {detail}", line=err.lineno)
    except ValueError as err:  # e.g. a NUL byte in the source
        return PythonOutcome(passed=False, message=f"cannot compile: {err}", line=first_line)


def _compiled(given: CodeType | None, code: str, first_line: int, filename: str) -> CodeType:
    if given is not None:
        return given
    compiled = compile_block(code, first_line, filename)
    if isinstance(compiled, PythonOutcome):
        raise ValueError(f"{filename}:{first_line}: the block does not compile: {compiled.message}")
    return compiled


class _Worker:
    """A worker as the runner sees it: its two pipes, and the process that must end when the run ends (the
    worker itself, or the zygote that forked it and its siblings)."""

    def __init__(self, process: subprocess.Popen[bytes], jobs: IO[bytes], results: IO[bytes]) -> None:
        self.process = process
        self.jobs = jobs
        self.results = results
        self.ready = False
        self.network = ""  # "namespace" (kernel-enforced loopback only) or "guard" (Python-level only)
        self.pid: int | None = None  # the worker's own process, once it is ready
        self.sent: deque[PythonJob] = deque()  # jobs sent and not answered yet, the running one first

    @staticmethod
    def _start(home: str, channels: list[str], **pipes: Any) -> subprocess.Popen[bytes]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": home}
        return subprocess.Popen([*ISOLATED_PYTHON, str(WORKER_SCRIPT), str(STUB_SCRIPT), *channels],
                                env=env, cwd=home, **pipes)

    @classmethod
    def alone(cls, home: str) -> "_Worker":
        """A worker of its own (it imports the SDK itself), on its stdin and stdout."""
        process = cls._start(home, [], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert process.stdin is not None and process.stdout is not None
        return cls(process, process.stdin, process.stdout)

    @classmethod
    def group(cls, home: str, count: int) -> list["_Worker"]:
        """`count` workers forked by one zygote, which imports and warms the SDK once for all of them."""
        pipes = [(os.pipe(), os.pipe()) for _ in range(count)]  # per worker: jobs (r, w), results (r, w)
        theirs = [fd for (jobs_read, _), (_, results_write) in pipes for fd in (jobs_read, results_write)]
        channels = [f"{jobs_read},{results_write}" for (jobs_read, _), (_, results_write) in pipes]
        try:
            process = cls._start(home, channels, pass_fds=theirs, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        except BaseException:
            for (_, jobs_write), (results_read, _) in pipes:
                os.close(jobs_write)
                os.close(results_read)
            raise
        finally:
            for fd in theirs:  # the zygote's ends: the runner keeps only its own
                os.close(fd)
        return [cls(process, os.fdopen(jobs_write, "wb"), os.fdopen(results_read, "rb"))
                for (_, jobs_write), (results_read, _) in pipes]

    def send(self, job: PythonJob, timeout: float) -> None:
        setup = None
        if job.setup is not None:
            setup = _compiled(job.setup_compiled, job.setup.code, job.setup.first_line, job.filename)
        send_frame(self.jobs, {"id": job.key, "filename": job.filename, "timeout": timeout, "setup": setup,
                               "code": _compiled(job.compiled, job.code, job.first_line, job.filename)})
        self.sent.append(job)

    def close(self) -> None:
        """Tell the worker to stop (it stops when its jobs pipe closes)."""
        try:
            self.jobs.close()
        except BrokenPipeError:
            pass


def _wait(process: subprocess.Popen[bytes], pids: list[int]) -> None:
    """Wait for a worker or zygote to end; kill it, and the workers it forked, if it takes too long."""
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.kill()
        process.wait()


class PythonRunner:
    """A pool of warm workers; use as a context manager so the workers are always stopped.

    Workers start (one zygote imports the SDK for all of them) as soon as the context opens, while the
    caller does other work.
    """

    def __init__(self, *, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        # One worker per core. Each holds a job in waiting (QUEUED_PER_WORKER), so no core idles between
        # blocks; a third worker on two cores only added switching between them (measured: ~10% slower).
        self.size = max(1, workers or os.cpu_count() or 1)
        self.timeout = timeout
        self._workers: list[_Worker] = []
        self._gone: list[_Worker] = []  # replaced workers, whose processes must still be waited for
        self._home: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> "PythonRunner":
        self._home = tempfile.TemporaryDirectory(prefix="snippet-runner-")
        self._workers = _Worker.group(self._home.name, self.size)
        return self

    def __exit__(self, *exc: object) -> None:
        workers = self._workers + self._gone
        for worker in workers:  # all at once, then wait for each process
            worker.close()
        processes: dict[subprocess.Popen[bytes], list[int]] = {}
        for worker in workers:
            processes.setdefault(worker.process, []).extend([worker.pid] if worker.pid else [])
        for process, pids in processes.items():
            _wait(process, pids)
        for worker in workers:
            worker.results.close()
        self._workers = self._gone = []
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
            selector.register(worker.results, selectors.EVENT_READ, worker)
        try:
            while queue or any(w.sent for w in self._workers):
                for worker in self._workers:
                    while worker.ready and len(worker.sent) < QUEUED_PER_WORKER and queue:
                        worker.send(queue.popleft(), self.timeout)
                for key, _ in selector.select():
                    worker = key.data
                    message = read_frame(worker.results)
                    if message is None:
                        self._replace(worker, selector, outcomes, queue)
                        continue
                    if message.get("ready"):
                        worker.ready = True
                        worker.network = message["network"]
                        worker.pid = message["pid"]
                        continue
                    outcomes[message["id"]] = PythonOutcome(
                        passed=message["status"] == "passed", message=message["message"], line=message["line"],
                        output=message["output"])
                    worker.sent.popleft()
        finally:
            selector.close()
        return outcomes

    def _replace(self, worker: _Worker, selector: selectors.BaseSelector, outcomes: dict[int, PythonOutcome],
                 queue: deque[PythonJob]) -> None:
        """A worker died (it should not): fail the job it ran, queue again the ones it had not begun, and
        start a fresh worker in its place."""
        selector.unregister(worker.results)
        worker.close()
        if not worker.ready:
            status = worker.process.poll()
            raise RuntimeError("the snippet worker failed to start" + (f" (exit status {status})" if status else ""))
        if worker.sent:
            running = worker.sent.popleft()
            outcomes[running.key] = PythonOutcome(passed=False, message="the snippet worker died running this block",
                                                  line=running.first_line)
            queue.extendleft(reversed(worker.sent))
        assert self._home is not None
        fresh = _Worker.alone(self._home.name)
        self._workers[self._workers.index(worker)] = fresh
        self._gone.append(worker)
        selector.register(fresh.results, selectors.EVENT_READ, fresh)
