"""Grade students' hand-ins (``python -m helpers.course.assignments --grade``): the student's code never
judges itself.

For each exercise (found by its nbgrader grade id, not by position) the grader draws fresh inputs
(:mod:`.cases`), computes the reference values with the solution notebook's cell in its own process,
and sends the hand-in's solution cell and the inputs into a sandbox (:mod:`.sandbox`: bubblewrap,
no network, no repository, no other hand-in, limits). There :mod:`.worker` runs the cell in a fresh
namespace, calls the function and returns only its values, as plain JSON; the comparison happens
here, on exact types, within each exercise's tolerance. Solutions, hidden tests and other
hand-ins never enter the sandbox; the score message carries no text of the student's code beyond
its own exception's type and a bounded message.

A hand-in's own failures cost it the exercise where they happen and nothing more: an exception,
a syntax error, ``sys.exit``, a missing exercise cell or function; ``os._exit`` or a crash, and
running past the time limit, end the sandbox, so the exercises after that one are graded in a new
one. A hand-in that cannot be graded at all (not a notebook, or matching no solution notebook) gets
a ``NOT GRADED`` line, and the batch goes on. Without bubblewrap the grader refuses to run;
``--no-sandbox`` runs the worker unconfined, and says so on every line.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import sandbox, worker
from .judge import difference, failure_message
from .cases import CASES
from .exercises import exercises, solution_notebooks

DEFAULT_TIMEOUT = 60.0   # seconds one grading process may run
MESSAGE_CHARS = 300      # longer messages are cut
UNSAFE = "UNSAFE: graded without a sandbox (--no-sandbox)"


@dataclass(frozen=True)
class Task:
    """One exercise to grade: the hand-in's solution cell, the inputs (encoded) and the reference
    values (encoded) it must reproduce."""

    exercise: str     # the solution cell's grade id
    solution: str
    points: float
    cases: tuple = ()
    expected: tuple = ()


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

    def lines(self, unsafe: bool = False) -> list[str]:
        warning = f"\t{UNSAFE}" if unsafe else ""
        if self.error is not None:
            return [f"{self.path}\tNOT GRADED\t-\t{self.error}{warning}"]
        total = sum(s.points for s in self.scores)
        most = sum(s.max_points for s in self.scores)
        return ([f"{self.path}\t{s.exercise}\t{s.points:g}/{s.max_points:g}\t{s.message}{warning}" for s in self.scores]
                + [f"{self.path}\ttotal\t{total:g}/{most:g}\t{'; '.join(self.notes) or 'graded'}{warning}"])


# --- reading hand-ins (tolerant: any JSON may arrive) ---------------------------------------------

def one_line(text: str) -> str:
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
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
    tasks: tuple         # (exercise, reference solution cell, points) per exercise


def load_references() -> dict[str, Reference]:
    import nbformat

    references = {}
    for path in solution_notebooks():
        nb = nbformat.read(path, as_version=4)
        tasks = tuple((e.name, nb.cells[e.solution].source,
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


def tasks_for(cells: list[dict], reference: Reference, rng) -> tuple[list[Task], list[Score], list[str]]:
    """The tasks to run (inputs drawn with ``rng``, reference values computed here), the scores of
    missing exercises, and notes on the hand-in's cells."""
    by_id = code_cells_by_id(cells)
    tasks, missing, notes = [], [], []
    for exercise, solution, points in reference.tasks:
        sources = by_id.get(exercise, [])
        if not sources:
            missing.append(Score(exercise, 0.0, points, f"missing: no code cell has grade id {exercise}"))
            continue
        if len(sources) > 1:
            notes.append(f"{len(sources)} cells have grade id {exercise}: graded the last one")
        cases, expected = reference_values(exercise, solution, rng)
        tasks.append(Task(exercise, sources[-1], points, cases, expected))
    extra = len(cells) - reference.cell_count
    if extra > 0:
        notes.append(f"{extra} cell{'s' * (extra > 1)} more than the student copy (only exercise cells run)")
    return tasks, missing, notes


def reference_values(exercise: str, solution: str, rng) -> tuple[tuple, tuple]:
    """Fresh inputs for ``exercise`` and the values the solution notebook's cell gives on them,
    both encoded as they cross the sandbox's boundary."""
    spec = CASES[exercise]
    namespace = {"__name__": "__main__"}
    exec(compile(solution, f"<reference {exercise}>", "exec"), namespace)
    cases = tuple(tuple(worker.encode(arg) for arg in case) for case in spec.draw(rng))
    expected = tuple(worker.encode(namespace[spec.function](*[worker.decode(a) for a in case])) for case in cases)
    return cases, expected


# --- running the tasks in the sandbox, judging their values here ----------------------------------

