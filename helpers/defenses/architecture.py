"""A narrow bottleneck at the cut (CEM's ``C8S1``-style baseline): the edge ends in a layer of few
channels (or units), the cloud starts by expanding back to the original width."""
from __future__ import annotations

from torch import nn

from .base import Defense, feature_shape_at, insert_at_cut


class Bottleneck(Defense):
    """Edge: 3×3 conv (or linear) to ``channels`` + BatchNorm, no ReLU (so every value is sent);
    cloud: 3×3 conv (or linear) back to the original width + BatchNorm + ReLU.

    The payload shrinks from C·H·W to channels·H·W values (C·H·W → channels for flat cuts)."""

    name = "bottleneck"

    def __init__(self, channels: int):
        if type(channels) is not int or channels < 1:
            raise ValueError(f"channels must be a positive integer, got {channels!r}")
        self.channels = channels

    def params(self) -> dict:
        return {"channels": self.channels}

    def build(self, model, cut):
        shape = feature_shape_at(model, cut)
        b = self.channels
        if len(shape) == 3:
            c = shape[0]
            edge = nn.Sequential(nn.Conv2d(c, b, 3, 1, 1, bias=False), nn.BatchNorm2d(b))
            cloud = nn.Sequential(nn.Conv2d(b, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        else:
            d = shape[0]
            edge = nn.Sequential(nn.Linear(d, b, bias=False), nn.BatchNorm1d(b))
            cloud = nn.Sequential(nn.Linear(b, d), nn.ReLU(inplace=True))
        return insert_at_cut(model, cut, edge, cloud)
