"""The grader on hand-made hand-ins: one clear line per problem, the batch goes on, and a hostile
hand-in earns nothing and leaves no trace outside its sandbox.

Each hand-in is graded in a bubblewrap sandbox (a few seconds each: the worker imports torch).
"""
import hashlib
import io
import json
import os
import socket
import subprocess
import threading
from pathlib import Path

import nbformat
import numpy as np
import pytest

from helpers.course import assignments, cases, grader, judge, sandbox, worker
from helpers.core.paths import NOTEBOOKS, ROOT

NB01, NB03 = "01_entropy_bound.ipynb", "03_attack_evaluation.ipynb"
PASSED = ("1/1", "passed")


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
        path, key, points, message = line.split("\t")[:4]
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
        hand_in(tmp_path / "no_function", student_copy(NB01, exercise_1_1="def floor(h, d):\n    return 0.0")),
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
    assert got[("sys_exit", "exercise_1_1")] == ("0/1", "the solution cell raised SystemExit: 3")
    assert got[("os_exit", "exercise_1_1")] == (
        "0/1", "the grading process ended (exit status 7) during this exercise: os._exit() or a crash?")
    assert got[("syntax", "exercise_1_1")] == ("0/1", "syntax error in the solution cell, line 2: '(' was never closed")
    assert got[("missing", "exercise_1_1")] == ("0/1", "missing: no code cell has grade id exercise_1_1")
    assert got[("no_function", "exercise_1_1")] == ("0/1", "the solution cell defines no function mse_floor")
    for folder in ("sys_exit", "os_exit", "syntax", "missing", "no_function"):
        assert got[(folder, "exercise_1_2")] == PASSED, folder     # exercise 2 does not depend on exercise 1
        assert got[(folder, "total")] == ("1/2", "graded"), folder
    assert got[("extra", "total")] == ("2/2", "1 cell more than the student copy (only exercise cells run)")
    assert got[("renamed", "total")] == ("2/2", "graded as 01_entropy_bound.ipynb (found by its exercise ids)")
    assert got[("malformed", "NOT GRADED")][1].startswith("not a notebook: invalid JSON (")
    assert got[("not_notebook", "NOT GRADED")] == ("-", "not a notebook: the JSON has no list of cells")
    assert got[("unknown", "NOT GRADED")][1].startswith("matches no solution notebook: the name is none of 01_")
    assert got[("good", "exercise_1_1")] == got[("good", "exercise_1_2")] == PASSED
    assert got[("good", "total")] == ("2/2", "graded")   # the batch went on to the last hand-in
    assert len(captured.out.splitlines()) == 8 * 3 + 3, "three lines per graded hand-in, one per other"
    assert status == 1, "a hand-in that could not be graded fails the batch"
    assert captured.err.strip() == (f"graded 8 of 11 hand-ins; not graded: {paths[7]}, {paths[8]}, {paths[9]}")


def test_an_endless_loop_times_out_and_the_next_exercise_is_graded_in_a_new_sandbox(tmp_path, capsys):
    path = hand_in(tmp_path / "loop", student_copy(NB01, exercise_1_1="while True:\n    pass"))
    status = assignments.main(["--grade", str(path), "--timeout", "15"])
    got = rows(capsys.readouterr().out)
    assert got[("loop", "exercise_1_1")] == ("0/1", "timed out: the grading process ran past 15 s during this exercise")
    assert got[("loop", "exercise_1_2")] == PASSED
    assert status == 0, "lost points (even by a timeout) are a grade, not a failure to grade"


