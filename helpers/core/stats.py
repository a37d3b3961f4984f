"""Summaries with uncertainty: mean and a percentile-bootstrap 95% interval."""
from __future__ import annotations

import numpy as np


BOOTSTRAP_LEVEL = 0.95  # the level of every interval over images (the bands of the figures)


def mean_ci(values, n_boot: int = 2000, level: float = BOOTSTRAP_LEVEL, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the mean of ``values`` and its percentile-bootstrap interval.

    NaN values are ignored; all-NaN input gives (nan, nan, nan).
    """
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(n_boot, values.size), replace=True).mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(values.mean()), float(low), float(high)


def summarize(frame, by: list[str], metrics: list[str], seed: int = 0):
    """One row per group of ``by``: mean and 95% bootstrap interval of each metric."""
    import pandas as pd

    rows = []
    for keys, group in frame.groupby(by, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row = dict(zip(by, keys))
        for metric in metrics:
            mean, low, high = mean_ci(group[metric].to_numpy(), seed=seed)
            row.update({metric: mean, f"{metric}_low": low, f"{metric}_high": high})
        rows.append(row)
    return pd.DataFrame(rows)


def spearman(x, y) -> float:
    """Spearman rank correlation (average ranks for ties; NaN when either side is constant).
    Values must be finite (:func:`spearman_ci` drops the others)."""
    rx, ry = (np.argsort(np.argsort(v, kind="stable"), kind="stable").astype(float) for v in (x, y))
    rx, ry = _average_ties(np.asarray(x, float), rx), _average_ties(np.asarray(y, float), ry)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _average_ties(values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    for value in np.unique(values):
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def spearman_ci(x, y, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(ρ, low, high): Spearman ρ of paired values and its percentile-bootstrap interval over pairs.

    Pairs with a NaN or infinite value are dropped."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) != len(y):
        raise ValueError(f"need pairs of equal length, got {len(x)} and {len(y)}")
    finite = np.isfinite(x) & np.isfinite(y)  # NaN would otherwise rank as the largest value
    x, y = x[finite], y[finite]
    if len(x) < 3:
        raise ValueError(f"need at least 3 finite pairs, got {len(x)}")
    rng = np.random.default_rng(seed)
    draws = [spearman(x[i], y[i]) for i in rng.integers(0, len(x), size=(n_boot, len(x)))]
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(draws, [tail, 100 - tail])
    return spearman(x, y), float(low), float(high)
