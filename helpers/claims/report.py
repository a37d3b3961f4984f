"""The claims table as published: each claim with the paper's side, ours and the verdict (:func:`claim_table`,
:func:`collect`, :func:`published_table`), and its markdown."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..core import paths
from .registry import CLAIMS, STRONG_COLUMN, STRONG_NOTEBOOKS, STRONG_VARIANT, Claim
from .rule import judge
from .store import collect_rows, complete_variant_rows


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
    interval) and the verdict; a claim whose readings disagree is ``qualified``."""
    judged = judge(rows)
    columns = ["id", "source", "claim", "paper says", "we measure", "rule", "n seeds", "verdict", "detail"]
    if judged.empty:   # e.g. a smoke run in which no base qualified
        return pd.DataFrame(columns=columns)
    table = []
    for claim_id in [c for c in CLAIMS if c in set(judged.id)]:
        claim, part = CLAIMS[claim_id], judged[judged.id == claim_id]
        verdicts = list(dict.fromkeys(part.verdict))
        overall = verdicts[0] if len(verdicts) == 1 else "qualified"
        table.append({"id": claim_id, "source": claim.source, "claim": claim.statement,
                      "paper says": claim.paper_value, "we measure": _describe(claim, part),
                      "rule": _rule_text(claim), "n seeds": int(part["n seeds"].min()), "verdict": overall,
                      "detail": "; ".join(f"{r.reading or 'value'}: {r.verdict}" for r in part.itertuples())})
    return pd.DataFrame(table, columns=columns)


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "nan"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _describe(claim: Claim, part: pd.DataFrame) -> str:
    unit = "" if claim.unit in ("share", "ρ") else f" {claim.unit}"
    texts = []
    for r in part.itertuples():
        shown = f"{_fmt(r.mean)}{unit} [{_fmt(r.low)}, {_fmt(r.high)}]"
        texts.append(f"{r.reading} {shown}" if r.reading else shown)
    return "; ".join(texts) + f" (n={int(part['n seeds'].min())})"


def _rule_text(claim: Claim) -> str:
    if claim.direction == "within":
        return f"within {claim.threshold:g} ± {claim.margin:g}"
    sign = ">" if claim.direction == "greater" else "<"
    edge = claim.threshold - claim.margin if claim.direction == "greater" else claim.threshold + claim.margin
    return f"{sign} {edge:g}" + ("" if claim.null is None or claim.null == claim.threshold
                                 else f"; no effect {claim.null:g}")


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


def published_table(folder: Path | None = None, scales: dict | None = None) -> pd.DataFrame:
    """The table of README.md and notebook 08: :func:`collect`, plus the verdict against the
    strong attacker (:data:`STRONG_COLUMN`) once ``make claims-strong`` has all its seeds."""
    table = collect(folder, scales=scales)
    strong = complete_variant_rows(STRONG_VARIANT, folder, STRONG_NOTEBOOKS)
    return table if strong is None else with_variant(table, strong, STRONG_COLUMN)


TABLE_COLUMNS = ["source", "claim", "paper says", "we measure", "rule", "scale", "verdict"]


def markdown_table(table: pd.DataFrame, columns: list[str] | None = None) -> str:
    """``table`` as Markdown: ``columns`` (default :data:`TABLE_COLUMNS`), then the strong
    attacker's verdicts when the table has them."""
    columns = list(columns or TABLE_COLUMNS)
    columns += [STRONG_COLUMN] if STRONG_COLUMN in table.columns else []
    cell = lambda value: str(value).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for _, row in table.iterrows()]
    return "\n".join(lines)
