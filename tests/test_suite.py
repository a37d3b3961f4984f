import dataclasses

import pytest
import torch

from helpers import defenses
from helpers.data import load_dataset, split_dataset
from helpers.defenses import GaussianNoise, ObservedEdge, observe
from helpers.attacks import class_mean_images
from helpers.core.config import get_scale
from helpers.evaluation.harness import BASELINES, AttackerKnowledge, SuiteBudget, attacker_data, run_suite
from helpers.training import TrainConfig, predict, train_classifier


@pytest.fixture(scope="module")
def setting():
    config = TrainConfig(n_train=512, n_test=128, n_aux=128, epochs=2, batch_size=32, lr=3e-3, width=4)
    splits = split_dataset(load_dataset("mnist5k"), **config.split_kwargs())
    return config, splits


def test_attacker_data_settings(setting):
    _, splits = setting
    for aux_name, expected in (("disjoint_aux", splits.aux.index), ("train_set", splits.train.index[:128])):
        aux, evaluation = attacker_data(splits, AttackerKnowledge(aux=aux_name), n_eval=32)
        assert torch.equal(aux.index, expected) and torch.equal(evaluation.index, splits.test.index[:32])
    aux, evaluation = attacker_data(splits, AttackerKnowledge(aux="test_split"), n_eval=32)
    assert not set(aux.index.tolist()) & set(evaluation.index.tolist()) and len(aux) == 96
    with pytest.raises(ValueError, match="unknown aux"):
        AttackerKnowledge(aux="everything")
    with pytest.raises(ValueError, match="n_eval"):
        attacker_data(splits, AttackerKnowledge(), n_eval=1000)


def test_noise_defense_statistics_and_validation():
    z = torch.zeros(20000, 8)
    noisy = observe(z, GaussianNoise(0.5), torch.Generator().manual_seed(0))
    assert abs(noisy.std().item() - 0.5) < 0.01 and abs(noisy.mean().item()) < 0.01
    assert torch.equal(observe(z, None), z) and torch.equal(observe(z, GaussianNoise(0.0)), z)
    with pytest.raises(ValueError, match="sigma"):
        GaussianNoise(-1.0)


def test_classifier_and_attacker_see_what_observe_returns(setting, monkeypatch):
    """Every path from images to the cloud (classification, attack fit, attack scoring) calls observe."""
    config, splits = setting
    trained = train_classifier(config, splits, device="cpu")
    seen = []
    original = defenses.Defense.observe

    def spy(self, z, generator=None):
        seen.append(z.shape[0])
        return original(self, z, generator)

    monkeypatch.setattr(defenses.Defense, "observe", spy)
    budget = SuiteBudget(decoder_epochs=1, n_eval=16)
    table, recon, evaluation = run_suite(trained, splits, "pool1", budget=budget, attacks=["inverse_network"],
                                         device="cpu")
    # one image for the feature shape, the scored images, the attacker's 128 aux queries, and the
    # classification of the 16 reconstructions
    assert sorted(seen) == [1, 16, 16, 128]
    assert recon["inverse_network"].shape == evaluation.x.shape and len(table) == 16
    assert {"recon_correct", "seconds_fit", "mse", "psnr", "ssim", "lpips"} <= set(table.columns)


def test_noise_aware_attacker_trains_on_noisy_features(setting):
    config, splits = setting
    trained = train_classifier(config, splits, device="cpu")
    edge_out = ObservedEdge(torch.nn.Identity(), GaussianNoise(1.0))
    x = torch.zeros(4, 3)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(edge_out(x, g1), edge_out(x, g2))  # seeded noise repeats
    budget = SuiteBudget(decoder_epochs=1, n_eval=16)
    aware, _, _ = run_suite(trained, splits, "pool1", GaussianNoise(1.0), AttackerKnowledge(noise_aware=True),
                            budget, ["inverse_network"], device="cpu")
    unaware, _, _ = run_suite(trained, splits, "pool1", GaussianNoise(1.0), AttackerKnowledge(noise_aware=False),
                              budget, ["inverse_network"], device="cpu")
    assert not aware.mse.equals(unaware.mse)


