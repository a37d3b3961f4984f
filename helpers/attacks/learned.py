"""The inverse network (He et al., ACSAC 2019; all four papers): a decoder g ≈ f_e⁻¹ learned on the attacker's
auxiliary (x, z) pairs, then x̂ = g(z)."""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..core.progress import progress
from ..core.repro import resolve_device, seed_everything
from ..models.decoder import Decoder


def _channels_last(item):
    """Modules and 4-D tensors in channels_last layout (other tensors unchanged): decoder training
    on the CPU about 1.4x faster (notebook 03 went from 444 s to 307 s)."""
    if isinstance(item, nn.Module):
        return item.to(memory_format=torch.channels_last)
    return item.contiguous(memory_format=torch.channels_last) if item.dim() == 4 else item


class InverseNetworkAttack:
    """Black-box inverse network: fit g on auxiliary (x, z) pairs, then x̂ = g(z).

    Adam with weight decay and a cosine learning-rate schedule; the last ``val_fraction`` of a
    seeded permutation of the auxiliary data is held out, and the weights with the lowest
    validation MSE are kept (early stopping after ``patience`` epochs without improvement).
    The images an attack is scored on are never used for any choice.
    """

    name = "inverse_network"

    def __init__(self, feature_shape, image_shape, width: int = 64, depth: int = 1, epochs: int = 10,
                 batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 1e-4,
                 val_fraction: float = 0.1, patience: int = 3, seed: int = 0, device: str = "auto"):
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
        self.feature_shape, self.image_shape = tuple(feature_shape), tuple(image_shape)
        self.width, self.depth, self.epochs, self.batch_size = width, depth, epochs, batch_size
        self.lr, self.weight_decay, self.val_fraction, self.patience = lr, weight_decay, val_fraction, patience
        self.seed, self.device = seed, resolve_device(device)
        self.decoder = self._new_decoder()
        self.history: list[dict] = []

    def _new_decoder(self) -> Decoder:
        return _channels_last(Decoder(self.feature_shape, self.image_shape, self.width, self.depth).to(self.device))

    def config(self) -> dict:
        """Everything that determines the fitted decoder except the data (for cache keys)."""
        return {"attack": self.name, "feature_shape": list(self.feature_shape),
                "image_shape": list(self.image_shape), "width": self.width, "depth": self.depth,
                "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay, "val_fraction": self.val_fraction,
                "patience": self.patience, "seed": self.seed, "layout": "channels_last"}

    def _check_features(self, z: torch.Tensor) -> None:
        if tuple(z.shape[1:]) != self.feature_shape:
            raise ValueError(f"features of shape {tuple(z.shape[1:])} given to an attack built for "
                             f"{self.feature_shape}")

    def _val_mse(self, x: torch.Tensor, z: torch.Tensor) -> float:
        return float(((self.reconstruct(z) - x) ** 2).mean())

    def fit(self, x_aux: torch.Tensor, z_aux: torch.Tensor, y_aux=None) -> "InverseNetworkAttack":
        self._check_features(z_aux)
        if len(x_aux) != len(z_aux):
            raise ValueError(f"{len(x_aux)} images but {len(z_aux)} feature vectors")
        generator = seed_everything(self.seed)
        self.decoder = self._new_decoder()
        z_aux = _channels_last(z_aux)   # once: a batch indexed from it keeps the layout (no copy per step)
        order = torch.randperm(len(x_aux), generator=generator)
        n_val = max(1, int(len(order) * self.val_fraction))
        fit_idx, val_idx = order[:-n_val], order[-n_val:]
        # foreach: the same arithmetic (the same bits) in a few calls per step instead of a few per tensor
        optimizer = torch.optim.Adam(self.decoder.parameters(), lr=self.lr, weight_decay=self.weight_decay,
                                     foreach=True)
        steps = self.epochs * math.ceil(len(fit_idx) / self.batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps))
        best, best_state, stale = math.inf, None, 0
        self.history = []
        for epoch in progress(range(1, self.epochs + 1), desc="fit inverse network", unit="epoch", leave=False):
            self.decoder.train()
            perm = fit_idx[torch.randperm(len(fit_idx), generator=generator)]
            for start in range(0, len(perm), self.batch_size):
                batch = perm[start:start + self.batch_size]
                if len(batch) < 2:  # BatchNorm needs two samples
                    continue
                loss = F.mse_loss(self.decoder(_channels_last(z_aux[batch].to(self.device))),
                                  x_aux[batch].to(self.device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
            val = self._val_mse(x_aux[val_idx], z_aux[val_idx])
            self.history.append({"epoch": epoch, "val_mse": val})
            if val < best:
                best, best_state, stale = val, copy.deepcopy(self.decoder.state_dict()), 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        if best_state is None:
            raise RuntimeError(f"the decoder's validation MSE was never finite ({self.history}); "
                               "check the features for NaN/inf or lower the learning rate")
        self.decoder.load_state_dict(best_state)
        self.decoder.eval()
        return self

    @torch.no_grad()
    def reconstruct(self, z: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """x̂ = g(z) in [0, 1], of shape N × image_shape, on the CPU."""
        self._check_features(z)
        self.decoder.eval()
        return torch.cat([self.decoder(_channels_last(z[i:i + batch_size].to(self.device))).cpu().contiguous()
                          for i in range(0, len(z), batch_size)])

    def state_dict(self) -> dict:
        return {"decoder": self.decoder.state_dict(), "history": self.history}

    def load_state_dict(self, state: dict) -> "InverseNetworkAttack":
        self.decoder.load_state_dict(state["decoder"])
        self.decoder.eval()
        self.history = list(state["history"])
        return self
