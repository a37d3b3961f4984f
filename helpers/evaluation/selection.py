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


def first_within_budget(reference: float, candidates: Iterable, accuracy: Callable[[object], float],
                        budget: float) -> tuple[object, bool]:
    """The first candidate whose ``accuracy`` is at most ``budget`` below ``reference``, and True; when
    none is, the last one tried and False (its condition then fails, reported, never dropped).
    Candidates are taken lazily: later ones (classifiers to train) are built only if needed."""
    check_range("budget", budget, 0.0)
    chosen = None
    for chosen in candidates:
        if accuracy(chosen) >= reference - budget - ROUNDING:
            return chosen, True
    if chosen is None:
        raise ValueError("no candidate to hold to the accuracy budget")
    return chosen, False


def siftfunnel_ladder(setting: dict, widths: Iterable[int]) -> list[Defense]:
    """SiftFunnel at ``setting`` (its loss weights) with each funnel width in turn, narrowest first."""
    from ..defenses import from_config

    return [from_config({"defense": "siftfunnel", **setting, "channels": int(width)}) for width in widths]


def tuned_to_budget(reference_accuracy: float, ladder: list[Defense], train: Callable[[Defense], object],
                    accuracy_budget: float) -> tuple[Defense, bool, pd.DataFrame]:
    """The first defense of ``ladder`` whose classifier (``train(defense)``, e.g. cached training)
    loses at most ``accuracy_budget`` of validation accuracy against ``reference_accuracy``: (that
    defense, whether it met the budget, a table of every candidate tried, what the choice cost)."""
    tried = []

    def candidates():
        for defense in ladder:
            trained = train(defense)
            tried.append({"label": label(defense), "val_accuracy": trained.val_accuracy,
                          "val loss (points)": 100 * (reference_accuracy - trained.val_accuracy)})
            yield defense, trained

    (chosen, _), met = first_within_budget(reference_accuracy, candidates(), lambda pair: pair[1].val_accuracy,
                                           accuracy_budget)
    table = pd.DataFrame(tried)
    return chosen, met, table.assign(chosen=table.label == label(chosen))


def with_siftfunnel_tuned(grid: list[Defense], widths, reference_accuracy: float, train: Callable[[Defense], object],
                          accuracy_budget: float) -> tuple[list[Defense], pd.DataFrame | None]:
    """``grid`` with its SiftFunnel held to the accuracy budget (notebooks 04 and 07): the last
    SiftFunnel setting of the grid widened through ``widths`` (:func:`tuned_to_budget`) replaces
    every SiftFunnel entry. The grid unchanged, and no table, without SiftFunnel or with one width."""
    settings = [d.params() for d in grid if d.name == "siftfunnel"]
    if not settings or len(list(widths)) < 2:
        return grid, None
    ladder = siftfunnel_ladder(settings[-1], widths)
    chosen, _, table = tuned_to_budget(reference_accuracy, ladder, train, accuracy_budget)
    last = max(i for i, d in enumerate(grid) if d.name == "siftfunnel")   # the chosen one takes its place
    return [chosen if i == last else d for i, d in enumerate(grid) if d.name != "siftfunnel" or i == last], table


def paired_loss_interval(reference_correct, candidate_correct, level: float = 0.95) -> tuple[float, float, float]:
    """(loss, low, high) in points: how much accuracy a candidate loses against a reference on the
    same images (per-image correctness, 0/1), with the interval of a paired difference of
    proportions (normal approximation on the per-image differences). What a decision on a few
    hundred validation images can resolve: it is printed beside every budget and match."""
    from scipy.stats import norm

    a = pd.Series(reference_correct, dtype=float).to_numpy()
    b = pd.Series(candidate_correct, dtype=float).to_numpy()
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"need two correctness vectors over the same >= 2 images, got {a.shape} and {b.shape}")
    difference = a - b
    loss = difference.mean()
    half = norm.ppf(0.5 + level / 2) * difference.std(ddof=1) / len(difference) ** 0.5
    return 100 * loss, 100 * (loss - half), 100 * (loss + half)


def validation_loss(base, splits, defense: Defense, cut: str, device: str = "auto") -> tuple[float, float, float]:
    """:func:`paired_loss_interval` of ``defense``'s classifier against the undefended one on the
    validation images (both trained and cached by :func:`~helpers.evaluation.defense_eval.train_defended`)."""
    from .defense_eval import train_defended, validation_correct

    reference = validation_correct(train_defended(base, splits, Defense(), cut, device), splits)
    return paired_loss_interval(reference, validation_correct(train_defended(base, splits, defense, cut, device), splits))


def siftfunnel_held_to_budget(base, splits, grid: list[Defense], widths, cut: str, accuracy_budget: float,
                              device: str = "auto") -> tuple[list[Defense], pd.DataFrame | None, str]:
    """Notebooks 04 and 07: ``grid`` with SiftFunnel widened until it keeps ``accuracy_budget`` of the
    undefended model's validation accuracy (:func:`with_siftfunnel_tuned`, every classifier trained
    once and cached), the candidates tried, and a line saying what was kept and what the decision
    resolves (:func:`validation_loss`'s paired interval); the grid as given, no table and "" without
    SiftFunnel or with one width."""
    from .defense_eval import train_defended

    reference = train_defended(base, splits, Defense(), cut, device).val_accuracy
    grid, table = with_siftfunnel_tuned(grid, widths, reference, lambda d: train_defended(base, splits, d, cut, device),
                                        accuracy_budget)
    if table is None:
        return grid, None, ""
    loss, low, high = validation_loss(base, splits, next(d for d in grid if d.name == "siftfunnel"), cut, device)
    return grid, table, (f"SiftFunnel kept: {table[table.chosen].label.item()}, {loss:.1f} points below the undefended "
                         f"validation accuracy (paired 95% interval [{low:.1f}, {high:.1f}] on {base.n_val} images)")
