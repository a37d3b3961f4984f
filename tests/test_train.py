import pytest
import torch
import torch.nn.functional as F

from helpers.training import classifier as train_module
from helpers.data import load_dataset, split_dataset
from helpers.training import TrainConfig, smoothed_targets, soft_cross_entropy, train_classifier


def test_smoothed_targets_hand_computed():
    t = smoothed_targets(torch.tensor([2]), 10, 0.3)
    assert t[0, 2].item() == pytest.approx(0.7) and t[0, 0].item() == pytest.approx(0.3 / 9)
    negative = smoothed_targets(torch.tensor([0]), 10, -0.05)
    assert negative[0, 0].item() == pytest.approx(1.05) and negative[0, 5].item() == pytest.approx(-0.05 / 9)
    assert torch.allclose(negative.sum(1), torch.ones(1))


def test_soft_cross_entropy_without_smoothing_is_cross_entropy():
    logits, labels = torch.randn(5, 10), torch.tensor([0, 3, 9, 2, 2])
    assert torch.allclose(soft_cross_entropy(logits, smoothed_targets(labels, 10, 0.0)),
                          F.cross_entropy(logits, labels))


def test_bad_configs_fail_before_work():
    with pytest.raises(ValueError, match="label_smoothing"):
        TrainConfig(label_smoothing=-0.9)
    with pytest.raises(ValueError, match="unknown dataset"):
        TrainConfig(dataset="svhn")
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    for bad in ({"width": 0}, {"width": -3}, {"n_train": 1.5}, {"split_seed": 1.5}, {"batch_size": True}):
        with pytest.raises(ValueError):
            TrainConfig(**bad)


def test_paper_scale_fits_the_embedded_dataset():
    from helpers.core.config import SCALES

    config = TrainConfig.from_scale(SCALES["paper"], data=load_dataset("mnist5k"))
    assert (config.n_train, config.n_test, config.n_aux, config.dataset) == (3571, 714, 714, "mnist5k")
    # the notebooks' validation split (paper: 5,000 of 50,000) shrinks in proportion: 5000·3571//50000
    with_val = TrainConfig.from_scale(SCALES["paper"], data=load_dataset("mnist5k"), n_val=SCALES["paper"].n_val)
    assert with_val.n_val == 357
    quick = TrainConfig.from_scale(SCALES["quick"], data=load_dataset("mnist5k"), n_val=250)
    assert (quick.n_train, quick.n_val) == (2500, 250)   # nothing to shrink at quick


@pytest.fixture(scope="module")
def tiny():
    config = TrainConfig(n_train=512, n_test=256, n_aux=64, epochs=3, batch_size=32, lr=3e-3, width=8)
    return config, split_dataset(load_dataset("mnist5k"), **config.split_kwargs())


def test_training_learns_is_repeatable_and_cached(tiny, monkeypatch):
    config, splits = tiny
    first = train_classifier(config, splits, device="cpu")
    assert first.test_accuracy > 0.6  # chance is 0.1
    assert first.history[-1]["loss"] < first.history[0]["loss"]
    again = train_classifier(config, splits, device="cpu", overwrite=True)
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, again.model.state_dict()[name]), name

    def must_not_train(*args):
        raise AssertionError("should have loaded from the cache")

    monkeypatch.setattr(train_module, "_fit", must_not_train)
    loaded = train_classifier(config, splits, device="cpu")
    assert loaded.history == first.history


def test_epoch_states_are_kept_on_request(tiny):
    config, splits = tiny
    config = TrainConfig(**{**config.__dict__, "epochs": 2, "keep_epoch_states": True})
    trained = train_classifier(config, splits, device="cpu")
    last = trained.model_at_epoch(2)
    for name, tensor in trained.model.state_dict().items():
        assert torch.equal(tensor, last.state_dict()[name])
    assert not torch.equal(trained.model_at_epoch(1).blocks.relu1[0].weight, last.blocks.relu1[0].weight)


def test_a_training_without_epoch_states_reads_the_same_training_with_them(tiny, monkeypatch):
    """Notebook 02 keeps the undefended model's per-epoch weights, 04-07 ask for it without: they
    read 02's entry (nothing trained, nothing stored) and get the weights training without gives."""
    from helpers.core import paths

    config, splits = tiny
    keeping = TrainConfig(**{**config.__dict__, "epochs": 2, "keep_epoch_states": True})
    plain = TrainConfig(**{**keeping.__dict__, "keep_epoch_states": False})
    kept = train_classifier(keeping, splits, device="cpu")
    entries = sorted((paths.cache_dir() / "classifier").glob("*.json"))
    with monkeypatch.context() as patched:
        patched.setattr(train_module, "_fit", lambda *args: pytest.fail("trained instead of reading 02's entry"))
        read = train_classifier(plain, splits, device="cpu")
    assert sorted((paths.cache_dir() / "classifier").glob("*.json")) == entries
    assert read.epoch_states is None and read.history == kept.history and read.cache_key["keep_epoch_states"] is False
    trained = train_classifier(plain, splits, device="cpu", overwrite=True)   # trained for real, without
    assert len(list((paths.cache_dir() / "classifier").glob("*.json"))) == len(entries) + 1
    for name, tensor in trained.model.state_dict().items():
        assert torch.equal(tensor, read.model.state_dict()[name]), name
    with pytest.raises(ValueError, match="keep_epoch_states"):   # the reverse cannot be read
        read.model_at_epoch(1)


def test_mismatched_splits_are_refused(tiny):
    config, splits = tiny
    with pytest.raises(ValueError, match="splits do not match"):
        train_classifier(TrainConfig(**{**config.__dict__, "n_train": 500}), splits)


def test_validation_images_are_held_out_of_training(tiny):
    config, splits = tiny
    x, y, x_val, y_val = train_module.validation_split(splits, 100)
    assert len(x) == 412 and len(x_val) == 100
    assert torch.equal(torch.cat([x, x_val]), splits.train.x) and torch.equal(torch.cat([y, y_val]), splits.train.y)
    held = TrainConfig(**{**config.__dict__, "epochs": 1, "n_val": 100})
    assert "n_val" in held.cache_fields() and "n_val" not in config.cache_fields()  # old keys unchanged
    trained = train_classifier(held, splits, device="cpu")
    expected = train_module.accuracy(trained.model, x_val, y_val)
    assert trained.val_accuracy == pytest.approx(expected)
    with pytest.raises(ValueError, match="validation"):
        train_classifier(TrainConfig(**{**config.__dict__, "epochs": 1}), splits, device="cpu").val_accuracy
    with pytest.raises(ValueError, match="n_val"):
        TrainConfig(**{**config.__dict__, "n_val": 512})
