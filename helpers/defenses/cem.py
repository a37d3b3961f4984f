"""CEM (conditional entropy maximisation, notebook 05): a per-class Gaussian-mixture estimate of the
clean edge features and the hinged log-variance loss that raises the bound on H(x|z).

With z = ẑ + N(0, σ²I) and ẑ a mixture of components N(μ_ck, Σ_ck), the bound on H(x|z) grows as
each component shrinks relative to the noise (``helpers.theory.gmm_conditional_entropy_bound``).
The paper's code minimises, for the classes c in a batch and their clusters k,

    L_C = mean_c Σ_k π_ck · ReLU(log(σ̂²_ck + γ₀) − log(τσ² + γ₀)),   τ = 0.125, γ₀ = 0.01,

where σ̂²_ck blends the batch with the epoch's mixture fit (``variance="blend"``, the default, as
in the paper's code):

    σ̂²_ck = v·s²_ck + (1 − v)·σ²_ck,stored,   v = min(10·n_ck / (π_ck·N/K_cls), 0.99),

s²_ck the mean squared deviation of the batch's n_ck class-c samples nearest to centroid μ_ck,
σ²_ck,stored the variance of the fit (no gradient), N the number of samples the mixture was fitted
on and K_cls its number of classes with samples (π_ck·N/K_cls: the cluster's expected size). The value is
s²_ck's in expectation, but the gradient is v times s²_ck's, and a sample's share of it is
v/n_ck = 10·K_cls/(π_ck·N): **the effective strength of λ falls as 1/N**. At CIFAR-10's N = 50,000
(the paper's) v ≈ 0.026 for batches of 128; at our 2,250 training images v ≈ 0.57, so the same λ
pushes about 22× harder. ``blend_size`` (:data:`PAPER_TRAINING_SIZE`) computes v as if the mixture
had been fitted on that many samples: the gradient, per sample, is then the paper's for the same λ
(8 at N = 50,000 acts as λ ≈ 0.36 would at our own N). ``variance="batch"`` uses s²_ck alone (v = 1). Once a cluster's spread is below τσ² there
is nothing more to gain. Unlike the public code, the mixture's parameters here are indexed by class
id (its code used class 0's weights for every class), empty clusters get weight 0 explicitly, and
the variant used ("isotropic": the paper's scalar variance; "diagonal": per dimension, blended with
the stored per-dimension variance; "logdet": (1/D)·log|Σ̂ + γ₀I|, always batch-only) is part of
every result's config.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.config import check_choice, check_range
from ..core.repro import module_device
from ..theory.mixture import kmeans
from .base import Defense, from_config

VARIANTS = ("isotropic", "diagonal", "logdet")
FIT_ON = ("training_pass", "eval_pass")
VARIANCES = ("blend", "batch")
BLEND_SCALE, BLEND_CAP = 10.0, 0.99  # the paper's code: v = min(10·n_batch/expected size, 0.99)
PAPER_TRAINING_SIZE = 50_000   # CIFAR-10's training set, where the paper's λ = 8 or 16 were chosen


@dataclass
class ClassMixture:
    """Per-class hard-assignment mixtures: C × K centroids (flattened features), weights and variances.

    ``weights[c, k]`` is the share of class c's samples in cluster k; 0 marks a cluster that does not
    exist (a class with fewer than K samples, or none) and such clusters are never used.
    ``num_samples`` and ``dim_variances`` are what :func:`cem_loss`'s variance blend needs; a mixture
    built without them (by hand) is used with the batch variance alone."""

    centroids: torch.Tensor   # C × K × D
    weights: torch.Tensor     # C × K, rows sum to 1 (or 0 for an absent class)
    variances: torch.Tensor   # C × K, mean squared deviation over members and dimensions
    num_samples: int | None = None            # N, the samples the mixture was fitted on
    dim_variances: torch.Tensor | None = None  # C × K × D, mean squared deviation per dimension


def fit_class_mixture(z: torch.Tensor, labels: torch.Tensor, num_classes: int, k: int,
                      previous: ClassMixture | None = None, seed: int = 0) -> ClassMixture:
    """k-means++ (or warm-started from ``previous``) per class on the flattened clean features."""
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    flat = z.detach().flatten(1).float().cpu()
    labels = labels.cpu()
    centroids = torch.full((num_classes, k, flat.shape[1]), float("nan"))
    weights, dim_variances = torch.zeros(num_classes, k), torch.zeros(num_classes, k, flat.shape[1])
    for c in range(num_classes):
        members = flat[labels == c]
        if len(members) == 0:
            continue
        k_c = min(k, len(members))
        init = previous.centroids[c, :k_c] if previous is not None else None
        found, assign = kmeans(members, k_c, seed=seed + c, init=init)
        for j in range(k_c):
            cluster = members[assign == j]
            if len(cluster) == 0:  # emptied by the last reassignment: weight 0, never used
                continue
            centroids[c, j], weights[c, j] = found[j], len(cluster) / len(members)
            dim_variances[c, j] = ((cluster - found[j]) ** 2).mean(0)
    return ClassMixture(centroids, weights, dim_variances.mean(2), len(flat), dim_variances)


def _log_det_spread(deviation: torch.Tensor, gamma0: float) -> torch.Tensor:
    """(1/D)·log|Σ̂ + γ₀I| of one cluster's members (deviation: n × D from the centroid), Σ̂ = devᵀdev/n."""
    n, d = deviation.shape
    if d < n:
        return torch.linalg.slogdet(deviation.T @ deviation / n + gamma0 * torch.eye(d).to(deviation))[1] / d
    # the n × n Gram matrix carries Σ̂'s nonzero eigenvalues; the other D − n are 0
    eigen = torch.linalg.eigvalsh(deviation @ deviation.T / n).clamp_min(0)
    return (torch.log(eigen + gamma0).sum() + (d - n) * math.log(gamma0)) / d


