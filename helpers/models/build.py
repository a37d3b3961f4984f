"""``build_model``: one of the built-in architectures (:mod:`.nets`), or a user's model split at named
modules (:mod:`.external`)."""
from __future__ import annotations

from ..core.config import check_choice
from .external import load_network, split_at
from .nets import ARCHS, SplittableNet


def is_external(arch: str) -> bool:
    """Does ``arch`` name a user's model (``"torchvision:NAME"``, ``"package.module:function"``)
    rather than one of :data:`ARCHS`?"""
    return isinstance(arch, str) and ":" in arch


def check_arch(arch: str) -> str:
    """``arch`` if it is one of :data:`ARCHS` or has the form of an external model spec."""
    return arch if is_external(arch) else check_choice("arch", arch, list(ARCHS) + ["torchvision:NAME",
                                                                                   "package.module:function"])


def build_model(arch: str, input_shape=(1, 28, 28), num_classes: int = 10, width: int | None = None,
                cuts=None) -> SplittableNet:
    """Build one of :data:`ARCHS` (``width`` None keeps the architecture's default), or a user's
    model split at ``cuts`` (:mod:`helpers.models.external`; ``width`` must then be None)."""
    if is_external(arch):
        if width is not None:
            raise ValueError(f"width applies to the built-in architectures, not to {arch!r}")
        return split_at(load_network(arch, num_classes), cuts, tuple(input_shape), num_classes, arch)
    builder = ARCHS[check_arch(arch)]
    if cuts is not None:
        raise ValueError(f"cuts are given for a user's model only; {arch!r} has its own: {builder().cut_names}")
    if width is not None and (int(width) != width or width <= 0):
        raise ValueError(f"width must be a positive integer, got {width!r}")
    kwargs = {} if width is None else {"width": int(width)}
    return builder(input_shape, num_classes, **kwargs)
