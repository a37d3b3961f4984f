"""Every number of a bound summary is tied to one named value (helpers/pipeline/numbers.py): the
check on hand-made cells, every bound notebook against the committed data, and a mutation test
that changes each number of each bound summary, one at a time, on a copy."""
import re

import nbformat
import pandas as pd
import pytest

from helpers import claims
from helpers.pipeline import numbers
from helpers.pipeline.run import numbered_notebooks

@pytest.fixture
def figures(tmp_path):
    pd.DataFrame({"defense": ["none", "noise σ=0.5"], "mse": [0.0433, 0.00631], "acc": [0.974, 0.9]}
                 ).to_csv(tmp_path / "04_table.csv", index=False)
    return tmp_path


def test_printed_numbers_skip_math_code_and_link_targets():
    text = ("MSE 0.0433 → 0.0475 (+86%), 32,711×; $x_{12}$ and `a[2]` and pool2 are not numbers; "
            "[Liu et al., arXiv:2506.15412](https://arxiv.org/abs/2506.15412); 1.2e-07; −23.1; 0–2")
    assert numbers.printed_numbers(text) == ["0.0433", "0.0475", "+86", "32,711", "2506.15412", "1.2e-07",
                                             "−23.1", "0", "2"]


def test_a_cell_agrees_with_its_bindings(figures):
    text = "Noise keeps 90.0% accuracy at MSE 0.0063, against 0.0433 undefended; the paper says 4×."
    bindings = [{"n": "90.0", "csv": "04_table.csv", "col": "acc", "row": {"defense": "noise σ=0.5"}, "times": 100},
                {"n": "0.0063", "csv": "04_table.csv", "col": "mse", "row": {"defense": "noise σ=0.5"}},
                {"n": "0.0433", "csv": "04_table.csv", "col": "mse", "row": {"defense": "none"}},
                {"n": "4", "cited": "paper"}]
    assert numbers.problems(text, bindings, figures) == []
    assert numbers.problems(text.replace("0.0433", "0.0434"), bindings, figures), "a changed number"
    assert numbers.problems(text + " Also 7 more.", bindings, figures), "an unbound number"
    assert numbers.problems(text.replace("0.0063", "0.0064"),
                            [*bindings[:1], {**bindings[1], "n": "0.0064"}, *bindings[2:]], figures) == \
        ["number 2 (0.0064): its source gives 0.00631"], "text and binding changed together: the data disagrees"


@pytest.mark.parametrize("binding, message", [
    ({"n": "1", "csv": "04_table.csv", "col": "mse", "row": {}}, "selects 2 rows"),
    ({"n": "1", "cited": "guess"}, "is not one of"),
    ({"n": "1", "cited": "paper", "py": "math.pi"}, "exactly one source"),
    ({"n": "1"}, "exactly one source"),
    ({"n": "1", "py": "helpers.core.config.SCALES.quick.no_such_field"}, "no_such_field"),
])
def test_a_bad_binding_is_named(figures, binding, message):
    found = numbers.problems("1", [binding], figures)
    assert len(found) == 1 and message in found[0], found


