"""The claim helpers the notebooks call, on hand-made inputs: accuracy matching (05), the best
baseline within a budget (04), CEM's base rows (07), the shared grids, the GPZ transition (02)."""
import math

import pandas as pd
import pytest

from helpers.defenses import Defense, from_config
from helpers.evaluation.defense_eval import defense_grid, label
from helpers.evaluation.gpz import at_boundary, level_cuts, transition_levels
from helpers.evaluation.grids import CEM_PLUGIN, DEFENSE_GRID, benchmark_grid, cem_setting
from helpers.evaluation.ranking import keeps_utility
from helpers.evaluation.selection import best_baseline, cem_base_pairs, first_matched
from helpers.models import build_model
from helpers.theory.radius import golden_partition_zone, zone_cuts


def test_first_matched_takes_the_first_within_tolerance_and_builds_no_more():
    built = []

    def candidates():
        for accuracy in (0.90, 0.945, 0.95):
            built.append(accuracy)
            yield accuracy

    chosen, matched = first_matched(0.955, candidates(), lambda a: a, tolerance=0.01)
    assert (chosen, matched) == (0.945, True) and built == [0.90, 0.945]  # the third was never built
    # a difference equal to the tolerance matches whatever its float rounding (0.96 - 0.95 > 0.01 in floats)
    assert 0.96 - 0.95 > 0.01 and first_matched(0.95, [0.96], lambda a: a, 0.01) == (0.96, True)
    assert first_matched(0.95, [0.80, 0.85], lambda a: a, 0.01) == (0.85, False)  # the last tried, unmatched
    with pytest.raises(ValueError, match="no candidate"):
        first_matched(0.95, [], lambda a: a, 0.01)
    with pytest.raises(ValueError, match="tolerance"):
        first_matched(0.95, [0.95], lambda a: a, -0.01)


def results_table():
    """Five defenses: val accuracy, test accuracy and the worst-case MSE on validation and test images."""
    return pd.DataFrame({
        "defense": ["none", "noise", "noise", "dropout", "siftfunnel"],
        "label": ["none @ pool2", "noise", "noise sigma=1.5", "dropout", "siftfunnel"],
        "val_accuracy": [0.95, 0.93, 0.90, 0.925, 0.94],
        "val_mse_best": [0.01, 0.02, 0.09, 0.03, 0.05],
        "mse_best": [0.011, 0.021, 0.08, 0.019, 0.06]})


def test_best_baseline_keeps_the_budget_on_validation_and_chooses_on_validation_images():
    results = results_table()
    assert list(keeps_utility(results, results.iloc[0], 0.03)) == [True, True, False, True, True]
    best = best_baseline(results, 0.03, exclude=("none", "siftfunnel"))
    # noise σ=1.5 is the most private but loses 5 points; of the rest dropout wins on validation MSE
    # (0.03 > 0.02) although its test MSE is the lower one: test images never choose
    assert best.label == "dropout"
    assert best_baseline(results, 0.0, exclude=("none", "siftfunnel")) is None
    assert best_baseline(results, 0.1, exclude=("none",)).label == "noise sigma=1.5"
    assert best_baseline(results, 0.03, reference="siftfunnel", exclude=()).label == "siftfunnel"


def test_cem_base_pairs_by_configuration_not_by_parsing_a_label():
    grid = [Defense()] + defense_grid(benchmark_grid())
    cem_rows = [d for d in grid if d.name == "cem"]
    assert [label(d.base) for d in cem_rows] == ["noise sigma=0.5", "noise sigma=0.5 + bottleneck channels=8"]
    rows = pd.DataFrame({"defense": [d.name for d in grid],
                         "label": ["none @ pool2" if type(d) is Defense else label(d) for d in grid],
                         "mse_best": [float(i) for i in range(len(grid))]})
    pairs = cem_base_pairs(rows, grid)
    assert [(p.label, b.label) for p, b in pairs] == [(label(d), label(d.base)) for d in cem_rows]
    assert all(b.mse_best == rows.set_index("label").mse_best[label(d.base)] for (_, b), d in zip(pairs, cem_rows))
    with pytest.raises(ValueError, match="no row for its base 'noise sigma=0.5'"):
        cem_base_pairs(rows[rows.label != "noise sigma=0.5"], grid)
    with pytest.raises(ValueError, match="not a plug-in of the grid"):
        cem_base_pairs(rows, [d for d in grid if d.name != "cem"])


