"""One protocol for every attack, and the registry the harness loops over.

An *attack* is any object with

* ``fit(x_aux, z_aux=None, y_aux=None)``: learn what it learns from the attacker's auxiliary images
  (``z_aux``: their observed features, obtained by queries; ``y_aux``: their labels);
* ``reconstruct(z, init=None)``: x̂ in [0, 1] for observed features ``z`` (``init``: a start, e.g.
  another attack's reconstruction; attacks without a start need not accept it);
* ``config()``: everything that determines its output except the data (its part of the cache key).

An :class:`AttackSpec` says how the harness builds one from an :class:`AttackContext` (the edge, the
cloud, the shapes, the budget), what access it needs, whether it is an optimisation (scored on the
first ``budget.n_optimisation`` images only), and which registered attack's reconstruction it starts
from. :func:`register_attack` adds a spec by name; adding an attack is one class and one
registration, with no edit to :func:`helpers.evaluation.harness.run_suite`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from ..core.config import check_choice
from .budget import SuiteBudget
from .learned import InverseNetworkAttack

# the access an attack may need, in the words of the papers' threat models
ACCESS = frozenset({"queries", "labels", "edge_weights", "edge_architecture", "cloud_weights", "prior"})


class Attack(Protocol):
    def fit(self, x_aux: torch.Tensor, z_aux: torch.Tensor | None = None,
            y_aux: torch.Tensor | None = None) -> Any: ...

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor: ...

    def config(self) -> dict: ...


@dataclass(frozen=True)
class AttackerData:
    """The attacker's auxiliary images: pixels, labels, dataset indices, and their observed features
    (a function: queried only when an attack is fitted on them)."""

    x: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor
    features: Callable[[], torch.Tensor]


@dataclass(frozen=True)
class AttackContext:
    """What an attack may be built from at one cut."""

    edge: nn.Module
    cloud: nn.Module
    image_shape: tuple
    feature_shape: tuple
    budget: SuiteBudget
    seed: int
    device: str
    make_shadow_edge: Callable[[], nn.Module]   # a fresh edge of the deployed architecture

    def decoder(self) -> InverseNetworkAttack:
        """The budget's inverse network (a fresh, unfitted one)."""
        return InverseNetworkAttack(self.feature_shape, self.image_shape, **self.budget.decoder_options(),
                                    seed=self.seed, device=self.device)


@dataclass(frozen=True)
class AttackSpec:
    """How to build, fit and key one registered attack (subclass to change :meth:`key` or :meth:`fit`)."""

    name: str
    build: Callable[[AttackContext], Attack]
    needs: frozenset = frozenset({"queries"})
    optimisation: bool = False      # scored on the first budget.n_optimisation images
    start: str | None = None        # the registered attack whose reconstruction it starts from
    cached: bool = True             # cheap references are recomputed rather than cached

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"an attack's name must be an identifier (it names table columns), got {self.name!r}")
        unknown = set(self.needs) - ACCESS
        if unknown:
            raise ValueError(f"attack {self.name!r} needs unknown access {sorted(unknown)}; known: {sorted(ACCESS)}")

    def key(self, attack: Attack, context: AttackContext) -> dict:
        """The attack's part of its reconstructions' cache key."""
        return attack.config()

    def fit(self, attack: Attack, aux: AttackerData) -> float | None:
        """Fit on the attacker's data; returns the fitting cost in seconds when it is not the time
        this call takes (e.g. a prior loaded from its cache), else None."""
        attack.fit(aux.x, aux.features() if "queries" in self.needs else None, aux.y)
        return None


_REGISTRY: dict[str, AttackSpec] = {}


def register_attack(spec: AttackSpec, replace: bool = False) -> AttackSpec:
    """Make ``spec`` available to the harness under ``spec.name``."""
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"an attack named {spec.name!r} is already registered (pass replace=True to replace it)")
    if spec.start is not None and spec.start not in _REGISTRY:
        raise ValueError(f"attack {spec.name!r} starts from {spec.start!r}, which is not registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister_attack(name: str) -> None:
    if any(spec.start == name for spec in _REGISTRY.values()):
        raise ValueError(f"other attacks start from {name!r}")
    del _REGISTRY[attack_spec(name).name]


def attack_spec(name: str) -> AttackSpec:
    return _REGISTRY[check_choice("attack", name, _REGISTRY)]


def registered_attacks() -> tuple[str, ...]:
    return tuple(_REGISTRY)
