"""Reading a project's YAML files (hugo.yaml, links.yaml, front matter): every error becomes one usage error
that names the file and the line."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from scripts.errors import UsageError


def yaml_error(err: yaml.YAMLError, path: Path | str | None, *, first_line: int = 1,
               error: type[UsageError] = UsageError, text: str | None = None) -> UsageError:
    """`err` as `path:line: invalid YAML: problem`, for YAML that starts on file line `first_line`.

    A character YAML refuses (a control character) is found by its position in `text`, when given."""
    if isinstance(err, yaml.reader.ReaderError):
        line = first_line + text.count("\n", 0, err.position) if text is not None else None
        return error(f"invalid YAML: control character U+{err.character:04X} is not allowed", path=path, line=line)
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None) or str(err) or "syntax error"
    line = first_line + mark.line if mark is not None else None
    return error(f"invalid YAML: {problem}", path=path, line=line)


def decode_utf8(data: bytes, path: Path | str) -> str:
    """`data` as text; bytes that are not UTF-8 are a usage error at their line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise UsageError(f"not UTF-8 (byte 0x{data[err.start]:02x})", path=path, line=line) from None


def load_yaml_file(path: Path) -> tuple[Any, str]:
    """The parsed document of `path` and its text. A missing file raises FileNotFoundError for the caller to
    decide on; anything unreadable or malformed is a UsageError naming the line."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise UsageError("is a directory, not a YAML file", path=path) from None
    except PermissionError:
        raise UsageError("cannot be read (permission denied)", path=path) from None
    text = decode_utf8(data, path)
    try:
        return yaml.safe_load(text), text
    except yaml.YAMLError as err:
        raise yaml_error(err, path, text=text) from None
    except RecursionError:
        raise UsageError("invalid YAML: nested too deeply", path=path) from None


def key_lines(text: str) -> dict[tuple[str, ...], int]:
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
