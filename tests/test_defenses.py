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
    from helpers.training import TrainConfig

    config = TrainConfig(n_train=384, n_test=64, n_aux=64, epochs=2, batch_size=64, width=4, lr=3e-3)
    return config, split_dataset(load_dataset("mnist5k"), **config.split_kwargs())


def test_defended_training_validates_and_keys_the_cache():
    import dataclasses

    from helpers.defenses import GaussianNoise, from_config
    from helpers.training import TrainConfig

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
    from helpers.training import train_classifier

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
    from helpers.evaluation.harness import SuiteBudget, run_suite
    from helpers.training import train_classifier

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


def test_gaussian_noise_has_the_documented_variance():
    from helpers.defenses import GaussianNoise

    z = torch.full((4000, 50), 3.0)
    noisy = observe(z, GaussianNoise(0.5), torch.Generator().manual_seed(0))
    assert (noisy - z).mean().item() == pytest.approx(0.0, abs=0.005)
    assert (noisy - z).var().item() == pytest.approx(0.25, rel=0.02)
    assert torch.equal(observe(z, GaussianNoise(0.0)), z)


@pytest.mark.parametrize("bad", [dict(defense="bottleneck", channels=0), dict(defense="label_smoothing", alpha=1.0),
                                 dict(defense="label_smoothing", alpha=-0.1), dict(defense="adversarial", weight=-1.0),
                                 dict(defense="siftfunnel", channels=0), dict(defense="siftfunnel", beta=-2.0),
                                 dict(defense="siftfunnel", alpha=0.0), dict(defense="dropout", rate=1.0),
                                 dict(defense="topk", keep=0.0)])
def test_bad_strengths_raise_value_error(bad):
    from helpers.defenses import from_config

    with pytest.raises(ValueError):
        from_config(bad)


def test_architecture_defenses_keep_the_cut_and_shrink_the_payload():
    from helpers.defenses import Bottleneck, SiftFunnel
    from helpers.models import build_model, cut_table, split

    vgg = build_model("vgg")
    x = torch.rand(3, 1, 28, 28)
    for defense, cut, shape in [(Bottleneck(4), "pool2", (4, 7, 7)), (Bottleneck(8), "fc1", (8,)),
                                (SiftFunnel(channels=4), "pool2", (4, 7, 7)), (SiftFunnel(), "pool2", (8, 7, 7)), (SiftFunnel(channels=2), "pool1", (2, 14, 14)),
                                (SiftFunnel(), "pool3", (8, 3, 3))]:
        model = defense.build(vgg, cut)
        edge, cloud = split(model, cut)
        z = edge(x)
        assert tuple(z.shape[1:]) == shape and cloud(z).shape == (3, 10)
        assert torch.allclose(cloud(z), model(x))
    # the funnel replaces relu2..relu4: the edge is lighter than the undefended one at the same cut
    plain, funnelled = cut_table(vgg).loc["pool2"], cut_table(SiftFunnel(channels=4).build(vgg, "pool2")).loc["pool2"]
    assert funnelled.payload == 196 and plain.payload == 3136
    assert funnelled.edge_params * 10 < plain.edge_params and funnelled.edge_MFLOPs * 10 < plain.edge_MFLOPs
    assert (SiftFunnel().build(vgg, "pool2")(x) >= -1e9).all()  # runs end to end
    for bad in [lambda: SiftFunnel().build(vgg, "relu2"), lambda: SiftFunnel().build(vgg, "fc1"),
                lambda: SiftFunnel().build(build_model("resnet"), "block2"), lambda: Bottleneck(2).build(vgg, "logits")]:
        with pytest.raises(ValueError):
            bad()


