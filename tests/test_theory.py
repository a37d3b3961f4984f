import math

import numpy as np
import pytest
import torch

from helpers.theory import (gaussian_channel, global_variance, gmm_conditional_entropy_bound, golden_partition_zone,
                            intra_class_radius, kmeans, learned_estimator_mse, ledoit_wolf_intensity,
                            log_det_plus_noise, log_det_plus_noise_shrunk, mine_estimate, mixture_channel,
                            mse_lower_bound, plugin_redundancy_bias)


def test_bound_is_tight_for_the_gaussian_channel():
    for s2, n2, d in ((1.0, 0.5, 1), (0.3, 2.0, 16), (4.0, 0.01, 784)):
        channel = gaussian_channel(s2, n2, d)
        assert mse_lower_bound(channel.h_x_given_z, d) == pytest.approx(channel.mmse, abs=1e-9)
        assert channel.mmse == pytest.approx(s2 * n2 / (s2 + n2))
    # the posterior mean reaches it empirically
    channel = gaussian_channel(1.0, 0.5, 4)
    x, z = channel.sample(200_000)
    empirical = float(((x - z * 1.0 / 1.5) ** 2).mean())
    assert empirical == pytest.approx(channel.mmse, rel=0.01)
    with pytest.raises(ValueError):
        gaussian_channel(1.0, 0.0)
    with pytest.raises(ValueError):
        mse_lower_bound(0.0, 0)


def test_mixture_channel_bound_below_exact_mmse():
    torch.manual_seed(0)
    channel = mixture_channel(means=[[-2.0, 0.0], [2.0, 1.0]], variances=[0.3, 0.5], weights=[0.4, 0.6],
                              matrix=[[1.0, 0.5]], noise_std=0.5)
    x, z = channel.sample(50_000)
    mmse = float(((channel.posterior_mean(z) - x) ** 2).mean())
    bound = mse_lower_bound(channel.h_x_given_z_lower(), 2)
    # any other estimator does worse than the posterior mean, e.g. the linear least-squares one
    zc = z - z.mean(0)
    linear = x.mean(0) + zc @ torch.linalg.lstsq(zc, x - x.mean(0)).solution
    assert bound < mmse < float(((linear - x) ** 2).mean())
    # one component, no mixing: the conditional-Gaussian bound is exact
    single = mixture_channel([[0.0]], [1.0], [1.0], [[1.0]], noise_std=0.7)
    exact = gaussian_channel(1.0, 0.49, 1)
    assert single.h_x_given_z_lower() == pytest.approx(exact.h_x_given_z, abs=1e-9)
    assert single.h_x(n=100_000) == pytest.approx(0.5 * math.log(2 * math.pi * math.e), abs=0.01)


def test_intra_class_radius_by_hand():
    z = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [10.0, 14.0]])
    labels = torch.tensor([0, 0, 1, 1])
    radius = intra_class_radius(z, labels)
    # class 0: centre (1, 0), squared distances 1 and 1; class 1: centre (10, 12), 4 and 4
    assert radius.classes == [0, 1] and radius.per_class == [1.0, 4.0] and radius.mean == 2.5
    assert global_variance(torch.tensor([[0.0], [2.0]])) == 1.0
    assert intra_class_radius(z, torch.zeros(4, dtype=torch.long)).mean == pytest.approx(global_variance(z))
    with pytest.raises(ValueError):
        intra_class_radius(z, labels[:3])


def test_golden_partition_zone_rule():
    cuts = ["a", "b", "c", "d", "e"]
    single = golden_partition_zone(cuts, [1.0, 0.95, 0.9, 0.3, 0.28])
    assert single.is_single and single.start == "d"
    assert single.drops["d"] == pytest.approx(2 / 3)
    # largest drop into d (0.714), second into b (0.5); the drop between (into c, 0.3) is above 0.2
    zone = golden_partition_zone(cuts[:4], [1.0, 0.5, 0.35, 0.1])
    assert (zone.start, zone.end) == ("b", "d") and not zone.is_single
    # with a threshold above that drop the rule picks the single cut after the largest drop
    assert golden_partition_zone(cuts[:4], [1.0, 0.5, 0.35, 0.1], threshold=0.5).start == "d"
    with pytest.raises(ValueError):
        golden_partition_zone(cuts[:2], [1.0, 0.5])


def test_golden_partition_zone_absolute_drops_count_a_sharp_rise():
    cuts = ["a", "b", "c", "d", "e"]
    # ρ: b 0.3, c (0.7 − 2)/0.7 = −13/7 (R² rises), d 0.1, e 1/18
    radii = [1.0, 0.7, 2.0, 1.8, 1.7]
    signed = golden_partition_zone(cuts, radii)
    assert signed.is_single and signed.start == "b"          # largest 0.3 (b), second 0.1 (d), c < 0.2 between
    assert golden_partition_zone(cuts, radii, drops="signed") == signed
    absolute = golden_partition_zone(cuts, radii, drops="absolute")
    assert absolute.is_single and absolute.start == "c"      # |ρ|: 13/7 (c), then 0.3 (b): adjacent
    assert absolute.drops["c"] == pytest.approx(-13 / 7) and absolute.drops == signed.drops  # kept signed
    # ρ: b 0.9, c −0.3, d 12/13. Signed: single d (−0.3 < 0.2 between); absolute: |−0.3| ≥ 0.2, zone b..d
    radii = [1.0, 0.1, 0.13, 0.01]
    assert golden_partition_zone(cuts[:4], radii).start == "d" and golden_partition_zone(cuts[:4], radii).is_single
    zone = golden_partition_zone(cuts[:4], radii, drops="absolute")
    assert (zone.start, zone.end) == ("b", "d")
    with pytest.raises(ValueError):
        golden_partition_zone(cuts, radii + [0.005], drops="relative")


