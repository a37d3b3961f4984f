"""Attack throughput at `quick` settings, and the share of time spent outside the model's forward/backward.

Run through ``benchmarks/run.py`` (all benchmarks in one run, one RESULTS.md). For each attack at a
shallow and a deep cut of the quick VGG-style model on mnist5k: fit seconds, reconstructions per
second (reconstruction only, and amortised over fit + reconstruction of the scored images), and the
share of time that is not the model's own forward+backward. That share is measured, not profiled:
the same forward+backward passes (same shapes, same model) are timed alone in a tight loop, and
``share outside = 1 − pure time / attack time``. "Outside" is everything else: loss arithmetic,
the TV prior, the optimiser, clamping, batching, validation and copying the best weights.
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from helpers.attacks import InverseNetworkAttack, QueryFreeShadowAttack, WhiteBoxOptimizationAttack, edge_features
from helpers.config import get_scale
from helpers.data import load_dataset, split_dataset
from helpers.models import build_model, split
from helpers.suite import SuiteBudget
from helpers.train import TrainConfig, train_classifier

CUTS = ("pool1", "pool3")


def _per_call(fn, calls: int, warmup: int = 3, repeats: int = 5) -> float:
    """Seconds per call: the fastest of ``repeats`` blocks (the least disturbed by other load), so the
    "outside" share derived from it is an upper bound."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def pure_edge_step(edge, x: torch.Tensor) -> float:
    """Seconds of one forward + backward (to the input) of the edge on the batch ``x``."""
    x = x.clone().requires_grad_(True)
    with torch.no_grad():
        upstream = torch.randn_like(edge(x))  # a dense output gradient, like the feature loss gives
    return _per_call(lambda: torch.autograd.grad(edge(x), x, grad_outputs=upstream), calls=5)


def pure_decoder_step(attack: InverseNetworkAttack, z: torch.Tensor, x: torch.Tensor) -> float:
    """Seconds of one training forward + backward of the decoder on one batch."""
    decoder = attack.decoder.train()

    def step():
        decoder.zero_grad(set_to_none=True)
        F.mse_loss(decoder(z), x).backward()
    return _per_call(step, calls=5)


def measure(cut: str, trained, splits, budget: SuiteBudget) -> list[dict]:
    edge, cloud = split(trained.model, cut)
    edge.eval()
    x_eval = splits.test.x[:budget.n_eval]
    z_eval, z_aux = edge_features(edge, x_eval), edge_features(edge, splits.aux.x)
    rows = []

    # inverse network
    decoder = InverseNetworkAttack(z_eval.shape[1:], x_eval.shape[1:], **budget.decoder_options(), device="cpu")
    start = time.perf_counter()
    decoder.fit(splits.aux.x, z_aux)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    decoder.reconstruct(z_eval)
    recon = time.perf_counter() - start
    n_fit = len(splits.aux.x) - max(1, int(len(splits.aux.x) * decoder.val_fraction))
    batches = len(decoder.history) * math.ceil(n_fit / decoder.batch_size)
    pure = batches * pure_decoder_step(decoder, z_aux[:decoder.batch_size], splits.aux.x[:decoder.batch_size])
    rows.append(dict(attack="inverse_network", cut=cut, n=len(x_eval), fit_s=fit, reconstruct_s=recon,
                     outside=1 - pure / fit))

    # white box and hybrid: the same optimisation loop, from 0.5 or from the decoder's output
    n_opt = budget.n_optimisation
    step = pure_edge_step(edge, x_eval[:n_opt])
    for name, steps, init in (("white_box", budget.white_box_steps, None),
                              ("hybrid", budget.hybrid_steps, decoder.reconstruct(z_eval[:n_opt]))):
        attack = WhiteBoxOptimizationAttack(edge, x_eval.shape[1:], steps=steps, lr=budget.white_box_lr,
                                            tv_weight=budget.tv_weight, batch_size=n_opt, device="cpu")
        start = time.perf_counter()
        attack.reconstruct(z_eval[:n_opt], init=init)
        seconds = time.perf_counter() - start
        extra = dict(fit_s=fit, reconstruct_s=seconds + recon * n_opt / len(x_eval)) if name == "hybrid" \
            else dict(fit_s=0.0, reconstruct_s=seconds)
        rows.append(dict(attack=name, cut=cut, n=n_opt, outside=1 - steps * step / seconds, **extra))

    # query-free: shadow edge + decoder; its share is not separated (two training loops)
    def make_edge():
        return split(build_model("vgg", trained.model.input_shape, trained.model.num_classes), cut)[0]
    shadow = QueryFreeShadowAttack(cloud, make_edge, x_eval.shape[1:], z_eval.shape[1:],
                                   shadow_epochs=budget.shadow_epochs, decoder_epochs=budget.decoder_epochs,
                                   decoder_width=budget.decoder_width, decoder_depth=budget.decoder_depth,
                                   decoder_lr=budget.decoder_lr, decoder_batch_size=budget.decoder_batch_size,
                                   device="cpu")
    start = time.perf_counter()
    shadow.fit(splits.aux.x, y_aux=splits.aux.y)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    shadow.reconstruct(z_eval)
    rows.append(dict(attack="query_free", cut=cut, n=len(x_eval), fit_s=fit,
                     reconstruct_s=time.perf_counter() - start, outside=float("nan")))
    return rows


def section(peak: float) -> list[str]:
    scale = get_scale("quick")
    data = load_dataset("mnist5k")
    config = TrainConfig.from_scale(scale, data=data)
    splits = split_dataset(data, **config.split_kwargs())
    trained = train_classifier(config, splits, device="cpu")
    budget = SuiteBudget.from_scale(scale)
    rows = [row for cut in CUTS for row in measure(cut, trained, splits, budget)]
    lines = ["## Attacks at `quick` (mnist5k, VGG-style; `benchmarks/bench_attacks.py`)", "",
             f"Decoder width {budget.decoder_width}, depth {budget.decoder_depth}, ≤{budget.decoder_epochs} epochs in batches of "
             f"{budget.decoder_batch_size} at lr {budget.decoder_lr:g} on "
             f"{len(splits.aux)} auxiliary images; white box {budget.white_box_steps} Adam steps and hybrid "
             f"{budget.hybrid_steps} steps on {budget.n_optimisation} images in one batch. "
             "\"Outside\": share of the attack's time not spent in the model's forward+backward "
             "(target < 10%; decoder: its fit; white box/hybrid: the optimisation loop).", "",
             "| attack | cut | images | fit s | reconstruct s | reconstructions/s | amortised images/s | outside |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        outside = "n/a" if math.isnan(r["outside"]) else f"{r['outside']:.0%}"
        lines.append(f"| {r['attack']} | {r['cut']} | {r['n']} | {r['fit_s']:.1f} | {r['reconstruct_s']:.2f} | "
                     f"{r['n'] / r['reconstruct_s']:.0f} | {r['n'] / (r['fit_s'] + r['reconstruct_s']):.1f} | "
                     f"{outside} |")
    return lines + [""]
