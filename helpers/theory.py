"""Information-theoretic tools of CEM and GPZ (notebooks 01 and 02; MINE also in notebook 04).

Entropies are in nats. Conventions:

* ``mse_lower_bound``: Cover & Thomas Thm 8.6.6 in vector form, for any estimator x̂(z) of
  x ∈ R^d: (1/d)·E||x − x̂(z)||² ≥ (1/(2πe))·exp(2·H(x|z)/d).
* ``intra_class_radius``: GPZ's R_c² = (1/N_c) Σ_{i∈c} ||z_i − μ_c||² on flattened features,
  averaged over the classes present; ``global_variance`` is the same with one class, so
  R_c²/global variance is scale-free and lies in [0, 1].
* ``gmm_conditional_entropy_bound``: CEM's Gaussian-mixture bound for z = ẑ + N(0, σ²I):
  H(x|z) ≥ H(x) − H(π) − ½ Σ_k π_k log(|Σ_k + σ²I| / σ^{2m}) for the population mixture; the
  value from samples is a plug-in estimate of it (biased low with few samples per component).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from . import cache
from .config import check_choice
from .repro import seed_everything

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


# ---------------------------------------------------------------- k-means and the Gaussian-mixture bound

def kmeans(z: torch.Tensor, k: int, seed: int = 0, iters: int = 50, init: torch.Tensor | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """(centroids k × m, assignment N): k-means++ start (or the warm start ``init``, k × m), then
    Lloyd; an empty cluster is re-seeded at the point farthest from its centroid. k is capped at N."""
    z = z.flatten(1)
    k = min(k, len(z))
    generator = torch.Generator().manual_seed(seed)
    if init is not None and tuple(init.shape) == (k, z.shape[1]) and bool(torch.isfinite(init).all()):
        centroids = init.to(z.dtype).clone()
    else:
        centroids = z[torch.randint(len(z), (1,), generator=generator)]
    for _ in range(len(centroids), k):
        dist = torch.cdist(z, centroids).min(1).values ** 2
        probs = dist / dist.sum() if dist.sum() > 0 else torch.full_like(dist, 1 / len(z))
        centroids = torch.cat([centroids, z[torch.multinomial(probs, 1, generator=generator)]])
    assign = torch.cdist(z, centroids).argmin(1)
    for _ in range(iters):
        for j in range(k):
            members = assign == j
            if members.any():
                centroids[j] = z[members].mean(0)
            else:
                far = torch.cdist(z, centroids).min(1).values.argmax()
                centroids[j] = z[far]
        new = torch.cdist(z, centroids).argmin(1)
        if torch.equal(new, assign):
            break
        assign = new
    return centroids, assign


def log_det_plus_noise(points: torch.Tensor, noise_var: float) -> float:
    """log|Σ + σ²I| − m·log σ² for the ML covariance Σ of ``points`` (n × m), by Cholesky.

    Uses |I_m + XᵀX/(nσ²)| = |I_n + XXᵀ/(nσ²)| (X centred) on the smaller side, so m may be large.
    """
    x = points.double() - points.double().mean(0)
    n, m = x.shape
    gram = x @ x.T if n <= m else x.T @ x
    inner = torch.eye(gram.shape[0], dtype=gram.dtype) + gram / (n * noise_var)
    return float(2 * torch.log(torch.diagonal(torch.linalg.cholesky(inner))).sum())


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


COVARIANCES = ("ml", "shrinkage")


def ledoit_wolf_intensity(points: torch.Tensor) -> tuple[float, float]:
    """(ρ, μ) of the Ledoit-Wolf shrinkage (1 − ρ)·S + ρ·μI of the ML covariance S of ``points`` (n × m).

    μ = tr(S)/m; ρ = min(b², d²)/d² with d² = ||S − μI||² and b² = (1/n²) Σ_i ||x_i x_iᵀ − S||²
    (x_i centred, ||A||² = tr(AAᵀ)/m). All from the n × n Gram matrix G: ||S||²_F = ||G||²_F/n²
    and Σ_i ||x_i x_iᵀ − S||²_F = Σ_i G_ii² − ||G||²_F/n, so m may be large.
    """
    x = points.double() - points.double().mean(0)
    n, m = x.shape
    gram = x @ x.T
    mu = float(gram.trace()) / (n * m)
    gram_sq = float((gram ** 2).sum())
    d2 = gram_sq / (n ** 2 * m) - mu ** 2
    b2 = (float((gram.diagonal() ** 2).sum()) - gram_sq / n) / (n ** 2 * m)
    return (1.0 if d2 <= 0 else min(b2, d2) / d2), mu


def log_det_plus_noise_shrunk(points: torch.Tensor, noise_var: float) -> float:
    """log|Σ + σ²I| − m·log σ² for the Ledoit-Wolf covariance Σ of ``points`` (n × m).

    Σ's eigenvalues are (1 − ρ)λ_i + ρμ, λ_i those of the ML covariance: the nonzero ones are the
    Gram matrix's over n, the other m − n are 0.
    """
    rho, mu = ledoit_wolf_intensity(points)
    x = points.double() - points.double().mean(0)
    n, m = x.shape
    small = x @ x.T if n <= m else x.T @ x
    eigen = torch.linalg.eigvalsh(small / n).clamp_min(0)
    floor = rho * mu + noise_var
    return (float(torch.log((1 - rho) * eigen + floor).sum()) + (m - len(eigen)) * math.log(floor)
            - m * math.log(noise_var))


@dataclass(frozen=True)
class MixtureBound:
    redundancy_estimate: float  # plug-in H(π) + ½ Σ π_k log(|Σ̂_k + σ²I|/σ^{2m}): estimates R ≥ I(x; z)
    label_entropy: float        # H(π) over (class, component)
    log_det_term: float         # ½ Σ π_k log(|Σ̂_k + σ²I|/σ^{2m}), Σ̂_k the fitted covariances
    dim: int                    # m, the feature dimension
    bound: float | None = None  # H(x) − redundancy_estimate, when H(x) is given (an estimate of the bound)

    def mse_lower_bound(self, d: int) -> float:
        if self.bound is None:
            raise ValueError("the MSE bound needs h_x, the entropy of the input")
        return mse_lower_bound(self.bound, d)


def gmm_conditional_entropy_bound(z: torch.Tensor, labels: torch.Tensor, sigma: float, k: int = 1,
                                  h_x: float | None = None, seed: int = 0, covariance: str = "ml") -> MixtureBound:
    """CEM's bound on H(x|z) for z = ẑ + N(0, σ²I), ẑ = the clean features ``z`` (N × ...), by plug-in.

    Per class, a k-component mixture is fitted by k-means (π_ck: the share of all samples in
    component k of class c, Σ_ck: the covariance of its members, ML or Ledoit-Wolf shrinkage).
    For the population mixture, the redundancy R = H(π) + ½ Σ π_ck log(|Σ_ck + σ²I|/σ^{2m}) bounds
    I(x;z) from above, so H(x|z) ≥ H(x) − R. Computed from samples it is an ESTIMATE of R, not a
    bound: with few samples per cluster (n < m) the ML log-det is far below its population value
    (:func:`plugin_redundancy_bias`), so the estimate is biased low; shrinkage reduces that bias
    (and may overshoot a little on a steep spectrum).
    Larger redundancy: less uncertainty left, an easier attack.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive (the bound is vacuous without noise), got {sigma}")
    log_det = log_det_plus_noise if check_choice("covariance", covariance, COVARIANCES) == "ml" \
        else log_det_plus_noise_shrunk
    z = z.flatten(1).double()
    if len(labels) != len(z):
        raise ValueError(f"{len(z)} feature vectors but {len(labels)} labels")
    weights, log_dets = [], []
    for c in labels.unique():
        members = z[labels == c]
        _, assign = kmeans(members, k, seed=seed)
        for j in assign.unique():
            part = members[assign == j]
            weights.append(len(part) / len(z))
            log_dets.append(log_det(part, sigma ** 2))
    w = torch.tensor(weights, dtype=torch.float64)
    label_entropy = float(-(w * w.log()).sum())
    log_det_term = 0.5 * float((w * torch.tensor(log_dets, dtype=torch.float64)).sum())
    redundancy = label_entropy + log_det_term
    return MixtureBound(redundancy, label_entropy, log_det_term, z.shape[1],
                        None if h_x is None else h_x - redundancy)