def _ledoit_wolf_by_definition(points: np.ndarray) -> tuple[np.ndarray, float]:
    """(shrunk covariance, ρ) from the m × m matrices themselves, ||A||² = tr(AAᵀ)/m."""
    x = points - points.mean(0)
    n, m = x.shape
    sample = x.T @ x / n
    mu = np.trace(sample) / m
    d2 = ((sample - mu * np.eye(m)) ** 2).sum() / m
    b2 = sum(((np.outer(row, row) - sample) ** 2).sum() / m for row in x) / n ** 2
    rho = min(b2, d2) / d2
    return (1 - rho) * sample + rho * mu * np.eye(m), rho


def test_ledoit_wolf_shrinkage_by_definition_and_a_hand_case():
    # (also checked against sklearn.covariance.ledoit_wolf: equal to 1e-15; sklearn is not a dependency)
    g = torch.Generator().manual_seed(0)
    for n, m in ((7, 30), (50, 5), (20, 20)):
        x = torch.randn(n, m, generator=g, dtype=torch.float64) * torch.linspace(0.2, 2, m, dtype=torch.float64)
        covariance, intensity = _ledoit_wolf_by_definition(x.numpy())
        assert ledoit_wolf_intensity(x)[0] == pytest.approx(intensity, abs=1e-12)
        direct = np.linalg.slogdet(covariance + 0.3 * np.eye(m))[1] - m * math.log(0.3)
        assert log_det_plus_noise_shrunk(x, 0.3) == pytest.approx(direct, abs=1e-8)
    # a cross: S = ½I already, so μ = ½ and shrinking changes nothing: 2·log(1 + ½/σ²)
    cross = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    assert ledoit_wolf_intensity(cross)[1] == pytest.approx(0.5)
    assert log_det_plus_noise_shrunk(cross, 0.25) == pytest.approx(2 * math.log(3.0))
    assert log_det_plus_noise(cross, 0.25) == pytest.approx(2 * math.log(3.0))


def test_gmm_bound_with_shrinkage_covariance():
    z = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.5, 0.7], [5.0, 5.0], [6.0, 5.0], [5.5, 6.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    bound = gmm_conditional_entropy_bound(z, labels, 0.5, covariance="shrinkage")

    def logdet(points):
        shrunk = _ledoit_wolf_by_definition(points)[0]
        return np.linalg.slogdet(shrunk + 0.25 * np.eye(2))[1] - 2 * math.log(0.25)

    expected = math.log(2) + 0.5 * (0.5 * logdet(z[:3].numpy()) + 0.5 * logdet(z[3:].numpy()))
    assert bound.redundancy_estimate == pytest.approx(expected, abs=1e-9)
    with pytest.raises(ValueError):
        gmm_conditional_entropy_bound(z, labels, 0.5, covariance="oas")


def test_plugin_redundancy_is_biased_low_and_shrinkage_is_closer():
    # isotropic s² = 1, σ = 1, m = 200: the truth is ½·m·log(1 + s²/σ²) = 100·log 2
    few = plugin_redundancy_bias(dim=200, n=20, sigma=1.0, spectrum=1.0, repeats=3)
    assert few.population == pytest.approx(100 * math.log(2), abs=1e-9)
    assert few.ml < 0.5 * few.population                       # measured: 22.6 against 69.3
    assert abs(few.shrinkage - few.population) < abs(few.ml - few.population)
    # a known spectrum: ½ Σ log(1 + λ_i/σ²), λ = 0.5 and 3 (σ² = 0.25): ½·(25·log 3 + 25·log 13)
    spectrum = torch.tensor([0.5] * 25 + [3.0] * 25, dtype=torch.float64)
    known = plugin_redundancy_bias(dim=50, n=10, sigma=0.5, spectrum=spectrum, repeats=3)
    assert known.population == pytest.approx(12.5 * (math.log(3) + math.log(13)))
    assert known.ml < known.population and abs(known.shrinkage - known.population) < abs(known.ml - known.population)
    # many samples per dimension: the ML plug-in approaches the truth
    many = plugin_redundancy_bias(dim=5, n=4000, sigma=1.0, spectrum=2.0, repeats=2)
    assert many.ml == pytest.approx(2.5 * math.log(3), rel=0.02)


def test_log_det_uses_the_small_side_correctly():
    points = torch.randn(7, 30, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    cov = np.cov(points.numpy(), rowvar=False, bias=True)
    direct = np.linalg.slogdet(cov + 0.3 * np.eye(30))[1] - 30 * math.log(0.3)
    assert log_det_plus_noise(points, 0.3) == pytest.approx(direct, abs=1e-8)
    assert log_det_plus_noise(points[:, :4], 0.3) == pytest.approx(
        np.linalg.slogdet(np.cov(points[:, :4].numpy(), rowvar=False, bias=True) + 0.3 * np.eye(4))[1]
        - 4 * math.log(0.3), abs=1e-8)


def test_gmm_bound_brute_force_tiny_case():
    # two classes, one component each: H(π) = H(labels), log-dets of the class covariances
    z = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [5.0, 5.0], [6.0, 5.0]])
    labels = torch.tensor([0, 0, 0, 1, 1])
    sigma = 0.5
    bound = gmm_conditional_entropy_bound(z, labels, sigma, k=1, h_x=3.0)
    expected_h = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    logdet = lambda pts: np.linalg.slogdet(np.cov(pts, rowvar=False, bias=True) + sigma ** 2 * np.eye(2))[1] \
        - 2 * math.log(sigma ** 2)  # noqa: E731
    expected = expected_h + 0.5 * (0.6 * logdet(z[:3].numpy()) + 0.4 * logdet(z[3:].numpy()))
    assert bound.label_entropy == pytest.approx(expected_h)
    assert bound.redundancy_estimate == pytest.approx(expected, abs=1e-9)
    assert bound.bound == pytest.approx(3.0 - expected, abs=1e-9)
    # sample order does not matter
    order = torch.tensor([3, 0, 4, 2, 1])
    assert gmm_conditional_entropy_bound(z[order], labels[order], sigma).redundancy_estimate == pytest.approx(expected)
    with pytest.raises(ValueError, match="sigma"):
        gmm_conditional_entropy_bound(z, labels, 0.0)