def test_a_wrong_function_fails_on_inputs_it_could_not_know(tmp_path):
    """Exercises are graded by grade id in fresh namespaces (3.2 needs nothing from 3.1, torch
    included), on inputs drawn for this run: a function right only on the notebook's small visible
    checks fails on the run's larger images."""
    wrong_tv = ("import torch\n\ndef tv_prior(x):\n"   # right on the visible checks' 2×2, 3×3 and flat images
                "    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)\n"
                "    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)\n"
                "    return dx + dy if x.shape[-1] < 5 else dx")
    broken = hand_in(tmp_path / "broken", student_copy(NB03, exercise_3_1="raise RuntimeError('first try')"), name=NB03)
    wrong = hand_in(tmp_path / "wrong", student_copy(NB03, exercise_3_2=wrong_tv), name=NB03)
    untouched = hand_in(tmp_path / "untouched", nbformat.read(assignments.STUDENT / NB03, as_version=4), name=NB03)
    reports = grader.grade_all([broken, wrong, untouched], timeout=120, out=io.StringIO())
    scores = [[(s.exercise, s.points, s.message) for s in r.scores] for r in reports]
    assert scores[0] == [("exercise_3_1", 0.0, "the solution cell raised RuntimeError: first try"),
                         ("exercise_3_2", 1.0, "passed")]
    assert scores[1][0] == ("exercise_3_1", 1.0, "passed")
    assert scores[1][1][1] == 0.0 and scores[1][1][2].startswith("tv_prior is wrong on case 2 of 3: value 0: expected ")
    assert [(e, p) for e, p, _ in scores[2]] == [("exercise_3_1", 0.0), ("exercise_3_2", 0.0)]
    assert all(m.startswith("calling ") and "raised NotImplementedError: exercise_3_" in m for _, _, m in scores[2])


def hostile(name: str, attack: str) -> tuple[str, object]:
    """A hand-in of notebook 01 whose exercise 1.1 is ``attack`` and whose exercise 1.2 is right."""
    return name, student_copy(NB01, exercise_1_1=attack)


FORGED = ("import json, os\n"
          "line = json.dumps({'exercise': 'exercise_1_1', 'outputs': [{'float': 0.1}] * 5}) + '\\n'\n"
          "passed = json.dumps({'exercise': 'exercise_1_1', 'points': 1.0, 'max_points': 1.0, "
          "'message': 'passed'}) + '\\n'\n"
          "for fd in range(1, 10):\n"
          "    try:\n        os.write(fd, (line + passed).encode())\n    except OSError:\n        pass\n"
          "os._exit(0)")
ALWAYS_EQUAL = ("class Anything(float):\n"
                "    __eq__ = __le__ = __ge__ = __lt__ = __gt__ = lambda self, other: True\n"
                "    __sub__ = __rsub__ = lambda self, other: Anything(0.0)\n"
                "    __abs__ = lambda self: Anything(0.0)\n\n"
                "def mse_floor(h_cond, d):\n    return Anything(0.0)")


