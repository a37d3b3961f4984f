"""GPZ's intra-class radius R_c² and the Golden Partition Zone rule (notebook 02).

R_c² = (1/N_c) Σ_{i∈c} ||z_i − μ_c||² on flattened features, averaged over the classes present;
``global_variance`` is the same with one class, so R_c²/global variance is scale-free and lies in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.config import check_choice


# ---------------------------------------------------------------- GPZ: intra-class radius

@dataclass(frozen=True)
class ClassRadius:
    classes: list      # class ids present
    per_class: list    # R_c² for each
    mean: float        # averaged over the classes present (GPZ's code)


def intra_class_radius(z: torch.Tensor, labels: torch.Tensor) -> ClassRadius:
    """R_c² = (1/N_c) Σ_{i∈c} ||z_i − μ_c||² on flattened features, per class and averaged."""
    z = z.flatten(1).double()
    if len(labels) != len(z):
        raise ValueError(f"{len(z)} feature vectors but {len(labels)} labels")
    classes = sorted(int(c) for c in labels.unique())
    radii = [float(((z[labels == c] - z[labels == c].mean(0)) ** 2).sum(1).mean()) for c in classes]
    return ClassRadius(classes, radii, sum(radii) / len(radii))


def global_variance(z: torch.Tensor) -> float:
    """(1/N) Σ ||z_i − μ||²: the total variance, R² with a single class."""
    z = z.flatten(1).double()
    return float(((z - z.mean(0)) ** 2).sum(1).mean())


@dataclass(frozen=True)
class PartitionZone:
    start: str            # first cut of the zone (== end for a single cut)
    end: str
    drops: dict           # cut -> relative drop of R² into it

    @property
    def is_single(self) -> bool:
        return self.start == self.end

    @property
    def text(self) -> str:
        """``"pool3"`` for a single cut, ``"pool2..pool3"`` for a zone (:func:`zone_cuts` reads it back)."""
        return self.start if self.is_single else f"{self.start}..{self.end}"


def zone_cuts(text: str) -> list[str]:
    """The cuts of a zone written by :attr:`PartitionZone.text`: one, or its first and last."""
    return text.split("..")


DROP_READINGS = ("signed", "absolute")


def golden_partition_zone(cuts: list, radii: list, threshold: float = 0.2, drops: str = "signed") -> PartitionZone:
    """GPZ's rule on R² at consecutive candidate cuts.

    Relative drops ρ_ℓ = (R²_{ℓ−1} − R²_ℓ)/R²_{ℓ−1}. The cut after the largest drop is the answer
    when every drop strictly between the largest and the second-largest is below ``threshold``;
    otherwise the two cuts after those drops delimit a zone. (Our reading of the GPZ code's
    description; drops between adjacent cuts are vacuously small, giving a single cut.)
    ``drops="signed"`` ranks and thresholds ρ_ℓ; ``"absolute"`` uses |ρ_ℓ| as GPZ's official code
    does, so a large relative rise of R² counts as a drop too. The returned drops stay signed.
    """
    if len(cuts) != len(radii) or len(cuts) < 3:
        raise ValueError("golden_partition_zone needs at least 3 cuts and one radius per cut")
    if min(radii) <= 0 or threshold < 0:
        raise ValueError("radii must be positive and threshold non-negative")
    signed = [(radii[i - 1] - radii[i]) / radii[i - 1] for i in range(1, len(radii))]
    size = [abs(d) for d in signed] if check_choice("drops", drops, DROP_READINGS) == "absolute" else signed
    ranked = sorted(range(len(size)), key=lambda i: size[i], reverse=True)
    first, second = ranked[0], ranked[1]
    low, high = sorted((first, second))
    named = {cuts[i + 1]: d for i, d in enumerate(signed)}
    if all(size[i] < threshold for i in range(low + 1, high)):
        return PartitionZone(cuts[first + 1], cuts[first + 1], named)
    return PartitionZone(cuts[low + 1], cuts[high + 1], named)
