"""A warm worker that runs Python code samples, each in a forked child of its own.

Started by scripts/snippet_runner.py as `python -I snippet_worker.py PATH/TO/openai_stub.py`; self-contained
(it imports nothing from scripts/). At start it moves into a network namespace of its own where only
loopback exists (when the kernel lets it: root, or unprivileged user namespaces), so nothing a sample
starts, not even a `curl` subprocess, can reach another host; it starts its own OpenAI stub inside that
namespace, imports the `openai` SDK once and makes a round trip to the stub, so every later child starts
with the SDK loaded. This process never runs a sample itself: for each job it forks a child, which

  - gets its own process group, an empty temporary directory as cwd, HOME and TMPDIR, and a clean
    environment (no inherited secrets; dummy API keys; OPENAI_BASE_URL pointing at the stub);
  - refuses any network address but loopback in Python, before a packet leaves (socket connect/sendto and
    name lookups are guarded), and records the attempt so the report can say what happened — also where
    no namespace could be made;
  - redirects every OpenAI client it builds to the stub, whatever `base_url` the sample names;
  - runs the post's setup code and the block, compiled so that line numbers are Markdown line numbers;
  - writes a one-line JSON result to a pipe, and its output to a file.

The worker kills the child's whole process group when the per-block timeout passes.

Protocol: one JSON object per line. In: {"id", "filename", "code", "first_line", "setup", "timeout"}, where
setup is null or {"code", "first_line"}. Out: first {"ready": true, "network": "namespace" or "guard"},
then per job {"id", "status", "message", "line", "output"} with status "passed" or "failed".
"""
from __future__ import annotations

import builtins
import ctypes
import errno
import fcntl
import gc
import ipaddress
import json
import os
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import traceback
from typing import Any, Callable

DUMMY_API_KEY = "sk-snippet-check-dummy-key"
OUTPUT_LIMIT = 64 * 1024  # characters of a block's output kept for the report
FILE_SIZE_LIMIT = 64 * 1024 * 1024  # a runaway sample cannot fill the disk
KILL_GRACE = 1.0  # seconds after the timeout before a child that ignored it is killed
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class SnippetTimeout(BaseException):
    """Raised inside a child when its time is up (a BaseException, so `except Exception` cannot swallow it)."""


class NetworkRefused(PermissionError):
    """A sample tried to reach a non-loopback address."""


def padded(code: str, first_line: int) -> str:
    # Leading newlines make the compiled code's line numbers the Markdown file's line numbers.
    return "\n" * (first_line - 1) + code


def is_loopback(host: Any) -> bool:
    if host is None:
        return True  # getaddrinfo(None, ...) means the local host
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%", 1)[0].lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _is_ip(host: Any) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host).strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


class NetworkGuard:
    """Patches the socket module in a child so only loopback is reachable; remembers each refusal."""

    def __init__(self) -> None:
        self.filename = ""  # the running block's file, whose frames give a refusal its line
        self.refusals: list[tuple[str, int | None]] = []

    def _refuse(self, what: str) -> NetworkRefused:
        line = None
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.filename:
                line = frame.f_lineno
                break
            frame = frame.f_back
        message = f"network access refused: {what} (samples may only reach loopback; the check runs offline)"
        self.refusals.append((message, line))
        return NetworkRefused(errno.EACCES, message)

    def _check_address(self, family: int, address: Any, verb: str) -> None:
        if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
            if not is_loopback(address[0]):
                raise self._refuse(f"{verb} {address[0]}:{address[1] if len(address) > 1 else '?'}")

    def install(self) -> None:
        guard = self
        sock = socket.socket
        connect, connect_ex, sendto, sendmsg = sock.connect, sock.connect_ex, sock.sendto, sock.sendmsg

        def guarded_connect(self: socket.socket, address: Any) -> None:
            guard._check_address(self.family, address, "connect to")
            return connect(self, address)

        def guarded_connect_ex(self: socket.socket, address: Any) -> int:
            guard._check_address(self.family, address, "connect to")
            return connect_ex(self, address)

        def guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
            guard._check_address(self.family, args[-1], "send to")
            return sendto(self, data, *args)

        def guarded_sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
            if len(args) >= 3:
                guard._check_address(self.family, args[2], "send to")
            return sendmsg(self, buffers, *args)

        sock.connect, sock.connect_ex, sock.sendto, sock.sendmsg = (
            guarded_connect, guarded_connect_ex, guarded_sendto, guarded_sendmsg)

        def lookup(original: Callable[..., Any], verb: str) -> Callable[..., Any]:
            def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
                name = host[0] if isinstance(host, tuple) else host
                # A numeric address needs no DNS query; connect() decides whether it may be reached.
                if not is_loopback(name) and not (verb == "name lookup of" and _is_ip(name)):
                    raise guard._refuse(f"{verb} {name!r}")
                return original(host, *args, **kwargs)

            return guarded

        socket.getaddrinfo = lookup(socket.getaddrinfo, "name lookup of")
        socket.gethostbyname = lookup(socket.gethostbyname, "name lookup of")
        socket.gethostbyname_ex = lookup(socket.gethostbyname_ex, "name lookup of")
        socket.gethostbyaddr = lookup(socket.gethostbyaddr, "address lookup of")
        socket.getnameinfo = lookup(socket.getnameinfo, "address lookup of")


CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def isolate_network() -> bool:
    """Enter a new network namespace with only loopback up; False when the kernel does not allow it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0 and libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # `ip link set lo up`, without `ip`
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    return True


def start_stub(stub_script: str) -> tuple[subprocess.Popen[str], str]:
    """This worker's own OpenAI stub (inside its namespace); it stops when its stdin closes."""
    stub = subprocess.Popen([sys.executable, "-I", stub_script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert stub.stdout is not None
    base_url = stub.stdout.readline().strip()
    if not base_url.startswith("http://127.0.0.1:"):
        raise RuntimeError("the OpenAI stub failed to start")
    return stub, base_url


def redirect_openai_clients(base_url: str) -> None:
    """Make every OpenAI client the sample builds talk to the stub, whatever base_url it names."""
    try:
        import openai
    except ImportError:
        return
    for cls in (openai.OpenAI, openai.AsyncOpenAI):
        original = cls.__init__

        def redirected_init(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> None:
            kwargs["base_url"] = base_url
            kwargs.pop("data_residency", None)  # cannot be combined with base_url
            __original(self, *args, **kwargs)

        redirected_init.__doc__ = original.__doc__
        redirected_init.__wrapped__ = original  # type: ignore[attr-defined]
        cls.__init__ = redirected_init  # type: ignore[method-assign]


def share_tls_context() -> None:
    """Build the SDK's default TLS context once, before forking, instead of in every child (~25 ms each).

    Samples only ever reach the plain-HTTP stub, so sharing the context changes nothing they can see.
    """
    try:
        import httpcore2  # the SDK's HTTP stack
    except ImportError:
        return
    original = httpcore2.default_ssl_context
    shared = original()

    def default_ssl_context(*, _trust_env: bool = True) -> Any:
        if _trust_env and (os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")):
            return original(_trust_env=_trust_env)
        return shared

    httpcore2.default_ssl_context = default_ssl_context


def warm_up(base_url: str) -> None:
    """Import the SDK and exercise it once against the stub, so children inherit a loaded SDK."""
    import asyncio  # noqa: F401 - commonly used by samples; imported once here

    try:
        import openai
    except ImportError:  # samples that import it will fail and say so
        return

    share_tls_context()
    client = openai.OpenAI(api_key=DUMMY_API_KEY, base_url=base_url, max_retries=0)
    try:
        client.chat.completions.create(model="warm-up", messages=[{"role": "user", "content": "hi"}])
        for _ in client.chat.completions.create(model="warm-up", messages=[{"role": "user", "content": "hi"}],
                                                stream=True):
            pass
    finally:
        client.close()  # no pooled connection may leak into the children


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


def run_in_child(job: dict[str, Any], guard: NetworkGuard, workdir: str, output_path: str) -> dict[str, Any]:
    """Run one job's setup and block; everything here happens in the forked child.

    The worker has already installed the network guard and the OpenAI redirect, and set the environment:
    done once there, they cost a child nothing (each change here copies pages the child shares).
    """
    os.setpgid(0, 0)
    os.chdir(workdir)
    os.environ["HOME"] = os.environ["TMPDIR"] = workdir
    tempfile.tempdir = workdir
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    out = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)
    filename = guard.filename = job["filename"]
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    status, message, line, part = "passed", "", None, "block"
    signal.setitimer(signal.ITIMER_REAL, job["timeout"])
    try:
        if job.get("setup"):
            part = "setup"
            setup = job["setup"]
            exec(compile(padded(setup["code"], setup["first_line"]), filename, "exec"), namespace)
            part = "block"
        exec(compile(padded(job["code"], job["first_line"]), filename, "exec"), namespace)
    except SnippetTimeout as err:
        status, line = "failed", _error_line(err.__traceback__, filename)
        message = f"timed out after {job['timeout']:g} s"
    except SystemExit as err:
        if err.code not in (None, 0):
            status, line = "failed", _error_line(err.__traceback__, filename)
            message = f"exited with status {err.code}"
    except BaseException as err:  # noqa: BLE001 - whatever the sample raises is its result
        status, line = "failed", _error_line(err.__traceback__, filename)
        message = traceback.format_exception_only(type(err), err)[-1].strip()
        tb = err.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != filename:
            tb = tb.tb_next  # drop this worker's own frames from the traceback the sample's output shows
        traceback.print_exception(type(err), err, tb or err.__traceback__)
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
        except Exception:  # noqa: BLE001 - a sample may have closed its streams
            pass
    return {"status": status, "message": message[:2000], "line": line}


def _time_is_up(signum: int, frame: Any) -> None:
    raise SnippetTimeout


def run_job(job: dict[str, Any], guard: NetworkGuard, scratch: str, private_fds: tuple[int, ...]) -> dict[str, Any]:
    """Fork a child for one job, wait for it within the timeout, and collect its result and output."""
    workdir = tempfile.mkdtemp(prefix="block-", dir=scratch)
    output_path = os.path.join(scratch, "output.txt")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_end)
            for fd in private_fds:  # the sample must not be able to talk to the runner
                os.close(fd)
            result = run_in_child(job, guard, workdir, output_path)
            os.write(write_end, json.dumps(result).encode())
        except BaseException:  # noqa: BLE001 - report and leave; the parent notices the missing result
            code = 70
        finally:
            os._exit(code)
    os.close(write_end)
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], job["timeout"] + KILL_GRACE)
    finally:
        os.close(pidfd)
    timed_out = not ready
    try:
        os.killpg(pid, signal.SIGKILL)  # the child if it hangs, and anything it started
    except (ProcessLookupError, PermissionError):
        pass
    os.waitpid(pid, 0)
    raw = b""
    while chunk := os.read(read_end, 65536):
        raw += chunk
    os.close(read_end)
    shutil.rmtree(workdir, ignore_errors=True)
    try:
        with open(output_path, encoding="utf-8", errors="replace") as handle:
            output = handle.read(OUTPUT_LIMIT)
    except FileNotFoundError:
        output = ""
    if timed_out:
        result = {"status": "failed", "message": f"timed out after {job['timeout']:g} s (killed)", "line": None}
    elif raw:
        result = json.loads(raw)
    else:
        result = {"status": "failed", "message": "the block's process died without a result", "line": None}
    return {"id": job["id"], **result, "output": output}