def test_the_draft_binds_a_unique_match_and_lists_the_rest(figures, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Summary\n\nMSE 0.0433 undefended, accuracy 90.0%, and 7 of them.")]
    path = tmp_path / "04_x.ipynb"
    nbformat.write(nb, path)
    drafted = numbers.draft(str(path), figures)[0]
    assert drafted[0] == {"n": "0.0433", "csv": "04_table.csv", "col": "mse", "row": {"defense": "none"}}
    assert drafted[1] == {"n": "90.0", "csv": "04_table.csv", "col": "acc", "row": {"defense": "noise σ=0.5"},
                          "times": 100}
    assert drafted[2] == {"n": "7", "todo": []}, "no value matches: left for the author"
    assert numbers.problems(nb.cells[0].source, drafted, figures) == ["number 3 (7): binding {'n': '7', 'todo': []} "
                                                                      f"needs exactly one source of {', '.join(numbers.SOURCES)}"]


def test_code_and_claim_sources(tmp_path):
    assert numbers.value_of({"n": "4", "py": "helpers.core.config.SCALES.quick.epochs"}) == 4
    assert numbers.value_of({"n": "2500", "py": "helpers.core.config.SCALES.quick.n_train"}) == 2500
    grid = "helpers.evaluation.grids.DEFENSE_GRID.noise"
    assert [numbers.value_of({"py": f"{grid}.{i}.sigma"}) for i in (0, 1)] == [0.5, 1.5], "a list indexed"
    with pytest.raises(IndexError):
        numbers.value_of({"py": f"{grid}.2.sigma"})
    rows = [claims.record("gpz.ls_attack", seed, value) for seed, value in enumerate([40.0, 43.0, 46.0])]
    claims.rows_frame(rows[:1]).to_csv(tmp_path / "04_claims.csv", index=False)
    for seed in (1, 2):
        claims.seed_file("04", seed, tmp_path).parent.mkdir(exist_ok=True)
        claims.rows_frame(rows[seed:seed + 1]).to_csv(claims.seed_file("04", seed, tmp_path), index=False)
    geometric = (40.0 * 43.0 * 46.0) ** (1 / 3)   # a ratio claim: its mean is on the log scale
    assert numbers.value_of({"n": "43", "claim": "gpz.ls_attack", "stat": "mean"}, tmp_path) == pytest.approx(geometric)
    low = numbers.value_of({"n": "0", "claim": "gpz.ls_attack", "stat": "low"}, tmp_path)
    assert low < 43.0 < numbers.value_of({"n": "0", "claim": "gpz.ls_attack", "stat": "high"}, tmp_path)


def test_counted_and_derived_sources(figures):
    mse = lambda defense: {"csv": "04_table.csv", "col": "mse", "row": {"defense": defense}}
    assert numbers.value_of({"n": "2", "count": "04_table.csv"}, figures) == 2
    assert numbers.value_of({"n": "1", "count": "04_table.csv", "row": {"acc": "0.9"}}, figures) == 1
    assert numbers.value_of({"n": "6.9", "ratio": [mse("none"), mse("noise σ=0.5")]}, figures) == pytest.approx(0.0433 / 0.00631)
    assert numbers.value_of({"n": "7.4", "difference": [{"csv": "04_table.csv", "col": "acc", "row": {"defense": "none"}},
                                                        {"csv": "04_table.csv", "col": "acc", "row": {"defense": "noise σ=0.5"}}],
                             "times": 100}, figures) == pytest.approx(7.4)
    assert numbers.value_of({"n": "-85", "change": [mse("noise σ=0.5"), mse("none")], "times": 100},
                            figures) == pytest.approx((0.00631 / 0.0433 - 1) * 100)
    both = [mse("none"), mse("noise σ=0.5")]
    assert [numbers.value_of({"n": "0", op: both}, figures) for op in ("min", "max", "mean")] == \
        pytest.approx([0.00631, 0.0433, (0.0433 + 0.00631) / 2])
    text = "Noise lowers the MSE 6.9×."
    assert numbers.problems(text, [{"n": "6.9", "ratio": both}], figures) == []
    assert numbers.problems(text.replace("6.9", "7.9"), [{"n": "7.9", "ratio": both}], figures) == \
        ["number 1 (7.9): its source gives 6.86212"]
    assert "needs computed sources" in numbers.problems("1", [{"n": "1", "ratio": [mse("none"), {"cited": "paper"}]}],
                                                        figures)[0]
    assert "no column" in numbers.problems("1", [{"n": "1", "count": "04_table.csv", "row": {"x": "1"}}], figures)[0]


def test_a_claim_of_another_run(tmp_path):
    for seed, value in enumerate([2.0, 4.0, 8.0]):
        file = claims.seed_file("04", seed, tmp_path, variant="attackerstrong")
        file.parent.mkdir(parents=True, exist_ok=True)
        claims.rows_frame([claims.record("gpz.ls_attack", seed, value)]).to_csv(file, index=False)
    assert numbers.value_of({"n": "4", "claim": "gpz.ls_attack", "variant": "attackerstrong"}, tmp_path) == pytest.approx(4.0)


def test_bind_writes_only_bindings_that_agree(figures, tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Summary\n\nMSE 0.0433 undefended.")]
    path = tmp_path / "04_x.ipynb"
    nbformat.write(nb, path)
    before = path.read_text()
    good = [{"n": "0.0433", "csv": "04_table.csv", "col": "mse", "row": {"defense": "none"}}]
    monkeypatch.setattr(numbers.paths, "FIGURES", figures)
    assert numbers.bind(path, [{**good[0], "n": "0.0434"}]) and path.read_text() == before, "refused, not written"
    assert numbers.bind(path, good) == [] and numbers.notebook_problems(path) == []


def _bound_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [cell for cell in nb.cells if cell.cell_type == "markdown" and "numbers" in cell.metadata.get("companion", {})]


@pytest.mark.parametrize("path", numbered_notebooks(), ids=lambda p: p.stem)
def test_every_number_quoting_a_result_is_bound_and_agrees_with_the_committed_data(path):
    assert numbers.notebook_problems(path) == []
    assert len(_bound_cells(path)) >= 1, "at least the summary"


def test_the_cells_that_need_bindings(figures, tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title with 2 numbers, 3"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_markdown_cell("**What the figure shows.** MSE 0.0433."),
                nbformat.v4.new_code_cell("y = 2"), nbformat.v4.new_markdown_cell("## 2. A new section, 4 ideas"),
                nbformat.v4.new_markdown_cell("## Summary\n\nNothing measured.")]
    path = tmp_path / "04_x.ipynb"
    nbformat.write(nb, path)
    cells = nbformat.read(path, as_version=4).cells
    assert [numbers.needs_bindings(cells, i) for i in range(len(cells))] == [False, False, True, False, False, True]
    assert numbers.draft(path, figures) == {2: [{"n": "0.0433", "csv": "04_table.csv", "col": "mse",
                                                 "row": {"defense": "none"}}], 5: []}
    assert len(numbers.notebook_problems(path, figures)) == 2, "the reading and the summary are unbound"
    monkeypatch.setattr(numbers.paths, "FIGURES", figures)
    assert numbers.bind(path, [], cell=5) == [] and numbers.bind(path, [], cell=1) == [f"{path.name} has no Markdown cell 1"]
    assert numbers.bind(path, [{"n": "0.0433", "csv": "04_table.csv", "col": "mse", "row": {"defense": "none"}}],
                        cell=2) == []
    assert numbers.notebook_problems(path, figures) == []


def _mutated(text: str, k: int) -> str:
    """``text`` with the k-th printed number's last digit changed (outside math and code)."""
    start, end, number = numbers.number_spans(text)[k]
    last = max(i for i, ch in enumerate(number) if ch.isdigit())
    changed = number[:last] + str((int(number[last]) + 1) % 10) + number[last + 1:]
    return text[:start] + changed + text[end:]


@pytest.mark.parametrize("path", numbered_notebooks(), ids=lambda p: p.stem)
def test_changing_any_single_bound_number_fails(path):
    for cell in _bound_cells(path):
        bindings = cell.metadata["companion"]["numbers"]
        assert len(bindings) == len(numbers.printed_numbers(cell.source))
        for k in range(len(bindings)):
            copy = _mutated(cell.source, k)
            assert copy != cell.source and numbers.problems(copy, bindings), \
                f"{path.name}: changing number {k + 1} ({bindings[k]['n']}) went unnoticed"


def test_the_mutation_helper_changes_only_the_chosen_number():
    text = "a 0.0433 b $x_1$ c 19 `7` d"
    assert _mutated(text, 0) == "a 0.0434 b $x_1$ c 19 `7` d"
    assert _mutated(text, 1) == "a 0.0433 b $x_1$ c 10 `7` d"
    assert re.sub(r"\d", "", _mutated(text, 1)) == re.sub(r"\d", "", text)
