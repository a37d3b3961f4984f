import math

import numpy as np
import pandas as pd

from helpers.core.stats import mean_ci, summarize


def test_constant_values_have_a_degenerate_interval():
    assert mean_ci([0.5] * 10) == (0.5, 0.5, 0.5)


def test_interval_brackets_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small, large = rng.normal(size=20), rng.normal(size=2000)
    m, lo, hi = mean_ci(small)
    assert lo < m < hi
    _, lo2, hi2 = mean_ci(large)
    assert (hi2 - lo2) < (hi - lo) / 5   # width ~ 1/sqrt(n): 10x narrower in theory
    assert abs((hi2 - lo2) - 2 * 1.96 / math.sqrt(2000)) < 0.02


def test_nan_is_ignored():
    assert mean_ci([1.0, float("nan"), 3.0])[0] == 2.0
    assert all(math.isnan(v) for v in mean_ci([float("nan")]))


def test_summarize_groups():
    frame = pd.DataFrame({"cut": ["a", "a", "b", "b"], "mse": [1.0, 3.0, 5.0, 5.0]})
    table = summarize(frame, ["cut"], ["mse"]).set_index("cut")
    assert table.loc["a", "mse"] == 2.0 and table.loc["b", "mse_low"] == 5.0
