"""Student notebooks generated from the solution notebooks (``make student``), and their grader.

The solution notebooks in ``notebooks/`` mark their exercises with nbgrader's syntax:

* a *solution cell* holds ``### BEGIN SOLUTION`` ... ``### END SOLUTION``; in the student copy
  the marked lines become ``raise NotImplementedError(...)`` at the same indentation, keeping the
  comment lines that start with ``# Hint:``;
* an *autograder cell* (nbgrader metadata ``grade: true``) compares the student's function with
  reference values (closed forms, hand-computed cases): the student's own check in the notebook,
  and nbgrader's; lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed
  from the student copy. Our grader (:mod:`helpers.course.grader`) runs neither: it compares the
  student's function with the solution cell's on inputs drawn for each run, values only.

A student copy also drops the solution notebook's ``*Solution notebook:*`` paragraphs, explains its
setup line, and defaults to ``scale = "smoke"`` (a classroom runs every notebook in under a minute).

Student copies have no outputs and are never edited by hand: ``python -m helpers.course.assignments``
writes them to ``student/``; ``--check`` exits non-zero when ``student/`` is out of date;
``--grade HAND-IN...`` grades hand-ins (see :mod:`helpers.course.grader`).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from ..core.notebook_file import stored_text
from ..core.paths import ROOT
from . import grader
from .exercises import exercises, is_autograder, solution_notebooks, strip_hidden_tests, strip_solution

STUDENT = ROOT / "student"
# prepended to a student copy's first code cell: its figures go to build/, never over the published ones
SETUP_LINES = ("# Setup of this student copy (leave it as it is): the figures you make are saved under\n"
               "# build/student-figures/, so that figures/ keeps the published ones.\n"
               'import os; from helpers.core import paths; os.environ.setdefault("MIA_FIGURES_DIR", '
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


def render(path: Path) -> str:
    """The student notebook for ``path``, as the exact text written to ``student/``."""
    return stored_text(student_version(nbformat.read(path, as_version=4), path.stem))


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
    parser.add_argument("--timeout", default=grader.DEFAULT_TIMEOUT, metavar="SECONDS",
                        help="time limit of one grading sandbox, positive and finite (default %(default)g s)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap: the hand-ins' code runs with your permissions (every line says so)")
    args = parser.parse_args(argv)
    if args.grade:
        try:
            reports = grader.grade_all(args.grade, args.timeout, unsafe=args.no_sandbox)
        except (ValueError, grader.sandbox.SandboxUnavailable) as error:
            print(f"not grading: {error}", file=sys.stderr)
            return 2
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
