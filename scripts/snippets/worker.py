"""Warm workers that run Python code samples, each in a forked child of its own.

Started by scripts/snippets/run.py as `python -I worker.py SETTINGS J,R [J,R …]`, inside the sandbox that
sandbox.py describes unless the check runs --unsandboxed; self-contained (it imports nothing from scripts/,
and loads its siblings stub.py, netguard.py and confine.py by path). This first process is a zygote: it imports the
`openai` SDK and runs it until it is warm (see warm_up), then forks one worker per pair of pipe descriptors
(jobs in, results out), so N workers cost one import. Without descriptors it is a single worker on stdin
and stdout (the runner starts one so when a worker has died). Each worker starts its own OpenAI stub. In
the sandbox, whose network namespace has nothing but loopback, that is all the network there is; outside
it, each worker moves into a network namespace of its own where only loopback exists when the kernel lets
it (root, or unprivileged user namespaces). A worker never runs a sample itself: for each job it forks a
child, which

  - in the sandbox, is the first process of PID, mount and user namespaces of its own (confine.py): it sees
    its own processes only, a fresh empty tmpfs as /tmp, and has no privilege; whatever it starts is killed
    when it ends. Outside, it gets its own process group and a directory made afresh for each block;
  - has that directory as cwd, HOME and TMPDIR, and a clean environment (no inherited secrets; dummy API
    keys; OPENAI_BASE_URL pointing at the stub);
  - has its memory, CPU time and file sizes capped (confine.set_limits), and says which cap it hit;
  - refuses any network address but loopback in Python, before a packet leaves (netguard.py), and records
    the attempt so the report can say what happened;
  - redirects every OpenAI client it builds to the stub, whatever `base_url` the sample names; the SDK's
    own HTTP clients get the stub's answer in-process (answer_sdk_in_process), others speak HTTP to it;
  - runs the post's setup code and the block, which the runner compiled so that line numbers are Markdown
    line numbers;
  - writes its result to a pipe, and its output to a file in memory.

The worker kills the child (and with it its PID namespace, or outside the sandbox its process group) when
the per-block timeout passes.

Speed: a block's cost is mostly the pages of the worker's memory its child writes to, each of which the
kernel copies for the child. So whatever can be done once is done in the worker before
forking (environment, network guard, redirect, stdio, warm SDK), and the child does as little as it can: it
neither compiles nor encodes JSON, and threading's and logging's at-fork handlers are held back from it
(hold_fork_handlers).

Protocol: frames of a 4-byte little-endian length and a `marshal`led dict (no JSON, so the worker's own
work between forks stays small). In: {"id", "filename", "code", "setup", "source", "timeout"}, where code
and setup (or None) are code objects the runner compiled and source is [(first line, lines)] of each, for
tracebacks. Out: first {"ready": True, "network": "sandbox", "namespace" or "guard", "pid"} (or, when the
kernel refuses to confine a block, {"ready": False, "refused": why} and nothing more), then per job
{"id", "status", "message", "line", "cap", "output"} with status "passed" or "failed" and cap the limit that
failed the block ("time", "memory", "cpu", "output", "file"), or "".
"""
from __future__ import annotations

import builtins
import errno
import gc
import importlib.util
import json
import linecache
import marshal
import os
import select
import shutil
import signal
import sys
import tempfile
import traceback
from dataclasses import dataclass
from typing import Any, Callable

DUMMY_API_KEY = "sk-snippet-check-dummy-key"
OUTPUT_LIMIT = 64 * 1024  # characters of a block's output kept for the report
KILL_GRACE = 1.0  # seconds after the timeout before a child that ignored it is killed
SANDBOX_WORKDIR = "/tmp"  # in the sandbox, each block's own tmpfs


@dataclass(frozen=True)
class WorkerSettings:
    """What the runner tells every worker, as JSON on its command line."""

    sandboxed: bool
    memory: int  # bytes: RLIMIT_DATA of each process of a block, and the size of its /tmp in the sandbox
    cpu_seconds: int  # RLIMIT_CPU of each process of a block
    output: int  # bytes: RLIMIT_FSIZE, the most a block may print (or write to one file)
    scratch: str = ""  # outside the sandbox: the folder (made by the runner) for the block directories


class CPUTimeUp(BaseException):
    """Raised inside a child at SIGXCPU, when it has used its CPU time cap."""


class SnippetTimeout(BaseException):
    """Raised inside a child when its time is up (a BaseException, so `except Exception` cannot swallow it)."""


