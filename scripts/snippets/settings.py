"""snippets.yaml: the settings of `invoke check-snippets`, validated with the line of every mistake."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scripts.errors import UsageError
from scripts.yamlfile import key_lines, load_yaml_file

CONFIG_FILE = "snippets.yaml"


@dataclass(frozen=True)
class SnippetSettings:
    # Top-level modules that must be installed where the check runs: a sample that imports one that is
    # missing fails. Any other missing module makes its samples "not run", which is no failure.
    requires: frozenset[str] = frozenset()


def load_settings(root: Path) -> SnippetSettings:
    """Read `root`/snippets.yaml; a missing file means the defaults (nothing required)."""
    path = root / CONFIG_FILE
    if not path.is_file():
        return SnippetSettings()
    data, text = load_yaml_file(path)
    if data is None:
        return SnippetSettings()
    lines = key_lines(text)
    if not isinstance(data, dict):
        raise UsageError("expected a mapping of settings", path=path)
    for key in data:
        if key != "requires":
            raise UsageError(f"unknown setting {key!r} (known: requires)", path=path, line=lines.get((str(key),)))
    requires = data.get("requires") or []
    if not isinstance(requires, list) or not all(isinstance(name, str) and name.isidentifier() for name in requires):
        raise UsageError("requires must be a list of module names, as a sample imports them (openai, "
                         "transformers, …)", path=path, line=lines.get(("requires",)))
    return SnippetSettings(requires=frozenset(requires))
