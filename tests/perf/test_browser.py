"""The browser tests' own contract: without a browser they skip locally, saying how to install one, and
fail in CI. Run as a separate pytest with $CHROMIUM pointing at nothing."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

ONE_BROWSER_TEST = "tests/browser/test_network.py::test_a_missing_page_gets_the_404_page"


def run_without_chromium(ci: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CI"))}
    env["CHROMIUM"] = "/nonexistent/chromium"
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", ONE_BROWSER_TEST, "-n", "0", "-rs", "-q",
                           "-p", "no:cacheprovider"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_missing_chromium_skips_locally_with_the_install_command():
    proc = run_without_chromium(ci=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 skipped" in proc.stdout, proc.stdout
    assert "apt-get install chromium-headless-shell" in proc.stdout


def test_missing_chromium_fails_in_ci():
    proc = run_without_chromium(ci=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "in CI a missing browser or tool is a failure" in proc.stdout
    assert "skipped" not in proc.stdout
