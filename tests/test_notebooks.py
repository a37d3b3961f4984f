"""Structure of the committed notebooks: skeleton, one literal parameters cell, no stored outputs."""
import ast

import nbformat
import papermill
import pytest

from helpers.core.paths import NOTEBOOKS
from helpers.pipeline.run import check_parameters, numbered_notebooks

ALL = numbered_notebooks()


def test_there_are_notebooks():
    assert [nb.name for nb in ALL][0] == "00_quickstart.ipynb"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_one_literal_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    names = []
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, (ast.Assign, ast.AnnAssign)), "parameters cell holds assignments only"
        ast.literal_eval(node.value)  # raises for anything but a literal
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
        names.append(target.id)
    assert names[:2] == ["scale", "seed"]
    assert set(papermill.inspect_notebook(str(path))) == set(names)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_skeleton_and_clean_outputs(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0].source
    assert first.startswith(f"# {path.name[:2]} ") and "**Aim.**" in first
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("## ")]
    assert headings[-2:] == ["## Summary", "## Exercises"]
    assert "helpers.setup_notebook(" in "".join(c.source for c in nb.cells if c.cell_type == "code")
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        if "nbval-check-output" in cell.metadata.get("tags", []):  # compared by nbval: must be stored
            assert cell.outputs and cell.execution_count is not None, "run `make checked-outputs`"
        else:
            assert not cell.outputs and cell.execution_count is None, "commit notebooks without outputs"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb.metadata, "saved ipywidgets state (tqdm bars): clear it before committing"
    # a cell without an id gets a random one whenever nbformat normalises the notebook: the student
    # copies (and any other rendering) would then differ on every run
    import json
    raw = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert all("id" in cell for cell in raw), "give every cell an id (nbformat.validator.normalize)"
    assert len({cell["id"] for cell in raw}) == len(raw), "cell ids must be unique"


def test_pipeline_refuses_undeclared_parameters():
    with pytest.raises(ValueError, match="declares no parameter bogus"):
        check_parameters(NOTEBOOKS / "00_quickstart.ipynb", {"scale": "quick", "bogus": 1})
    effective = check_parameters(NOTEBOOKS / "00_quickstart.ipynb", {"scale": "paper"})
    assert effective["scale"] == "paper" and effective["seed"] == 0   # the declared default fills in


def test_claims_runs_take_what_each_notebook_leaves_out_from_its_metadata(tmp_path):
    from helpers.pipeline.run import seed_parameters

    assert seed_parameters(NOTEBOOKS / "02_intra_class_variance.ipynb", "quick", 1) == \
        {"scale": "quick", "seed": 1, "other_datasets": []}
    assert seed_parameters(NOTEBOOKS / "07_defense_benchmark.ipynb", "smoke", 2, dataset="fashion")["compare_attackers"] is False
    assert seed_parameters(NOTEBOOKS / "04_siftfunnel.ipynb", "quick", 1) == {"scale": "quick", "seed": 1}
    nb = nbformat.read(NOTEBOOKS / "00_quickstart.ipynb", as_version=4)
    nb.metadata["companion"] = {"seed_run_parameters": {"sed": 1}}
    nbformat.write(nb, tmp_path / "00_quickstart.ipynb")
    with pytest.raises(ValueError, match="declares no parameter sed"):
        seed_parameters(tmp_path / "00_quickstart.ipynb", "quick", 1)
