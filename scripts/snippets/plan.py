"""Decide what becomes of each block before anything runs: skipped, compiled only, parsed, run, or run once
for every identical copy."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType

from scripts.snippets.extract import PostSnippets, Snippet
from scripts.snippets.report import CHECKED_LANGUAGES, Finding, SnippetResult
from scripts.snippets.run import PythonJob, PythonOutcome, compile_block


@dataclass
class CheckPlan:
    """The blocks of every post, indexed by position, and what is to be done with each."""

    snippets: list[Snippet]
    results: dict[int, SnippetResult] = field(default_factory=dict)  # settled without running anything
    findings: list[Finding] = field(default_factory=list)
    jobs: list[PythonJob] = field(default_factory=list)  # Python blocks to run
    repeats: list[tuple[PythonJob, PythonJob]] = field(default_factory=list)  # (a job not run, its twin that is)
    static_indexes: list[int] = field(default_factory=list)  # blocks checked by a parser or shell tool


def plan_checks(posts: list[PostSnippets], filenames: dict[Path, str]) -> CheckPlan:
    """Compile every Python block and setup block once, and sort the blocks by how they are checked.

    `filenames` maps each post's path to the file name its code is compiled with (what tracebacks show).
    """
    plan = CheckPlan(snippets=[s for post in posts for s in post.snippets])
    for post in posts:
        plan.findings += [Finding(p.path, p.line, "marker", p.message) for p in post.problems]
    setups = {post.path: post.setup for post in posts}
    # A block runs once however often it appears: its result depends on nothing but its code and its
    # post's setup (each run gets an empty directory, the same environment and the same stub).
    first_run: dict[tuple[str, str | None], PythonJob] = {}
    compiled_setups: dict[Path, CodeType] = {}
    broken_setups: set[Path] = set()
    for post in posts:
        if post.setup is not None:
            compiled = compile_block(post.setup.code, post.setup.first_line, filenames[post.path])
            if isinstance(compiled, PythonOutcome):
                broken_setups.add(post.path)
                plan.findings.append(Finding(post.path, compiled.line or post.setup.first_line, "python",
                                             f"setup block: {compiled.message}"))
            else:
                compiled_setups[post.path] = compiled
    for i, s in enumerate(plan.snippets):
        if s.skip:
            plan.results[i] = SnippetResult(s.path, s.language, s.first_line, "skipped")
        elif s.language == "python":
            compiled = compile_block(s.code, s.first_line, filenames[s.path])
            if isinstance(compiled, PythonOutcome):
                plan.results[i] = SnippetResult(s.path, "python", s.first_line, "failed", compiled.message,
                                                compiled.line)
            elif s.no_run:
                plan.results[i] = SnippetResult(s.path, "python", s.first_line, "passed", "compiled, not run")
            elif s.path in broken_setups:
                plan.results[i] = SnippetResult(s.path, "python", s.first_line, "failed",
                                                "not run: the post's setup block does not compile")
            else:
                setup = setups[s.path]
                job = PythonJob(i, filenames[s.path], s.code, s.first_line, setup, compiled,
                                compiled_setups.get(s.path))
                first = first_run.setdefault((s.code, setup.code if setup else None), job)
                if first is job:
                    plan.jobs.append(job)
                else:
                    plan.repeats.append((job, first))
        elif s.language in CHECKED_LANGUAGES:
            plan.static_indexes.append(i)
        else:
            plan.results[i] = SnippetResult(s.path, s.language, s.first_line, "unchecked")
    return plan