@dataclass(frozen=True)
class PluginBias:
    population: float  # ½ Σ log(1 + λ_i/σ²): one Gaussian cluster's redundancy
    ml: float          # mean plug-in value with the ML covariance
    shrinkage: float   # mean plug-in value with the Ledoit-Wolf covariance
    dim: int
    n: int


def plugin_redundancy_bias(dim: int, n: int, sigma: float, spectrum=1.0, repeats: int = 5,
                           seed: int = 0) -> PluginBias:
    """One Gaussian cluster N(0, diag(spectrum)) in ``dim`` dimensions, ``n`` samples: its redundancy
    ½·log(|Σ + σ²I|/σ^{2m}) (closed form) against the ML and shrinkage plug-ins, averaged over
    ``repeats`` draws. ``spectrum``: a variance for every dimension, or one per dimension."""
    if sigma <= 0 or n < 2 or dim < 1:
        raise ValueError(f"need sigma > 0, n ≥ 2 and dim ≥ 1, got {sigma}, {n}, {dim}")
    variances = torch.as_tensor(spectrum, dtype=torch.float64).expand(dim)
    population = 0.5 * float(torch.log1p(variances / sigma ** 2).sum())
    generator = torch.Generator().manual_seed(seed)
    draws = [torch.randn(n, dim, generator=generator, dtype=torch.float64) * variances.sqrt() for _ in range(repeats)]
    ml = sum(0.5 * log_det_plus_noise(x, sigma ** 2) for x in draws) / repeats
    shrunk = sum(0.5 * log_det_plus_noise_shrunk(x, sigma ** 2) for x in draws) / repeats
    return PluginBias(population, ml, shrunk, dim, n)


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
    for _ in tqdm(range(epochs), desc="MINE", leave=False):
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
