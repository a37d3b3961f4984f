"""The claims as a picture: a forest plot, one row per claim reading (:func:`reading_table`,
:func:`forest_plot`).

Each row has an axis of its own, in the claim's unit (log for ratios): our mean over seeds and its
95% interval, the threshold the rule compares it with (the paper's number where it gives one), the
"no effect" value and, for an equivalence claim, the band it must lie in; the paper's side of the
threshold is shaded and the verdict is the row's colour and label. Where the strong attacker's run
has all its seeds, its interval is drawn just below ours, hollow. One panel per dataset.
"""
from __future__ import annotations

import math
import textwrap

import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from ..core import paths
from .registry import CLAIM_NOTEBOOKS, CLAIMS, DEFAULT_DATASET, STRONG_NOTEBOOKS, STRONG_VARIANT
from .rule import judge, magnitude_band
from .store import collect_rows, complete_run_rows, complete_variant_rows

VERDICT_COLOURS = {"reproduced": "#1a9850", "magnitude differs": "#d9a400", "same direction": "#91cf60",
                   "condition not met": "#f46d43", "inconclusive": "#878787", "not reproduced": "#d73027",
                   "by construction": "#4575b4"}
STRONG = "strong attacker"
LABEL_WIDTH = 50   # characters per line of a claim's label


def reading_table(rows: pd.DataFrame, strong_rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per claim reading, in the order of :data:`CLAIMS`: what the rule judged (mean, low,
    high, n seeds, verdict) and what the plot draws (unit, log, threshold, no effect, margin,
    direction); with ``strong_rows``, the same reading against the strong attacker (``mean strong
    attacker`` ..., NaN where that run has no such reading)."""
    judged = judge(rows)
    if judged.empty:
        return judged
    claims = [CLAIMS[i] for i in judged.id]
    table = judged.assign(source=[c.source for c in claims], claim=[c.statement for c in claims],
                          unit=[c.unit for c in claims], log=[c.log for c in claims],
                          threshold=[c.threshold for c in claims], null=[c.null for c in claims],
                          margin=[c.margin for c in claims], direction=[c.direction for c in claims],
                          band=[magnitude_band(c) if c.magnitude else None for c in claims],
                          primary=[c.primary == r for c, r in zip(claims, judged.reading)])
    if strong_rows is not None:
        strong = judge(strong_rows)[["id", "reading", "mean", "low", "high", "verdict"]]
        table = table.merge(strong.rename(columns={k: f"{k} {STRONG}" for k in ("mean", "low", "high", "verdict")}),
                            on=["id", "reading"], how="left")
    order = {claim_id: i for i, claim_id in enumerate(CLAIMS)}
    return table.sort_values("id", key=lambda ids: ids.map(order), kind="stable").reset_index(drop=True)


def forest_panels(folder=None, datasets: tuple[str, ...] = ()) -> dict:
    """``{dataset: reading_table}``: the default dataset's readings (with the strong attacker's once
    ``make claims-strong`` is complete), then each of ``datasets`` that has claim rows."""
    folder = folder if folder is not None else paths.FIGURES
    panels = {DEFAULT_DATASET: reading_table(collect_rows(folder),
                                             complete_variant_rows(STRONG_VARIANT, folder, STRONG_NOTEBOOKS))}
    for dataset in datasets:
        rows = complete_run_rows(folder, CLAIM_NOTEBOOKS, dataset=dataset)
        if rows is not None:   # drawn once its run has every claim notebook on enough seeds
            panels[dataset] = reading_table(rows)
    return panels


def panels_frame(panels: dict) -> pd.DataFrame:
    """The panels as one table, a ``dataset`` column first: the forest plot's CSV."""
    return pd.concat([frame.assign(dataset=name) for name, frame in panels.items()], ignore_index=True)[
        ["dataset", *next(iter(panels.values())).columns]]