def test_where_the_cloud_sees_the_edge_output_awareness_shares_one_attack(setting):
    """Unaware and aware attackers of a defense that observes unchanged see the same features: one
    fit, read back from the cache, bitwise the same (the noise defense keeps them apart, above)."""
    config, splits = setting
    trained = train_classifier(config, splits, device="cpu")
    budget = SuiteBudget(decoder_epochs=1, n_eval=16)
    runs = [run_suite(trained, splits, "pool1", defenses.Defense(), AttackerKnowledge(noise_aware=aware), budget,
                      ["inverse_network"], device="cpu") for aware in (True, False)]
    assert torch.equal(runs[0][1]["inverse_network"], runs[1][1]["inverse_network"])
    assert runs[0][0].seconds_fit.iloc[0] == runs[1][0].seconds_fit.iloc[0], "loaded, not refitted"
    assert runs[1][0].noise_aware.eq(False).all(), "the table still says what the attacker knew"
    from helpers.evaluation.grids import DEFENSE_GRID

    grid = {"none": True, "bottleneck": True, "siftfunnel": True, "adversarial": True, "nopeek": True,
            "label_smoothing": True, "noise": False, "dropout": False, "topk": False}
    for name, expected in grid.items():
        config = {"defense": name, **DEFENSE_GRID.get(name, [{}])[0]}
        assert defenses.from_config(config).observes_unchanged is expected, name
    noise, bottleneck = {"defense": "noise", "sigma": 0.5}, {"defense": "bottleneck", "channels": 4}
    assert not defenses.from_config({"defense": "stack", "parts": [noise, bottleneck]}).observes_unchanged
    assert defenses.from_config({"defense": "cem", "base": bottleneck, "sigma": 0.5}).observes_unchanged
    assert not defenses.from_config({"defense": "cem", "base": noise}).observes_unchanged


def test_all_attacks_run_and_hybrid_reuses_the_decoder(setting):
    config, splits = setting
    trained = train_classifier(config, splits, device="cpu")
    budget = SuiteBudget(decoder_epochs=1, decoder_depth=0, white_box_steps=5, hybrid_steps=5, shadow_epochs=1,
                         n_eval=8, n_eval_optimisation=3)
    table, recon, evaluation = run_suite(trained, splits, "relu3", budget=budget, device="cpu")
    assert set(table.attack) == {"inverse_network", "white_box", "hybrid", "query_free"}
    for name, x_hat in recon.items():
        n = 3 if name in ("white_box", "hybrid") else 8  # optimisation attacks score the first 3 images
        assert x_hat.shape == evaluation.x[:n].shape and 0 <= x_hat.min() and x_hat.max() <= 1
        assert (table.attack == name).sum() == n
    fit = table.groupby("attack").seconds_fit.first()
    assert fit["hybrid"] == fit["inverse_network"]  # the same fitted decoder, trained once
    again, recon2, _ = run_suite(trained, splits, "relu3", budget=budget, device="cpu")  # from the cache
    assert all(torch.equal(recon[k], recon2[k]) for k in recon)


def test_baselines_use_no_features(setting):
    config, splits = setting
    trained = train_classifier(config, splits, device="cpu")
    budget = SuiteBudget(n_eval=16)
    # at the last cut the cloud is empty (no parameters): the label is the argmax of what is sent
    table, recon, evaluation = run_suite(trained, splits, "logits", budget=budget, attacks=BASELINES, device="cpu")
    aux = splits.aux
    assert torch.allclose(recon["mean_image"], aux.x.mean(0).expand(16, -1, -1, -1))
    predicted = predict(trained.model, evaluation.x)
    for image, label in zip(recon["class_mean"], predicted):
        assert torch.allclose(image, aux.x[aux.y == label].mean(0))
    assert set(table.attack) == set(BASELINES) and len(table) == 32


def test_class_mean_images_by_hand():
    x = torch.tensor([0.0, 2.0, 10.0]).view(3, 1, 1, 1)
    y = torch.tensor([0, 0, 1])
    out = class_mean_images(x, y, torch.tensor([1, 0, 2]))
    # class 2 has no auxiliary image: the overall mean 4.0
    assert out.flatten().tolist() == [10.0, 1.0, 4.0]


