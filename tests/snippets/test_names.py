"""What a Python block imports, defines and uses (scripts/snippets/names.py), and which modules are missing
where samples run (scripts/snippets/packages.py)."""
from __future__ import annotations

import ast
import importlib.util

import pytest

from scripts.snippets.names import block_names
from scripts.snippets.packages import missing_modules


def names(code: str):
    return block_names(ast.parse(code))


def test_imports_are_top_level_modules_with_the_line_of_their_first_import():
    code = ("import os\nimport transformers.models as tm\nfrom modelscope.hub import snapshot_download\n"
            "import os, torch\n")
    assert names(code).imports == (("os", 1), ("transformers", 2), ("modelscope", 3), ("torch", 4))


def test_an_import_guarded_against_import_errors_is_not_needed():
    code = ("try:\n    import torch\nexcept ImportError:\n    torch = None\n"
            "try:\n    import flash_attn\nexcept (ValueError, ModuleNotFoundError):\n    pass\n"
            "try:\n    import vllm\nexcept ValueError:\n    pass\n"
            "from . import sibling\n")
    assert names(code).imports == (("vllm", 10),)


@pytest.mark.parametrize(("code", "uses"), [
    ("text = tokenizer.apply_chat_template(messages)\nprint(text)", {"tokenizer", "messages"}),
    ("x = x + 1", {"x"}),  # read before it is bound
    ("for chunk in stream:\n    print(chunk)", {"stream"}),
    ("def ask(q):\n    return client.create(q, model=MODEL)\nMODEL = 'm'\nask('hi')", {"client"}),
    ("with open(path) as f:\n    data = f.read()\nprint(len(data))", {"path"}),
    ("try:\n    run()\nexcept Error as e:\n    print(e)", {"run", "Error"}),
    ("squares = [n * n for n in numbers]", {"numbers"}),
    ("class Bot(Base):\n    name = NAME\n    def hi(self):\n        return self.name", {"Base", "NAME"}),
    ("match reply:\n    case {'text': text} if text:\n        print(text)", {"reply"}),
    ("if __name__ == '__main__':\n    main = lambda: print(len([]))\n    main()", set()),
])
def test_a_block_uses_what_it_reads_before_binding_it(code: str, uses: set[str]):
    assert names(code).uses == uses


def test_a_block_defines_its_module_level_names_only():
    code = ("import numpy as np\nfrom openai import OpenAI\nclient = OpenAI()\ndef ask(question):\n"
            "    answer = client.create(question)\n    return answer\nfor i, row in enumerate([]):\n    pass\n")
    assert names(code).defines == {"np", "OpenAI", "client", "ask", "i", "row"}


def test_missing_modules_are_those_the_workers_interpreter_cannot_find():
    assert importlib.util.find_spec("torch") is None, "these tests expect torch not to be installed"
    assert missing_modules(["os", "json", "openai", "yaml", "torch", "qwen_blog_no_such_module"]) == {
        "torch", "qwen_blog_no_such_module"}
    assert missing_modules([]) == frozenset()
