"""Choices the claims rest on, made by rule and never on the scored images: the accuracy match of a
plug-in pair (05), the best baseline within an accuracy budget (04), each CEM plug-in's base row (07).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from ..core.config import check_range
from ..defenses import Defense
from .defense_eval import label
from .ranking import keeps_utility, most_private

# validation accuracies are fractions of a few hundred images: a difference equal to the tolerance
# must count as matched whatever its float rounding
ROUNDING = 1e-9


def first_matched(reference: float, candidates: Iterable, accuracy: Callable[[object], float],
                  tolerance: float) -> tuple[object, bool]:
    """The first candidate whose ``accuracy`` lies within ``tolerance`` of ``reference``, and True;
    when none does, the last one tried and False (reported as unmatched, never silently dropped).
    Candidates are taken lazily, so that later ones (e.g. classifiers to train) are built only if needed."""
    check_range("tolerance", tolerance, 0.0)
    chosen = None
    for chosen in candidates:
        if abs(accuracy(chosen) - reference) <= tolerance + ROUNDING:
            return chosen, True
    if chosen is None:
        raise ValueError("no candidate to match the accuracy of")
    return chosen, False


def best_baseline(results: pd.DataFrame, accuracy_budget: float, exclude=("none",),
                  reference: str | None = None) -> pd.Series | None:
    """The most private row (:func:`~helpers.evaluation.ranking.most_private`: on the validation
    images' attacks) among those that keep utility on validation accuracy and whose defense is not in
    ``exclude``; None when none does. ``reference``: the label of the undefended row (default: the first)."""
    base = results.iloc[0] if reference is None else results.set_index("label").loc[reference]
    usable = results[~results.defense.isin(list(exclude)) & keeps_utility(results, base, accuracy_budget)]
    return most_private(usable) if len(usable) else None


def cem_base_pairs(results: pd.DataFrame, grid: Iterable[Defense]) -> list[tuple[pd.Series, pd.Series]]:
    """(CEM row, its base defense's row) for every CEM row of ``results``, in their order, the base
    found by the label of the plug-in's base configuration in ``grid`` (never by parsing a label;
    an error names a plug-in or base that is missing)."""
    plug_ins = {label(defense): defense for defense in grid if defense.name == "cem"}
    pairs = []
    for _, row in results[results.defense == "cem"].iterrows():
        if row.label not in plug_ins:
            raise ValueError(f"the CEM row {row.label!r} is not a plug-in of the grid")
        base = label(plug_ins[row.label].base)
        base_rows = results[results.label == base]
        if base_rows.empty:
            raise ValueError(f"the CEM plug-in {row.label!r} has no row for its base {base!r}: add it to the grid")
        pairs.append((row, base_rows.iloc[0]))
    return pairs