def test_siftfunnel_loss_terms_and_a_training_step_lowers_the_loss():
    from helpers.defenses import SiftFunnel
    from helpers.models import build_model, split
    from helpers.training import smoothed_targets, soft_cross_entropy

    torch.manual_seed(0)
    defense = SiftFunnel()
    assert (defense.task_weight, defense.label_smoothing) == (5.0, 0.25)
    model = defense.build(build_model("vgg"), "pool2")
    edge, cloud = split(model, "pool2")
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss_value():
        z = edge(x)
        task = soft_cross_entropy(cloud(z), smoothed_targets(y, 10, defense.label_smoothing))
        return defense.task_weight * task + defense.edge_loss(x, z)

    model.train()
    before = loss_value()
    z = edge(x)
    expected = 0.03 * z.abs().mean() + 2 * pearson_channel_penalty(z) + 2 * distance_correlation(x, z)
    assert defense.edge_loss(x, z).item() == pytest.approx(expected.item(), rel=1e-5)
    for _ in range(5):
        optimizer.zero_grad()
        loss = loss_value()
        loss.backward()
        optimizer.step()
    assert loss_value().item() < before.item()


def test_label_smoothing_defense_sets_the_training_targets():
    import dataclasses

    from helpers.defenses import LabelSmoothing

    config, _ = _setting()
    defended = dataclasses.replace(config, defense=LabelSmoothing(0.3).config(), cut="fc1")
    assert defended.target_smoothing == 0.3 and config.target_smoothing == 0.0
    with pytest.raises(ValueError, match="label smoothing itself"):
        dataclasses.replace(defended, label_smoothing=0.1)


def test_adversarial_training_makes_its_own_decoder_worse():
    """The edge's term is minus the simulated decoder's MSE; the decoder itself steps to lower it."""
    from helpers.defenses import AdversarialTraining

    torch.manual_seed(0)
    defense = AdversarialTraining(weight=1.0, width=8)
    x, z = torch.rand(16, 1, 28, 28), torch.randn(16, 4, 7, 7, requires_grad=True)
    term = defense.edge_loss(x, z)
    decoder_mse = torch.nn.functional.mse_loss(defense._decoder(z), x)
    assert term.item() == pytest.approx(-decoder_mse.item(), rel=1e-5)
    term.backward()
    step = z - 10.0 * z.grad  # a step down the edge's term raises the decoder's error
    with torch.no_grad():
        assert torch.nn.functional.mse_loss(defense._decoder(step), x) > decoder_mse
    assert AdversarialTraining(weight=0.0).edge_loss(x, z) == 0.0


def test_defense_grid_validates_everything_before_training():
    from helpers.evaluation.defense_eval import defense_grid, edge_cost, label
    from helpers.defenses import Bottleneck, SiftFunnel
    from helpers.models import build_model

    grid = defense_grid({"noise": [{"sigma": 0.5}, {"sigma": 1.5}], "siftfunnel": [{}]})
    assert [label(d) for d in grid] == ["noise sigma=0.5", "noise sigma=1.5", "siftfunnel"]
    assert label(SiftFunnel(channels=4, beta=0.0)) == "siftfunnel channels=4 beta=0"  # every non-default
    with pytest.raises(ValueError, match="unknown defense"):
        defense_grid({"noise": [{"sigma": 0.5}], "magic": [{}]})
    with pytest.raises(ValueError, match="sigma"):
        defense_grid({"noise": [{"sigma": -0.5}]})
    vgg = build_model("vgg")
    plain, narrow = edge_cost(vgg, "pool2"), edge_cost(Bottleneck(4).build(vgg, "pool2"), "pool2")
    assert (plain["payload"], narrow["payload"]) == (64 * 7 * 7, 4 * 7 * 7)
    # the bottleneck adds exactly one 3×3 conv (64·4·9 weights) and a BatchNorm (2·4) to the edge
    assert narrow["edge_params"] - plain["edge_params"] == 64 * 4 * 9 + 2 * 4
    assert edge_cost(SiftFunnel().build(vgg, "pool2"), "pool2")["payload"] == 8 * 7 * 7


def test_architecture_version_is_part_of_the_config():
    from helpers.defenses import SiftFunnel, from_config

    config = SiftFunnel().config()
    assert config["version"] == SiftFunnel.version and from_config(config).config() == config
    with pytest.raises(ValueError, match="version"):
        from_config({**config, "version": SiftFunnel.version - 1})  # weights of an older architecture
    assert "version" not in from_config({"defense": "noise", "sigma": 0.1}).config()
