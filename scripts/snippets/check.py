"""`invoke check-snippets`: extract the blocks of every post, plan their checks, run them, and report."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from scripts.errors import UsageError
from scripts.snippets import formats
from scripts.snippets.extract import Snippet, block_parser, extract_snippets, markdown_files
from scripts.snippets.packages import missing_modules
from scripts.snippets.plan import plan_checks
from scripts.snippets.report import PARSED_CHECKS, SHELL_LANGUAGES, SnippetReport, SnippetResult
from scripts.snippets.limits import Limits
from scripts.snippets.run import PythonRunner
from scripts.snippets.settings import load_settings

# A sample that opens a file of the reader's own ("Path to your image") finds none in its empty directory.
MISSING_FILE_HINT = (" (a file the reader is to supply? write a stand-in for it in the post's setup block, or mark "
                     "the block no-run)")
SETUP_FAILURE = "in the post's setup block: "  # how a worker names an error in what runs before a block
PARSERS = {"json": formats.check_json, "yaml": formats.check_yaml, "toml": formats.check_toml,
           "bibtex": formats.check_bibtex}


def _static_outcomes(snippets: list[Snippet], shellcheck: bool) -> list[formats.FormatOutcome]:
    """Shell blocks through `bash -n` and ShellCheck, the data formats through their parsers."""
    outcomes: dict[int, formats.FormatOutcome] = {}
    shell = [(i, s) for i, s in enumerate(snippets) if s.language in SHELL_LANGUAGES]
    shell_outcomes = formats.check_shell_blocks([formats.ShellBlock(s.code, s.first_line, s.language)
                                                 for _, s in shell], shellcheck=shellcheck)
    outcomes.update({i: o for (i, _), o in zip(shell, shell_outcomes)})
    for i, s in enumerate(snippets):
        if s.language in PARSED_CHECKS:
            outcomes[i] = formats.within_block(PARSERS[s.language](s.code, s.first_line), s.code, s.first_line)
    return [outcomes[i] for i in range(len(snippets))]


def check_snippets(content_dir: Path, *, project_root: Path, limits: Limits = Limits(),
                   workers: int | None = None, shellcheck: bool = True, sandboxed: bool = True) -> SnippetReport:
    """Check every fenced code block of every Markdown file under `content_dir`.

    Python blocks are compiled, then run (each in its own process, within `limits`: 10 s each by default)
    against a local OpenAI-compatible stub, in the sandbox unless `sandboxed` is False, after the blocks of
    its post it continues (scripts/snippets/plan.py), a block identical to one already run (code and what
    runs before it) taking that run's result; a block that needs a module that is not installed is not run,
    and fails only if `project_root`/snippets.yaml requires the module. Shell blocks go through `bash -n` and
    ShellCheck; JSON, YAML, TOML and BibTeX are parsed; anything else is counted as unchecked. Raises
    SandboxUnavailable (a usage error) when the kernel refuses the sandbox.
    """
    if not content_dir.is_dir():
        raise UsageError("content directory not found", path=content_dir)
    settings = load_settings(project_root)
    report = SnippetReport(project_root=project_root, sandboxed=sandboxed)
    with PythonRunner(workers=workers, limits=limits, sandboxed=sandboxed) as runner:
        # The workers import the SDK while the posts are parsed.
        parser = block_parser()
        posts = [extract_snippets(path, parser=parser) for path in markdown_files(content_dir)]
        report.files = len(posts)
        root = content_dir.resolve()  # blocks are compiled with their file's absolute path, as tracebacks show
        plan = plan_checks(posts, {post.path: str(root / post.path.relative_to(content_dir)) for post in posts},
                           missing_modules=missing_modules, requires=settings.requires)
        report.findings += plan.findings
        snippets, results = plan.snippets, plan.results
        # Parsed languages and shell tools run on a thread while the workers run Python.
        with ThreadPoolExecutor(max_workers=1) as pool:
            static = pool.submit(_static_outcomes, [snippets[i] for i in plan.static_indexes], shellcheck)
            python_outcomes = runner.run(plan.jobs)
            # The repeats of a block that failed run after all, each on its own: a failure is reported with the
            # line and output of the block it is in.
            python_outcomes.update(runner.run([job for job, first in plan.repeats
                                               if not python_outcomes[first.key].passed]))
            static_outcomes = static.result()
        report.network = runner.network if plan.jobs else ""
    for i, outcome in zip(plan.static_indexes, static_outcomes):
        s = snippets[i]
        results[i] = SnippetResult(s.path, s.language, s.first_line, "passed" if outcome.passed else "failed",
                                   outcome.message, outcome.line)
    for key, outcome in python_outcomes.items():
        s = snippets[key]
        message = outcome.message + (MISSING_FILE_HINT if outcome.message.startswith("FileNotFoundError") else "")
        results[key] = SnippetResult(s.path, "python", s.first_line, "passed" if outcome.passed else "failed",
                                     message, outcome.line, outcome.output)
    for job, first in plan.repeats:
        if job.key not in results:
            s, ran = snippets[job.key], results[first.key]
            results[job.key] = SnippetResult(s.path, "python", s.first_line, ran.status, ran.message,
                                             output=ran.output, same_as=(ran.path, ran.first_line))
    _after_the_blocks_they_continue(results, plan.continues, snippets)
    report.results = [results[i] for i in range(len(snippets))]
    return report


def _after_the_blocks_they_continue(results: dict[int, SnippetResult], continues: dict[int, tuple[int, ...]],
                                    snippets: list[Snippet]) -> None:
    """A block that continues one that failed was not run as a reader would run it: it is "not run" (the
    failure is reported once, at its own block). An error a block met in one it continues is placed there."""
    for key, earlier in continues.items():
        result = results[key]
        if result.status not in ("passed", "failed"):
            continue
        failed = next((results[i] for i in earlier if results[i].status == "failed"), None)
        if failed is not None:
            results[key] = SnippetResult(result.path, result.language, result.first_line, "not-run",
                                         f"not run: it continues the block at line {failed.first_line}, which failed")
        elif result.status == "failed" and result.message.startswith(SETUP_FAILURE):
            inside = next((results[i] for i in earlier if result.line is not None and snippets[i].first_line
                           <= result.line < snippets[i].first_line + snippets[i].code.count("\n")), None)
            if inside is not None:
                message = result.message.removeprefix(SETUP_FAILURE)
                results[key] = replace(result, message=f"{message} (in the block at line {inside.first_line}, "
                                                       "which it continues)")
