"""Defenses: what changes between the edge output and what the cloud (and any attacker) observes.

A defense may change the edge, add training-loss terms and transform the edge output at inference.
This module holds the common interface and the single function :func:`observe`, through which the
classifier, attack training and attack testing all see the edge's output (notebook 03).
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import check_choice, check_nonnegative, check_range


class Defense:
    """The undefended baseline: the cloud receives z unchanged."""

    name = "none"

    def params(self) -> dict:
        return {}

    def config(self) -> dict:
        return {"defense": self.name, **self.params()}

    def observe(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return z

    def edge_loss(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor | float:
        """Extra training loss on a batch of inputs and their (clean) edge outputs; 0 by default."""
        return 0.0

    @property
    def is_random(self) -> bool:
        return False

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


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


class NoPeek(Defense):
    """NoPeek (Vepakomma et al. 2020): add weight·dCor²(x, z) to the training loss, so that the edge
    output depends less on the input; the cloud observes z unchanged."""

    name = "nopeek"

    def __init__(self, weight: float):
        self.weight = check_nonnegative("weight", weight)

    def params(self) -> dict:
        return {"weight": self.weight}

    def edge_loss(self, x, z):
        from .siftfunnel import distance_correlation

        return self.weight * distance_correlation(x, z) if self.weight > 0 else 0.0


DEFENSES = {cls.name: cls for cls in (Defense, GaussianNoise, Dropout, TopK, NoPeek)}


def from_config(config: dict | None) -> Defense:
    """Rebuild a defense from ``Defense.config()`` (None: no defense); unknown names raise ValueError."""
    if not config:
        return Defense()
    params = dict(config)
    name = check_choice("defense", params.pop("defense", None), DEFENSES)
    return DEFENSES[name](**params)


def observe(z: torch.Tensor, defense: Defense | None = None, generator: torch.Generator | None = None
            ) -> torch.Tensor:
    """What the cloud receives for edge output ``z`` under ``defense`` (None: no defense)."""
    return (defense or Defense()).observe(z, generator)


class ObservedEdge(nn.Module):
    """``observe(edge(x), defense)`` as one module: the only path from an image to what the cloud sees."""

    def __init__(self, edge: nn.Module, defense: Defense | None = None):
        super().__init__()
        self.edge = edge
        self.defense = defense or Defense()

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return observe(self.edge(x), self.defense, generator)
