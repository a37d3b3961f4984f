"""The three run scales and parameter validation.

A notebook's ``scale`` parameter names one of :data:`SCALES`; the environment variable
``MIA_SCALE`` overrides it (CI sets ``MIA_SCALE=smoke`` so nbval can run notebooks as stored).
Every check here raises ``ValueError`` naming what is valid, before any work starts.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass
from typing import Callable, Iterable

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
    # the default: the papers' phenomena visible on a 2-core CPU (calibrated on a throw-away prototype)
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


def with_classifier_epochs(scale: Scale, epochs: int) -> Scale:
    """``scale`` with ``epochs`` classifier epochs (0: the scale's own budget). The budget-robustness
    run of the claims (``make claims-budget``) reruns the claim notebooks with another budget; every
    cache key holds the epochs, so its classifiers never mix with the default run's."""
    if type(epochs) is not int or epochs < 0:
        raise ValueError(f"classifier_epochs must be a non-negative integer (0: the scale's {scale.epochs}), "
                         f"got {epochs!r}")
    return dataclasses.replace(scale, epochs=epochs) if epochs else scale


def check_choice(param: str, value, valid: Iterable) -> str:
    """Return ``value`` if it is one of ``valid``; otherwise raise a ValueError listing them."""
    valid = list(valid)
    if value not in valid:
        raise ValueError(f"unknown {param} {value!r}; valid: {', '.join(map(str, valid))}")
    return value


def check_range(param: str, value: float, low: float | None = None, high: float | None = None,
                low_inclusive: bool = True, high_inclusive: bool = False, allow_inf: bool = False) -> float:
    """Return ``value`` if it lies in the given interval, else raise a ValueError saying where.

    NaN is always refused and ±inf unless ``allow_inf``: an open interval such as ``sigma >= 0``
    would otherwise accept ``inf`` and every result downstream would silently be NaN."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{param} must be a number, got {value!r}") from None
    if value != value or (not allow_inf and value in (math.inf, -math.inf)):
        raise ValueError(f"{param} must be a finite number, got {value}; give a real value such as 0.5")
    ok = True
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


def check_list(param: str, value, item_check: Callable | None = None) -> list:
    """Return ``value`` as a list, each item passed through ``item_check`` (which raises on a bad one).

    A string is refused: ``cuts="pool1"`` would otherwise be read as the cuts 'p', 'o', 'o', ...;
    so is a dict or a single number."""
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
        raise ValueError(f"{param} must be a list, got {value!r}; write [{value!r}] for a single item")
    items = list(value)
    return [item_check(item) for item in items] if item_check is not None else items


def check_seed(value) -> int:
    """Return a seed that is a non-negative int (bools and floats such as 1.5 refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"seed must be a non-negative integer, got {value!r}; e.g. seed=0")
    return int(value)


def check_nonnegative(param: str, value: float) -> float:
    return check_range(param, value, low=0.0)