def test_budget_validation_and_scales():
    with pytest.raises(ValueError, match="white_box_steps"):
        SuiteBudget(white_box_steps=0)
    with pytest.raises(ValueError, match="n_eval_optimisation"):
        SuiteBudget(n_eval_optimisation=0)
    assert SuiteBudget(n_eval=50, n_eval_optimisation=100).n_optimisation == 50
    assert SuiteBudget(n_eval=50).n_optimisation == 50
    quick = SuiteBudget.from_scale(get_scale("quick"))
    assert quick.n_optimisation == 64 and quick.white_box_steps == 100 and quick.hybrid_steps == 66
    assert (quick.decoder_lr, quick.decoder_batch_size) == (3e-3, 64)
    assert quick.decoder_options() == dict(width=32, depth=0, epochs=6, lr=3e-3, batch_size=64)
    assert quick.shadow_epochs == 3 and SuiteBudget.from_scale(get_scale("paper")).shadow_epochs == 25
    with pytest.raises(ValueError, match="decoder_lr"):
        SuiteBudget(decoder_lr=0.0)
    with pytest.raises(ValueError, match="decoder_batch_size"):
        SuiteBudget(decoder_batch_size=0)


def test_reconstruction_cache_tells_classifiers_with_other_training_seeds_apart(setting):
    """Regression: the attack seed once overwrote the classifier's training seed in the cache key."""
    config, splits = setting
    budget = SuiteBudget(decoder_epochs=1, n_eval=8)
    recon = {}
    for training_seed in (0, 1):
        trained = train_classifier(dataclasses.replace(config, seed=training_seed), splits, device="cpu")
        recon[training_seed] = run_suite(trained, splits, "pool1", budget=budget, attacks=["inverse_network"],
                                         seed=0, device="cpu")[1]["inverse_network"]
    assert not torch.equal(recon[0], recon[1])


def test_keeping_epoch_states_shares_the_attack_cache(setting):
    config, splits = setting
    budget = SuiteBudget(decoder_epochs=1, n_eval=8)
    plain = train_classifier(config, splits, device="cpu")
    with_states = train_classifier(dataclasses.replace(config, keep_epoch_states=True), splits, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(plain.model.state_dict().values(),
                                                  with_states.model.state_dict().values()))
    first = run_suite(plain, splits, "pool1", budget=budget, attacks=["inverse_network"], device="cpu")[0]
    second = run_suite(with_states, splits, "pool1", budget=budget, attacks=["inverse_network"], device="cpu")[0]
    assert first.seconds_fit.iloc[0] == second.seconds_fit.iloc[0]  # loaded, not refitted


def test_warm_run_reuses_scores_and_computes_no_features(setting, monkeypatch):
    config, splits = setting
    trained = train_classifier(config, splits, device="cpu")
    budget = SuiteBudget(decoder_epochs=1, decoder_depth=0, n_eval=8)
    attacks = ["inverse_network", "class_mean"]
    first, _, _ = run_suite(trained, splits, "pool2", budget=budget, attacks=attacks, device="cpu")
    import helpers.evaluation.harness as suite

    calls = {"score": 0, "observe": 0}
    score, observe_all = suite.score_images, suite.observe_all
    monkeypatch.setattr(suite, "score_images", lambda *a, **k: calls.__setitem__("score", calls["score"] + 1) or score(*a, **k))
    monkeypatch.setattr(suite, "observe_all",
                        lambda o, x, s, **k: calls.__setitem__("observe", calls["observe"] + len(x)) or observe_all(o, x, s, **k))
    again, _, _ = run_suite(trained, splits, "pool2", budget=budget, attacks=attacks, device="cpu")
    assert calls["score"] == 1            # only the feature-free baseline is scored again
    assert calls["observe"] == 1 + 8      # one image for the feature shape, the scored ones for the baseline
    assert again.drop(columns=["seconds_fit", "seconds_reconstruct"], errors="ignore").equals(
        first.drop(columns=["seconds_fit", "seconds_reconstruct"], errors="ignore"))