def test_gmm_bound_equals_mutual_information_of_a_gaussian():
    # one class, one component, x = ẑ Gaussian: the redundancy is I(x; z) = ½ log(1 + s²/σ²) per dim
    channel = gaussian_channel(2.0, 0.25, 3)
    x, _ = channel.sample(20_000)
    bound = gmm_conditional_entropy_bound(x, torch.zeros(len(x), dtype=torch.long), sigma=0.5)
    assert bound.redundancy_estimate == pytest.approx(channel.mutual_information, rel=0.01)


def test_gmm_bound_grows_with_spread_and_shrinks_with_noise():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(400, 5, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 4, (400,), generator=g)
    tight = gmm_conditional_entropy_bound(0.1 * z, labels, 1.0, k=2).redundancy_estimate
    loose = gmm_conditional_entropy_bound(z, labels, 1.0, k=2).redundancy_estimate
    noisier = gmm_conditional_entropy_bound(z, labels, 2.0, k=2).redundancy_estimate
    assert tight < loose and noisier < loose


def test_kmeans_finds_separated_clusters_and_handles_duplicates():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    z = torch.cat([c + 0.1 * torch.randn(50, 2, generator=g) for c in centres])
    found, assign = kmeans(z, 3, seed=0)
    assert sorted(torch.bincount(assign).tolist()) == [50, 50, 50]
    assert torch.cdist(found, centres).min(1).values.max() < 0.1
    same = torch.ones(5, 2)
    _, assign = kmeans(same, 3)   # identical points: no NaN, every point assigned
    assert len(assign) == 5


def test_mine_within_15_percent_of_correlated_gaussians():
    g = torch.Generator().manual_seed(0)
    n, d, rho = 8000, 2, 0.8
    x = torch.randn(n, d, generator=g)
    z = rho * x + math.sqrt(1 - rho ** 2) * torch.randn(n, d, generator=g)
    truth = -d / 2 * math.log(1 - rho ** 2)
    result = mine_estimate(x, z, epochs=60, batch_size=256, seed=0)
    assert result.estimate == pytest.approx(truth, rel=0.15)
    independent = mine_estimate(x, torch.randn(n, d, generator=g), epochs=20, seed=0)
    assert abs(independent.estimate) < 0.05


def test_learned_estimator_reaches_the_gaussian_mmse_and_is_cached(monkeypatch):
    from helpers.theory import mine as theory

    channel = gaussian_channel(1.0, 1.0, d=2)  # MMSE = s²σ²/(s²+σ²) = 0.5 per dimension
    x_train, z_train = channel.sample(4000, seed=0)
    x_test, z_test = channel.sample(4000, seed=1)
    mse = learned_estimator_mse(x_train, z_train, x_test, z_test, hidden=32, epochs=10, seed=0)
    assert channel.mmse == pytest.approx(0.5)
    assert 0.5 * 0.95 < mse < 0.5 * 1.08          # a learned attack cannot beat the MMSE by more than sampling noise
    monkeypatch.setattr(theory, "_fit_learned_estimator", lambda *a, **k: pytest.fail("not served from the cache"))
    assert learned_estimator_mse(x_train, z_train, x_test, z_test, hidden=32, epochs=10, seed=0) == mse
