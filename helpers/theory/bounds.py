"""The estimation bound and the channels it is tight or loose on (notebook 01).

Entropies are in nats. ``mse_lower_bound``: Cover & Thomas Thm 8.6.6 in vector form, for any
estimator x̂(z) of x ∈ R^d: (1/d)·E||x − x̂(z)||² ≥ (1/(2πe))·exp(2·H(x|z)/d).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

TWO_PI_E = 2 * math.pi * math.e


# ---------------------------------------------------------------- the estimation bound

def mse_lower_bound(h_cond, d: int):
    """(1/(2πe))·exp(2·H(x|z)/d): the least per-dimension MSE any estimator of x ∈ R^d can reach."""
    if d < 1:
        raise ValueError(f"d must be a positive dimension, got {d}")
    if isinstance(h_cond, torch.Tensor):
        return torch.exp(2 * h_cond / d) / TWO_PI_E
    return math.exp(2 * h_cond / d) / TWO_PI_E


@dataclass(frozen=True)
class GaussianChannel:
    """x ~ N(0, s²I_d), z = x + N(0, σ²I_d): closed forms, for which the bound is tight."""

    signal_var: float
    noise_var: float
    d: int

    @property
    def posterior_var(self) -> float:
        return self.signal_var * self.noise_var / (self.signal_var + self.noise_var)

    @property
    def h_x_given_z(self) -> float:
        """H(x|z) = (d/2)·log(2πe·s²σ²/(s²+σ²))."""
        return self.d / 2 * math.log(TWO_PI_E * self.posterior_var)

    @property
    def mmse(self) -> float:
        """Per-dimension MSE of the posterior mean E[x|z] = s²/(s²+σ²)·z."""
        return self.posterior_var

    @property
    def mutual_information(self) -> float:
        return self.d / 2 * math.log(1 + self.signal_var / self.noise_var)

    def sample(self, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn(n, self.d, generator=generator, dtype=torch.float64) * math.sqrt(self.signal_var)
        return x, x + torch.randn(n, self.d, generator=generator, dtype=torch.float64) * math.sqrt(self.noise_var)


def gaussian_channel(signal_var: float, noise_var: float, d: int = 1) -> GaussianChannel:
    if signal_var <= 0 or noise_var <= 0:
        raise ValueError("signal and noise variances must be positive")
    return GaussianChannel(float(signal_var), float(noise_var), int(d))


# ---------------------------------------------------------------- a Gaussian-mixture source through a linear channel

@dataclass(frozen=True)
class MixtureChannel:
    """x ~ Σ_k π_k N(m_k, v_k I_d) through z = A x + N(0, σ²I_m); everything exact or Monte Carlo."""

    means: torch.Tensor    # K × d
    variances: torch.Tensor  # K (isotropic v_k)
    weights: torch.Tensor  # K
    matrix: torch.Tensor   # m × d
    noise_std: float

    def _component(self, k: int):
        """(A m_k, covariance of z | k, gain matrix, covariance of x | z, k)."""
        a, v = self.matrix, float(self.variances[k])
        cov_z = v * a @ a.T + self.noise_std ** 2 * torch.eye(a.shape[0], dtype=a.dtype)
        gain = v * a.T @ torch.linalg.inv(cov_z)   # d × m
        cov_x_given_z = v * torch.eye(a.shape[1], dtype=a.dtype) - gain @ a * v
        return a @ self.means[k], cov_z, gain, cov_x_given_z

    def posterior_mean(self, z: torch.Tensor) -> torch.Tensor:
        """E[x|z] = Σ_k p(k|z)·(m_k + G_k (z − A m_k)): the MMSE estimator."""
        log_post, means = [], []
        for k in range(len(self.weights)):
            mu_z, cov_z, gain, _ = self._component(k)
            dist = torch.distributions.MultivariateNormal(mu_z, covariance_matrix=cov_z)
            log_post.append(torch.log(self.weights[k]) + dist.log_prob(z))
            means.append(self.means[k] + (z - mu_z) @ gain.T)
        post = torch.softmax(torch.stack(log_post, 1), 1)
        return (post.unsqueeze(-1) * torch.stack(means, 1)).sum(1)

    def h_x_given_z_lower(self) -> float:
        """H(x|z) ≥ H(x|z, k) = Σ_k π_k ½ log|2πe Σ_{x|z,k}| (conditioning cannot raise entropy)."""
        return float(sum(w * 0.5 * torch.logdet(TWO_PI_E * self._component(k)[3])
                         for k, w in enumerate(self.weights)))

    def h_x(self, n: int = 20000, seed: int = 0) -> float:
        """H(x) = −E log p(x), by Monte Carlo with the exact mixture density."""
        x, _ = self.sample(n, seed)
        d = self.means.shape[1]
        log_p = torch.stack([torch.log(w) - 0.5 * ((x - m) ** 2).sum(1) / v - d / 2 * torch.log(2 * math.pi * v)
                             for m, v, w in zip(self.means, self.variances, self.weights)], 1)
        return float(-torch.logsumexp(log_p, 1).mean())

    def sample(self, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        d = self.means.shape[1]
        x = self.means[k] + torch.randn(n, d, generator=generator, dtype=self.means.dtype) * self.variances[k].sqrt()[:, None]
        noise = torch.randn(n, self.matrix.shape[0], generator=generator, dtype=x.dtype) * self.noise_std
        return x, x @ self.matrix.T + noise

    def clean_features(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.matrix.T


def mixture_channel(means, variances, weights, matrix, noise_std: float) -> MixtureChannel:
    if noise_std <= 0:
        raise ValueError(f"noise_std must be positive, got {noise_std}")
    as64 = lambda t: torch.as_tensor(t, dtype=torch.float64)  # noqa: E731
    weights = as64(weights)
    return MixtureChannel(as64(means), as64(variances), weights / weights.sum(), as64(matrix), float(noise_std))


def gaussian_entropy_upper(x: torch.Tensor, levels: int | None = 256) -> float:
    """½·log|2πe·Σ| (nats) for the covariance Σ of ``x`` (N × ...): the largest differential entropy
    any distribution with that covariance has, hence an upper bound on H(x). Pixel values stored
    with ``levels`` levels are dequantised first (uniform noise of one level's width adds
    1/(12·(levels−1)²) to every variance); without it a constant pixel would give −∞."""
    flat = x.flatten(1).double()
    covariance = torch.cov(flat.T).reshape(flat.shape[1], flat.shape[1])
    if levels is not None:
        covariance = covariance + torch.eye(len(covariance), dtype=covariance.dtype) / (12 * (levels - 1) ** 2)
    return 0.5 * (len(covariance) * math.log(TWO_PI_E) + float(torch.linalg.slogdet(covariance)[1]))
