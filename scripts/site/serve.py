"""`invoke serve`: Hugo's live-reload server on 127.0.0.1."""
from __future__ import annotations

import subprocess
from pathlib import Path

from scripts.errors import UsageError
from scripts.site import hugo


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
    """Hugo's live-reload server on 127.0.0.1; returns when the user stops it."""
    cmd = serve_command(root, port=port, drafts=drafts, future=future)
    try:
        subprocess.run(cmd, check=False, env=hugo.hugo_environment())
    except KeyboardInterrupt:
        pass