def test_hostile_hand_ins_earn_nothing_and_leave_no_trace(tmp_path, monkeypatch):
    secret = "instructor-secret-7f3a"
    monkeypatch.setenv("MIA_INSTRUCTOR_TOKEN", secret)
    grader_file = ROOT / "helpers" / "course" / "grader.py"
    before = hashlib.sha256(grader_file.read_bytes()).hexdigest()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port, connections = listener.getsockname()[1], []
    def accept():
        for _ in range(120):
            try:
                connections.append(listener.accept())
            except OSError:
                pass
    threading.Thread(target=accept, daemon=True).start()
    marker = f"mia-left-running-{os.getpid()}"
    solutions = str(NOTEBOOKS / NB01)
    attacks = [
        hostile("forged", FORGED),
        hostile("always_equal", ALWAYS_EQUAL),
        hostile("reads_solution", f"text = open({solutions!r}).read()\ndef mse_floor(h, d):\n    return 0.0"),
        hostile("reads_environment", "import os\nraise RuntimeError(' '.join(f'{k}={v}' for k, v in os.environ.items()))"),
        hostile("rewrites_grader", f"open({str(grader_file)!r}, 'a').write('\\nPWNED = 1\\n')"),
        hostile("writes_repository", f"open({str(ROOT / 'pwned.txt')!r}, 'w').write('x')"),
        hostile("writes_other_hand_in", f"open({str(tmp_path / 'good' / 'pwned.txt')!r}, 'w').write('x')"),
        hostile("connects", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)"),
        hostile("leaves_process", "import subprocess, sys\n"
                f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', {marker!r}])\n"
                "raise RuntimeError('started')"),
        hostile("reads_proc", "import glob\nraise RuntimeError(' '.join(open(p).read() for p in glob.glob('/proc/*/cmdline')))"),
    ]
    paths = [hand_in(tmp_path / name, nb) for name, nb in attacks] + [hand_in(tmp_path / "good", student_copy(NB01))]
    out = io.StringIO()
    grader.grade_all(paths, timeout=60, out=out)
    got = rows(out.getvalue())
    for name, _ in attacks:
        assert got[(name, "exercise_1_1")][0] == "0/1", (name, got[(name, "exercise_1_1")])
        if name != "forged":   # its forged line is read as exercise 1.1's; its exit then costs it 1.2
            assert got[(name, "exercise_1_2")] == PASSED, name
    messages = {name: got[(name, "exercise_1_1")][1] for name, _ in attacks}
    assert messages["forged"].startswith("mse_floor is wrong on case 1 of 5: expected ")
    assert messages["always_equal"] == "mse_floor is wrong on case 1 of 5: expected a float, it returned another type"
    assert messages["reads_solution"].startswith("the solution cell raised FileNotFoundError")
    assert secret not in out.getvalue() and "MIA_INSTRUCTOR_TOKEN" not in messages["reads_environment"]
    assert set(part.split("=")[0] for part in messages["reads_environment"].split(": ", 1)[1].split()) <= \
        set(sandbox.ENVIRONMENT) | {"PWD"}
    assert hashlib.sha256(grader_file.read_bytes()).hexdigest() == before
    assert not (ROOT / "pwned.txt").exists() and not (tmp_path / "good" / "pwned.txt").exists()
    assert messages["connects"].startswith("the solution cell raised ConnectionRefusedError") and connections == []
    assert str(tmp_path) not in messages["reads_proc"], "no other hand-in's path is visible"
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert left.stdout == "", "nothing outlives grading"
    assert got[("good", "total")] == ("2/2", "graded")
    assert all(ch.isprintable() or ch in "\t\n" for ch in out.getvalue()), "no control character reaches the report"
    listener.close()


def test_every_solution_gets_full_marks_and_every_untouched_student_copy_none(tmp_path):
    """On inputs drawn for this run: the case generators, the reference cells and the tolerances
    agree for every exercise, and a stub earns nothing."""
    paths = []
    for copy in sorted(assignments.STUDENT.glob("*.ipynb")):
        paths.append(hand_in(tmp_path / f"solved-{copy.stem}", student_copy(copy.name), name=copy.name))
        paths.append(hand_in(tmp_path / f"untouched-{copy.stem}", nbformat.read(copy, as_version=4), name=copy.name))
    reports = grader.grade_all(paths, timeout=120, out=io.StringIO())
    for path, report in zip(paths, reports):
        points = [s.points for s in report.scores]
        solved = path.parent.name.startswith("solved")
        assert len(points) == 2 and points == ([1.0, 1.0] if solved else [0.0, 0.0]), (path, report.scores)


def test_without_bubblewrap_the_grader_refuses_and_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    path = hand_in(tmp_path / "good", student_copy(NB01))
    assert assignments.main(["--grade", str(path)]) == 2
    error = capsys.readouterr().err
    assert "apt-get install bubblewrap" in error and "--no-sandbox" in error


