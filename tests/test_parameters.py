"""One typed schema per notebook (helpers/pipeline/parameters.py): it matches the notebook's
parameters cell, accepts its defaults, and refuses bad values before any work with a message that
names the parameter, the value and what is valid."""
import ast
import math

import nbformat
import papermill
import pytest

from helpers.pipeline import parameters
from helpers.pipeline.run import numbered_notebooks

NOTEBOOKS = numbered_notebooks()


def defaults(path) -> dict:
    return {name: ast.literal_eval(info["default"]) for name, info in papermill.inspect_notebook(str(path)).items()}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_schema_is_its_notebooks_parameters_and_accepts_their_defaults(path):
    schema = parameters.SCHEMAS[path.name[:2]]
    assert set(schema.model_fields) == set(defaults(path)), "the schema and the parameters cell name the same"
    validated = parameters.validate(path.name[:2], defaults(path))
    assert {name: getattr(validated, name) for name in ("scale", "seed")} == {"scale": "quick", "seed": 0}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_setup_cell_validates_every_parameter_before_any_work(path):
    nb = nbformat.read(path, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    first = nb.cells[index + 1].source.splitlines()[0]
    assert first.startswith(f'helpers.validate_parameters("{path.name[:2]}", globals())')


BAD = [   # (notebook, parameters, what the message must say): the cases, and others like them
    ("04", {"accuracy_budget": math.nan}, "parameter accuracy_budget = nan: Input should be a finite number"),
    ("04", {"accuracy_budget": -0.5}, "parameter accuracy_budget = -0.5: Input should be greater than 0"),
    ("07", {"accuracy_budget": 1.5}, "parameter accuracy_budget = 1.5: Input should be less than 1"),
    ("02", {"gpz_threshold": math.nan}, "parameter gpz_threshold = nan: Input should be a finite number"),
    ("07", {"compare_attackers": "False"}, "parameter compare_attackers = 'False': Input should be a valid boolean"),
    ("06", {"shallow_cut": "pool3", "deep_cut": "pool1"},
     "parameter deep_cut = 'pool1': must come after shallow_cut = 'pool3'"),
    ("07", {"cut": "pool3", "patrol_cut": "pool2"}, "parameter patrol_cut = 'pool2': must come after cut"),
    ("01", {"noise_levels": [0.1, math.nan]}, "parameter noise_levels[1] = [0.1, nan]: Input should be a finite number"),
    ("01", {"noise_levels": [0.1, -1.0]}, "parameter noise_levels[1] = [0.1, -1.0]: Input should be greater than 0"),
    ("01", {"mixture_dim": 8.5}, "parameter mixture_dim = 8.5: Input should be a valid integer"),
    ("01", {"components": 2.5}, "parameter components = 2.5: Input should be a valid integer"),
    ("01", {"relative_noise": []}, "parameter relative_noise = []: List should have at least 1 item"),
    ("01", {"channel_dim": 9}, "parameter channel_dim = 9: must not exceed mixture_dim = 8"),
    ("08", {"budget_variant": "../../../../etc"}, "parameter budget_variant = '../../../../etc': String should match"),
    ("08", {"attacker_variant": ".."}, "'.' and '..' name no run"),
    ("05", {"sigma": "0.5"}, "parameter sigma = '0.5': Input should be a valid number"),
    ("05", {"sigma": True}, "parameter sigma = True: Input should be a valid number"),
    ("00", {"cuts": "pool1"}, "parameter cuts = 'pool1': Input should be a valid list"),
    ("00", {"cuts": ["pool9"]}, "parameter cuts = ['pool9'] (arch 'vgg'): 'pool9' is not a cut of the vgg model; its cuts: relu1"),
    ("03", {"arch": "resnet", "grid_cuts": ["pool3"]}, "'pool3' is not a cut of the resnet model; its cuts: stem"),
    ("03", {"attacks": ["inverse_network", "magic"]}, "parameter attacks[1] = ['inverse_network', 'magic']: not a known attack"),
    ("02", {"smoothing_attacked": [0.5]}, "parameter smoothing_attacked = [0.5]: each must be one of the arms"),
    ("02", {"archs": ["vgg", "transformer"]}, "not a known architecture; valid: vgg, resnet, constant"),
    ("04", {"dataset": "imagenet"}, "parameter dataset = 'imagenet': not a known dataset; valid: mnist5k"),
    ("06", {"metric": "latency"}, "parameter metric = 'latency': Input should be 'flops' or 'params'"),
    ("07", {"patrol": {"prune_at": 2.0}}, "parameter patrol[prune_at] = {'prune_at': 2.0}: Input should be less than 1"),
    ("07", {"patrol": {"lipshitz": 0.1}}, "parameter patrol[lipshitz] = {'lipshitz': 0.1}: Extra inputs are not permitted"),
    ("00", {"seed": -1}, "parameter seed = -1: Input should be greater than or equal to 0"),
    ("00", {"scale": "huge"}, "parameter scale = 'huge': Input should be 'smoke', 'quick' or 'paper'"),
    ("02", {"classifier_epochs": -2}, "parameter classifier_epochs = -2: Input should be greater than or equal to 0"),
    ("04", {"attacker": "godlike"}, "parameter attacker = 'godlike': Input should be 'standard' or 'strong'"),
]


@pytest.mark.parametrize("notebook, bad, message", BAD, ids=[f"{n}-{'-'.join(b)}" for n, b, _ in BAD])
def test_a_bad_parameter_is_refused_naming_it_its_value_and_what_is_valid(notebook, bad, message):
    path = next(p for p in NOTEBOOKS if p.name.startswith(notebook))
    with pytest.raises(ValueError) as error:
        parameters.validate(notebook, {**defaults(path), **bad})
    assert str(error.value).startswith(f"notebook {notebook}: bad parameters\n")
    assert message in str(error.value), str(error.value)


def test_every_bad_parameter_is_listed_at_once():
    with pytest.raises(ValueError) as error:
        parameters.validate("01", {"mixture_dim": 8.5, "components": 2.5, "relative_noise": []})
    assert len(str(error.value).splitlines()) == 1 + 3


def test_a_notebook_run_with_a_bad_parameter_stops_at_its_setup_cell(tmp_path):
    from papermill.exceptions import PapermillExecutionError

    from helpers.core import kernels

    kernels.prepare_kernels()
    path = next(p for p in NOTEBOOKS if p.name.startswith("08"))
    with pytest.raises(PapermillExecutionError) as error:
        papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False,
                                   parameters={"budget_variant": "../../../../etc"}, cwd=str(path.parent))
    assert error.value.ename == "ValueError" and "budget_variant" in error.value.evalue
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    index = next(i for i, c in enumerate(executed.cells) if c.get("outputs") and
                 any(o.get("output_type") == "error" for o in c.outputs))
    assert executed.cells[index].source.startswith('helpers.validate_parameters("08"'), "the first cell after them"
