"""Stacked defenses, CEM's mixture refit and ramp, and PATROL's pruning to an edge budget."""
import dataclasses

import pytest
import torch

from helpers.defenses import CEM, Patrol, Stack, from_config
from helpers.defenses.cem import fit_class_mixture
from helpers.defenses.patrol import ChannelGate, edge_cost_of, prune_edge, prune_to_budget, _conv_layout
from helpers.models import build_model, cut_points, split

NOISE, DROPOUT = {"defense": "noise", "sigma": 0.5}, {"defense": "dropout", "rate": 0.5}


def test_stack_applies_its_parts_in_order_and_validates():
    stack = Stack([NOISE, DROPOUT])
    z = torch.rand(3, 4, 5, 5)
    # the same generator stream, drawn in the same order: noise first, then the dropout mask
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    expected = from_config(DROPOUT).observe(from_config(NOISE).observe(z, g1), g1)
    assert torch.equal(stack.observe(z, g2), expected)
    assert stack.is_random and stack.sigma == 0.5 and from_config(stack.config()).config() == stack.config()
    assert CEM(stack.config()).sigma == 0.5  # CEM's hinge takes the stack's noise level
    edge, _ = split(Stack([{"defense": "bottleneck", "channels": 3}, NOISE]).build(build_model("vgg"), "pool2"), "pool2")
    assert edge(torch.rand(2, 1, 28, 28)).shape == (2, 3, 7, 7)
    for bad in ([NOISE], [NOISE, {"defense": "cem", "base": NOISE}], [{"defense": "none"}, NOISE],
                [{"defense": "label_smoothing", "alpha": 0.1}, {"defense": "siftfunnel"}]):
        with pytest.raises(ValueError):
            Stack(bad)


def test_stack_adds_the_losses_of_its_parts():
    from helpers.defenses.siftfunnel import distance_correlation

    x, z = torch.rand(6, 1, 28, 28), torch.rand(6, 8)
    loss = Stack([NOISE, {"defense": "nopeek", "weight": 3.0}]).edge_loss(x, z)
    assert loss.item() == pytest.approx(3.0 * distance_correlation(x, z).item(), rel=1e-6)


def test_cem_refits_on_the_batches_it_saw_and_ramps_its_weight():
    cem = CEM(NOISE, k=2, ramp=True)
    edge = torch.nn.Sequential(torch.nn.Flatten())
    x, y = torch.rand(40, 1, 4, 4), torch.arange(40) % 3
    cem.before_epoch(edge, x, y, 1, 8)  # warm-up: nothing fitted
    assert cem.mixture is None
    batches = [(x[:20] * 2, y[:20]), (x[20:] * 2, y[20:])]  # "edge outputs" other than edge(x)
    for xb, yb in batches:
        cem.edge_loss(xb, xb, yb)
    cem.before_epoch(edge, x, y, 2, 8)
    reference = fit_class_mixture(x * 2, y, 3, k=2, seed=2)
    assert torch.allclose(cem.mixture.centroids, reference.centroids, equal_nan=True)
    assert cem._factor == 0.02  # epochs 1-2 of 8: the first quarter of the paper's ramp
    cem.before_epoch(edge, x, y, 7, 8)  # no batches seen this time: falls back to a pass over x
    assert cem._factor == 1.0 and torch.isfinite(cem.mixture.centroids[0]).all()


def _gated(width=4, cut="pool2", budget=1.0, metric="flops"):
    return Patrol(budget, metric).build(build_model("vgg", width=width), cut)


def test_pruning_switches_off_the_smallest_masks_until_the_budget_holds():
    model = _gated()  # convs relu1 1→4, relu2 4→4, relu3 4→8 (gated), relu4 8→8 (z)
    layout = _conv_layout(model, "pool2")
    assert [e["gated"] for e in layout] == [True, True, True, False]
    assert [e["pixels"] for e in layout] == [784, 784, 196, 196]
    # hand-computed FLOPs: 2·9·(1·4·784 + 4·4·784 + 4·8·196 + 8·8·196)
    assert edge_cost_of(layout, [4, 4, 8, 8], 1, "flops") == 2 * 9 * (1 * 4 * 784 + 16 * 784 + 32 * 196 + 64 * 196)
    assert edge_cost_of(layout, [4, 4, 8, 8], 1, "flops") == cut_points(build_model("vgg", width=4))[5].edge_flops
    gates = [m for m in model.modules() if isinstance(m, ChannelGate)]
    gates[1].mask.data[3], gates[0].mask.data[0] = 0.1, -0.2  # |m| = 0.1 and 0.2; all others 1
    edge, _ = split(model, "pool2")
    limit = edge_cost_of(layout, [4, 3, 8, 8], 1, "flops")
    assert prune_to_budget(edge, gates, (1, 28, 28), limit, "flops") == 1
    assert gates[1].alive.tolist() == [1, 1, 1, 0] and gates[0].alive.sum() == 4
    limit = edge_cost_of(layout, [3, 3, 8, 8], 1, "flops")
    assert prune_to_budget(edge, gates, (1, 28, 28), limit, "flops") == 1
    assert gates[0].alive.tolist() == [0, 1, 1, 1]


