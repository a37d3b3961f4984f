"""SiftFunnel's constraint terms (notebook 04): distance correlation and the channel-Pearson penalty.

Both are batch statistics used as training losses on the edge output z:

* ``distance_correlation(x, z)``: the *squared* distance correlation of Székely et al. between two
  batches, dCov²(x, z)/sqrt(dCov²(x, x)·dCov²(z, z)) from double-centred Euclidean distance matrices
  (the biased V-statistic). This is the value SiftFunnel's and NoPeek's code minimise, so we keep
  their convention: 1 for identical (or similar up to scale and shift) batches, 0 when the
  empirical joint distribution factorises.
* ``pearson_channel_penalty(z)``: for each sample, the C×C Pearson correlation matrix of its
  channels (each channel's H·W values), squared and averaged, diagonal included (as in SiftFunnel's
  code: the diagonal adds a constant 1/C, the rest pushes channels towards decorrelation).
"""
from __future__ import annotations

import torch


def _double_centred_distances(batch: torch.Tensor) -> torch.Tensor:
    flat = batch.flatten(1).double()
    d = torch.cdist(flat, flat)
    return d - d.mean(0, keepdim=True) - d.mean(1, keepdim=True) + d.mean()


def distance_correlation(x: torch.Tensor, z: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Squared distance correlation dCor²(x, z) ∈ [0, 1] of two batches (N × ..., same N ≥ 2)."""
    if len(x) != len(z) or len(x) < 2:
        raise ValueError(f"need two batches of the same size ≥ 2, got {len(x)} and {len(z)}")
    a, b = _double_centred_distances(x), _double_centred_distances(z)
    dcov_xz, dcov_xx, dcov_zz = (a * b).mean(), (a * a).mean(), (b * b).mean()
    return (dcov_xz / torch.sqrt(dcov_xx * dcov_zz).clamp_min(eps)).to(z.dtype)


def pearson_channel_penalty(z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """mean over samples of mean(ρ²), ρ the C×C correlation of the channels of z (N × C × H × W)."""
    if z.dim() != 4:
        raise ValueError(f"the channel-Pearson penalty needs N×C×H×W features, got shape {tuple(z.shape)}")
    channels = z.flatten(2)
    centred = channels - channels.mean(2, keepdim=True)
    cov = centred @ centred.transpose(1, 2) / channels.shape[2]
    std = cov.diagonal(dim1=1, dim2=2).clamp_min(eps).sqrt()
    rho = cov / (std[:, :, None] * std[:, None, :])
    return (rho ** 2).mean()
