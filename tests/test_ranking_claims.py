"""Pareto front and ranking (notebook 07), the claims table and its README block (notebook 08)."""
import numpy as np
import pandas as pd
import pytest

from helpers import claims
from helpers.ranking import pareto_front, ranked_table


def test_pareto_front_hand_computed():
    # (accuracy, mse): b dominates a; c trades accuracy for privacy; d is dominated by c; e ties b exactly
    u = [0.90, 0.95, 0.80, 0.79, 0.95]
    p = [0.01, 0.02, 0.05, 0.04, 0.02]
    assert pareto_front(u, p).tolist() == [False, True, True, False, True]


def test_pareto_front_is_invariant_to_order_and_monotone_rescaling():
    rng = np.random.default_rng(0)
    u, p = rng.random(30), rng.random(30)
    mask = pareto_front(u, p)
    order = rng.permutation(30)
    assert (pareto_front(u[order], p[order]) == mask[order]).all()
    assert (pareto_front(np.exp(u), np.log(p)) == mask).all()
    # on the front, privacy decreases strictly as utility increases
    front = np.argsort(u[mask])
    assert (np.diff(p[mask][front]) < 0).all()


def test_pareto_front_rejects_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        pareto_front([1, 2], [1])
    with pytest.raises(ValueError, match="NaN"):
        pareto_front([1, float("nan")], [1, 2])


def results():
    return pd.DataFrame({"label": ["none", "a", "b", "c"], "accuracy": [0.98, 0.97, 0.90, 0.96],
                         "mse_best": [0.001, 0.004, 0.05, 0.002]})


def test_ranked_table_puts_utility_keepers_first_by_privacy():
    table = ranked_table(results(), "none", accuracy_budget=0.03)
    assert table.label.tolist() == ["a", "c", "none", "b"]
    assert table["rank"].tolist() == [1, 2, 3, 4]
    assert table["keeps utility"].tolist() == [True, True, True, False]
    assert table.set_index("label")["privacy vs none"].to_dict() == pytest.approx(
        {"none": 1.0, "a": 4.0, "b": 50.0, "c": 2.0})
    assert table.set_index("label").pareto.to_dict() == {"none": True, "a": True, "b": True, "c": False}


def test_ranked_table_rejects_bad_arguments():
    with pytest.raises(ValueError, match="no row labelled"):
        ranked_table(results(), "missing", 0.03)
    with pytest.raises(ValueError, match="non-negative"):
        ranked_table(results(), "none", -0.1)


@pytest.mark.parametrize("text, expected", [
    ("reproduced", "reproduced"), ("reproduced (larger)", "reproduced"),
    ("reproduced; the payload alone ranks about as well", "reproduced"),
    ("same direction, larger", "same direction"), ("partly", "same direction"),
    ("raw: reproduced; scale-free: at the output only", "same direction"),
    ("not reproduced", "not reproduced"), (" Not reproduced ", "not reproduced")])
def test_normalise_verdict(text, expected):
    assert claims.normalise_verdict(text) == expected


def test_normalise_verdict_refuses_what_it_cannot_read():
    with pytest.raises(ValueError, match="cannot read"):
        claims.normalise_verdict("maybe")


def test_collect_and_readme_block(tmp_path):
    pd.DataFrame({"claim": ["x | y"], "paper": ["> 4×"], "ours": ["5×"], "verdict": ["reproduced (larger)"]}
                 ).to_csv(tmp_path / "02_claims.csv", index=False)
    pd.DataFrame({"claim": ["z"], "paper": ["30%"], "ours": ["3%"], "verdict": ["partly"]}
                 ).to_csv(tmp_path / "04_claims.csv", index=False)
    table = claims.collect(tmp_path)
    assert table.source.tolist() == ["GPZ", "SiftFunnel"]
    assert table.verdict.tolist() == ["reproduced", "same direction"]
    assert table.scale.tolist() == ["unregistered"] * 2
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{claims.README_START}\nold\n{claims.README_END}\noutro\n")
    assert claims.update_readme(table, readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| GPZ | x \\| y | > 4× | 5× | unregistered | reproduced |" in text
    assert not claims.update_readme(table, readme)   # idempotent


def test_collect_needs_claims(tmp_path):
    with pytest.raises(FileNotFoundError, match="make figures"):
        claims.collect(tmp_path)


def test_readme_shows_the_published_claims():
    from helpers import paths

    text = (paths.ROOT / "README.md").read_text()
    assert claims.readme_block(claims.collect()) in text, "run `make figures` (it rewrites the README table)"
