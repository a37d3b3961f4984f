import math

import pytest
import torch

from helpers.defenses import Dropout, TopK, observe
from helpers.defenses.siftfunnel import distance_correlation, pearson_channel_penalty


def test_dropout_zeroes_the_documented_share():
    z = torch.ones(200, 500)
    out = observe(z, Dropout(0.3), torch.Generator().manual_seed(0))
    assert abs((out == 0).float().mean().item() - 0.3) < 0.005
    assert set(out.unique().tolist()) == {0.0, 1.0}  # kept values are not rescaled
    assert torch.equal(observe(z, Dropout(0.0)), z)
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="rate"):
            Dropout(bad)


def test_topk_keeps_k_per_sample_independent_of_the_batch():
    z = torch.tensor([[0.1, -5.0, 2.0, 0.3], [4.0, 0.0, -0.2, 1.0]])
    out = observe(z, TopK(0.5))
    assert out.tolist() == [[0.0, -5.0, 2.0, 0.0], [4.0, 0.0, 0.0, 1.0]]
    assert torch.equal(observe(z[:1], TopK(0.5)), out[:1])  # the same sample alone: the same result
    big = torch.randn(10, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    kept = (observe(big, TopK(0.25)) != 0).flatten(1).sum(1)
    assert kept.tolist() == [48] * 10 and observe(big, TopK(0.25)).shape == big.shape
    for bad in (0.0, 1.5, -1):
        with pytest.raises(ValueError, match="keep"):
            TopK(bad)


def test_distance_correlation_known_values():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 5, generator=g)
    assert distance_correlation(x, x).item() == pytest.approx(1.0, abs=1e-6)
    # invariant to scaling and translation of either side
    assert distance_correlation(x, 3 * x + 7).item() == pytest.approx(1.0, abs=1e-6)
    y = torch.randn(300, 3, generator=g)
    base = distance_correlation(x, y).item()
    assert distance_correlation(2 * x - 1, 0.5 * y + 4).item() == pytest.approx(base, abs=1e-6)
    assert distance_correlation(torch.randn(1000, 2, generator=g), torch.randn(1000, 2, generator=g)).item() < 0.02
    # hand-computed: x = (0, 1, 2), z = (0, 1, 0) gives dCov² 8/81, 40/81, 16/81, so dCor² = 1/√10
    hand = distance_correlation(torch.tensor([[0.0], [1.0], [2.0]]), torch.tensor([[0.0], [1.0], [0.0]]))
    assert hand.item() == pytest.approx(1 / math.sqrt(10), abs=1e-7)
    # an empirical product distribution: exactly 0
    grid_x, grid_z = torch.tensor([[0.0], [0.0], [1.0], [1.0]]), torch.tensor([[0.0], [1.0], [0.0], [1.0]])
    assert distance_correlation(grid_x, grid_z).item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError):
        distance_correlation(x, y[:10])


def test_distance_correlation_has_gradients():
    z = torch.randn(16, 4, requires_grad=True)
    distance_correlation(torch.randn(16, 1, 4, 4), z).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()


def test_pearson_penalty_on_hand_made_channels():
    a = torch.tensor([1.0, -1.0, 1.0, -1.0])
    b = torch.tensor([1.0, 1.0, -1.0, -1.0])
    correlated = torch.stack([a, 2 * a + 1]).view(1, 2, 2, 2)
    anti = torch.stack([a, -a]).view(1, 2, 2, 2)
    orthogonal = torch.stack([a, b]).view(1, 2, 2, 2)
    assert pearson_channel_penalty(correlated).item() == pytest.approx(1.0, abs=1e-6)
    assert pearson_channel_penalty(anti).item() == pytest.approx(1.0, abs=1e-6)
    assert pearson_channel_penalty(orthogonal).item() == pytest.approx(0.5, abs=1e-6)  # diagonal only: 2/4
    batch = torch.cat([correlated, orthogonal])
    assert pearson_channel_penalty(batch).item() == pytest.approx(0.75, abs=1e-6)  # averaged over samples
    with pytest.raises(ValueError, match="N×C×H×W"):
        pearson_channel_penalty(torch.randn(4, 8))


def _setting():
    from helpers.data import load_dataset, split_dataset
    from helpers.train import TrainConfig

    config = TrainConfig(n_train=384, n_test=64, n_aux=64, epochs=2, batch_size=64, width=4, lr=3e-3)
    return config, split_dataset(load_dataset("mnist5k"), **config.split_kwargs())


def test_defended_training_validates_and_keys_the_cache():
    import dataclasses

    from helpers.defenses import GaussianNoise, from_config
    from helpers.train import TrainConfig

    config, _ = _setting()
    with pytest.raises(ValueError, match="cut point"):
        TrainConfig(defense=GaussianNoise(0.1).config())
    with pytest.raises(ValueError, match="unknown defense"):
        TrainConfig(defense={"defense": "magic"}, cut="pool1")
    with pytest.raises(ValueError, match="sigma"):
        TrainConfig(defense={"defense": "noise", "sigma": -1.0}, cut="pool1")
    with pytest.raises(ValueError, match="unknown cut"):
        TrainConfig(defense=GaussianNoise(0.1).config(), cut="nowhere")
    assert "defense" not in config.cache_fields()  # undefended keys are unchanged
    defended = dataclasses.replace(config, defense=GaussianNoise(0.1).config(), cut="pool1")
    assert defended.cache_fields()["defense"] == {"defense": "noise", "sigma": 0.1}
    assert isinstance(from_config(defended.defense), GaussianNoise)


def test_nopeek_training_lowers_distance_correlation():
    import dataclasses

    from helpers.attacks import edge_features
    from helpers.defenses import NoPeek
    from helpers.models import split
    from helpers.train import train_classifier

    config, splits = _setting()
    x = splits.test.x[:64]
    dcor = {}
    for weight in (0.0, 5.0):
        trained = train_classifier(dataclasses.replace(config, epochs=6, defense=NoPeek(weight).config(),
                                                       cut="pool1"), splits, device="cpu")
        dcor[weight] = distance_correlation(x, edge_features(split(trained.model, "pool1")[0], x)).item()
    assert dcor[5.0] < dcor[0.0] - 0.05  # measured: 0.96 -> 0.83


def test_noise_trained_classifier_is_attacked_through_its_noise():
    import dataclasses

    from helpers.defenses import GaussianNoise
    from helpers.suite import SuiteBudget, run_suite
    from helpers.train import train_classifier

    config, splits = _setting()
    trained = train_classifier(dataclasses.replace(config, defense=GaussianNoise(0.5).config(), cut="pool1"),
                               splits, device="cpu")
    table, _, _ = run_suite(trained, splits, "pool1", budget=SuiteBudget(n_eval=8), attacks=["mean_image"],
                            device="cpu")
    assert set(table.defense) == {"noise"}
    with pytest.raises(ValueError, match="attack it there"):
        run_suite(trained, splits, "fc1", budget=SuiteBudget(n_eval=8), attacks=["mean_image"], device="cpu")
    with pytest.raises(ValueError, match="trained with"):
        run_suite(trained, splits, "pool1", GaussianNoise(0.1), budget=SuiteBudget(n_eval=8),
                  attacks=["mean_image"], device="cpu")
