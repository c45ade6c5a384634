"""What the snippet worker does, inside the sandbox, to shut each block into namespaces of its own.

Loaded by path by scripts/snippets/worker.py (stdlib only, like the worker). The sandbox (see sandbox.py)
gives the worker a user namespace in which it holds CAP_SYS_ADMIN and nothing else. For every block the
worker makes a fresh PID namespace whose first process is the block's child (BlockNamespaces.fork); the
child then enters a mount namespace of its own, with a /proc that shows only its own processes and a fresh
tmpfs on /tmp (and /dev/shm), and finally a user namespace in which it holds no privilege at all
(BlockNamespaces.enter). When the child ends, or is killed at its timeout, the kernel kills every process
left in its PID namespace, and its /tmp goes with its mount namespace: nothing a block starts or writes
outlives it. The caps on a block's memory, CPU time and output are set in the child too (set_limits).
Outside the sandbox (--unsandboxed) a worker can only try for a loopback-only network of its own
(isolate_network).
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import resource
import signal
import socket
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND = 0x2, 0x4, 0x8, 0x1000
PR_SET_PDEATHSIG = 1
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class BlockNamespaces:
    """Makes a PID namespace per block (in the worker) and the rest of a block's namespaces (in its child)."""

    def __init__(self, tmp_bytes: int) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        # The worker's own PID namespace: setns() to it after each fork, so that anything else the worker
        # starts is not born into the (by then dead) namespace of the last block.
        self.pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self._tmp_options = f"size={tmp_bytes},mode=1777".encode()

    def _call(self, result: int, what: str) -> None:
        if result != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    def fork(self) -> int:
        """os.fork(), the child being the first process of a new PID namespace."""
        self._call(self._libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
        pid = -1
        try:
            pid = os.fork()
            return pid
        finally:
            if pid != 0:  # in the worker
                self._call(self._libc.setns(self.pid_namespace, CLONE_NEWPID), "setns(CLONE_NEWPID)")

    def enter(self) -> None:
        """In the child (which has closed `pid_namespace`): its own mounts (/proc, /tmp, /dev/shm), then a user
        namespace in which it has no privilege."""
        libc = self._libc
        self._call(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        self._call(libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
        self._call(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, self._tmp_options), "mount /tmp")
        self._call(libc.mount(b"/tmp", b"/dev/shm", None, MS_BIND, None), "mount /dev/shm")
        # In a user namespace of its own the child keeps no capability over the sandbox's mounts and
        # namespaces; its uid there is unmapped (nobody), so no program it runs can gain one back.
        self._call(libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
        self._call(libc.capset(ctypes.byref(_CapHeader(_CAPABILITY_VERSION_3, 0)), (_CapData * 2)()), "capset")
        # Die with the worker (and so take the namespace along) should it be killed: set after the changes of
        # credentials above, which clear it.
        self._call(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL), "prctl(PR_SET_PDEATHSIG)")


    def trial(self) -> str:
        """Confine one child that does nothing else: "" when it worked, else why not (the kernel may refuse a
        mount or a namespace that bwrap itself did not need)."""
        read_end, write_end = os.pipe()
        pid = self.fork()
        if pid == 0:
            code = 0
            try:
                os.close(read_end)
                os.close(self.pid_namespace)
                self.enter()
            except OSError as err:
                os.write(write_end, str(err).encode())
                code = 1
            finally:
                os._exit(code)
        os.close(write_end)
        os.waitpid(pid, 0)
        with os.fdopen(read_end, "rb") as reason:
            return reason.read().decode(errors="replace")


def set_limits(memory: int, cpu_seconds: int, output: int) -> None:
    """The caps of a block's process, inherited by whatever it starts (each process has its own).

    memory: RLIMIT_DATA, the bytes of private writable memory (heap, anonymous mappings, stacks), which is
    what `bytearray(n)` or a NumPy array takes; unlike RLIMIT_AS it does not count the address space that
    glibc reserves for each thread's arena, so threaded samples are not failed for memory they never use.
    cpu_seconds: RLIMIT_CPU; SIGXCPU at the cap (the worker makes it an exception), SIGKILL a second later.
    output: RLIMIT_FSIZE, the largest file a block may write, its output included; SIGXFSZ is ignored so a
    write beyond it fails with EFBIG instead of killing the process.
    """
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def isolate_network() -> bool:
    """Outside the sandbox: enter a new network namespace with only loopback up; False when the kernel does not
    allow it (it needs root, or user namespaces)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0 and libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # `ip link set lo up`, without `ip`
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    return True