def _limits(row, strong: bool) -> tuple[float, float]:
    """The x-range of a row: every value drawn on it, padded; positive for a log axis."""
    values = [row["mean"], row["low"], row["high"], row["threshold"]]
    values += [row["null"]] if row["null"] is not None and not pd.isna(row["null"]) else []
    values += [row["threshold"] - row["margin"], row["threshold"] + row["margin"]] if row["direction"] == "within" else []
    values += list(row["band"]) if _has_band(row) else []
    if strong:
        values += [row[f"{k} {STRONG}"] for k in ("mean", "low", "high")]
    values = [v for v in values if math.isfinite(v) and (v > 0 or not row["log"])]
    low, high = min(values), max(values)
    if row["log"]:
        pad = (math.log10(high) - math.log10(low)) * 0.08 or 0.3
        return 10 ** (math.log10(low) - pad), 10 ** (math.log10(high) + pad)
    pad = (high - low) * 0.08 or max(abs(high), 1.0) * 0.1
    return low - pad, high + pad


def _has_band(row) -> bool:
    return isinstance(row.get("band"), tuple)


def _log_ticks(decades: float):
    """Ticks a reader can read on a ratio's axis: evenly spaced within a decade, 1-2-5 within a
    few, powers of ten beyond."""
    if decades < 0.7:
        return MaxNLocator(4)
    return LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades < 2 else (1.0,), numticks=6)