def test_a_run_without_selection_reads_the_cached_run_with_it_and_gets_the_same_bits(setting):
    """notebook 07 §6: a tuned attack whose default setting wins, and the prior attacks' start, are
    the untuned attacks already run with the validation images. ``reuse=`` reads those entries
    (nothing fitted, no entry written) and returns exactly what computing them again gives."""
    from helpers.core import paths
    from helpers.training import held_out

    config, splits = setting
    config = dataclasses.replace(config, n_val=64)
    trained = train_classifier(config, splits, device="cpu")
    selection = held_out(splits, config.n_val)
    budget = SuiteBudget(decoder_epochs=1, decoder_depth=0, white_box_steps=3, hybrid_steps=3, n_eval=8,
                         n_eval_optimisation=3)
    attacks = ["inverse_network", "hybrid", "white_box"]
    entries = lambda: sorted((paths.cache_dir() / "reconstruction").glob("*.json"))  # noqa: E731
    run_suite(trained, splits, "pool1", budget=budget, attacks=attacks, device="cpu", selection=selection)
    stored = entries()
    assert len(stored) == 3
    reused_table, reused, _ = run_suite(trained, splits, "pool1", budget=budget, attacks=attacks, device="cpu",
                                        reuse=selection)
    assert entries() == stored, "a reused attack must not be fitted or stored again"
    run_suite(trained, splits, "pool1", budget=budget, attacks=["inverse_network"], device="cpu",
              reuse=held_out(splits, 32))   # no run with that selection is cached: computed and stored
    assert len(entries()) == 4
    fresh_table, fresh, _ = run_suite(trained, splits, "pool1", budget=budget, attacks=attacks, device="cpu",
                                      overwrite=True)
    assert len(entries()) == 6, "overwrite computes the runs without selection again (and reads nothing)"
    assert all(torch.equal(reused[a], fresh[a]) for a in attacks)
    assert reused_table[["attack", "image", "mse", "ssim"]].equals(fresh_table[["attack", "image", "mse", "ssim"]])


def test_selection_images_are_reconstructed_by_the_same_fitted_attacks(setting):
    """Choices are made on held-out validation images: every attack, fitted once, also reconstructs
    them; the scored rows are exactly those of a run without selection."""
    from helpers.training import held_out

    config, splits = setting
    config = dataclasses.replace(config, n_val=64)
    trained = train_classifier(config, splits, device="cpu")
    selection = held_out(splits, config.n_val)
    assert torch.equal(selection.index, splits.train.index[-64:])
    budget = SuiteBudget(decoder_epochs=1, decoder_depth=0, white_box_steps=3, hybrid_steps=3, shadow_epochs=1,
                         n_eval=8, n_eval_optimisation=3)
    attacks = ["inverse_network", "hybrid", "white_box", "mean_image"]
    plain, _, _ = run_suite(trained, splits, "pool1", budget=budget, attacks=attacks, device="cpu")
    table, recon, evaluation = run_suite(trained, splits, "pool1", budget=budget, attacks=attacks, device="cpu",
                                         selection=selection)
    scored = table[table.images == "test"].drop(columns="images").reset_index(drop=True)
    assert scored[["attack", "image", "mse"]].equals(plain[["attack", "image", "mse"]])
    chosen = table[table.images == "selection"]
    assert chosen.groupby("attack").size().to_dict() == {"inverse_network": 64, "hybrid": 3, "white_box": 3,
                                                         "mean_image": 64}
    # the mean-image baseline on the selection images, by hand
    by_hand = ((splits.aux.x.mean(0, keepdim=True) - selection.x) ** 2).mean(dim=(1, 2, 3))
    assert torch.allclose(torch.tensor(chosen[chosen.attack == "mean_image"].mse.to_numpy()), by_hand.double(),
                          atol=1e-6)
    with pytest.raises(ValueError, match="overlap the scored images"):
        run_suite(trained, splits, "pool1", budget=budget, attacks=["mean_image"], device="cpu",
                  selection=attacker_data(splits, AttackerKnowledge(), 8)[1])
    with pytest.raises(ValueError, match="overlap the attacker"):
        run_suite(trained, splits, "pool1", budget=budget, attacks=["mean_image"], device="cpu",
                  knowledge=AttackerKnowledge(aux="train_set"), selection=held_out(splits, 500))
