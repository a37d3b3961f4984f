"""Student notebooks generated from the solution notebooks (``make student``), and their grader.

The solution notebooks in ``notebooks/`` mark their exercises with nbgrader's syntax:

* a *solution cell* holds ``### BEGIN SOLUTION`` ... ``### END SOLUTION``; in the student copy
  the marked lines become ``raise NotImplementedError(...)`` at the same indentation, keeping the
  comment lines that start with ``# Hint:``;
* an *autograder cell* (nbgrader metadata ``grade: true``) compares the student's function with
  reference values (closed forms, hand-computed cases); lines between ``### BEGIN HIDDEN TESTS``
  and ``### END HIDDEN TESTS`` are kept for grading and removed from the student copy.

A student copy also drops the solution notebook's ``*Solution notebook:*`` paragraphs, explains its
setup line, and defaults to ``scale = "smoke"`` (a classroom runs every notebook in under a minute).

Student copies have no outputs and are never edited by hand: ``python -m helpers.assignments``
writes them to ``student/``; ``--check`` exits non-zero when ``student/`` is out of date;
``--grade HAND-IN...`` grades hand-ins (see :mod:`helpers.grader`).
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import grader
from .paths import NOTEBOOKS, ROOT

STUDENT = ROOT / "student"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HINT = re.compile(r"^\s*# Hint:\s*(.*)$")
# prepended to a student copy's first code cell: its figures go to build/, never over the published ones
SETUP_LINES = ("# Setup of this student copy (leave it as it is): the figures you make are saved under\n"
               "# build/student-figures/, so that figures/ keeps the published ones.\n"
               'import os; from helpers import paths; os.environ.setdefault("MIA_FIGURES_DIR", '
               'str(paths.BUILD / "student-figures"))')
# a paragraph of a solution notebook's markdown that starts with this is left out of the student copy
SOLUTION_NOTE = "*Solution notebook:*"
STUDENT_SCALE = "smoke"
SCALE_LINE = re.compile(r'^(scale\s*(?::[^=]*)?=\s*)(["\'])\w+\2', re.MULTILINE)


def student_header(stem: str) -> str:
    """The note appended to a student copy's first cell."""
    return (f"> **Student copy** of `notebooks/{stem}.ipynb`. Complete the functions under **## Exercises**, "
            "run the check below each one, and hand in this file. It runs at `scale = \"smoke\"` (about a "
            "minute, numbers too rough for the text's discussion); set `scale = \"quick\"` in the parameters "
            "cell for the numbers the text discusses (minutes).")


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


def without_solution_notes(markdown: str) -> str:
    """The markdown without its paragraphs that start with :data:`SOLUTION_NOTE`."""
    paragraphs = markdown.split("\n\n")
    return "\n\n".join(p for p in paragraphs if not p.lstrip().startswith(SOLUTION_NOTE))


def with_student_scale(parameters: str, where: str = "parameters cell") -> str:
    """The parameters cell with the scale's default set to :data:`STUDENT_SCALE` (still a literal)."""
    changed, count = SCALE_LINE.subn(lambda m: f'{m.group(1)}"{STUDENT_SCALE}"', parameters)
    if count != 1:
        raise ValueError(f"{where}: expected one literal `scale = \"...\"` line, found {count}")
    return changed


def student_version(nb, stem: str):
    """A student copy of a solution notebook (a new object; ``nb`` is unchanged)."""
    copy = nbformat.from_dict(nb)
    names = {e.solution: e.name for e in exercises(copy)}
    for i, cell in enumerate(copy.cells):
        where = f"{stem} cell {i}"
        if i in names:
            cell.source = strip_solution(cell.source, names[i], where)
        elif is_autograder(cell):
            cell.source = strip_hidden_tests(cell.source, where)
        elif cell.cell_type == "markdown":
            cell.source = without_solution_notes(cell.source)
        elif "parameters" in cell.metadata.get("tags", []):
            cell.source = with_student_scale(cell.source, where)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        for key in ("execution", "papermill"):
            cell.metadata.pop(key, None)
    copy.metadata.pop("papermill", None)
    copy.cells[0].source += "\n\n" + student_header(stem)
    first_code = next(cell for cell in copy.cells if cell.cell_type == "code")
    first_code.source = SETUP_LINES + "\n" + first_code.source
    return copy


def solution_notebooks() -> list[Path]:
    """The numbered notebooks that hold at least one exercise."""
    return [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
            if exercises(nbformat.read(p, as_version=4))]


def render(path: Path) -> str:
    """The student notebook for ``path``, as the exact text written to ``student/``."""
    nb = student_version(nbformat.read(path, as_version=4), path.stem)
    return nbformat.writes(nb) + "\n"


def stale(target: Path = STUDENT) -> list[str]:
    """Names of student notebooks missing, different from their solutions, or without a solution."""
    expected = {p.name: render(p) for p in solution_notebooks()}
    present = {p.name for p in target.glob("*.ipynb")} if target.exists() else set()
    wrong = [name for name, text in expected.items()
             if name not in present or (target / name).read_text(encoding="utf-8") != text]
    return sorted(wrong + list(present - set(expected)))


def write(target: Path = STUDENT) -> list[Path]:
    """Write every student notebook (atomically) and remove those whose solution is gone."""
    target.mkdir(exist_ok=True)
    written = []
    expected = {p.name: render(p) for p in solution_notebooks()}
    for name, text in expected.items():
        tmp = target / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target / name)
        written.append(target / name)
    for orphan in set(p.name for p in target.glob("*.ipynb")) - set(expected):
        (target / orphan).unlink()
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether student/ is up to date")
    parser.add_argument("--grade", nargs="+", type=Path, metavar="HAND-IN",
                        help="grade hand-ins: one line per exercise and a total per hand-in; exit status 1 "
                             "when a hand-in could not be graded at all (lost points are not failures)")
    parser.add_argument("--timeout", type=float, default=grader.DEFAULT_TIMEOUT, metavar="SECONDS",
                        help="time limit of one grading process (default %(default)g s)")
    args = parser.parse_args(argv)
    if args.grade:
        reports = grader.grade_all(args.grade, args.timeout)
        failed = [r for r in reports if r.error is not None]
        print(f"graded {len(reports) - len(failed)} of {len(reports)} hand-ins"
              + (f"; not graded: {', '.join(str(r.path) for r in failed)}" if failed else ""), file=sys.stderr)
        return 1 if failed else 0
    if args.check:
        wrong = stale()
        if wrong:
            print("student/ is out of date; run `make student`:", ", ".join(wrong), file=sys.stderr)
            return 1
        print("student/ is up to date")
        return 0
    for path in write():
        print("wrote", path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
