"""The attacker's learned image prior: a small VAE and a small DDPM (issue 19).

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
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..core import cache
from ..core.config import Scale, check_choice, check_range, check_seed
from ..core.progress import progress
from ..core.repro import resolve_device, seed_everything

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


def _levels(side: int) -> int:
    """Stride-2 halvings until the side is at most 8 (28 → 7: 2, 14 → 7: 1, 32: 2, 64: 3)."""
    n = 0
    while side > 8:
        side //= 2
        n += 1
    return n


def _check_image_shape(image_shape) -> tuple:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] < 8 or shape[0] < 1:
        raise ValueError(f"a prior needs square C×H×W images with a side of at least 8, got {shape}")
    return shape


def _channels(width: int, levels: int) -> list[int]:
    return [width * 2 ** min(i, 2) for i in range(levels + 1)]


# ---------------------------------------------------------------- VAE

class ConvVAE(nn.Module):
    """Stride-2 conv encoder → (mu, logvar) of a ``latent_dim`` Gaussian; decoder: linear, transposed
    convs back to the image side, a 3×3 conv and a sigmoid."""

    def __init__(self, image_shape, latent_dim: int = 16, width: int = 32, kl_weight: float = 1.0):
        super().__init__()
        self.image_shape, self.latent_dim = _check_image_shape(image_shape), latent_dim
        self.kl_weight = kl_weight
        c, side = self.image_shape[0], self.image_shape[1]
        levels = max(1, _levels(side))
        chans = _channels(width, levels)[1:]  # channels after each halving
        bottom = side // 2 ** levels
        encoder, c_in = [], c
        for c_out in chans:
            encoder += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.SiLU()]
            c_in = c_out
        self.encoder = nn.Sequential(*encoder, nn.Flatten(), nn.Linear(c_in * bottom * bottom, 2 * latent_dim))
        decoder = [nn.Linear(latent_dim, c_in * bottom * bottom), nn.SiLU(), nn.Unflatten(1, (c_in, bottom, bottom))]
        for c_out in [*chans[-2::-1], width]:
            decoder += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.SiLU()]
            c_in = c_out
        self.decoder = nn.Sequential(*decoder, nn.Conv2d(c_in, c, 3, 1, 1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)  # keeps exp(logvar) finite early in training

    def decode_logits(self, w: torch.Tensor) -> torch.Tensor:
        logits = self.decoder(w)
        if tuple(logits.shape[-2:]) != self.image_shape[1:]:  # only for sides that do not halve evenly
            logits = F.interpolate(logits, size=self.image_shape[1:], mode="bilinear", align_corners=False)
        return logits

    def decode(self, w: torch.Tensor) -> torch.Tensor:
        """G(w): images in [0, 1]."""
        return torch.sigmoid(self.decode_logits(w))

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Negative ELBO per image (BCE summed over pixels + kl_weight·KL), averaged over the batch."""
        mu, logvar = self.encode(x)
        w = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator).to(mu.device)
        bce = F.binary_cross_entropy_with_logits(self.decode_logits(w), x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)
        return (bce + self.kl_weight * kl).mean()


# ---------------------------------------------------------------- DDPM

def cosine_betas(T: int, s: float = 0.008) -> torch.Tensor:
    """β_t of the cosine schedule: ᾱ(t) = cos²(((t/T) + s)/(1 + s)·π/2) / ᾱ(0), β clipped at 0.999."""
    steps = torch.arange(T + 1, dtype=torch.float64) / T
    alpha_bar = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999).float()


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(8 if channels % 8 == 0 else 1, channels)


