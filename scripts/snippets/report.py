"""What `invoke check-snippets` found: a result per block, findings per post, and the report that renders them."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PARSED_CHECKS = ("json", "yaml", "toml", "bibtex")
SHELL_LANGUAGES = ("bash", "sh", "console")
CHECKED_LANGUAGES = ("python", *SHELL_LANGUAGES, *PARSED_CHECKS)
# "not-run": compiled, but not run for a module the workers' interpreter lacks (its own import, its post's
# setup's, or that of a block it continues), or because a block it continues failed. Not a failure.
STATUSES = ("passed", "failed", "not-run", "skipped", "unchecked")


@dataclass(frozen=True)
class SnippetResult:
    """What became of one block."""

    path: Path
    language: str
    first_line: int
    status: str  # one of STATUSES
    message: str = ""
    line: int | None = None  # the Markdown line of the error itself
    output: str = ""  # what a Python block printed
    # A Python block identical to one run before it (same code, same setup: typically one sample in a post
    # and its translation) is not run again: it takes that run's result, and this is where that block is.
    same_as: tuple[Path, int] | None = None
    needs: str = ""  # for "not-run": the missing module, when one is the reason


@dataclass(frozen=True)
class Finding:
    """A problem that belongs to a post rather than to one block (a marker, the setup block)."""

    path: Path
    line: int
    kind: str
    message: str


@dataclass
class SnippetReport:
    project_root: Path
    results: list[SnippetResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    network: str = ""  # how Python blocks were kept off the network: "sandbox", "namespace", "guard", "" (none ran)
    sandboxed: bool = True  # False: Python blocks ran unconfined (--unsandboxed)

    @property
    def failures(self) -> list[SnippetResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.findings

    def where(self, path: Path) -> str:
        """A path as the report shows it: relative to the project root when inside it."""
        try:
            return str(path.resolve().relative_to(self.project_root.resolve()))
        except ValueError:
            return str(path)

    @property
    def not_run(self) -> list[SnippetResult]:
        return [r for r in self.results if r.status == "not-run"]

    def counts(self) -> dict[str, Counter[str]]:
        """Per language, how many blocks passed, failed, were not run, skipped or are not checked at all."""
        table: dict[str, Counter[str]] = {}
        for result in self.results:
            table.setdefault(result.language, Counter())[result.status] += 1
        return table

    def problem_lines(self) -> list[str]:
        lines = [(self.where(f.path), f.line, f"{self.where(f.path)}:{f.line}: {f.kind}: {f.message}")
                 for f in self.findings]
        lines += [(self.where(r.path), r.line or r.first_line,
                   f"{self.where(r.path)}:{r.line or r.first_line}: {r.language}: {r.message}")
                  for r in self.failures]
        return [text for _, _, text in sorted(lines)]

    def not_run_lines(self) -> list[str]:
        return [text for _, _, text in sorted(
            (self.where(r.path), r.line or r.first_line,
             f"{self.where(r.path)}:{r.line or r.first_line}: {r.language}: {r.message}") for r in self.not_run)]

    def render(self, *, verbose: bool = False) -> str:
        """The problems as `file:line: language: message`, the blocks not run apart, then a table of counts
        per language."""
        out = self.problem_lines()
        if verbose:
            for r in self.results:
                if r.language == "python" and r.status == "passed" and r.output:
                    ran = f" (as {self.where(r.same_as[0])}:{r.same_as[1]}, run once for both)" if r.same_as else ""
                    out.append(f"{self.where(r.path)}:{r.first_line}: python: passed{ran}, printed:")
                    out += ["    " + line for line in r.output.rstrip("\n").split("\n")]
        if self.not_run:
            if out:
                out.append("")
            out.append("not run (no failures; compiled only):")
            out += self.not_run_lines()
        if out:
            out.append("")
        counts = self.counts()
        ordered = [lang for lang in CHECKED_LANGUAGES if lang in counts] + sorted(
            lang for lang in counts if lang not in CHECKED_LANGUAGES)
        columns = ("passed", "failed", "not-run", "skipped", "unchecked")
        rows = [("language", "checked", *columns)]
        total: Counter[str] = Counter()
        for lang in ordered:
            c = counts[lang]
            total.update(c)
            rows.append((lang, str(c["passed"] + c["failed"]), *(str(c[column]) for column in columns)))
        rows.append(("total", str(total["passed"] + total["failed"]), *(str(total[column]) for column in columns)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            out.append("  ".join([row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]))
        checked = total["passed"] + total["failed"]
        problems = len(self.failures) + len(self.findings)
        repeats = sum(r.same_as is not None for r in self.results)
        if repeats:
            out.append(f"{repeats} Python block{'s' if repeats != 1 else ''} identical to another (code and setup) "
                       f"took its result instead of running again")
        needs = Counter(r.needs for r in self.not_run if r.needs)
        if needs:
            by_count = sorted(needs.items(), key=lambda item: (-item[1], item[0]))
            listed = ", ".join(f"{module} ({count})" for module, count in by_count)
            out.append(f"{sum(needs.values())} Python block{'s' if sum(needs.values()) != 1 else ''} not run for a "
                       f"module that is not installed: {listed}")
        verdict = "all pass" if self.ok else f"{problems} problem{'s' if problems != 1 else ''}"
        out.append(f"{checked} blocks checked in {self.files} Markdown files: {verdict}")
        if not self.sandboxed and self.network:
            out.append("warning: Python blocks ran unsandboxed (--unsandboxed): they could read and write what you "
                       "can, and leave processes running")
        if self.network == "guard":
            out.append("note: no network namespace was available (needs root or user namespaces), so only "
                       "Python's own sockets were kept to loopback; programs a block starts were not")
        return "\n".join(out)
