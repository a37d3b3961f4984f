"""The audit's report: a figure (privacy against edge cost per cut, with the worst reconstructions),
the per-cut table as CSV, and a short text whose every number comes from that table."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter
import numpy as np
import pandas as pd

from ..core.io import atomic_write_bytes, atomic_write_text
from ..theory.radius import zone_cuts
from .recommend import Recommendation

SHOWN = 6   # test images in the reconstruction panel


def agreement(gpz: str, recommendation: Recommendation) -> str:
    """Where GPZ's R_c² rule and the attacks agree or disagree on the cut."""
    if gpz.startswith("n/a"):
        return f"GPZ's rule was not applied: {gpz.removeprefix('n/a ').strip('()')}."
    chosen = recommendation.cut
    if chosen is None:
        return f"GPZ's rule picks {gpz}; the attacks make no cut private, so they cannot confirm it."
    verb = "agree" if chosen in zone_cuts(gpz) else "disagree"
    return f"GPZ's rule picks {gpz}; the attacks' rule picks {chosen}: they {verb}."


def summary_text(result: dict, recommendation: Recommendation) -> str:
    plan, table = result["plan"], result["table"].set_index("cut")
    seeds = f"{len(plan.seeds)} seed{'s' if len(plan.seeds) > 1 else ''}"
    attackers = ", ".join(plan.attackers)
    lines = [f"Audit of {plan.model} on {plan.dataset} ({plan.scale}, {seeds}, attackers: {attackers}).",
             f"Test accuracy {table.accuracy.iloc[0]:.3f}.", f"Recommended cut: {recommendation.text}.",
             agreement(result["gpz"], recommendation), "",
             "| cut | edge MFLOPs | worst MSE | class-mean MSE | privacy |", "|---|---|---|---|---|"]
    lines += [f"| {cut} | {r.edge_MFLOPs:.3g} | {r.worst_mse:.4g} | {r.class_mean_mse:.4g} | {r.privacy:.2f} |"
              for cut, r in table.iterrows()]
    return "\n".join(lines) + "\n"


def _privacy_panel(ax, table: pd.DataFrame, gpz: str, recommendation: Recommendation) -> None:
    x = table.edge_MFLOPs.to_numpy()
    for column, style, name in (("mse_standard", dict(facecolors="none", edgecolors="k"), "standard attacker"),
                                ("mse_strong", dict(color="C3"), "strong attacker")):
        if table[column].notna().any():
            ratio = table[column] / table.class_mean_mse
            bounds = np.vstack([table[f"{column}_low"], table[f"{column}_high"]]) / table.class_mean_mse.to_numpy()
            errors = np.abs(bounds - ratio.to_numpy())
            ax.errorbar(x, ratio, yerr=None if np.isnan(errors).all() else errors, fmt="none", ecolor="gray", lw=1)
            ax.scatter(x, ratio, s=50, zorder=3, label=name, **style)
    last = len(table) - 1
    for i, row in enumerate(table.itertuples()):
        marks = [" (GPZ)"] * (row.cut in zone_cuts(gpz)) + [" (recommended)"] * (row.cut == recommendation.cut)
        ax.annotate(row.cut + "".join(marks), (row.edge_MFLOPs, row.privacy), textcoords="offset points", fontsize=8,
                    xytext=(-6, 6) if i == last else (6, 6), ha="right" if i == last else "left")
    ax.axhline(1.0, ls="--", color="gray", lw=1, label="class-mean reference")
    ax.set(xscale="log", yscale="log", xlabel="edge cost (MFLOPs per image, log)",
           ylabel="worst-case attack MSE / class-mean MSE (log)", title="privacy against edge cost, per cut")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    sparse = FuncFormatter(lambda value, _: f"{value:g}" if f"{value:.0e}"[0] in "25" else "")   # 0.2, 0.5, 2, 5
    ax.xaxis.set_major_formatter(plain), ax.xaxis.set_minor_formatter(plain)
    ax.yaxis.set_major_formatter(plain), ax.yaxis.set_minor_formatter(sparse)
    ax.margins(x=0.15, y=0.15)
    ax.legend(fontsize=8)


def _reconstruction_panel(fig, spec, table: pd.DataFrame, examples: dict) -> None:
    cuts = list(table.cut)
    originals = examples[cuts[0]][1].x[:SHOWN]
    rows = [("original", originals)] + [(f"{cut}: {examples[cut][2]}", examples[cut][0][:SHOWN]) for cut in cuts]
    grid = spec.subgridspec(len(rows), SHOWN, wspace=0.05, hspace=0.45)
    for r, (name, images) in enumerate(rows):
        for c in range(min(SHOWN, len(images))):
            ax = fig.add_subplot(grid[r, c])
            image = images[c].permute(1, 2, 0).clamp(0, 1).numpy()
            ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_title(name, fontsize=8, loc="left")


def audit_figure(result: dict, recommendation: Recommendation):
    table = result["table"]
    fig = plt.figure(figsize=(14, max(4.5, 1.0 * (len(table) + 1) + 1)))
    outer = fig.add_gridspec(1, 2, width_ratios=[1.1, 1])
    _privacy_panel(fig.add_subplot(outer[0]), table, result["gpz"], recommendation)
    _reconstruction_panel(fig, outer[1], table, result["examples"])
    fig.suptitle(f"{result['plan'].model} on {result['plan'].dataset}: worst reconstructions per cut (seed "
                 f"{result['plan'].seeds[0]})", fontsize=10)
    return fig


def write_report(result: dict, recommendation: Recommendation, out: Path) -> dict:
    """audit.csv, audit_per_seed.csv, audit.png and audit.md in ``out`` (each written whole or not
    at all); returns {name: path}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("audit.csv", "audit_per_seed.csv", "audit.png", "audit.md")}
    atomic_write_text(paths["audit.csv"], result["table"].to_csv(index=False))
    atomic_write_text(paths["audit_per_seed.csv"], result["per_seed"].to_csv(index=False))
    fig = audit_figure(result, recommendation)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(paths["audit.png"], buffer.getvalue())
    atomic_write_text(paths["audit.md"], summary_text(result, recommendation))
    return paths
