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
