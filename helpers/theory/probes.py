"""Information probes of transmitted features (notebook 04): the quantities SiftFunnel's criterion
names as what decides MIA difficulty.

* I(X;Z): the MINE lower bound (:func:`helpers.theory.mine.mine_estimate`) and, with a different bias,
  the KSG k-nearest-neighbour estimate (:func:`helpers.theory.mi.ksg_estimate`); :func:`helpers.theory.mi.calibrate`
  measures both on Gaussians of known MI;
* effective information: how many entries of z are non-zero, per image (the SiftFunnel code's
  ``count_nonzero(z)``, "delta z");
* entropy of z: the sum over coordinates of the entropy of each coordinate's histogram; it upper-
  bounds the entropy of the binned z, and is 0 for a constant coordinate.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..core.stats import spearman_ci
from .mi import ksg_estimate, principal_components
from .mine import mine_estimate


def effective_information(z: torch.Tensor, tol: float = 0.0) -> float:
    """Mean number of entries of z with |value| > ``tol`` per image (z: N × ...)."""
    return float((z.flatten(1).abs() > tol).sum(1).double().mean())


def marginal_entropy(z: torch.Tensor, bins: int = 16) -> float:
    """Σ_j H(bin(z_j)) in nats: each coordinate's values in ``bins`` equal-width bins over its range."""
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    flat = z.flatten(1).double()
    low, high = flat.min(0).values, flat.max(0).values
    width = (high - low).clamp_min(1e-12) / bins
    index = ((flat - low) / width).floor().clamp(0, bins - 1).long()
    counts = torch.zeros(bins, flat.shape[1], dtype=torch.float64).scatter_add_(0, index, torch.ones_like(flat))
    p = counts / len(flat)
    return float(-(p * torch.log(p.clamp_min(1e-300))).sum())


def probe(x: torch.Tensor, z: torch.Tensor, mine_epochs: int = 100, mine_dims: int = 8, seed: int = 0) -> dict:
    """I(X;Z) by MINE and by KSG (nats: ``mi_mine``, ``mi_knn``), effective information (values and
    fraction of d) and H(Z) for pairs (x, z).

    MINE sees the first ``mine_dims`` principal components of x and of z: by data processing its
    estimate is still a lower bound on I(X;Z). On the raw dimensions (784 + thousands) and about a
    thousand training pairs the critic overfits and the held-out estimate is meaningless (we measured
    −10 to −1,500 nats); on 8 components it is stable and ordered like the defenses' strengths.
    KSG sees the same components (all N pairs; MINE's estimate uses its held-out fifth).
    """
    d = z[0].numel()
    effective = effective_information(z)
    x_low, z_low = principal_components(x, mine_dims), principal_components(z, mine_dims)
    return {"mi_mine": mine_estimate(x_low, z_low, epochs=mine_epochs, seed=seed).estimate,
            "mi_knn": ksg_estimate(x_low, z_low, seed=seed),
            "effective_info": effective, "effective_fraction": effective / d,
            "entropy_z": marginal_entropy(z), "payload": d}


def criterion_table(frame: pd.DataFrame, target: str, predictors: list[str], n_boot: int = 2000,
                    seed: int = 0) -> pd.DataFrame:
    """Spearman ρ between ``target`` and each predictor over the rows with finite values (``n``),
    with a bootstrap 95% interval."""
    rows = []
    for name in predictors:
        rho, low, high = spearman_ci(frame[name].to_numpy(float), frame[target].to_numpy(float), n_boot, seed=seed)
        finite = int((np.isfinite(frame[name].to_numpy(float)) & np.isfinite(frame[target].to_numpy(float))).sum())
        rows.append({"probe": name, "spearman": rho, "low": low, "high": high, "n": finite})
    return pd.DataFrame(rows)
