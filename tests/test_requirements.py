"""The two requirement files: a writer's (build and check) and a developer's (that plus tests and tools).
Everything the tasks import comes with the writer's file, but for what a task asks for by name first."""
from __future__ import annotations

import ast
import subprocess
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

DEV_ONLY = {"pytest", "pytest-xdist", "pytest-timeout", "playwright", "zizmor", "check-jsonschema", "pyinstrument"}


def pinned(name: str) -> list[Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / name).read_text(encoding="utf-8").splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("-r ")]


def with_dependencies(requirements: list[Requirement]) -> set[str]:
    """The distributions these requirements install, as read from the installed packages' metadata."""
    found: set[str] = set()
    pending = [(canonicalize_name(r.name), frozenset(r.extras)) for r in requirements]
    done: set[tuple[str, frozenset]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in done:
            continue
        done.add((name, extras))
        found.add(name)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            wanted = requirement.marker is None or any(requirement.marker.evaluate({"extra": extra})
                                                       for extra in extras | {""})
            if wanted:
                pending.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return found


def python_files() -> list:
    return [ROOT / "tasks.py", *sorted((ROOT / "scripts").rglob("*.py"))]


def third_party_imports() -> dict[str, str]:
    """Each top-level module tasks.py and scripts/ import (at the top or inside a function), and where."""
    found: dict[str, str] = {}
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in {"scripts", "__future__"}:
                    found.setdefault(top, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def modules_asked_for_by_name() -> set[str]:
    """Modules behind `require_dev_package("module", ...)`, which a task checks before it imports them."""
    asked = set()
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require_dev_package"
                    and isinstance(node.args[0], ast.Constant)):
                asked.add(node.args[0].value)
    return asked


def test_the_developers_file_adds_to_the_writers():
    lines = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line and not line.startswith("#")][0] == "-r requirements.txt"
    writer = {canonicalize_name(r.name) for r in pinned("requirements.txt")}
    developer = {canonicalize_name(r.name) for r in pinned("requirements-dev.txt")}
    assert not writer & developer
    assert developer == DEV_ONLY


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_every_requirement_is_pinned(name):
    for requirement in pinned(name):
        assert str(requirement.specifier).startswith("=="), requirement


def test_the_writers_requirements_bring_everything_the_tasks_import():
    installs = with_dependencies(pinned("requirements.txt"))
    assert not installs & DEV_ONLY, "a test or development tool is in the writer's install"
    distributions = metadata.packages_distributions()
    asked = modules_asked_for_by_name()
    missing = {module: where for module, where in third_party_imports().items() if module not in asked
               and not {canonicalize_name(d) for d in distributions.get(module, [module])} & installs}
    assert not missing, f"imported, but not installed by requirements.txt: {missing}"


@pytest.mark.parametrize("task,module", [("audit", "playwright"), ("test", "pytest"), ("test", "xdist")])
def test_a_task_without_its_development_requirement_says_how_to_install_it(task, module):
    # The module hidden as if it were not installed; invoke runs the task in this process.
    code = (f"import sys; sys.modules[{module!r}] = None; "
            f"from invoke.main import program; program.run(['invoke', {task!r}])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (f"error: invoke {task} needs {module}, a development requirement: "
                                   "pip install -r requirements-dev.txt")
