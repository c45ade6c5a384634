"""`invoke serve`: Hugo's live-reload server on 127.0.0.1, stopped with `invoke serve` however that is stopped."""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from scripts.errors import UsageError
from scripts.site import hugo

# Ctrl-C reaches Hugo itself (it is in the terminal's process group); these may be sent to us alone.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
GRACE_SECONDS = 5.0  # for Hugo to exit after SIGTERM before it is killed
PR_SET_PDEATHSIG = 1


class _Server:
    """The Hugo process, and whether a stop signal came (perhaps before it had started)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.stop_requested = False

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        if self.process is not None:
            self.process.terminate()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _stopped_with_parent() -> Callable[[], None]:
    """A preexec_fn that has the kernel send Hugo SIGTERM when we die, even by SIGKILL, which no handler sees."""
    parent, prctl = os.getpid(), ctypes.CDLL(None, use_errno=True).prctl

    def arrange() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # we died before the request was in place
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def serve_command(root: Path, *, port: int = 1313, drafts: bool = False, future: bool = False) -> list[str]:
    """The `hugo server` command line of `invoke serve` (the benchmark runs it on other projects too)."""
    if not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {port}")
    cmd = [str(hugo.hugo_binary()), "server", "--source", str(root), "--bind", "127.0.0.1",
           "--port", str(port), "--baseURL", f"http://127.0.0.1:{port}/", "--renderToMemory"]
    if drafts:
        cmd.append("--buildDrafts")
    if future:
        cmd.append("--buildFuture")
    return cmd


def serve_site(root: Path, *, port: int = 1313, drafts: bool = False, future: bool = False) -> None:
    """Hugo's live-reload server on 127.0.0.1; returns when the user stops it (Ctrl-C, SIGTERM, SIGHUP),
    and never leaves Hugo running."""
    cmd = serve_command(root, port=port, drafts=drafts, future=future)
    server = _Server()
    previous = {signum: signal.signal(signum, server.on_signal) for signum in STOP_SIGNALS}
    try:
        server.process = subprocess.Popen(cmd, env=hugo.hugo_environment(), preexec_fn=_stopped_with_parent())
        if server.stop_requested:  # the signal came while Hugo was being started
            server.process.terminate()
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.stop()
