"""The attack protocol: an attack is one class and one registration; the harness runs it unchanged."""
import pytest
import torch

from helpers.attacks import AttackSpec, register_attack, registered_attacks
from helpers.attacks.protocol import attack_spec, unregister_attack
from helpers.data import load_dataset, split_dataset
from helpers.evaluation.harness import ATTACKS, BASELINES, PRIOR_ATTACKS, SuiteBudget, run_suite
from helpers.training import TrainConfig, train_classifier

# pytest-xdist (make test): the classifier is trained once for the module
pytestmark = pytest.mark.xdist_group("attack_protocol")


class ConstantImage:
    """Reconstructs every image as a grey 0.5 (counts its fits, keeps the start it was given)."""

    fits = 0

    def __init__(self, image_shape):
        self.image_shape = image_shape
        self.init = None

    def config(self):
        return {"attack": "toy_constant", "value": 0.5}

    def fit(self, x_aux, z_aux=None, y_aux=None):
        ConstantImage.fits += 1
        assert z_aux is None  # it declared that it makes no queries

    def reconstruct(self, z, init=None):
        self.init = init
        return torch.full((len(z), *self.image_shape), 0.5) if init is None else init.clone()


@pytest.fixture(scope="module")
def setting():
    config = TrainConfig(n_train=256, n_test=64, n_aux=64, epochs=1, batch_size=32, lr=3e-3, width=4)
    splits = split_dataset(load_dataset("mnist5k"), **config.split_kwargs())
    return train_classifier(config, splits, device="cpu"), splits


@pytest.fixture
def toy():
    spec = register_attack(AttackSpec("toy_constant", lambda context: ConstantImage(context.image_shape),
                                      needs=frozenset()))
    restart = register_attack(AttackSpec("toy_restart", lambda context: ConstantImage(context.image_shape),
                                         needs=frozenset(), start="inverse_network", optimisation=True))
    yield spec, restart
    unregister_attack("toy_restart")
    unregister_attack("toy_constant")


def test_builtin_registry_is_the_papers_attacks():
    assert registered_attacks()[:8] == ATTACKS + PRIOR_ATTACKS + BASELINES
    assert attack_spec("hybrid").start == "inverse_network" and attack_spec("hybrid").optimisation
    assert "queries" not in attack_spec("query_free").needs  # He et al.'s query-free attacker
    assert not attack_spec("mean_image").cached


def test_a_registered_toy_attack_runs_through_the_unchanged_harness(setting, toy, tmp_path, monkeypatch):
    monkeypatch.setenv("MIA_CACHE_DIR", str(tmp_path))
    trained, splits = setting
    budget = SuiteBudget(decoder_epochs=1, n_eval=16, n_eval_optimisation=8)
    ConstantImage.fits = 0
    table, recon, evaluation = run_suite(trained, splits, "pool1", budget=budget,
                                         attacks=["toy_constant", "toy_restart"], device="cpu")
    expected = ((evaluation.x - 0.5) ** 2).flatten(1).mean(1)  # the closed form of a grey guess
    mse = table[table.attack == "toy_constant"].mse.to_numpy()
    assert torch.allclose(torch.tensor(mse.copy(), dtype=expected.dtype), expected, atol=1e-6)
    # the restart starts from the inverse network's reconstruction (run once, not scored unless asked)
    # and, as an optimisation, covers the first n_eval_optimisation images
    assert set(table.attack) == {"toy_constant", "toy_restart"} and len(recon["toy_restart"]) == 8
    _, with_decoder, _ = run_suite(trained, splits, "pool1", budget=budget,
                                   attacks=["inverse_network", "toy_restart"], device="cpu")
    assert torch.equal(with_decoder["toy_restart"], with_decoder["inverse_network"][:8])
    assert ConstantImage.fits == 2  # the second call read both reconstructions from the cache


def test_registration_is_validated(toy):
    build = lambda context: ConstantImage(context.image_shape)  # noqa: E731
    with pytest.raises(ValueError, match="already registered"):
        register_attack(AttackSpec("toy_constant", build))
    with pytest.raises(ValueError, match="not registered"):
        register_attack(AttackSpec("toy_orphan", build, start="no_such_attack"))
    with pytest.raises(ValueError, match="unknown access"):
        AttackSpec("toy_bad", build, needs=frozenset({"telepathy"}))
    with pytest.raises(ValueError, match="identifier"):
        AttackSpec("toy bad", build)
    with pytest.raises(ValueError, match="start from 'toy_constant'"):
        register_attack(AttackSpec("toy_child", build, start="toy_constant"))
        unregister_attack("toy_constant")
    unregister_attack("toy_child")


def test_unknown_attack_names_what_is_valid(setting):
    trained, splits = setting
    with pytest.raises(ValueError, match="unknown attack 'telepathy'; valid: inverse_network, white_box"):
        run_suite(trained, splits, "pool1", attacks=["telepathy"], device="cpu")