def _assign(flat: torch.Tensor, labels: torch.Tensor, mixture: ClassMixture):
    """(cluster index N, usable N): each sample's nearest existing centroid of its own class."""
    weights = mixture.weights.to(flat)[labels]                                  # N × K
    centroids = mixture.centroids.to(flat)[labels]                              # N × K × D
    distance = ((flat.detach()[:, None, :] - centroids) ** 2).sum(-1)
    distance = torch.where(weights > 0, distance, torch.full_like(distance, float("inf")))
    return distance.argmin(1), (weights > 0).any(1)


def _blend(batch: torch.Tensor, counts: torch.Tensor, present: torch.Tensor, mixture: ClassMixture,
           variant: str, blend_size: int | None = None) -> torch.Tensor:
    """v·batch + (1 − v)·stored for the present clusters (rows of ``batch``, module docstring), v
    computed for ``blend_size`` samples (default: the mixture's own N); the batch variance alone when
    the mixture lacks the fit's record (N, per-dimension variances)."""
    stored = mixture.dim_variances if variant == "diagonal" else mixture.variances[..., None]
    if mixture.num_samples is None or stored is None:
        return batch
    stored = stored.to(batch).flatten(0, 1)[present]
    classes = int((mixture.weights.sum(1) > 0).sum())
    size = mixture.num_samples if blend_size is None else blend_size
    expected_size = mixture.weights.to(batch).flatten()[present] * size / classes
    v = (BLEND_SCALE * counts / expected_size).clamp(max=BLEND_CAP)[:, None]
    return v * batch + (1 - v) * stored


