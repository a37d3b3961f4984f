"""The package's shape: layers that point downward (import-linter's contract in pyproject.toml), no
import cycle anywhere, small modules and short functions. Each check is also shown to fail on a
hand-made violation, so that a green run means something."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from helpers.core.paths import ROOT

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """import-linter's contracts of ``cwd/pyproject.toml`` on the ``helpers`` package found in ``cwd``."""
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--config", "pyproject.toml",
                           "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, cycles, counter = {}, {}, set(), [], [], [0]

    def visit(root: str) -> None:
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def helpers_graph() -> dict[str, set[str]]:
    """Every import between modules of ``helpers`` (function-level imports included)."""
    graph = grimp.build_graph("helpers", cache_dir=None)
    return {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}


def test_layers_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The same contract on a copy of the package in which core imports the pipeline: broken."""
    shutil.copytree(ROOT / "helpers", tmp_path / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    repro = tmp_path / "helpers" / "core" / "repro.py"
    repro.write_text(repro.read_text() + "\n\ndef _upward():\n    from ..pipeline import run  # noqa: F401\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "helpers.core is not allowed to import helpers.pipeline" in result.stdout


def test_no_import_cycle():
    assert import_cycles(helpers_graph()) == []


def test_cycle_finder_on_a_hand_made_graph():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}, "f": {"a"}}
    assert sorted(import_cycles(graph)) == [["a", "b", "c"], ["e", "e2"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def long_functions(source: str) -> list[tuple[str, int]]:
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_modules_and_functions_are_small():
    too_long, long_defs = [], []
    for path in sorted((ROOT / "helpers").rglob("*.py")):
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(text.splitlines())} lines")
        long_defs += [f"{name}: {fn} has {n} lines" for fn, n in long_functions(text)]
    assert too_long == [], f"modules over {MAX_MODULE_LINES} lines: {too_long}"
    assert long_defs == [], f"functions over {MAX_FUNCTION_LINES} lines: {long_defs}"


def test_function_length_check_sees_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}\n") == [("f", MAX_FUNCTION_LINES + 1)]


@pytest.mark.parametrize("folder", ["core", "data", "models", "theory", "defenses", "training", "attacks",
                                    "evaluation", "claims", "pipeline", "course", "audit"])
def test_every_layer_is_a_documented_package(folder):
    init = ROOT / "helpers" / folder / "__init__.py"
    assert init.is_file(), f"helpers/{folder} is not a package"
    assert ast.get_docstring(ast.parse(init.read_text())), f"helpers/{folder}/__init__.py has no docstring"


def architecture_table() -> list[tuple[int, list[str]]]:
    """(layer, folders) from the table of book/architecture.md."""
    rows = []
    for line in (ROOT / "book" / "architecture.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("|") and cells[0].isdigit():
            rows.append((int(cells[0]), [f.strip("`/ ").removeprefix("helpers/") for f in cells[1].split(",")]))
    return rows


def test_the_books_architecture_note_matches_the_folders_and_the_contract():
    import tomllib

    documented = architecture_table()
    folders = {p.parent.name for p in (ROOT / "helpers").glob("*/__init__.py")}
    assert sorted(f for _, layer in documented for f in layer) == sorted(folders)
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]["layers"]
    # the contract lists layers top first; the note numbers them from the bottom
    as_contract = [sorted(f for f in layer) for _, layer in sorted(documented, reverse=True)]
    assert as_contract == [sorted(part.strip() for part in layer.split("|")) for layer in contract]


@pytest.mark.parametrize("module", sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem != "__init__"))
def test_every_benchmark_imports(module):
    """The benchmarks run rarely; a moved helper must not break them unseen."""
    import importlib

    importlib.import_module(f"benchmarks.{module}")
