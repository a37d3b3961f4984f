"""Structure of the committed notebooks: skeleton, one literal parameters cell, no stored outputs,
and each opens in JupyterLab unchanged."""
import ast

import nbformat
import papermill
import pytest

from helpers.core.notebook_file import stored_text
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


STORED = ALL + sorted((NOTEBOOKS.parent / "student").glob("*.ipynb"))


@pytest.mark.parametrize("path", STORED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_stored_notebook_opens_clean_in_jupyterlab(path):
    """JupyterLab reads a notebook through nbformat (v4, upgraded), writes the started kernel's
    kernelspec and language_info into it, and autosave writes nbformat's text: a stored notebook
    that is not already that text opens as modified (the tab's unsaved dot)."""
    text = path.read_text(encoding="utf-8")
    assert text == stored_text(nbformat.reads(text, as_version=4)), \
        f"run `.venv/bin/python -m helpers.core.notebook_file {path.relative_to(NOTEBOOKS.parent)}`"


def test_the_round_trip_check_can_fail():
    """The notebooks as they were stored before: the default kernelspec name 'Python 3' and a bare
    language_info, keys in the order they were written."""
    nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"},
                                            "kernelspec": {"display_name": "Python 3", "language": "python",
                                                           "name": "python3"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# 00 x", id="a")]
    before = nbformat.writes(nb) + "\n"
    after = stored_text(nbformat.reads(before, as_version=4))
    assert before != after and '"display_name": "Python 3 (ipykernel)"' in after and '"pygments_lexer"' in after
    assert stored_text(nbformat.reads(after, as_version=4)) == after, "and once clean, it stays clean"
