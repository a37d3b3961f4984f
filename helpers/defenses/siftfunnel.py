"""SiftFunnel (notebook 04): its constraint terms, its funnel-shaped edge and the cloud's upsampling.

The two constraint terms are batch statistics used as training losses on the edge output z:

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

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from ..core.config import check_nonnegative, check_range
from .base import Defense, feature_shape_at, rebuild


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
    """mean over samples of mean(ρ²), ρ the C×C correlation of the channels of z (N × C × H × W).

    A constant ("dead") channel has no correlation; we give it ρ = 0 everywhere, its diagonal
    included, so the term is slightly lower for images with dead channels."""
    if z.dim() != 4:
        raise ValueError(f"the channel-Pearson penalty needs N×C×H×W features, got shape {tuple(z.shape)}")
    channels = z.flatten(2)
    centred = channels - channels.mean(2, keepdim=True)
    cov = centred @ centred.transpose(1, 2) / channels.shape[2]
    std = cov.diagonal(dim1=1, dim2=2).clamp_min(eps).sqrt()
    rho = cov / (std[:, :, None] * std[:, None, :])
    return (rho ** 2).mean()


# ---------------------------------------------------------------- the funnel-shaped edge and the cloud's upsampling


class SqueezeExcitation(nn.Module):
    """Channel attention (Hu et al. 2018): global average pool → bottleneck MLP → sigmoid gate."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(hidden, channels, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.gate(x)


class CBAM(nn.Module):
    """CBAM-style attention (Woo et al. 2018): a channel gate from average- and max-pooled
    descriptors through a shared MLP, then a spatial gate from a 7×7 conv over the channel mean and max."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(2, 1, 7, padding=3)

    def forward(self, x):
        x = x * torch.sigmoid(self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1)))
        descriptor = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(descriptor))


def funnel(c_in: int, channels: int, n_pool: int) -> nn.Sequential:
    """SE, then narrowing 1×1 convolutions to ``channels`` (with ``n_pool`` 2×2 max-poolings), a
    few light 3×3/5×5 convs of that width, and SE + CBAM on the narrow output (the paper's block2_mix,
    scaled to our 32-channel stem). The final ReLU makes z sparse."""
    mid = max(channels, c_in // 4)
    layers = [SqueezeExcitation(c_in, 8), nn.Conv2d(c_in, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True)]
    layers += [nn.MaxPool2d(2) for _ in range(n_pool)]
    layers += [nn.Conv2d(mid, channels, 1, bias=False), nn.BatchNorm2d(channels),
               nn.Conv2d(channels, channels, 3, padding=1), nn.SiLU(),
               nn.Conv2d(channels, channels, 1), nn.Conv2d(channels, channels, 3, padding=1),
               nn.Conv2d(channels, channels, 5, padding=2, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
               SqueezeExcitation(channels, 2), CBAM(channels, 2)]
    return nn.Sequential(*layers)


def upsampling(channels: int, c_out: int) -> nn.Sequential:
    """The cloud's first module: 3×3 convs from the narrow z back to the backbone's width."""
    return nn.Sequential(nn.Conv2d(channels, c_out, 3, padding=1), nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class SiftFunnel(Defense):
    """SiftFunnel on the VGG-style backbone, with the cut at ``cut`` (pool1 or a later conv cut).

    Edge: the backbone's first conv layer (relu1) and pooling (pool1), then :func:`funnel` down to
    ``channels`` channels at the cut's resolution (this replaces every other edge layer). Cloud:
    :func:`upsampling` to the cut's original width, then the backbone's remaining layers.
    Training loss: task_weight·CE(smoothed labels) + beta·dCor²(x, z) + l1·mean|z| + gamma·Pearson(z);
    CE against the smoothed targets differs from the paper's KL by the targets' constant entropy,
    so the gradients are the same. Loss defaults are those of the paper's code (α=5, β=2, γ=2, 0.03,
    0.25). 8 channels by default: with the paper's VGG16 setting of 4, our model lost 7 points of
    accuracy at the quick budget (8 epochs), with 8 it lost 2.4 (notebook 04).
    """

    name = "siftfunnel"
    version = 2  # 2: BatchNorm before the funnel's last ReLU (without it training stalled near chance)

    def __init__(self, channels: int = 8, alpha: float = 5.0, beta: float = 2.0, gamma: float = 2.0,
                 l1: float = 0.03, smoothing: float = 0.25):
        if type(channels) is not int or channels < 1:
            raise ValueError(f"channels must be a positive integer, got {channels!r}")
        self.channels = channels
        self.alpha = check_range("alpha", alpha, 0.0, low_inclusive=False)
        self.beta, self.gamma, self.l1 = (check_nonnegative(n, v) for n, v in (("beta", beta), ("gamma", gamma), ("l1", l1)))
        self.smoothing = check_range("smoothing", smoothing, 0.0, 1.0, high_inclusive=False)

    def params(self) -> dict:
        return {"channels": self.channels, "alpha": self.alpha, "beta": self.beta, "gamma": self.gamma,
                "l1": self.l1, "smoothing": self.smoothing}

    @property
    def label_smoothing(self) -> float:
        return self.smoothing

    @property
    def task_weight(self) -> float:
        return self.alpha

    def edge_loss(self, x, z, y=None):
        loss = self.l1 * z.abs().mean() + self.gamma * pearson_channel_penalty(z)
        return loss + self.beta * distance_correlation(x, z) if self.beta > 0 else loss

    def build(self, model, cut):
        if model.arch != "vgg":
            raise ValueError(f"SiftFunnel is built on the VGG-style backbone, not {model.arch!r}")
        names = model.cut_names
        if cut not in names or names.index(cut) < names.index("pool1"):
            raise ValueError(f"SiftFunnel keeps relu1 and pool1 on the edge: cut at pool1 or later, not {cut!r}")
        stem = feature_shape_at(model, "pool1")
        c_stem, side = stem[0], stem[-1]
        shape = feature_shape_at(model, cut)
        if len(shape) != 3:
            raise ValueError(f"SiftFunnel needs a convolutional cut, {cut!r} has features of shape {shape}")
        n_pool = round(math.log2(side / shape[-1]))
        blocks = OrderedDict()
        for name, block in model.blocks.named_children():
            index = names.index(name)
            if name == cut:  # the funnel replaces the edge layers after pool1
                stem_pool = [block] if name == "pool1" else []
                blocks[name] = nn.Sequential(*stem_pool, *funnel(c_stem, self.channels, n_pool))
            elif name in ("relu1", "pool1") or index > names.index(cut) + 1:
                blocks[name] = block
            elif index == names.index(cut) + 1:
                blocks[name] = nn.Sequential(upsampling(self.channels, shape[0]), block)
        return rebuild(model, blocks)
