"""The attacker's learned image prior: a small VAE and a small DDPM (issue 19); their networks are
in :mod:`helpers.attacks.prior_nets`.

Both are trained only on the attacker's auxiliary images and cached by :func:`trained_prior` under a
key that holds their config and a digest of those images and their dataset indices, so a prior
trained on other images is never reused. :mod:`helpers.attacks.prior_attacks` uses them:

* :class:`ConvVAE`: encoder → (mu, logvar), decoder G(w) with a sigmoid output. Trained with the
  Bernoulli likelihood (pixel-wise binary cross-entropy) + KL, the usual choice for [0, 1] digits:
  its gradient does not vanish on nearly black or white pixels as the Gaussian (MSE) one does.
* :class:`DDPM`: a compact U-Net denoiser ε(x_t, t) with a sinusoidal timestep embedding and the
  *cosine* schedule of Nichol & Dhariwal (2021), on images scaled to [-1, 1]. Cosine rather than
  linear because T is small here (20-100 steps on the CPU) and the images are small: the linear
  schedule leaves almost no signal in its last quarter of steps at 28×28, so those steps are wasted,
  whereas the cosine one lowers the signal-to-noise ratio evenly; it also makes a start at a fraction
  of T (the hybrid attack) mean about the same amount of noise whatever T is.

Both networks use no BatchNorm (GroupNorm in the denoiser), so an image's output never depends on
the other images of its batch.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..core import cache
from ..core.config import Scale, check_choice, check_range, check_seed
from ..core.progress import progress
from ..core.repro import resolve_device, seed_everything
from .prior_nets import DDPM, ConvVAE, _check_image_shape, cosine_betas, respaced  # noqa: F401 (the last two: re-exported)

PRIOR_KINDS = ("vae", "ddpm")
_VAE_ONLY, _DDPM_ONLY = ("latent_dim", "kl_weight"), ("T",)


# Per scale and kind, the settings :meth:`PriorConfig.from_scale` starts from (notebooks quote them).
PRIOR_SETTINGS = {
    "smoke": {"vae": dict(latent_dim=8, width=16, epochs=2), "ddpm": dict(width=8, epochs=2, T=20)},
    "quick": {"vae": dict(latent_dim=16, width=32, epochs=30), "ddpm": dict(width=16, epochs=30, T=100)},
    "paper": {"vae": dict(latent_dim=64, width=64, epochs=100, batch_size=128, lr=1e-3),
              "ddpm": dict(width=64, epochs=300, T=1000, batch_size=128, lr=2e-4)},
}


@dataclass(frozen=True)
class PriorConfig:
    """Everything that determines a trained prior besides its images (part of its cache key)."""

    kind: str = "vae"
    latent_dim: int = 16      # VAE: size of w
    width: int = 32           # channels of the first level (doubled per level, at most 4×)
    epochs: int = 20
    lr: float = 2e-3
    batch_size: int = 64
    kl_weight: float = 1.0    # VAE: weight of the KL term (1: the ELBO)
    T: int = 100              # DDPM: diffusion steps
    seed: int = 0

    def __post_init__(self):
        check_choice("prior kind", self.kind, PRIOR_KINDS)
        for name in ("latent_dim", "width", "epochs", "batch_size", "T"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"PriorConfig.{name} must be a positive integer, got {value!r}")
        check_range("PriorConfig.lr", self.lr, 0.0, low_inclusive=False)
        check_range("PriorConfig.kl_weight", self.kl_weight, 0.0)
        check_seed(self.seed)
        if self.kind == "ddpm" and self.T < 2:
            raise ValueError(f"PriorConfig.T must be at least 2 diffusion steps, got {self.T}")

    def cache_fields(self) -> dict:
        """The fields that matter for this kind: a VAE's key does not change with T, nor a DDPM's
        with latent_dim."""
        unused = _DDPM_ONLY if self.kind == "vae" else _VAE_ONLY
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in unused}

    @classmethod
    def from_scale(cls, scale: Scale, kind: str = "vae", **overrides) -> "PriorConfig":
        """smoke: about a second for 256 digits; quick: minutes for 1,500 digits (measured on one
        thread while two other jobs shared the 2 cores: VAE 87 s, DDPM 138 s; the DDPM's samples are
        stroke-like rather than clean digits, which guidance makes up for); paper: the larger networks
        and longer training meant for a GPU."""
        check_choice("prior kind", kind, PRIOR_KINDS)
        chosen = PRIOR_SETTINGS.get(scale.name, PRIOR_SETTINGS["quick"])[kind]
        return cls(**{"kind": kind, **chosen, **overrides})


# ---------------------------------------------------------------- training and cache

def _fit(model: nn.Module, x: torch.Tensor, config: PriorConfig, seed: int, device: torch.device) -> list[float]:
    """Adam on ``model.loss`` over shuffled batches of ``x``; returns the mean loss of each epoch."""
    generator = seed_everything(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    history = []
    for _ in progress(range(config.epochs), desc=f"train {config.kind} prior", unit="epoch", leave=False):
        model.train()
        order, total = torch.randperm(len(x), generator=generator), 0.0
        for start in range(0, len(order), config.batch_size):
            batch = x[order[start:start + config.batch_size]].to(device)
            loss = model.loss(batch, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        history.append(total / len(x))
    if not math.isfinite(history[-1]):
        raise RuntimeError(f"the {config.kind} prior's loss is not finite ({history}); lower its lr")
    return history


def build_prior(config: PriorConfig, image_shape) -> nn.Module:
    """An untrained prior network of ``config.kind`` for ``image_shape``."""
    if config.kind == "vae":
        return ConvVAE(image_shape, config.latent_dim, config.width, config.kl_weight)
    return DDPM(image_shape, config.width, config.T)


def train_vae(x_aux: torch.Tensor, config: PriorConfig, seed: int | None = None, device: str = "auto") -> ConvVAE:
    """A :class:`ConvVAE` trained on ``x_aux`` (seed: ``config.seed`` unless given); in eval mode,
    with the per-epoch loss in ``.history``."""
    return _train(x_aux, config, "vae", seed, device)


def train_ddpm(x_aux: torch.Tensor, config: PriorConfig, seed: int | None = None, device: str = "auto") -> DDPM:
    """A :class:`DDPM` trained on ``x_aux``; as :func:`train_vae`."""
    return _train(x_aux, config, "ddpm", seed, device)


def _train(x_aux, config: PriorConfig, kind: str, seed: int | None, device) -> nn.Module:
    if config.kind != kind:
        raise ValueError(f"train_{kind} needs a PriorConfig of kind {kind!r}, got {config.kind!r}")
    check_images(x_aux)
    device = _device(device)
    seed = config.seed if seed is None else check_seed(seed)
    seed_everything(seed)  # the initial weights
    model = build_prior(config, x_aux.shape[1:]).to(device)
    model.history = _fit(model, x_aux, config, seed, device)
    return model.eval()


def _device(device) -> torch.device:
    return device if isinstance(device, torch.device) else resolve_device(device)


def check_images(x: torch.Tensor) -> None:
    """Training images must be a float N×C×H×W batch in [0, 1] (BCE and the [-1, 1] scaling need it)."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point() or len(x) < 2:
        raise ValueError(f"a prior trains on a float N×C×H×W tensor of at least 2 images, got "
                         f"{getattr(x, 'shape', type(x))}")
    _check_image_shape(x.shape[1:])
    if x.min() < 0 or x.max() > 1 or not torch.isfinite(x).all():
        raise ValueError(f"prior training images must lie in [0, 1], got [{x.min().item()}, {x.max().item()}]")


