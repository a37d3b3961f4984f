"""CEM's loss and mixture fit, and PATROL's local Lipschitz estimate, against hand-computed cases."""
import math

import pytest
import torch

from helpers.defenses.cem import ClassMixture, cem_loss, fit_class_mixture
from helpers.defenses.patrol import local_lipschitz


def _two_class_case():
    # class 0: (0,0), (2,0) around centroid (1,0): isotropic σ̂² = (1+0+1+0)/4 = 0.5
    # class 1: (5,5), (5,9) around centroid (5,7): σ̂² = (0+4+0+4)/4 = 2
    z = torch.tensor([[0.0, 0.0], [5.0, 5.0], [2.0, 0.0], [5.0, 9.0]], requires_grad=True)
    labels = torch.tensor([0, 1, 0, 1])
    mixture = ClassMixture(centroids=torch.tensor([[[1.0, 0.0]], [[5.0, 7.0]]]), weights=torch.ones(2, 1),
                           variances=torch.tensor([[0.5], [2.0]]))
    return z, labels, mixture


def test_cem_loss_hand_computed_two_classes():
    z, labels, mixture = _two_class_case()
    threshold = math.log(0.125 * 1.0 + 0.01)
    expected = (math.log(0.5 + 0.01) - threshold + math.log(2.0 + 0.01) - threshold) / 2
    assert cem_loss(z, labels, mixture, sigma=1.0).item() == pytest.approx(expected, rel=1e-6)
    # diagonal: class 0 has per-dim variances (1, 0), class 1 (0, 4); the hinge drops the dims below τσ²
    diagonal = ((math.log(1.01) - threshold) / 2 + (math.log(4.01) - threshold) / 2) / 2
    assert cem_loss(z, labels, mixture, sigma=1.0, variant="diagonal").item() == pytest.approx(diagonal, rel=1e-6)


def test_cem_loss_ignores_sample_order_and_validates():
    z, labels, mixture = _two_class_case()
    order = torch.tensor([3, 1, 0, 2])
    for variant in ("isotropic", "diagonal", "logdet"):
        a = cem_loss(z, labels, mixture, 1.0, variant=variant)
        b = cem_loss(z[order], labels[order], mixture, 1.0, variant=variant)
        assert a.item() == pytest.approx(b.item(), rel=1e-6)
    for bad in (dict(sigma=0.0), dict(sigma=1.0, variant="full"), dict(sigma=1.0, tau=-1.0)):
        with pytest.raises(ValueError):
            cem_loss(z, labels, mixture, **bad)
    with pytest.raises(ValueError):
        cem_loss(z, labels[:3], mixture, 1.0)


def test_cem_loss_has_zero_gradient_below_the_threshold():
    z, labels, mixture = _two_class_case()
    # σ = 10: τσ² = 12.5 is above both clusters' spread, so the hinge is flat
    loss = cem_loss(z, labels, mixture, sigma=10.0)
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(z.grad) == 0


def test_cem_loss_falls_when_features_contract_to_their_centroids():
    z, labels, mixture = _two_class_case()
    centres = torch.stack([mixture.centroids[c, 0] for c in labels.tolist()])
    losses = [cem_loss(centres + scale * (z.detach() - centres), labels, mixture, 1.0, variant=v).item()
              for v in ("isotropic", "logdet") for scale in (1.0, 0.5)]
    assert losses[1] < losses[0] and losses[3] < losses[2]


def test_class_mixture_fit_is_indexed_by_class_and_handles_small_classes():
    torch.manual_seed(0)
    a = torch.randn(40, 3) + torch.tensor([10.0, 0, 0])
    b = torch.randn(2, 3) - torch.tensor([10.0, 0, 0])
    z, labels = torch.cat([a, b]), torch.tensor([0] * 40 + [2] * 2)
    mixture = fit_class_mixture(z, labels, num_classes=3, k=3)
    assert torch.allclose(mixture.weights[0].sum(), torch.tensor(1.0))
    assert mixture.weights[1].sum() == 0 and torch.isnan(mixture.centroids[1]).all()  # absent class
    assert (mixture.weights[2] > 0).sum() == 2 and mixture.weights[2, 2] == 0       # 2 samples, k = 3
    assert mixture.centroids[0, :, 0].min() > 5 and mixture.centroids[2, :2, 0].max() < -5
    warm = fit_class_mixture(z, labels, num_classes=3, k=3, previous=mixture)
    assert torch.allclose(warm.centroids[0], mixture.centroids[0], atol=1e-5)


