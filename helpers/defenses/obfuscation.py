"""Defenses that transform the edge output at inference: Gaussian noise, dropout and top-k
sparsification of z. The cloud is trained on the transformed features, so it learns to cope."""
from __future__ import annotations

import torch

from ..core.config import check_nonnegative, check_range
from .base import Defense


class GaussianNoise(Defense):
    """z + N(0, σ²I) at inference (and in training, so the cloud learns to cope)."""

    name = "noise"

    def __init__(self, sigma: float):
        self.sigma = check_nonnegative("sigma", sigma)

    def params(self) -> dict:
        return {"sigma": self.sigma}

    @property
    def is_random(self) -> bool:
        return self.sigma > 0

    def observe(self, z, generator=None):
        if self.sigma == 0:
            return z
        noise = torch.randn(z.shape, generator=generator, dtype=z.dtype, device="cpu").to(z.device)
        return z + self.sigma * noise


class Dropout(Defense):
    """Zero each value of z independently with probability ``rate`` (He et al. 2020), at inference and
    in training. No 1/(1−rate) rescaling: the cloud is trained on what it will receive."""

    name = "dropout"

    def __init__(self, rate: float):
        self.rate = check_range("rate", rate, 0.0, 1.0, high_inclusive=False)

    def params(self) -> dict:
        return {"rate": self.rate}

    @property
    def is_random(self) -> bool:
        return self.rate > 0

    def observe(self, z, generator=None):
        if self.rate == 0:
            return z
        keep = torch.rand(z.shape, generator=generator, device="cpu").to(z.device) >= self.rate
        return z * keep


class TopK(Defense):
    """Keep, per sample, the ``keep`` fraction of z's values largest in magnitude; zero the rest.

    Per sample, unlike the public CEM code, which thresholds over the flattened batch (so one
    image's features depended on the others in its batch). Ties at the threshold are all kept.
    """

    name = "topk"

    def __init__(self, keep: float):
        self.keep = check_range("keep", keep, 0.0, 1.0, low_inclusive=False, high_inclusive=True)

    def params(self) -> dict:
        return {"keep": self.keep}

    def observe(self, z, generator=None):
        if self.keep == 1:
            return z
        flat = z.flatten(1)
        k = max(1, round(self.keep * flat.shape[1]))
        threshold = flat.abs().topk(k, dim=1).values[:, -1:]
        return (flat * (flat.abs() >= threshold)).view_as(z)