# The stub samples reach. A zygote warms the SDK up before any worker has started its stub (the SDK's own
# requests are answered in-process, see answer_sdk_in_process), then each worker sets its own (set_stub_url).
STUB_URL = "http://127.0.0.1:9/v1"
STUB_ADDRESS = ("127.0.0.1", 9)


def set_stub_url(url: str) -> None:
    global STUB_URL, STUB_ADDRESS
    host, _, port = url.removeprefix("http://").partition("/")[0].rpartition(":")
    STUB_URL, STUB_ADDRESS = url, (host, int(port))
    os.environ["OPENAI_BASE_URL"] = url


def redirect_openai_clients() -> None:
    """Make every OpenAI client the sample builds talk to the stub, whatever base_url it names."""
    try:
        import openai
    except ImportError:
        return
    for cls in (openai.OpenAI, openai.AsyncOpenAI):
        original = cls.__init__

        def redirected_init(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> None:
            kwargs["base_url"] = STUB_URL
            kwargs.pop("data_residency", None)  # cannot be combined with base_url
            __original(self, *args, **kwargs)

        redirected_init.__doc__ = original.__doc__
        redirected_init.__wrapped__ = original  # type: ignore[attr-defined]
        cls.__init__ = redirected_init  # type: ignore[method-assign]


def load_sibling(name: str) -> Any:
    """A module of this folder (stub.py, netguard.py, confine.py), loaded by path under a private name: the
    worker runs isolated, scripts/ is not on its sys.path, and a sample's own `import stub` must not find it."""
    path = os.path.join(os.path.dirname(__file__), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_snippet_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def answer_sdk_in_process(stub: Any) -> None:
    """Give the HTTP clients the SDK makes for itself a transport that gets the stub's answer in-process.

    The SDK builds its request as ever (URL, headers, JSON body) and parses the answer as ever; only the
    socket, the HTTP/1.1 exchange and the stub's HTTP server are left out: `stub.respond` checks the request
    exactly as the stub's server would. A block pays for none of it: no connection, no server thread, no
    HTTP parsing on either side (about a quarter of a block's cost). Clients a sample builds itself (an
    `http_client=` of its own, `requests`, `curl`) still talk HTTP to the stub, whose URL they are given.
    """
    try:
        import httpx2
        from openai import _base_client
    except ImportError:
        return

    def is_stub(request: Any) -> bool:
        return (request.url.host, request.url.port) == STUB_ADDRESS

    def answer(request: Any) -> Any:
        status, content_type, body = stub.respond(request.method, request.url.raw_path.decode("ascii"),
                                                  request.headers.get("Authorization", ""), request.content)
        return httpx2.Response(status, headers={"Content-Type": content_type}, content=body)

    class StubTransport(httpx2.BaseTransport):
        def __init__(self) -> None:
            self._network: Any = None  # for any other URL, as the SDK would have sent it

        def handle_request(self, request: Any) -> Any:
            if is_stub(request):
                request.read()
                return answer(request)
            if self._network is None:
                self._network = httpx2.HTTPTransport()
            return self._network.handle_request(request)

        def close(self) -> None:
            if self._network is not None:
                self._network.close()

    class AsyncStubTransport(httpx2.AsyncBaseTransport):
        def __init__(self) -> None:
            self._network: Any = None

        async def handle_async_request(self, request: Any) -> Any:
            if is_stub(request):
                await request.aread()
                return answer(request)
            if self._network is None:
                self._network = httpx2.AsyncHTTPTransport()
            return await self._network.handle_async_request(request)

        async def aclose(self) -> None:
            if self._network is not None:
                await self._network.aclose()

    for wrapper, transport in ((_base_client.SyncHttpxClientWrapper, StubTransport),
                               (_base_client.AsyncHttpxClientWrapper, AsyncStubTransport)):
        original = wrapper.__init__

        def init(self: Any, *args: Any, __original: Any = original, __transport: Any = transport,
                 **kwargs: Any) -> None:
            kwargs.setdefault("transport", __transport())
            __original(self, *args, **kwargs)

        wrapper.__init__ = init  # type: ignore[method-assign]


# CPython 3.11 specializes a function's bytecode from its 8th call on. A worker that ran the SDK once leaves
# every child to bump the warm-up counter of each SDK function it calls, and to run it unspecialized: both
# write to code objects the child shares with the worker, so each such page is copied, block after block.
# Warmed on one shape of call (the common one), the specializations hold in the children; mixing shapes
# during warm-up leaves more of them to fail and write in every child (measured: more pages copied).
WARM_UP_ROUNDS = 10


def warm_up() -> None:
    """Import the SDK, run each kind of call once so children import nothing more, then run the common call
    until it is specialized (see WARM_UP_ROUNDS)."""
    import asyncio

    try:
        import openai
    except ImportError:  # samples that import it will fail and say so
        return

    base_url = STUB_URL
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]

    async def async_call() -> None:
        async with openai.AsyncOpenAI(api_key=DUMMY_API_KEY, base_url=base_url) as client:
            await client.chat.completions.create(model="warm-up", messages=messages)
            async for _ in await client.chat.completions.create(model="warm-up", messages=messages, stream=True):
                pass

    asyncio.run(async_call())
    with openai.OpenAI(api_key=DUMMY_API_KEY, base_url=base_url) as client:
        client.embeddings.create(model="warm-up", input="hi", encoding_format="float")  # base64 would import numpy
        for _ in client.chat.completions.create(model="warm-up", messages=messages, stream=True):
            pass
    for _ in range(WARM_UP_ROUNDS):
        with openai.OpenAI(api_key=DUMMY_API_KEY, base_url=base_url) as client:  # as a sample would
            completion = client.chat.completions.create(model="warm-up", messages=messages, temperature=0.7)
            repr(completion.choices[0].message)


def child_environment(workdir: str, base_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "API_KEY": DUMMY_API_KEY,
        "OPENAI_API_KEY": DUMMY_API_KEY,
        "DASHSCOPE_API_KEY": DUMMY_API_KEY,
        "OPENAI_BASE_URL": base_url,
        "NO_PROXY": "*",
    }


def _error_line(tb: Any, filename: str) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line


def _prime_linecache(job: dict[str, Any]) -> None:
    """Give tracebacks the block's source lines: inside the sandbox the Markdown file is not there to read."""
    lines = ["\n"] * max(first + len(text) for first, text in job["source"])
    for first, text in job["source"]:
        lines[first - 1:first - 1 + len(text)] = text
    linecache.cache[job["filename"]] = (sum(map(len, lines)), None, lines, job["filename"])


def _cap_of(err: BaseException) -> str:
    """Which cap an exception means was hit: "memory", "file" (a file or the output too large), or ""."""
    if isinstance(err, MemoryError):
        return "memory"
    if isinstance(err, OSError) and err.errno == errno.EFBIG:
        return "file"
    return ""


def run_in_child(job: dict[str, Any], guard: Any, workdir: str,
                 output_fd: int) -> tuple[str, str, int | None, str]:
    """Run one job's setup and block; everything here happens in the forked child.
    Returns (status, message, line, cap), cap naming the limit that made the block fail, if one did.

    The worker has already installed the network guard and the OpenAI redirect, set the environment (HOME and
    TMPDIR are the block directory, made afresh for every block) and line-buffered `sys.stdout`/`sys.stderr`:
    done once there, they cost a child nothing, while every page of shared memory a child writes to is a page
    it must copy.
    """
    os.setpgid(0, 0)
    os.chdir(workdir)
    os.dup2(output_fd, 1)  # the worker's own stdout and stdin are /dev/null; its stderr is the runner's
    os.dup2(output_fd, 2)
    os.close(output_fd)
    _prime_linecache(job)
    filename = guard.filename = job["filename"]
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    status, message, line, part, cap = "passed", "", None, "block", ""
    signal.setitimer(signal.ITIMER_REAL, job["timeout"])
    try:
        if job["setup"] is not None:
            part = "setup"
            exec(job["setup"], namespace)
            part = "block"
        exec(job["code"], namespace)
    except SnippetTimeout as err:
        status, line, cap = "failed", _error_line(err.__traceback__, filename), "time"
        message = f"timed out after {job['timeout']:g} s"
    except CPUTimeUp as err:
        status, line, cap = "failed", _error_line(err.__traceback__, filename), "cpu"
        message = "CPU time cap reached"
    except SystemExit as err:
        if err.code not in (None, 0):
            status, line = "failed", _error_line(err.__traceback__, filename)
            message = f"exited with status {err.code}"
    except BaseException as err:  # noqa: BLE001 - whatever the sample raises is its result
        status, line, cap = "failed", _error_line(err.__traceback__, filename), _cap_of(err)
        message = traceback.format_exception_only(type(err), err)[-1].strip()
        tb = err.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != filename:
            tb = tb.tb_next  # drop this worker's own frames from the traceback the sample's output shows
        try:
            traceback.print_exception(type(err), err, tb or err.__traceback__)
        except Exception:  # noqa: BLE001 - the output may be full (its cap) or closed by the sample
            pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if guard.refusals:  # a refused connection fails the block even if the sample caught the error
        status = "failed"
        message, line = guard.refusals[0][0], guard.refusals[0][1] or line
    if status == "failed" and part == "setup":
        message = f"in the post's setup block: {message}"
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a sample may have closed or replaced its streams
            pass
    return status, message[:2000], line, cap


def _time_is_up(signum: int, frame: Any) -> None:
    raise SnippetTimeout


def _cpu_time_is_up(signum: int, frame: Any) -> None:
    raise CPUTimeUp


def _encode_result(status: str, message: str, line: int | None, cap: str) -> bytes:
    # Plain text, not JSON: the json module's encoder is code a child would otherwise have to touch (and copy).
    return f"{status}\n{'' if line is None else line}\n{cap}\n{message}".encode("utf-8", "replace")


def _decode_result(raw: bytes) -> dict[str, Any]:
    status, line, cap, message = raw.decode("utf-8", "replace").split("\n", 3)
    return {"status": status, "message": message, "line": int(line) if line else None, "cap": cap}


def _read_available(fd: int) -> bytes:
    """What is in a pipe now, without waiting for writers that may still hold it (outside the sandbox a
    process a block left running may)."""
    os.set_blocking(fd, False)
    raw = b""
    try:
        while chunk := os.read(fd, 65536):
            raw += chunk
    except BlockingIOError:
        pass
    return raw


def _death(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f"was killed by {signal.Signals(number).name}"
        except ValueError:
            return f"was killed by signal {number}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


class BlockRunner:
    """Runs jobs for the worker, each in a forked child.

    In the sandbox (`namespaces` given) each child is the first process of PID, mount and user namespaces of
    its own (confine.py), with a fresh tmpfs on /tmp as its directory, and whatever it started dies with it.
    Outside, each child runs in a block directory made afresh for every job under `scratch`, in a process
    group of its own, killed as a group. The directory's path stays the same (it is the children's HOME and
    TMPDIR, set once in the worker's environment), so a child needs no environment change of its own.
    """

    def __init__(self, settings: WorkerSettings, guard: Any, private_fds: tuple[int, ...],
                 confine: Any, namespaces: Any = None, scratch: str = "") -> None:
        self.settings = settings
        self.confine = confine  # confine.py, loaded by path
        self.namespaces = namespaces
        self.workdir = SANDBOX_WORKDIR if namespaces is not None else os.path.join(scratch, "block")
        self.guard = guard
        self.private_fds = private_fds + ((namespaces.pid_namespace,) if namespaces is not None else ())
        self.restore_fork_handlers: Callable[[], None] = lambda: None  # see hold_fork_handlers
        self._stale = 0

    def _fresh_workdir(self) -> None:
        if self.namespaces is not None:
            return  # the child mounts a fresh tmpfs there
        try:
            os.mkdir(self.workdir, 0o700)
        except FileExistsError:  # what a block left behind and could not be removed: move it out of the way
            self._stale += 1
            os.rename(self.workdir, f"{self.workdir}.stale{self._stale}")
            os.mkdir(self.workdir, 0o700)

    def _clear_workdir(self) -> None:
        if self.namespaces is not None:
            return
        try:
            os.rmdir(self.workdir)  # most blocks leave it empty
        except OSError:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _child(self, job: dict[str, Any], result_fd: int, output_fd: int) -> None:
        """The forked child: never returns."""
        code = 0
        try:
            self.restore_fork_handlers()
            for fd in self.private_fds:  # the sample must not be able to talk to the runner
                os.close(fd)
            if self.namespaces is not None:
                self.namespaces.enter()
            self.confine.set_limits(self.settings.memory, self.settings.cpu_seconds, self.settings.output)
            os.write(result_fd, _encode_result(*run_in_child(job, self.guard, self.workdir, output_fd)))
        except BaseException:  # noqa: BLE001 - report and leave; the parent notices the missing result
            code = 70
        finally:
            os._exit(code)

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Fork a child for one job, wait for it within the timeout, and collect its result and output."""
        self._fresh_workdir()
        # A new output file per block (in memory, on no file system the block sees): nothing a block left
        # running could write into the next one's output.
        output_fd = os.memfd_create("block-output", os.MFD_CLOEXEC)
        read_end, write_end = os.pipe()
        pid = self.namespaces.fork() if self.namespaces is not None else os.fork()
        if pid == 0:
            os.close(read_end)
            self._child(job, write_end, output_fd)
        os.close(write_end)
        pidfd = os.pidfd_open(pid)
        try:
            ready, _, _ = select.select([pidfd], [], [], job["timeout"] + KILL_GRACE)
        finally:
            os.close(pidfd)
        try:
            # The child if it hangs. In the sandbox, everything it started dies with it (it is the first
            # process of its PID namespace); outside, its process group is what can be reached.
            if self.namespaces is not None:
                os.kill(pid, signal.SIGKILL)
            else:
                os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _, status, usage = os.wait4(pid, 0)
        raw = _read_available(read_end)
        os.close(read_end)
        printed = os.fstat(output_fd).st_size
        # At most OUTPUT_LIMIT characters, which is at most 4 bytes each in UTF-8.
        output = os.pread(output_fd, 4 * OUTPUT_LIMIT, 0).decode("utf-8", "replace")[:OUTPUT_LIMIT]
        os.close(output_fd)
        self._clear_workdir()
        if not ready:
            result = {"status": "failed", "message": f"timed out after {job['timeout']:g} s (killed)", "line": None,
                      "cap": "time"}
        elif raw:
            try:
                result = _decode_result(raw)
            except ValueError:  # a sample wrote to the result pipe itself
                result = {"status": "failed", "message": "the block's result was garbled", "line": None, "cap": ""}
        else:
            cpu = usage.ru_utime + usage.ru_stime
            cap = "cpu" if cpu >= self.settings.cpu_seconds and os.WIFSIGNALED(status) else ""
            result = {"status": "failed", "message": f"the block's process {_death(status)} without a result",
                      "line": None, "cap": cap}
        if printed >= self.settings.output:
            result.update(status="failed", cap="output")
        return {"id": job["id"], **result, "output": output}


def hold_fork_handlers() -> Callable[[], None]:
    """Keep threading's and logging's at-fork handlers from running at every fork of this worker; returns
    the function a child calls to put them back, so that a fork the sample itself makes runs them as usual.

    They reset thread bookkeeping and locks in the child (and logging's take and release its lock around
    the fork). In this single-threaded worker they have nothing to do, but running them made every child
    copy pages it shares with the worker. (`random`'s handler, which reseeds the child, still runs.)
    The handlers live in lists the interpreter keeps, found as the lists that hold them; where that does not
    hold (another Python, threads running) nothing is held.
    """
    import threading

    known: tuple[Any, ...] = (getattr(threading, "_after_fork", None),)  # a tuple: a list would match below
    if "logging" in sys.modules:
        logging = sys.modules["logging"]
        known += (getattr(logging, "_after_at_fork_child_reinit_locks", None), getattr(logging, "_acquireLock", None),
                  getattr(logging, "_releaseLock", None))
    known = tuple(handler for handler in known if handler is not None)
    lists: list[list[Any]] = []
    for handler in known:
        for referrer in gc.get_referrers(handler):
            if type(referrer) is list and all(map(callable, referrer)) and not any(referrer is h for h in lists):
                lists.append(referrer)
    held = [(handlers, list(handlers)) for handlers in lists]  # copied only now, or the copies would match
    if threading.active_count() != 1 or not held:
        return lambda: None
    for handlers, _ in held:
        handlers[:] = [h for h in handlers if not any(h is handler for handler in known)]

    def put_back() -> None:
        for handlers, saved in held:
            handlers[:] = saved

    return put_back


def prepare_children(workdir: str) -> None:
    """What every child needs and the worker can set once: temporary directory, standard streams."""
    tempfile.tempdir = workdir
    for stream in (sys.stdout, sys.stderr):
        # Line-buffered, so what a block prints and the traceback it ends with stay in order in its output.
        stream.reconfigure(encoding="utf-8", errors="replace", line_buffering=True)
        stream.flush()


def send_frame(stream: Any, message: dict[str, Any]) -> None:
    data = marshal.dumps(message)
    stream.write(len(data).to_bytes(4, "little") + data)
    stream.flush()


def _read_exactly(stream: Any, size: int) -> bytes:
    """`size` bytes, fewer only at the end of the stream (an unbuffered stream may return fewer per read)."""
    data = b""
    while len(data) < size and (chunk := stream.read(size - len(data))):
        data += chunk
    return data


def read_frame(stream: Any) -> dict[str, Any] | None:
    """The next message, or None at the end of the stream."""
    header = _read_exactly(stream, 4)
    if len(header) < 4:
        return None
    size = int.from_bytes(header, "little")
    data = _read_exactly(stream, size)
    return marshal.loads(data) if len(data) == size else None


def prepare_sdk(stub: Any, netguard: Any) -> Any:
    """What every worker sets up alike, before it forks any child: environment, network guard, alarm
    handler, the OpenAI redirect and in-process answers, and a warm SDK."""
    os.environ.clear()
    os.environ.update(child_environment(tempfile.gettempdir(), STUB_URL))  # each worker sets its dirs and URL
    guard = netguard.NetworkGuard()
    guard.install()
    signal.signal(signal.SIGALRM, _time_is_up)
    signal.signal(signal.SIGXCPU, _cpu_time_is_up)  # at a block's CPU time cap (set in its child)
    redirect_openai_clients()
    answer_sdk_in_process(stub)
    warm_up()
    return guard


def serve(jobs_fd: int, results_fd: int, stub: Any, confine: Any, guard: Any,
          settings: WorkerSettings) -> None:
    """Be one worker: a stub of its own, then a child per job until the jobs end."""
    # The protocol stays on these private descriptors; a child's prints never reach the runner's pipe.
    jobs_in = os.fdopen(jobs_fd, "rb")
    results_out = os.fdopen(results_fd, "wb")
    namespaces, scratch = None, ""
    if settings.sandboxed:  # the sandbox's network namespace has nothing but loopback
        namespaces, network = confine.BlockNamespaces(settings.memory), "sandbox"
        refused = namespaces.trial()
        if refused:
            send_frame(results_out, {"ready": False, "refused": refused})
            return
    else:
        network = "namespace" if confine.isolate_network() else "guard"
        scratch = tempfile.mkdtemp(prefix="worker-", dir=settings.scratch)  # the runner removes its folder
    try:
        with stub.OpenAIStub() as server:  # started inside the namespace; stopped when the jobs end
            runner = BlockRunner(settings, guard, (jobs_in.fileno(), results_out.fileno(), *server.pipe_fds),
                                 confine, namespaces, scratch)
            os.environ.update(HOME=runner.workdir, TMPDIR=runner.workdir)
            set_stub_url(server.base_url)
            prepare_children(runner.workdir)
            runner.restore_fork_handlers = hold_fork_handlers()
            gc.collect()
            gc.freeze()  # children then share the warm heap instead of copying it on the next collection
            send_frame(results_out, {"ready": True, "network": network, "pid": os.getpid()})
            while (job := read_frame(jobs_in)) is not None:
                send_frame(results_out, runner.run(job))
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    """`worker.py SETTINGS` is one worker talking on stdin/stdout. `worker.py SETTINGS J,R [J,R …]`
    is a zygote: it warms the SDK up once, forks one worker per pair of descriptors (jobs in, results out)
    and waits for them, so N workers cost one import of the SDK. SETTINGS is WorkerSettings as JSON."""
    settings = WorkerSettings(**json.loads(sys.argv[1]))
    channels = [(int(jobs), int(results)) for jobs, results in (pair.split(",") for pair in sys.argv[2:])]
    standalone = not channels
    if standalone:
        channels = [(os.dup(0), os.dup(1))]
    null = os.open(os.devnull, os.O_RDWR)  # the children inherit stdin and stdout: /dev/null
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    confine = load_sibling("confine")
    stub = load_sibling("stub")
    guard = prepare_sdk(stub, load_sibling("netguard"))
    if standalone:
        serve(*channels[0], stub, confine, guard, settings)
        return
    gc.collect()
    gc.freeze()  # the workers share the warm heap too: none of them walks (and so copies) it to collect
    workers = []
    for jobs_fd, results_fd in channels:
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                for fd in {fd for pair in channels for fd in pair} - {jobs_fd, results_fd}:
                    os.close(fd)
                serve(jobs_fd, results_fd, stub, confine, guard, settings)
            except BaseException:  # noqa: BLE001 - the runner sees the worker's channel close
                traceback.print_exc()
                status = 1
            finally:
                os._exit(status)
        workers.append(pid)
    for pair in channels:
        for fd in pair:
            os.close(fd)
    for pid in workers:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
    os._exit(0)  # skip tearing the loaded SDK down module by module: everything is flushed and closed