def cem_loss(z: torch.Tensor, labels: torch.Tensor, mixture: ClassMixture, sigma: float, tau: float = 0.125,
             gamma0: float = 0.01, variant: str = "isotropic", variance: str = "blend",
             blend_size: int | None = None) -> torch.Tensor:
    """CEM's L_C on a batch of clean features z (N × ...) with labels (N): see the module docstring
    (``blend_size``: the training-set size the blend's weight is computed for).

    Each sample is assigned to the nearest centroid of its own class; σ̂² is its cluster's mean
    squared deviation from that centroid in this batch, blended with the mixture's stored variance
    (``variance="blend"``) or alone (``"batch"``; always for the logdet variant). The hinge
    threshold τσ² needs noise σ > 0. The isotropic and diagonal variants are computed for all
    clusters at once (scatter sums over cluster ids).
    """
    check_range("sigma", sigma, 0.0, low_inclusive=False)
    check_range("tau", tau, 0.0, low_inclusive=False)
    check_choice("variant", variant, VARIANTS)
    check_choice("variance", variance, VARIANCES)
    if z.dim() < 2 or labels.shape != (len(z),):
        raise ValueError(f"need z of shape N × ... and N labels, got {tuple(z.shape)} and {tuple(labels.shape)}")
    flat = z.flatten(1)
    threshold = math.log(tau * sigma ** 2 + gamma0)
    assign, usable = _assign(flat, labels, mixture)
    flat, labels, assign = flat[usable], labels[usable], assign[usable]
    if len(flat) == 0:
        return z.new_zeros(())
    num_classes, k = mixture.weights.shape
    cluster = labels * k + assign                                                # a global cluster id
    deviation = flat - mixture.centroids.to(flat)[labels, assign]
    counts = torch.zeros(num_classes * k).to(flat).index_add_(0, cluster, torch.ones_like(cluster, dtype=flat.dtype))
    present = counts > 0
    if variant == "logdet":
        hinge = torch.stack([F.relu(_log_det_spread(deviation[cluster == g], gamma0) - threshold)
                             for g in present.nonzero().flatten().tolist()])
    else:
        per_sample = deviation ** 2 if variant == "diagonal" else (deviation ** 2).mean(1, keepdim=True)
        sums = torch.zeros(num_classes * k, per_sample.shape[1]).to(flat).index_add_(0, cluster, per_sample)
        spread = sums[present] / counts[present, None]
        if variance == "blend":
            spread = _blend(spread, counts[present], present, mixture, variant, blend_size)
        hinge = F.relu(torch.log(spread + gamma0) - threshold).mean(1)
    weighted = mixture.weights.to(flat).flatten()[present] * hinge
    per_class = torch.zeros(num_classes).to(flat).index_add_(0, present.nonzero().flatten() // k, weighted)
    return per_class[labels.unique()].mean()


def ramp_factor(epoch: int, epochs: int) -> float:
    """The paper's effective-λ factor in epoch ``epoch`` (1-based) of ``epochs``: 0.02, 0.1, 0.5, 1
    by quarter of training (its lr schedule 0.05 → 0.01 → 0.002 → 0.0004 at 60/120/180 of 240)."""
    progress = (epoch - 1) / epochs
    return 0.02 if progress < 0.25 else 0.1 if progress < 0.5 else 0.5 if progress < 0.75 else 1.0


class CEM(Defense):
    """CEM as a plug-in on top of a base defense: everything of ``base`` (architecture, observe,
    training terms) plus weight·:func:`cem_loss` on the clean edge output.

    Before every epoch after ``warmup_epochs`` the per-class mixture (``k`` clusters per class) is
    refitted on the clean features of the training set, warm-started from the previous epoch's
    centroids (the paper skips epoch 1: its mixture is fitted on trained features). With
    ``fit_on="training_pass"`` (default) those are the clean edge outputs the last epoch's training
    batches computed anyway (detached, no augmentation here); ``"eval_pass"`` is the paper's extra
    pass over the training set in eval mode, which costs one more edge forward pass per epoch (a
    third of CEM's overhead, ``benchmarks/``). Both are stale by up to one epoch. ``sigma`` is
    the noise level in the hinge's threshold τσ²; it defaults to the base's σ when the base is
    Gaussian noise (alone or in a :class:`~helpers.defenses.stack.Stack`), and must be given otherwise.

    ``ramp=True`` follows the paper's schedule: its code scales λ by 10⁻³/lr while its SGD learning
    rate (0.05, ×0.2 at epochs 60, 120, 180 of 240) is above 4·10⁻⁴, i.e. by 0.02, 0.1, 0.5 and 1
    over the four quarters of training. We apply those factors by the same fractions of our epochs.

    ``variance="blend"`` (default, the paper's code) blends each cluster's batch variance with the
    fitted one, which scales the loss's gradient by v ≈ 10·batch size/training-set size (module
    docstring); ``"batch"`` uses the batch variance alone, about 1/v times the gradient for the same λ.
    ``blend_size`` computes v for that training-set size instead of ours: with
    :data:`PAPER_TRAINING_SIZE`, λ has the paper's effective strength (None: 22× the paper's at our
    2,250 images).
    """

    name = "cem"

    def __init__(self, base: dict, weight: float = 8.0, sigma: float | None = None, k: int = 5, tau: float = 0.125,
                 gamma0: float = 0.01, variant: str = "isotropic", warmup_epochs: int = 1,
                 fit_on: str = "training_pass", ramp: bool = False, variance: str = "blend",
                 blend_size: int | None = None):
        self.base = from_config(base)
        if self.base.name == "cem":
            raise ValueError("CEM is a plug-in on another defense, not on itself")
        if sigma is None:
            sigma = getattr(self.base, "sigma", None)
            if sigma is None:
                raise ValueError(f"CEM on {self.base.name} needs sigma (the noise level of its hinge)")
        self.sigma = check_range("sigma", sigma, 0.0, low_inclusive=False)
        self.weight = check_range("weight", weight, 0.0)
        if type(k) is not int or k < 1 or type(warmup_epochs) is not int or warmup_epochs < 0:
            raise ValueError(f"k must be a positive and warmup_epochs a non-negative integer, got {k}, {warmup_epochs}")
        self.k, self.warmup_epochs = k, warmup_epochs
        self.tau, self.gamma0 = check_range("tau", tau, 0.0, low_inclusive=False), check_range("gamma0", gamma0, 0.0, low_inclusive=False)
        self.variant = check_choice("variant", variant, VARIANTS)
        self.variance = check_choice("variance", variance, VARIANCES)
        self.fit_on = check_choice("fit_on", fit_on, FIT_ON)
        if not isinstance(ramp, bool):
            raise ValueError(f"ramp must be True or False, got {ramp!r}")
        self.ramp, self._factor = ramp, 1.0
        if blend_size is not None and (type(blend_size) is not int or blend_size < 1):
            raise ValueError(f"blend_size must be a positive integer (a training-set size) or None, got {blend_size!r}")
        self.blend_size = blend_size
        self.mixture: ClassMixture | None = None
        self._seen: list[tuple[torch.Tensor, torch.Tensor]] = []  # this epoch's clean (z, y) batches

    def params(self) -> dict:
        return {"base": self.base.config(), "weight": self.weight, "sigma": self.sigma, "k": self.k, "tau": self.tau,
                "gamma0": self.gamma0, "variant": self.variant, "warmup_epochs": self.warmup_epochs,
                "fit_on": self.fit_on, "ramp": self.ramp, "variance": self.variance,
                # only when set: every result of the earlier default keeps its key
                **({"blend_size": self.blend_size} if self.blend_size is not None else {})}

    # everything the base defense does, unchanged
    def build(self, model, cut):
        return self.base.build(model, cut)

    def observe(self, z, generator=None):
        return self.base.observe(z, generator)

    @property
    def observes_unchanged(self) -> bool:
        return self.base.observes_unchanged

    def deploy(self, model, cut):
        return self.base.deploy(model, cut)

    def match_architecture(self, fresh, deployed):
        return self.base.match_architecture(fresh, deployed)

    @property
    def is_random(self) -> bool:
        return self.base.is_random

    @property
    def label_smoothing(self):
        return self.base.label_smoothing

    @property
    def task_weight(self) -> float:
        return self.base.task_weight

    def before_epoch(self, edge, x, y, epoch, epochs):
        self.base.before_epoch(edge, x, y, epoch, epochs)
        self._factor = ramp_factor(epoch, epochs) if self.ramp else 1.0
        seen, self._seen = self._seen, []
        if epoch <= self.warmup_epochs or self.weight == 0:
            return
        if self.fit_on == "training_pass" and seen:
            z, y = torch.cat([b[0] for b in seen]), torch.cat([b[1] for b in seen])
        else:  # the paper's pass; also epoch 1 with no warm-up, before any batch was seen
            z = self._eval_features(edge, x)
        self.mixture = fit_class_mixture(z, y, int(y.max()) + 1, self.k, previous=self.mixture, seed=epoch)

    @staticmethod
    def _eval_features(edge, x):
        was_training = edge.training
        edge.eval()
        device = module_device(edge)
        with torch.no_grad():  # channels_last batches of 256: the edge's fastest CPU path (about 2× here)
            z = torch.cat([edge(x[i:i + 256].to(device).contiguous(memory_format=torch.channels_last)).cpu()
                           for i in range(0, len(x), 256)])
        edge.train(was_training)
        return z

    def edge_loss(self, x, z, y=None):
        loss = self.base.edge_loss(x, z, y)
        if self.weight == 0:
            return loss
        if y is None:
            raise ValueError("CEM's loss needs the batch's labels")
        if self.fit_on == "training_pass" and torch.is_grad_enabled():
            self._seen.append((z.detach().cpu(), y.detach().cpu()))
        if self.mixture is None:
            return loss
        term = cem_loss(z, y, self.mixture, self.sigma, self.tau, self.gamma0, self.variant, self.variance,
                        self.blend_size)
        return loss + self._factor * self.weight * term