def test_no_sandbox_warns_on_every_line_and_still_judges_values(tmp_path, capsys):
    path = hand_in(tmp_path / "always_equal", student_copy(NB01, exercise_1_1=ALWAYS_EQUAL))
    assert assignments.main(["--grade", str(path), "--no-sandbox"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.endswith(grader.UNSAFE) for line in lines)
    assert rows("\n".join(lines))[("always_equal", "exercise_1_1")][0] == "0/1"


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_the_timeout_must_be_a_positive_finite_number(value, tmp_path, capsys):
    path = hand_in(tmp_path / "good", student_copy(NB01))
    assert assignments.main(["--grade", str(path), "--timeout", value]) == 2
    assert f"--timeout must be a" in capsys.readouterr().err


def test_every_exercise_has_cases_and_its_solution_defines_the_function():
    from helpers.course.exercises import exercises, solution_notebooks

    found = {}
    for path in solution_notebooks():
        nb = nbformat.read(path, as_version=4)
        for exercise in exercises(nb):
            found[exercise.name] = nb.cells[exercise.solution].source
    assert set(found) == set(cases.CASES)
    for name, source in found.items():
        assert f"def {cases.CASES[name].function}(" in source, name


def test_inputs_are_drawn_afresh_for_every_run():
    spec = cases.CASES["exercise_1_1"]
    assert spec.draw(np.random.default_rng(1)) != spec.draw(np.random.default_rng(2))


@pytest.mark.parametrize("expected, got, why", [
    ({"float": 1.0}, {"float": 1.0 + 1e-12}, None),
    ({"float": 1.0}, {"int": 1}, None),                                    # 1 is the number 1.0
    ({"float": 1.0}, {"float": 1.1}, "expected 1, it returned 1.1"),
    ({"float": float("nan")}, {"float": float("nan")}, None),
    ({"int": 3}, {"float": 3.0}, "expected an int, it returned a float"),
    ({"int": 3}, {"bool": True}, "expected an int, it returned a bool"),
    ({"float": 0.5}, {"invalid": "Anything"}, "expected a float, it returned another type"),
    ({"list": [{"str": "d"}, {"str": "d"}]}, {"list": [{"str": "d"}, {"str": "c"}]},
     "item 1: expected another string, it returned another value"),
    ({"list": [{"int": 1}]}, {"list": []}, "expected 1 items, it returned 0"),
    ({"tensor": {"shape": [2], "values": [1.0, 2.0], "integer": False}},
     {"tensor": {"shape": [2, 1], "values": [1.0, 2.0], "integer": False}}, "expected shape [2], it returned shape [2, 1]"),
    ({"tensor": {"shape": [2], "values": [1.0, 2.0], "integer": False}},
     {"tensor": {"shape": [2], "values": [1.0, 2.5], "integer": False}}, "value 1: expected 2, it returned 2.5"),
    ({"float": 1.0}, {"float": 1.0, "extra": 1}, "it returned something the grader cannot read"),
])
def test_values_are_compared_on_exact_types_within_the_tolerance(expected, got, why):
    assert judge.difference(expected, got, rtol=1e-9, atol=1e-12) == why


def test_the_encoding_keeps_only_exact_types():
    import torch

    class Sneaky(float):
        pass

    assert worker.encode(Sneaky(1.0)) == {"invalid": "Sneaky"}
    assert worker.encode((1, 2.5, True, "a")) == {"list": [{"int": 1}, {"float": 2.5}, {"bool": True}, {"str": "a"}]}
    tensor = torch.tensor([[1.0, 2.0]])
    assert worker.decode(worker.encode(tensor)).equal(tensor.double())
    linear = worker.decode(worker.encode(worker.LinearMap(torch.eye(2) * 3, "linear")))
    assert linear(torch.tensor([[1.0, -1.0]])).tolist() == [[3.0, -3.0]]
    assert json.loads(json.dumps(worker.encode(np.float64(0.25)))) == {"float": 0.25}


def test_long_messages_are_cut_to_one_printable_line():
    assert grader.one_line("a\n  b\tc\x00d\x1b[2J") == "a b c d [2J"
    cut = grader.one_line("x" * 1000)
    assert len(cut) == grader.MESSAGE_CHARS and cut.endswith("…")


def test_the_private_tmp_is_mounted_before_what_may_live_under_tmp():
    """A checkout or .venv under /tmp (CI's fresh clone may be one) is bound on top of the sandbox's
    own /tmp, not hidden by it: bwrap mounts in the order given."""
    command = sandbox.command()
    tmpfs = command.index("--tmpfs")
    binds = [i for i, arg in enumerate(command) if arg == "--ro-bind" and command[i + 1] != "/usr"]
    assert command[tmpfs + 1] == "/tmp" and binds and tmpfs < min(binds)
    assert command.index("--remount-ro") > max(binds), "the root is made read-only after every mount"
