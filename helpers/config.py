"""The three run scales and parameter validation.

A notebook's ``scale`` parameter names one of :data:`SCALES`; the environment variable
``MIA_SCALE`` overrides it (CI sets ``MIA_SCALE=smoke`` so nbval can run notebooks as stored).
Every check here raises ``ValueError`` naming what is valid, before any work starts.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Iterable

SCALE_ENV_VAR = "MIA_SCALE"


@dataclass(frozen=True)
class Scale:
    """Budgets of one scale. Sizes are numbers of images; epochs are full passes."""

    name: str
    n_train: int          # target-model training images
    n_test: int           # target-model test images (the attack is scored on part of them)
    n_aux: int            # attacker's auxiliary images
    epochs: int           # classifier epochs
    batch_size: int
    lr: float             # Adam learning rate of the classifier
    decoder_epochs: int   # inverse-network (decoder) epochs
    n_eval: int           # images the attacks are scored on
    n_stats: int          # images used for feature statistics (R_c^2, MI probes)
    n_val: int            # of n_train, held out for choices made on accuracy (notebooks 04-07)

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name != "name" and not value > 0:
                raise ValueError(f"Scale.{field.name} must be positive, got {value!r}")
        if self.n_eval > self.n_test:
            raise ValueError(f"Scale.n_eval ({self.n_eval}) exceeds n_test ({self.n_test})")
        if self.n_val >= self.n_train:
            raise ValueError(f"Scale.n_val ({self.n_val}) must be below n_train ({self.n_train})")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


SCALES: dict[str, Scale] = {
    # seconds per notebook: CI and nbval; numbers mean nothing at this scale
    "smoke": Scale("smoke", n_train=512, n_test=256, n_aux=256, epochs=1, batch_size=128,
                   lr=1e-3, decoder_epochs=1, n_eval=64, n_stats=128, n_val=64),
    # the default: the papers' phenomena visible on a 2-core CPU (../shared/docs/calibration.md)
    # (4 classifier epochs: the VGG-style model reaches the 6-epoch accuracy, 0.974 vs 0.972)
    "quick": Scale("quick", n_train=2500, n_test=1000, n_aux=1500, epochs=4, batch_size=128,
                   lr=1e-3, decoder_epochs=6, n_eval=500, n_stats=500, n_val=250),
    # the papers' order of magnitude: meant for a GPU and the full datasets
    "paper": Scale("paper", n_train=50000, n_test=10000, n_aux=10000, epochs=50, batch_size=128,
                   lr=1e-3, decoder_epochs=50, n_eval=2000, n_stats=2000, n_val=5000),
}


def get_scale(name: str | None = None) -> Scale:
    """Resolve a scale name; ``$MIA_SCALE``, when set, wins over ``name``."""
    name = os.environ.get(SCALE_ENV_VAR) or name or "quick"
    return SCALES[check_choice("scale", name, SCALES)]


def check_choice(param: str, value, valid: Iterable) -> str:
    """Return ``value`` if it is one of ``valid``; otherwise raise a ValueError listing them."""
    valid = list(valid)
    if value not in valid:
        raise ValueError(f"unknown {param} {value!r}; valid: {', '.join(map(str, valid))}")
    return value


def check_range(param: str, value: float, low: float | None = None, high: float | None = None,
                low_inclusive: bool = True, high_inclusive: bool = False) -> float:
    """Return ``value`` if it lies in the given interval, else raise a ValueError saying where."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{param} must be a number, got {value!r}") from None
    ok = value == value  # NaN fails every check
    if low is not None:
        ok &= value >= low if low_inclusive else value > low
    if high is not None:
        ok &= value <= high if high_inclusive else value < high
    if not ok:
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        interval = ("[" if low_inclusive else "(") + f"{lo}, {hi}" + ("]" if high_inclusive else ")")
        raise ValueError(f"{param} must lie in {interval}, got {value}")
    return value


def check_nonnegative(param: str, value: float) -> float:
    return check_range(param, value, low=0.0)
