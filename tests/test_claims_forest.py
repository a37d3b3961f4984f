"""The claims as a forest plot (helpers/claims/forest.py): one row per claim reading with the rule's
interval and verdict, on hand-made rows; the published figure's CSV against the published table."""
import math

import matplotlib
import pandas as pd
import pytest

from helpers import claims
from helpers.claims import forest
from helpers.core import paths

matplotlib.use("agg")


def hand_made_rows() -> pd.DataFrame:
    """gpz.split_gain (a ratio, greater than 4) in two readings and sift.accuracy_loss (a bound),
    three seeds each; the values are chosen, the verdicts follow from the rule."""
    rows = [claims.record("gpz.split_gain", s, v, reading="vgg") for s, v in enumerate([30.0, 40.0, 50.0])]
    rows += [claims.record("gpz.split_gain", s, v, reading="resnet") for s, v in enumerate([0.5, 2.0, 8.0])]
    rows += [claims.record("sift.accuracy_loss", s, v) for s, v in enumerate([0.5, 1.0, 1.5])]
    return claims.rows_frame(rows)


def test_one_row_per_reading_with_the_rules_interval_and_verdict():
    table = forest.reading_table(hand_made_rows())
    assert list(zip(table.id, table.reading)) == [("gpz.split_gain", "vgg"), ("gpz.split_gain", "resnet"),
                                                  ("sift.accuracy_loss", "")]
    vgg = table.iloc[0]
    mean, low, high, n = claims.t_interval([30.0, 40.0, 50.0], log=True)
    assert (vgg["mean"], vgg["low"], vgg["high"], vgg["n seeds"]) == (mean, low, high, n)
    assert math.isclose(vgg["mean"], (30 * 40 * 50) ** (1 / 3))   # a ratio: the geometric mean
    assert list(table.verdict) == ["reproduced", "inconclusive", "reproduced"]
    assert list(table.log) == [True, True, False] and list(table.threshold) == [4.0, 4.0, 3.0]
    assert table.null.iloc[0] == 1.0 and pd.isna(table.null.iloc[2])   # a bound has no "no effect"


def test_the_strong_attackers_reading_sits_beside_ours_and_is_nan_where_it_was_not_run():
    strong = claims.rows_frame([claims.record("sift.accuracy_loss", s, v) for s, v in enumerate([6.0, 7.0, 8.0])])
    table = forest.reading_table(hand_made_rows(), strong)
    loss = table[table.id == "sift.accuracy_loss"].iloc[0]
    assert loss["verdict strong attacker"] == "not reproduced" and loss["mean strong attacker"] == 7.0
    assert table[table.id == "gpz.split_gain"]["mean strong attacker"].isna().all()


def test_the_plot_draws_each_reading_on_its_own_axis_with_its_verdict():
    table = forest.reading_table(hand_made_rows())
    fig = forest.forest_plot({"mnist5k": table, "fashion-mnist": table.iloc[:2]})
    drawn = [ax for ax in fig.axes if ax.axison]
    assert len(drawn) == 3 + 2, "one axis per reading and panel"
    assert [ax.get_xscale() for ax in drawn] == ["log"] * 4 + ["linear"]   # row by row, panel by panel
    labels = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert labels.count("reproduced") == 3 and labels.count("inconclusive") == 2
    assert sum("accuracy loss" in label for label in labels) == 1, "one label per row, not per panel"
    vgg = drawn[0]
    assert vgg.get_xlim()[0] < 4.0 < vgg.get_xlim()[1], "the threshold is on the axis"


def test_the_claims_labels_end_before_their_axes_with_two_panels():
    """A second dataset's panel must not squeeze the claims' labels under the first panel's axes."""
    table = forest.reading_table(hand_made_rows())
    for panels in ({"mnist5k": table}, {"mnist5k": table, "fashion-mnist": table}):
        fig = forest.forest_plot(panels)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        plotted = [ax for ax in fig.axes if ax.axison]
        first_axis = min(ax.get_window_extent().x0 for ax in plotted)
        labels = [t for ax in fig.axes if not ax.axison for t in ax.texts if ": " in t.get_text()]
        assert labels and max(t.get_window_extent(renderer).x1 for t in labels) < first_axis, list(panels)


def test_panels_frame_puts_the_dataset_first():
    table = forest.reading_table(hand_made_rows())
    frame = forest.panels_frame({"mnist5k": table, "fashion-mnist": table})
    assert list(frame.columns[:3]) == ["dataset", "id", "reading"] and list(frame.dataset.unique()) == [
        "mnist5k", "fashion-mnist"]


@pytest.mark.skipif(not (paths.FIGURES / "08_claims.csv").exists(), reason="no published claims figure")
def test_the_published_plot_has_every_reading_of_the_table_with_its_interval_and_verdict():
    """figures/08_claims.csv (the forest plot's data) against the claim rows it was drawn from and
    against the published table (figures/08_claims_table.csv)."""
    plotted = pd.read_csv(paths.FIGURES / "08_claims.csv", dtype={"reading": str}).fillna({"reading": ""})
    ours = plotted[plotted.dataset == claims.DEFAULT_DATASET].set_index(["id", "reading"])
    judged = claims.judge(claims.collect_rows(paths.FIGURES)).set_index(["id", "reading"])
    assert sorted(ours.index) == sorted(judged.index)
    for column in ("mean", "low", "high"):
        assert all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
                   for a, b in zip(ours[column], judged.loc[ours.index, column])), column   # NaN: no interval
    assert list(ours.verdict) == list(judged.loc[ours.index, "verdict"])
    table = pd.read_csv(paths.FIGURES / "08_claims_table.csv")
    for claim_id, detail in zip(table.id, table.detail):
        for part in detail.split("; "):
            reading, verdict = part.rsplit(": ", 1)
            assert ours.loc[(claim_id, "" if reading == "value" else reading), "verdict"] == verdict, part


def test_a_reading_of_bounds_says_so_under_its_claim():
    """patrol.depth over an edge inverted below the floor: every seed a lower bound, drawn as a point
    with "at least" under the claim; an exact reading gets no such note."""
    rows = [claims.record("patrol.depth", s, v, bound="≥", condition_met=True) for s, v in enumerate([72.0, 191.0, 128.0])]
    rows += [claims.record("sift.accuracy_loss", s, v) for s, v in enumerate([0.5, 1.0, 1.5])]
    table = forest.reading_table(claims.rows_frame(rows))
    bounds = dict(zip(table.id, table.bound))
    assert bounds == {"patrol.depth": "≥", "sift.accuracy_loss": ""}
    assert table.set_index("id").verdict["patrol.depth"] == "reproduced"   # lower bounds keep it
    fig = forest.forest_plot({"mnist5k": table})
    labels = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sum(label.startswith("(at least") for label in labels) == 1