def main() -> None:
    # Keep the protocol on private descriptors; a child's prints must never reach the runner's pipe.
    jobs_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    results_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    network = "namespace" if isolate_network() else "guard"
    stub, base_url = start_stub(sys.argv[1])
    assert stub.stdin is not None and stub.stdout is not None
    private_fds = (jobs_in.fileno(), results_out.fileno(), stub.stdin.fileno(), stub.stdout.fileno())
    # Everything every child needs, set up once here: the worker itself then only ever talks to its stub.
    environment = child_environment(tempfile.gettempdir(), base_url)  # HOME and TMPDIR are set per block
    os.environ.clear()
    os.environ.update(environment)
    guard = NetworkGuard()
    guard.install()
    redirect_openai_clients(base_url)
    signal.signal(signal.SIGALRM, _time_is_up)
    warm_up(base_url)
    # Per-block directories are made and removed thousands of times: on tmpfs when there is one.
    shm = "/dev/shm"
    scratch = tempfile.mkdtemp(prefix="snippet-worker-", dir=shm if os.access(shm, os.W_OK) else None)
    gc.collect()
    gc.freeze()  # children then share the warm heap instead of copying it on the next collection
    results_out.write(json.dumps({"ready": True, "network": network}) + "\n")
    results_out.flush()
    try:
        for raw_job in jobs_in:
            result = run_job(json.loads(raw_job), guard, scratch, private_fds)
            results_out.write(json.dumps(result) + "\n")
            results_out.flush()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        stub.stdin.close()
        stub.wait(timeout=10)


if __name__ == "__main__":
    main()
