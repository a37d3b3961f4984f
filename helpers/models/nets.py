"""Splittable classifiers with named cut points (explained in notebooks/00_quickstart.ipynb).

Every model is a :class:`SplittableNet`: an ordered chain of named blocks. A cut point is the name
of a block; ``split(model, cut)`` returns the edge (blocks up to and including ``cut``) and the cloud
(the rest), which share the model's parameters, so ``cloud(edge(x))`` is ``model(x)`` exactly.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..core.config import check_choice, check_list

INPUT_SHAPES = ((1, 28, 28), (3, 32, 32), (3, 64, 64))  # 64×64: CIFAR-10 as GPZ and SiftFunnel resize it


class SplittableNet(nn.Module):
    """A chain of named blocks; the names are the cut points."""

    def __init__(self, blocks: "OrderedDict[str, nn.Module]", input_shape: tuple, num_classes: int,
                 arch: str):
        super().__init__()
        self.blocks = nn.Sequential(blocks)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.arch = arch

    @property
    def cut_names(self) -> list[str]:
        return list(self.blocks._modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


def _conv_block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


def _check_input(input_shape) -> tuple:
    input_shape = tuple(input_shape)
    if input_shape not in INPUT_SHAPES:
        raise ValueError(f"unsupported input shape {input_shape}; valid: {INPUT_SHAPES}")
    return input_shape


def vgg_style(input_shape=(1, 28, 28), num_classes: int = 10, width: int = 32) -> SplittableNet:
    """conv-conv-pool-conv-conv-pool-conv-pool-fc-fc with BN+ReLU (the calibration model).

    Channels are width, width, 2·width, 2·width, 4·width; the hidden FC layer has 8·width units.
    """
    c, h, _ = _check_input(input_shape)
    w1, w2, w3 = width, 2 * width, 4 * width
    side = h // 8  # three 2×2 poolings: 28 -> 3, 32 -> 4
    blocks = OrderedDict([
        ("relu1", _conv_block(c, w1)), ("relu2", _conv_block(w1, w1)), ("pool1", nn.MaxPool2d(2)),
        ("relu3", _conv_block(w1, w2)), ("relu4", _conv_block(w2, w2)), ("pool2", nn.MaxPool2d(2)),
        ("relu5", _conv_block(w2, w3)), ("pool3", nn.MaxPool2d(2)),
        ("fc1", nn.Sequential(nn.Flatten(), nn.Linear(w3 * side * side, 8 * width),
                              nn.ReLU(inplace=True))),
        ("logits", nn.Linear(8 * width, num_classes)),
    ])
    return SplittableNet(blocks, (c, h, h), num_classes, "vgg")


class BasicBlock(nn.Module):
    """The ResNet basic block: two 3×3 convs with a (projected when needed) skip connection."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.skip(x))


def small_resnet(input_shape=(1, 28, 28), num_classes: int = 10, width: int = 16) -> SplittableNet:
    """A stem and four basic blocks (widths w, w, 2w, 4w, 8w; strides 1, 1, 2, 2, 2), then pooling."""
    c, h, _ = _check_input(input_shape)
    widths = [width, width, 2 * width, 4 * width, 8 * width]
    blocks = OrderedDict([("stem", _conv_block(c, widths[0]))])
    for i, (c_in, c_out, stride) in enumerate(zip(widths[:-1], widths[1:], (1, 2, 2, 2)), start=1):
        blocks[f"block{i}"] = BasicBlock(c_in, c_out, stride)
    blocks["pool"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    blocks["logits"] = nn.Linear(widths[-1], num_classes)
    return SplittableNet(blocks, (c, h, h), num_classes, "resnet")


def constant_width(input_shape=(1, 28, 28), num_classes: int = 10, width: int = 8, depth: int = 6
                   ) -> SplittableNet:
    """``depth`` stride-1 3×3 conv blocks of ``width`` channels and no pooling, then one linear layer.

    The feature dimension (width·H·W) is the same at every convolutional cut, so depth and
    compactness can be studied without the dimension drops of pooling (notebook 02).
    """
    c, h, _ = _check_input(input_shape)
    blocks = OrderedDict([(f"conv{i}", _conv_block(c if i == 1 else width, width)) for i in range(1, depth + 1)])
    blocks["logits"] = nn.Sequential(nn.Flatten(), nn.Linear(width * h * h, num_classes))
    return SplittableNet(blocks, (c, h, h), num_classes, "constant")


ARCHS = {"vgg": vgg_style, "resnet": small_resnet, "constant": constant_width}


def check_cut(model: SplittableNet, cut: str) -> str:
    return check_choice("cut", cut, model.cut_names)


def check_cuts(model: SplittableNet, cuts) -> list[str]:
    """``cuts`` as a list of the model's cut names; a bare string such as ``"pool1"`` is refused."""
    return check_list("cuts", cuts, lambda cut: check_cut(model, cut))


def split(model: SplittableNet, cut: str) -> tuple[nn.Sequential, nn.Sequential]:
    """(edge, cloud) at ``cut``; both share the model's parameters (deep-copy to decouple)."""
    index = model.cut_names.index(check_cut(model, cut))
    blocks = list(model.blocks._modules.items())
    return nn.Sequential(OrderedDict(blocks[:index + 1])), nn.Sequential(OrderedDict(blocks[index + 1:]))


@dataclass(frozen=True)
class CutPoint:
    name: str
    feature_shape: tuple   # per image
    feature_dim: int       # values sent to the cloud per image (the payload)
    edge_params: int
    edge_flops: int        # per image, forward; conv and matmul only (one multiply-add = 2 FLOPs)


def cut_points(model: SplittableNet) -> list[CutPoint]:
    """Feature shape, payload, edge parameters and edge FLOPs at every cut point."""
    was_training = model.training
    model.eval()
    x = torch.zeros(1, *model.input_shape)
    points, params, flops = [], 0, 0
    with torch.no_grad():
        for name, block in model.blocks.named_children():
            counter = FlopCounterMode(display=False)
            with counter:
                x = block(x)
            flops += counter.get_total_flops()
            params += sum(p.numel() for p in block.parameters())
            points.append(CutPoint(name, tuple(x.shape[1:]), x[0].numel(), params, int(flops)))
    model.train(was_training)
    return points


def cut_table(model: SplittableNet):
    """:func:`cut_points` as a pandas DataFrame indexed by cut name."""
    import pandas as pd

    rows = [{"cut": p.name, "feature_shape": "×".join(map(str, p.feature_shape)), "payload": p.feature_dim,
             "edge_params": p.edge_params, "edge_MFLOPs": round(p.edge_flops / 1e6, 3)}
            for p in cut_points(model)]
    return pd.DataFrame(rows).set_index("cut")
