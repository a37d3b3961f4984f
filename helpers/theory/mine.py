"""Learned estimators: the MINE lower bound on I(X;Z) (notebook 04) and a learned regressor's MSE on a
vector source (notebook 01)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..core import cache
from ..core.progress import progress
from ..core.repro import seed_everything


# ---------------------------------------------------------------- MINE

class _Critic(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(),
                                 nn.Linear(hidden, 1))

    def forward(self, x, z):
        return self.net(torch.cat([x, z], 1)).squeeze(1)


@dataclass(frozen=True)
class MineResult:
    estimate: float       # Donsker–Varadhan bound on held-out pairs (nats)
    history: list         # training-batch DV value per epoch


def _dv(critic, x, z, generator) -> torch.Tensor:
    joint = critic(x, z).mean()
    marginal = critic(x, z[torch.randperm(len(z), generator=generator)])
    return joint - (torch.logsumexp(marginal, 0) - math.log(len(marginal)))


def mine_estimate(x: torch.Tensor, z: torch.Tensor, hidden: int = 128, epochs: int = 200, batch_size: int = 256,
                  lr: float = 1e-3, ema_rate: float = 0.01, held_out: float = 0.2, seed: int = 0,
                  device: str = "cpu") -> MineResult:
    """MINE (Belghazi et al. 2018): I(X;Z) ≥ E_P[T] − log E_{P_X⊗P_Z}[e^T], T an MLP on (x, z).

    The gradient of the log-partition term uses a moving average of E[e^T] (rate ``ema_rate``) to
    reduce its bias. Inputs are flattened and standardised with the training part's statistics;
    the reported estimate is the DV bound of the trained critic on the held-out pairs, averaged
    over 10 shuffles of the marginal.
    """
    if len(x) != len(z):
        raise ValueError(f"{len(x)} inputs but {len(z)} features")
    generator = seed_everything(seed)
    x, z = x.flatten(1).float(), z.flatten(1).float()
    order = torch.randperm(len(x), generator=generator)
    n_test = max(2, int(len(x) * held_out))
    train, test = order[n_test:], order[:n_test]

    def standardise(t):
        mean, std = t[train].mean(0), t[train].std(0).clamp_min(1e-6)
        return ((t - mean) / std).to(device)

    x, z = standardise(x), standardise(z)
    critic = _Critic(x.shape[1] + z.shape[1], hidden).to(device)
    optimizer = torch.optim.Adam(critic.parameters(), lr=lr)
    moving, history = None, []
    for _ in progress(range(epochs), desc="MINE", leave=False):
        perm = train[torch.randperm(len(train), generator=generator)]
        values = []
        for start in range(0, len(perm) - 1, batch_size):
            batch = perm[start:start + batch_size]
            xb, zb = x[batch], z[batch]
            joint = critic(xb, zb).mean()
            exp_marginal = critic(xb, zb[torch.randperm(len(zb), generator=generator)]).exp().mean()
            moving = exp_marginal.detach() if moving is None else (1 - ema_rate) * moving + ema_rate * exp_marginal.detach()
            loss = -(joint - exp_marginal / moving)  # unbiased-gradient surrogate of −DV
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            values.append(float((joint - exp_marginal.log()).detach()))
        history.append(sum(values) / len(values))
    with torch.no_grad():
        estimate = sum(float(_dv(critic, x[test], z[test], generator)) for _ in range(10)) / 10
    return MineResult(estimate, history)


# ---------------------------------------------------------------- a learned estimator for vector sources

def learned_estimator_mse(x_train: torch.Tensor, z_train: torch.Tensor, x_test: torch.Tensor,
                          z_test: torch.Tensor, hidden: int = 128, epochs: int = 30, batch_size: int = 256,
                          lr: float = 1e-3, seed: int = 0) -> float:
    """Per-dimension test MSE of an MLP regressor x̂ = g(z) trained with MSE: what a learned
    inversion attack reaches on a vector source (notebook 01 compares it with the exact MMSE).
    Cached under a digest of the data and the settings."""
    settings = dict(hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    key = {"data": cache.tensor_digest(x_train, z_train, x_test, z_test), **settings}
    return cache.cached("learned_estimator", key,
                        lambda: {"mse": _fit_learned_estimator(x_train, z_train, x_test, z_test, **settings)})["mse"]


def _fit_learned_estimator(x_train, z_train, x_test, z_test, hidden, epochs, batch_size, lr, seed) -> float:
    generator = seed_everything(seed)
    x_train, z_train, x_test, z_test = (t.float() for t in (x_train, z_train, x_test, z_test))
    mean, std = z_train.mean(0), z_train.std(0).clamp_min(1e-6)
    net = nn.Sequential(nn.Linear(z_train.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                        nn.Linear(hidden, x_train.shape[1]))
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            loss = ((net((z_train[batch] - mean) / std) - x_train[batch]) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return float(((net((z_test - mean) / std) - x_test) ** 2).mean())
