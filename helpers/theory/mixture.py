"""CEM's Gaussian-mixture bound on H(x|z) and the k-means it is fitted with (notebooks 01 and 05).

For z = ẑ + N(0, σ²I): H(x|z) ≥ H(x) − H(π) − ½ Σ_k π_k log(|Σ_k + σ²I| / σ^{2m}) for the population
mixture; the value from samples is a plug-in estimate of it (biased low with few samples per component).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..core.config import check_choice
from .bounds import mse_lower_bound


# ---------------------------------------------------------------- k-means and the Gaussian-mixture bound

def kmeans(z: torch.Tensor, k: int, seed: int = 0, iters: int = 50, init: torch.Tensor | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """(centroids k × m, assignment N): k-means++ start (or the warm start ``init``, k × m), then
    Lloyd; an empty cluster is re-seeded at the point farthest from its centroid. k is capped at N."""
    z = z.flatten(1)
    k = min(k, len(z))
    generator = torch.Generator().manual_seed(seed)
    if init is not None and tuple(init.shape) == (k, z.shape[1]) and bool(torch.isfinite(init).all()):
        centroids = init.to(z.dtype).clone()
    else:
        centroids = z[torch.randint(len(z), (1,), generator=generator)]
    for _ in range(len(centroids), k):
        dist = torch.cdist(z, centroids).min(1).values ** 2
        probs = dist / dist.sum() if dist.sum() > 0 else torch.full_like(dist, 1 / len(z))
        centroids = torch.cat([centroids, z[torch.multinomial(probs, 1, generator=generator)]])
    assign = torch.cdist(z, centroids).argmin(1)
    for _ in range(iters):
        for j in range(k):
            members = assign == j
            if members.any():
                centroids[j] = z[members].mean(0)
            else:
                far = torch.cdist(z, centroids).min(1).values.argmax()
                centroids[j] = z[far]
        new = torch.cdist(z, centroids).argmin(1)
        if torch.equal(new, assign):
            break
        assign = new
    return centroids, assign


def log_det_plus_noise(points: torch.Tensor, noise_var: float) -> float:
    """log|Σ + σ²I| − m·log σ² for the ML covariance Σ of ``points`` (n × m), by Cholesky.

    Uses |I_m + XᵀX/(nσ²)| = |I_n + XXᵀ/(nσ²)| (X centred) on the smaller side, so m may be large.
    """
    x = points.double() - points.double().mean(0)
    n, m = x.shape
    gram = x @ x.T if n <= m else x.T @ x
    inner = torch.eye(gram.shape[0], dtype=gram.dtype) + gram / (n * noise_var)
    return float(2 * torch.log(torch.diagonal(torch.linalg.cholesky(inner))).sum())


COVARIANCES = ("ml", "shrinkage")


def ledoit_wolf_intensity(points: torch.Tensor) -> tuple[float, float]:
    """(ρ, μ) of the Ledoit-Wolf shrinkage (1 − ρ)·S + ρ·μI of the ML covariance S of ``points`` (n × m).

    μ = tr(S)/m; ρ = min(b², d²)/d² with d² = ||S − μI||² and b² = (1/n²) Σ_i ||x_i x_iᵀ − S||²
    (x_i centred, ||A||² = tr(AAᵀ)/m). All from the n × n Gram matrix G: ||S||²_F = ||G||²_F/n²
    and Σ_i ||x_i x_iᵀ − S||²_F = Σ_i G_ii² − ||G||²_F/n, so m may be large.
    """
    x = points.double() - points.double().mean(0)
    n, m = x.shape
    gram = x @ x.T
    mu = float(gram.trace()) / (n * m)
    gram_sq = float((gram ** 2).sum())
    d2 = gram_sq / (n ** 2 * m) - mu ** 2
    b2 = (float((gram.diagonal() ** 2).sum()) - gram_sq / n) / (n ** 2 * m)
    return (1.0 if d2 <= 0 else min(b2, d2) / d2), mu


def log_det_plus_noise_shrunk(points: torch.Tensor, noise_var: float) -> float:
    """log|Σ + σ²I| − m·log σ² for the Ledoit-Wolf covariance Σ of ``points`` (n × m).

    Σ's eigenvalues are (1 − ρ)λ_i + ρμ, λ_i those of the ML covariance: the nonzero ones are the
    Gram matrix's over n, the other m − n are 0.
    """
    rho, mu = ledoit_wolf_intensity(points)
    x = points.double() - points.double().mean(0)
    n, m = x.shape
    small = x @ x.T if n <= m else x.T @ x
    eigen = torch.linalg.eigvalsh(small / n).clamp_min(0)
    floor = rho * mu + noise_var
    return (float(torch.log((1 - rho) * eigen + floor).sum()) + (m - len(eigen)) * math.log(floor)
            - m * math.log(noise_var))


@dataclass(frozen=True)
class MixtureBound:
    redundancy_estimate: float  # plug-in H(π) + ½ Σ π_k log(|Σ̂_k + σ²I|/σ^{2m}): estimates R ≥ I(x; z)
    label_entropy: float        # H(π) over (class, component)
    log_det_term: float         # ½ Σ π_k log(|Σ̂_k + σ²I|/σ^{2m}), Σ̂_k the fitted covariances
    dim: int                    # m, the feature dimension
    bound: float | None = None  # H(x) − redundancy_estimate, when H(x) is given (an estimate of the bound)

    def mse_lower_bound(self, d: int) -> float:
        if self.bound is None:
            raise ValueError("the MSE bound needs h_x, the entropy of the input")
        return mse_lower_bound(self.bound, d)


def gmm_conditional_entropy_bound(z: torch.Tensor, labels: torch.Tensor, sigma: float, k: int = 1,
                                  h_x: float | None = None, seed: int = 0, covariance: str = "ml") -> MixtureBound:
    """CEM's bound on H(x|z) for z = ẑ + N(0, σ²I), ẑ = the clean features ``z`` (N × ...), by plug-in.

    Per class, a k-component mixture is fitted by k-means (π_ck: the share of all samples in
    component k of class c, Σ_ck: the covariance of its members, ML or Ledoit-Wolf shrinkage).
    For the population mixture, the redundancy R = H(π) + ½ Σ π_ck log(|Σ_ck + σ²I|/σ^{2m}) bounds
    I(x;z) from above, so H(x|z) ≥ H(x) − R. Computed from samples it is an ESTIMATE of R, not a
    bound: with few samples per cluster (n < m) the ML log-det is far below its population value
    (:func:`plugin_redundancy_bias`), so the estimate is biased low; shrinkage reduces that bias
    (and may overshoot a little on a steep spectrum).
    Larger redundancy: less uncertainty left, an easier attack.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive (the bound is vacuous without noise), got {sigma}")
    log_det = log_det_plus_noise if check_choice("covariance", covariance, COVARIANCES) == "ml" \
        else log_det_plus_noise_shrunk
    z = z.flatten(1).double()
    if len(labels) != len(z):
        raise ValueError(f"{len(z)} feature vectors but {len(labels)} labels")
    weights, log_dets = [], []
    for c in labels.unique():
        members = z[labels == c]
        _, assign = kmeans(members, k, seed=seed)
        for j in assign.unique():
            part = members[assign == j]
            weights.append(len(part) / len(z))
            log_dets.append(log_det(part, sigma ** 2))
    w = torch.tensor(weights, dtype=torch.float64)
    label_entropy = float(-(w * w.log()).sum())
    log_det_term = 0.5 * float((w * torch.tensor(log_dets, dtype=torch.float64)).sum())
    redundancy = label_entropy + log_det_term
    return MixtureBound(redundancy, label_entropy, log_det_term, z.shape[1],
                        None if h_x is None else h_x - redundancy)


