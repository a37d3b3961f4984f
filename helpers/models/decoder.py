"""The convolutional decoder that maps features back to images: the inverse network's model
(:mod:`helpers.attacks.learned`) and the simulated attacker of adversarial training
(:class:`helpers.defenses.AdversarialTraining`)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _up_block(width: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


class Decoder(nn.Module):
    """Maps features of ``feature_shape`` to images of ``image_shape`` in [0, 1].

    Convolutional features (C×H×W): input standardisation, 3×3 conv, round(log2(H_img/H)) transposed
    convolutions that double the side, ``depth`` 3×3 convs, a sigmoid output, then a bilinear resize
    when the side is not yet exact. Flat features (D): standardisation, a linear layer to
    width×(H_img/4)², two transposed convolutions, the same head. The input standardisation is a
    BatchNorm without affine parameters, so it uses the auxiliary data's statistics at test time.
    """

    def __init__(self, feature_shape: tuple, image_shape: tuple, width: int = 64, depth: int = 1):
        super().__init__()
        self.feature_shape, self.image_shape = tuple(feature_shape), tuple(image_shape)
        channels, side = image_shape[0], image_shape[-1]
        if len(feature_shape) == 3:
            c, h, _ = feature_shape
            n_up = max(0, round(math.log2(side / h)))
            layers = [nn.BatchNorm2d(c, affine=False), *_conv_bn_relu(c, width)]
        elif len(feature_shape) == 1:
            start = side // 4
            n_up = 2
            layers = [nn.BatchNorm1d(feature_shape[0], affine=False),
                      nn.Linear(feature_shape[0], width * start * start, bias=False),
                      nn.BatchNorm1d(width * start * start), nn.ReLU(True), nn.Unflatten(1, (width, start, start))]
        else:
            raise ValueError(f"features must be C×H×W or flat, got shape {feature_shape}")
        for _ in range(n_up):
            layers += _up_block(width)
        for _ in range(depth):
            layers += _conv_bn_relu(width, width)
        layers += [nn.Conv2d(width, channels, 3, 1, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z)
        if tuple(x.shape[-2:]) != tuple(self.image_shape[-2:]):
            x = F.interpolate(x, size=self.image_shape[-2:], mode="bilinear", align_corners=False)
        return x.clamp(0, 1)
