"""What a Python block imports, defines and takes from elsewhere, read from its syntax tree (nothing runs).

`imports` are the top-level modules it imports (`import transformers.models` and `from transformers import
X` are both `transformers`), except inside a `try` that handles ImportError: such a block copes without
them. `defines` are the names it binds at module level; `uses` are the names it reads that it has not
bound by then, nor are builtins: a block whose `uses` an earlier block `defines` continues that block.
Code in a function body runs later, so a name it reads counts as used only if the block never binds it.
"""
from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

BUILTIN_NAMES = frozenset(dir(builtins))
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class BlockNames:
    imports: tuple[tuple[str, int], ...]  # (top-level module, line of its first import), in that order
    defines: frozenset[str]
    uses: frozenset[str]


def block_names(tree: ast.Module) -> BlockNames:
    """The names of a parsed block (see the module docstring)."""
    reading = _Reading()
    reading.statements(tree.body)
    used = reading.used | (reading.deferred - reading.defined)
    return BlockNames(imports=_imports(tree), defines=frozenset(reading.defined),
                      uses=frozenset(name for name in used if name not in BUILTIN_NAMES and not name.startswith("__")))


class _Reading:
    """Follows a block statement by statement, in the order Python runs it: what a statement reads is used
    unless an earlier statement bound it; a loop's target is bound before its body reads it."""

    def __init__(self) -> None:
        self.defined: set[str] = set()
        self.used: set[str] = set()
        self.deferred: set[str] = set()  # read in function bodies: needed only if the block never binds them

    def unit(self, *nodes: ast.AST | None) -> None:
        """Nodes whose reads all happen before their binds (an assignment: its value, then its targets)."""
        scan = _Scan()
        for node in nodes:
            if node is not None:
                scan.visit(node)
        self.used |= scan.loads - self.defined - scan.local_binds
        self.deferred |= scan.deferred_loads - scan.local_binds
        self.defined |= scan.module_binds

    def statements(self, body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.For, ast.AsyncFor)):
                self.unit(node.iter, node.target)
                self.statements(node.body + node.orelse)
            elif isinstance(node, (ast.If, ast.While)):
                self.unit(node.test)
                self.statements(node.body + node.orelse)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    self.unit(item.context_expr, item.optional_vars)
                self.statements(node.body)
            elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
                self.statements(node.body)  # type: ignore[attr-defined]
                for handler in node.handlers:  # type: ignore[attr-defined]
                    self.unit(handler.type)
                    if handler.name:
                        self.defined.add(handler.name)
                    self.statements(handler.body)
                self.statements(node.orelse + node.finalbody)  # type: ignore[attr-defined]
            elif isinstance(node, ast.Match):
                self.unit(node.subject)
                for case in node.cases:
                    self.unit(case.pattern)
                    self.unit(case.guard)
                    self.statements(case.body)
            else:
                self.unit(node)


class _Scan(ast.NodeVisitor):
    """Loads and binds of one top-level statement, split by whether they happen in a nested scope."""

    def __init__(self) -> None:
        self.loads: set[str] = set()
        self.deferred_loads: set[str] = set()
        self.module_binds: set[str] = set()
        self.local_binds: set[str] = set()
        self.depth = 0  # nested scopes entered (functions, lambdas, classes, comprehensions)
        self.in_function = 0  # of which function bodies, which run only when called

    def bind(self, name: str) -> None:
        (self.local_binds if self.depth else self.module_binds).add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            (self.deferred_loads if self.in_function else self.loads).add(node.id)
        else:
            self.bind(node.id)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        if not isinstance(node, ast.Lambda):
            self.bind(node.name)
            for decorator in node.decorator_list:
                self.visit(decorator)
        for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
            self.visit(default)
        self.depth += 1
        self.in_function += 1
        arguments = node.args
        for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                         *(a for a in (arguments.vararg, arguments.kwarg) if a is not None)]:
            self.local_binds.add(argument.arg)
        for statement in node.body if isinstance(node.body, list) else [node.body]:
            self.visit(statement)
        self.in_function -= 1
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.bind(node.name)
        for expression in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expression)
        self.depth += 1
        for statement in node.body:
            self.visit(statement)
        self.depth -= 1

    def _comprehension(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.bind(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.bind(alias.asname or alias.name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bind(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.bind(node.rest)
        self.generic_visit(node)


def _handles_import_errors(node: ast.Try) -> bool:
    for handler in node.handlers:
        if handler.type is None:
            return True
        caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(c, ast.Name) and c.id in _IMPORT_ERRORS for c in caught):
            return True
    return False


def _imports(tree: ast.Module) -> tuple[tuple[str, int], ...]:
    found: dict[str, int] = {}

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name.split(".")[0], node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.setdefault(node.module.split(".")[0], node.lineno)
        for name, child in ast.iter_fields(node):
            if isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))) and name == "body" \
                    and _handles_import_errors(node):  # type: ignore[arg-type]
                continue  # guarded: the block runs without them
            for item in child if isinstance(child, list) else [child]:
                if isinstance(item, ast.AST):
                    walk(item)

    walk(tree)
    return tuple(found.items())
