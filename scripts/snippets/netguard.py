"""The network guard of the snippet worker: Python's own sockets may reach loopback only, and each refusal
is remembered, with the line of the block that tried, so that the report can say what happened.

Loaded by path by scripts/snippets/worker.py (stdlib only, like the worker). Inside the sandbox the kernel
keeps every process to the sandbox's loopback anyway; the guard is what names the address and the line, and
fails a block that caught the error.
"""
from __future__ import annotations

import errno
import ipaddress
import socket
import sys
from typing import Any, Callable

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkRefused(PermissionError):
    """A sample tried to reach a non-loopback address."""


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
