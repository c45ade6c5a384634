"""Shortcode calls as Hugo reads them, and the checks `invoke lint` makes of them.

Hugo expands shortcodes before Markdown, everywhere in a page's body: a call inside a code block, an
inline code span or an HTML comment runs too; only the escaped form `{{</* … */>}}` is text. So every call
is read, wherever it stands. Which shortcodes exist, and which take content (their template evaluates
`.Inner`, so each call must be closed, `{{< /name >}}`, or self-closed, `{{< name />}}`; the others must
be neither), is read from the site's `layouts/_shortcodes/` when lint starts, as Hugo reads it, plus the
embedded ones this site uses (scripts/content/schema.py). Parameters are checked against
schema.SHORTCODES.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from scripts.content.schema import HUGO_SHORTCODES, HUGO_SHORTCODES_LEFT_OUT, SHORTCODES

SHORTCODE_FOLDERS = ("layouts/_shortcodes", "layouts/shortcodes")  # Hugo 0.146+, and the older name
_TEMPLATE_COMMENT = re.compile(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.S)
_USES_INNER = re.compile(r"\.Inner(?:Deindent)?\b")
_OPEN = re.compile(r"\{\{([<%])")
_NAME = re.compile(r"[\w.-]+(?:/[\w.-]+)*")
_QUOTED = re.compile(r'"(?:\\.|[^"\\])*"|`[^`]*`')
_SPACE = re.compile(r"\s*")


def site_shortcodes(root: Path) -> dict[str, bool]:
    """The shortcodes `root`'s templates define, each with whether it takes content (evaluates `.Inner`).
    A template's name is its path under the folder without extension or qualifiers (`video.en.html` is
    `video`); comments in templates do not count, as in Hugo."""
    found: dict[str, bool] = {}
    for folder in SHORTCODE_FOLDERS:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if not path.is_file():
                continue
            relative = path.relative_to(base)
            name = "/".join((*relative.parts[:-1], relative.name.split(".", 1)[0]))
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
            found[name] = found.get(name, False) or bool(_USES_INNER.search(_TEMPLATE_COMMENT.sub("", text)))
    return found


@dataclass(frozen=True)
class Call:
    """One shortcode tag of a page body."""

    line: int  # of its opening `{{`
    delimiter: str  # "<" or "%"
    name: str = ""
    closing: bool = False  # {{< /name >}}
    self_closing: bool = False  # {{< name />}}
    named: tuple[tuple[str, str], ...] = ()
    positional: tuple[str, ...] = ()
    problem: str = ""  # a tag Hugo cannot read: then only this is reported

    def tag(self, closing: bool = False) -> str:
        right = ">" if self.delimiter == "<" else "%"
        return f"{{{{{self.delimiter} {'/' if closing else ''}{self.name} {right}}}}}"


def scan_calls(body: str, first_line: int = 1) -> list[Call]:
    """Every shortcode tag of `body` in order (escaped ones left out); `first_line` is the body's first line."""
    calls: list[Call] = []
    position, line, counted = 0, first_line, 0
    while (opened := _OPEN.search(body, position)) is not None:
        line += body.count("\n", counted, opened.start())
        counted = opened.start()
        delimiter = opened.group(1)
        right = ">}}" if delimiter == "<" else "%}}"
        if body.startswith("/*", opened.end()):  # escaped: {{</* … */>}} is shown as written
            end = body.find("*/" + right, opened.end())
            position = len(body) if end < 0 else end + len(right) + 2
            continue
        call, position = _read_call(body, opened.end(), line, delimiter, right)
        calls.append(call)
    return calls


def _read_call(body: str, at: int, line: int, delimiter: str, right: str) -> tuple[Call, int]:
    """The tag starting after its `{{<`, and where reading goes on."""
    at = _SPACE.match(body, at).end()
    closing = body.startswith("/", at)
    if closing:
        at = _SPACE.match(body, at + 1).end()
    name_match = _NAME.match(body, at)
    if name_match is None:
        end = body.find(right, at)
        return Call(line, delimiter, problem="a shortcode tag without a name (Hugo cannot read it)"), (
            len(body) if end < 0 else end + 3)
    name = name_match.group(0)
    at = name_match.end()
    named: list[tuple[str, str]] = []
    positional: list[str] = []
    while True:
        at = _SPACE.match(body, at).end()
        if body.startswith(right, at):
            return Call(line, delimiter, name, closing, False, tuple(named), tuple(positional)), at + 3
        if body.startswith("/", at) and body.startswith(right, _SPACE.match(body, at + 1).end()):
            end = _SPACE.match(body, at + 1).end() + 3
            return Call(line, delimiter, name, closing, True, tuple(named), tuple(positional)), end
        if at >= len(body) or body.startswith("{{", at):
            return Call(line, delimiter, name, problem=f'the call of "{name}" is not closed with {right}'), at
        token, at = _read_value(body, at, right)
        after = _SPACE.match(body, at).end()
        if body.startswith("=", after) and token[:1] not in ('"', "`"):
            value, at = _read_value(body, _SPACE.match(body, after + 1).end(), right)
            named.append((token, value))
        else:
            positional.append(token)


