"""Absolute project paths, derived from this file so that papermill, nbval and pytest agree.

nbval runs a kernel in the notebook's folder and papermill in the caller's folder, so no
helper may rely on the current working directory.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
FIGURES = ROOT / "figures"
DATA = ROOT / "data"
BUILD = ROOT / "build"
FIGURES_ENV_VAR = "MIA_FIGURES_DIR"
# figures of a run outside the pipeline (papermill, Jupyter): never over the published figures/
UNPUBLISHED_FIGURES = BUILD / "figures"


def shown(path: Path) -> str:
    """``path`` as a reader should see it: relative to the project when it lies inside it (an
    executed notebook, and the book, carry no path of the machine that ran them), else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def folder_from_env(name: str, default: Path) -> Path:
    """``$name`` as a folder, else ``default``. An empty or blank value is an error, not the current
    folder (a run would scatter caches or figures wherever it was started)."""
    value = os.environ.get(name)
    if value is None:
        return Path(default)
    if not value.strip():
        raise ValueError(f"${name} is set but empty: unset it (the default is {shown(default)}) "
                         "or set it to a folder")
    return Path(value)


def cache_dir() -> Path:
    """Where expensive results are cached; ``$MIA_CACHE_DIR`` overrides ``data/cache``."""
    return folder_from_env("MIA_CACHE_DIR", DATA / "cache")


def figures_dir() -> Path:
    """Where figures are saved: ``$MIA_FIGURES_DIR`` (``make figures`` points it at a staging folder
    and publishes into ``figures/``), else ``build/figures/``, so that a direct papermill or Jupyter
    run never overwrites the published figures while ``figures/MANIFEST.yaml`` describes others."""
    return folder_from_env(FIGURES_ENV_VAR, UNPUBLISHED_FIGURES)


def raw_data_dir() -> Path:
    """Where torchvision downloads land; ``$DATA_DIR`` overrides ``data/raw``."""
    return folder_from_env("DATA_DIR", DATA / "raw")


def inside(folder: Path, name: str, what: str) -> Path:
    """``folder / name`` for a ``name`` that is one plain folder or file name (letters, digits,
    ``._-``, not ``.`` or ``..``): a parameter that becomes a path cannot leave ``folder``."""
    plain = bool(name) and all(ch.isalnum() or ch in "._-" for ch in name) and name not in (".", "..")
    if not plain:
        raise ValueError(f"{what} {name!r} must be a plain name (letters, digits, '.', '_', '-'): "
                         f"it becomes a folder under {shown(folder)}")
    return Path(folder) / name


def check_writable(folder: Path, what: str, env_var: str) -> Path:
    """Create ``folder`` if needed and prove it writable with a file removed at once, so that a run
    fails at its first cell rather than after hours of training; the error names ``env_var``."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as error:
        raise PermissionError(f"the {what} {folder} is not writable ({type(error).__name__}: {error}); "
                              f"make it writable or set ${env_var} to a writable folder") from error
    return folder


def checkout_of(folder: Path) -> Path | None:
    """The checkout of this project that ``folder`` lies in (the nearest folder at or above it that
    holds ``helpers/__init__.py`` and ``notebooks/``), or None."""
    folder = Path(folder).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "helpers" / "__init__.py").is_file() and (candidate / "notebooks").is_dir():
            return candidate
    return None


def check_same_checkout(folder: Path) -> None:
    """Refuse to run a notebook of one checkout with the ``helpers`` of another: that happens when a
    second checkout uses the first one's ``.venv`` (its editable install points at the first), and
    every cache and figure would then land in the first checkout's folders."""
    checkout = checkout_of(folder)
    if checkout is not None and checkout != ROOT:
        raise RuntimeError(
            f"this notebook runs in the checkout {checkout}, but `import helpers` found the package of "
            f"another checkout, {ROOT}: its .venv is shared. Run `make env` in {checkout} (a .venv of "
            f"its own), or start Jupyter with PYTHONPATH={checkout}")
