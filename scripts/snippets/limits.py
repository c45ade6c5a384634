"""The caps on a Python block: wall time, memory, CPU time and output; how they are given on the command
line (`--memory 2G`), and how a block that hit one is told which, with the option that raises it."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from scripts.errors import UsageError

DEFAULT_TIMEOUT = 10.0
_UNITS = {"": 1 << 20, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}  # a bare number is in MiB
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:I?B)?\s*$", re.IGNORECASE)
# A block is forked from a warm interpreter that already holds the OpenAI SDK: a smaller cap fails every block.
MIN_MEMORY = 256 << 20
MIN_OUTPUT = 64 << 10


@dataclass(frozen=True)
class Limits:
    """What one block may use. Memory, CPU time and file size are per process (a subprocess the block
    starts has its own); the timeout is for the whole block."""

    timeout: float = DEFAULT_TIMEOUT  # seconds of wall time
    memory: int = 1 << 30  # bytes of private memory per process, and of files under /tmp in the sandbox
    cpu_time: float | None = None  # seconds of CPU time per process; None: as many as the timeout
    output: int = 64 << 20  # bytes a block may print, and the largest file it may write

    @property
    def cpu_seconds(self) -> int:
        """RLIMIT_CPU counts whole seconds."""
        return max(1, math.ceil(self.timeout if self.cpu_time is None else self.cpu_time))

    def explain(self, cap: str, message: str) -> str:
        """The message of a block that failed on `cap` ("time", "memory", "cpu", "output", "file"), naming the
        cap and the option that raises it."""
        if cap == "time":
            return f"{message} (--timeout raises it)"
        if cap == "memory":
            return f"{message} (memory cap: {format_size(self.memory)} per process; --memory raises it)"
        if cap == "cpu":
            return f"CPU time cap reached: {self.cpu_seconds} s per process (--cpu-time raises it)"
        if cap == "output":
            return f"output cap reached: a block may print {format_size(self.output)} (--max-output raises it)"
        if cap == "file":
            return f"{message} (file size cap: {format_size(self.output)}; --max-output raises it)"
        return message


def parse_size(option: str, value: str | int) -> int:
    """Bytes from `512M`, `2G`, `1.5GiB`, `64K`, or a bare number of MiB."""
    found = _SIZE.match(str(value))
    if not found:
        raise UsageError(f"{option} takes a size such as 512M or 2G, not {value!r}")
    return int(float(found.group(1)) * _UNITS[found.group(2).upper()])


def format_size(size: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


def make_limits(*, timeout: float | None = None, memory: str | int | None = None, cpu_time: float | None = None,
                max_output: str | int | None = None) -> Limits:
    """Limits from the options, each None for its default; a value out of range is a usage error."""
    limits = Limits()
    timeout = limits.timeout if timeout is None else timeout
    if not timeout > 0 or math.isinf(timeout):
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout:g}")
    if cpu_time is not None and (not cpu_time > 0 or math.isinf(cpu_time)):
        raise UsageError(f"--cpu-time must be a positive number of seconds, not {cpu_time:g}")
    memory_bytes = limits.memory if memory is None else parse_size("--memory", memory)
    if memory_bytes < MIN_MEMORY:
        raise UsageError(f"--memory must be at least {format_size(MIN_MEMORY)}: a block starts from an "
                         "interpreter that already holds the OpenAI SDK")
    output_bytes = limits.output if max_output is None else parse_size("--max-output", max_output)
    if output_bytes < MIN_OUTPUT:
        raise UsageError(f"--max-output must be at least {format_size(MIN_OUTPUT)}")
    return Limits(timeout=timeout, memory=memory_bytes, cpu_time=cpu_time, output=output_bytes)