def test_grids_are_defined_once_and_reproduce_the_notebooks_literals():
    stack = {"parts": [{"defense": "noise", "sigma": 0.5}, {"defense": "bottleneck", "channels": 8}]}
    literal_07 = {**DEFENSE_GRID, "stack": [stack],
                  "cem": [{"base": {"defense": "noise", "sigma": 0.5}, "weight": 8.0, "k": 5, "tau": 0.125, "ramp": True,
                           "blend_size": 50_000},
                          {"base": {"defense": "stack", **stack}, "weight": 8.0, "k": 5, "tau": 0.125, "ramp": True,
                           "blend_size": 50_000}]}
    # the same defenses, configurations and order as notebook 07's former literal grid (cache keys unchanged),
    # CEM at the paper's effective strength (its variance blend as at CIFAR-10's 50,000 images)
    assert [d.config() for d in defense_grid(benchmark_grid())] == [d.config() for d in defense_grid(literal_07)]
    assert list(benchmark_grid())[:len(DEFENSE_GRID)] == list(DEFENSE_GRID)
    smoke = benchmark_grid(scale="smoke")
    assert smoke == {"noise": [{"sigma": 0.5}], "bottleneck": [{"channels": 4}], "siftfunnel": [{"channels": 8}],
                     "stack": benchmark_grid()["stack"], "cem": benchmark_grid()["cem"]}, "one baseline of each kind"
    assert benchmark_grid({"dropout": [{"rate": 0.5}]}, scale="smoke")["dropout"] == [{"rate": 0.5}], "a grid given"
    cem = from_config({"defense": "cem", "base": {"defense": "noise", "sigma": 0.5}, **cem_setting()})
    assert (cem.weight, cem.k, cem.tau, cem.ramp) == (8.0, 5, 0.125, True)
    assert cem_setting({"weight": 2.0}) == {**CEM_PLUGIN, "weight": 2.0} and cem_setting({}) == CEM_PLUGIN
    assert cem_setting() is not CEM_PLUGIN  # a copy: a notebook cannot change the shared setting
    with pytest.raises(ValueError, match="cem must be a dict"):
        cem_setting([8.0])


def test_transition_levels_on_the_vgg_cuts():
    vgg = build_model("vgg")
    cuts = ["pool1", "pool2", "pool3", "fc1", "logits"]
    assert level_cuts(vgg, cuts) == ("pool3", "fc1")
    assert level_cuts(vgg, ["relu1", "fc1"]) == ("relu1", "fc1")
    with pytest.raises(ValueError, match="do not span"):
        level_cuts(vgg, ["pool1", "pool2"])
    with pytest.raises(ValueError, match="not cut points"):
        level_cuts(vgg, ["pool1", "block9"])
    rows = pd.DataFrame({"cut": cuts, "mse": [0.01, 0.02, 0.04, 0.05, 0.06],
                         "mse_vs_class_mean": [0.1, 0.2, 0.4, 0.5, 0.6]})
    levels = transition_levels(rows, vgg, "pool3..fc1")
    assert levels["GPZ cut"] == "pool3" and levels["MSE GPZ / shallowest"] == pytest.approx(4.0)
    assert levels["decision vs feature (%)"] == pytest.approx(25.0) and levels["MSE GPZ / class-mean"] == 0.4
    assert at_boundary("pool3..fc1", "pool3", "fc1") and at_boundary("fc1", "pool3", "fc1")
    assert not at_boundary("pool2..fc1", "pool3", "fc1")


def test_zone_text_round_trips():
    single = golden_partition_zone(list("abcd"), [1.0, 0.9, 0.2, 0.19])
    assert single.text == "c" and zone_cuts(single.text) == ["c"]
    zone = golden_partition_zone(list("abcde"), [1.0, 0.5, 0.3, 0.29, 0.05])
    assert zone.text == "b..e" and zone_cuts(zone.text) == ["b", "e"]
    assert math.isclose(zone.drops["e"], (0.29 - 0.05) / 0.29)  # a drop of 0.4 into c lies between the two largest


def test_the_first_candidate_within_the_budget_is_kept_and_later_ones_are_never_built():
    from helpers.evaluation.selection import first_within_budget

    built = []

    def candidates(accuracies):
        for value in accuracies:
            built.append(value)
            yield value

    assert first_within_budget(0.96, candidates([0.88, 0.93, 0.95]), float, 0.03) == (0.93, True)
    assert built == [0.88, 0.93], "0.95 was never trained"
    assert first_within_budget(0.96, iter([0.90, 0.92]), float, 0.03) == (0.92, False)   # the last tried, unmet
    assert first_within_budget(0.96, iter([0.93]), float, 0.03) == (0.93, True), "exactly at the budget counts"
    with pytest.raises(ValueError, match="no candidate"):
        first_within_budget(0.96, iter([]), float, 0.03)


