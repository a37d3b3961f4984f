"""Grade students' hand-ins with the reference autograder cells (``python -m helpers.course.assignments --grade``).

Each hand-in is graded in its own Python process, with a time limit, whose working directory,
``HOME`` and ``TMPDIR`` are a fresh temporary folder that is removed afterwards. Exercises are found
by their nbgrader grade id (cell metadata ``nbgrader.grade_id``), not by position. Each exercise runs
in a fresh namespace: the hand-in's solution cell, then the reference autograder cell (hidden tests
included), and nothing else of the notebook.

A hand-in's own failures cost it the exercise where they happen and nothing more: an exception,
a syntax error, ``sys.exit``, a missing exercise cell; ``os._exit`` or a crash, and running past the
time limit, end the process, so the exercises after that one are graded in a new process.
A hand-in that cannot be graded at all (not a notebook, or matching no solution notebook) gets a
``NOT GRADED`` line, and the batch goes on.

This is not a security sandbox: the students' code runs with the instructor's permissions.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.paths import ROOT
from .exercises import exercises, solution_notebooks

DEFAULT_TIMEOUT = 60.0   # seconds one grading process may run
MESSAGE_CHARS = 300      # longer messages are cut


@dataclass(frozen=True)
class Task:
    """One exercise to grade: the hand-in's solution cell and the reference autograder cell."""

    exercise: str     # the solution cell's grade id
    solution: str
    check: str
    points: float


@dataclass(frozen=True)
class Score:
    exercise: str
    points: float
    max_points: float
    message: str


@dataclass
class Report:
    """The grade of one hand-in, or why it could not be graded (``error``)."""

    path: Path
    scores: list[Score] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def lines(self) -> list[str]:
        if self.error is not None:
            return [f"{self.path}\tNOT GRADED\t-\t{self.error}"]
        total = sum(s.points for s in self.scores)
        most = sum(s.max_points for s in self.scores)
        return ([f"{self.path}\t{s.exercise}\t{s.points:g}/{s.max_points:g}\t{s.message}" for s in self.scores]
                + [f"{self.path}\ttotal\t{total:g}/{most:g}\t{'; '.join(self.notes) or 'graded'}"])


# --- reading hand-ins (tolerant: any JSON may arrive) ---------------------------------------------

def one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def read_cells(path: Path) -> list[dict]:
    """The cells of a notebook file; ValueError says why the file is not a notebook."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not a notebook: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not a notebook: invalid JSON ({error})") from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
        raise ValueError("not a notebook: the JSON has no list of cells")
    return cells


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def grade_id(cell: dict) -> str | None:
    metadata = cell.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None


def code_cells_by_id(cells: list[dict]) -> dict[str, list[str]]:
    """The sources of the code cells carrying each grade id, in notebook order."""
    found: dict[str, list[str]] = {}
    for cell in cells:
        if cell.get("cell_type") == "code" and isinstance(grade_id(cell), str):
            found.setdefault(grade_id(cell), []).append(source(cell))
    return found


# --- the reference: solution notebooks and their exercises ----------------------------------------

@dataclass(frozen=True)
class Reference:
    name: str            # file name in notebooks/
    cell_count: int      # the same in its student copy
    tasks: tuple         # (exercise, check, points) per exercise


def load_references() -> dict[str, Reference]:
    import nbformat

    references = {}
    for path in solution_notebooks():
        nb = nbformat.read(path, as_version=4)
        tasks = tuple((e.name, nb.cells[e.autograder].source,
                       float(nb.cells[e.autograder].metadata["nbgrader"].get("points", 1))) for e in exercises(nb))
        references[path.name] = Reference(path.name, len(nb.cells), tasks)
    return references


def match_reference(path: Path, ids: set, references: dict[str, Reference]) -> tuple[Reference, list[str]]:
    """The solution notebook a hand-in answers: the one sharing most exercise ids, else its name."""
    overlap = {name: len(ids & {t[0] for t in ref.tasks}) for name, ref in references.items()}
    best = max(overlap.values(), default=0)
    if best == 0:
        if path.name in references:
            return references[path.name], []
        raise ValueError(f"matches no solution notebook: the name is none of {', '.join(sorted(references))} "
                         "and no cell carries one of their exercise ids")
    name = path.name if overlap.get(path.name) == best else min(n for n, k in overlap.items() if k == best)
    notes = [] if name == path.name else [f"graded as {name} (found by its exercise ids)"]
    return references[name], notes


def tasks_for(cells: list[dict], reference: Reference) -> tuple[list[Task], list[Score], list[str]]:
    """The tasks to run, the scores of missing exercises, and notes on the hand-in's cells."""
    by_id = code_cells_by_id(cells)
    tasks, missing, notes = [], [], []
    for exercise, check, points in reference.tasks:
        sources = by_id.get(exercise, [])
        if not sources:
            missing.append(Score(exercise, 0.0, points, f"missing: no code cell has grade id {exercise}"))
            continue
        if len(sources) > 1:
            notes.append(f"{len(sources)} cells have grade id {exercise}: graded the last one")
        tasks.append(Task(exercise, sources[-1], check, points))
    extra = len(cells) - reference.cell_count
    if extra > 0:
        notes.append(f"{extra} cell{'s' * (extra > 1)} more than the student copy (only exercise cells run)")
    return tasks, missing, notes


