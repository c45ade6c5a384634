"""Compile and run Python code samples on a pool of warm worker processes (scripts/snippets/worker.py).

An interpreter per block would spend longer importing the SDK than most blocks run; one process imports the SDK and forks the
workers, and each worker forks a child per block, which isolates blocks from each other and lets a hung
block be killed alone. The pool runs in one sandbox (sandbox.py) unless the check runs unsandboxed. Each
worker runs its own OpenAI stub (scripts/snippets/stub.py), which only loopback reaches. Blocks are
compiled here, once, and workers get code objects.
"""
from __future__ import annotations

import dataclasses
import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import IO, Any

from scripts.snippets.extract import SetupCode
from scripts.snippets.limits import Limits
from scripts.snippets.sandbox import CODE_DIR, Sandbox, kernel_refused
from scripts.snippets.stub import ISOLATED_PYTHON
from scripts.snippets.worker import WorkerSettings, read_frame, send_frame

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
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
    # (first line, code) of each piece of the setup (the post's setup block, the blocks this one continues),
    # so that tracebacks show their lines; by default the setup's code as one piece.
    setup_pieces: tuple[tuple[int, str], ...] = ()


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


def result_stream(fd: int) -> IO[bytes]:
    """The runner's end of a worker's results pipe, unbuffered: a buffer would take in a second message along
    with the first, where the selector, which watches the pipe, would never see it, and the run would hang
    waiting for it."""
    return os.fdopen(fd, "rb", buffering=0)


class _Launcher:
    """Starts workers: inside the sandbox, or (unsandboxed) as plain processes with a scratch folder of ours."""

    def __init__(self, settings: WorkerSettings, sandbox: Sandbox | None) -> None:
        self.settings = settings
        self.sandbox = sandbox

    def start(self, channels: list[str], **pipes: Any) -> subprocess.Popen[bytes]:
        if self.sandbox is not None:
            program = [*ISOLATED_PYTHON, f"{CODE_DIR}/{WORKER_SCRIPT.name}"]
        else:
            program = [*ISOLATED_PYTHON, str(WORKER_SCRIPT)]
        program += [json.dumps(dataclasses.asdict(self.settings)), *channels]
        if self.sandbox is not None:
            return self.sandbox.popen(program, **pipes)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": self.settings.scratch}
        return subprocess.Popen(program, env=env, cwd=self.settings.scratch, **pipes)


class _Worker:
    """A worker as the runner sees it: its two pipes, and the process that must end when the run ends (the
    worker itself, or the zygote that forked it and its siblings, or the sandbox they run in)."""

    def __init__(self, process: subprocess.Popen[bytes], jobs: IO[bytes], results: IO[bytes]) -> None:
        self.process = process
        self.jobs = jobs
        self.results = results
        self.ready = False
        self.network = ""  # "sandbox", "namespace" (kernel-enforced loopback only) or "guard" (Python-level only)
        self.pid: int | None = None  # the worker's own process, once it is ready (in the sandbox: its PID there)
        self.sent: deque[PythonJob] = deque()  # jobs sent and not answered yet, the running one first

    @classmethod
    def alone(cls, launcher: _Launcher) -> "_Worker":
        """A worker of its own (it imports the SDK itself), on its stdin and stdout."""
        (jobs_read, jobs_write), (results_read, results_write) = os.pipe(), os.pipe()
        try:
            process = launcher.start([], stdin=jobs_read, stdout=results_write)
        except BaseException:
            os.close(jobs_write)
            os.close(results_read)
            raise
        finally:
            os.close(jobs_read)
            os.close(results_write)
        return cls(process, os.fdopen(jobs_write, "wb"), result_stream(results_read))

    @classmethod
    def group(cls, launcher: _Launcher, count: int) -> list["_Worker"]:
        """`count` workers forked by one zygote, which imports and warms the SDK once for all of them."""
        pipes = [(os.pipe(), os.pipe()) for _ in range(count)]  # per worker: jobs (r, w), results (r, w)
        theirs = [fd for (jobs_read, _), (_, results_write) in pipes for fd in (jobs_read, results_write)]
        channels = [f"{jobs_read},{results_write}" for (jobs_read, _), (_, results_write) in pipes]
        try:
            process = launcher.start(channels, pass_fds=tuple(theirs), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL)
        except BaseException:
            for (_, jobs_write), (results_read, _) in pipes:
                os.close(jobs_write)
                os.close(results_read)
            raise
        finally:
            for fd in theirs:  # the zygote's ends: the runner keeps only its own
                os.close(fd)
        return [cls(process, os.fdopen(jobs_write, "wb"), result_stream(results_read))
                for (_, jobs_write), (results_read, _) in pipes]

    def send(self, job: PythonJob, timeout: float) -> None:
        setup, pieces = None, [(job.first_line, job.code)]
        if job.setup is not None:
            setup = _compiled(job.setup_compiled, job.setup.code, job.setup.first_line, job.filename)
            pieces += job.setup_pieces or [(job.setup.first_line, job.setup.code)]
        source = [(first, code.splitlines(keepends=True)) for first, code in pieces]
        send_frame(self.jobs, {"id": job.key, "filename": job.filename, "timeout": timeout, "setup": setup,
                               "code": _compiled(job.compiled, job.code, job.first_line, job.filename),
                               "source": source})
        self.sent.append(job)

    def close(self) -> None:
        """Tell the worker to stop (it stops when its jobs pipe closes)."""
        try:
            self.jobs.close()
        except BrokenPipeError:
            pass


