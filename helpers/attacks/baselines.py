"""References that use no feature value: what an attacker gets from the auxiliary images or the predicted label alone."""
from __future__ import annotations

import torch
from torch import nn

from ..core.inference import predict


def class_mean_images(x_aux: torch.Tensor, y_aux: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """For each label, the mean auxiliary image of that class (the overall mean for a class with none).

    The reconstruction an attacker gets from the predicted label alone: an attack that does no better
    leaks nothing beyond the decision.
    """
    overall = x_aux.mean(0)
    means = {int(c): x_aux[y_aux == c].mean(0) for c in y_aux.unique()}
    return torch.stack([means.get(int(c), overall) for c in labels])


class MeanImageBaseline:
    """x̂ = the mean auxiliary image, whatever the features."""

    name = "mean_image"

    def __init__(self):
        self.mean: torch.Tensor | None = None

    def config(self) -> dict:
        return {"attack": self.name}

    def fit(self, x_aux: torch.Tensor, z_aux=None, y_aux=None) -> "MeanImageBaseline":
        self.mean = x_aux.mean(0, keepdim=True)
        return self

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        return self.mean.expand(len(z), *self.mean.shape[1:]).clone()


class ClassMeanBaseline:
    """x̂ = the mean auxiliary image of the class the cloud predicts from the features."""

    name = "class_mean"

    def __init__(self, cloud: nn.Module):
        self.cloud = cloud
        self.x_aux = self.y_aux = None

    def config(self) -> dict:
        return {"attack": self.name}

    def fit(self, x_aux: torch.Tensor, z_aux=None, y_aux=None) -> "ClassMeanBaseline":
        if y_aux is None:
            raise ValueError("the class-mean baseline needs the auxiliary labels y_aux")
        self.x_aux, self.y_aux = x_aux, y_aux
        return self

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            predicted = predict(self.cloud, z)
        return class_mean_images(self.x_aux, self.y_aux, predicted)
