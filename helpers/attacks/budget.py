"""What the attacker knows and may spend: :class:`AttackerKnowledge` (its images, whether it models the
defense's noise), :func:`attacker_data` (its auxiliary images and the scored ones) and
:class:`SuiteBudget` (every attack's budget, per scale).

Attacker knowledge is explicit, never hidden in a data loader:

* ``aux``: ``"disjoint_aux"`` (default; images disjoint from the target's), ``"train_set"`` (a
  subset of the target's training images: CEM's "training" setting) or ``"test_split"`` (the part of
  the target-test split that is not scored: CEM's "inference" setting);
* ``noise_aware``: the decoder is trained on what the cloud observes (defense applied) rather than
  on the clean edge output.

The access each attack needs (queries, weights, a prior) is fixed by the attack: its
:class:`~helpers.attacks.protocol.AttackSpec` says so.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core.config import Scale, check_choice, check_range
from ..data import Split, Splits
from .priors import PriorConfig

AUX_CHOICES = ("disjoint_aux", "train_set", "test_split")


@dataclass(frozen=True)
class AttackerKnowledge:
    aux: str = "disjoint_aux"
    noise_aware: bool = True

    def __post_init__(self):
        check_choice("aux", self.aux, AUX_CHOICES)


def attacker_data(splits: Splits, knowledge: AttackerKnowledge, n_eval: int) -> tuple[Split, Split]:
    """(auxiliary split, evaluation split). Evaluation: the first ``n_eval`` target-test images."""
    if not 0 < n_eval <= len(splits.test):
        raise ValueError(f"n_eval must lie in [1, {len(splits.test)}], got {n_eval}")
    take = lambda part, sl: Split(part.x[sl], part.y[sl], part.index[sl])  # noqa: E731
    evaluation = take(splits.test, slice(0, n_eval))
    if knowledge.aux == "disjoint_aux":
        aux = splits.aux
    elif knowledge.aux == "train_set":
        aux = take(splits.train, slice(0, len(splits.aux)))
    else:
        aux = take(splits.test, slice(n_eval, None))
        if len(aux) < 2:
            raise ValueError("aux='test_split' needs target-test images beyond the n_eval scored ones")
    return aux, evaluation


@dataclass(frozen=True)
class SuiteBudget:
    """Attack budgets; ``from_scale`` picks them from a :class:`Scale`.

    ``n_eval`` target-test images are scored. The optimisation attacks (white box, hybrid) cost a
    full edge forward+backward per image and step, so they may score only the first
    ``n_eval_optimisation`` of those images (``None``: all of them).
    """

    decoder_epochs: int = 10
    decoder_width: int = 64
    decoder_depth: int = 1
    decoder_lr: float = 1e-3
    decoder_batch_size: int = 128
    white_box_steps: int = 300
    white_box_lr: float = 0.1
    tv_weight: float = 0.01
    hybrid_steps: int = 100
    shadow_epochs: int = 5
    n_eval: int = 500
    n_eval_optimisation: int | None = None
    vae: PriorConfig = PriorConfig("vae")      # the latent-search attack's prior
    ddpm: PriorConfig = PriorConfig("ddpm")    # the diffusion attack's prior
    latent_steps: int = 200
    latent_lr: float = 0.05
    latent_prior_weight: float = 1e-3
    guidance: float = 1.0
    diffusion_start: float = 0.75              # fraction of T the inverse network's output is noised to
    diffusion_steps: int | None = None         # guided reverse steps, respaced (None: every step from there)

    def __post_init__(self):
        for name in ("decoder_epochs", "decoder_width", "decoder_batch_size", "white_box_steps", "hybrid_steps",
                     "shadow_epochs", "n_eval", "latent_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not (isinstance(self.vae, PriorConfig) and self.vae.kind == "vae"
                and isinstance(self.ddpm, PriorConfig) and self.ddpm.kind == "ddpm"):
            raise ValueError(f"vae and ddpm must be PriorConfigs of those kinds, got {self.vae!r}, {self.ddpm!r}")
        check_range("latent_lr", self.latent_lr, 0.0, low_inclusive=False)
        check_range("latent_prior_weight", self.latent_prior_weight, 0.0)
        check_range("guidance", self.guidance, 0.0, 2.0, high_inclusive=True)
        check_range("diffusion_start", self.diffusion_start, 0.0, 1.0, low_inclusive=False, high_inclusive=True)
        if self.decoder_depth < 0 or self.tv_weight < 0 or self.white_box_lr <= 0 or self.decoder_lr <= 0:
            raise ValueError("decoder_depth and tv_weight must be non-negative, white_box_lr and decoder_lr positive")
        if self.diffusion_steps is not None and (type(self.diffusion_steps) is not int or self.diffusion_steps < 2):
            raise ValueError(f"diffusion_steps must be an integer of at least 2 or None, got {self.diffusion_steps!r}")
        if self.n_eval_optimisation is not None and not 1 <= self.n_eval_optimisation:
            raise ValueError(f"n_eval_optimisation must be positive or None, got {self.n_eval_optimisation}")

    def decoder_options(self) -> dict:
        """Keyword arguments of :class:`InverseNetworkAttack` for this budget's decoder."""
        return dict(width=self.decoder_width, depth=self.decoder_depth, epochs=self.decoder_epochs,
                    lr=self.decoder_lr, batch_size=self.decoder_batch_size)

    @property
    def n_optimisation(self) -> int:
        return min(self.n_eval, self.n_eval_optimisation or self.n_eval)

    @classmethod
    def from_scale(cls, scale: Scale, **overrides) -> "SuiteBudget":
        """smoke: token budgets (a decoder of width 16, 16 optimised images: every path in seconds);
        quick: a decoder of width 32 without the extra 28×28 conv, trained 6 epochs in batches of 64
        at lr 3e-3 (measured on the VGG at pool1/pool2/pool3/fc1: MSE within 0-15% of width 64, in
        half the time; fewer epochs cost more: 5 epochs +10%, 4 epochs +25%),
        a shadow edge trained 3 epochs, 100 white-box and 66 hybrid steps on 64 images, 100 latent-search
        steps (200 gained under 1% MSE at pool3); paper: the full budget. The priors of the prior
        attacks: :meth:`PriorConfig.from_scale`."""
        per_scale = {"smoke": dict(white_box_steps=20, hybrid_steps=10, n_eval_optimisation=16, decoder_depth=0,
                                   decoder_width=16, decoder_lr=3e-3, decoder_batch_size=64, latent_steps=10),
                     "quick": dict(white_box_steps=100, hybrid_steps=66, n_eval_optimisation=64, decoder_depth=0,
                                   decoder_width=32, decoder_lr=3e-3, decoder_batch_size=64, shadow_epochs=3,
                                   latent_steps=100),
                     "paper": dict(white_box_steps=1000, hybrid_steps=333, n_eval_optimisation=500, decoder_depth=1,
                                   latent_steps=1000)}
        chosen = per_scale.get(scale.name, per_scale["quick"])
        base = {"decoder_epochs": scale.decoder_epochs, "shadow_epochs": max(1, scale.epochs // 2),
                "n_eval": scale.n_eval, "vae": PriorConfig.from_scale(scale, "vae"),
                "ddpm": PriorConfig.from_scale(scale, "ddpm"), **chosen}
        return cls(**{**base, **overrides})
