"""The claims table as published: each claim with the paper's side, ours and the verdict (:func:`claim_table`,
:func:`collect`, :func:`published_table`), and its markdown."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..core import paths
from .registry import (CLAIM_NOTEBOOKS, CLAIMS, EVERY_READING, MAGNITUDE_FACTOR, SECOND_DATASET, STRONG_COLUMN,
                       STRONG_NOTEBOOKS, STRONG_VARIANT, VERDICTS, Claim)
from .rule import judge, magnitude_band
from .store import collect_rows, complete_run_rows, complete_variant_rows


def comparison_table(compared: pd.DataFrame, names: tuple[str, str]) -> pd.DataFrame:
    """:func:`compare_runs`' result as shown: the claim, the reading, each run's "mean [low, high]"
    and verdict, the change and whether the intervals overlap."""
    shown = compared.assign(claim=compared.id.map(lambda i: CLAIMS[i].statement))
    for run in names:
        shown[run] = [f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]" for m, lo, hi in
                      zip(compared[f"mean {run}"], compared[f"low {run}"], compared[f"high {run}"])]
    return shown[["claim", "reading", names[0], f"verdict {names[0]}", names[1], f"verdict {names[1]}",
                  "change", "overlap"]]


def claim_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per claim in definition order: the paper's side, ours (each reading's mean and
    interval, the primary reading first) and the verdict of the primary reading (:func:`primary_verdict`)."""
    judged = judge(rows)
    columns = ["id", "source", "claim", "paper says", "we measure", "rule", "n seeds", "verdict", "detail",
               "primary measure"]
    if judged.empty:   # e.g. a smoke run in which no base qualified
        return pd.DataFrame(columns=columns)
    table = []
    for claim_id in [c for c in CLAIMS if c in set(judged.id)]:
        claim, part = CLAIMS[claim_id], judged[judged.id == claim_id]
        overall, part = primary_verdict(claim, part)
        table.append({"id": claim_id, "source": claim.source, "claim": claim.statement,
                      "paper says": claim.paper_value, "we measure": _describe(claim, part),
                      "rule": _rule_text(claim), "n seeds": int(part["n seeds"].iloc[0]), "verdict": overall,
                      "primary measure": _primary_measure(claim, part),
                      "detail": "; ".join(f"{r.reading or 'value'}: {r.verdict}" for r in part.itertuples())})
    return pd.DataFrame(table, columns=columns)