@dataclass(frozen=True)
class PluginBias:
    population: float  # ½ Σ log(1 + λ_i/σ²): one Gaussian cluster's redundancy
    ml: float          # mean plug-in value with the ML covariance
    shrinkage: float   # mean plug-in value with the Ledoit-Wolf covariance
    dim: int
    n: int


def plugin_redundancy_bias(dim: int, n: int, sigma: float, spectrum=1.0, repeats: int = 5,
                           seed: int = 0) -> PluginBias:
    """One Gaussian cluster N(0, diag(spectrum)) in ``dim`` dimensions, ``n`` samples: its redundancy
    ½·log(|Σ + σ²I|/σ^{2m}) (closed form) against the ML and shrinkage plug-ins, averaged over
    ``repeats`` draws. ``spectrum``: a variance for every dimension, or one per dimension."""
    if sigma <= 0 or n < 2 or dim < 1:
        raise ValueError(f"need sigma > 0, n ≥ 2 and dim ≥ 1, got {sigma}, {n}, {dim}")
    variances = torch.as_tensor(spectrum, dtype=torch.float64).expand(dim)
    population = 0.5 * float(torch.log1p(variances / sigma ** 2).sum())
    generator = torch.Generator().manual_seed(seed)
    draws = [torch.randn(n, dim, generator=generator, dtype=torch.float64) * variances.sqrt() for _ in range(repeats)]
    ml = sum(0.5 * log_det_plus_noise(x, sigma ** 2) for x in draws) / repeats
    shrunk = sum(0.5 * log_det_plus_noise_shrunk(x, sigma ** 2) for x in draws) / repeats
    return PluginBias(population, ml, shrunk, dim, n)
