"""No silent wrong results: bad parameters are refused before any work, naming the value and the fix."""
import math

import pytest
import torch

import helpers
from helpers.core.config import check_list, check_range, check_seed
from helpers.evaluation.defense_eval import defense_grid
from helpers.defenses import from_config
from helpers.evaluation.gpz import attack_profile, features_at_cuts, train_smoothing_arms
from helpers.models import build_model


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_check_range_refuses_non_finite_values(value):
    with pytest.raises(ValueError, match=rf"sigma must be a finite number, got {value}; give a real value"):
        check_range("sigma", value, low=0.0)


def test_check_range_accepts_inf_only_when_asked():
    assert check_range("budget", math.inf, low=0.0, allow_inf=True) == math.inf
    with pytest.raises(ValueError, match="finite number, got nan"):
        check_range("budget", math.nan, low=0.0, allow_inf=True)


def test_a_defense_with_infinite_strength_is_refused():
    with pytest.raises(ValueError, match="sigma must be a finite number, got inf"):
        from_config({"defense": "noise", "sigma": math.inf})


def test_a_nan_among_noise_levels_is_refused_before_any_defense_is_built():
    with pytest.raises(ValueError, match="sigma must be a finite number, got nan"):
        defense_grid({"noise": [{"sigma": 0.5}, {"sigma": math.nan}]})


def test_defense_strengths_must_be_a_list():
    with pytest.raises(ValueError, match=r"the strengths of noise must be a list, got \{'sigma': 0.5\}; write \["):
        defense_grid({"noise": {"sigma": 0.5}})


def test_check_list_refuses_strings_and_scalars_and_checks_items():
    assert check_list("cuts", ("pool1", "fc1")) == ["pool1", "fc1"]
    assert check_list("seeds", [0, 2], check_seed) == [0, 2]
    with pytest.raises(ValueError, match=r"cuts must be a list, got 'pool1'; write \['pool1'\]"):
        check_list("cuts", "pool1")
    with pytest.raises(ValueError, match=r"seeds must be a list, got 3; write \[3\]"):
        check_list("seeds", 3)
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        check_list("seeds", [0, -1], check_seed)


def test_cuts_given_as_a_string_are_refused():
    model = build_model("vgg", width=4)
    x = torch.rand(2, 1, 28, 28)
    with pytest.raises(ValueError, match=r"cuts must be a list, got 'pool1'; write \['pool1'\]"):
        features_at_cuts(model, x, "pool1")
    with pytest.raises(ValueError, match=r"unknown cut 'pool9'; valid: .*pool1"):
        features_at_cuts(model, x, ["pool1", "pool9"])


def test_attack_profile_checks_its_cuts_before_attacking():
    class Trained:  # only the model is looked at before the cuts are refused
        model = build_model("vgg", width=4)

    with pytest.raises(ValueError, match=r"cuts must be a list, got 'pool1'"):
        attack_profile(Trained(), splits=None, budget=None, cuts="pool1")


def test_smoothing_arms_check_every_alpha_and_seed_before_training():
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got 'abc'"):
        train_smoothing_arms(config=None, splits_by_seed=None, alphas=[0.0, 0.1], seeds=[0, "abc"])
    with pytest.raises(ValueError, match="label smoothing alpha must be a finite number, got nan"):
        train_smoothing_arms(config=None, splits_by_seed=None, alphas=[0.0, math.nan], seeds=[0])


@pytest.mark.parametrize("seed", ["abc", -1, 1.5, True, None])
def test_setup_notebook_refuses_a_bad_seed(seed):
    with pytest.raises(ValueError, match=rf"seed must be a non-negative integer, got {seed!r}; e.g. seed=0"):
        helpers.setup_notebook(scale="smoke", seed=seed)


