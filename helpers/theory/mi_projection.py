"""What a principal-component projection keeps of the mutual information, on Gaussians where every
number is known (notebook 04's probes see the first few components of x and of z).

:func:`projected_case` draws x ~ N(0, diag(λ)), λ_i = i^(−decay) (an image-like spectrum), and
z = x + N(0, σ²I) with σ set so that I(X;Z) = Σ_i ½·log(1 + λ_i/σ²) is a chosen total. The top-k
population components of x and of z are then the first k coordinates, so the projection keeps
exactly Σ_{i≤k} ½·log(1 + λ_i/σ²) (:func:`kept_mi`). :func:`calibrate_projected` runs MINE or KSG
on the sample components, as the probes do, and reports the estimate against the full MI and
against the part the projection keeps: the first ratio is what a probe's number means, the second
the estimator's own bias at that dimension.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ..core import cache
from .mi import principal_components, run_estimator

PROJECTION_VERSION = 1
CALIBRATED_TOTALS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)   # nats: the range a reading is mapped back over


def spectrum(d: int, decay: float = 1.0) -> torch.Tensor:
    """λ_i = i^(−decay), i = 1..d (float64)."""
    if d < 1 or decay < 0:
        raise ValueError(f"need d >= 1 and decay >= 0, got {d} and {decay}")
    return torch.arange(1, d + 1, dtype=torch.float64) ** -decay


def kept_mi(eigenvalues: torch.Tensor, noise_var: float, k: int | None = None) -> float:
    """Σ_{i≤k} ½·log(1 + λ_i/σ²) in nats (every coordinate when ``k`` is None): the MI of the
    first k coordinate pairs, which are the top-k components of x and of z."""
    kept = eigenvalues if k is None else eigenvalues[:k]
    return float(0.5 * torch.log1p(kept / noise_var).sum())


def noise_for(eigenvalues: torch.Tensor, total_mi: float) -> float:
    """The noise variance σ² that makes I(X;Z) = ``total_mi`` nats (bisection on log σ²)."""
    if total_mi <= 0:
        raise ValueError(f"total_mi must be positive, got {total_mi}")
    low, high = -40.0, 40.0   # log σ²: MI falls as σ² grows
    for _ in range(200):
        middle = (low + high) / 2
        if kept_mi(eigenvalues, math.exp(middle)) > total_mi:
            low = middle
        else:
            high = middle
    return math.exp((low + high) / 2)


def projected_case(d: int, total_mi: float, n: int, decay: float = 1.0, seed: int = 0):
    """(x, z, σ²): n pairs of the model above in d dimensions with I(X;Z) = ``total_mi``."""
    eigenvalues = spectrum(d, decay)
    noise_var = noise_for(eigenvalues, total_mi)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=generator, dtype=torch.float64) * eigenvalues.sqrt()
    z = x + math.sqrt(noise_var) * torch.randn(n, d, generator=generator, dtype=torch.float64)
    return x.float(), z.float(), noise_var


def calibrate_projected(estimator: str, d: int, k: int, n: int, total_mis=(2.0, 5.0, 10.0, 20.0), decay: float = 1.0,
                        seed: int = 0, mine_epochs: int = 100, neighbours: int = 3) -> pd.DataFrame:
    """``estimator`` ('mine' or 'ksg') on the first ``k`` sample components of :func:`projected_case`
    pairs: columns total_mi, kept_mi (what the projection keeps), estimate, of_total
    (estimate/total_mi) and of_kept (estimate/kept_mi). Cached under the full config."""
    if estimator not in ("mine", "ksg"):
        raise ValueError(f"unknown estimator {estimator!r}: use 'mine' or 'ksg'")
    if not 1 <= k <= d:
        raise ValueError(f"k must lie in [1, d={d}], got {k}")
    total_mis = [float(m) for m in total_mis]
    settings = {"mine_epochs": mine_epochs} if estimator == "mine" else {"k": neighbours}
    key = {"estimator": estimator, "d": d, "components": k, "n": n, "total_mis": total_mis, "decay": decay,
           "seed": seed, "version": PROJECTION_VERSION, **settings}

    def compute():
        estimates, kept = [], []
        for index, total in enumerate(total_mis):
            x, z, noise_var = projected_case(d, total, n, decay, seed + index)
            kept.append(kept_mi(spectrum(d, decay), noise_var, k))
            x_low, z_low = principal_components(x, k), principal_components(z, k)
            estimates.append(run_estimator(estimator, x_low, z_low, mine_epochs, neighbours, seed))
        return {"estimates": estimates, "kept": kept}

    found = cache.cached("mi_projection", key, compute)
    frame = pd.DataFrame({"total_mi": total_mis, "kept_mi": found["kept"], "estimate": found["estimates"]})
    return frame.assign(of_total=frame.estimate / frame.total_mi, of_kept=frame.estimate / frame.kept_mi)


def estimate_to_total(estimate: float, curve: pd.DataFrame) -> float:
    """The smallest total MI that reads as ``estimate`` on a calibration ``curve`` (columns total_mi,
    estimate, as :func:`calibrate_projected` returns): the first crossing of the curve made
    non-decreasing (its running maximum), linear between calibrated points; NaN outside the
    calibrated range, where the curve says nothing."""
    ordered = curve.sort_values("total_mi")
    reads, totals = ordered.estimate.cummax().to_numpy(), ordered.total_mi.to_numpy()
    if not reads[0] <= estimate <= reads[-1]:
        return math.nan
    i = int(np.argmax(reads >= estimate))   # the first calibrated point that reads at least this much
    if i == 0 or reads[i] == reads[i - 1]:
        return float(totals[i])
    share = (estimate - reads[i - 1]) / (reads[i] - reads[i - 1])
    return float(totals[i - 1] + share * (totals[i] - totals[i - 1]))


def corrected_cut(ours: float, reference: float, curves: list[pd.DataFrame]) -> pd.Series:
    """100·(1 − T(ours)/T(reference)) for each calibration curve, T = :func:`estimate_to_total`: the
    cut in the MI the toy model would give for two probe readings, one value per curve (their spread
    is the calibration's share of the uncertainty; NaN where a reading lies outside a curve's range)."""
    values = []
    for curve in curves:
        ours_total, reference_total = estimate_to_total(ours, curve), estimate_to_total(reference, curve)
        values.append(100 * (1 - ours_total / reference_total))
    return pd.Series(values, dtype=float)