def _wait(process: subprocess.Popen[bytes], pids: list[int]) -> None:
    """Wait for a worker, zygote or sandbox to end; kill it, and (outside the sandbox) the workers it forked,
    if it takes too long. A sandbox takes everything in it along when it is killed."""
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
    caller does other work. `sandboxed=False` runs them without the sandbox: samples then reach whatever
    the user can.
    """

    def __init__(self, *, workers: int | None = None, limits: Limits = Limits(), sandboxed: bool = True) -> None:
        # One worker per core. Each holds a job in waiting (QUEUED_PER_WORKER), so no core idles between
        # blocks; a worker beyond one per core only adds switching between them.
        self.size = max(1, workers or os.cpu_count() or 1)
        self.limits = limits
        self.sandboxed = sandboxed
        self._workers: list[_Worker] = []
        self._gone: list[_Worker] = []  # replaced workers, whose processes must still be waited for
        self._launcher: _Launcher | None = None

    def __enter__(self) -> "PythonRunner":
        sandbox, scratch = None, ""
        if self.sandboxed:
            sandbox = Sandbox()
            sandbox.check()
        else:  # block directories are made and removed thousands of times: on tmpfs when there is one
            shm = "/dev/shm"
            scratch = tempfile.mkdtemp(prefix="snippet-scratch-", dir=shm if os.access(shm, os.W_OK) else None)
        settings = WorkerSettings(sandboxed=self.sandboxed, memory=self.limits.memory,
                                  cpu_seconds=self.limits.cpu_seconds, output=self.limits.output, scratch=scratch)
        self._launcher = _Launcher(settings, sandbox)
        try:
            self._workers = _Worker.group(self._launcher, self.size)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        workers = self._workers + self._gone
        for worker in workers:  # all at once, then wait for each process
            worker.close()
        processes: dict[subprocess.Popen[bytes], list[int]] = {}
        for worker in workers:
            pids = [worker.pid] if worker.pid and not self.sandboxed else []
            processes.setdefault(worker.process, []).extend(pids)
        for process, pids in processes.items():
            _wait(process, pids)
        for worker in workers:
            worker.results.close()
        self._workers = self._gone = []
        if self._launcher is not None and self._launcher.settings.scratch:
            # Also what the workers left if one was killed before it could clean up after itself.
            shutil.rmtree(self._launcher.settings.scratch, ignore_errors=True)
        self._launcher = None

    @property
    def network(self) -> str:
        """How samples were kept off the network: "sandbox" or "namespace" where every worker had one (the
        kernel's doing), else "guard" (Python's own sockets only)."""
        kinds = {w.network for w in self._workers if w.ready}
        return kinds.pop() if len(kinds) == 1 and kinds <= {"sandbox", "namespace"} else "guard"

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
                        worker.send(queue.popleft(), self.limits.timeout)
                for key, _ in selector.select():
                    worker = key.data
                    message = read_frame(worker.results)
                    if message is None:
                        self._replace(worker, selector, outcomes, queue)
                        continue
                    if message.get("refused"):
                        raise kernel_refused("cannot confine a block", message["refused"])
                    if message.get("ready"):
                        worker.ready = True
                        worker.network = message["network"]
                        worker.pid = message["pid"]
                        continue
                    outcomes[message["id"]] = PythonOutcome(
                        passed=message["status"] == "passed", line=message["line"], output=message["output"],
                        message=self.limits.explain(message["cap"], message["message"]))
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
        assert self._launcher is not None
        fresh = _Worker.alone(self._launcher)
        self._workers[self._workers.index(worker)] = fresh
        self._gone.append(worker)
        selector.register(fresh.results, selectors.EVENT_READ, fresh)
