"""The networks of the attacker's priors (:mod:`helpers.attacks.priors` trains and caches them): a
convolutional VAE and a DDPM with a compact U-Net denoiser, its cosine schedule, ancestral sampling
and its respacing (:func:`respaced`). No BatchNorm (GroupNorm in the denoiser), so an image's output
never depends on the other images of its batch.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..core.progress import progress


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

    def posterior_step(self, x0: torch.Tensor, x_t: torch.Tensor, t: int, generator: torch.Generator,
                       to: int | None = None) -> torch.Tensor:
        """A draw of x_s from q(x_s | x_t, x0), s = ``to`` (default t−1; below 0: the clean image): mean
        c0·x0 + c1·x_t, variance β̃ (none at s < 0). A jump over several steps uses the schedule
        between t and s, β = 1 − ᾱ_t/ᾱ_s (Nichol & Dhariwal's respacing); one step uses β_t itself."""
        if to is None or to == t - 1:
            beta, a, a_prev = self.betas[t], self.alpha_bar[t], self.alpha_bar_prev[t]
        else:
            if not -1 <= to < t:
                raise ValueError(f"a reverse step goes from t = {t} to an earlier step, got {to}")
            a, a_prev = self.alpha_bar[t], self.alpha_bar[to] if to >= 0 else torch.ones_like(self.alpha_bar[t])
            beta = 1 - a / a_prev
        mean = (a_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - a_prev) * x_t) / (1 - a)
        if t == 0 or to == -1:
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
                guide: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                steps: int | None = None) -> torch.Tensor:
        """Denoise ``x_t`` (at step ``t_start``) down to images in [0, 1]. ``guide(x_t, x̂0)``, where
        x̂0 depends differentiably on x_t, returns a correction subtracted from every x_{t−1}.
        ``steps``: visit only that many of the ``t_start`` steps (:func:`respaced`; None: all)."""
        visited = respaced(t_start, steps)
        for t, to in progress(list(zip(visited, [*visited[1:], -1])), desc="reverse diffusion", leave=False):
            with torch.enable_grad() if guide is not None else torch.no_grad():
                x_in = x_t.detach().requires_grad_(guide is not None)
                x0 = self.predict_x0(x_in, t, self.eps(x_in, t))
                correction = guide(x_in, x0) if guide is not None else 0.0
            x_t = self.posterior_step(x0.detach().clamp(-1, 1), x_in.detach(), t, generator, to) - correction
        return self.to_images(x_t.detach())

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` images from the prior, in [0, 1] (repeatable for a seeded ``generator``)."""
        noise = torch.randn((n, *self.image_shape), generator=generator).to(self.betas.device)
        return self.reverse(noise, self.T, generator)


def respaced(t_start: int, steps: int | None = None) -> list[int]:
    """The steps a reverse pass from ``t_start`` visits, highest first: all of t_start−1, ..., 0, or
    ``steps`` of them evenly spaced over that range, both ends kept."""
    if steps is None or steps >= t_start:
        return list(range(t_start - 1, -1, -1))
    if type(steps) is not int or steps < 2:
        raise ValueError(f"a respaced reverse pass needs at least 2 steps, got {steps!r}")
    kept = torch.linspace(0, t_start - 1, steps).round().long().unique().tolist()
    return sorted(kept, reverse=True)
