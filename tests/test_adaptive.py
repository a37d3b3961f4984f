"""Defense-adaptive attacks (helpers/evaluation/adaptive.py): tuned on the attacker's own images only."""
import dataclasses

import pandas as pd
import pytest
import torch

from helpers.evaluation import adaptive
from helpers.evaluation.adaptive import SEARCH_SPACE, Candidate, adaptive_suite, own_splits, tune
from helpers.data import load_dataset, split_dataset
from helpers.defenses import GaussianNoise
from helpers.evaluation.harness import SuiteBudget, run_suite
from helpers.training import TrainConfig, train_classifier


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
    assert set(table.attack) == {"inverse_network_tuned"} and len(table) == 32
    assert table.mse.tolist() == again.mse.tolist()
    assert recon["inverse_network_tuned"].shape == evaluation.x.shape


def test_the_strong_attacker_adds_the_prior_attacks_and_the_tuned_ones():
    standard = ["inverse_network", "white_box", "hybrid", "query_free"]
    assert adaptive.attacker_attacks(standard, "standard") == standard
    strong = adaptive.attacker_attacks(standard, "strong")
    assert strong == standard + ["latent_search", "diffusion", "inverse_network_tuned", "white_box_tuned",
                                 "hybrid_tuned", "latent_search_tuned", "diffusion_tuned"]
    assert "query_free_tuned" not in strong   # scoring a setting would need queries it does not make
    assert adaptive.attacker_attacks(["hybrid"], "strong") == ["hybrid", "latent_search", "diffusion", "hybrid_tuned",
                                                              "latent_search_tuned", "diffusion_tuned"]
    with pytest.raises(ValueError, match="unknown attacker"):
        adaptive.attacker_attacks(standard, "strongest")
    with pytest.raises(ValueError, match="unknown attack"):
        adaptive.attacker_attacks(["hybird"], "strong")
    assert sum(map(len, SEARCH_SPACE.values())) == 15   # the stated tuning budget


def test_the_summary_of_chosen_settings_says_when_the_default_was_kept():
    budget = SuiteBudget(tv_weight=0.01, decoder_lr=3e-3)
    assert Candidate(True, {"tv_weight": 0.01}).is_default(budget)
    assert not Candidate(False, {"tv_weight": 0.01}).is_default(budget)   # noise-unaware is not the default
    assert not Candidate(True, {"tv_weight": 0.0}).is_default(budget)
    tuning = pd.DataFrame({"attack": ["white_box", "white_box", "hybrid"],
                           "candidate": ["tv_weight=0", "tv_weight=0.01", "noise-unaware, tv_weight=0.01"],
                           "setting": [Candidate(True, {"tv_weight": 0.0}), Candidate(True, {"tv_weight": 0.01}),
                                       Candidate(False, {"tv_weight": 0.01})],
                           "chosen": [False, True, True]})
    assert adaptive.chosen_settings(tuning, budget) == "white_box: default; hybrid: noise-unaware, tv_weight=0.01"


def test_the_strong_worst_case_is_over_every_attack_and_a_kept_default_is_the_untuned_attack(setting, monkeypatch):
    from helpers.evaluation.defense_eval import evaluate_all, evaluate_defense
    from helpers.attacks.priors import PriorConfig
    config, splits = setting
    config = dataclasses.replace(config, n_val=32)
    trained = train_classifier(config, splits, device="cpu")
    budget = SuiteBudget(decoder_epochs=1, decoder_depth=0, decoder_width=8, n_eval=32, n_eval_optimisation=8,
                         white_box_steps=4, hybrid_steps=3, shadow_epochs=1, latent_steps=3,
                         vae=PriorConfig("vae", latent_dim=4, width=8, epochs=1),
                         ddpm=PriorConfig("ddpm", width=8, epochs=1, T=4))
    row, table, recon, _ = evaluate_defense(trained, splits, "pool1", budget, probes=False, attacker="strong",
                                            device="cpu")
    names = adaptive.attacker_attacks(["inverse_network", "white_box", "hybrid", "query_free"], "strong")
    assert set(recon) == set(names) == set(table.attack)
    mse = {a: row[f"mse_{a}"] for a in names}
    assert row["mse_best"] == min(mse.values()) and row["best_attack"] == min(mse, key=mse.get)
    assert row["mse_best_standard"] == min(mse[a] for a in names[:4]) >= row["mse_best"]
    for part in row["tuning"].split("; "):   # a tuned attack that kept its default is the untuned one
        attack, choice = part.split(": ")
        if choice == "default":
            assert mse[f"{attack}_tuned"] == mse[attack]
    assert len(row["tuning"].split("; ")) == len(SEARCH_SPACE)
    assert (table.images == "test").all() and row["val_mse_best"] > 0   # choices are made on validation images

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the attacker was checked")
    monkeypatch.setattr("helpers.evaluation.defense_eval.train_defended", no_training)
    with pytest.raises(ValueError, match="unknown attacker"):
        evaluate_all(config, splits, [GaussianNoise(0.5)], "pool1", budget, attacker="strongest")