class _ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the timestep embedding added in between, a residual connection."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.first = nn.Sequential(_group_norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, 1, 1))
        self.emb = nn.Linear(emb_dim, c_out)
        self.second = nn.Sequential(_group_norm(c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, 1, 1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.first(x) + self.emb(emb)[:, :, None, None]
        return self.second(h) + self.skip(x)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Transformer-style frequencies)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class Denoiser(nn.Module):
    """A compact U-Net ε(x_t, t): one residual block per level on the way down and up, skip
    connections, stride-2 convs down and nearest-neighbour upsampling to the skip's size."""

    def __init__(self, image_shape, width: int = 16):
        super().__init__()
        c, side = _check_image_shape(image_shape)[:2]
        levels = max(1, _levels(side))
        chans, emb_dim = _channels(width, levels), 4 * width
        self.sinusoids = 2 * max(4, width // 2)
        self.time = nn.Sequential(nn.Linear(self.sinusoids, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.inp = nn.Conv2d(c, chans[0], 3, 1, 1)
        self.downs = nn.ModuleList(_ResBlock(chans[i], chans[i], emb_dim) for i in range(levels))
        self.pools = nn.ModuleList(nn.Conv2d(chans[i], chans[i + 1], 3, 2, 1) for i in range(levels))
        self.mid = _ResBlock(chans[-1], chans[-1], emb_dim)
        self.ups = nn.ModuleList(_ResBlock(chans[i + 1] + chans[i], chans[i], emb_dim) for i in range(levels))
        self.out = nn.Sequential(_group_norm(chans[0]), nn.SiLU(), nn.Conv2d(chans[0], c, 3, 1, 1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time(timestep_embedding(t, self.sinusoids))
        h, skips = self.inp(x), []
        for block, pool in zip(self.downs, self.pools):
            h = block(h, emb)
            skips.append(h)
            h = pool(h)
        h = self.mid(h, emb)
        for block, skip in zip(reversed(self.ups), reversed(skips)):
            h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1), emb)
        return self.out(h)


class DDPM(nn.Module):
    """Denoising diffusion (Ho et al. 2020) on images scaled to [-1, 1], ε-prediction, cosine schedule,
    ancestral sampling with the posterior variance β̃_t."""

    def __init__(self, image_shape, width: int = 16, T: int = 100):
        super().__init__()
        self.image_shape, self.T = _check_image_shape(image_shape), T
        self.denoiser = Denoiser(image_shape, width)
        betas = cosine_betas(T)
        alpha_bar = torch.cumprod(1 - betas, 0)
        self.register_buffer("betas", betas)
        self.register_buffer("alpha_bar", alpha_bar)
        self.register_buffer("alpha_bar_prev", torch.cat([torch.ones(1), alpha_bar[:-1]]))

    @staticmethod
    def to_model(images: torch.Tensor) -> torch.Tensor:
        return images * 2 - 1

    @staticmethod
    def to_images(x: torch.Tensor) -> torch.Tensor:
        return ((x + 1) / 2).clamp(0, 1)

    def _steps(self, t: int, n: int) -> torch.Tensor:
        return torch.full((n,), t, dtype=torch.long, device=self.betas.device)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε (t: one step per image)."""
        a = self.alpha_bar[t].view(-1, 1, 1, 1)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, t: int, eps: torch.Tensor) -> torch.Tensor:
        """x̂0 = (x_t − √(1−ᾱ_t)·ε) / √ᾱ_t: the clean image the noise estimate implies."""
        a = self.alpha_bar[t]
        return (x_t - (1 - a).sqrt() * eps) / a.sqrt()

    def eps(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        return self.denoiser(x_t, self._steps(t, len(x_t)))

    def posterior_step(self, x0: torch.Tensor, x_t: torch.Tensor, t: int, generator: torch.Generator) -> torch.Tensor:
        """A draw of x_{t−1} from q(x_{t−1} | x_t, x0): mean c0·x0 + c1·x_t, variance β̃_t (none at t=0)."""
        beta, a, a_prev = self.betas[t], self.alpha_bar[t], self.alpha_bar_prev[t]
        mean = (a_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - a_prev) * x_t) / (1 - a)
        if t == 0:
            return mean
        noise = torch.randn(x_t.shape, generator=generator).to(x_t.device)
        return mean + (beta * (1 - a_prev) / (1 - a)).sqrt() * noise

    def loss(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The simple ε-MSE of Ho et al. at a uniformly drawn step per image."""
        x0 = self.to_model(images)
        t = torch.randint(0, self.T, (len(x0),), generator=generator).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        return F.mse_loss(self.denoiser(self.q_sample(x0, t, noise), t), noise)

    def reverse(self, x_t: torch.Tensor, t_start: int, generator: torch.Generator,
                guide: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """Denoise ``x_t`` (at step ``t_start``) down to images in [0, 1]. ``guide(x_t, x̂0)``, where
        x̂0 depends differentiably on x_t, returns a correction subtracted from every x_{t−1}."""
        for t in progress(reversed(range(t_start)), total=t_start, desc="reverse diffusion", leave=False):
            with torch.enable_grad() if guide is not None else torch.no_grad():
                x_in = x_t.detach().requires_grad_(guide is not None)
                x0 = self.predict_x0(x_in, t, self.eps(x_in, t))
                correction = guide(x_in, x0) if guide is not None else 0.0
            x_t = self.posterior_step(x0.detach().clamp(-1, 1), x_in.detach(), t, generator) - correction
        return self.to_images(x_t.detach())

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` images from the prior, in [0, 1] (repeatable for a seeded ``generator``)."""
        noise = torch.randn((n, *self.image_shape), generator=generator).to(self.betas.device)
        return self.reverse(noise, self.T, generator)


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
