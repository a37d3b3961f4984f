"""Per-image reconstruction metrics for images in [0, 1] (explained in notebooks/00_quickstart.ipynb).

Every function takes two N×C×H×W tensors and returns a tensor of N values, one per image:

* ``mse``: mean squared error over channels and pixels;
* ``psnr``: 10·log10(1 / MSE_i) in dB (data range 1; identical images are capped at 100 dB);
* ``ssim``: SSIM with an 11×11 Gaussian window, σ = 1.5, K = (0.01, 0.03), valid (unpadded)
  filtering, via pytorch-msssim; images smaller than 11 pixels use the largest odd window that fits
  and σ scaled by window/11;
* ``lpips``: LPIPS (AlexNet) via the lpips package, on images upsampled to 64×64 and replicated to
  three channels. It needs torchvision's ImageNet AlexNet weights in torch's hub cache; when they
  are absent it returns NaN and warns once. It never runs with random weights.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

PSNR_CAP_DB = 100.0


RANGE_TOLERANCE = 1e-4  # float rounding of a sigmoid or a resize may step this far out of [0, 1]


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    """Refuse what would give a number without meaning: every metric assumes data range 1."""
    if x.shape != y.shape:
        raise ValueError(f"images must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}; "
                         "compare each reconstruction with its own original")
    if x.dim() != 4:
        raise ValueError(f"images must be N×C×H×W, got shape {tuple(x.shape)}; add a batch axis with x[None]")
    if len(x) == 0:
        raise ValueError("images form an empty batch (N = 0): there is nothing to score; check the selection")
    for name, images in (("first", x), ("second", y)):
        _check_images(name, images)


def _check_images(name: str, images: torch.Tensor) -> None:
    if not images.is_floating_point():
        raise ValueError(f"the {name} images are {images.dtype}, not floating point; "
                         "scale 8-bit images to [0, 1] with images.float() / 255")
    if not torch.isfinite(images).all():
        raise ValueError(f"the {name} images contain NaN or inf; metrics need finite values in [0, 1]")
    low, high = images.min().item(), images.max().item()
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise ValueError(f"the {name} images lie in [{low:.4g}, {high:.4g}], outside [0, 1]; metrics assume "
                         "data range 1: undo any normalisation, or clamp reconstructions with .clamp(0, 1)")


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    _check_pair(x, y)
    return (x.double() - y.double()).pow(2).flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    error = mse(x, y)
    value = 10 * torch.log10(1.0 / error.clamp_min(10 ** (-PSNR_CAP_DB / 10)))
    return value


def ssim_window(height: int, width: int) -> tuple[int, float]:
    """(window size, σ) used for images of this size."""
    size = min(11, height, width)
    size -= 1 - size % 2  # largest odd size that fits
    return size, 1.5 * size / 11


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    from pytorch_msssim import ssim as _ssim

    _check_pair(x, y)
    size, sigma = ssim_window(*x.shape[-2:])
    return _ssim(x.double(), y.double(), data_range=1.0, size_average=False, win_size=size,
                 win_sigma=sigma)


_LPIPS_MODEL = None
_LPIPS_WARNED = False


def lpips_weights_path() -> Path:
    """Where torchvision keeps the ImageNet AlexNet weights that LPIPS needs."""
    from torchvision.models import AlexNet_Weights

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(AlexNet_Weights.IMAGENET1K_V1.url).name


def lpips_available() -> bool:
    return lpips_weights_path().is_file()


def _lpips_model():
    global _LPIPS_MODEL
    if _LPIPS_MODEL is None:
        import lpips as lpips_package

        _LPIPS_MODEL = lpips_package.LPIPS(net="alex", pretrained=True, verbose=False).eval()
    return _LPIPS_MODEL


def lpips(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    global _LPIPS_WARNED
    _check_pair(x, y)
    if not lpips_available():
        if not _LPIPS_WARNED:
            warnings.warn(f"LPIPS is reported as NaN: torchvision's ImageNet AlexNet weights "
                          f"({lpips_weights_path().name}) are not in torch's hub cache (no download offline); "
                          "copy them into the folder helpers.evaluation.metrics.lpips_weights_path() names "
                          "to enable it.", stacklevel=2)
            _LPIPS_WARNED = True
        return torch.full((x.shape[0],), float("nan"), dtype=torch.float64)
    model = _lpips_model()

    def prepare(images):
        images = images.float()
        if images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        if images.shape[-1] < 64:
            images = F.interpolate(images, size=(64, 64), mode="bilinear", align_corners=False)
        return images * 2 - 1

    with torch.no_grad():
        return model(prepare(x), prepare(y)).flatten().double()


METRICS = {"mse": mse, "psnr": psnr, "ssim": ssim, "lpips": lpips}


def without_missing_metrics(table):
    """``table`` without the metric columns (with their ``_low``/``_high`` intervals) that are NaN
    in every row, with one printed line naming them: an LPIPS column without its weights says
    nothing. Other columns, and the table passed in, are left as they are."""
    missing = [name for name in METRICS if name in table and table[name].isna().all()]
    if not missing:
        return table
    print(f"left out of this table, NaN in every row: {', '.join(missing)}"
          + (" (LPIPS needs ImageNet weights this machine lacks)" if "lpips" in missing else ""))
    return table.drop(columns=[c for name in missing for c in (name, f"{name}_low", f"{name}_high") if c in table])


def all_metrics(x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every metric of :data:`METRICS`, per image."""
    return {name: fn(x, y) for name, fn in METRICS.items()}
