"""Absolute project paths, derived from this file so that papermill, nbval and pytest agree.

nbval runs a kernel in the notebook's folder and papermill in the caller's folder, so no
helper may rely on the current working directory.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
FIGURES = ROOT / "figures"
DATA = ROOT / "data"
BUILD = ROOT / "build"


def cache_dir() -> Path:
    """Where expensive results are cached; ``$MIA_CACHE_DIR`` overrides ``data/cache``."""
    return Path(os.environ.get("MIA_CACHE_DIR", DATA / "cache"))


def figures_dir() -> Path:
    """Where figures are saved; ``make figures`` points ``$MIA_FIGURES_DIR`` at a staging folder."""
    return Path(os.environ.get("MIA_FIGURES_DIR", FIGURES))


def raw_data_dir() -> Path:
    """Where torchvision downloads land; ``$DATA_DIR`` overrides ``data/raw``."""
    return Path(os.environ.get("DATA_DIR", DATA / "raw"))
