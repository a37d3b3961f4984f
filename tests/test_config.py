import dataclasses
import math

import pytest

from helpers.core.config import SCALES, Scale, check_choice, check_nonnegative, check_range, get_scale


def test_scales_resolve_by_name():
    assert [get_scale(name).name for name in ("smoke", "quick", "paper")] == ["smoke", "quick", "paper"]
    assert get_scale().name == "quick"


def test_scales_grow():
    smoke, quick, paper = (SCALES[n] for n in ("smoke", "quick", "paper"))
    for field in ("n_train", "epochs", "decoder_epochs", "n_eval"):
        assert getattr(smoke, field) < getattr(quick, field) < getattr(paper, field)


def test_unknown_scale_lists_valid_ones():
    with pytest.raises(ValueError, match="smoke, quick, paper"):
        get_scale("huge")


def test_environment_variable_overrides(monkeypatch):
    monkeypatch.setenv("MIA_SCALE", "smoke")
    assert get_scale("paper").name == "smoke"
    monkeypatch.setenv("MIA_SCALE", "bogus")
    with pytest.raises(ValueError, match="unknown scale"):
        get_scale("quick")


def test_scale_validates_its_fields():
    good = SCALES["smoke"].as_dict()
    with pytest.raises(ValueError, match="epochs"):
        Scale(**{**good, "epochs": 0})
    with pytest.raises(ValueError, match="n_eval"):
        Scale(**{**good, "n_eval": good["n_test"] + 1})


def test_checks():
    assert check_choice("cut", "a", ["a", "b"]) == "a"
    with pytest.raises(ValueError, match="valid: a, b"):
        check_choice("cut", "c", ["a", "b"])
    assert check_nonnegative("sigma", 0) == 0.0
    with pytest.raises(ValueError, match=r"sigma must lie in \[0.0, inf\)"):
        check_nonnegative("sigma", -0.1)
    with pytest.raises(ValueError):
        check_range("rate", math.nan, 0, 1)
    with pytest.raises(ValueError, match="must be a number"):
        check_range("rate", "high", 0, 1)
    with pytest.raises(ValueError):
        check_range("rate", 1.0, 0, 1)  # upper end excluded by default


def test_classifier_epochs_override_the_scale_and_nothing_else():
    from helpers.core.config import with_classifier_epochs

    quick = get_scale("quick")
    assert with_classifier_epochs(quick, 0) is quick
    six = with_classifier_epochs(quick, 6)
    assert six.epochs == 6 and dataclasses.replace(six, epochs=quick.epochs) == quick
    for bad in (-1, 2.5, "6", True):
        with pytest.raises(ValueError, match="classifier_epochs"):
            with_classifier_epochs(quick, bad)
