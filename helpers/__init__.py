"""Helpers of the model-inversion notebook companion. Importing this package has no side effects.

Each notebook starts with ``session = helpers.setup_notebook(scale=scale, seed=seed)``.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["setup_notebook", "Session"]


@dataclass(frozen=True)
class Session:
    scale: "object"    # helpers.config.Scale
    seed: int
    device: "object"   # torch.device


def setup_notebook(scale: str = "quick", seed: int = 0, device: str = "auto", threads: int | None = None
                   ) -> Session:
    """Resolve the scale (``$MIA_SCALE`` overrides it), seed everything, set the plotting style.

    Refuses, before any work, a seed that is not a non-negative int and a cache or figures folder
    that cannot be written.

    Prints one line with what was chosen, so an executed notebook records how it was run.
    """
    import os

    import matplotlib
    import seaborn as sns
    import torch

    from . import paths
    from .config import SCALE_ENV_VAR, check_seed, get_scale
    from .repro import resolve_device, seed_everything

    seed = check_seed(seed)
    resolved = get_scale(scale)
    paths.check_writable(paths.cache_dir(), "cache folder", "MIA_CACHE_DIR")
    paths.check_writable(paths.figures_dir(), "figures folder", paths.FIGURES_ENV_VAR)
    if threads:
        torch.set_num_threads(threads)
    seed_everything(seed)
    torch_device = resolve_device(device)
    sns.set_theme(context="notebook", style="whitegrid")
    matplotlib.rcParams.update({"pdf.fonttype": 42, "savefig.dpi": 150, "figure.dpi": 80})
    source = f" (from ${SCALE_ENV_VAR})" if os.environ.get(SCALE_ENV_VAR) else ""
    print(f"scale={resolved.name}{source} seed={seed} device={torch_device} torch={torch.__version__} "
          f"threads={torch.get_num_threads()}")
    return Session(resolved, seed, torch_device)
