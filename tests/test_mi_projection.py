"""The projection toy of helpers/theory/mi_projection.py against its closed forms."""
import math

import pytest
import torch

from helpers.theory.mi import gaussian_mi
from helpers.theory.mi_projection import calibrate_projected, kept_mi, noise_for, projected_case, spectrum


def test_the_noise_gives_the_chosen_total_and_the_projection_keeps_the_top_coordinates():
    eigenvalues = spectrum(50, decay=1.0)
    noise_var = noise_for(eigenvalues, 5.0)
    assert kept_mi(eigenvalues, noise_var) == pytest.approx(5.0, rel=1e-9)
    kept = [kept_mi(eigenvalues, noise_var, k) for k in (1, 8, 50)]
    assert kept[0] < kept[1] < kept[2] == pytest.approx(5.0)
    assert kept[0] == pytest.approx(0.5 * math.log1p(1.0 / noise_var))   # the first pair alone
    # equal eigenvalues: d independent pairs of correlation rho = 1/sqrt(1 + σ²), gaussian_mi's case
    flat = torch.ones(8, dtype=torch.float64)
    rho = 1 / math.sqrt(1 + noise_for(flat, 3.0))
    assert gaussian_mi(8, rho) == pytest.approx(3.0, rel=1e-9)


def test_the_sampled_pairs_have_the_models_variances():
    x, z, noise_var = projected_case(20, 4.0, 20000, decay=1.0, seed=1)
    eigenvalues = spectrum(20)
    assert x.var(0).double() == pytest.approx(eigenvalues.tolist(), rel=0.05)
    assert (z - x).var(0).mean().item() == pytest.approx(noise_var, rel=0.05)


def test_ksg_through_a_projection_sees_only_the_kept_part():
    """d = 30, k = 3: the projection keeps well under half of 6 nats; KSG on the three components
    reads about what they keep (its own bias is small at 3 dimensions and ~1.8 nats), far below 6."""
    frame = calibrate_projected("ksg", d=30, k=3, n=2000, total_mis=(6.0,), seed=2)
    row = frame.iloc[0]
    assert row.kept_mi < 0.5 * row.total_mi
    assert row.of_kept == pytest.approx(1.0, abs=0.25) and row.of_total < 0.5
    with pytest.raises(ValueError, match="k must lie"):
        calibrate_projected("ksg", d=5, k=6, n=100)


def test_a_reading_maps_back_to_the_total_mi_through_the_calibration_curve():
    import pandas as pd

    from helpers.theory.mi_projection import corrected_cut, estimate_to_total

    curve = pd.DataFrame({"total_mi": [2.0, 5.0, 10.0, 20.0], "estimate": [0.1, 0.5, 0.4, 2.0]})
    assert estimate_to_total(0.3, curve) == pytest.approx(3.5)     # halfway between 2 and 5 nats
    assert estimate_to_total(0.5, curve) == pytest.approx(5.0)     # the dip at 10 nats is flattened away
    assert estimate_to_total(1.25, curve) == pytest.approx(15.0)   # between 0.5 (at 10) and 2.0 (at 20)
    assert math.isnan(estimate_to_total(2.5, curve)) and math.isnan(estimate_to_total(0.0, curve))
    # a reading of 0.3 against 1.25: 3.5 against 15 nats, a cut of 76.7%, where the readings' own ratio says 76%
    cut = corrected_cut(0.3, 1.25, [curve, curve.assign(estimate=curve.estimate * 2)])
    assert cut.iloc[0] == pytest.approx(100 * (1 - 3.5 / 15.0))
    # the doubled curve reads 0.2, 1.0, (0.8 → 1.0), 4.0: 0.3 is 2 + 3·0.1/0.8 = 2.375 nats, 1.25 is
    # 10 + 10·0.25/3 = 10.83 nats (the flat stretch keeps its first crossing)
    assert cut.iloc[1] == pytest.approx(100 * (1 - 2.375 / (10 + 10 * 0.25 / 3)))
