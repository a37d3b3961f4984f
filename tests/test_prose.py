"""Bracketed numbers in notebook prose come from the committed CSVs (helpers/pipeline/prose.py)."""
import numpy as np
import pytest

from helpers.pipeline import prose
from helpers.pipeline.run import numbered_notebooks


def test_bracketed_numbers_are_found_and_the_rest_skipped():
    text = ("MSE [0.0433 → 0.0475] and [+86%], [32,711×]; not $x_{[1]}$, not `a[2]`, "
            "not [a link 3](http://x/4), not 5 outside; [1.2e-07]; [21, 32]\n## Exercises\n[9]")
    assert prose.bracketed_numbers(text) == ["0.0433", "0.0475", "+86", "32,711", "1.2e-07", "21", "32", "9"]
    assert prose.bracketed_numbers(text.split("## Exercises")[0]) == ["0.0433", "0.0475", "+86", "32,711", "1.2e-07", "21", "32"]


@pytest.mark.parametrize("printed, values, ok", [
    ("0.0433", [0.04334], True), ("0.0433", [0.04336], False),   # rounding to the printed digits
    ("+86", [85.7], True), ("86", [86.6], False),
    ("97.4", [0.974], True),                                       # a fraction printed as a percentage
    ("32,711", [32711.2], True), ("21", [21.3], True), ("1.2e-07", [1.23e-07], True), ("1.2e-07", [1.3e-07], False),
    ("−5", [5.2], True),                                           # signs are not compared
])
def test_a_number_is_explained_within_its_printed_rounding(printed, values, ok):
    assert prose.explained(printed, np.asarray(values, float)) is ok


@pytest.mark.parametrize("path", numbered_notebooks(), ids=lambda p: p.stem)
def test_bracketed_numbers_come_from_the_committed_csvs(path):
    missing = prose.unmatched_numbers(path)
    assert not missing, f"{path.name}: bracketed numbers found in no figures/{path.name[:2]}_*.csv: {missing}"
