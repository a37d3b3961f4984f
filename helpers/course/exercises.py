"""Exercises in the solution notebooks, marked with nbgrader's syntax: the solution blocks, the hidden
tests, and each solution cell paired with the autograder cell that checks it (:func:`exercises`).
Student copies (:mod:`.assignments`) and the grader (:mod:`.grader`) both read them from here."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..core.paths import NOTEBOOKS

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HINT = re.compile(r"^\s*# Hint:\s*(.*)$")


@dataclass(frozen=True)
class Exercise:
    """One exercise: the index of its solution cell and of the autograder cell that checks it."""

    name: str          # the solution cell's nbgrader grade_id
    solution: int
    autograder: int


def _blocks(lines: list[str], begin: str, end: str, where: str):
    """Yield (start, stop) line indices of each begin/end pair; unbalanced markers raise."""
    start = None
    for i, line in enumerate(lines):
        marker = line.strip()
        if marker == begin:
            if start is not None:
                raise ValueError(f"{where}: nested {begin!r} at line {i + 1}")
            start = i
        elif marker == end:
            if start is None:
                raise ValueError(f"{where}: {end!r} without {begin!r} at line {i + 1}")
            yield start, i
            start = None
    if start is not None:
        raise ValueError(f"{where}: {begin!r} at line {start + 1} is never closed")


def is_solution(cell) -> bool:
    """A code cell with solution markers, or marked as a solution in its nbgrader metadata (student copies)."""
    marked = any(line.strip() == BEGIN for line in cell.source.splitlines())
    return cell.cell_type == "code" and (marked or bool(cell.metadata.get("nbgrader", {}).get("solution")))


def is_autograder(cell) -> bool:
    return cell.cell_type == "code" and bool(cell.metadata.get("nbgrader", {}).get("grade"))


def strip_solution(source: str, exercise: str, where: str = "cell") -> str:
    """Replace each solution block by a ``raise NotImplementedError`` that carries its hints."""
    lines = source.splitlines()
    out, done = [], 0
    for start, stop in _blocks(lines, BEGIN, END, where):
        out += lines[done:start]
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        hints = [m.group(1) for line in lines[start + 1:stop] if (m := HINT.match(line))]
        out += [f"{indent}# YOUR CODE HERE" + (f". Hint: {hint}" if hint else "") for hint in hints or [""]]
        out.append(f'{indent}raise NotImplementedError("{exercise}: replace this line with your solution")')
        done = stop + 1
    return "\n".join(out + lines[done:])


def strip_hidden_tests(source: str, where: str = "cell") -> str:
    lines = source.splitlines()
    out, done = [], 0
    for start, stop in _blocks(lines, BEGIN_HIDDEN, END_HIDDEN, where):
        out += lines[done:start]
        done = stop + 1
    return "\n".join(out + lines[done:]).rstrip()


def exercises(nb) -> list[Exercise]:
    """The exercises of a notebook: each solution cell paired with the next autograder cell."""
    found, pending = [], None
    for i, cell in enumerate(nb.cells):
        if is_solution(cell):
            if pending is not None:
                raise ValueError(f"solution cell {pending} has no autograder cell before cell {i}")
            pending = i
        elif is_autograder(cell):
            if pending is None:
                raise ValueError(f"autograder cell {i} checks no solution cell")
            name = nb.cells[pending].metadata.get("nbgrader", {}).get("grade_id", f"exercise {len(found) + 1}")
            found.append(Exercise(name, pending, i))
            pending = None
    if pending is not None:
        raise ValueError(f"solution cell {pending} has no autograder cell")
    return found


def solution_notebooks() -> list[Path]:
    """The numbered notebooks that hold at least one exercise."""
    return [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
            if exercises(nbformat.read(p, as_version=4))]
