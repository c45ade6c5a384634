"""links.yaml: the settings of `invoke check-external`, validated with the line of every mistake."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

import yaml

from scripts.errors import UsageError
from scripts.yamlfile import load_yaml_file

CONFIG_FILE = "links.yaml"


@dataclass(frozen=True)
class ExternalConfig:
    connect_timeout: float = 10.0
    read_timeout: float = 10.0
    tries: int = 3
    retry_after_cap: float = 60.0
    backoff: float = 1.0  # seconds before the second try; doubles for each further try
    max_redirects: int = 10
    per_host: int = 2
    overall: int = 16
    cache_days: float = 7.0
    max_body_bytes: int = 5_000_000  # read at most this much of a page whose #fragment is checked
    user_agent: str = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/131.0.0.0 Safari/537.36")
    ignore: tuple[str, ...] = ()  # regexes: matching URLs are not checked
    accept: dict[str, frozenset[int]] = field(default_factory=dict)  # host -> statuses that count as fine
    ignore_fragments: tuple[str, ...] = ()  # regexes: matching URLs' #fragments are not checked

    def accepted(self, url: str, status: int) -> bool:
        if 200 <= status < 300:
            return True
        host = (urlsplit(url).hostname or "").lower()
        return any(status in statuses for name, statuses in self.accept.items()
                   if host == name or host.endswith("." + name))


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every mapping key, by its path, for error messages."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[path + (str(key.value),)] = key.start_mark.line + 1
                walk(value, path + (str(key.value),))

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


def load_config(path: Path) -> ExternalConfig:
    """Read links.yaml; a missing file means the defaults."""
    if not path.is_file():
        return ExternalConfig()
    data, text = load_yaml_file(path)
    data = data or {}
    lines = _key_lines(text)

    def fail(message: str, *key: str) -> UsageError:
        return UsageError(message, path=path, line=lines.get(key))

    if not isinstance(data, dict):
        raise UsageError("expected a mapping of settings", path=path)
    known = {"timeout", "tries", "retry_after_cap", "backoff", "max_redirects", "concurrency", "cache_days",
             "max_body_bytes", "user_agent", "ignore", "accept", "ignore_fragments"}
    for key in data:
        if key not in known:
            raise fail(f"unknown setting {key!r} (known: {', '.join(sorted(known))})", str(key))

    def number(value, *key: str, minimum: float = 0, integer: bool = False):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum \
                or (integer and not isinstance(value, int)):
            kind = "an integer" if integer else "a number"
            raise fail(f"{'.'.join(key)} must be {kind} >= {minimum}, got {value!r}", *key)
        return value

    values: dict = {}
    timeout = data.get("timeout", {})
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        timeout = {"connect": timeout, "read": timeout}
    if not isinstance(timeout, dict) or set(timeout) - {"connect", "read"}:
        raise fail("timeout must be seconds, or a mapping with connect and read", "timeout")
    if "connect" in timeout:
        values["connect_timeout"] = float(number(timeout["connect"], "timeout", "connect", minimum=0.001))
    if "read" in timeout:
        values["read_timeout"] = float(number(timeout["read"], "timeout", "read", minimum=0.001))
    for key, minimum, integer in (("tries", 1, True), ("retry_after_cap", 0, False), ("backoff", 0, False),
                                  ("max_redirects", 0, True), ("cache_days", 0, False),
                                  ("max_body_bytes", 1, True)):
        if key in data:
            values[key] = number(data[key], key, minimum=minimum, integer=integer)
    concurrency = data.get("concurrency", {})
    if not isinstance(concurrency, dict) or set(concurrency) - {"per_host", "overall"}:
        raise fail("concurrency must be a mapping with per_host and overall", "concurrency")
    for key in ("per_host", "overall"):
        if key in concurrency:
            values[key] = number(concurrency[key], "concurrency", key, minimum=1, integer=True)
    if "user_agent" in data:
        if not isinstance(data["user_agent"], str) or not data["user_agent"].strip():
            raise fail("user_agent must be a non-empty string", "user_agent")
        values["user_agent"] = data["user_agent"]
    for key in ("ignore", "ignore_fragments"):
        patterns = data.get(key) or []
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise fail(f"{key} must be a list of regular expressions", key)
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise fail(f"{key}: invalid regular expression {pattern!r}: {err}", key) from None
        values[key] = tuple(patterns)
    accept = data.get("accept") or {}
    if not isinstance(accept, dict):
        raise fail("accept must map host names to lists of status codes", "accept")
    parsed_accept = {}
    for host, statuses in accept.items():
        if not isinstance(statuses, list) or not all(isinstance(s, int) and 100 <= s <= 999 for s in statuses):
            raise fail(f"accept.{host} must be a list of HTTP status codes", "accept", str(host))
        parsed_accept[str(host).lower()] = frozenset(statuses)
    values["accept"] = parsed_accept
    return ExternalConfig(**values)


def compile_patterns(patterns: Iterable[str], option: str) -> list[re.Pattern]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as err:
            raise UsageError(f"{option} {pattern!r} is not a valid regular expression: {err}") from None
    return compiled
