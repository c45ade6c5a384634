"""links.yaml: the settings of `invoke check-external`. SETTINGS is the one table of them: each key's type,
range and default. load_config validates a file against it and names the line of every mistake.

A key is a dotted path (`timeout.connect` is `connect:` under `timeout:`). Every number must be finite and
within its range: `.inf` or `.nan` would make a sleep or a timeout endless or every request fail.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

from scripts.errors import UsageError
from scripts.yamlfile import key_lines, load_yaml_file

CONFIG_FILE = "links.yaml"

DEFAULT_USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/131.0.0.0 Safari/537.36")


@dataclass(frozen=True)
class Setting:
    key: str  # dotted path in links.yaml
    field: str  # the ExternalConfig attribute it sets
    type: str  # "number" | "int" | "text" | "regexes" | "statuses"
    default: Any
    minimum: float | None = None  # inclusive; numbers only
    maximum: float | None = None  # inclusive; numbers only
    unit: str = ""  # how the message names a number: "seconds", "days", "bytes"
    doc: str = ""


def _number(key: str, field_: str, default: float, minimum: float, maximum: float, unit: str, doc: str) -> Setting:
    return Setting(key, field_, "number", float(default), minimum, maximum, unit, doc)


def _int(key: str, field_: str, default: int, minimum: int, maximum: int, doc: str, unit: str = "") -> Setting:
    return Setting(key, field_, "int", default, minimum, maximum, unit, doc)


SETTINGS: tuple[Setting, ...] = (
    _number("timeout.connect", "connect_timeout", 10, 0.001, 300, "seconds", "wait for a connection"),
    _number("timeout.read", "read_timeout", 10, 0.001, 300, "seconds", "wait for each part of an answer"),
    _number("timeout.total", "total_timeout", 30, 0.001, 600, "seconds",
            "one whole request, connection to last byte, whatever the server sends"),
    _int("tries", "tries", 3, 1, 10, "attempts per request"),
    _number("retry_after_cap", "retry_after_cap", 60, 0, 300, "seconds", "longest wait a Retry-After gets"),
    _number("backoff", "backoff", 1, 0, 60, "seconds", "wait before the second try; doubles for each further try"),
    _int("max_redirects", "max_redirects", 10, 0, 30, "redirects followed per URL"),
    _int("concurrency.per_host", "per_host", 2, 1, 32, "requests in flight to one host"),
    _int("concurrency.overall", "overall", 16, 1, 128, "requests in flight in total"),
    _number("cache_days", "cache_days", 7, 0, 365, "days", "how long a success is trusted"),
    _int("max_body_bytes", "max_body_bytes", 5_000_000, 1, 100_000_000,
         "read at most this much of a page whose #fragment is checked", unit="bytes"),
    Setting("user_agent", "user_agent", "text", DEFAULT_USER_AGENT, doc="User-Agent header"),
    Setting("ignore", "ignore", "regexes", (), doc="URLs never checked"),
    Setting("accept", "accept", "statuses", {}, doc="host -> statuses that count as fine for it and its subdomains"),
    Setting("ignore_fragments", "ignore_fragments", "regexes", (), doc="URLs whose #fragment is not looked for"),
)

# A scalar given for one of these groups sets each of the listed keys: `timeout: 5`.
SHORTHANDS: dict[str, tuple[str, ...]] = {"timeout": ("timeout.connect", "timeout.read")}

_DEFAULTS = {setting.field: setting.default for setting in SETTINGS}


@dataclass(frozen=True)
class ExternalConfig:
    connect_timeout: float = _DEFAULTS["connect_timeout"]
    read_timeout: float = _DEFAULTS["read_timeout"]
    total_timeout: float = _DEFAULTS["total_timeout"]
    tries: int = _DEFAULTS["tries"]
    retry_after_cap: float = _DEFAULTS["retry_after_cap"]
    backoff: float = _DEFAULTS["backoff"]
    max_redirects: int = _DEFAULTS["max_redirects"]
    per_host: int = _DEFAULTS["per_host"]
    overall: int = _DEFAULTS["overall"]
    cache_days: float = _DEFAULTS["cache_days"]
    max_body_bytes: int = _DEFAULTS["max_body_bytes"]
    user_agent: str = _DEFAULTS["user_agent"]
    ignore: tuple[str, ...] = ()  # regexes: matching URLs are not checked
    accept: dict[str, frozenset[int]] = field(default_factory=dict)  # host -> statuses that count as fine
    ignore_fragments: tuple[str, ...] = ()  # regexes: matching URLs' #fragments are not checked

    def accepted(self, url: str, status: int) -> bool:
        if 200 <= status < 300:
            return True
        host = (urlsplit(url).hostname or "").lower()
        return any(status in statuses for name, statuses in self.accept.items()
                   if host == name or host.endswith("." + name))


def load_config(path: Path) -> ExternalConfig:
    """Read links.yaml; a missing file means the defaults. Any mistake is a UsageError at its line."""
    try:
        data, text = load_yaml_file(path)
    except FileNotFoundError:
        return ExternalConfig()
    lines = {".".join(path): line for path, line in key_lines(text).items()}
    if data is None:
        return ExternalConfig()
    if not isinstance(data, dict):
        raise UsageError("expected a mapping of settings", path=path, line=1)
    values: dict[str, Any] = {}
    for key, value in _leaves(data, path, lines):
        setting = _BY_KEY[key]
        line = lines.get(key, lines.get(key.partition(".")[0]))  # a shorthand has only its group's line
        values[setting.field] = _validated(setting, value, path, line, lines)
    return ExternalConfig(**values)


_BY_KEY = {setting.key: setting for setting in SETTINGS}
_GROUPS = {setting.key.partition(".")[0] for setting in SETTINGS if "." in setting.key}


def _leaves(data: dict, path: Path, lines: dict[str, int]) -> Iterable[tuple[str, Any]]:
    """(dotted key, value) of every setting given; unknown keys and misshapen groups are errors."""
    top_level = sorted({setting.key.partition(".")[0] for setting in SETTINGS})
    for name, value in data.items():
        name = str(name)
        if name not in top_level:
            raise UsageError(f"unknown setting {name!r} (known: {', '.join(top_level)})", path=path,
                             line=lines.get(name))
        if name not in _GROUPS:
            yield name, value
            continue
        children = [setting.key for setting in SETTINGS if setting.key.startswith(name + ".")]
        if name in SHORTHANDS and not isinstance(value, (dict, list)):
            yield from ((key, value) for key in SHORTHANDS[name])
            continue
        if not isinstance(value, dict):
            raise UsageError(f"{name} must be a mapping with {', '.join(c.partition('.')[2] for c in children)}",
                             path=path, line=lines.get(name))
        for child, child_value in value.items():
            key = f"{name}.{child}"
            if key not in children:
                raise UsageError(f"unknown setting {key!r} (known: {', '.join(children)})", path=path,
                                 line=lines.get(key, lines.get(name)))
            yield key, child_value


def _validated(setting: Setting, value: Any, path: Path, line: int | None, lines: dict[str, int]) -> Any:
    def fail(expected: str) -> UsageError:
        return UsageError(f"{setting.key} must be {expected}, got {_shown(value)}", path=path, line=line)

    if setting.type in ("number", "int"):
        unit = f" {setting.unit}" if setting.unit else ""
        bounds = f"from {_plain(setting.minimum)} to {_plain(setting.maximum)}{unit}"
        if setting.type == "int":
            if isinstance(value, bool) or not isinstance(value, int) or not setting.minimum <= value <= setting.maximum:
                raise fail(f"a whole number {bounds}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not setting.minimum <= value <= setting.maximum:
            raise fail(f"a finite number {bounds}")
        return float(value)
    if setting.type == "text":
        if not isinstance(value, str) or not value.strip() or any(ch in value for ch in "\r\n\0"):
            raise fail("a non-empty string on one line")
        return value
    if setting.type == "regexes":
        patterns = [] if value is None else value
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise fail("a list of regular expressions")
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise UsageError(f"{setting.key}: invalid regular expression {pattern!r}: {err}", path=path,
                                 line=line) from None
        return tuple(patterns)
    if setting.type == "statuses":
        hosts = {} if value is None else value
        if not isinstance(hosts, dict):
            raise fail("a mapping of host names to lists of HTTP status codes")
        parsed = {}
        for host, statuses in hosts.items():
            if not isinstance(statuses, list) or not all(
                    isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 999 for s in statuses):
                raise UsageError(f"{setting.key}.{host} must be a list of HTTP status codes (100 to 999), "
                                 f"got {_shown(statuses)}", path=path, line=lines.get(f"{setting.key}.{host}", line))
            parsed[str(host).lower()] = frozenset(statuses)
        return parsed
    raise ValueError(f"unknown setting type {setting.type!r}")


def _plain(number: float) -> str:
    """100000000, not 1e+08; 0.001 as it is."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _shown(value: Any) -> str:
    """A value as the message shows it: YAML's spelling of the special floats, Python's repr otherwise."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    return repr(value)




def compile_patterns(patterns: Iterable[str], option: str) -> list[re.Pattern]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as err:
            raise UsageError(f"{option} {pattern!r} is not a valid regular expression: {err}") from None
    return compiled
