"""Defenses: what changes between the edge output and what the cloud (and any attacker) observes.

A defense may change the edge architecture, add training-loss terms and transform the edge output at
inference (:mod:`.base`). One module per family: :mod:`.obfuscation` (noise, dropout, top-k on z),
:mod:`.training` (NoPeek, label smoothing, adversarial training), :mod:`.architecture` (bottleneck),
:mod:`.siftfunnel`, :mod:`.stack` (several at once), :mod:`.cem` (a plug-in on the others), :mod:`.patrol`
(pruning). Notebook 03 explains :func:`observe`; notebook 04 compares them all.
"""
from __future__ import annotations

from .architecture import Bottleneck
from .base import (DEFENSES, Defense, ObservedEdge, from_config, insert_at_cut, observe, plugin_defense,
                   register_defense)
from .cem import CEM
from .obfuscation import Dropout, GaussianNoise, TopK
from .patrol import Patrol
from .siftfunnel import SiftFunnel
from .stack import Stack
from .training import AdversarialTraining, LabelSmoothing, NoPeek

# the registry lists valid names in this order
for _defense in (GaussianNoise, Dropout, TopK, NoPeek, LabelSmoothing, AdversarialTraining, Bottleneck, SiftFunnel,
                 Stack, Patrol, CEM):
    register_defense(_defense)


__all__ = ["CEM", "DEFENSES", "AdversarialTraining", "Bottleneck", "Defense", "Dropout", "GaussianNoise", "LabelSmoothing",
           "NoPeek", "ObservedEdge", "Patrol", "SiftFunnel", "Stack", "TopK", "from_config", "insert_at_cut", "observe", "plugin_defense",
           "register_defense"]