def test_local_lipschitz_equals_the_constant_of_linear_maps():
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(6, 6))
    scaled = torch.nn.Linear(6, 6, bias=True)
    with torch.no_grad():
        scaled.weight.copy_(3.0 * q)  # 3 × an orthogonal map: every ratio is exactly 3
    halve = torch.nn.Linear(6, 6, bias=False)
    with torch.no_grad():
        halve.weight.copy_(0.5 * torch.eye(6))
    k = local_lipschitz([scaled, halve], torch.randn(32, 6), delta_std=0.1, generator=torch.Generator().manual_seed(1))
    assert k.tolist() == pytest.approx([3.0, 0.5], rel=1e-4)
    # a general linear map: the estimate never exceeds the spectral norm
    w = torch.nn.Linear(6, 4, bias=False)
    estimate = local_lipschitz([w], torch.randn(64, 6), 0.1)[0]
    assert estimate <= torch.linalg.matrix_norm(w.weight, 2) + 1e-5
    with pytest.raises(ValueError):
        local_lipschitz([w], torch.randn(2, 6), 0.0)


def test_cem_plug_in_delegates_to_its_base_and_validates():
    from helpers.evaluation.defense_eval import label
    from helpers.defenses import CEM, Bottleneck, from_config
    from helpers.models import build_model, split

    cem = CEM({"defense": "noise", "sigma": 0.5}, weight=4.0)
    assert cem.sigma == 0.5 and cem.is_random and from_config(cem.config()).config() == cem.config()
    assert label(cem) == "cem base=[noise sigma=0.5] weight=4 sigma=0.5"
    on_bottleneck = CEM(Bottleneck(4).config(), sigma=0.1)
    edge, _ = split(on_bottleneck.build(build_model("vgg"), "pool2"), "pool2")
    assert edge(torch.rand(2, 1, 28, 28)).shape == (2, 4, 7, 7)  # the base's architecture
    with pytest.raises(ValueError, match="needs sigma"):
        CEM(Bottleneck(4).config())
    with pytest.raises(ValueError, match="itself"):
        CEM(cem.config())
    with pytest.raises(ValueError):
        CEM({"defense": "noise", "sigma": 0.5}, weight=-1.0)
    # the loss: the base's terms plus weight · cem_loss once a mixture is fitted
    z, labels, mixture = _two_class_case()
    x = torch.rand(4, 1, 28, 28)
    assert CEM({"defense": "noise", "sigma": 1.0}).edge_loss(x, z, labels) == 0.0  # no mixture yet (warm-up)
    plug = CEM({"defense": "nopeek", "weight": 1.0}, weight=2.0, sigma=1.0)
    plug.mixture = mixture
    from helpers.defenses.siftfunnel import distance_correlation

    expected = distance_correlation(x, z) + 2.0 * cem_loss(z, labels, mixture, 1.0)
    assert plug.edge_loss(x, z, labels).item() == pytest.approx(expected.item(), rel=1e-5)


def test_cem_training_tightens_the_class_clusters():
    import dataclasses

    from helpers.data import load_dataset, split_dataset
    from helpers.defenses import CEM, GaussianNoise
    from helpers.models import split
    from helpers.training import TrainConfig, train_classifier

    config = TrainConfig(n_train=512, n_test=64, n_aux=64, epochs=4, batch_size=64, width=4, lr=3e-3)
    splits = split_dataset(load_dataset("mnist5k"), **config.split_kwargs())
    spread = {}
    for name, defense in [("noise", GaussianNoise(0.3)), ("cem", CEM(GaussianNoise(0.3).config(), weight=20.0, k=2))]:
        trained = train_classifier(dataclasses.replace(config, defense=defense.config(), cut="pool2"), splits,
                                   device="cpu")
        edge, _ = split(trained.model, "pool2")
        with torch.no_grad():
            z = edge.eval()(splits.train.x)
        mixture = fit_class_mixture(z, splits.train.y, 10, k=2)
        spread[name] = cem_loss(z, splits.train.y, mixture, sigma=0.3).item()
    assert spread["cem"] < spread["noise"]  # measured: 1.69 -> 0.0 (every cluster below τσ²)


