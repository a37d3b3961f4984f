"""Attack throughput at `quick` settings, and the share of time spent outside the model's forward/backward.

Run through ``benchmarks/run.py`` (all benchmarks in one run, one RESULTS.md) or alone with
``python -m benchmarks.bench_attacks`` (this section only). For each attack at a
shallow and a deep cut of the quick VGG-style model on mnist5k: fit seconds, reconstructions per
second (reconstruction only, and amortised over fit + reconstruction of the scored images), and the
share of time that is not the model's own forward+backward. That share is clocked inside the run
itself (:class:`ModelClock`): the model's forward passes (the decoder's, validation included, or
the edge's) and every backward pass are timed where the attack makes them, and
``share outside = 1 − their time / the run's time``. On the CPU an op returns when its result is
ready, so clocks around the calls are exact. "Outside" is everything else: the optimiser, the
loss's forward arithmetic, clamping, batching and copying the best weights. (Until 2026-12-08 the
model's step was timed alone in a loop; its other layout and batch made that estimate differ from
the run's own steps by more than the share it measured, down to negative shares.)

Each attack's work is also set against the machine's measured matrix-multiply peak (as the
training section does): its FLOPs (conv and matmul, fit and reconstruction, counted by torch's
FlopCounterMode on a second, identical call) over its wall time. A low share means the time goes to
small kernels, Python and memory traffic rather than arithmetic.

The strong attacker of notebook 07 §6 is costed too: the two prior attacks (their priors trained
once per auxiliary set and seed, shared by every cut and defense, so that training is a row of its
own) and the tuning of each attack against a defense (every candidate of
:data:`helpers.evaluation.adaptive.SEARCH_SPACE` fitted and scored on the attacker's own images), all from an
empty cache.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from helpers.evaluation.adaptive import SEARCH_SPACE, TUNED_ATTACKS, own_splits, tune
from helpers.attacks import InverseNetworkAttack, QueryFreeShadowAttack, WhiteBoxOptimizationAttack, edge_features
from helpers.core.config import get_scale
from helpers.data import load_dataset, split_dataset
from helpers.models import build_model, split
from helpers.attacks.prior_attacks import DiffusionGuidedAttack, LatentSearchAttack
from helpers.attacks.priors import build_prior, trained_prior
from helpers.evaluation.harness import SuiteBudget
from helpers.training import TrainConfig, train_classifier

CUTS = ("pool1", "pool3")


def _per_call(fn, calls: int, warmup: int = 3, repeats: int = 5) -> float:
    """Seconds per call: the fastest of ``repeats`` blocks (the least disturbed by other load)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def flops_of(fn) -> float:
    """Conv and matmul FLOPs of one call of ``fn`` (a multiply-add counts 2)."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return float(counter.get_total_flops())


def edge_step_count(edge, x: torch.Tensor) -> float:
    """FLOPs of one forward + backward (to the input) of the edge on the batch ``x``."""
    x = x.clone().requires_grad_(True)
    with torch.no_grad():
        upstream = torch.randn_like(edge(x))
    return flops_of(lambda: edge(x).backward(upstream))


class ModelClock:
    """Seconds a run spends in a model's forward passes (hooks on the module: copies made during the
    run carry them) and in backward passes (``Tensor.backward`` and ``torch.autograd.grad``, whole).
    Watch modules that do not call one another (an edge and a prior's network), or a call is
    counted twice."""

    def __init__(self):
        self.seconds, self._began, self._handles = 0.0, [], []

    def watch(self, module: torch.nn.Module) -> torch.nn.Module:
        self._handles += [module.register_forward_pre_hook(lambda *_: self._began.append(time.perf_counter())),
                          module.register_forward_hook(lambda *_: self._add(self._began.pop()))]
        return module

    def release(self) -> None:
        """Remove the hooks from the watched modules (copies made meanwhile are the run's own)."""
        for handle in self._handles:
            handle.remove()

    def _add(self, began: float) -> None:
        self.seconds += time.perf_counter() - began

    @contextlib.contextmanager
    def backward_passes(self):
        backward, grad = torch.Tensor.backward, torch.autograd.grad

        def timed(function):
            def call(*args, **kwargs):
                began = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    self._add(began)
            return call
        torch.Tensor.backward, torch.autograd.grad = timed(backward), timed(grad)
        try:
            yield self
        finally:
            torch.Tensor.backward, torch.autograd.grad = backward, grad


def outside_share(run, watch, repeats: int = 3) -> tuple[float, float]:
    """(seconds, share outside the model) of the fastest of ``repeats`` calls of ``run``, the model
    clocked inside that same call by the hooks ``watch(clock)`` registers."""
    best = None
    for _ in range(repeats):
        clock = ModelClock()
        restore = watch(clock)
        try:
            with clock.backward_passes():
                began = time.perf_counter()
                run()
                seconds = time.perf_counter() - began
        finally:
            clock.release()
            restore()
        if best is None or seconds < best[0]:
            best = (seconds, 1 - clock.seconds / seconds)
    return best


def _watching_built(owner, factory: str):
    """For :func:`outside_share`: every module ``owner.<factory>()`` builds during the run is clocked
    (the decoder an inverse network fits, the shadow edge of the query-free attack)."""
    def watch(clock: ModelClock):
        build = getattr(owner, factory)
        setattr(owner, factory, lambda: clock.watch(build()))
        return lambda: setattr(owner, factory, build)
    return watch


def _watching_decoders(decoder: InverseNetworkAttack):
    """For :func:`outside_share`: every decoder ``decoder.fit`` builds is clocked."""
    return _watching_built(decoder, "_new_decoder")


def _watching_all(*watchers):
    """For :func:`outside_share`: several watchers at once."""
    def watch(clock: ModelClock):
        restores = [w(clock) for w in watchers]
        return lambda: [restore() for restore in restores]
    return watch


def _watching(*modules: torch.nn.Module):
    """For :func:`outside_share`: these modules (an edge, and the copy an attack runs; a prior's
    network) are clocked."""
    def watch(clock: ModelClock):
        for module in modules:
            clock.watch(module)
        return lambda: None
    return watch


def measure(cut: str, trained, splits, budget: SuiteBudget) -> list[dict]:
    edge, cloud = split(trained.model, cut)
    edge.eval()
    x_eval = splits.test.x[:budget.n_eval]
    z_eval, z_aux = edge_features(edge, x_eval), edge_features(edge, splits.aux.x)
    rows = []

    # inverse network
    decoder = InverseNetworkAttack(z_eval.shape[1:], x_eval.shape[1:], **budget.decoder_options(), device="cpu")
    fit, decoder_outside = outside_share(lambda: decoder.fit(splits.aux.x, z_aux), _watching_decoders(decoder))
    decoder_fit = fit   # each fit from scratch: the same epochs, the same decoder
    start = time.perf_counter()
    decoder.reconstruct(z_eval)
    recon = time.perf_counter() - start
    fresh = lambda: InverseNetworkAttack(z_eval.shape[1:], x_eval.shape[1:], **budget.decoder_options(),  # noqa: E731
                                         device="cpu")
    decoder_flops = flops_of(lambda: fresh().fit(splits.aux.x, z_aux))   # same seed: the same epochs
    recon_flops = flops_of(lambda: decoder.reconstruct(z_eval))
    rows.append(dict(attack="inverse_network", cut=cut, n=len(x_eval), fit_s=fit, reconstruct_s=recon,
                     outside=decoder_outside, flops=decoder_flops + recon_flops))

    # white box and hybrid: the same optimisation loop, from 0.5 or from the decoder's output
    n_opt = budget.n_optimisation
    edge_step_flops = edge_step_count(edge, x_eval[:n_opt])
    for name, steps, init in (("white_box", budget.white_box_steps, None),
                              ("hybrid", budget.hybrid_steps, decoder.reconstruct(z_eval[:n_opt]))):
        attack = WhiteBoxOptimizationAttack(edge, x_eval.shape[1:], steps=steps, lr=budget.white_box_lr,
                                            tv_weight=budget.tv_weight, batch_size=n_opt, device="cpu")
        seconds, outside = outside_share(lambda: attack.reconstruct(z_eval[:n_opt], init=init), _watching(edge))
        flops = steps * edge_step_flops   # FlopCounterMode cannot follow autograd.grad: the model's share, counted
        extra = dict(fit_s=fit, reconstruct_s=seconds + recon * n_opt / len(x_eval),
                     flops=flops + decoder_flops + recon_flops * n_opt / len(x_eval)) if name == "hybrid" \
            else dict(fit_s=0.0, reconstruct_s=seconds, flops=flops)
        rows.append(dict(attack=name, cut=cut, n=n_opt, outside=outside, **extra))

    # query-free: the shadow edge trained through the cloud, then a decoder on its features
    def make_edge():
        return split(build_model("vgg", trained.model.input_shape, trained.model.num_classes), cut)[0]
    shadow = QueryFreeShadowAttack(cloud, make_edge, x_eval.shape[1:], z_eval.shape[1:],
                                   shadow_epochs=budget.shadow_epochs, decoder_epochs=budget.decoder_epochs,
                                   decoder_width=budget.decoder_width, decoder_depth=budget.decoder_depth,
                                   decoder_lr=budget.decoder_lr, decoder_batch_size=budget.decoder_batch_size,
                                   device="cpu")
    fit, shadow_outside = outside_share(lambda: shadow.fit(splits.aux.x, y_aux=splits.aux.y),
                                        _watching_all(_watching_built(shadow, "make_edge"), _watching(cloud),
                                                      _watching_decoders(shadow.decoder)), repeats=2)
    start = time.perf_counter()
    shadow.reconstruct(z_eval)
    seconds = time.perf_counter() - start
    flops = flops_of(lambda: shadow.fit(splits.aux.x, y_aux=splits.aux.y)) + flops_of(lambda: shadow.reconstruct(z_eval))
    rows.append(dict(attack="query_free", cut=cut, n=len(x_eval), fit_s=fit, reconstruct_s=seconds,
                     outside=shadow_outside, flops=flops))

    # the prior attacks, from the inverse network's reconstruction (their fit: the decoder's; the
    # priors are already trained, see prior_training)
    init = decoder.reconstruct(z_eval[:n_opt])
    for attack in (LatentSearchAttack(edge, x_eval.shape[1:], budget.vae, steps=budget.latent_steps,
                                      lr=budget.latent_lr, prior_weight=budget.latent_prior_weight, device="cpu"),
                   DiffusionGuidedAttack(edge, x_eval.shape[1:], budget.ddpm, guidance=budget.guidance,
                                         start_fraction=budget.diffusion_start, device="cpu")):
        attack.fit(splits.aux.x, index=splits.aux.index)
        prior = attack.prior.model
        network = prior.decoder if attack.kind == "vae" else prior.denoiser   # what every step runs
        seconds, outside = outside_share(lambda: attack.reconstruct(z_eval[:n_opt], init=init),
                                         _watching(edge, network), repeats=2)
        rows.append(dict(attack=attack.name, cut=cut, n=n_opt, fit_s=decoder_fit,
                         reconstruct_s=seconds + recon * n_opt / len(x_eval), outside=outside,
                         flops=float("nan")))   # their steps use autograd.grad, which FlopCounterMode cannot follow
    return rows


def prior_training(splits, budget: SuiteBudget) -> list[dict]:
    """Seconds to train each prior on the auxiliary images (once per auxiliary set and seed)."""
    rows = []
    for config in (budget.vae, budget.ddpm):
        start = time.perf_counter()
        trained_prior(config, splits.aux, "cpu")
        seconds = time.perf_counter() - start
        model, batch = build_prior(config, splits.aux.x.shape[1:]), splits.aux.x[:config.batch_size]
        step = flops_of(lambda: model.loss(batch, torch.Generator().manual_seed(0)).backward())
        batches = config.epochs * len(splits.aux) / config.batch_size   # FLOPs grow with the images in a batch
        rows.append(dict(prior=config.kind, images=len(splits.aux), epochs=config.epochs, seconds=seconds,
                         flops=step * batches))
    return rows


def layout_steps(edge, budget: SuiteBudget, image_shape, n: int = 64) -> list[dict]:
    """Milliseconds of one step of what the priors and the prior attacks repeat, contiguous and in
    channels_last (the layout the decoders, the white box and the classifiers already use): a
    training step of each prior (loss, backward, Adam) and one guided step of each prior attack
    (the prior's network, the edge, the gradient back through both), on batches of ``n``."""
    x = torch.rand(n, *image_shape, generator=torch.Generator().manual_seed(0))
    rows = []
    for config in (budget.vae, budget.ddpm):
        times = {}
        for layout in ("contiguous", "channels_last"):
            model, batch = build_prior(config, image_shape), x
            if layout == "channels_last":
                model, batch = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
            optimizer, generator = torch.optim.Adam(model.parameters(), lr=config.lr), torch.Generator().manual_seed(0)

            def step():
                loss = model.loss(batch, generator)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            times[layout] = _per_call(step, calls=5)
        rows.append({"step": f"{config.kind} prior: training step", **times})
    for kind in ("latent_search", "diffusion"):
        times = {}
        for layout in ("contiguous", "channels_last"):
            config = budget.vae if kind == "latent_search" else budget.ddpm
            model, frozen = build_prior(config, image_shape).eval().requires_grad_(False), edge
            start = torch.zeros(n, config.latent_dim) if kind == "latent_search" else x * 2 - 1
            if layout == "channels_last":
                model = model.to(memory_format=torch.channels_last)
                frozen = copy.deepcopy(edge).to(memory_format=torch.channels_last)
                start = start if kind == "latent_search" else start.contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                target = frozen(x)

            def step():
                w = start.clone().requires_grad_(True)
                image = model.decode(w) if kind == "latent_search" else (model.predict_x0(w, 50, model.eps(w, 50)) + 1) / 2
                torch.autograd.grad(((frozen(image) - target) ** 2).sum(), w)
            times[layout] = _per_call(step, calls=5)
        rows.append({"step": f"{kind} attack: guided step", **times})
    return rows


def tuning_cost(trained, splits, cut: str, budget: SuiteBudget) -> list[dict]:
    """Seconds to tune each attack against one classifier (every candidate on the attacker's own
    images; the priors of their fitting part are already trained, see prior_training)."""
    rows = []
    for attack in TUNED_ATTACKS:
        start = time.perf_counter()
        tune(trained, splits, cut, attack, budget, device="cpu")
        rows.append(dict(attack=attack, candidates=len(SEARCH_SPACE[attack]), seconds=time.perf_counter() - start))
    return rows


def section(peak: float) -> list[str]:
    scale = get_scale("quick")
    data = load_dataset("mnist5k")
    config = TrainConfig.from_scale(scale, data=data)
    splits = split_dataset(data, **config.split_kwargs())
    trained = train_classifier(config, splits, device="cpu")
    budget = SuiteBudget.from_scale(scale)
    cold = tempfile.TemporaryDirectory()   # the priors and the tuning runs are measured from an empty cache
    previous, os.environ["MIA_CACHE_DIR"] = os.environ.get("MIA_CACHE_DIR"), cold.name
    try:
        priors = prior_training(splits, budget) + prior_training(own_splits(splits), budget)
        layouts = layout_steps(split(trained.model, "pool2")[0].eval().requires_grad_(False), budget,
                               tuple(splits.aux.x.shape[1:]), budget.n_optimisation)
        rows = [row for cut in CUTS for row in measure(cut, trained, splits, budget)]
        tuning = {cut: tuning_cost(trained, splits, cut, budget) for cut in CUTS}
    finally:
        os.environ.pop("MIA_CACHE_DIR") if previous is None else os.environ.update(MIA_CACHE_DIR=previous)
        cold.cleanup()
    lines = ["## Attacks at `quick` (mnist5k, VGG-style; `benchmarks/bench_attacks.py`)", "",
             f"Decoder width {budget.decoder_width}, depth {budget.decoder_depth}, ≤{budget.decoder_epochs} epochs in batches of "
             f"{budget.decoder_batch_size} at lr {budget.decoder_lr:g} on "
             f"{len(splits.aux)} auxiliary images; white box {budget.white_box_steps} Adam steps and hybrid "
             f"{budget.hybrid_steps} steps on {budget.n_optimisation} images in one batch. "
             "\"Outside\": share of the attack's time not spent in the model's forward+backward "
             "(target < 10%; decoder: its fit, its validation forward passes counted as the model's; "
             "white box/hybrid: the optimisation loop; latent search/diffusion: their steps, the prior's network "
             "and the edge both the model's; query-free: its fit, the shadow edge, the cloud and the decoder "
             "the model; clocked inside the fastest of 3 runs, of 2 for the last three).", "",
             "| attack | cut | images | fit s | reconstruct s | reconstructions/s | amortised images/s | outside "
             "| GFLOP | share of matmul peak |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        total = r["fit_s"] + r["reconstruct_s"]
        lines.append(f"| {r['attack']} | {r['cut']} | {r['n']} | {r['fit_s']:.1f} | {r['reconstruct_s']:.2f} | "
                     f"{r['n'] / r['reconstruct_s']:.0f} | {r['n'] / total:.1f} | {r['outside']:.0%} | "
                     + ("n/a | n/a |" if math.isnan(r["flops"]) else f"{r['flops'] / 1e9:.1f} | {r['flops'] / total / peak:.0%} |"))
    lines += ["", "Latent search and diffusion start from the inverse network's reconstruction: their fit is the "
              "decoder's, their reconstruction includes its share. Their priors are trained once per auxiliary "
              "set and seed and shared by every cut and defense:", "",
              "| prior | images | epochs | training s | GFLOP | share of matmul peak |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['prior']} | {r['images']} | {r['epochs']} | {r['seconds']:.1f} | {r['flops'] / 1e9:.0f} | "
              f"{r['flops'] / r['seconds'] / peak:.0%} |" for r in priors]
    lines += ["", "(The smaller sets are the fitting part of tuning, below: its priors are trained apart, so "
              "that no tuning score comes from images the prior was trained on.)"]
    lines += ["", f"The priors and the prior attacks run contiguous tensors; the decoders, the white box and the "
              f"classifiers run channels_last. One step of each, on batches of {budget.n_optimisation} "
              "(the edge at pool2; best of 5 blocks of 5 calls):", "",
              "| step | contiguous ms | channels_last ms | speed-up |", "|---|---|---|---|"]
    lines += [f"| {r['step']} | {1e3 * r['contiguous']:.1f} | {1e3 * r['channels_last']:.1f} | "
              f"{r['contiguous'] / r['channels_last']:.2f}× |" for r in layouts]
    lines += ["", f"Tuning each attack against one classifier (notebook 07 §6; `helpers.evaluation.adaptive`): every candidate "
              f"fitted on 80% of the {len(splits.aux)} auxiliary images and scored on the rest (the optimisation "
              "attacks on 32 of them); seconds per defense, before the chosen setting is run on the scored images:",
              "", "| attack | candidates | " + " | ".join(f"s at {cut}" for cut in CUTS) + " |",
              "|---|---|" + "---|" * len(CUTS)]
    for i, r in enumerate(tuning[CUTS[0]]):
        lines.append(f"| {r['attack']} | {r['candidates']} | "
                     + " | ".join(f"{tuning[cut][i]['seconds']:.1f}" for cut in CUTS) + " |")
    lines.append("| all | " + f"{sum(len(c) for c in SEARCH_SPACE.values())} | "
                 + " | ".join(f"{sum(r['seconds'] for r in tuning[cut]):.1f}" for cut in CUTS) + " |")
    return lines + [""]


if __name__ == "__main__":   # python -m benchmarks.bench_attacks: replaces this section of RESULTS.md only
    from pathlib import Path

    from benchmarks.bench_sweep import replace_section
    from benchmarks.bench_training import matmul_peak

    results = Path(__file__).with_name("RESULTS.md")
    lines = section(matmul_peak())
    lines.insert(2, f"Measured {time.strftime('%Y-%m-%d')} by `python -m benchmarks.bench_attacks`, apart from the other sections.")
    lines.insert(3, "")
    results.write_text(replace_section(results.read_text(), lines, lines[0]))
    print("\n".join(lines))
