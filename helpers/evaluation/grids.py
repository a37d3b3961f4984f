"""The defense grids and the CEM setting the notebooks share, defined once.

:data:`DEFENSE_GRID` is notebook 04's grid (every baseline at its strengths, SiftFunnel); notebook 07
benchmarks :func:`benchmark_grid`: that grid plus a stacked defense and the CEM plug-in on two bases,
at notebook 05's setting :data:`CEM_PLUGIN`. A notebook's ``defenses`` parameter left empty takes
these (a grid given replaces them); its ``cem`` parameter holds changes to :data:`CEM_PLUGIN`.
"""
from __future__ import annotations

from ..defenses.cem import PAPER_TRAINING_SIZE

NOISE = {"defense": "noise", "sigma": 0.5}
NOISE_BOTTLENECK = {"defense": "stack", "parts": [NOISE, {"defense": "bottleneck", "channels": 8}]}

DEFENSE_GRID = {"noise": [{"sigma": 0.5}, {"sigma": 1.5}], "dropout": [{"rate": 0.5}],
                "topk": [{"keep": 0.02}], "nopeek": [{"weight": 1.0}],
                "bottleneck": [{"channels": 4}], "adversarial": [{"weight": 1.0}],
                "label_smoothing": [{"alpha": 0.25}], "siftfunnel": [{"channels": 8}]}

# SiftFunnel's claims hold at < 3 points of accuracy loss: notebooks 04 and 07 widen its funnel through
# these channel counts, narrowest first, until it keeps the accuracy budget on validation images
# (helpers.evaluation.selection.with_siftfunnel_tuned); 8 alone was 6-9 points short at quick
SIFTFUNNEL_WIDTHS = [8, 16, 32, 64]

# the plug-in of notebook 05: λ = 8 with the paper's ramp, k = 5 clusters per class, τ = 1/8, at the
# paper's effective strength (the variance blend's weight as at CIFAR-10's 50,000 training images:
# helpers.defenses.cem); CEM_AS_GIVEN, the same λ at our own training-set size, is about 22× stronger
CEM_PLUGIN = {"weight": 8.0, "k": 5, "tau": 0.125, "variant": "isotropic", "ramp": True,
              "blend_size": PAPER_TRAINING_SIZE}
CEM_AS_GIVEN = {"blend_size": None}   # the change to CEM_PLUGIN that gives the earlier, stronger reading


# At smoke (CI: the code runs, its numbers mean nothing) notebook 07's default grid keeps one
# defense of each kind its claims compare (a perturbation, the bottleneck the stack reuses, SiftFunnel):
# 8 classifiers instead of 14 and half the strong attacker's cost; notebook 04 runs every baseline.
SMOKE_KINDS = ("noise", "bottleneck", "siftfunnel")


def benchmark_grid(grid: dict | None = None, cem: dict | None = None, scale: str = "quick") -> dict:
    """``grid`` (default :data:`DEFENSE_GRID`; at ``scale`` smoke its first strength of each of
    :data:`SMOKE_KINDS`), a noise + bottleneck stack, and ``cem`` (default :data:`CEM_PLUGIN`)
    plugged into the noise and into that stack."""
    cem = CEM_PLUGIN if cem is None else cem
    if grid is None:
        grid = {k: v[:1] for k, v in DEFENSE_GRID.items() if k in SMOKE_KINDS} if scale == "smoke" else DEFENSE_GRID
    return {**grid, "stack": [{"parts": NOISE_BOTTLENECK["parts"]}],
            "cem": [{"base": NOISE, **cem}, {"base": NOISE_BOTTLENECK, **cem}]}


def cem_setting(changes: dict | None = None) -> dict:
    """:data:`CEM_PLUGIN` with a notebook's ``cem`` parameter (changes to it) applied; a fresh dict."""
    if changes is not None and not isinstance(changes, dict):
        raise ValueError(f"cem must be a dict of changes to CEM's parameters, got {changes!r}")
    return {**CEM_PLUGIN, **(changes or {})}
