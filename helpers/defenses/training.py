"""Defenses that change only how the classifier is trained: NoPeek, label smoothing and adversarial
representation learning against a simulated decoder. The cloud observes z unchanged."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.config import check_nonnegative, check_range
from ..models.decoder import Decoder
from .base import Defense


class NoPeek(Defense):
    """NoPeek (Vepakomma et al. 2020): add weight·dCor²(x, z) to the training loss, so that the edge
    output depends less on the input; the cloud observes z unchanged."""

    name = "nopeek"

    def __init__(self, weight: float):
        self.weight = check_nonnegative("weight", weight)

    def params(self) -> dict:
        return {"weight": self.weight}

    def edge_loss(self, x, z, y=None):
        from .siftfunnel import distance_correlation

        return self.weight * distance_correlation(x, z) if self.weight > 0 else 0.0


class LabelSmoothing(Defense):
    """Positive label smoothing alone: train on 1−α for the true class and α/(K−1) for the others.

    GPZ and SiftFunnel argue it compacts the classes (smaller R_c²) and so removes input detail
    the label does not need (notebook 02 measures that effect)."""

    name = "label_smoothing"

    def __init__(self, alpha: float):
        self.alpha = check_range("alpha", alpha, 0.0, 1.0, high_inclusive=False)

    @property
    def label_smoothing(self) -> float:
        return self.alpha

    def params(self) -> dict:
        return {"alpha": self.alpha}


class AdversarialTraining(Defense):
    """Adversarial representation learning (DeepObfuscator / ResSFL style), a min-max game.

    A simulated attacker, an inverse-network decoder g (the attack suite's architecture, ``width``
    channels), trains alongside the classifier. On every batch it first takes one Adam step on
    MSE(g(z), x) with z detached; then the edge pays −weight·MSE(g(z), x), i.e. it is rewarded for
    features the current decoder inverts badly. We use MSE where ResSFL uses SSIM: it is the metric
    the attacks minimise. The decoder lives only during training; the deployed model has none.
    """

    name = "adversarial"

    def __init__(self, weight: float, width: int = 32, lr: float = 1e-3):
        self.weight = check_nonnegative("weight", weight)
        if type(width) is not int or width < 1:
            raise ValueError(f"width must be a positive integer, got {width!r}")
        self.width, self.lr = width, check_range("lr", lr, 0.0, low_inclusive=False)
        self._decoder, self._optimizer = None, None

    def params(self) -> dict:
        return {"weight": self.weight, "width": self.width, "lr": self.lr}

    def _attacker(self, x: torch.Tensor, z: torch.Tensor):
        if self._decoder is None:
            self._decoder = Decoder(tuple(z.shape[1:]), tuple(x.shape[1:]), self.width, depth=0).to(z.device)
            self._optimizer = torch.optim.Adam(self._decoder.parameters(), lr=self.lr)
        return self._decoder

    def edge_loss(self, x, z, y=None):
        if self.weight == 0:
            return 0.0
        decoder = self._attacker(x, z)
        decoder.train()
        attack_loss = F.mse_loss(decoder(z.detach()), x)     # the attacker's step (max over g)
        self._optimizer.zero_grad(set_to_none=True)
        attack_loss.backward()
        self._optimizer.step()
        # the edge's term (min over the edge): gradients reach g too, but g's optimizer zeroes them
        return -self.weight * F.mse_loss(decoder(z), x)
