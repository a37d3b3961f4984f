"""The KSG estimator and the calibration of helpers.theory.mi against closed forms."""
import math

import pytest
import torch

from helpers.theory import mi
from helpers.theory.mi import calibrate, gaussian_mi, gaussian_pairs, ksg_estimate
from helpers.theory.probes import principal_components, probe


def harmonic(m: int) -> float:
    return sum(1 / i for i in range(1, m + 1))


def test_gaussian_pairs_have_the_requested_correlation_and_closed_form_mi():
    x, z = gaussian_pairs(3, 0.6, 20000, seed=0)
    correlation = torch.corrcoef(torch.cat([x, z], 1).T)
    assert torch.diagonal(correlation[:3, 3:]).tolist() == pytest.approx([0.6] * 3, abs=0.02)
    assert correlation[0, 4].abs() < 0.03  # independent across coordinates
    assert gaussian_mi(3, 0.6) == pytest.approx(-1.5 * math.log(1 - 0.36))
    assert gaussian_mi(5, 0.0) == 0.0
    with pytest.raises(ValueError):
        gaussian_mi(2, 1.0)


def test_ksg_counting_convention_on_identical_variables():
    # z = x, distinct distances: n_x = n_z = k − 1 for every point, so the estimate is ψ(N) − ψ(k)
    x = torch.randn(50, 1, generator=torch.Generator().manual_seed(0))
    assert ksg_estimate(x, x.clone(), k=3, jitter=0.0) == pytest.approx(harmonic(49) - harmonic(2), abs=1e-9)
    four = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert ksg_estimate(four, four, k=1, jitter=0.0) == pytest.approx(11 / 6, abs=1e-9)


def test_ksg_matches_the_closed_form_on_correlated_gaussians():
    x, z = gaussian_pairs(2, 0.8, 2000, seed=0)
    truth = gaussian_mi(2, 0.8)
    assert ksg_estimate(x, z) == pytest.approx(truth, rel=0.10)
    # chunking the rows changes nothing
    assert ksg_estimate(x, z, chunk=300) == pytest.approx(ksg_estimate(x, z), abs=1e-12)


def test_ksg_is_near_zero_on_independent_pairs():
    estimates = [ksg_estimate(*gaussian_pairs(2, 0.0, 2000, seed=s), seed=s) for s in range(3)]
    assert all(abs(e) < 0.05 for e in estimates)
    assert abs(sum(estimates) / 3) < 0.03


def test_calibrate_reports_closed_form_truth_and_is_cached(monkeypatch):
    rhos = (0.3, 0.9)
    frame = calibrate("ksg", d=4, n=400, rhos=rhos)
    assert frame.rho.tolist() == [0.3, 0.9]
    assert frame.true_mi.tolist() == [gaussian_mi(4, 0.3), gaussian_mi(4, 0.9)]  # exactly
    assert frame.ratio.tolist() == pytest.approx((frame.estimate / frame.true_mi).tolist())
    assert (frame.estimate > 0).all() and frame.estimate.is_monotonic_increasing

    def fail(*args, **kwargs):
        raise AssertionError("the second call must be served from the cache")

    monkeypatch.setattr(mi, "run_estimator", fail)
    assert calibrate("ksg", d=4, n=400, rhos=rhos).estimate.tolist() == frame.estimate.tolist()
    with pytest.raises(ValueError):
        calibrate("infonce", d=2, n=50, rhos=(0.5,))


def test_calibration_table_runs_mine_with_the_given_epochs():
    table = mi.calibration_table(d=2, n=200, rhos=(0.5,), mine_epochs=2)
    assert list(table.columns) == ["rho", "true_mi", "mine", "ksg", "mine_ratio", "ksg_ratio"]
    assert table.true_mi[0] == gaussian_mi(2, 0.5)
    assert math.isfinite(table.mine[0]) and math.isfinite(table.ksg[0])


def test_probe_returns_the_knn_estimate_on_the_same_projection():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(300, 1, 8, 8, generator=generator)
    z = torch.relu(x.flatten(1)[:, :20] - 0.5) + 0.1 * torch.randn(300, 20, generator=generator)
    result = probe(x, z, mine_epochs=2, mine_dims=4)
    assert {"mi_mine", "mi_knn", "effective_info", "effective_fraction", "entropy_z", "payload"} <= set(result)
    assert math.isfinite(result["mi_knn"]) and result["mi_knn"] > 0
    expected = ksg_estimate(principal_components(x, 4), principal_components(z, 4))
    assert result["mi_knn"] == pytest.approx(expected)
