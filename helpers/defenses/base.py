"""The defense interface, the one path from an image to what the cloud observes, and the helper that
inserts extra layers at a cut (architecture-changing defenses).

A defense may (1) change the architecture around the cut (:meth:`Defense.build`), (2) change training
(:meth:`Defense.edge_loss`, :meth:`Defense.before_epoch`, :attr:`Defense.label_smoothing`,
:attr:`Defense.task_weight`; pruning may also change the architecture in training) and
(3) transform the edge output at inference (:meth:`Defense.observe`). The undefended model is the
:class:`Defense` base class itself.
"""
from __future__ import annotations

import importlib
from collections import OrderedDict

import torch
from torch import nn

from ..core.config import check_choice
from ..models import SplittableNet, split


class Defense:
    """The undefended baseline: the cloud receives z unchanged."""

    name = "none"
    version = 0   # bump when an architecture's code changes: it is part of cache keys (when > 0)
    label_smoothing: float | None = None   # training-target smoothing; None keeps the config's
    task_weight: float = 1.0               # weight of the classification loss

    def params(self) -> dict:
        return {}

    def config(self) -> dict:
        return {"defense": self.name, **self.params(), **({"version": self.version} if self.version else {})}

    def build(self, model, cut: str):
        """The classifier as this defense deploys it (the undefended ``model`` unchanged by default).

        The returned model keeps the cut name ``cut``: splitting there gives the defended edge."""
        return model

    def observe(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return z

    def edge_loss(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor | float:
        """Extra training loss on a batch of inputs, their (clean) edge outputs and labels; 0 by default."""
        return 0.0

    def before_epoch(self, edge, x: torch.Tensor, y: torch.Tensor, epoch: int, epochs: int) -> None:
        """Called by training before each epoch (1-based, of ``epochs``) with the edge and the training set."""

    def deploy(self, model, cut: str):
        """The trained model as shipped to the edge; pruning returns a physically smaller edge with
        the same outputs (count its cost), every other defense ``model`` itself."""
        return model

    def match_architecture(self, fresh, deployed):
        """``fresh`` (an untrained model of this defense's architecture) made structurally like the
        trained ``deployed`` one: what an attacker who knows the deployed architecture builds. The
        architecture is fixed by :meth:`build` for every defense but pruning, so ``fresh`` as it is."""
        return fresh

    @property
    def is_random(self) -> bool:
        return False

    @property
    def observes_unchanged(self) -> bool:
        """Whether the cloud receives the edge output itself (:meth:`observe` is the identity: the
        defense acts on the architecture or on training only). An attacker unaware of the defense
        then sees exactly what an aware one sees."""
        return type(self).observe is Defense.observe

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


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


def feature_shape_at(model, cut: str) -> tuple:
    """Per-image shape of the features at ``cut`` (one forward pass of a zero image)."""
    edge, _ = split(model, cut)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        shape = tuple(edge(torch.zeros(1, *model.input_shape)).shape[1:])
    model.train(was_training)
    return shape


def rebuild(model, blocks: "OrderedDict[str, nn.Module]"):
    """A :class:`~helpers.models.SplittableNet` like ``model`` with other blocks."""
    return SplittableNet(blocks, model.input_shape, model.num_classes, model.arch)


def insert_at_cut(model, cut: str, edge_extra: nn.Module, cloud_extra: nn.Module):
    """``model`` with ``edge_extra`` appended to the block named ``cut`` (it runs on the edge) and
    ``cloud_extra`` prepended to the next block (it runs in the cloud). The cut names do not change."""
    names = model.cut_names
    if cut not in names:
        raise ValueError(f"unknown cut {cut!r}; valid: {names}")
    if cut == names[-1]:
        raise ValueError(f"cut {cut!r} is the output layer: no cloud is left to add layers to")
    following = names[names.index(cut) + 1]
    blocks = OrderedDict()
    for name, block in model.blocks.named_children():
        if name == cut:
            block = nn.Sequential(block, edge_extra)
        elif name == following:
            block = nn.Sequential(cloud_extra, block)
        blocks[name] = block
    return rebuild(model, blocks)


# ---------------------------------------------------------------- the registry of defenses by name

DEFENSES: dict[str, type[Defense]] = {}


def register_defense(cls: type[Defense]) -> type[Defense]:
    """Make ``cls`` rebuildable from its :meth:`Defense.config` by :func:`from_config` (usable as a
    class decorator). Its ``name`` must be new, unless the same class is registered again (or its
    module was imported again: the class of the same module and name replaces the old one)."""
    if not (isinstance(cls, type) and issubclass(cls, Defense)):
        raise TypeError(f"{cls!r} is not a subclass of helpers.defenses.Defense")
    known = DEFENSES.get(cls.name, cls)
    if (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"a defense named {cls.name!r} is already registered ({DEFENSES[cls.name].__name__})")
    DEFENSES[cls.name] = cls
    return cls


def plugin_defense(spec: str) -> type[Defense]:
    """The defense class ``"package.module:Class"`` names (a user's, outside this project), imported
    and registered under its ``name``: from then on it is a defense like the built-in ones."""
    where, _, attribute = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(where), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"defense {spec!r}: cannot import {attribute!r} from {where!r} ({error})") from error
    if not (isinstance(cls, type) and issubclass(cls, Defense)):
        raise ValueError(f"defense {spec!r} lacks the defense interface: subclass helpers.defenses.Defense, give it "
                         "a name, params() and what it changes (build, observe, edge_loss, before_epoch)")
    if cls.name == Defense.name or ":" in cls.name:
        raise ValueError(f"defense {spec!r} needs its own name (the class attribute `name`, without ':')")
    return register_defense(cls)


def from_config(config: dict | None) -> Defense:
    """Rebuild a defense from ``Defense.config()`` (None: no defense); unknown names raise ValueError.
    A name ``"package.module:Class"`` imports and registers that class first (:func:`plugin_defense`)."""
    if not config:
        return Defense()
    params = dict(config)
    name = params.pop("defense", None)
    name = plugin_defense(name).name if isinstance(name, str) and ":" in name else name
    name = check_choice("defense", name, DEFENSES)
    version = params.pop("version", DEFENSES[name].version)  # absent: the current code's
    if version != DEFENSES[name].version:
        raise ValueError(f"{name} config of version {version}, but the code is version {DEFENSES[name].version}")
    return DEFENSES[name](**params)


register_defense(Defense)
