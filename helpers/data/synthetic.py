"""An explicitly synthetic source for the theory notebooks: a Gaussian mixture whose exact posterior
(and MMSE) can be computed. Never returned by :func:`helpers.data.load_dataset`."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class GaussianMixtureSource:
    """Samples of a known Gaussian mixture: ``x`` (N×d), component ``labels`` and the true parameters."""

    x: torch.Tensor
    labels: torch.Tensor
    means: torch.Tensor      # k × d
    stds: torch.Tensor       # k: isotropic std of each component
    weights: torch.Tensor    # k


def gaussian_mixture_source(n: int, d: int, k: int, spread: float = 1.0, std: float = 0.3,
                            seed: int = 0) -> GaussianMixtureSource:
    """Draw ``n`` points from an equal-weight mixture of ``k`` isotropic Gaussians in ``d`` dimensions.

    Means are N(0, spread²I); every component has standard deviation ``std``. Explicitly synthetic:
    used by the theory notebooks where the exact posterior (and MMSE) must be computable.
    """
    if min(n, d, k) <= 0 or spread < 0 or std <= 0:
        raise ValueError("n, d, k and std must be positive and spread non-negative")
    generator = torch.Generator().manual_seed(seed)
    means = spread * torch.randn(k, d, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, k, (n,), generator=generator)
    x = means[labels] + std * torch.randn(n, d, generator=generator, dtype=torch.float64)
    return GaussianMixtureSource(x, labels, means, torch.full((k,), float(std), dtype=torch.float64),
                                 torch.full((k,), 1.0 / k, dtype=torch.float64))
