"""Comparing defenses on privacy, utility and edge cost (notebook 07).

A defense is *Pareto-optimal* when no other one is at least as accurate and at least as private
(worst-case attack MSE) with one of the two strictly better. The ranked table puts the defenses
that keep utility (accuracy within a budget of the undefended model) first, by privacy.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def pareto_front(utility, privacy) -> np.ndarray:
    """Boolean mask of the points that no other point dominates (higher is better for both)."""
    u, p = np.asarray(utility, dtype=float), np.asarray(privacy, dtype=float)
    if u.shape != p.shape or u.ndim != 1:
        raise ValueError(f"utility and privacy must be 1-D of one length, got {u.shape} and {p.shape}")
    if np.isnan(u).any() or np.isnan(p).any():
        raise ValueError("utility and privacy must not contain NaN")
    at_least = (u[None, :] >= u[:, None]) & (p[None, :] >= p[:, None])   # [i, j]: j is at least as good as i
    strictly = (u[None, :] > u[:, None]) | (p[None, :] > p[:, None])
    return ~(at_least & strictly).any(axis=1)


def keeps_utility(results: pd.DataFrame, reference: pd.Series, accuracy_budget: float,
                  column: str = "val_accuracy") -> pd.Series:
    """Rows whose ``column`` accuracy is at most ``accuracy_budget`` below the reference row's."""
    if accuracy_budget < 0:
        raise ValueError(f"accuracy_budget must be non-negative, got {accuracy_budget}")
    return results[column] >= reference[column] - accuracy_budget


def ranked_table(results: pd.DataFrame, reference: str, accuracy_budget: float,
                 utility: str = "accuracy", privacy: str = "mse_best", budget_on: str | None = None) -> pd.DataFrame:
    """``results`` (one row per defense, with a ``label`` column) ranked: first the defenses whose
    accuracy is within ``accuracy_budget`` of the ``reference`` row's, by privacy (highest first),
    then the others. Adds privacy relative to the reference, the Pareto flag and the rank.

    ``budget_on`` (default ``utility``) is the accuracy column the budget is checked on: the
    validation accuracy, so that which defenses keep utility is not decided on the scored images."""
    if accuracy_budget < 0:
        raise ValueError(f"accuracy_budget must be non-negative, got {accuracy_budget}")
    if reference not in set(results.label):
        raise ValueError(f"no row labelled {reference!r}")
    ref = results.set_index("label").loc[reference]
    table = results.copy()
    budget_on = budget_on or utility
    table["keeps utility"] = keeps_utility(table, ref, accuracy_budget, budget_on)
    table["privacy vs none"] = table[privacy] / ref[privacy]
    table["pareto"] = pareto_front(table[utility], table[privacy])
    table = table.sort_values(["keeps utility", privacy], ascending=[False, False], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def most_private(rows: pd.DataFrame, chosen_on: str = "val_mse_best") -> pd.Series:
    """The row with the highest worst-case MSE on the *selection* images (``chosen_on``; the
    classifiers' validation images, :func:`helpers.evaluation.defense_eval.evaluate_defense`). It is then
    reported with its test MSE: choosing it by the test MSE would report a maximum over noisy
    values of the very numbers compared."""
    if rows.empty:
        raise ValueError("no rows to choose from")
    values = rows[chosen_on]
    if values.isna().any():
        raise ValueError(f"{chosen_on} is missing for {list(rows.label[values.isna()])}: "
                         "evaluate the defenses with a validation split (TrainConfig.n_val)")
    return rows.loc[values.idxmax()]


def attacker_change(results: pd.DataFrame, reference: str, accuracy_budget: float,
                    budget_on: str | None = None) -> pd.DataFrame:
    """Per defense, the standard attacker (worst case over the listed attacks, ``mse_best_standard``)
    against the strong one (``mse_best``: prior and tuned attacks added; see
    :func:`helpers.evaluation.defense_eval.evaluate_defense`): both worst cases, their ratio, and each
    defense's rank and Pareto membership under each (:func:`ranked_table`), in the strong ranking's order."""
    before = ranked_table(results, reference, accuracy_budget, privacy="mse_best_standard", budget_on=budget_on)
    after = ranked_table(results, reference, accuracy_budget, privacy="mse_best", budget_on=budget_on)
    table = after[["label", "defense", "accuracy", "keeps utility", "rank", "pareto", "mse_best", "best_attack",
                   "tuning"]].merge(before[["label", "rank", "pareto", "mse_best_standard"]], on="label",
                                    suffixes=(" strong", " standard"))
    table["strong / standard"] = table.mse_best / table.mse_best_standard
    return table
