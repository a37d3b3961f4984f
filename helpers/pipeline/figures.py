"""Saving figures: the only way notebooks write figures.

``save(fig, "00_name", data=df, caption=..., claim=...)`` writes ``00_name.png`` and ``.pdf`` with
deterministic metadata (no dates, no software versions) and, when given, the data behind the figure
as ``00_name.csv``, into ``helpers.core.paths.figures_dir()``: the pipeline's staging folder under
``make figures`` (which publishes them into ``figures/`` and records the caption and the paper claim
in ``figures/MANIFEST.yaml``, ``helpers/pipeline/manifest.py``), else ``build/figures/``. The id starts with
the two-digit number of the producing notebook.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..core import paths
from ..core.io import atomic_write
from .manifest import write_meta

FIGURE_ID = re.compile(r"^\d\d_[a-z0-9_]+$")
_announced: set[Path] = set()  # unpublished folders already named in this process's output


def _announce_unpublished(folder: Path) -> None:
    """Say once where a run outside ``make figures`` put its figures (not in figures/)."""
    if folder not in _announced:
        _announced.add(folder)
        print(f"figures are saved to {folder} (${paths.FIGURES_ENV_VAR} is unset); "
              f"only `make figures` writes the published figures/")


def save(fig, fig_id: str, data=None, folder: Path | None = None, *, caption: str,
         claim: str | None = None, shown: bool = True) -> list[Path]:
    """Write ``fig`` (and optionally a DataFrame ``data``) under ``fig_id``; return the paths.

    ``caption`` says what the figure shows (one sentence); ``claim`` names the paper claim it
    speaks to, if any. Both are recorded in the figure registry when the pipeline stages figures.
    ``shown=False``: the notebook does not display it (a table it also shows as a DataFrame); the
    figure is closed here, and the registry says so, so that the book shows the saved PNG instead.
    """
    if not FIGURE_ID.match(fig_id):
        raise ValueError(f"figure id {fig_id!r} must look like '00_lower_case_name'")
    if not isinstance(caption, str) or not caption.strip():
        raise ValueError(f"figure {fig_id}: give a non-empty caption (it goes to figures/MANIFEST.yaml)")
    if folder is None and paths.FIGURES_ENV_VAR not in os.environ:
        _announce_unpublished(paths.figures_dir())
    folder = Path(folder) if folder is not None else paths.figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for ext, metadata in (("png", {"Software": None}),
                          ("pdf", {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None})):
        path = folder / f"{fig_id}.{ext}"
        atomic_write(path, lambda handle: fig.savefig(handle, format=ext, metadata=metadata, bbox_inches="tight"))
        written.append(path)
    if data is not None:
        path = folder / f"{fig_id}.csv"
        atomic_write(path, lambda handle: data.to_csv(handle, index=False, float_format="%.6g"), mode="w")
        written.append(path)
    if folder != paths.FIGURES:  # not the published folder: leave the registry entry beside the files
        write_meta(folder, fig_id, caption.strip(), claim, shown)
    if not shown:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return written


def image_grid(rows: dict, n: int = 8, title: str | None = None):
    """A figure with one row of ``n`` images per entry of ``rows`` (label -> N×C×H×W in [0, 1])."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n, 1.15 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r, c]
            image = images[c].detach().cpu().float()
            if image.shape[0] == 1:
                ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_features(ax, z, max_channels: int = 16, title: str | None = None) -> None:
    """Draw one image's features: a mosaic of the first channels (C×H×W) or a strip (flat)."""
    import numpy as np

    z = z.detach().cpu().float()
    if z.dim() == 3:
        channels = z[:max_channels]
        cols = int(np.ceil(np.sqrt(len(channels))))
        rows = int(np.ceil(len(channels) / cols))
        h, w = channels.shape[1:]
        mosaic = np.full((rows * (h + 1), cols * (w + 1)), np.nan)
        for i, channel in enumerate(channels):
            r, c = divmod(i, cols)
            span = (channel.max() - channel.min()).clamp_min(1e-8)
            mosaic[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = (channel - channel.min()) / span
        ax.imshow(mosaic, cmap="viridis")
    else:
        z = z.flatten()
        side = int(np.ceil(np.sqrt(len(z))))
        padded = np.full(side * side, np.nan)
        padded[: len(z)] = z.numpy()
        ax.imshow(padded.reshape(side, side), cmap="viridis")
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def table_figure(table, width: float = 16, row_height: float = 0.6, fontsize: int = 8):
    """A figure showing a DataFrame as a left-aligned table (the claims tables of notebooks 02-08)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, 0.5 + row_height * max(len(table), 1)))
    ax.axis("off")
    if table.empty:   # e.g. a smoke run with nothing to judge: say so rather than fail
        ax.text(0.5, 0.5, "(no rows)", ha="center", va="center")
        return fig
    drawn = ax.table(cellText=table.values, colLabels=list(table.columns), loc="center", cellLoc="left")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(fontsize)
    drawn.auto_set_column_width(list(range(table.shape[1])))
    return fig
