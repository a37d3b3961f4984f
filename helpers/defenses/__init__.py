"""Defenses: what changes between the edge output and what the cloud (and any attacker) observes.

A defense may change the edge, add training-loss terms and transform the edge output at inference.
This module holds the common interface and the single function :func:`observe`, through which the
classifier, attack training and attack testing all see the edge's output (notebook 03).
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import check_nonnegative


class Defense:
    """The undefended baseline: the cloud receives z unchanged."""

    name = "none"

    def params(self) -> dict:
        return {}

    def config(self) -> dict:
        return {"defense": self.name, **self.params()}

    def observe(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return z

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