def test_cem_loss_matches_a_per_cluster_loop_with_several_clusters():
    torch.manual_seed(3)
    z = torch.randn(60, 2, 3, 3)
    labels = torch.randint(0, 4, (60,))
    mixture = fit_class_mixture(z, labels, num_classes=5, k=3)  # class 4 absent: weight 0
    flat, threshold = z.flatten(1), math.log(0.125 * 0.5 ** 2 + 0.01)
    for variant in ("isotropic", "diagonal"):
        totals = []
        for c in labels.unique().tolist():
            members = flat[labels == c]
            valid = mixture.weights[c] > 0
            centroids, weights = mixture.centroids[c][valid], mixture.weights[c][valid]
            assign = torch.cdist(members, centroids).argmin(1)
            total = 0.0
            for j in assign.unique().tolist():
                dev = members[assign == j] - centroids[j]
                var = (dev ** 2).mean() if variant == "isotropic" else (dev ** 2).mean(0)
                total += weights[j] * torch.relu(torch.log(var + 0.01) - threshold).mean()
            totals.append(total)
        expected = torch.stack(totals).mean()
        assert cem_loss(z, labels, mixture, 0.5, variant=variant).item() == pytest.approx(expected.item(), rel=1e-5)


def _recorded(mixture, num_samples, variances):
    """The hand-made mixture as if fitted on ``num_samples`` samples with these stored variances."""
    import dataclasses

    return dataclasses.replace(mixture, variances=torch.tensor(variances), num_samples=num_samples)


