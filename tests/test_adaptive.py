"""Defense-adaptive attacks (helpers/adaptive.py): tuned on the attacker's own images only."""
import pandas as pd
import pytest
import torch

from helpers import adaptive
from helpers.adaptive import SEARCH_SPACE, Candidate, adaptive_suite, own_splits, tune
from helpers.data import load_dataset, split_dataset
from helpers.defenses import GaussianNoise
from helpers.suite import SuiteBudget, run_suite
from helpers.train import TrainConfig, train_classifier


@pytest.fixture(scope="module")
def setting():
    config = TrainConfig(n_train=512, n_test=128, n_aux=160, epochs=1, batch_size=64, lr=3e-3, width=4,
                         defense=GaussianNoise(0.5).config(), cut="pool1")
    splits = split_dataset(load_dataset("mnist5k"), **config.split_kwargs())
    return config, splits


def test_the_tuning_images_are_the_attackers_own(setting):
    _, splits = setting
    own = own_splits(splits, 0.25)
    assert (len(own.aux), len(own.test)) == (120, 40)
    assert torch.equal(torch.cat([own.aux.index, own.test.index]), splits.aux.index)
    private = set(splits.test.index.tolist()) | set(splits.train.index.tolist())
    assert not set(own.test.index.tolist()) & private and not set(own.aux.index.tolist()) & private
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="tune_fraction"):
            own_splits(splits, bad)


def test_the_setting_with_the_lowest_tuning_mse_is_chosen_and_scored_images_are_never_used(setting, monkeypatch):
    _, splits = setting
    seen = []
    mse_of = {0.0: 0.30, 0.01: 0.10, 0.05: 0.20}   # tv_weight -> the tuning MSE this fake suite reports

    def fake_suite(trained, own, cut, knowledge, budget, attacks, seed, device, score_labels):
        seen.append(own.test.index)
        return pd.DataFrame({"mse": [mse_of[budget.tv_weight]] * 2}), {}, own.test

    monkeypatch.setattr(adaptive, "run_suite", fake_suite)
    candidates = [Candidate(True, {"tv_weight": tv}) for tv in mse_of]
    result = tune(None, splits, "pool1", "white_box", SuiteBudget(), candidates)
    assert result.loc[result.chosen, "candidate"].item() == "tv_weight=0.01"
    assert result.tuning_mse.tolist() == [0.30, 0.10, 0.20] and result.chosen.sum() == 1
    scored = set(splits.test.index.tolist())
    assert len(seen) == 3 and all(not set(index.tolist()) & scored for index in seen)
    with pytest.raises(ValueError, match="unknown SuiteBudget fields"):
        Candidate(True, {"tv_wieght": 0.1})
    with pytest.raises(ValueError, match="unknown attack"):
        tune(None, splits, "pool1", "guessing", SuiteBudget())


def test_the_tuned_attack_is_the_chosen_setting_run_on_the_scored_images(setting):
    config, splits = setting
    trained = train_classifier(config, splits, device="cpu")
    budget = SuiteBudget(decoder_epochs=1, decoder_depth=0, decoder_width=8, n_eval=32)
    table, recon, evaluation, tuning = adaptive_suite(trained, splits, "pool1", budget, attacks=["inverse_network"],
                                                      device="cpu")
    assert len(tuning) == len(SEARCH_SPACE["inverse_network"]) and tuning.chosen.sum() == 1
    chosen = tuning.loc[tuning.chosen, "setting"].item()
    assert tuning.loc[tuning.chosen, "tuning_mse"].item() == tuning.tuning_mse.min()
    again, _, _ = run_suite(trained, splits, "pool1", knowledge=adaptive.AttackerKnowledge(noise_aware=chosen.noise_aware),
                            budget=SuiteBudget(**{**budget.__dict__, **chosen.overrides}),
                            attacks=["inverse_network"], device="cpu")
    assert set(table.attack) == {"inverse_network (tuned)"} and len(table) == 32
    assert table.mse.tolist() == again.mse.tolist()
    assert recon["inverse_network (tuned)"].shape == evaluation.x.shape
