"""Student notebooks: the generator on hand-made cells, the committed exercises, and the copies in student/."""
import nbformat
import pytest
from nbclient import NotebookClient

from helpers import assignments
from helpers.assignments import exercises, strip_hidden_tests, strip_solution, student_version
from helpers.paths import NOTEBOOKS

SOLUTION = """def f(x):
    \"\"\"Double x.\"\"\"
    ### BEGIN SOLUTION
    # Hint: multiply.
    y = 2 * x
    return y
    ### END SOLUTION

value = 1
### BEGIN SOLUTION
value = f(value)
### END SOLUTION"""


def test_strip_solution_keeps_indentation_hints_and_the_rest():
    got = strip_solution(SOLUTION, "exercise_9_1")
    assert got.splitlines() == [
        "def f(x):", '    """Double x."""',
        "    # YOUR CODE HERE. Hint: multiply.",
        '    raise NotImplementedError("exercise_9_1: replace this line with your solution")',
        "", "value = 1",
        "# YOUR CODE HERE",
        'raise NotImplementedError("exercise_9_1: replace this line with your solution")']
    namespace = {}
    with pytest.raises(NotImplementedError, match="exercise_9_1"):
        exec(got, namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "nested")])
def test_unbalanced_markers_are_refused(source, message):
    with pytest.raises(ValueError, match=message):
        strip_solution(source, "e")


def test_hidden_tests_are_removed():
    source = "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(3) == 6\n### END HIDDEN TESTS\nprint('ok')"
    assert strip_hidden_tests(source) == "assert f(1) == 2\nprint('ok')"


def _toy_notebook(*cells):
    nb = nbformat.v4.new_notebook()
    for kind, source, grade in cells:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        if grade is not None:
            cell.metadata["nbgrader"] = {"grade": grade, "grade_id": f"id{len(nb.cells)}"}
        nb.cells.append(cell)
    return nb


def test_exercises_pair_each_solution_with_its_autograder():
    nb = _toy_notebook(("md", "# 09 · toy", None), ("code", SOLUTION, False), ("code", "assert f(1) == 2", True))
    assert exercises(nb) == [assignments.Exercise("id1", 1, 2)]
    with pytest.raises(ValueError, match="no autograder"):
        exercises(_toy_notebook(("code", SOLUTION, False)))
    with pytest.raises(ValueError, match="checks no solution"):
        exercises(_toy_notebook(("code", "assert True", True)))


def test_student_version_clears_outputs_and_leaves_the_solution_untouched():
    nb = _toy_notebook(("md", "# 09 · toy", None), ("code", "import math", None), ("code", SOLUTION, False),
                       ("code", "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(0) == 0\n### END HIDDEN TESTS", True))
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="x")]
    nb.cells[1].execution_count = 3
    student = student_version(nb, "09_toy")
    assert student.cells[1].outputs == [] and student.cells[1].execution_count is None
    assert student.cells[1].source.startswith(assignments.FIGURES_LINE)
    assert "Student copy" in student.cells[0].source
    assert "BEGIN" not in student.cells[2].source + student.cells[3].source
    assert "f(0)" not in student.cells[3].source
    assert "### BEGIN SOLUTION" in nb.cells[2].source and nb.cells[1].outputs  # the original is unchanged


SOLVED = assignments.solution_notebooks()


def test_notebooks_01_to_06_have_at_least_two_exercises_each():
    assert [p.name[:2] for p in SOLVED] == ["01", "02", "03", "04", "05", "06"]
    for path in SOLVED:
        nb = nbformat.read(path, as_version=4)
        found = exercises(nb)
        assert len(found) >= 2, path.name
        heading = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## Exercises"))
        assert all(e.solution > heading for e in found), "exercises live under ## Exercises"
        ids = [nb.cells[i].metadata["nbgrader"]["grade_id"] for e in found for i in (e.solution, e.autograder)]
        assert len(set(ids)) == len(ids), "nbgrader needs unique grade ids"


@pytest.mark.parametrize("path", SOLVED, ids=lambda p: p.stem)
def test_solutions_pass_their_autograder_cells_hidden_tests_included(path):
    nb = nbformat.read(path, as_version=4)
    namespace = {}
    for exercise in exercises(nb):
        exec(nb.cells[exercise.solution].source, namespace)
        exec(nb.cells[exercise.autograder].source, namespace)  # raises AssertionError on a wrong reference


def test_student_folder_is_up_to_date():
    assert assignments.stale() == [], "run `make student` and commit student/"


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("student-cache")


@pytest.mark.parametrize("path", SOLVED, ids=lambda p: p.stem)
def test_student_notebook_fails_exactly_at_its_exercises(path, shared_cache, tmp_path, monkeypatch):
    """Run the student copy at smoke scale: every autograder cell raises NotImplementedError and no other cell fails."""
    monkeypatch.setenv("MIA_SCALE", "smoke")
    monkeypatch.setenv("MIA_CACHE_DIR", str(shared_cache))
    monkeypatch.setenv("MIA_FIGURES_DIR", str(tmp_path / "figures"))
    student_path = assignments.STUDENT / path.name
    nb = nbformat.read(student_path, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=900, allow_errors=True,
                   resources={"metadata": {"path": str(student_path.parent)}}).execute()
    failed = {i: o for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"}
    expected = {e.autograder for e in exercises(nbformat.read(path, as_version=4))}
    assert set(failed) == expected, {i: failed[i].ename + ": " + failed[i].evalue for i in failed}
    assert all(failed[i].ename == "NotImplementedError" for i in expected)


def test_grade_scores_a_submission_with_the_hidden_tests(tmp_path):
    solution = NOTEBOOKS / "03_attack_evaluation.ipynb"
    submission = nbformat.read(assignments.STUDENT / solution.name, as_version=4)
    psnr_cell, tv_cell = (e.solution for e in exercises(submission))
    # a correct PSNR; a TV prior that passes the visible checks (sums of |differences| over 2×2 and 3×3
    # images happen to match there) but is wrong in general: only the hidden test catches it
    submission.cells[psnr_cell].source = (
        "import torch\ndef psnr_per_image(x, x_hat, cap_db=100.0):\n"
        "    mse = ((x - x_hat) ** 2).flatten(1).mean(1).double()\n"
        "    return 10 * torch.log10(1 / mse.clamp_min(10 ** (-cap_db / 10)))")
    submission.cells[tv_cell].source = (
        "def tv_prior(x):\n"
        "    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)\n"
        "    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)\n"
        "    return dx + dy if x.shape[-1] < 5 else dx")
    path = tmp_path / solution.name
    nbformat.write(submission, path)
    grades = assignments.grade(path)
    assert [(g.exercise, g.passed, g.points) for g in grades] == [("exercise_3_1", True, 1.0), ("exercise_3_2", False, 0.0)]
    assert grades[1].message.startswith("AssertionError")
    untouched = assignments.grade(assignments.STUDENT / solution.name)
    assert [g.passed for g in untouched] == [False, False]
    assert all(g.message.startswith("NotImplementedError") for g in untouched)