def test_cem_variance_blend_value_and_gradient_by_hand():
    z, labels, mixture = _two_class_case()
    # N = 80, 2 classes, π = 1: expected cluster size 40, 2 batch samples each: v = 10·2/40 = 0.5
    v, threshold = 0.5, math.log(0.125 + 0.01)
    batch_var = torch.tensor([0.5, 2.0])                 # s² of class 0 and 1 (see _two_class_case)
    stored = torch.tensor([1.0, 1.0])
    blended = v * batch_var + (1 - v) * stored             # 0.75 and 1.5
    loss = cem_loss(z, labels, _recorded(mixture, 80, [[1.0], [1.0]]), sigma=1.0)
    expected = ((math.log(0.75 + 0.01) - threshold) + (math.log(1.5 + 0.01) - threshold)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # d s²/dz_i = 2·dev_i/(n·D) = dev_i/2 (centroid fixed); each class weighs 1/2 in the mean
    loss.backward()
    deviation = z.detach() - torch.tensor([[1.0, 0.0], [5.0, 7.0], [1.0, 0.0], [5.0, 7.0]])
    per_class = (0.5 * v / (blended + 0.01))[labels]
    assert torch.allclose(z.grad, per_class[:, None] * deviation / 2, rtol=1e-5)


def test_cem_variance_blend_scales_the_gradient_by_v_exactly():
    # stored variances equal to the batch's: same loss value, gradient exactly v times the batch-only one
    for num_samples, v in ((80, 0.5), (400, 0.1), (8, 0.99)):  # v = min(10·2/(N/2), 0.99)
        grads, values = {}, {}
        for variance in ("blend", "batch"):
            z, labels, mixture = _two_class_case()
            loss = cem_loss(z, labels, _recorded(mixture, num_samples, [[0.5], [2.0]]), 1.0, variance=variance)
            loss.backward()
            grads[variance], values[variance] = z.grad, loss.item()
        assert values["blend"] == pytest.approx(values["batch"], rel=1e-6)
        assert torch.allclose(grads["blend"], v * grads["batch"], rtol=1e-5)
    with pytest.raises(ValueError):
        cem_loss(z, labels, mixture, 1.0, variance="stored")


def test_cem_variance_blend_diagonal_uses_per_dimension_stored_variances():
    import dataclasses

    z, labels, mixture = _two_class_case()
    # per-dimension batch variances: class 0 (1, 0), class 1 (0, 4); stored (3, 2) and (2, 0); v = 0.5
    recorded = dataclasses.replace(mixture, num_samples=80, dim_variances=torch.tensor([[[3.0, 2.0]], [[2.0, 0.0]]]))
    threshold = math.log(0.125 + 0.01)
    hinge = lambda values: sum(max(math.log(x + 0.01) - threshold, 0.0) for x in values) / 2  # noqa: E731
    expected = (hinge([2.0, 1.0]) + hinge([1.0, 2.0])) / 2
    assert cem_loss(z, labels, recorded, 1.0, variant="diagonal").item() == pytest.approx(expected, rel=1e-6)


def test_class_mixture_fit_records_what_the_blend_needs():
    z = torch.tensor([[0.0, 0.0], [2.0, 4.0], [10.0, 10.0], [10.0, 12.0], [11.0, 11.0]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    mixture = fit_class_mixture(z, labels, num_classes=2, k=1)
    assert mixture.num_samples == 5
    # class 0 around (1, 2): per-dim (1, 4); class 1 around (31/3, 11): per-dim (2/9, 2/3)
    assert torch.allclose(mixture.dim_variances[:, 0], torch.tensor([[1.0, 4.0], [2 / 9, 2 / 3]]))
    assert torch.allclose(mixture.variances[:, 0], torch.tensor([2.5, 4 / 9]))


def test_cem_default_is_the_blend_and_enters_the_config():
    from helpers.evaluation.defense_eval import label
    from helpers.defenses import CEM, from_config

    cem = CEM({"defense": "noise", "sigma": 0.5})
    assert cem.variance == "blend" and cem.params()["variance"] == "blend"
    batch = CEM({"defense": "noise", "sigma": 0.5}, variance="batch")
    assert from_config(batch.config()).variance == "batch" and batch.config() != cem.config()
    assert label(batch) == "cem base=[noise sigma=0.5] sigma=0.5 variance=batch"
    with pytest.raises(ValueError):
        CEM({"defense": "noise", "sigma": 0.5}, variance="stored")


def test_cem_blend_size_gives_the_gradient_the_paper_would_at_its_training_size():
    """v = 10·n_ck/(π_ck·N/K): at N = 80 (v = 0.5) the gradient is 5× the one v gets at N = 400 (0.1),
    the blend's value unchanged when the batch variance equals the stored one; blend_size = 400 on
    a mixture fitted on 80 samples gives exactly N = 400's gradient: the paper's λ at the paper's N."""
    grads = {}
    for num_samples, blend_size in ((80, None), (400, None), (80, 400)):
        z, labels, mixture = _two_class_case()
        cem_loss(z, labels, _recorded(mixture, num_samples, [[0.5], [2.0]]), 1.0, blend_size=blend_size).backward()
        grads[(num_samples, blend_size)] = z.grad
    assert torch.allclose(grads[(80, None)], 5 * grads[(400, None)], rtol=1e-5)
    assert torch.allclose(grads[(80, 400)], grads[(400, None)], rtol=1e-6)


def test_cem_blend_size_enters_the_config_only_when_set():
    from helpers.defenses import CEM, from_config
    from helpers.defenses.cem import PAPER_TRAINING_SIZE
    from helpers.evaluation.grids import CEM_PLUGIN

    ours = CEM({"defense": "noise", "sigma": 0.5})
    assert "blend_size" not in ours.params()   # results trained before the option keep their keys
    paper = CEM({"defense": "noise", "sigma": 0.5}, blend_size=PAPER_TRAINING_SIZE)
    assert from_config(paper.config()).blend_size == 50_000 and paper.config() != ours.config()
    assert CEM_PLUGIN["blend_size"] == PAPER_TRAINING_SIZE, "the notebooks' plug-in runs at the paper's strength"
    for bad in (0, 2.5, "big"):
        with pytest.raises(ValueError, match="blend_size"):
            CEM({"defense": "noise", "sigma": 0.5}, blend_size=bad)
