"""How check-external connects: never to a link-local or cloud-metadata address, and never for longer than
a request's deadline, whatever the server sends.

Addresses never contacted (REFUSED_NETWORKS): link-local 169.254.0.0/16 and fe80::/10, where every cloud's
instance metadata lives (169.254.169.254 on AWS, GCP, Azure, Oracle, DigitalOcean; 169.254.170.2 for AWS
ECS credentials), and the metadata and platform addresses outside it: AWS's IPv6 fd00:ec2::254, Alibaba
Cloud's 100.100.100.200 and Azure's 168.63.129.16. The same addresses written as IPv4-mapped IPv6
(::ffff:a.b.c.d) or through NAT64 (64:ff9b::a.b.c.d) are refused too. Loopback and private networks stay
allowed: the tests' servers run on 127.0.0.1, and a blog may link its own intranet.

Every connection resolves its host, refuses it if any address is in that list, and connects only to the
addresses it checked, so a redirect hop or a DNS answer that changes between a check and the connection
cannot get past it. Behind a proxy (HTTP(S)_PROXY) the proxy resolves the names; URLs that name a refused
address literally are still refused (see refused_host).

The deadline: requests' read timeout bounds each wait for a byte, so a server that sends one byte every
few seconds could hold a request for ever. A Deadline shuts down the request's sockets when its time is up
(a duplicate of each socket's descriptor, so that shutting it down never touches a descriptor number that
may have been reused), which ends any read, TLS handshake or body transfer at once.
"""
from __future__ import annotations

import ipaddress
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED_NETWORKS: tuple[tuple[Network, str], ...] = (
    (ipaddress.ip_network("169.254.0.0/16"), "a link-local address (where cloud metadata services live)"),
    (ipaddress.ip_network("fe80::/10"), "a link-local address"),
    (ipaddress.ip_network("fd00:ec2::254/128"), "a cloud metadata address (AWS)"),
    (ipaddress.ip_network("100.100.100.200/32"), "a cloud metadata address (Alibaba Cloud)"),
    (ipaddress.ip_network("168.63.129.16/32"), "a cloud platform address (Azure)"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """A host that is, or resolves to, an address check-external never contacts."""


def refusal(address: str) -> str | None:
    """Why `address` (an IP literal, maybe with an IPv6 %zone) is never contacted, or None."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None and refusal(str(embedded)):
            return refusal(str(embedded))
    return next((reason for network, reason in REFUSED_NETWORKS if ip.version == network.version and ip in network),
                None)


def refused_host(host: str) -> str | None:
    """The reason a URL's host is refused without any lookup: an IP literal in REFUSED_NETWORKS."""
    literal = host.strip("[]")
    reason = refusal(literal)
    return f"{literal} is {reason}" if reason else None


class Deadline:
    """One request's time limit: when it passes, every socket attached to it is shut down."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def attach(self, sock: socket.socket) -> None:
        """Shut `sock` down when the deadline passes (at once if it has)."""
        try:
            fd = os.dup(sock.fileno())
        except OSError:
            return  # already closed: nothing left to stop
        try:
            duplicate = socket.socket(fileno=fd)
        except OSError:
            os.close(fd)
            return
        with self._lock:
            self._sockets.append(duplicate)
            if self.expired:
                _shut_down(duplicate)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut_down(sock)

    def release(self) -> None:
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


def _shut_down(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected (yet, or any more)


_current = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Run the requests this thread makes inside the block under one deadline of `seconds`."""
    limit = Deadline(seconds)
    timer = threading.Timer(seconds, limit.expire)
    timer.daemon = True
    _current.deadline = limit
    timer.start()
    try:
        yield limit
    finally:
        timer.cancel()
        _current.deadline = None
        limit.release()


def _active() -> Deadline | None:
    return getattr(_current, "deadline", None)


def _resolve(host: str, port: int, timeout: float | None) -> list[tuple]:
    """getaddrinfo with a time limit: the lookup runs in a thread that is left to finish on its own."""
    found: list = []
    done = threading.Event()

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as err:
            found.append(err)
        finally:
            done.set()

    threading.Thread(target=lookup, name="check-external-dns", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"looking up {host} took longer than {timeout:g} s")
    if isinstance(found[0], OSError):
        raise found[0]
    return found[0]


class _VettedConnection:
    """Mixed into urllib3's connections: resolve, refuse, connect only to what was checked, and put every
    socket under the thread's deadline."""

    def _new_conn(self) -> socket.socket:
        limit = _active()
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        if limit is not None:  # a timeout of 0 would make the socket non-blocking: keep a sliver
            timeout = max(0.001, min(math.inf if timeout is None else timeout, limit.remaining()))
        try:
            addresses = _resolve(self.host, self.port, timeout)
        except socket.gaierror as err:
            raise NameResolutionError(self.host, self, err) from err
        except TimeoutError as err:
            raise ConnectTimeoutError(self, str(err)) from err
        for *_, sockaddr in addresses:
            reason = refusal(sockaddr[0])
            if reason:
                raise AddressRefused(f"{self.host} resolves to {sockaddr[0]}, {reason}")
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                if limit is not None:
                    limit.attach(sock)
                sock.connect(sockaddr)
                return sock
            except OSError as err:
                sock.close()
                error = err
        if isinstance(error, socket.timeout):
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out. (connect timeout={timeout})")
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")

    def request(self, *args, **kwargs):
        limit = _active()
        if limit is not None and self.sock is not None:  # a kept-alive connection, reused
            limit.attach(self.sock)
        return super().request(*args, **kwargs)


class _HTTPConnection(_VettedConnection, HTTPConnection):
    pass


class _HTTPSConnection(_VettedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class VettedAdapter(HTTPAdapter):
    """requests' adapter with the vetted connections, for direct and proxied requests alike."""

    _pools = {"http": _HTTPPool, "https": _HTTPSPool}

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._pools
        return manager


def vetted_session() -> requests.Session:
    session = requests.Session()
    adapter = VettedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
