"""Models: splittable classifiers with named cut points (:mod:`.nets`) and the decoder that inverts
features (:mod:`.decoder`)."""
from __future__ import annotations

from .decoder import Decoder
from .nets import (ARCHS, INPUT_SHAPES, BasicBlock, CutPoint, SplittableNet, build_model, check_cut, check_cuts,
                   constant_width, cut_points, cut_table, small_resnet, split, vgg_style)

__all__ = ["ARCHS", "INPUT_SHAPES", "BasicBlock", "CutPoint", "Decoder", "SplittableNet", "build_model", "check_cut", "check_cuts",
           "constant_width", "cut_points", "cut_table", "small_resnet", "split", "vgg_style"]
