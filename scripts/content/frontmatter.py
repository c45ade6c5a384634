"""Read the front matter of a content file: split it from the body, parse it (YAML, TOML or JSON, as
Hugo does) and remember the line each key is on, so that every message can point at `file:line`.

Line numbers are 1-based lines of the whole file, not of the front matter.
"""
from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scripts.errors import UsageError
from scripts.yamlfile import yaml_error

try:  # libyaml's C loader: the linter reads thousands of files
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader  # type: ignore[misc]

_DELIMITERS = {"---": "yaml", "+++": "toml"}


class FrontMatterError(UsageError):
    """Front matter that cannot be split or parsed (a user error, exit 2); `path` and `line` say where."""


@dataclass(frozen=True)
class FrontMatter:
    format: str | None  # "yaml" | "toml" | "json"; None when the file has none
    data: dict[str, Any]
    key_lines: dict[str, int]  # "title" -> 2, nested "cover.image" -> 26
    start_line: int  # the opening delimiter's line; 1 when there is no front matter
    body: str
    body_line: int  # the file line the body starts on
    duplicate_keys: tuple[tuple[str, int], ...] = field(default=())  # (dotted key, line) of repeats

    def line_of(self, key: str) -> int:
        """The line of `key` (dotted for nested keys), else of the front matter's start."""
        return self.key_lines.get(key, self.start_line)


@dataclass(frozen=True)
class SplitFile:
    format: str | None
    raw: str  # the front matter text between the delimiters
    raw_line: int  # the file line `raw` starts on
    start_line: int
    body: str
    body_line: int


def split_front_matter(text: str, path: Path | str | None = None) -> SplitFile:
    """Separate front matter from body. Raises FrontMatterError for a block that is never closed."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first == len(lines):
        return SplitFile(None, "", 1, 1, text, 1)
    opener = lines[first].strip()
    if opener in _DELIMITERS:
        for end in range(first + 1, len(lines)):
            if lines[end].rstrip() == opener:
                return SplitFile(
                    format=_DELIMITERS[opener],
                    raw="\n".join(lines[first + 1:end]),
                    raw_line=first + 2,
                    start_line=first + 1,
                    body="\n".join(lines[end + 1:]),
                    body_line=end + 2,
                )
        raise FrontMatterError(f"front matter opened with {opener} is never closed", path=path, line=first + 1)
    if opener.startswith("{"):
        offset = sum(len(line) + 1 for line in lines[:first])
        try:
            _, end_index = json.JSONDecoder().raw_decode(text, offset)
        except json.JSONDecodeError as err:
            raise FrontMatterError(f"invalid JSON front matter: {err.msg}", path=path, line=err.lineno) from None
        end_line = text.count("\n", 0, end_index)  # 0-based line of the closing brace
        rest = text[end_index:]
        rest = rest[rest.find("\n") + 1:] if "\n" in rest else ""
        return SplitFile("json", text[offset:end_index], first + 1, first + 1, rest, end_line + 2)
    return SplitFile(None, "", 1, 1, text, 1)


def parse_front_matter(text: str, path: Path | str | None = None) -> FrontMatter:
    """Split and parse; raises FrontMatterError (with the file line) for anything Hugo would reject."""
    split = split_front_matter(text, path)
    return parse_split(split, path)


def read_front_matter(path: Path) -> FrontMatter:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise FrontMatterError(f"not UTF-8 ({err.reason} at byte {err.start})", path=path) from None
    except OSError as err:
        raise FrontMatterError(f"cannot read: {err.strerror}", path=path) from None
    return parse_front_matter(text, path)


def parse_split(split: SplitFile, path: Path | str | None = None) -> FrontMatter:
    if split.format is None:
        return FrontMatter(None, {}, {}, split.start_line, split.body, split.body_line)
    parser = {"yaml": _parse_yaml, "toml": _parse_toml, "json": _parse_json}[split.format]
    data, key_lines, duplicates = parser(split.raw, split.raw_line, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontMatterError("front matter must be a mapping of keys to values", path=path, line=split.start_line)
    return FrontMatter(split.format, data, key_lines, split.start_line, split.body, split.body_line, tuple(duplicates))


# --- YAML -------------------------------------------------------------------------------------------


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader whose impossible dates (2025-13-45) stay strings, so the linter can name them."""


def _timestamp_or_string(loader: Any, node: yaml.Node) -> Any:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, TypeError):
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_string)

# Hugo reads YAML 1.2, where only true/false are booleans: `show_toc: no` is the (truthy) string "no"
# there. Read it the same way, so that the linter reports it instead of PyYAML's YAML 1.1 making it false.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _parse_yaml(raw: str, raw_line: int, path: Path | str | None):
    loader = _Loader(raw)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        raise yaml_error(err, path, first_line=raw_line, error=FrontMatterError) from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as err:
        raise FrontMatterError(f"invalid YAML: {err}", path=path, line=raw_line - 1) from None
    finally:
        loader.dispose()
    key_lines: dict[str, int] = {}
    duplicates: list[tuple[str, int]] = []
    if isinstance(node, yaml.MappingNode):
        _yaml_key_lines(node, "", raw_line, key_lines, duplicates, depth=2)
    return data, key_lines, duplicates


def _yaml_key_lines(node: yaml.MappingNode, prefix: str, raw_line: int, key_lines: dict[str, int],
                    duplicates: list[tuple[str, int]], depth: int) -> None:
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        name = prefix + key_node.value
        line = raw_line + key_node.start_mark.line
        if name in key_lines:
            duplicates.append((name, line))
        else:
            key_lines[name] = line
        if depth > 1 and isinstance(value_node, yaml.MappingNode):
            _yaml_key_lines(value_node, name + ".", raw_line, key_lines, duplicates, depth - 1)


# --- TOML -------------------------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)|\s*\(at end of document\)")
_TOML_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _toml_key_parts(dotted: str) -> list[str]:
    return [part.strip().strip("\"'") for part in re.findall(r""""[^"]*"|'[^']*'|[^.]+""", dotted)]


def _parse_toml(raw: str, raw_line: int, path: Path | str | None):
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        found = _TOML_POSITION.search(message)
        if found and found.group(1):
            line = raw_line + int(found.group(1)) - 1
        else:
            line = raw_line + max(raw.count("\n"), 0)
        raise FrontMatterError(f"invalid TOML: {_TOML_POSITION.sub('', message)}", path=path, line=line) from None
    key_lines: dict[str, int] = {}
    table = ""
    for offset, text in enumerate(raw.split("\n")):
        line = raw_line + offset
        header = _TOML_TABLE.match(text)
        if header and not _TOML_KEY.match(text):
            table = ".".join(_toml_key_parts(header.group(1)))
            key_lines.setdefault(table, line)
            continue
        key = _TOML_KEY.match(text)
        if key:
            dotted = ".".join(_toml_key_parts(key.group(1)))
            key_lines.setdefault(f"{table}.{dotted}" if table else dotted, line)
    return data, key_lines, []


# --- JSON -------------------------------------------------------------------------------------------

def _parse_json(raw: str, raw_line: int, path: Path | str | None):
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise FrontMatterError(f"invalid JSON: {err.msg}", path=path, line=raw_line + err.lineno - 1) from None
    key_lines: dict[str, int] = {}
    if isinstance(data, dict):
        for offset, text in enumerate(raw.split("\n")):
            for key in re.findall(r'"((?:\\.|[^"\\])*)"\s*:', text):
                if key in data:
                    key_lines.setdefault(key, raw_line + offset)
    return data, key_lines, []