def test_check_writable_creates_the_folder_and_leaves_nothing_in_it(tmp_path):
    from helpers.core.paths import check_writable

    folder = check_writable(tmp_path / "new" / "cache", "cache folder", "MIA_CACHE_DIR")
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_a_folder_that_cannot_be_created_is_reported(tmp_path):
    from helpers.core.paths import check_writable

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(PermissionError, match=r"the cache folder .*a_file/cache is not writable \(.*\); make it "
                       r"writable or set \$MIA_CACHE_DIR to a writable folder"):
        check_writable(blocker / "cache", "cache folder", "MIA_CACHE_DIR")
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(__import__("os").geteuid() == 0, reason="root may write into read-only folders")
def test_a_read_only_folder_is_reported(tmp_path):
    from helpers.core.paths import check_writable

    folder = tmp_path / "figures"
    folder.mkdir(mode=0o555)
    with pytest.raises(PermissionError, match=r"figures folder .* is not writable .*set \$MIA_FIGURES_DIR"):
        check_writable(folder, "figures folder", "MIA_FIGURES_DIR")
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("env_var, what", [("MIA_CACHE_DIR", "cache folder"), ("MIA_FIGURES_DIR", "figures folder")])
def test_setup_notebook_reports_an_unwritable_folder_before_any_work(tmp_path, monkeypatch, env_var, what):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(env_var, str(blocker / "sub"))
    with pytest.raises(PermissionError, match=rf"the {what} .*a_file/sub is not writable .*set \${env_var} "):
        helpers.setup_notebook(scale="smoke", seed=0)


def test_setup_notebook_creates_writable_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("MIA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MIA_FIGURES_DIR", str(tmp_path / "figures"))
    assert helpers.setup_notebook(scale="smoke", seed=3).seed == 3
    assert list((tmp_path / "cache").iterdir()) == [] and list((tmp_path / "figures").iterdir()) == []


def test_an_undeclared_papermill_parameter_is_named():
    from helpers import undeclared_parameters

    history = ["", "import helpers", 'scale: str = "quick"\nseed: int = 0', "# Parameters\nsed = 1\nscale = \"smoke\"\n",
               "session = helpers.setup_notebook(scale=scale, seed=seed)"]
    assert undeclared_parameters(history) == (["sed"], ["scale", "seed"])
    history[3] = '# Parameters\nseed = 1\n'
    assert undeclared_parameters(history) == ([], ["scale", "seed"])
    assert undeclared_parameters(history[:3]) == ([], [])   # no injected cell: JupyterLab, nbval


class _Shell:
    """What IPython's get_ipython() returns inside a kernel, as far as setup_notebook looks."""

    def __init__(self, history):
        self.user_ns = {"In": [""] + history}


def test_setup_notebook_refuses_a_misspelt_parameter_before_any_work(tmp_path, monkeypatch):
    """papermill -p sed 1: the kernel's history holds the parameters cell, then the injected cell."""
    import IPython
    import nbformat

    from helpers.core import paths

    nb = nbformat.read(paths.NOTEBOOKS / "00_quickstart.ipynb", as_version=4)
    parameters = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    history = [nb.cells[1].source, parameters, "# Parameters\nsed = 1\nscale = \"smoke\"\n"]
    monkeypatch.setattr(IPython, "get_ipython", lambda: _Shell(history))
    with pytest.raises(ValueError, match="declares no parameter sed; its parameters are: scale, seed, dataset, arch"):
        helpers.setup_notebook(scale="smoke", seed=0)
    assert list((tmp_path / "figures").glob("*")) == [] and not (tmp_path / "cache").exists()
    history[-1] = "# Parameters\nseed = 1\n"
    assert helpers.setup_notebook(scale="smoke", seed=1).seed == 1


def test_an_unknown_grid_cut_fails_instead_of_being_skipped():
    """Notebook 03's schema checks grid_cuts against the model's cuts: an unknown name is an error
    before any work, not a cut silently left out of the grid."""
    from helpers.pipeline import parameters

    with pytest.raises(ValueError, match="'pool9' is not a cut of the vgg model"):
        parameters.validate("03", {"grid_cuts": ["pool1", "pool9"]})
    assert parameters.validate("03", {"grid_cuts": ["pool1"]}).grid_cuts == ["pool1"]
