"""links.yaml: every value is checked against the table in scripts/links/settings.py, and every mistake is one
line naming links.yaml and its line, exit 2."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts.errors import UsageError
from scripts.links.settings import SETTINGS, ExternalConfig, load_config
from tests.conftest import ROOT, copy_project


def load(tmp_path: Path, content: bytes | str) -> ExternalConfig:
    path = tmp_path / "links.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return load_config(path)


@pytest.mark.parametrize("content, message", [
    ("tries: 3\nbackoff: .inf\n", "2: backoff must be a finite number from 0 to 60 seconds, got .inf"),
    ("retry_after_cap: .inf\n", "1: retry_after_cap must be a finite number from 0 to 300 seconds, got .inf"),
    ("timeout:\n  connect: 5\n  read: .nan\n", "3: timeout.read must be a finite number from 0.001 to 300 seconds, "
                                               "got .nan"),
    ("timeout: .NaN\n", "1: timeout.connect must be a finite number from 0.001 to 300 seconds, got .nan"),
    ("timeout:\n  total: -.inf\n", "2: timeout.total must be a finite number from 0.001 to 600 seconds, got -.inf"),
    ("timeout:\n  connect: 0\n", "2: timeout.connect must be a finite number from 0.001 to 300 seconds, got 0"),
    ("backoff: -1\n", "1: backoff must be a finite number from 0 to 60 seconds, got -1"),
    ("cache_days: 1.0e+9\n", "1: cache_days must be a finite number from 0 to 365 days, got 1000000000.0"),
    ("tries: 1000000\n", "1: tries must be a whole number from 1 to 10, got 1000000"),
    ("tries: 2.5\n", "1: tries must be a whole number from 1 to 10, got 2.5"),
    ("max_redirects: true\n", "1: max_redirects must be a whole number from 0 to 30, got True"),
    ("concurrency:\n  overall: 0\n", "2: concurrency.overall must be a whole number from 1 to 128, got 0"),
    ("max_body_bytes: 0\n", "1: max_body_bytes must be a whole number from 1 to 100000000 bytes, got 0"),
    ("accept:\n  example.com: [200]\n  linkedin.com: [99999]\n",
     "3: accept.linkedin.com must be a list of HTTP status codes (100 to 999), got [99999]"),
    ("user_agent: \"a\\nb\"\n", "1: user_agent must be a non-empty string on one line, got 'a\\nb'"),
    ("timeout:\n  conect: 5\n", "2: unknown setting 'timeout.conect' (known: timeout.connect, timeout.read, "
                                "timeout.total)"),
])
def test_every_value_is_checked_against_its_type_and_range(tmp_path: Path, content: str, message: str):
    with pytest.raises(UsageError) as err:
        load(tmp_path, content)
    assert str(err.value) == f"{tmp_path / 'links.yaml'}:{message}"
    assert err.value.exit_code == 2


@pytest.mark.parametrize("content, line, problem", [
    (b"tries: 3\nbackoff: \xff\n", 2, "not UTF-8 (byte 0xff)"),
    (b"# caf\xe9\ntries: 3\n", 1, "not UTF-8 (byte 0xe9)"),
    (b"\xff\xfet\x00r\x00", 1, "not UTF-8 (byte 0xff)"),  # UTF-16
    (b"tries: 3\n\nbackoff: 1\x00\n", 3, "invalid YAML: control character U+0000 is not allowed"),
    (b"tries: 3\nuser_agent: \x1b[31m\n", 2, "invalid YAML: control character U+001B is not allowed"),
])
def test_an_encoding_error_names_its_line(tmp_path: Path, content: bytes, line: int, problem: str):
    with pytest.raises(UsageError) as err:
        load(tmp_path, content)
    assert str(err.value) == f"{tmp_path / 'links.yaml'}:{line}: {problem}"


def test_a_shorthand_timeout_sets_connect_and_read(tmp_path: Path):
    config = load(tmp_path, "timeout: 4\n")
    assert (config.connect_timeout, config.read_timeout, config.total_timeout) == (4.0, 4.0, 30.0)


def test_a_links_yaml_that_is_a_directory_is_an_error_not_the_defaults(tmp_path: Path):
    (tmp_path / "links.yaml").mkdir()
    with pytest.raises(UsageError, match="is a directory"):
        load_config(tmp_path / "links.yaml")


def test_the_defaults_are_the_tables_and_links_yaml_states_them(tmp_path: Path):
    defaults = ExternalConfig()
    for setting in SETTINGS:
        assert getattr(defaults, setting.field) == setting.default, setting.key
        if setting.type in ("number", "int"):
            assert setting.minimum <= setting.default <= setting.maximum, setting.key
    # The project's links.yaml writes out the numeric defaults: it must say what the table says.
    written = yaml.safe_load((ROOT / "links.yaml").read_text(encoding="utf-8"))
    for setting in SETTINGS:
        if setting.type not in ("number", "int"):
            continue
        value = written
        for part in setting.key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        assert value is None or value == setting.default, setting.key


@pytest.mark.parametrize("content, line, needle", [
    ("tries: 3\nbackoff: .inf\n", 2, "backoff must be a finite number"),
    (b"tries: 3\ncache_days: 7\n# \xc3\x28\n", 3, "not UTF-8"),
])
def test_the_task_exits_2_with_one_line_naming_links_yaml_and_the_line(tmp_path: Path, content, line: int,
                                                                       needle: str):
    project = copy_project(tmp_path / "cli", with_content=False)
    shutil.copy(ROOT / "tasks.py", project / "tasks.py")
    shutil.copytree(ROOT / "scripts", project / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "links.yaml").write_bytes(content.encode() if isinstance(content, str) else content)
    proc = subprocess.run([sys.executable, "-m", "invoke", "check-external", "--no-build"], cwd=project,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    message = proc.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"error: {project / 'links.yaml'}:{line}: ") and needle in message, message
