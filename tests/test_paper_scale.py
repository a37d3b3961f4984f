"""The ``paper`` scale on a CPU, in seconds: every architecture on 3×32×32 and 3×64×64 CIFAR-10
inputs, and every defense the notebooks configure, builds, trains one step and is attacked once
with the paper's attack budgets (steps cut to one).

The images come from a small CIFAR-10 folder the test writes (real mnist5k digits, tinted, in the
official ``cifar-10-batches-py`` format) and are read by the real folder loader; ``cifar10-64`` is
the same files upsampled as GPZ and SiftFunnel train on them.
"""
import pickle

import numpy as np
import pytest
import torch

from helpers.pipeline import run as pipeline
from helpers.core import paths
from helpers.core.config import SCALES
from helpers.data import load_dataset, split_dataset
from helpers.evaluation.defense_eval import defense_grid, evaluate_defense, train_defended
from helpers.evaluation.grids import DEFENSE_GRID, benchmark_grid, cem_setting
from helpers.defenses import Patrol, Stack, from_config
from helpers.models import ARCHS, build_model, cut_points
from helpers.evaluation.harness import ATTACKS, SuiteBudget, run_suite
from helpers.training import TrainConfig, train_classifier

PAPER = SCALES["paper"]
PER_BATCH = 16   # 6 batch files: 80 target-train/aux images and 16 test images
CUTS = {"vgg": "pool2", "resnet": "block2", "constant": "conv3"}


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    """A cifar-10-batches-py folder holding 96 real digits, padded to 32×32 and tinted per class."""
    root = tmp_path_factory.mktemp("cifar")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    digits = load_dataset("mnist5k")
    x = torch.nn.functional.pad(digits.x[:6 * PER_BATCH], (2, 2, 2, 2))            # N×1×32×32
    tint = torch.stack([torch.tensor([1.0, 0.5 + 0.05 * c, 1.0 - 0.08 * c]) for c in range(10)])
    rgb = (x * tint[digits.y[:len(x)]][:, :, None, None] * 255).round().to(torch.uint8)  # N×3×32×32
    names = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        part = slice(i * PER_BATCH, (i + 1) * PER_BATCH)
        batch = {"data": rgb[part].reshape(PER_BATCH, -1).numpy(), "labels": digits.y[part].tolist()}
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle)
    return root


def paper_setup(root, dataset: str, arch: str = "vgg"):
    data = load_dataset(dataset, root=root, download=False)
    config = TrainConfig.from_scale(PAPER, data=data, arch=arch, n_val=PAPER.n_val, epochs=1)
    return data, config, split_dataset(data, **config.split_kwargs())


def one_step_budget() -> SuiteBudget:
    """The paper's attack budgets (decoder width 64 with its extra conv, 500 optimised images), with
    every loop cut to one pass."""
    return SuiteBudget.from_scale(PAPER, decoder_epochs=1, white_box_steps=1, hybrid_steps=1, shadow_epochs=1)


@pytest.mark.parametrize("dataset, side", [("cifar10", 32), ("cifar10-64", 64)])
def test_the_folder_loader_gives_the_papers_inputs(cifar_root, dataset, side):
    data, config, splits = paper_setup(cifar_root, dataset)
    assert data.x.shape == (96, 3, side, side) and 0 <= data.x.min() and data.x.max() <= 1
    assert int(data.is_test.sum()) == PER_BATCH and data.classes[0] == "airplane"
    # paper sizes shrink to the folder: 16 test images, the other 80 split 50000:10000; validation in proportion
    assert (config.n_train, config.n_test, config.n_aux, config.n_val) == (66, 16, 13, 6)
    assert config.epochs == 1 and config.batch_size == PAPER.batch_size
    if side == 64:   # the upsampled digit keeps its mean brightness
        small = load_dataset("cifar10", root=cifar_root, download=False)
        assert torch.allclose(data.x.mean(dim=(2, 3)), small.x.mean(dim=(2, 3)), atol=0.02)


@pytest.mark.parametrize("dataset", ["cifar10", "cifar10-64"])
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_architecture_trains_and_is_attacked_at_paper_scale(cifar_root, dataset, arch):
    data, config, splits = paper_setup(cifar_root, dataset, arch)
    trained = train_classifier(config, splits, device="cpu")
    assert len(trained.history) == 1 and np.isfinite(trained.history[-1]["loss"])
    table, recon, evaluation = run_suite(trained, splits, CUTS[arch], budget=one_step_budget(), device="cpu")
    assert set(table.attack) == set(ATTACKS) and len(evaluation) == config.n_test
    for name, x_hat in recon.items():   # paper scale optimises every scored image
        assert x_hat.shape == evaluation.x.shape and torch.isfinite(x_hat).all(), name
    assert table.mse.notna().all() and table.ssim.notna().all()


def notebook_defenses(vgg, cut: str) -> list:
    """(defense, cut) for every defense notebooks 04-07 configure by default, as they build them."""
    p04 = pipeline.check_parameters(paths.NOTEBOOKS / "04_siftfunnel.ipynb", {})
    p05 = pipeline.check_parameters(paths.NOTEBOOKS / "05_cem.ipynb", {})
    p06 = pipeline.check_parameters(paths.NOTEBOOKS / "06_patrol.ipynb", {})
    p07 = pipeline.check_parameters(paths.NOTEBOOKS / "07_defense_benchmark.ipynb", {})
    flops = {p.name: p.edge_flops / 1e6 for p in cut_points(vgg)}
    noise = {"defense": "noise", "sigma": p05["sigma"]}
    setting = cem_setting(p05["cem"])
    cem = [from_config({"defense": "cem", "base": b, **{**setting, "weight": w}})
           for b in [noise] + [Stack([noise, {"defense": n, **q}]).config() for n, q in p05["stacked"].items()]
           for w in [setting["weight"], *p05["fallback_weights"]]]
    patrol_06 = Patrol(budget=flops[p06["shallow_cut"]], metric="flops", sparsity=p06["sparsity"],
                       prune_at=p06["prune_at"], lipschitz=p06["lipschitz"], adversarial=p06["adversarial"])
    grid = (defense_grid(p04["defenses"] or DEFENSE_GRID) + defense_grid(p07["defenses"] or benchmark_grid())
            + cem)
    unique = {str(d.config()): (d, cut) for d in grid}
    patrol_07 = Patrol(budget=flops[p07["cut"]], metric="flops", **p07["patrol"])
    return list(unique.values()) + [(patrol_06, p06["deep_cut"]), (patrol_07, p07["patrol_cut"])]


def test_every_notebook_defense_trains_and_is_attacked_at_paper_scale(cifar_root):
    data, config, splits = paper_setup(cifar_root, "cifar10-64")
    vgg = build_model("vgg", data.image_shape)
    defenses = notebook_defenses(vgg, "pool2")
    names = {d.name for d, _ in defenses}
    assert {"noise", "dropout", "topk", "nopeek", "bottleneck", "adversarial", "label_smoothing", "siftfunnel",
            "stack", "cem", "patrol"} <= names
    for defense, cut in defenses:
        trained = train_defended(config, splits, defense, cut, device="cpu")
        row, table, recon, evaluation = evaluate_defense(trained, splits, cut, one_step_budget(),
                                                         attacks=["inverse_network"], seed=0, device="cpu",
                                                         probes=False)
        assert np.isfinite(row["accuracy"]) and np.isfinite(row["mse_best"]), defense
        assert np.isfinite(row["val_mse_best"]), defense   # the validation images are attacked too
        assert recon["inverse_network"].shape == evaluation.x.shape
