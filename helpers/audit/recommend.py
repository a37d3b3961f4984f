"""Which cut to deploy: the audit's rule, applied to its per-cut table.

The rule: among the cuts whose edge costs at most the budget (edge FLOPs per image), the shallowest
whose worst-case attack MSE (the mean over seeds) reaches the class-mean reference's, i.e. where the
strongest attack evaluated reconstructs no better than an attacker who outputs the average image of
the right class. If no cut within the budget qualifies, none is recommended and the verdict says
which cut within the budget came closest (the highest worst-case MSE relative to the reference).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..core.config import check_range

COLUMNS = ("cut", "edge_MFLOPs", "worst_mse", "class_mean_mse")


@dataclass(frozen=True)
class Recommendation:
    cut: str | None          # None: no cut within the budget qualifies
    closest: str | None      # the cut within the budget with the highest worst-case MSE / reference
    within_budget: list      # the cuts the budget allows, shallowest first
    text: str                # the verdict in one sentence, numbers from the table


def recommend_cut(table: pd.DataFrame, max_edge_mflops: float | None = None) -> Recommendation:
    """Apply the rule to ``table`` (one row per cut, shallowest first; :data:`COLUMNS`)."""
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"the per-cut table lacks columns {missing}; it needs {list(COLUMNS)}")
    if max_edge_mflops is not None:
        check_range("max_edge_mflops", max_edge_mflops, 0.0, low_inclusive=False)
    allowed = table if max_edge_mflops is None else table[table.edge_MFLOPs <= max_edge_mflops]
    budget = "" if max_edge_mflops is None else f" within {max_edge_mflops:g} MFLOPs"
    if allowed.empty:
        cheapest = table.loc[table.edge_MFLOPs.idxmin()]
        return Recommendation(None, None, [], f"no cut fits the edge budget{budget}: the cheapest, "
                                                f"{cheapest.cut}, costs {cheapest.edge_MFLOPs:.3g} MFLOPs")
    ratio = allowed.worst_mse / allowed.class_mean_mse
    closest = allowed.cut[ratio.idxmax()]
    qualified = allowed[ratio >= 1.0]
    if qualified.empty:
        return Recommendation(None, closest, list(allowed.cut),
                              f"no cut{budget} is private by this rule: the closest, {closest}, is reconstructed "
                              f"with {ratio.max():.2f}× the class-mean reference's MSE (1 or more is needed)")
    chosen = qualified.iloc[0]
    return Recommendation(chosen.cut, closest, list(allowed.cut),
                          f"{chosen.cut}: the shallowest cut{budget} whose worst-case attack MSE "
                          f"({chosen.worst_mse:.4g}) reaches the class-mean reference's ({chosen.class_mean_mse:.4g}); "
                          f"its edge costs {chosen.edge_MFLOPs:.3g} MFLOPs")
