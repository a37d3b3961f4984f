import warnings

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from helpers.evaluation import metrics


def test_mse_and_psnr_hand_computed():
    x = torch.zeros(2, 1, 4, 4)
    y = x.clone()
    y[0] += 0.1                      # every pixel off by 0.1: MSE 0.01, PSNR 20 dB
    y[1, 0, 0, 0] = 1.0              # one of 16 pixels off by 1: MSE 1/16, PSNR 10·log10(16)
    assert torch.allclose(metrics.mse(x, y), torch.tensor([0.01, 1 / 16], dtype=torch.float64))
    assert torch.allclose(metrics.psnr(x, y), torch.tensor([20.0, 10 * np.log10(16)], dtype=torch.float64))
    assert metrics.psnr(x, x).tolist() == [metrics.PSNR_CAP_DB] * 2


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_scikit_image(channels):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, channels, 32, 32, generator=g)
    y = (x + 0.15 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ours = metrics.ssim(x, y)
    for i in range(3):
        a, b = x[i].permute(1, 2, 0).numpy(), y[i].permute(1, 2, 0).numpy()
        ref = structural_similarity(a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=1.0)
        assert abs(ours[i].item() - ref) < 1e-4
    assert torch.allclose(metrics.ssim(x, x), torch.ones(3, dtype=torch.float64))


def test_ssim_window_for_tiny_images():
    assert metrics.ssim_window(28, 28) == (11, 1.5)
    size, sigma = metrics.ssim_window(8, 8)
    assert size == 7 and sigma == pytest.approx(1.5 * 7 / 11)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, 8, 8, generator=g)
    y = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    for i in range(2):
        ref = structural_similarity(x[i, 0].numpy(), y[i, 0].numpy(), win_size=7, gaussian_weights=True,
                                    sigma=1.5 * 7 / 11, use_sample_covariance=False, data_range=1.0)
        assert abs(metrics.ssim(x, y)[i].item() - ref) < 1e-4


def test_shape_errors():
    with pytest.raises(ValueError, match="same shape"):
        metrics.mse(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))
    with pytest.raises(ValueError, match="N×C×H×W"):
        metrics.psnr(torch.zeros(4, 4), torch.zeros(4, 4))


def test_lpips_is_nan_with_one_warning_when_weights_are_absent(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(metrics, "_LPIPS_WARNED", False)
    x = torch.rand(2, 1, 28, 28)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = metrics.lpips(x, x), metrics.lpips(x, x * 0.5)
    assert torch.isnan(first).all() and torch.isnan(second).all() and first.shape == (2,)
    said = [str(w.message) for w in caught if "LPIPS" in str(w.message)]
    assert len(said) == 1
    assert str(tmp_path) not in said[0] and "alexnet-" in said[0], "names the weights, not this machine's path"
    assert metrics._LPIPS_MODEL is None  # never built a network, so never ran with random weights


def test_an_all_nan_metric_is_left_out_of_a_shown_table_with_one_note(capsys):
    import pandas as pd

    table = pd.DataFrame({"cut": ["pool1", "fc1"], "mse": [0.01, 0.05], "mse_low": [0.0, 0.04],
                          "lpips": [float("nan")] * 2, "lpips_low": [float("nan")] * 2,
                          "lpips_high": [float("nan")] * 2, "ssim": [0.9, float("nan")]})
    shown = metrics.without_missing_metrics(table)
    assert list(shown.columns) == ["cut", "mse", "mse_low", "ssim"], "a metric NaN in one row only stays"
    assert capsys.readouterr().out == ("left out of this table, NaN in every row: lpips "
                                       "(LPIPS needs ImageNet weights this machine lacks)\n")
    assert "lpips" in table, "the table passed in is unchanged"
    assert metrics.without_missing_metrics(shown) is shown and capsys.readouterr().out == ""


def test_warnings_in_notebooks_print_without_the_machines_paths():
    from helpers.core import display

    line = display.short_format(UserWarning("LPIPS is reported as NaN"), UserWarning, "/root/x/helpers/m.py", 12,
                                "warnings.warn(...)")
    assert line == "UserWarning: LPIPS is reported as NaN\n"
    before = warnings.formatwarning
    try:
        display.short_warnings()
        assert warnings.formatwarning("m", RuntimeWarning, "/abs/f.py", 3) == "RuntimeWarning: m\n"
    finally:
        warnings.formatwarning = before


def _pair(n=2):
    return torch.rand(n, 1, 8, 8), torch.rand(n, 1, 8, 8)


@pytest.mark.parametrize("metric", ["mse", "psnr", "ssim", "lpips"])
def test_images_outside_the_unit_range_are_refused(metric):
    x, y = _pair()
    normalised = y * 2 - 1
    normalised[0, 0, 0, 0] = -1.0                      # normalised to [-1, 1]
    with pytest.raises(ValueError, match=r"second images lie in \[-1, .*outside \[0, 1\].*clamp"):
        metrics.METRICS[metric](x, normalised)
    eight_bit = x * 255
    eight_bit[0, 0, 0, 0] = 255.0
    with pytest.raises(ValueError, match=r"first images lie in \[.*, 255\], outside \[0, 1\]; .*normalisation"):
        metrics.METRICS[metric](eight_bit, y)


def test_float_rounding_just_outside_the_range_is_tolerated():
    x, y = _pair()
    x[0, 0, 0, 0], y[0, 0, 0, 0] = 1 + 1e-6, -1e-6
    assert metrics.mse(x, y).shape == (2,)


def test_integer_images_are_refused():
    x, y = _pair()
    with pytest.raises(ValueError, match=r"first images are torch.uint8, not floating point; .*float\(\) / 255"):
        metrics.mse((x * 255).to(torch.uint8), y)


def test_non_finite_images_are_refused():
    x, y = _pair()
    y[1, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="second images contain NaN or inf; metrics need finite values"):
        metrics.ssim(x, y)


def test_an_empty_batch_is_refused():
    x, y = _pair(0)
    with pytest.raises(ValueError, match=r"empty batch \(N = 0\): there is nothing to score"):
        metrics.psnr(x, y)


def test_shapes_must_match():
    x, y = _pair()
    with pytest.raises(ValueError, match=r"same shape, got \(2, 1, 8, 8\) and \(1, 1, 8, 8\); compare each"):
        metrics.mse(x, y[:1])
    with pytest.raises(ValueError, match=r"N×C×H×W, got shape \(1, 8, 8\); add a batch axis"):
        metrics.mse(x[0], y[0])
