"""Debian's Chromium as `invoke audit` runs it, its headless shell as the tests run it, and axe-core
accessibility checks in either."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_HINT = "Chromium not found: install Debian's with `apt-get install chromium`, or set CHROMIUM=/path/to/chromium"
HEADLESS_SHELL_HINT = ("Chromium not found: the browser tests need Debian's headless shell "
                       "(`apt-get install chromium-headless-shell`) or Chromium, or CHROMIUM=/path/to/chromium")
# Debian's chromium-headless-shell: the binary itself, as /usr/bin/chromium-headless-shell is a shell
# script that stays the parent of the browser.
DEBIAN_HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
# No GPU and no sandbox (tests and CI run as root); none of Chromium's own traffic (component updates,
# sync, field trials), which would reach third-party hosts; a new empty profile each run.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
# The announcement's own images and video are on this host: the one remote host a page may ask for.
CONTENT_MEDIA_HOST = "qianwen-res.oss-cn-beijing.aliyuncs.com"
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_HINT = "axe-core not found: run `npm ci` in the project root (package-lock.json pins it)"


def chromium_path() -> Path | None:
    """$CHROMIUM when set (and nothing else then), else Debian's /usr/bin/chromium, else `chromium` on
    PATH; None when there is none."""
    return _first_executable(["/usr/bin/chromium", shutil.which("chromium")])


def headless_shell_path() -> Path | None:
    """The browser the tests drive: $CHROMIUM when set (and nothing else then), else Chromium's headless
    shell, else Chromium itself; None when there is none. The shell is the same Blink without the browser
    around it, as Playwright runs headless by default, and costs far less CPU a page
    (docs/performance.md)."""
    return _first_executable([DEBIAN_HEADLESS_SHELL, shutil.which("chromium-headless-shell"), "/usr/bin/chromium",
                              shutil.which("chromium")])


def _first_executable(candidates: list[str | None]) -> Path | None:
    override = os.environ.get("CHROMIUM")
    for candidate in [override] if override else candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


@dataclass(frozen=True)
class AxeViolation:
    rule: str  # axe rule id, e.g. "color-contrast"
    impact: str  # minor | moderate | serious | critical
    help: str
    targets: tuple[str, ...]  # CSS selectors of the offending elements

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): {self.help} — {', '.join(self.targets[:5])}"


def axe_violations(page) -> list[AxeViolation]:
    """Run axe-core's default rules (WCAG 2.x A/AA and best practices) on a loaded Playwright page."""
    if not AXE_SCRIPT.is_file():
        raise FileNotFoundError(AXE_HINT)
    page.add_script_tag(path=str(AXE_SCRIPT))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        AxeViolation(rule=v["id"], impact=v.get("impact") or "", help=v["help"],
                     targets=tuple(" ".join(map(str, node["target"])) for node in v["nodes"]))
        for v in results["violations"]
    ]
