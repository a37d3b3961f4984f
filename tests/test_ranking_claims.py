"""Pareto front and ranking (notebook 07); the claims engine is tested in test_claims.py."""
import numpy as np
import pandas as pd
import pytest

from helpers.evaluation.ranking import pareto_front, ranked_table


def test_pareto_front_hand_computed():
    # (accuracy, mse): b dominates a; c trades accuracy for privacy; d is dominated by c; e ties b exactly
    u = [0.90, 0.95, 0.80, 0.79, 0.95]
    p = [0.01, 0.02, 0.05, 0.04, 0.02]
    assert pareto_front(u, p).tolist() == [False, True, True, False, True]


def test_pareto_front_is_invariant_to_order_and_monotone_rescaling():
    rng = np.random.default_rng(0)
    u, p = rng.random(30), rng.random(30)
    mask = pareto_front(u, p)
    order = rng.permutation(30)
    assert (pareto_front(u[order], p[order]) == mask[order]).all()
    assert (pareto_front(np.exp(u), np.log(p)) == mask).all()
    # on the front, privacy decreases strictly as utility increases
    front = np.argsort(u[mask])
    assert (np.diff(p[mask][front]) < 0).all()


def test_pareto_front_rejects_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        pareto_front([1, 2], [1])
    with pytest.raises(ValueError, match="NaN"):
        pareto_front([1, float("nan")], [1, 2])


def results():
    return pd.DataFrame({"label": ["none", "a", "b", "c"], "accuracy": [0.98, 0.97, 0.90, 0.96],
                         "mse_best": [0.001, 0.004, 0.05, 0.002]})


def test_ranked_table_puts_utility_keepers_first_by_privacy():
    table = ranked_table(results(), "none", accuracy_budget=0.03)
    assert table.label.tolist() == ["a", "c", "none", "b"]
    assert table["rank"].tolist() == [1, 2, 3, 4]
    assert table["keeps utility"].tolist() == [True, True, True, False]
    assert table.set_index("label")["privacy vs none"].to_dict() == pytest.approx(
        {"none": 1.0, "a": 4.0, "b": 50.0, "c": 2.0})
    assert table.set_index("label").pareto.to_dict() == {"none": True, "a": True, "b": True, "c": False}


def test_ranked_table_rejects_bad_arguments():
    with pytest.raises(ValueError, match="no row labelled"):
        ranked_table(results(), "missing", 0.03)
    with pytest.raises(ValueError, match="non-negative"):
        ranked_table(results(), "none", -0.1)


def test_budget_can_be_checked_on_another_accuracy_column():
    frame = pd.DataFrame({"label": ["none", "a", "b"], "accuracy": [0.97, 0.96, 0.90],
                          "val_accuracy": [0.96, 0.90, 0.95], "mse_best": [0.01, 0.02, 0.03]})
    on_test = ranked_table(frame, "none", 0.03).set_index("label")["keeps utility"]
    on_val = ranked_table(frame, "none", 0.03, budget_on="val_accuracy").set_index("label")["keeps utility"]
    assert on_test.to_dict() == {"none": True, "a": True, "b": False}
    assert on_val.to_dict() == {"none": True, "a": False, "b": True}


def test_most_private_is_chosen_on_the_selection_column_not_the_scored_one():
    import pandas as pd

    from helpers.evaluation.ranking import most_private

    rows = pd.DataFrame({"label": ["a", "b", "c"], "mse_best": [0.9, 0.5, 0.1], "val_mse_best": [0.2, 0.6, 0.3]})
    assert most_private(rows).label == "b"            # not "a", the maximum of the scored MSE
    assert most_private(rows, "mse_best").label == "a"
    with pytest.raises(ValueError, match="no rows"):
        most_private(rows.iloc[:0])
    with pytest.raises(ValueError, match="missing for \\['c'\\]"):
        most_private(rows.assign(val_mse_best=[0.2, 0.6, float("nan")]))
def test_the_strong_attacker_can_reorder_the_ranking_and_the_front():
    from helpers.evaluation.ranking import attacker_change
    # b is the most private against the standard attacks, but the prior attacks invert it (0.2 -> 0.02)
    results = pd.DataFrame({"label": ["none", "a", "b"], "defense": ["none", "noise", "bottleneck"],
                            "accuracy": [0.98, 0.97, 0.96], "mse_best_standard": [0.01, 0.05, 0.2],
                            "mse_best": [0.01, 0.04, 0.02], "best_attack": ["hybrid", "diffusion", "diffusion"],
                            "tuning": ["", "", ""]})
    change = attacker_change(results, "none", 0.03).set_index("label")
    assert change.loc["b", "rank standard"] == 1 and change.loc["b", "rank strong"] == 2
    assert change.loc["a", "rank strong"] == 1
    assert change.loc["b", "strong / standard"] == pytest.approx(0.1)
    assert change["pareto standard"].to_dict() == {"a": True, "b": True, "none": True}
    assert change["pareto strong"].to_dict() == {"a": True, "b": False, "none": True}   # a now dominates b