@dataclass
class TrainedPrior:
    config: PriorConfig
    model: nn.Module          # ConvVAE or DDPM, eval mode, frozen
    aux_index: list[int]      # the dataset indices of the images it was trained on
    history: list[float]      # mean training loss per epoch
    seconds: float            # training time (measured when it was trained, also when loaded)


def trained_prior(config: PriorConfig, aux, device: str = "auto", overwrite: bool = False) -> TrainedPrior:
    """The prior of ``config`` trained on ``aux`` (anything with ``x``, images, and ``index``, their
    dataset indices, e.g. a :class:`helpers.data.Split`), loaded from the cache when it was trained
    before on exactly these images with these indices."""
    x, index = aux.x, torch.as_tensor(aux.index).long()
    check_images(x)
    if index.shape != (len(x),):
        raise ValueError(f"{len(x)} auxiliary images but {tuple(index.shape)} indices")
    device = _device(device)
    key = {"prior": config.cache_fields(), "image_shape": list(x.shape[1:]), "aux": cache.tensor_digest(x, index)}

    def compute() -> dict:
        start = time.perf_counter()
        train = train_vae if config.kind == "vae" else train_ddpm
        model = train(x, config, config.seed, device)
        return {"state": model.state_dict(), "aux_index": index.tolist(), "history": model.history,
                "seconds": time.perf_counter() - start}

    payload = cache.cached("prior", key, compute, overwrite, device)
    model = build_prior(config, x.shape[1:]).to(device)
    model.load_state_dict(payload["state"])
    return TrainedPrior(config, model.eval().requires_grad_(False), list(payload["aux_index"]),
                        list(payload["history"]), float(payload["seconds"]))
