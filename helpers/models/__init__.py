"""Models: splittable classifiers with named cut points (:mod:`.nets`), a user's model split at
named modules (:mod:`.external`), ``build_model`` for either (:mod:`.build`), and the decoder that
inverts features (:mod:`.decoder`)."""
from __future__ import annotations

from .build import build_model, check_arch, is_external
from .decoder import Decoder
from .external import (RepeatChannels, first_layer_channels, load_network, source_digest, split_at,
                       valid_cuts)
from .nets import (ARCHS, INPUT_SHAPES, BasicBlock, CutPoint, SplittableNet, check_cut, check_cuts,
                   constant_width, cut_points, cut_table, small_resnet, split, vgg_style)

__all__ = ["ARCHS", "INPUT_SHAPES", "BasicBlock", "CutPoint", "Decoder", "RepeatChannels", "SplittableNet",
           "build_model", "check_arch", "check_cut", "check_cuts", "constant_width", "cut_points", "cut_table",
           "first_layer_channels", "is_external", "load_network", "small_resnet", "source_digest", "split",
           "split_at", "valid_cuts", "vgg_style"]
