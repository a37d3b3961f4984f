"""Model-inversion attacks on what the cloud receives from the edge (notebooks 00 and 03).

All attacks share one interface: ``fit(x_aux, z_aux=None, y_aux=None)`` learns what the attack
learns from the attacker's auxiliary images (``z_aux``: the observed features of those images,
obtained by black-box queries; ``y_aux``: their labels), and ``reconstruct(z)`` returns x̂ in [0, 1]
with the input's shape.

* ``InverseNetworkAttack`` (He et al., ACSAC 2019; all four papers): a learned decoder g ≈ f_e⁻¹.
* ``WhiteBoxOptimizationAttack`` (rMLE, He et al. 2019): x̂ = argmin ||f_e(x̂) − z||² + λ_TV·TV(x̂).
* ``HybridAttack``: the decoder's output refined by the white-box optimisation.
* ``QueryFreeShadowAttack`` (He et al. 2019): no queries; a shadow edge is trained so that the
  known cloud classifies the auxiliary data, then the shadow is inverted.
"""
from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .repro import module_device, resolve_device, seed_everything

if TYPE_CHECKING:
    import pandas as pd


@torch.no_grad()
def edge_features(edge: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """``edge(x)`` in eval mode, batch by batch, on the edge's device; returned on the CPU."""
    edge.eval()
    device = module_device(edge)
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



# ---------------------------------------------------------------- white-box optimisation

def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic TV per image: mean |horizontal difference| + mean |vertical difference|."""
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    return dx + dy


class WhiteBoxOptimizationAttack:
    """rMLE: x̂ = argmin_x (1/D)||f_e(x) − z||² + λ_TV·TV(x), by Adam (amsgrad) from x₀ = 0.5.

    The feature distance is averaged over the D feature values, so λ_TV means the same at every cut.
    x̂ is clamped to [0, 1] after every step. Images are optimised as one batch, but each image's
    loss depends only on its own pixels (the edge runs in eval mode), so the result for an image
    does not depend on its batch. Deterministic: no randomness is used.
    """

    name = "white_box"

    def __init__(self, edge: nn.Module, image_shape, steps: int = 300, lr: float = 0.05,
                 tv_weight: float = 0.01, batch_size: int = 256, device: str = "auto"):
        if steps <= 0 or lr <= 0 or tv_weight < 0:
            raise ValueError("steps and lr must be positive, tv_weight non-negative")
        self.edge, self.image_shape = edge, tuple(image_shape)
        self.steps, self.lr, self.tv_weight, self.batch_size = steps, lr, tv_weight, batch_size
        self.device = resolve_device(device)

    def config(self) -> dict:
        return {"attack": self.name, "steps": self.steps, "lr": self.lr, "tv_weight": self.tv_weight,
                "layout": "channels_last"}

    def fit(self, x_aux=None, z_aux=None, y_aux=None) -> "WhiteBoxOptimizationAttack":
        return self  # nothing to learn: the attacker holds the edge's weights

    def _optimise(self, edge: nn.Module, z: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        x = _channels_last(start.clone().to(self.device)).requires_grad_(True)
        z = z.to(self.device)
        optimizer = torch.optim.Adam([x], lr=self.lr, amsgrad=True)
        for _ in range(self.steps):
            loss = ((edge(x) - z) ** 2).flatten(1).mean(1) + self.tv_weight * total_variation(x)
            (grad,) = torch.autograd.grad(loss.sum(), x)
            optimizer.zero_grad(set_to_none=True)
            x.grad = grad
            optimizer.step()
            with torch.no_grad():
                x.clamp_(0, 1)
        return x.detach().cpu().contiguous()

    def reconstruct(self, z: torch.Tensor, init: torch.Tensor | None = None) -> torch.Tensor:
        """x̂ for features ``z``; ``init`` (N × image_shape) replaces the constant 0.5 start."""
        if init is None:
            init = torch.full((len(z), *self.image_shape), 0.5)
        if init.shape != (len(z), *self.image_shape):
            raise ValueError(f"init must have shape {(len(z), *self.image_shape)}, got {tuple(init.shape)}")
        # a channels_last copy (1.3-1.8x faster on the CPU); the deployed edge keeps its layout, so
        # features computed elsewhere do not depend on whether this attack ran first
        edge = _channels_last(copy.deepcopy(self.edge).eval())
        parts = [self._optimise(edge, z[i:i + self.batch_size], init[i:i + self.batch_size])
                 for i in tqdm(range(0, len(z), self.batch_size), desc="white-box attack", leave=False)]
        return torch.cat(parts)


class HybridAttack:
    """The inverse network's reconstruction as the starting point of the white-box optimisation."""

    name = "hybrid"

    def __init__(self, decoder: InverseNetworkAttack, white_box: WhiteBoxOptimizationAttack):
        self.decoder, self.white_box = decoder, white_box

    def config(self) -> dict:
        return {"attack": self.name, "decoder": self.decoder.config(), "white_box": self.white_box.config()}

    def fit(self, x_aux, z_aux, y_aux=None) -> "HybridAttack":
        self.decoder.fit(x_aux, z_aux)
        return self

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        return self.white_box.reconstruct(z, init=self.decoder.reconstruct(z))


# ---------------------------------------------------------------- query-free shadow attack

class QueryFreeShadowAttack:
    """He et al.'s query-free attack: the attacker knows the cloud and the edge's architecture.

    It trains a shadow edge (a fresh copy of the edge's architecture) so that the frozen cloud
    classifies the auxiliary images correctly, then fits an inverse network on the shadow's features
    and applies it to the real observed features. It never queries the real edge.
    """

    name = "query_free"

    def __init__(self, cloud: nn.Module, make_edge, image_shape, feature_shape, shadow_epochs: int = 5,
                 decoder_epochs: int = 10, decoder_width: int = 64, decoder_depth: int = 1, lr: float = 1e-3,
                 batch_size: int = 128, decoder_lr: float = 1e-3, decoder_batch_size: int = 128, seed: int = 0,
                 device: str = "auto"):
        self.cloud, self.make_edge = cloud, make_edge
        self.image_shape, self.feature_shape = tuple(image_shape), tuple(feature_shape)
        self.shadow_epochs, self.lr, self.batch_size, self.seed = shadow_epochs, lr, batch_size, seed
        self.device = resolve_device(device)
        self.decoder = InverseNetworkAttack(feature_shape, image_shape, width=decoder_width, depth=decoder_depth,
                                            epochs=decoder_epochs, lr=decoder_lr, batch_size=decoder_batch_size,
                                            seed=seed, device=device)
        self.shadow: nn.Module | None = None

    def config(self) -> dict:
        return {"attack": self.name, "shadow_epochs": self.shadow_epochs, "lr": self.lr,
                "batch_size": self.batch_size, "seed": self.seed, "decoder": self.decoder.config(),
                "layout": "channels_last"}

    def fit(self, x_aux, z_aux=None, y_aux=None) -> "QueryFreeShadowAttack":
        if y_aux is None:
            raise ValueError("the query-free attack needs the auxiliary labels y_aux")
        generator = seed_everything(self.seed)
        shadow = _channels_last(self.make_edge().to(self.device))
        # a frozen channels_last copy of the cloud: the deployed cloud is left as it is
        cloud = _channels_last(copy.deepcopy(self.cloud).eval().requires_grad_(False))
        optimizer = torch.optim.Adam(shadow.parameters(), lr=self.lr)
        for _ in tqdm(range(self.shadow_epochs), desc="train shadow edge", leave=False):
            shadow.train()
            order = torch.randperm(len(x_aux), generator=generator)
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                if len(batch) < 2:
                    continue
                logits = cloud(shadow(_channels_last(x_aux[batch].to(self.device))))
                loss = F.cross_entropy(logits, y_aux[batch].to(self.device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        self.shadow = shadow.eval()
        self.decoder.fit(x_aux, edge_features(self.shadow, x_aux))
        return self

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder.reconstruct(z)


# ---------------------------------------------------------------- evaluation

def class_mean_images(x_aux: torch.Tensor, y_aux: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """For each label, the mean auxiliary image of that class (the overall mean for a class with none).

    The reconstruction an attacker gets from the predicted label alone: an attack that does no better
    leaks nothing beyond the decision.
    """
    overall = x_aux.mean(0)
    means = {int(c): x_aux[y_aux == c].mean(0) for c in y_aux.unique()}
    return torch.stack([means.get(int(c), overall) for c in labels])



def score_images(x_hat: torch.Tensor, x_eval: torch.Tensor, y_eval: torch.Tensor | None = None,
                 classify=None) -> dict[str, torch.Tensor]:
    """Per-image MSE, PSNR, SSIM, LPIPS of ``x_hat`` against ``x_eval`` and, with ``classify`` and
    ``y_eval``, ``recon_correct``: 1 where the target classifies the reconstruction as the true class."""
    from . import metrics

    if x_hat.shape != x_eval.shape:
        raise ValueError(f"reconstruction shape {tuple(x_hat.shape)} != {tuple(x_eval.shape)}")
    scores = dict(metrics.all_metrics(x_hat, x_eval))
    if classify is not None and y_eval is not None:
        scores["recon_correct"] = (classify(x_hat) == y_eval).float()
    return scores


def evaluate(reconstructions: dict, x_eval: torch.Tensor, y_eval: torch.Tensor | None = None,
             classify=None, seconds: dict | None = None, scores: dict | None = None, **labels) -> "pd.DataFrame":
    """A tidy table: one row per (image, attack) with MSE, PSNR, SSIM, LPIPS.

    ``reconstructions`` maps an attack name to x̂ (same shape as ``x_eval``). With ``classify``
    (images -> predicted labels, the target classifier behind the defense) and ``y_eval``, the column
    ``recon_correct`` says whether the target classifies the reconstruction as the true class
    (semantic leakage). ``seconds`` (attack -> {"fit": s, "reconstruct": s}) adds timing columns;
    ``scores`` (attack -> :func:`score_images` output) skips scoring those attacks again (a cache);
    ``labels`` (cut, defense, dataset, seed, ...) are constant columns.
    """
    import pandas as pd

    frames = []
    for attack, x_hat in reconstructions.items():
        if x_hat.shape != x_eval.shape:
            raise ValueError(f"{attack}: reconstruction shape {tuple(x_hat.shape)} != {tuple(x_eval.shape)}")
        given = (scores or {}).get(attack)
        values = given if given is not None else score_images(x_hat, x_eval, y_eval, classify)
        columns = {"image": range(len(x_eval)), "attack": attack, **labels}
        columns.update({name: value.numpy() for name, value in values.items()})
        for phase, value in (seconds or {}).get(attack, {}).items():
            columns[f"seconds_{phase}"] = value
        frames.append(pd.DataFrame(columns))
    return pd.concat(frames, ignore_index=True)
