import pytest
import torch

from helpers import defenses
from helpers.data import load_dataset, split_dataset
from helpers.defenses import GaussianNoise, ObservedEdge, observe
from helpers.suite import AttackerKnowledge, SuiteBudget, attacker_data, run_suite
from helpers.train import TrainConfig, train_classifier


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
    # the scored images, the attacker's 128 aux queries, and the classification of the 16 reconstructions
    assert sorted(seen) == [16, 16, 128]
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


def test_all_attacks_run_and_hybrid_reuses_the_decoder(setting):
    config, splits = setting
    trained = train_classifier(config, splits, device="cpu")
    budget = SuiteBudget(decoder_epochs=1, white_box_steps=5, hybrid_steps=5, shadow_epochs=1, n_eval=8)
    table, recon, evaluation = run_suite(trained, splits, "relu3", budget=budget, device="cpu")
    assert set(table.attack) == {"inverse_network", "white_box", "hybrid", "query_free"}
    for x_hat in recon.values():
        assert x_hat.shape == evaluation.x.shape and 0 <= x_hat.min() and x_hat.max() <= 1
    fit = table.groupby("attack").seconds_fit.first()
    assert fit["hybrid"] == fit["inverse_network"]  # the same fitted decoder, trained once
    again, recon2, _ = run_suite(trained, splits, "relu3", budget=budget, device="cpu")  # from the cache
    assert all(torch.equal(recon[k], recon2[k]) for k in recon)