def _read_value(body: str, at: int, right: str) -> tuple[str, int]:
    """A quoted or raw string, or a bare word up to a space, `=` or the closing delimiter."""
    quoted = _QUOTED.match(body, at)
    if quoted is not None:
        return quoted.group(0), quoted.end()
    end = at
    while end < len(body) and not body[end].isspace() and body[end] != "=" and not body.startswith(right, end) \
            and not body.startswith("/" + right, end):
        end += 1
    return body[at:max(end, at + 1)], max(end, at + 1)


@dataclass
class ShortcodeChecker:
    """Checks the calls of one page against the shortcodes the site has (name -> takes content)."""

    available: dict[str, bool]
    problems: list[tuple[int, str]] = field(default_factory=list)

    def check(self, calls: list[Call], code_lines: frozenset[int] = frozenset()) -> list[tuple[int, str]]:
        """(line, message) for every call Hugo would refuse or that is called wrongly; `code_lines` are the
        lines inside code blocks, where a call gets a hint that Hugo runs it there too."""
        self.problems = []
        stack: list[Call] = []
        for call in calls:
            if call.problem:
                self.problems.append((call.line, call.problem))
            elif call.closing:
                self._close(call, stack)
            elif self._known(call, code_lines):
                self._check_parameters(call)
                if self.available[call.name] and not call.self_closing:
                    stack.append(call)
                elif not self.available[call.name] and call.self_closing:
                    self.problems.append((call.line, f'"{call.name}" takes no content, so it cannot be self-closed: '
                                                     "remove the / before the closing braces"))
        for call in stack:
            self._unclosed(call)
        return self.problems

    def _known(self, call: Call, code_lines: frozenset[int]) -> bool:
        if call.name in self.available:
            return True
        if call.name in HUGO_SHORTCODES_LEFT_OUT:
            message = (f'shortcode "{call.name}" is one of Hugo\'s that this site leaves out: it shows another '
                       "site's content, and builds here are offline and pages load nothing from other sites")
        else:
            close = difflib.get_close_matches(call.name, sorted(self.available), n=1, cutoff=0.6)
            message = f'unknown shortcode "{call.name}"' + (f' (did you mean "{close[0]}"?)' if close else "")
        if call.line in code_lines:
            message += "; Hugo runs shortcodes inside code blocks too: write {{</* … */>}} to show one"
        self.problems.append((call.line, message))
        return False

    def _close(self, call: Call, stack: list[Call]) -> None:
        if call.name in self.available and not self.available[call.name]:
            self.problems.append((call.line, f'"{call.name}" takes no content, so it has no closing tag: '
                                             f"remove {call.tag(closing=True)}"))
            return
        opened = next((i for i in range(len(stack) - 1, -1, -1) if stack[i].name == call.name), None)
        if opened is None:
            if call.name in self.available:
                self.problems.append((call.line, f'{call.tag(closing=True)} closes nothing: no "{call.name}" '
                                                 "is open above it"))
            return  # an unknown name has been reported at its opening tag, if it has one
        for inner in stack[opened + 1:]:
            self._unclosed(inner)
        del stack[opened:]

    def _unclosed(self, call: Call) -> None:
        right = ">}}" if call.delimiter == "<" else "%}}"
        self.problems.append((call.line, f'"{call.name}" is never closed: end its content with '
                                         f"{call.tag(closing=True)}, or self-close the call (… /{right})"))

    def _check_parameters(self, call: Call) -> None:
        spec = SHORTCODES.get(call.name)
        if call.named and call.positional:
            self.problems.append((call.line, f'shortcode "{call.name}" mixes named and positional parameters '
                                             "(Hugo refuses the call)"))
            return
        if spec is None:
            return  # Hugo's own shortcodes: their parameters are Hugo's to check
        given = [name for name, _ in call.named]
        if call.positional:
            if len(call.positional) > len(spec.positional):
                extra = call.positional[len(spec.positional)]
                what = "named parameters only" if not spec.positional else (
                    f"at most {len(spec.positional)} positional parameter{'s' if len(spec.positional) > 1 else ''}")
                self.problems.append((call.line, f'shortcode "{call.name}" takes {what}, not {extra}'))
            given += list(spec.positional[:len(call.positional)])
        for name in given:
            if name not in spec.params:
                close = difflib.get_close_matches(name, list(spec.params), n=1, cutoff=0.6)
                self.problems.append((call.line, f'unknown parameter of shortcode "{call.name}" "{name}"'
                                                 + (f' (did you mean "{close[0]}"?)' if close else "")))
        for required in spec.required:
            if required not in given:
                self.problems.append((call.line, f'shortcode "{call.name}" needs the parameter "{required}"'))


def available_shortcodes(root: Path) -> dict[str, bool]:
    """Hugo's embedded shortcodes this site uses, and the site's own (which replace them where both exist)."""
    return {**HUGO_SHORTCODES, **site_shortcodes(root)}