def run_process(tasks: list[Task], timeout: float, unsafe: bool = False) -> tuple[list[dict], str]:
    """Run ``tasks`` in one sandbox; return the results it wrote (one per task, in order, as far as
    it got) and, if it stopped early, why."""
    payload = json.dumps([{"exercise": t.exercise, "solution": t.solution, "function": CASES[t.exercise].function,
                           "cases": t.cases} for t in tasks])
    with tempfile.TemporaryDirectory(prefix="mia-grade-") as folder:
        values = Path(folder) / "values.jsonl"
        environment = {**sandbox.ENVIRONMENT, "HOME": folder, "TMPDIR": folder} if unsafe else {}
        with open(values, "wb") as output:
            process = subprocess.Popen(sandbox.unsafe_command() if unsafe else sandbox.command(), cwd=folder,
                                       env=environment, stdin=subprocess.PIPE, stdout=output,
                                       stderr=subprocess.DEVNULL, start_new_session=True,
                                       preexec_fn=sandbox.limits(timeout))
            try:
                process.communicate(payload.encode("utf-8"), timeout=timeout)
                status, why = process.returncode, ""
            except subprocess.TimeoutExpired:
                status, why = None, f"timed out: the grading process ran past {timeout:g} s during this exercise"
            finally:
                kill_group(process)
        results = read_results(values.read_bytes(), tasks)
    if status is not None and len(results) < len(tasks):
        why = f"the grading process ended (exit status {status}) during this exercise: os._exit() or a crash?"
    return results, why


def read_results(data: bytes, tasks: list[Task]) -> list[dict]:
    """The worker's lines, in task order, up to the first that is not the next task's result."""
    results = []
    for line, task in zip(data.decode("utf-8", "replace").splitlines(), tasks):
        try:
            result = json.loads(line)
        except ValueError:
            break
        if not isinstance(result, dict) or result.get("exercise") != task.exercise:
            break
        results.append(result)
    return results


def kill_group(process: subprocess.Popen) -> None:
    """End the sandbox and anything it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def score(task: Task, result: dict) -> Score:
    """The points of one exercise from what the worker returned: values compared with the
    reference's here, or the stage at which the hand-in's code failed."""
    function = CASES[task.exercise].function
    why = failure_message(result, function) if "error" in result else None
    if why is None:
        outputs = result.get("outputs")
        if not isinstance(outputs, list) or len(outputs) != len(task.expected):
            why = "the grading process returned no values"
        else:
            spec = CASES[task.exercise]
            for i, (want, got) in enumerate(zip(task.expected, outputs), 1):
                wrong = difference(want, got, spec.rtol, spec.atol)
                if wrong:
                    why = f"{function} is wrong on case {i} of {len(outputs)}: {wrong}"
                    break
    if why is None:
        return Score(task.exercise, task.points, task.points, "passed")
    return Score(task.exercise, 0.0, task.points, one_line(why))


def run_tasks(tasks: list[Task], timeout: float, unsafe: bool = False) -> list[Score]:
    """Scores of all tasks; after a sandbox ends early, the next exercises get a new one."""
    scores, pending = [], list(tasks)
    while pending:
        results, why = run_process(pending, timeout, unsafe)
        scores += [score(task, result) for task, result in zip(pending, results)]
        if len(results) == len(pending):
            break
        culprit = pending[len(results)]
        scores.append(Score(culprit.exercise, 0.0, culprit.points, why))
        pending = pending[len(results) + 1:]
    return scores


def grade_hand_in(path: Path, references: dict[str, Reference], timeout: float = DEFAULT_TIMEOUT,
                  unsafe: bool = False) -> Report:
    """Grade one hand-in on inputs drawn for it alone; every problem of the hand-in ends up in the
    report, none is raised."""
    import numpy as np

    report = Report(Path(path))
    try:
        cells = read_cells(path)
        reference, report.notes = match_reference(Path(path), set(code_cells_by_id(cells)), references)
    except (OSError, ValueError) as error:
        report.error = one_line(error)
        return report
    tasks, missing, notes = tasks_for(cells, reference, np.random.default_rng(secrets.randbits(64)))
    report.notes += notes
    order = [exercise for exercise, _, _ in reference.tasks]
    report.scores = sorted(run_tasks(tasks, timeout, unsafe) + missing, key=lambda s: order.index(s.exercise))
    return report


def grade_all(paths: list[Path], timeout: float = DEFAULT_TIMEOUT, out=None, unsafe: bool = False) -> list[Report]:
    """Grade every hand-in, printing its lines as soon as it is graded. Refuses to start
    (:class:`~helpers.course.sandbox.SandboxUnavailable`) without bubblewrap unless ``unsafe``."""
    out = out or sys.stdout
    timeout = sandbox.check_timeout(timeout)
    if not unsafe:
        sandbox.bwrap()
    references, reports = load_references(), []
    for path in paths:
        try:
            report = grade_hand_in(path, references, timeout, unsafe)
        except Exception as error:  # a bug of the grader: report it, grade the others
            report = Report(Path(path), error=one_line(f"grader error: {type(error).__name__}: {error}"))
        reports.append(report)
        print("\n".join(report.lines(unsafe)), file=out, flush=True)
    return reports
