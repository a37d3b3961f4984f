"""The grader on hand-made hand-ins: one clear line per problem, and the batch goes on.

Each hand-in is graded in its own process (a few seconds each: the checks import torch).
"""
import io
import json
import tempfile
from pathlib import Path

import nbformat
import pytest

from helpers.course import assignments
from helpers.course import grader
from helpers.course.grader import Task, run_task
from helpers.core.paths import NOTEBOOKS, ROOT

NB01, NB03 = "01_entropy_bound.ipynb", "03_attack_evaluation.ipynb"


def solution_cell(name: str, grade_id: str) -> str:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def student_copy(name: str, **answers):
    """The student copy of ``name`` with each exercise (by grade id) answered: the solution's cell by default."""
    nb = nbformat.read(assignments.STUDENT / name, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers.get(grade_id, solution_cell(name, grade_id))
    return nb


def hand_in(folder: Path, nb=None, name: str = NB01, text: str | None = None) -> Path:
    folder.mkdir(parents=True)
    path = folder / name
    path.write_text(text if text is not None else nbformat.writes(nb), encoding="utf-8")
    return path


def rows(output: str) -> dict:
    """{(hand-in folder, exercise or 'total' or 'NOT GRADED'): (points, message)} from the grader's lines."""
    found = {}
    for line in output.splitlines():
        path, key, points, message = line.split("\t")
        found[(Path(path).parent.name, key)] = (points, message)
    return found


def without_cell(nb, grade_id: str):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def with_extra_cell(nb):
    nb.cells.insert(3, nbformat.v4.new_code_cell("print('my own notes')"))
    return nb


def test_a_batch_of_bad_hand_ins_gives_one_line_per_problem_and_goes_on(tmp_path, capsys):
    not_ours = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    paths = [
        hand_in(tmp_path / "sys_exit", student_copy(NB01, exercise_1_1="import sys\nsys.exit(3)")),
        hand_in(tmp_path / "os_exit", student_copy(NB01, exercise_1_1="import os\nos._exit(7)")),
        hand_in(tmp_path / "syntax", student_copy(NB01, exercise_1_1="def mse_floor(h_cond, d):\n    return (")),
        hand_in(tmp_path / "missing", without_cell(student_copy(NB01), "exercise_1_1")),
        hand_in(tmp_path / "extra", with_extra_cell(student_copy(NB01))),
        hand_in(tmp_path / "renamed", student_copy(NB01), name="alice.ipynb"),
        hand_in(tmp_path / "malformed", text='{"cells": [', name=NB01),
        hand_in(tmp_path / "not_notebook", text='{"hello": "world"}', name=NB01),
        hand_in(tmp_path / "unknown", not_ours, name="essay.ipynb"),
        hand_in(tmp_path / "good", student_copy(NB01)),
    ]
    status = assignments.main(["--grade", *map(str, paths), "--timeout", "120"])
    captured = capsys.readouterr()
    got = rows(captured.out)
    passed = ("1/1", "passed")
    assert got[("sys_exit", "exercise_1_1")] == ("0/1", "the solution cell raised SystemExit: 3")
    assert got[("os_exit", "exercise_1_1")] == (
        "0/1", "the grading process ended (exit status 7) during this exercise: os._exit() or a crash?")
    assert got[("syntax", "exercise_1_1")] == ("0/1", "syntax error in the solution cell, line 2: '(' was never closed")
    assert got[("missing", "exercise_1_1")] == ("0/1", "missing: no code cell has grade id exercise_1_1")
    for folder in ("sys_exit", "os_exit", "syntax", "missing"):
        assert got[(folder, "exercise_1_2")] == passed, folder     # exercise 2 does not depend on exercise 1
        assert got[(folder, "total")] == ("1/2", "graded"), folder
    assert got[("extra", "total")] == ("2/2", "1 cell more than the student copy (only exercise cells run)")
    assert got[("renamed", "total")] == ("2/2", "graded as 01_entropy_bound.ipynb (found by its exercise ids)")
    assert got[("malformed", "NOT GRADED")][1].startswith("not a notebook: invalid JSON (")
    assert got[("not_notebook", "NOT GRADED")] == ("-", "not a notebook: the JSON has no list of cells")
    assert got[("unknown", "NOT GRADED")][1].startswith("matches no solution notebook: the name is none of 01_")
    assert got[("good", "exercise_1_1")] == got[("good", "exercise_1_2")] == passed
    assert got[("good", "total")] == ("2/2", "graded")   # the batch went on to the last hand-in
    assert len(captured.out.splitlines()) == 7 * 3 + 3, "three lines per graded hand-in, one per other"
    assert status == 1, "a hand-in that could not be graded fails the batch"
    assert captured.err.strip() == (f"graded 7 of 10 hand-ins; not graded: {paths[6]}, {paths[7]}, {paths[8]}")


def test_an_endless_loop_times_out_and_the_next_exercise_is_graded_in_a_new_process(tmp_path, capsys):
    path = hand_in(tmp_path / "loop", student_copy(NB01, exercise_1_1="while True:\n    pass"))
    status = assignments.main(["--grade", str(path), "--timeout", "15"])
    got = rows(capsys.readouterr().out)
    assert got[("loop", "exercise_1_1")] == ("0/1", "timed out: the grading process ran past 15 s during this exercise")
    assert got[("loop", "exercise_1_2")] == ("1/1", "passed")
    assert status == 0, "lost points (even by a timeout) are a grade, not a failure to grade"


def test_exercise_2_gets_its_point_when_exercise_1_is_broken(tmp_path):
    """Exercises are graded by grade id in fresh namespaces: 3.2 needs nothing from 3.1 (torch included)."""
    wrong_tv = ("import torch\n\ndef tv_prior(x):\n"   # right on the visible checks' 2×2, 3×3 and flat images
                "    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)\n"
                "    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)\n"
                "    return dx + dy if x.shape[-1] < 5 else dx")
    broken = hand_in(tmp_path / "broken", student_copy(NB03, exercise_3_1="raise RuntimeError('first try')"), name=NB03)
    hidden = hand_in(tmp_path / "hidden", student_copy(NB03, exercise_3_2=wrong_tv), name=NB03)
    untouched = hand_in(tmp_path / "untouched", nbformat.read(assignments.STUDENT / NB03, as_version=4), name=NB03)
    reports = grader.grade_all([broken, hidden, untouched], timeout=120, out=io.StringIO())
    scores = [[(s.exercise, s.points, s.message) for s in r.scores] for r in reports]
    assert scores[0] == [("exercise_3_1", 0.0, "the solution cell raised RuntimeError: first try"),
                         ("exercise_3_2", 1.0, "passed")]
    assert scores[1] == [("exercise_3_1", 1.0, "passed"), ("exercise_3_2", 0.0,
                          "check failed: differs from helpers.attacks.total_variation on random 3-channel 9×7 images")]
    assert [(e, p) for e, p, _ in scores[2]] == [("exercise_3_1", 0.0), ("exercise_3_2", 0.0)]
    assert all(m.startswith("the check raised NotImplementedError: exercise_3_") for _, _, m in scores[2])


def test_a_hand_in_runs_in_a_fresh_temporary_folder_that_is_removed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    where = "import os\nraise RuntimeError('|'.join([os.getcwd(), os.environ['HOME'], os.environ['TMPDIR']]))"
    writes = "open('left-by-hand-in.txt', 'w').write('x')\n" + solution_cell(NB01, "exercise_1_2")
    path = hand_in(tmp_path / "probe", student_copy(NB01, exercise_1_1=where, exercise_1_2=writes))
    report = grader.grade_hand_in(path, grader.load_references(), timeout=120)
    message = report.scores[0].message
    cwd, home, tmp = message.removeprefix("the solution cell raised RuntimeError: ").split("|")
    assert cwd == home == tmp and Path(cwd).name == "work"
    assert Path(cwd).is_relative_to(Path(tempfile.gettempdir()).resolve()) and not Path(cwd).is_relative_to(ROOT)
    assert not Path(cwd).parent.exists(), "the folder is removed after grading"
    assert report.scores[1].message == "passed"
    assert not list(ROOT.glob("left-by-hand-in.txt")) and not list(tmp_path.rglob("left-by-hand-in.txt"))


@pytest.mark.parametrize("solution, check, message", [
    ("x = 1", "assert x == 1, 'x is 1'", "passed"),
    ("x = 1", "assert x == 2, 'x must be 2'", "check failed: x must be 2"),
    ("x = 1", "assert x == 2", "check failed (an assertion without message)"),
    ("x = 1", "f(x)", "the check raised NameError: name 'f' is not defined"),
    ("raise KeyboardInterrupt", "pass", "the solution cell raised KeyboardInterrupt"),
    ("x = (", "pass", "syntax error in the solution cell, line 1: '(' was never closed"),
])
def test_run_task_scores_one_exercise(solution, check, message):
    score = run_task(Task("e", solution, check, 2.0))
    assert (score.points, score.max_points, score.message) == (2.0 if message == "passed" else 0.0, 2.0, message)


def test_run_task_uses_a_fresh_namespace():
    run_task(Task("e", "leak = 1", "pass", 1.0))
    assert run_task(Task("e", "x = 1", "leak", 1.0)).message == "the check raised NameError: name 'leak' is not defined"


def test_long_messages_are_cut_to_one_line():
    assert grader.one_line("a\n  b\tc") == "a b c"
    cut = grader.one_line("x" * 1000)
    assert len(cut) == grader.MESSAGE_CHARS and cut.endswith("…")


def test_read_cells_names_what_is_wrong(tmp_path):
    path = tmp_path / "x.ipynb"
    for text, message in [("", "invalid JSON"), ("[1, 2]", "no list of cells"), ('{"cells": [1]}', "no list of cells")]:
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            grader.read_cells(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="not UTF-8"):
        grader.read_cells(path)
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": ["a", "b"], "metadata": {}}]}))
    assert grader.source(grader.read_cells(path)[0]) == "ab"
