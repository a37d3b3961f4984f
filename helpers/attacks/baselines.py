"""References that use no feature value: what an attacker gets from the auxiliary images or the predicted label alone."""
from __future__ import annotations

import torch


def class_mean_images(x_aux: torch.Tensor, y_aux: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """For each label, the mean auxiliary image of that class (the overall mean for a class with none).

    The reconstruction an attacker gets from the predicted label alone: an attack that does no better
    leaks nothing beyond the decision.
    """
    overall = x_aux.mean(0)
    means = {int(c): x_aux[y_aux == c].mean(0) for c in y_aux.unique()}
    return torch.stack([means.get(int(c), overall) for c in labels])
