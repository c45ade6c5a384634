"""The static server `invoke audit` and the browser tests use, met by a client that hangs up."""
from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from scripts.site.static_server import StaticServer

WAIT_SECONDS = 30  # for the server's request thread to end: a bound, not a measurement


def request_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if "process_request_thread" in t.name}


def test_a_client_hanging_up_mid_answer_prints_no_traceback(tmp_path: Path, capfd: pytest.CaptureFixture[str]):
    site = tmp_path / "site"
    site.mkdir()
    (site / "big.bin").write_bytes(b"\0" * (32 << 20))  # far more than the socket buffers hold
    others = set(request_threads())  # other servers' of this test process, if any
    with StaticServer(site) as server:
        port = int(server.base_url.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert client.recv(4096).startswith(b"HTTP/1.0 200")
            # Close with a reset, as a cancelled browser request does, while the server is still writing.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        deadline = time.monotonic() + WAIT_SECONDS
        while request_threads() - others and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not request_threads() - others, "the server still answers a client that hung up"
    assert "Traceback" not in capfd.readouterr().err
