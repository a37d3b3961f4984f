"""The information probes and the rank criterion of notebook 04, against hand-computed cases."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from helpers.theory.probes import criterion_table, effective_information, marginal_entropy
from helpers.core.stats import spearman, spearman_ci


def test_effective_information_counts_nonzero_entries_per_image():
    z = torch.tensor([[0.0, 2.0, 0.0, -1.0], [0.0, 0.0, 0.0, 3.0]])
    assert effective_information(z) == pytest.approx(1.5)
    assert effective_information(z, tol=1.5) == pytest.approx(1.0)


def test_marginal_entropy_hand_computed():
    # coordinate 0: half zeros, half ones -> log 2; coordinate 1 constant -> 0
    z = torch.tensor([[0.0, 1.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    assert marginal_entropy(z, bins=2) == pytest.approx(math.log(2))
    # four equally likely values in four bins -> log 4 for that coordinate
    four = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    assert marginal_entropy(four, bins=4) == pytest.approx(math.log(4))
    with pytest.raises(ValueError):
        marginal_entropy(four, bins=1)


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=30)
    y = x + rng.normal(size=30)
    x[:3] = x[0]  # ties
    assert spearman(x, y) == pytest.approx(spearmanr(x, y)[0], abs=1e-12)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_spearman_interval_contains_estimate_and_is_tight_for_monotone_data():
    x = np.arange(20.0)
    rho, low, high = spearman_ci(x, x ** 3, n_boot=300)
    assert rho == pytest.approx(1.0) and low == pytest.approx(1.0) and high == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    noisy = x + rng.normal(scale=10, size=20)
    rho, low, high = spearman_ci(x, noisy, n_boot=300)
    assert low <= rho <= high and high - low > 0.1
    with pytest.raises(ValueError):
        spearman_ci([1, 2], [1, 2])


def test_criterion_table_one_row_per_probe():
    import pandas as pd

    frame = pd.DataFrame({"mse": [1, 2, 3, 4, 5.0], "mi": [5, 4, 3, 2, 1.0], "eff": [1, 2, 3, 4, 5.0]})
    table = criterion_table(frame, "mse", ["mi", "eff"], n_boot=100).set_index("probe")
    assert table.loc["mi", "spearman"] == pytest.approx(-1.0)
    assert table.loc["eff", "spearman"] == pytest.approx(1.0)
    assert (table.n == 5).all()


def test_spearman_interval_drops_non_finite_pairs():
    x = np.array([1.0, 2.0, 3.0, 4.0, np.nan, 5.0])
    y = np.array([2.0, 4.0, 6.0, 8.0, 100.0, 10.0])
    rho, low, high = spearman_ci(x, y, n_boot=100)
    assert rho == pytest.approx(1.0) and low == pytest.approx(1.0)
    import pandas as pd

    table = criterion_table(pd.DataFrame({"mse": y, "mi": x}), "mse", ["mi"], n_boot=50)
    assert table.n.item() == 5
