"""Student notebooks: the generator on hand-made cells, the committed exercises, and the copies in student/."""
import ast
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from helpers.course import assignments
from helpers.course import exercises as exercise_marks
from helpers.course.assignments import student_version
from helpers.course.exercises import exercises, strip_hidden_tests, strip_solution

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
    assert exercises(nb) == [exercise_marks.Exercise("id1", 1, 2)]
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
    assert student.cells[1].source == assignments.SETUP_LINES + "\nimport math"
    assert student.cells[0].source.endswith("\n\n" + assignments.student_header("09_toy"))
    assert "BEGIN" not in student.cells[2].source + student.cells[3].source
    assert "f(0)" not in student.cells[3].source
    assert "### BEGIN SOLUTION" in nb.cells[2].source and nb.cells[1].outputs  # the original is unchanged


def test_setup_lines_are_explained_comments_then_one_statement():
    comments, code = assignments.SETUP_LINES.rsplit("\n", 1)
    assert all(line.startswith("# ") for line in comments.splitlines()) and "build/student-figures/" in comments
    assert "MIA_FIGURES_DIR" in code and not code.lstrip().startswith("#")


def test_solution_notes_are_left_out_of_student_copies():
    markdown = "## Exercises\n\nWrite it.\n\n*Solution notebook:* the solutions are here.\n\nThe end."
    assert assignments.without_solution_notes(markdown) == "## Exercises\n\nWrite it.\n\nThe end."


def test_student_scale_replaces_only_the_scale_literal():
    cell = 'scale: str = "quick"   # "smoke" | "quick"\nseed: int = 0\nscales: list = ["quick"]'
    assert assignments.with_student_scale(cell) == 'scale: str = "smoke"   # "smoke" | "quick"\nseed: int = 0\nscales: list = ["quick"]'
    assert assignments.with_student_scale("scale = 'paper'") == 'scale = "smoke"'
    with pytest.raises(ValueError, match="found 0"):
        assignments.with_student_scale("seed: int = 0")


SOLVED = exercise_marks.solution_notebooks()


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
def test_each_solution_passes_its_autograder_cell_on_its_own(path):
    """A fresh namespace per exercise: no exercise needs another's imports or functions."""
    nb = nbformat.read(path, as_version=4)
    for exercise in exercises(nb):
        namespace = {}
        exec(nb.cells[exercise.solution].source, namespace)
        exec(nb.cells[exercise.autograder].source, namespace)  # raises AssertionError on a wrong reference


@pytest.mark.parametrize("path", SOLVED, ids=lambda p: p.stem)
def test_every_assert_of_the_autograder_cells_carries_a_message(path):
    nb = nbformat.read(path, as_version=4)
    for exercise in exercises(nb):
        tree = ast.parse(nb.cells[exercise.autograder].source)
        silent = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert) and node.msg is None]
        assert silent == [], f"{exercise.name}: asserts without a message at lines {silent}"


def test_student_folder_is_up_to_date():
    assert assignments.stale() == [], "run `make student` and commit student/"


def _parameters(nb) -> dict:
    """The parameters cell's names and literal values (the rules of tests/test_notebooks.py)."""
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    values = {}
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, (ast.Assign, ast.AnnAssign)), "parameters cell holds assignments only"
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
        values[target.id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("path", SOLVED, ids=lambda p: p.stem)
def test_student_copy_runs_at_smoke_scale_with_literal_parameters(path):
    solution = _parameters(nbformat.read(path, as_version=4))
    student = _parameters(nbformat.read(assignments.STUDENT / path.name, as_version=4))
    assert solution["scale"] == "quick" and student["scale"] == "smoke"
    assert student == {**solution, "scale": "smoke"}, "only the scale's default differs"


@pytest.mark.parametrize("path", SOLVED, ids=lambda p: p.stem)
def test_student_copy_says_nothing_contradictory(path):
    nb = nbformat.read(assignments.STUDENT / path.name, as_version=4)
    text = "\n".join(c.source for c in nb.cells).lower()
    for phrase in ("do not edit", "solutions are filled in", "solution notebook:"):
        assert phrase not in text, phrase
    assert assignments.student_header(path.stem) in nb.cells[0].source
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source.startswith(assignments.SETUP_LINES + "\n")
    solution_text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    assert "solutions are filled in" in solution_text, "the solution notebook keeps its note"


@pytest.mark.parametrize("path", SOLVED, ids=lambda p: p.stem)
def test_student_notebook_fails_exactly_at_its_exercises(path, notebook_cache, tmp_path, monkeypatch):
    """Run the student copy at smoke scale: every autograder cell raises NotImplementedError and no
    other cell fails. It reads the cache the solution notebooks filled (tests/conftest.py), so
    under `make test` its experiments are cache hits."""
    monkeypatch.setenv("MIA_SCALE", "smoke")
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


def _grade_ids(nb) -> list:
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def test_nbgrader_generate_assignment_releases_the_solution_notebooks(tmp_path):
    """The metadata is nbgrader's own: its generate_assignment takes notebooks/ as source notebooks."""
    pytest.importorskip("nbgrader", reason="nbgrader (pinned in pyproject.toml) is not installed: pip install -e .")
    source = tmp_path / "source" / "ps"
    source.mkdir(parents=True)
    for path in SOLVED:
        shutil.copy(path, source)
    run = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "ps", "--no-db",
                          f"--CourseDirectory.root={tmp_path}"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for path in SOLVED:
        solution = nbformat.read(path, as_version=4)
        release = nbformat.read(tmp_path / "release" / "ps" / path.name, as_version=4)
        student = nbformat.read(assignments.STUDENT / path.name, as_version=4)
        assert _grade_ids(release) == _grade_ids(solution) == _grade_ids(student), path.name
        for exercise in exercises(solution):
            released = release.cells[exercise.solution].source
            answer = solution.cells[exercise.solution].source.split(exercise_marks.BEGIN)[1].split(exercise_marks.END)[0]
            assert "raise NotImplementedError()" in released and exercise_marks.BEGIN not in released, exercise.name
            assert not any(line.strip() in released for line in answer.splitlines() if line.strip()), exercise.name
            check = release.cells[exercise.autograder].source
            assert check == student.cells[exercise.autograder].source, "the same visible checks as student/"