@pytest.mark.parametrize("metric", ["flops", "params"])
def test_pruned_edge_is_smaller_meets_the_budget_and_computes_the_same(metric):
    torch.manual_seed(0)
    full = {p.name: p for p in cut_points(build_model("vgg"))}
    budget = full["pool1"].edge_flops / 1e6 if metric == "flops" else full["pool2"].edge_params // 2
    patrol = Patrol(budget, metric)
    model = patrol.build(build_model("vgg"), "pool3")
    for gate in model.modules():
        if isinstance(gate, ChannelGate):
            gate.mask.data = torch.rand_like(gate.mask) - 0.3  # some negative: the gate uses |m|
    model.train()(torch.rand(64, 1, 28, 28))  # BatchNorm statistics other than the defaults
    edge, _ = split(model, "pool3")
    patrol.before_epoch(edge, torch.rand(8, 1, 28, 28), torch.zeros(8).long(), 1, 1)  # prunes
    model.eval()
    pruned = patrol.deploy(model, "pool3")
    x = torch.rand(16, 1, 28, 28)
    assert torch.allclose(pruned(x), model(x), atol=1e-5)
    assert split(pruned, "pool3")[0](x).shape == split(model, "pool3")[0](x).shape == (16, 128, 3, 3)
    cost = {p.name: p for p in cut_points(pruned)}["pool3"]
    counted = cost.edge_flops / 1e6 if metric == "flops" else cost.edge_params
    assert counted <= budget < (full["pool3"].edge_flops / 1e6 if metric == "flops" else full["pool3"].edge_params)
    assert not any(isinstance(m, ChannelGate) for m in pruned.modules())
    # the attacker's copy of the deployed architecture has the same channels switched off
    shadow = patrol.match_architecture(patrol.build(build_model("vgg"), "pool3"), model)
    assert all(torch.equal(a, b) for (n, a), (_, b) in zip(shadow.named_buffers(), model.named_buffers()) if "alive" in n)


def test_patrol_validates_before_training():
    for bad in (lambda: Patrol(0.01).build(build_model("vgg"), "pool3"),   # below one channel per layer
                lambda: Patrol(10.0).build(build_model("resnet"), "block2"),
                lambda: Patrol(10.0).build(build_model("vgg"), "fc1"),
                lambda: Patrol(10.0).build(build_model("vgg"), "relu1"),
                lambda: Patrol(-1.0), lambda: Patrol(1.0, metric="latency"), lambda: Patrol(1.0, lipschitz=-1.0)):
        with pytest.raises(ValueError):
            bad()


def test_patrol_training_meets_the_budget_and_lipschitz_term_contracts_the_edge():
    from helpers.data import load_dataset, split_dataset
    from helpers.defenses.patrol import local_lipschitz
    from helpers.training import TrainConfig, accuracy, train_classifier

    config = TrainConfig(n_train=384, n_test=64, n_aux=64, epochs=2, batch_size=64, width=4, lr=3e-3)
    splits = split_dataset(load_dataset("mnist5k"), **config.split_kwargs())
    budget = cut_points(build_model("vgg", width=4))[2].edge_flops / 1e6  # the pool1 edge's FLOPs
    slopes = {}
    for weight in (0.0, 1.0):
        patrol = Patrol(budget, lipschitz=weight)
        trained = train_classifier(dataclasses.replace(config, defense=patrol.config(), cut="pool2"), splits, device="cpu")
        deployed = trained.defense.deploy(trained.model, "pool2")
        assert {p.name: p for p in cut_points(deployed)}["pool2"].edge_flops / 1e6 <= budget
        assert accuracy(deployed, splits.test.x, splits.test.y) == trained.test_accuracy
        edge = split(deployed, "pool2")[0].eval()
        with torch.no_grad():
            slopes[weight] = local_lipschitz(list(edge.children()), splits.test.x, 0.1,
                                             torch.Generator().manual_seed(0)).prod().item()
    assert slopes[1.0] < slopes[0.0]


def test_gaussian_entropy_upper_matches_closed_forms():
    import math

    from helpers.theory import gaussian_entropy_upper

    std = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    x = torch.randn(200000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * std
    exact = 0.5 * (3 * math.log(2 * math.pi * math.e) + float((std ** 2).log().sum()))
    assert gaussian_entropy_upper(x, levels=None) == pytest.approx(exact, abs=0.01)
    # constant images: only the dequantisation variance 1/(12·255²) per pixel is left
    constant = torch.zeros(50, 1, 2, 2)
    assert gaussian_entropy_upper(constant) == pytest.approx(2 * math.log(2 * math.pi * math.e / (12 * 255 ** 2)))


def test_labels_of_stacks_and_cem_plug_ins():
    from helpers.evaluation.defense_eval import label

    stack = Stack([NOISE, {"defense": "bottleneck", "channels": 8}])
    assert label(stack) == "noise sigma=0.5 + bottleneck channels=8"
    assert label(CEM(stack.config(), ramp=True)) == "cem base=[noise sigma=0.5 + bottleneck channels=8] sigma=0.5 ramp=True"
