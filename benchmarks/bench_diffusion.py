"""The diffusion attack with fewer guided steps: what it saves and what it costs in attack strength.

The attack denoises the inverse network's reconstruction from 3/4 of the prior's T = 100 steps,
one guided step at a time (75 at ``quick``). A respaced pass (``SuiteBudget.diffusion_steps``;
:func:`helpers.attacks.priors.respaced`) visits fewer of them on the same schedule. This benchmark
runs the untuned attack both ways on every classifier of notebook 07 (mnist5k, ``pool2``, seed 0, the
scale's budget, 64 scored images) and reports, per classifier, the mean MSE of each and the time of
each reconstruction. A respaced pass is worth adopting only if the attack stays as strong: the MSE
ratio (respaced / every step) near 1 on every classifier, never far above it.

``python -m benchmarks.bench_diffusion [STEPS ...]`` (default 25) replaces its section of
RESULTS.md; it reads and fills the cache (``$MIA_CACHE_DIR``), so the classifiers of a finished
``make figures`` are loaded, not trained.
"""
from __future__ import annotations

import dataclasses
import sys
import time

import pandas as pd

from helpers.core.config import get_scale
from helpers.data import load_dataset, split_dataset
from helpers.defenses import Defense, Patrol
from helpers.evaluation.defense_eval import defense_grid, label, train_defended
from helpers.evaluation.grids import benchmark_grid
from helpers.evaluation.harness import SuiteBudget, run_suite
from helpers.models import build_model, cut_points
from helpers.training import TrainConfig

CUT = "pool2"
TITLE = "## The diffusion attack with fewer guided steps (notebook 07's classifiers; `benchmarks/bench_diffusion.py`)"


def classifiers():
    """Notebook 07's grid at quick, seed 0, as its parameters cell builds it."""
    scale = get_scale("quick")
    data = load_dataset("mnist5k")
    vgg = build_model("vgg", tuple(data.x.shape[1:]))
    flops = {p.name: p for p in cut_points(vgg)}["pool1"].edge_flops / 1e6
    patrol = {"sparsity": 0.001, "prune_at": 0.5, "lipschitz": 0.01, "adversarial": 1.0}
    grid = [Defense()] + defense_grid(benchmark_grid(scale="quick")) + [Patrol(budget=flops, metric="flops", **patrol)]
    base = TrainConfig.from_scale(scale, data=data, arch="vgg", seed=0, n_val=scale.n_val)
    splits = split_dataset(data, **base.split_kwargs())
    return [(d, train_defended(base, splits, d, CUT)) for d in grid], splits, SuiteBudget.from_scale(scale)


def timed_diffusion(trained, splits, budget: SuiteBudget, steps) -> tuple[float, float]:
    """(mean MSE, seconds) of the diffusion attack with ``steps`` (None: every step)."""
    run_suite(trained, splits, CUT, budget=budget, attacks=["inverse_network"], score_labels=False)   # its start
    start = time.perf_counter()
    table, _, _ = run_suite(trained, splits, CUT, budget=dataclasses.replace(budget, diffusion_steps=steps),
                            attacks=["diffusion"], score_labels=False)
    return table.mse.mean(), time.perf_counter() - start


def section(steps: list[int]) -> list[str]:
    models, splits, budget = classifiers()
    rows = []
    for defense, trained in models:
        row = {"classifier": label(defense) if trained.config.defense else f"none @ {CUT}"}
        for count in [None, *steps]:
            name = "every" if count is None else str(count)
            row[f"mse {name}"], row[f"s {name}"] = timed_diffusion(trained, splits, budget, count)
        rows.append(row)
    table = pd.DataFrame(rows)
    every = int(round(budget.diffusion_start * budget.ddpm.T))
    lines = [TITLE, "",
             f"The untuned diffusion attack on {budget.n_optimisation} scored images of each of notebook 07's "
             f"{len(table)} classifiers (quick, seed 0), every one of its {every} guided steps against a respaced pass "
             "(the cache held neither: both computed here, one after the other).", "",
             "| classifier | MSE, every step | " + " | ".join(f"MSE, {s} steps | ratio" for s in steps)
             + " | s, every step | " + " | ".join(f"s, {s} steps" for s in steps) + " |",
             "|---|---|" + "---|---|" * len(steps) + "---|" + "---|" * len(steps)]
    for d in table.to_dict("records"):
        cells = [f"{d['mse every']:.4g}"] + [f"{d[f'mse {s}']:.4g} | {d[f'mse {s}'] / d['mse every']:.2f}" for s in steps]
        times = [f"{d['s every']:.1f}"] + [f"{d[f's {s}']:.1f}" for s in steps]
        lines.append(f"| {d['classifier']} | " + " | ".join(cells) + " | " + " | ".join(times) + " |")
    for s in steps:
        ratio = table[f"mse {s}"] / table["mse every"]
        lines += ["", f"{s} steps: MSE ratio from {ratio.min():.2f} to {ratio.max():.2f} (median {ratio.median():.2f}); "
                  f"time {table[f's {s}'].sum():.0f} s against {table['s every'].sum():.0f} s for every step "
                  f"({table['s every'].sum() / table[f's {s}'].sum():.1f}× faster)."]
    return lines + [""]


if __name__ == "__main__":
    from pathlib import Path

    from benchmarks.bench_sweep import replace_section

    chosen = [int(a) for a in sys.argv[1:]] or [25]
    results = Path(__file__).with_name("RESULTS.md")
    lines = section(chosen)
    lines.insert(2, f"Measured {time.strftime('%Y-%m-%d')} by `python -m benchmarks.bench_diffusion {' '.join(map(str, chosen))}`, "
                    "apart from the other sections.")
    lines.insert(3, "")
    results.write_text(replace_section(results.read_text(), lines, lines[0]))
    print("\n".join(lines))