def _draw_row(ax, row, strong: bool) -> None:
    """One reading: the paper's side shaded, threshold and no effect, our interval(s)."""
    left, right = _limits(row, strong)
    ax.set_xscale("log" if row["log"] else "linear")
    if _has_band(row):   # an "≈ X" claim: the paper's size within a factor
        ax.axvspan(*row["band"], color="#d9f0d3", lw=0)
    elif row["direction"] == "within":
        ax.axvspan(row["threshold"] - row["margin"], row["threshold"] + row["margin"], color="#d9f0d3", lw=0)
    else:
        edge = row["threshold"] - row["margin"] if row["direction"] == "greater" else row["threshold"] + row["margin"]
        ax.axvspan(*((edge, right) if row["direction"] == "greater" else (left, edge)), color="#d9f0d3", lw=0)
    ax.axvline(row["threshold"], color="black", ls="--", lw=0.9)
    if row["null"] is not None and not pd.isna(row["null"]) and row["null"] != row["threshold"]:
        ax.axvline(row["null"], color="#4d4d4d", ls=":", lw=0.9)
    runs = [("", 0.1, "o", VERDICT_COLOURS[row["verdict"]])]
    if strong and not pd.isna(row[f"mean {STRONG}"]):
        runs.append((f" {STRONG}", -0.25, "s", VERDICT_COLOURS[row[f"verdict {STRONG}"]]))
    for suffix, y, marker, colour in runs:
        mean, low, high = row[f"mean{suffix}"], row[f"low{suffix}"], row[f"high{suffix}"]
        if math.isfinite(low) and math.isfinite(high):
            ax.plot([low, high], [y, y], color=colour, lw=2.2, solid_capstyle="butt")
        ax.plot([mean], [y], marker=marker, ms=5, color=colour, mfc=colour if not suffix else "white", mew=1.4)
    ax.set_xlim(left, right)
    ax.set_ylim(-0.6, 0.6)
    ax.set_yticks([])
    if row["log"]:
        ax.xaxis.set_major_locator(_log_ticks(math.log10(right / left)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", which="both", labelsize=7, pad=1, length=2)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def _verdict_label(ax, row, strong: bool) -> None:
    ax.axis("off")
    lines = [(row["verdict"], row["verdict"])]
    if strong and not pd.isna(row[f"mean {STRONG}"]):
        lines.append((f"strong: {row[f'verdict {STRONG}']}", row[f"verdict {STRONG}"]))
    for i, (text, verdict) in enumerate(lines):
        ax.text(0.04, 0.5 + (0.3 - 0.75 * i if len(lines) == 2 else 0), text, fontsize=8, va="center",
                color=VERDICT_COLOURS[verdict], fontweight="bold")


# what a reading's point is when its seeds' values are bounds (a ratio over an MSE below the floor)
BOUND_NOTES = {"≥": "(at least: the MSE below it is under the attacks' floor)",
               "≤": "(at most: the MSE above it is under the attacks' floor)",
               "mixed": "(bounds of both kinds: the attacks' floor)"}


def _reading_text(row) -> str:
    """The grey line under a claim: its reading, whether it is the primary one, and whether the
    point drawn is only a bound."""
    parts = [row["reading"]] if row["reading"] else []
    parts += ["(primary: the claim's verdict)"] if row.get("primary") else []
    bound = row.get("bound")
    parts += [BOUND_NOTES[bound]] if isinstance(bound, str) and bound in BOUND_NOTES else []
    return " ".join(parts)


def _label(ax, row) -> None:
    """The claim (with its paper, wrapped) and, below it in grey, the reading (:func:`_reading_text`)."""
    ax.axis("off")
    claim = textwrap.fill(f"{row['source']}: {row['claim']}", LABEL_WIDTH)
    below = _reading_text(row)
    ax.text(0, 0.6 if below else 0.35, claim, fontsize=8.5, va="center")
    if below:
        ax.text(0.03, -0.35, below, fontsize=7.5, va="center", color="#4d4d4d")


def forest_plot(panels: dict, width: float | None = None, row_height: float = 0.52):
    """A figure of :func:`reading_table` frames, one panel (column) per key of ``panels`` (e.g. a
    dataset), rows aligned by claim reading. Returns the figure. By default each panel adds its own
    width, so that the claims' labels keep theirs (a fixed width squeezed them under the axes)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    width = width or 5.6 + 3.9 * len(panels)   # 9.5 inches for one panel
    frames = list(panels.values())
    keys = list(dict.fromkeys((r.id, r.reading) for f in frames for r in f.itertuples()))
    strong = {name: f"mean {STRONG}" in f and f[f"mean {STRONG}"].notna().any() for name, f in panels.items()}
    height = 0.5 + row_height * max(len(keys), 1) + 0.9
    fig = plt.figure(figsize=(width, height))
    grid = fig.add_gridspec(max(len(keys), 1), 1 + 2 * len(panels), hspace=0.9, wspace=0.06,
                            width_ratios=[3.1] + [2.5, 1.25] * len(panels), left=0.01, right=0.99,
                            top=1 - 0.45 / height, bottom=0.95 / height)
    for r, key in enumerate(keys):
        label = fig.add_subplot(grid[r, 0])
        for p, (name, frame) in enumerate(panels.items()):
            found = frame[(frame.id == key[0]) & (frame.reading == key[1])]
            if found.empty:
                continue
            row = found.iloc[0]
            label.texts or _label(label, row)
            ax = fig.add_subplot(grid[r, 1 + 2 * p])
            _draw_row(ax, row, strong[name])
            if r == 0:
                ax.set_title(name, fontsize=10, fontweight="bold", pad=8)
            _verdict_label(fig.add_subplot(grid[r, 2 + 2 * p]), row, strong[name])
    legend = [Line2D([], [], color="black", ls="--", label="threshold (the paper's number)"),
              Line2D([], [], color="#4d4d4d", ls=":", label="no effect"),
              Line2D([], [], color="#d9f0d3", lw=6, label="the paper's side (≈ claims: its size ×/÷ 2)"),
              Line2D([], [], color="black", marker="o", lw=2, label="ours: mean, 95% interval over seeds")]
    legend += ([Line2D([], [], color="black", marker="s", mfc="white", lw=2, label=f"{STRONG} (strong:)")]
               if any(strong.values()) else [])
    legend += [Line2D([], [], color=c, lw=4, label=v) for v, c in VERDICT_COLOURS.items()]
    fig.legend(handles=legend, loc="lower center", ncol=4, fontsize=7.5, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return fig
