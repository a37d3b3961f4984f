import numpy as np
import pandas as pd
import pytest
import torch

from helpers.data import load_dataset, split_dataset
from helpers.evaluation.gpz import features_at_cuts, r_squared, radius_dynamics, radius_profile, train_smoothing_arms
from helpers.models import build_model, split
from helpers.training import TrainConfig, predict


def test_features_at_cuts_match_the_split_edges():
    torch.manual_seed(0)
    model = build_model("vgg", width=4).eval()
    x = torch.rand(6, 1, 28, 28)
    features, predicted = features_at_cuts(model, x, ["pool1", "fc1"])
    for cut in ("pool1", "fc1"):
        with torch.no_grad():
            assert torch.allclose(features[cut], split(model, cut)[0](x), atol=1e-6)
    assert torch.equal(predicted, predict(model, x))


def test_radius_profile_normalisations():
    torch.manual_seed(0)
    model = build_model("constant", width=2).eval()
    profile = radius_profile(model, torch.rand(40, 1, 28, 28))
    assert list(profile.cut) == model.cut_names
    assert ((profile.radius_ratio >= 0) & (profile.radius_ratio <= 1 + 1e-9)).all()
    assert np.allclose(profile.radius_per_dim * profile.feature_dim, profile.radius)
    assert np.isnan(profile.drop_radius.iloc[0])
    expected = (profile.radius.iloc[0] - profile.radius.iloc[1]) / profile.radius.iloc[0]
    assert profile.drop_radius.iloc[1] == pytest.approx(expected)


def test_r_squared_on_exact_and_unrelated_data():
    x = np.linspace(0, 1, 20)
    frame = pd.DataFrame({"x": x, "y": 3 * x + 1, "noise": np.random.default_rng(0).normal(size=20)})
    assert r_squared(frame, "y", ["x"]) == pytest.approx(1.0)
    assert r_squared(frame, "noise", ["x"]) < 0.3


def test_smoothing_arms_keep_epochs_and_dynamics_rows():
    config = TrainConfig(n_train=256, n_test=64, n_aux=64, epochs=2, batch_size=64, width=4)
    splits = split_dataset(load_dataset("mnist5k"), **config.split_kwargs())
    arms = train_smoothing_arms(config, {0: splits}, alphas=[0.0, 0.3], seeds=[0], device="cpu")
    assert set(arms) == {(0.0, 0), (0.3, 0)}
    assert arms[(0.3, 0)].config.label_smoothing == 0.3 and len(arms[(0.3, 0)].epoch_states) == 2
    frame = radius_dynamics(arms, splits.test.x[:32], ["fc1", "logits"])
    assert len(frame) == 2 * 2 * 2 and set(frame.cut) == {"fc1", "logits"}
    assert frame.groupby(["alpha", "epoch"]).test_acc.nunique().max() == 1
    # the second call loads every arm from the cache: the same rows, no model evaluated
    import helpers.evaluation.gpz as gpz

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed a cached profile")

    original, gpz.radius_profile = gpz.radius_profile, refuse
    try:
        again = radius_dynamics(arms, splits.test.x[:32], ["fc1", "logits"])
    finally:
        gpz.radius_profile = original
    pd.testing.assert_frame_equal(again, frame)
    other = radius_dynamics(arms, splits.test.x[:16], ["fc1", "logits"])   # other images: recomputed
    assert not other.radius.equals(frame.radius)


def test_each_seed_draws_its_own_split_and_an_arm_trains_on_its_seeds():
    """Seeds redraw the data split (issue 28): an interval over seeds then covers the data's sampling."""
    from helpers.core.config import SCALES
    from helpers.evaluation.gpz import seed_splits

    data = load_dataset("mnist5k")
    configs = [TrainConfig.from_scale(SCALES["smoke"], data=data, seed=seed) for seed in (0, 1)]
    assert [c.split_seed for c in configs] == [0, 1]
    assert TrainConfig.from_scale(SCALES["smoke"], data=data, seed=1, split_seed=0).split_seed == 0   # kept if given
    first, second = (split_dataset(data, **c.split_kwargs()) for c in configs)
    assert not torch.equal(first.train.index, second.train.index) and not torch.equal(first.test.index, second.test.index)
    by_seed = seed_splits(configs[0], data, [0, 1])
    assert torch.equal(by_seed[1].train.index, second.train.index) and torch.equal(by_seed[0].aux.index, first.aux.index)
    with pytest.raises(ValueError, match="no split for seeds"):
        train_smoothing_arms(configs[0], by_seed, alphas=[0.0], seeds=[2])
