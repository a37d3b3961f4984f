"""Helpers of the model-inversion notebook companion. Importing this package has no side effects.

Each notebook's setup cell starts with ``helpers.validate_parameters("NN", globals())`` (every
parameter against the notebook's schema) and ``session = helpers.setup_notebook(scale=scale, seed=seed)``.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["setup_notebook", "validate_parameters", "Session", "check_injected_parameters"]


@dataclass(frozen=True)
class Session:
    scale: "object"    # helpers.core.config.Scale
    seed: int
    device: "object"   # torch.device


def setup_notebook(scale: str = "quick", seed: int = 0, device: str = "auto", threads: int | None = None,
                   classifier_epochs: int = 0) -> Session:
    """Resolve the scale (``$MIA_SCALE`` overrides it), seed everything, set the plotting style.

    Refuses, before any work, a notebook of one checkout run with the ``helpers`` of another (a
    shared ``.venv``: :func:`helpers.core.paths.check_same_checkout`), a parameter name papermill
    injected that the notebook does not declare (``-p sed 1``), a seed that is not a non-negative
    int and a cache or figures folder that cannot be written. Warnings print without the machine's
    paths (:mod:`helpers.core.display`). ``classifier_epochs`` > 0 replaces the scale's classifier budget
    (:func:`helpers.core.config.with_classifier_epochs`).

    Prints one line with what was chosen, so an executed notebook records how it was run.
    """
    import os
    from pathlib import Path

    import matplotlib
    import seaborn as sns
    import torch

    from .core import paths
    from .core.config import SCALE_ENV_VAR, check_seed, get_scale, with_classifier_epochs
    from .core.display import short_warnings
    from .core.repro import resolve_device, seed_everything

    paths.check_same_checkout(Path.cwd())
    check_injected_parameters()
    short_warnings()  # a warning printed in a notebook names no path of this machine
    seed = check_seed(seed)
    resolved = with_classifier_epochs(get_scale(scale), classifier_epochs)
    cache, figures = paths.cache_dir(), paths.figures_dir()   # both named before either is created
    paths.check_writable(cache, "cache folder", "MIA_CACHE_DIR")
    paths.check_writable(figures, "figures folder", paths.FIGURES_ENV_VAR)
    if threads:
        torch.set_num_threads(threads)
    seed_everything(seed)
    torch_device = resolve_device(device)
    sns.set_theme(context="notebook", style="whitegrid")
    matplotlib.rcParams.update({"pdf.fonttype": 42, "savefig.dpi": 150, "figure.dpi": 80})
    source = f" (from ${SCALE_ENV_VAR})" if os.environ.get(SCALE_ENV_VAR) else ""
    epochs = f" classifier_epochs={resolved.epochs}" if classifier_epochs else ""
    print(f"scale={resolved.name}{source}{epochs} seed={seed} device={torch_device} torch={torch.__version__} "
          f"threads={torch.get_num_threads()}")
    return Session(resolved, seed, torch_device)


def validate_parameters(notebook: str, namespace: dict):
    """Check every parameter of ``notebook`` (its number, e.g. ``"02"``) found in ``namespace`` (the
    notebook's ``globals()``) against its typed schema (:mod:`helpers.pipeline.parameters`), before
    any work; a ValueError names each bad parameter, its value and what is valid."""
    from .pipeline.parameters import validate

    return validate(notebook, namespace)


INJECTED_HEADER = "# Parameters"   # the first line of the cell papermill injects after the parameters cell


def undeclared_parameters(history: list[str]) -> tuple[list[str], list[str]]:
    """(unknown, declared): the names papermill injected that the parameters cell does not assign.

    ``history`` is the kernel's cell sources in execution order (IPython's ``In``). Papermill puts
    its injected cell right after the cell tagged ``parameters``; without one nothing is checked.
    """
    import ast

    cells = [source for source in history if source.strip()]
    injected = [i for i, source in enumerate(cells) if source.lstrip().startswith(INJECTED_HEADER)]
    if not injected or injected[-1] == 0:
        return [], []

    def assigned(source: str) -> list[str]:
        names = []
        for node in ast.parse(source).body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
        return names

    declared = assigned(cells[injected[-1] - 1])
    unknown = [name for name in assigned(cells[injected[-1]]) if name not in declared]
    return unknown, declared


def check_injected_parameters() -> None:
    """Raise when papermill passed a parameter the notebook does not declare (it would only warn
    and run on the defaults)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    unknown, declared = undeclared_parameters(list(shell.user_ns.get("In", [])))
    if unknown:
        raise ValueError(f"this notebook declares no parameter {', '.join(unknown)}; "
                         f"its parameters are: {', '.join(declared)} (check the spelling of -p)")
