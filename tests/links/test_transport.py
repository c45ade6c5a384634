"""check-external against hostile servers on 127.0.0.1: ones that drip an answer one byte at a time, and
links and DNS answers that point at cloud metadata addresses."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scripts.links.external import check_external
from scripts.links.settings import ExternalConfig
from scripts.links.transport import AddressRefused, refusal, vetted_session
from tests.conftest import ROOT
from tests.links.test_external import REDIRECT_TARGETS, outcome, server, write_site  # noqa: F401 - a fixture

# Only the deadline can end a drip: each byte comes far sooner than the per-read timeout.
DRIP = ExternalConfig(connect_timeout=30.0, read_timeout=30.0, total_timeout=1.5, tries=2, backoff=0.05)
DRIP_SECONDS = 0.2  # between two bytes of a dripped answer
DRIP_LIMIT_SECONDS = 60  # a drip server gives up after this, so that no test can hang on it for good


@contextmanager
def drip_server(first: bytes) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that reads the request, sends `first` at once and then one byte every
    DRIP_SECONDS, until the client goes away; yields its port."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(first)
                for _ in range(int(DRIP_LIMIT_SECONDS / DRIP_SECONDS)):
                    if stop.wait(DRIP_SECONDS):
                        return
                    conn.sendall(b"a")
            except OSError:
                return  # the client hung up: what the deadline is for

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


def check_one(tmp_path: Path, url: str, config: ExternalConfig = DRIP, **options):
    site = write_site(tmp_path, {"blog/post": [url]})
    report = check_external(site, project_root=tmp_path, config=config, cache_path=tmp_path / "cache.json", **options)
    return outcome(report, url)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("first, path, options", [
    (b"HTTP/1.1 200 OK\r\nX-Drip: ", "/headers", {}),
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000000\r\n\r\n<!doctype html><p id=",
     "/body#section", {"fragments": True}),
    (b"\x16\x03\x03\x40\x00", "/tls-handshake", {}),  # a TLS record that announces 16 KB, sent a byte at a time
], ids=["headers", "body", "tls-handshake"])
def test_an_answer_dripped_one_byte_at_a_time_ends_at_the_deadline(tmp_path, first: bytes, path: str, options):
    with drip_server(first) as port:
        scheme = "https" if path == "/tls-handshake" else "http"
        result = check_one(tmp_path, f"{scheme}://127.0.0.1:{port}{path}", **options)
    assert not result.ok
    assert result.error == "no complete answer within 1.5 s"


@pytest.mark.parametrize("address", [
    "169.254.169.254", "169.254.170.2", "169.254.0.1", "fe80::1", "fe80::1%1", "fd00:ec2::254",
    "100.100.100.200", "168.63.129.16", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
])
def test_link_local_and_metadata_addresses_are_refused(address: str):
    assert refusal(address)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "::1", "10.0.0.1", "192.168.1.1", "172.16.0.1", "100.100.100.100", "93.184.215.14", "fd00::1",
    "2606:4700::1111", "::ffff:127.0.0.1",
])
def test_other_addresses_are_allowed(address: str):
    assert refusal(address) is None


def test_the_session_refuses_before_it_connects():
    with pytest.raises(AddressRefused, match=r"^169\.254\.169\.254 resolves to 169\.254\.169\.254, a link-local"):
        vetted_session().get("http://169.254.169.254/latest/meta-data/", timeout=5)


# Run in a child process: it records every socket.connect (an audit hook cannot be removed again), and a
# hostile DNS server is played by answering 169.254.169.254 for rebind.test.
NEVER_CONNECTS = """
import json, socket, sys
from pathlib import Path
connects = []
sys.addaudithook(lambda event, args: connects.append(str(args[1][0])) if event == "socket.connect" else None)
real_getaddrinfo = socket.getaddrinfo
def hostile_dns(host, *args, **kwargs):
    if host == "rebind.test":
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80))]
    return real_getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = hostile_dns
from scripts.links.external import check_external
from scripts.links.settings import ExternalConfig
root, urls = Path(sys.argv[1]), sys.argv[2:]
config = ExternalConfig(connect_timeout=2, read_timeout=2, total_timeout=5, tries=1)
report = check_external(root / "site", project_root=root, config=config, cache_path=root / "cache.json")
print(json.dumps({"errors": {r.url: r.error for r in report.results}, "connects": connects}))
"""


def test_metadata_addresses_are_never_connected_to(server, tmp_path):
    urls = ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://100.100.100.200/latest/",
            "http://rebind.test/", f"{server.base}/to/metadata"]
    write_site(tmp_path, {"blog/post": urls})
    proc = subprocess.run([sys.executable, "-c", NEVER_CONNECTS, str(tmp_path), *urls], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert [address for address in found["connects"] if refusal(address)] == []
    assert found["connects"] == ["127.0.0.1"]  # only the redirecting server was contacted
    errors = found["errors"]
    assert errors[urls[0]] == ("not contacted: 169.254.169.254 is a link-local address "
                               "(where cloud metadata services live)")
    assert errors[urls[1]] == "not contacted: fe80::1 is a link-local address"
    assert errors[urls[2]] == "not contacted: 100.100.100.200 is a cloud metadata address (Alibaba Cloud)"
    assert errors[urls[3]].startswith("not contacted: rebind.test resolves to 169.254.169.254, a link-local")
    assert errors[urls[4]].startswith(f"redirect to {REDIRECT_TARGETS['metadata']} not followed: ")
    assert server.paths() == ["/to/metadata"]