def test_siftfunnel_is_widened_until_it_keeps_the_budget_and_the_cost_is_tabled():
    from types import SimpleNamespace

    from helpers.evaluation.selection import siftfunnel_ladder, tuned_to_budget

    ladder = siftfunnel_ladder({"channels": 8, "beta": 2.0}, [8, 16, 32])
    assert [d.channels for d in ladder] == [8, 16, 32] and all(d.beta == 2.0 for d in ladder)
    accuracy = {8: 0.88, 16: 0.948, 32: 0.944}   # seed 0 of the quick run: the undefended model 0.968
    chosen, met, table = tuned_to_budget(0.968, ladder, lambda d: SimpleNamespace(val_accuracy=accuracy[d.channels]),
                                         0.03)
    assert chosen.channels == 16 and met
    assert list(table.label) == ["siftfunnel", "siftfunnel channels=16"]   # labels name what differs from the defaults
    assert table["val loss (points)"].tolist() == pytest.approx([8.8, 2.0]) and table.chosen.tolist() == [False, True]


def test_a_grid_gets_its_tuned_siftfunnel_in_place_and_is_unchanged_without_one():
    from types import SimpleNamespace

    from helpers.defenses import Defense, from_config
    from helpers.evaluation.selection import with_siftfunnel_tuned

    noise, sift = from_config({"defense": "noise", "sigma": 0.5}), from_config({"defense": "siftfunnel"})
    train = lambda d: SimpleNamespace(val_accuracy={8: 0.90, 16: 0.95}[d.channels])  # noqa: E731
    grid, table = with_siftfunnel_tuned([Defense(), sift, noise], [8, 16], 0.96, train, 0.03)
    assert [d.name for d in grid] == ["none", "siftfunnel", "noise"] and grid[1].channels == 16 and len(table) == 2
    plain = [Defense(), noise]
    same, no_table = with_siftfunnel_tuned(plain, [8, 16], 0.96, train, 0.03)
    assert same is plain and no_table is None, "no SiftFunnel: nothing trained, nothing changed"
    unchanged, none = with_siftfunnel_tuned([Defense(), sift], [8], 0.96, train, 0.03)
    assert none is None and unchanged[1] is sift, "one width: the grid as given"


def test_a_paired_loss_interval_by_hand():
    from helpers.evaluation.selection import paired_loss_interval

    # 10 images: the reference right on all, the candidate wrong on 2: loss 20 points; the per-image
    # differences (eight 0s, two 1s) have sd sqrt(0.1778) = 0.4216, half-width 1.96·0.4216/√10 = 26.1 points
    loss, low, high = paired_loss_interval([1] * 10, [1] * 8 + [0] * 2)
    assert loss == pytest.approx(20.0) and high - loss == pytest.approx(26.13, abs=0.02) and low == pytest.approx(2 * loss - high)
    same = paired_loss_interval([1, 0, 1, 1], [1, 0, 1, 1])
    assert same == (0.0, 0.0, 0.0), "the same predictions: no difference, none possible"
    # the paired interval is narrower than treating the two accuracies as independent when errors coincide
    reference = [1] * 90 + [0] * 10
    candidate = [1] * 88 + [0] * 12            # the same 10 errors, two more
    _, low, high = paired_loss_interval(reference, candidate)
    independent = 1.96 * (0.9 * 0.1 / 100 + 0.88 * 0.12 / 100) ** 0.5 * 100
    assert (high - low) / 2 < independent
    with pytest.raises(ValueError, match="same"):
        paired_loss_interval([1, 0], [1, 0, 1])


def test_validation_correctness_matches_the_recorded_validation_accuracy():
    from helpers.data import load_dataset, split_dataset
    from helpers.defenses import Defense
    from helpers.evaluation.defense_eval import train_defended, validation_correct
    from helpers.training import TrainConfig

    base = TrainConfig(n_train=400, n_test=64, n_aux=64, n_val=64, epochs=1)
    splits = split_dataset(load_dataset("mnist5k"), **base.split_kwargs())
    trained = train_defended(base, splits, Defense(), "pool2", "cpu")
    correct = validation_correct(trained, splits)
    assert correct.shape == (64,) and correct.double().mean().item() == pytest.approx(trained.val_accuracy)
