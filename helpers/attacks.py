"""Model-inversion attacks on the features an edge sends to the cloud.

``InverseNetworkAttack`` (He et al., ACSAC 2019; used by all four papers) is the black-box learned
decoder g ≈ f_edge⁻¹, trained on auxiliary pairs (x, z) with pixel MSE. Explained in
notebooks/00_quickstart.ipynb.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from . import cache
from .repro import resolve_device, seed_everything


@torch.no_grad()
def edge_features(edge: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """``edge(x)`` in eval mode, batch by batch, on the edge's device; returned on the CPU."""
    edge.eval()
    device = next(edge.parameters()).device if any(True for _ in edge.parameters()) else "cpu"
    return torch.cat([edge(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])


def _up_block(width: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


class Decoder(nn.Module):
    """Maps features of ``feature_shape`` to images of ``image_shape`` in [0, 1].

    Convolutional features (C×H×W): input standardisation, 3×3 conv, round(log2(H_img/H)) transposed
    convolutions that double the side, ``depth`` 3×3 convs, a sigmoid output, then a bilinear resize
    when the side is not yet exact. Flat features (D): standardisation, a linear layer to
    width×(H_img/4)², two transposed convolutions, the same head. The input standardisation is a
    BatchNorm without affine parameters, so it uses the auxiliary data's statistics at test time.
    """

    def __init__(self, feature_shape: tuple, image_shape: tuple, width: int = 64, depth: int = 1):
        super().__init__()
        self.feature_shape, self.image_shape = tuple(feature_shape), tuple(image_shape)
        channels, side = image_shape[0], image_shape[-1]
        if len(feature_shape) == 3:
            c, h, _ = feature_shape
            n_up = max(0, round(math.log2(side / h)))
            layers = [nn.BatchNorm2d(c, affine=False), *_conv_bn_relu(c, width)]
        elif len(feature_shape) == 1:
            start = side // 4
            n_up = 2
            layers = [nn.BatchNorm1d(feature_shape[0], affine=False),
                      nn.Linear(feature_shape[0], width * start * start, bias=False),
                      nn.BatchNorm1d(width * start * start), nn.ReLU(True), nn.Unflatten(1, (width, start, start))]
        else:
            raise ValueError(f"features must be C×H×W or flat, got shape {feature_shape}")
        for _ in range(n_up):
            layers += _up_block(width)
        for _ in range(depth):
            layers += _conv_bn_relu(width, width)
        layers += [nn.Conv2d(width, channels, 3, 1, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z)
        if tuple(x.shape[-2:]) != tuple(self.image_shape[-2:]):
            x = F.interpolate(x, size=self.image_shape[-2:], mode="bilinear", align_corners=False)
        return x.clamp(0, 1)


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
        self.decoder = Decoder(self.feature_shape, self.image_shape, width, depth).to(self.device)
        self.history: list[dict] = []

    def config(self) -> dict:
        """Everything that determines the fitted decoder except the data (for cache keys)."""
        return {"attack": self.name, "feature_shape": list(self.feature_shape),
                "image_shape": list(self.image_shape), "width": self.width, "depth": self.depth,
                "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay, "val_fraction": self.val_fraction,
                "patience": self.patience, "seed": self.seed}

    def _check_features(self, z: torch.Tensor) -> None:
        if tuple(z.shape[1:]) != self.feature_shape:
            raise ValueError(f"features of shape {tuple(z.shape[1:])} given to an attack built for "
                             f"{self.feature_shape}")

    def _val_mse(self, x: torch.Tensor, z: torch.Tensor) -> float:
        return float(((self.reconstruct(z) - x) ** 2).mean())

    def fit(self, x_aux: torch.Tensor, z_aux: torch.Tensor) -> "InverseNetworkAttack":
        self._check_features(z_aux)
        if len(x_aux) != len(z_aux):
            raise ValueError(f"{len(x_aux)} images but {len(z_aux)} feature vectors")
        generator = seed_everything(self.seed)
        self.decoder = Decoder(self.feature_shape, self.image_shape, self.width, self.depth).to(self.device)
        order = torch.randperm(len(x_aux), generator=generator)
        n_val = max(1, int(len(order) * self.val_fraction))
        fit_idx, val_idx = order[:-n_val], order[-n_val:]
        optimizer = torch.optim.Adam(self.decoder.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        steps = self.epochs * math.ceil(len(fit_idx) / self.batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps))
        best, best_state, stale = math.inf, None, 0
        self.history = []
        for epoch in tqdm(range(1, self.epochs + 1), desc="fit inverse network", unit="epoch", leave=False):
            self.decoder.train()
            perm = fit_idx[torch.randperm(len(fit_idx), generator=generator)]
            for start in range(0, len(perm), self.batch_size):
                batch = perm[start:start + self.batch_size]
                if len(batch) < 2:  # BatchNorm needs two samples
                    continue
                loss = F.mse_loss(self.decoder(z_aux[batch].to(self.device)), x_aux[batch].to(self.device))
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
        self.decoder.load_state_dict(best_state)
        self.decoder.eval()
        return self

    @torch.no_grad()
    def reconstruct(self, z: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """x̂ = g(z) in [0, 1], of shape N × image_shape, on the CPU."""
        self._check_features(z)
        self.decoder.eval()
        return torch.cat([self.decoder(z[i:i + batch_size].to(self.device)).cpu()
                          for i in range(0, len(z), batch_size)])

    def state_dict(self) -> dict:
        return {"decoder": self.decoder.state_dict(), "history": self.history}

    def load_state_dict(self, state: dict) -> "InverseNetworkAttack":
        self.decoder.load_state_dict(state["decoder"])
        self.decoder.eval()
        self.history = list(state["history"])
        return self


def fit_or_load(attack: InverseNetworkAttack, x_aux: torch.Tensor, z_aux: torch.Tensor, context: dict,
                overwrite: bool = False) -> InverseNetworkAttack:
    """Fit ``attack`` on (x_aux, z_aux), or load it from the cache.

    ``context`` must identify where the features came from (e.g. the classifier's cache key and the
    cut); the attack's own config and the auxiliary data's size and checksum complete the key.
    """
    key = {**context, **attack.config(), "n_aux": len(x_aux),
           "aux_checksum": round(float(x_aux.double().sum()), 6), "z_checksum": round(float(z_aux.double().sum()), 3)}
    payload = cache.cached("attack", key, lambda: attack.fit(x_aux, z_aux).state_dict(), overwrite)
    return attack.load_state_dict(payload)
