"""Defenses: what changes between the edge output and what the cloud (and any attacker) observes.

A defense may change the edge architecture, add training-loss terms and transform the edge output at
inference (:mod:`.base`). One module per family: :mod:`.obfuscation` (noise, dropout, top-k on z),
:mod:`.training` (NoPeek, label smoothing, adversarial training), :mod:`.architecture` (bottleneck),
:mod:`.siftfunnel`, :mod:`.stack` (several at once), :mod:`.cem` (a plug-in on the others), :mod:`.patrol`
(pruning). Notebook 03 explains :func:`observe`; notebook 04 compares them all.
"""
from __future__ import annotations

from ..config import check_choice
from .architecture import Bottleneck
from .base import Defense, ObservedEdge, insert_at_cut, observe
from .cem import CEM
from .obfuscation import Dropout, GaussianNoise, TopK
from .patrol import Patrol
from .siftfunnel import SiftFunnel
from .stack import Stack
from .training import AdversarialTraining, LabelSmoothing, NoPeek

DEFENSES = {cls.name: cls for cls in (Defense, GaussianNoise, Dropout, TopK, NoPeek, LabelSmoothing,
                                      AdversarialTraining, Bottleneck, SiftFunnel, Stack, Patrol, CEM)}


def from_config(config: dict | None) -> Defense:
    """Rebuild a defense from ``Defense.config()`` (None: no defense); unknown names raise ValueError."""
    if not config:
        return Defense()
    params = dict(config)
    name = check_choice("defense", params.pop("defense", None), DEFENSES)
    version = params.pop("version", DEFENSES[name].version)  # absent: the current code's
    if version != DEFENSES[name].version:
        raise ValueError(f"{name} config of version {version}, but the code is version {DEFENSES[name].version}")
    return DEFENSES[name](**params)


__all__ = ["CEM", "DEFENSES", "AdversarialTraining", "Bottleneck", "Defense", "Dropout", "GaussianNoise", "LabelSmoothing",
           "NoPeek", "ObservedEdge", "Patrol", "SiftFunnel", "Stack", "TopK", "from_config", "insert_at_cut", "observe"]