def primary_verdict(claim: Claim, part: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The claim's verdict and its readings, the primary first. One reading decides alone; of several,
    the claim's ``primary`` (named before the run), or under :data:`EVERY_READING` the weakest of
    them (the one furthest from "reproduced" in :data:`VERDICTS`). A primary reading a run did not
    measure leaves the claim inconclusive."""
    if len(part) == 1 and claim.primary in (None, EVERY_READING, part.reading.iloc[0]):
        return part.verdict.iloc[0], part
    if claim.primary is None:
        raise ValueError(f"claim {claim.id} has readings {list(part.reading)} but names no primary reading")
    if claim.primary == EVERY_READING:
        weakest = max(part.verdict, key=VERDICTS.index)
        return weakest, part
    first = part[part.reading == claim.primary]
    if first.empty:
        return "inconclusive", part
    return first.verdict.iloc[0], pd.concat([first, part[part.reading != claim.primary]])


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "nan"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _describe(claim: Claim, part: pd.DataFrame) -> str:
    unit = "" if claim.unit in ("share", "ρ") else f" {claim.unit}"
    texts = []
    for _, r in part.iterrows():
        if claim.statistic == "constant":
            # seeds that chose another design (another SiftFunnel width) show their range
            shown = (f"{_fmt(r['mean'])}{unit} (by construction)" if not math.isfinite(r["low"]) else
                     f"{_fmt(r['low'])}–{_fmt(r['high'])}{unit} (by construction; the design differs between seeds)")
        else:
            counted = f" ({r['successes']:.0f} of {r['trials']:.0f})" if claim.statistic == "count" else ""
            bound = {"≥": "≥ ", "≤": "≤ ", "mixed": "bounds only: "}.get(r.get("bound", ""), "")
            shown = f"{bound}{_fmt(r['mean'])}{unit}{counted} [{_fmt(r['low'])}, {_fmt(r['high'])}]"
        if r["verdict"] == "magnitude differs":
            shown += f", {_fmt(r['factor'])}× the paper's"
        primary = claim.primary not in (None, EVERY_READING) and r["reading"] == claim.primary and len(part) > 1
        name = r["reading"] + (" (primary)" if primary else "")
        texts.append(f"{name} {shown}" if r["reading"] else shown)
    failed = sorted({s for text in part["condition failed"] if text for s in text.split(",")}, key=int)
    condition = f"; condition failed: seeds {', '.join(failed)}" if failed else ""   # the rule column names it
    unmeasured = claim.primary not in (None, EVERY_READING) and claim.primary not in set(part.reading)
    missing = f"; primary reading not measured: {claim.primary}" if unmeasured else ""
    return "; ".join(texts) + f" (n={int(part['n seeds'].iloc[0])}{condition}{missing})"


def _primary_measure(claim: Claim, part: pd.DataFrame) -> str:
    """The reading the verdict follows, alone (every reading for :data:`EVERY_READING`), and how many
    others the full table shows: the README's short form."""
    if claim.primary in (None, EVERY_READING):
        return _describe(claim, part)
    if claim.primary not in set(part.reading):
        return f"{claim.primary}: not measured yet ({len(part)} other readings)"
    others = len(part) - 1
    return _describe(claim, part.iloc[:1]) + (f" +{others} other reading{'s' * (others > 1)}" if others else "")


def _rule_text(claim: Claim) -> str:
    if claim.statistic == "constant":
        return "by construction: no interval"
    if claim.magnitude is not None:
        low, high = magnitude_band(claim)
        # no apostrophe: the book's smart quotes would change it
        text = f"within [{low:g}, {high:g}] (×/÷ {MAGNITUDE_FACTOR:g} around the paper); no effect {claim.null:g}"
    elif claim.direction == "within":
        text = f"within {claim.threshold:g} ± {claim.margin:g}"
    else:
        sign = ">" if claim.direction == "greater" else "<"
        edge = claim.threshold - claim.margin if claim.direction == "greater" else claim.threshold + claim.margin
        text = f"{sign} {edge:g}" + ("" if claim.null is None or claim.null == claim.threshold
                                     else f"; no effect {claim.null:g}")
    text += "; exact interval of a count" if claim.statistic == "count" else ""
    return text + (f"; only if {claim.condition} in every seed" if claim.condition else "")


def collect(folder: Path | None = None, dataset: str | None = None, variant: str | None = None,
            scales: dict | None = None) -> pd.DataFrame:
    """The claims table of every seed present (of ``dataset`` and ``variant``: see
    :func:`collect_rows`), with the scale each notebook ran at (``scales``: notebook number -> scale, as
    the figure registry records it; a notebook without one is ``unregistered``)."""
    folder = Path(folder) if folder is not None else paths.FIGURES
    rows = collect_rows(folder, dataset, variant)
    table = claim_table(rows)
    numbers = {c: f[:2] for c, f in rows.groupby("id").file.first().items()}
    table["notebook"] = table.id.map(numbers)
    table["scale"] = [(scales or {}).get(n, "unregistered") for n in table.notebook]
    return table


def with_variant(table: pd.DataFrame, variant_rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """``table`` (:func:`collect`) with a column ``column``: each claim's verdict in a variant run,
    judged by the same rule; ``not rerun`` for the claims the variant has no rows of."""
    verdicts = claim_table(variant_rows).set_index("id").verdict
    return table.assign(**{column: table.id.map(verdicts).fillna("not rerun")})


def published_table(folder: Path | None = None, scales: dict | None = None,
                    notebooks: tuple[str, ...] = CLAIM_NOTEBOOKS, datasets: tuple[str, ...] = (SECOND_DATASET,)
                    ) -> pd.DataFrame:
    """The table of README.md and notebook 08: :func:`collect`, plus the verdict against the
    strong attacker (:data:`STRONG_COLUMN`) once ``make claims-strong`` has all its seeds, and each
    of ``datasets`` once its run has rows of every one of ``notebooks`` on enough seeds
    (:func:`with_dataset`)."""
    table = collect(folder, scales=scales)
    strong = complete_variant_rows(STRONG_VARIANT, folder, STRONG_NOTEBOOKS)
    table = table if strong is None else with_variant(table, strong, STRONG_COLUMN)
    for dataset in datasets:
        rows = complete_run_rows(folder, notebooks, dataset=dataset)
        table = table if rows is None else with_dataset(table, rows, dataset)
    return table


DIFFERS = " (differs)"


def with_dataset(table: pd.DataFrame, rows: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """``table`` with a column ``dataset``: each claim's verdict on that dataset's rows, marked
    :data:`DIFFERS` where it is not the default dataset's; ``not run`` for claims without rows."""
    verdicts = claim_table(rows).set_index("id").verdict
    column = [("not run" if pd.isna(v) else v + (DIFFERS if v != ours else "")) for v, ours in
              zip(table.id.map(verdicts), table.verdict)]
    return table.assign(**{dataset: column})


TABLE_COLUMNS = ["source", "claim", "paper says", "we measure", "rule", "scale", "verdict"]


def markdown_table(table: pd.DataFrame, columns: list[str] | None = None) -> str:
    """``table`` as Markdown: ``columns`` (default :data:`TABLE_COLUMNS`), then the strong
    attacker's and the second dataset's verdicts when the table has them."""
    columns = list(columns or TABLE_COLUMNS)
    columns += [c for c in (STRONG_COLUMN, SECOND_DATASET) if c in table.columns]
    cell = lambda value: str(value).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for _, row in table.iterrows()]
    return "\n".join(lines)