# --- running the tasks in a separate process ------------------------------------------------------

def child_environment(work: Path) -> dict:
    """The grading process's environment: its home and temporary files in ``work``, this repository's helpers."""
    env = dict(os.environ)
    env.update(HOME=str(work), TMPDIR=str(work), TMP=str(work), TEMP=str(work), MPLBACKEND="agg",
               MIA_CACHE_DIR=str(work / "cache"), MIA_FIGURES_DIR=str(work / "figures"),
               PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    return env


def run_process(tasks: list[Task], timeout: float) -> tuple[list[Score], str]:
    """Run ``tasks`` in one process; return the scores it reported and, if it stopped early, why."""
    with tempfile.TemporaryDirectory(prefix="mia-grade-") as folder:
        base = Path(folder)
        work, task_file, result_file = base / "work", base / "tasks.json", base / "results.jsonl"
        work.mkdir()
        task_file.write_text(json.dumps([asdict(t) for t in tasks]), encoding="utf-8")
        with open(base / "output.txt", "wb") as output:
            process = subprocess.Popen([sys.executable, "-m", "helpers.course.grader", str(task_file), str(result_file)],
                                       cwd=work, env=child_environment(work), stdin=subprocess.DEVNULL,
                                       stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                status, why = process.wait(timeout=timeout), ""
            except subprocess.TimeoutExpired:
                status, why = None, f"timed out: the grading process ran past {timeout:g} s during this exercise"
            finally:
                kill_group(process)
        lines = result_file.read_text(encoding="utf-8").splitlines() if result_file.exists() else []
    scores = [Score(**json.loads(line)) for line in lines]
    if status is not None and len(scores) < len(tasks):
        why = f"the grading process ended (exit status {status}) during this exercise: os._exit() or a crash?"
    return scores, why


def kill_group(process: subprocess.Popen) -> None:
    """End the grading process and anything it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def run_tasks(tasks: list[Task], timeout: float) -> list[Score]:
    """Scores of all tasks; after a process ends early, the next exercises get a new process."""
    scores, pending = [], list(tasks)
    while pending:
        done, why = run_process(pending, timeout)
        scores += done
        if len(done) == len(pending):
            break
        culprit = pending[len(done)]
        scores.append(Score(culprit.exercise, 0.0, culprit.points, why))
        pending = pending[len(done) + 1:]
    return scores


def grade_hand_in(path: Path, references: dict[str, Reference], timeout: float = DEFAULT_TIMEOUT) -> Report:
    """Grade one hand-in; every problem of the hand-in ends up in the report, none is raised."""
    report = Report(Path(path))
    try:
        cells = read_cells(path)
        reference, report.notes = match_reference(Path(path), set(code_cells_by_id(cells)), references)
    except (OSError, ValueError) as error:
        report.error = one_line(error)
        return report
    tasks, missing, notes = tasks_for(cells, reference)
    report.notes += notes
    order = [exercise for exercise, _, _ in reference.tasks]
    report.scores = sorted(run_tasks(tasks, timeout) + missing, key=lambda s: order.index(s.exercise))
    return report


def grade_all(paths: list[Path], timeout: float = DEFAULT_TIMEOUT, out=None) -> list[Report]:
    """Grade every hand-in, printing its lines as soon as it is graded."""
    out = out or sys.stdout
    references, reports = load_references(), []
    for path in paths:
        try:
            report = grade_hand_in(path, references, timeout)
        except Exception as error:  # a bug of the grader: report it, grade the others
            report = Report(Path(path), error=one_line(f"grader error: {type(error).__name__}: {error}"))
        reports.append(report)
        print("\n".join(report.lines()), file=out, flush=True)
    return reports


# --- inside the grading process -------------------------------------------------------------------

def describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def failure(task: Task) -> str | None:
    """Run one exercise in a fresh namespace, the solution cell then the check; why it failed, if it did."""
    namespace = {"__name__": "__main__"}
    try:
        code = compile(task.solution, f"<{task.exercise}>", "exec")
    except SyntaxError as error:
        return f"syntax error in the solution cell, line {error.lineno}: {error.msg}"
    try:
        exec(code, namespace)
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: the hand-in's, not ours
        return f"the solution cell raised {describe(error)}"
    try:
        exec(compile(task.check, f"<{task.exercise} check>", "exec"), namespace)
    except AssertionError as error:
        return f"check failed: {error}" if str(error) else "check failed (an assertion without message)"
    except BaseException as error:
        return f"the check raised {describe(error)}"
    return None


def run_task(task: Task) -> Score:
    why = failure(task)
    if why is None:
        return Score(task.exercise, task.points, task.points, "passed")
    return Score(task.exercise, 0.0, task.points, one_line(why))


def worker(task_file: str, result_file: str) -> None:
    """Grade the tasks in order, appending one JSON line per score as soon as it is known."""
    tasks = [Task(**t) for t in json.loads(Path(task_file).read_text(encoding="utf-8"))]
    for task in tasks:
        score = run_task(task)
        with open(result_file, "a", encoding="utf-8") as results:
            results.write(json.dumps(asdict(score)) + "\n")
    os._exit(0)  # threads a hand-in left running must not keep the process alive


if __name__ == "__main__":
    worker(*sys.argv[1:3])
