"""The verdict engine (helpers/claims.py): hand-made intervals for every verdict, the t-interval
against hand-computed values, readings that disagree, and the files of several seeds."""
import math

import pandas as pd
import pytest

from helpers import claims
from helpers.claims import Claim, verdict
from helpers.pipeline import publish

GREATER = Claim("t.greater", "T", "s", "> 4", "q", "×", "greater", 4.0, null=1.0)
LESS = Claim("t.less", "T", "s", "< 1", "q", "×", "less", 1.0, null=1.0)
BOUND = Claim("t.bound", "T", "s", "< 3", "q", "points", "less", 3.0)
WITHIN = Claim("t.within", "T", "s", "same", "q", "points", "within", 0.0, margin=1.0)


@pytest.mark.parametrize("low, high, expected", [
    (4.5, 9.0, "reproduced"),           # wholly above the paper's threshold (larger counts the same)
    (2.0, 5.0, "same direction"),       # excludes no effect (1), not the threshold
    (1.5, 3.0, "same direction"),       # an effect, but smaller than the paper's
    (0.5, 3.0, "not reproduced"),       # excludes the paper's side, not no effect
    (0.2, 0.8, "not reproduced"),       # the opposite effect
    (0.5, 6.0, "inconclusive"),         # straddles no effect and the threshold
    (4.0, 4.0, "same direction"),       # exactly at the threshold: the paper's side is strictly above
])
def test_greater_claim(low, high, expected):
    assert verdict(GREATER, low, high, 3) == expected


def test_a_point_at_no_effect_is_not_reproduced():
    direction_only = Claim("t.direction", "T", "s", "yes", "q", "cuts", "greater", 0.0, null=0.0)
    assert verdict(direction_only, 0.0, 0.0, 3) == "not reproduced"   # "moves earlier" by 0 cuts in every seed
    assert verdict(direction_only, 0.5, 1.5, 3) == "reproduced"


@pytest.mark.parametrize("low, high, expected", [
    (0.2, 0.9, "reproduced"), (1.1, 1.5, "not reproduced"), (0.8, 1.2, "inconclusive"), (1.0, 1.0, "not reproduced")])
def test_less_claim_mirrors_greater(low, high, expected):
    assert verdict(LESS, low, high, 5) == expected


@pytest.mark.parametrize("low, high, expected", [
    (1.0, 2.9, "reproduced"), (3.1, 4.0, "not reproduced"), (2.0, 4.0, "inconclusive"), (-5.0, -1.0, "reproduced")])
def test_bound_claim_has_no_same_direction(low, high, expected):
    assert verdict(BOUND, low, high, 3) == expected


@pytest.mark.parametrize("low, high, expected", [
    (-0.5, 0.9, "reproduced"), (-1.0, 1.0, "reproduced"), (1.2, 2.0, "not reproduced"), (-3.0, -1.5, "not reproduced"),
    (0.5, 1.5, "inconclusive"), (-2.0, 2.0, "inconclusive")])
def test_equivalence_claim(low, high, expected):
    assert verdict(WITHIN, low, high, 3) == expected


def test_margin_moves_the_paper_side():
    near = Claim("t.near", "T", "s", "≈ 66%", "q", "%", "greater", 66.0, null=0.0, margin=16.0)
    assert verdict(near, 55.0, 70.0, 3) == "reproduced"        # above 66 − 16 = 50
    assert verdict(GREATER, 55.0, 70.0, 3) == "reproduced"     # (unit-free check of the same shape)
    assert verdict(near, 40.0, 70.0, 3) == "same direction"


def test_fewer_than_three_seeds_is_inconclusive():
    assert verdict(GREATER, 10.0, 20.0, 2) == "inconclusive"
    assert verdict(GREATER, math.nan, math.nan, 1) == "inconclusive"


def test_t_interval_hand_computed():
    # values 1, 2, 3: mean 2, s = 1, t(0.975; 2) = 4.302653, half-width 4.302653/√3 = 2.484138
    mean, low, high, n = claims.t_interval([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3)
    assert low == pytest.approx(2 - 2.484138, abs=1e-5) and high == pytest.approx(2 + 2.484138, abs=1e-5)
    # NaN values are dropped; a single value has no interval
    assert claims.t_interval([5.0, math.nan])[1:] == (pytest.approx(math.nan, nan_ok=True),) * 2 + (1,)


def test_t_interval_on_the_log_scale_is_geometric():
    mean, low, high, _ = claims.t_interval([1.0, 10.0, 100.0], log=True)
    assert mean == pytest.approx(10.0)
    # log10 values 0, 1, 2: the same half-width as above, in decades
    assert math.log10(high) - 1 == pytest.approx(2.484138, abs=1e-5)
    assert math.log10(low) - 1 == pytest.approx(-2.484138, abs=1e-5)


def test_identical_values_give_a_point_interval():
    mean, low, high, n = claims.t_interval([0.7, 0.7, 0.7])
    assert (mean, low, high) == pytest.approx((0.7, 0.7, 0.7)) and n == 3


def test_claim_definitions_are_validated():
    with pytest.raises(ValueError, match="direction"):
        Claim("x", "T", "s", "p", "q", "u", "bigger", 1.0)
    with pytest.raises(ValueError, match="paper's side"):
        Claim("x", "T", "s", "p", "q", "u", "greater", 1.0, null=2.0)
    with pytest.raises(ValueError, match="log-scale"):
        Claim("x", "T", "s", "p", "q", "u", "greater", 0.0, null=0.0, log=True)
    for claim in claims.CLAIMS.values():   # every registered claim passed the same checks
        assert claim.direction in claims.DIRECTIONS


def test_record_refuses_bad_input():
    with pytest.raises(ValueError, match="unknown claim"):
        claims.record("no.such", 0, 1.0)
    with pytest.raises(ValueError, match="seed"):
        claims.record("gpz.split_gain", -1, 5.0)
    with pytest.raises(ValueError, match="ratio"):
        claims.record("gpz.split_gain", 0, 0.0)
    with pytest.raises(ValueError, match="once"):
        claims.rows_frame([claims.record("sift.edge", 0, 40.0)] * 2)


def _rows(values: dict, claim_id="gpz.split_gain"):
    return [claims.record(claim_id, seed, v, reading=reading) for reading, per_seed in values.items()
            for seed, v in enumerate(per_seed)]


def test_readings_that_disagree_under_every_reading_give_the_weakest_verdict():
    """gpz.split_gain holds "across four vision models": every architecture must reproduce it."""
    rows = claims.rows_frame(_rows({"vgg": [30.0, 40.0, 35.0], "resnet": [0.9, 0.8, 1.1]}))
    table = claims.claim_table(rows)
    assert table.verdict.item() == "not reproduced"
    assert table.detail.item() == "vgg: reproduced; resnet: not reproduced"
    agree = claims.claim_table(claims.rows_frame(_rows({"vgg": [30.0, 40.0, 35.0], "resnet": [20.0, 25.0, 30.0]})))
    assert agree.verdict.item() == "reproduced" and agree["n seeds"].item() == 3


def _mi_rows(mine: list, ksg: list, met=(True, True, True)):
    """sift.mi_cut (> 50%, primary MINE) in two readings, SiftFunnel's condition per seed."""
    return claims.rows_frame([claims.record("sift.mi_cut", seed, value, reading=reading, condition_met=met[seed])
                              for reading, values in (("KSG", ksg), ("MINE", mine)) for seed, value in enumerate(values)])


def test_the_primary_reading_decides_and_comes_first():
    table = claims.claim_table(_mi_rows(mine=[60.0, 62.0, 64.0], ksg=[10.0, 20.0, 30.0])).iloc[0]
    assert table.verdict == "reproduced"   # MINE's; KSG's alone would be not reproduced
    assert table["we measure"].startswith("MINE (primary) 62 % [57, 67]; KSG 20 % [") and "" in table["we measure"]
    assert table.detail == "MINE: reproduced; KSG: not reproduced"
    flipped = claims.claim_table(_mi_rows(mine=[10.0, 20.0, 30.0], ksg=[60.0, 62.0, 64.0])).iloc[0]
    assert flipped.verdict == "not reproduced"


def test_an_unmeasured_primary_reading_is_inconclusive_and_a_claim_without_one_is_refused():
    rows = claims.rows_frame([claims.record("sift.mi_cut", s, 60.0 + s, reading="KSG", condition_met=True)
                              for s in range(3)])
    assert claims.claim_table(rows).verdict.item() == "inconclusive"
    loose = Claim("gpz.loose", "T", "s", "p", "q", "×", "greater", 4.0, null=1.0, log=True)
    judged = pd.DataFrame({"id": ["gpz.loose"] * 2, "reading": ["a", "b"], "verdict": ["reproduced"] * 2})
    with pytest.raises(ValueError, match="names no primary reading"):
        claims.report.primary_verdict(loose, judged)


def test_a_condition_failing_in_one_seed_blocks_reproduced():
    """MINE's cut is far above 50% in every seed, but SiftFunnel missed its accuracy budget in seed 1."""
    met = claims.claim_table(_mi_rows(mine=[60.0, 62.0, 64.0], ksg=[60.0, 61.0, 62.0])).iloc[0]
    assert met.verdict == "reproduced"
    failed = claims.claim_table(_mi_rows([60.0, 62.0, 64.0], [60.0, 61.0, 62.0], met=(True, False, True))).iloc[0]
    assert failed.verdict == "condition not met" and failed.detail == "MINE: condition not met; KSG: condition not met"
    assert failed["we measure"].endswith("(n=3; condition failed: seeds 1)")
    assert "only if SiftFunnel within the accuracy budget in every seed" in failed.rule


def test_a_claim_with_a_condition_needs_it_recorded(tmp_path):
    with pytest.raises(ValueError, match="condition_met"):
        claims.record("sift.mse_gain", 0, 90.0)
    with pytest.raises(ValueError, match="condition_met"):
        claims.record("sift.edge", 0, 43.0, condition_met=True)   # states none
    rows = claims.rows_frame([claims.record("sift.mse_gain", s, 90.0, condition_met=True) for s in range(3)])
    rows["condition met"] = rows["condition met"].astype(object)
    rows.loc[1, "condition met"] = None   # e.g. a file written before conditions were recorded
    with pytest.raises(ValueError, match=r"seeds \[1\] do not record"):
        claims.judge(rows)
    rows.loc[1, "condition met"] = False   # read back from a CSV: True/False as text
    rows.to_csv(tmp_path / "04_claims.csv", index=False)
    assert claims.collect(tmp_path).verdict.item() == "condition not met"


@pytest.mark.parametrize("low, high, expected", [
    (20.0, 50.0, "reproduced"),          # inside [30/2, 30·2]
    (68.6, 112.0, "magnitude differs"),  # wholly above the band: the effect, at about 3× the paper's size
    (5.0, 10.0, "magnitude differs"),    # wholly below the band, but clear of no effect
    (40.0, 80.0, "same direction"),      # straddles the upper edge: direction sure, size not
    (-5.0, 10.0, "not reproduced"),      # below the band and not clear of no effect
    (-5.0, 20.0, "inconclusive"),        # reaches into the band and below no effect
])
def test_an_approximate_claim_is_judged_by_its_magnitude_band(low, high, expected):
    approx = Claim("t.approx", "T", "s", "≈ +30%", "q", "%", "greater", 30.0, null=0.0, magnitude=(30.0, 30.0))
    assert claims.rule.magnitude_band(approx) == (15.0, 60.0)
    assert verdict(approx, low, high, 3) == expected


def test_a_threefold_magnitude_is_shown_with_its_factor():
    rows = claims.rows_frame([claims.record("gpz.decision_gain", s, v) for s, v in enumerate([190.0, 200.0, 204.0])])
    row = claims.claim_table(rows).iloc[0]
    assert row.verdict == "magnitude differs"   # ≈ 66%: band [33, 132]
    assert row["we measure"] == "198 % [180, 216], 3× the paper's (n=3)"
    assert claims.rule.magnitude_factor(claims.CLAIMS["cem.gain"], 30.0) == 1.0   # inside 12.9-48.2
    assert claims.rule.magnitude_factor(claims.CLAIMS["cem.gain"], 96.4) == pytest.approx(2.0)
    assert claims.rule.magnitude_factor(claims.CLAIMS["cem.gain"], 6.45) == pytest.approx(0.5)


def test_a_count_gets_its_exact_interval():
    # closed forms at the ends: 0 of n -> [0, 1 - 0.025^(1/n)], n of n -> [0.025^(1/n), 1]
    assert claims.rule.clopper_pearson(0, 3) == pytest.approx((0.0, 0.0, 1 - 0.025 ** (1 / 3)))
    assert claims.rule.clopper_pearson(3, 3) == pytest.approx((1.0, 0.025 ** (1 / 3), 1.0))
    share, low, high = claims.rule.clopper_pearson(2, 9)
    assert (share, 1 - high, 1 - low) == pytest.approx((2 / 9, *claims.rule.clopper_pearson(7, 9)[1:]))  # symmetry
    assert low == pytest.approx(0.0281, abs=5e-5) and high == pytest.approx(0.6001, abs=5e-5)   # tables
    rows = claims.rows_frame([claims.record("gpz.ls_earlier", s, 0, trials=1) for s in range(3)])
    row = claims.judge(rows).iloc[0]
    assert (row["mean"], row["low"], row["high"]) == pytest.approx((0.0, 0.0, 0.7076), abs=1e-4)
    assert row.verdict == "inconclusive" and (row["successes"], row["trials"]) == (0, 3)   # 0 of 3 cannot exclude a share > 0.5
    six = claims.rows_frame([claims.record("gpz.ls_earlier", s, 0, trials=1) for s in range(6)])
    assert claims.judge(six).verdict.item() == "not reproduced"   # 0 of 6: [0, 0.459]
    with pytest.raises(ValueError, match="trials"):
        claims.record("gpz.ls_earlier", 0, 0)
    with pytest.raises(ValueError, match="whole successes"):
        claims.record("gpz.transition", 0, 4, reading="x", trials=3)


def test_a_design_constant_is_by_construction_without_interval():
    rows = claims.rows_frame([claims.record("sift.edge", s, 43.3) for s in range(3)])
    row = claims.claim_table(rows).iloc[0]
    assert row.verdict == "by construction" and row["we measure"] == "43.3 × (by construction) (n=3)"
    assert math.isnan(claims.judge(rows).low.item())
    # a seed whose funnel had to be widened further: the range of the designs, still no interval
    moved = claims.rows_frame([claims.record("sift.edge", s, v) for s, v in enumerate((20.0, 20.0, 160.0))])
    row = claims.claim_table(moved).iloc[0]
    assert row.verdict == "by construction"
    assert row["we measure"] == "20–160 × (by construction; the design differs between seeds) (n=3)"
    judged = claims.judge(moved).iloc[0]
    assert (judged["mean"], judged["low"], judged["high"]) == pytest.approx((40.0, 20.0, 160.0))   # geometric


def test_new_claim_fields_are_validated():
    with pytest.raises(ValueError, match="statistic"):
        Claim("x", "T", "s", "p", "q", "u", "greater", 0.5, null=0.0, statistic="median")
    with pytest.raises(ValueError, match="share"):
        Claim("x", "T", "s", "p", "q", "u", "greater", 2.0, null=0.0, statistic="count")
    with pytest.raises(ValueError, match="beyond no effect"):
        Claim("x", "T", "s", "p", "q", "u", "greater", 30.0, null=20.0, magnitude=(10.0, 30.0))
    with pytest.raises(ValueError, match="magnitude"):
        Claim("x", "T", "s", "p", "q", "u", "within", 0.0, margin=1.0, magnitude=(1.0, 2.0))


def test_the_published_table_names_a_primary_and_publishes_no_zero_width_interval():
    """Every claim measured in several readings names the one its verdict follows, and an interval
    of zero width appears only where it is exact (a count) or where there is none (by construction)."""
    judged = claims.judge(claims.collect_rows())
    for claim_id, part in judged.groupby("id"):
        claim = claims.CLAIMS[claim_id]
        if len(part) > 1:   # a primary reading the committed runs lack leaves its claim inconclusive
            assert claim.primary is not None, claim_id
            if claim.primary != claims.EVERY_READING and claim.primary not in set(part.reading):
                table = claims.claim_table(claims.collect_rows().query("id == @claim_id"))
                assert table.verdict.item() == "inconclusive" and "not measured" in table["we measure"].item()
        if claim.statistic == "mean":
            assert (part.high > part.low).all(), claim_id
    assert "qualified" not in claims.VERDICTS


def test_seed_files_are_collected_and_deduplicated(tmp_path):
    seed0 = claims.rows_frame([claims.record("sift.edge", 0, 43.0), claims.record("gpz.ls_attack", 0, 1.1),
                               claims.record("gpz.ls_attack", 1, 1.2)])
    seed0.to_csv(tmp_path / "04_claims.csv", index=False)
    later = [claims.record("sift.edge", s, 43.0) for s in (1, 2)] + [claims.record("gpz.ls_attack", 1, 1.2)]
    claims.seed_file("04", 1, tmp_path).parent.mkdir()
    claims.rows_frame(later).to_csv(claims.seed_file("04", 1, tmp_path), index=False)
    rows = claims.collect_rows(tmp_path)
    assert len(rows) == 5   # the repeated (gpz.ls_attack, seed 1) row counts once
    table = claims.collect(tmp_path).set_index("id")
    assert table.loc["sift.edge", "verdict"] == "by construction" and table.loc["sift.edge", "n seeds"] == 3
    assert table.loc["gpz.ls_attack", "verdict"] == "inconclusive"   # two seeds only
    assert table.loc["sift.edge", "scale"] == "unregistered"


def test_a_seeds_own_run_decides_where_runs_disagree_and_other_conflicts_are_an_error(tmp_path):
    """Notebook 02 records its label-smoothing arms for seeds 0-2 in every run; on another CPU a cold
    make figures rewrites seed 0's file with slightly different floats: each seed's own run is used,
    with a warning. Two runs that disagree about a seed neither of them is fails."""
    claims.rows_frame([claims.record("gpz.ls_attack", s, v) for s, v in ((0, 1.10), (1, 1.21), (2, 1.30))]
                      ).to_csv(tmp_path / "02_claims.csv", index=False)
    claims.seed_file("02", 1, tmp_path).parent.mkdir()
    claims.rows_frame([claims.record("gpz.ls_attack", s, v) for s, v in ((0, 1.11), (1, 1.20), (2, 1.30))]
                      ).to_csv(claims.seed_file("02", 1, tmp_path), index=False)
    with pytest.warns(UserWarning, match=r"2 claim rows differ .* at most 0.90% apart.*own run is used"):
        rows = claims.collect_rows(tmp_path)
    assert rows.set_index("seed").value.to_dict() == {0: 1.10, 1: 1.20, 2: 1.30}
    assert rows.set_index("seed").file.to_dict() == {0: "02_claims.csv", 1: "02_claims_seed1.csv",
                                                     2: "02_claims.csv"}
    claims.rows_frame([claims.record("gpz.ls_attack", s, v) for s, v in ((1, 1.20), (2, 1.31))]
                      ).to_csv(claims.seed_file("02", 1, tmp_path), index=False)
    with pytest.raises(ValueError, match="none from that seed's own run"):
        claims.collect_rows(tmp_path)   # seed 2 differs between the runs of seeds 0 and 1


def test_collect_needs_claims(tmp_path):
    with pytest.raises(FileNotFoundError, match="make figures"):
        claims.collect(tmp_path)


def test_readme_block_is_rewritten_idempotently(tmp_path):
    table = claims.claim_table(claims.rows_frame(_rows({"": [6.0, 7.0, 8.0]})))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{publish.README_START}\nold\n{publish.README_END}\noutro\n")
    table["scale"] = "quick"
    assert publish.update_readme(table, readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| GPZ | GPZ split: > 4× the MSE of shallow splits | > 4× (IR-152) | 6.95 × [" in text
    assert "(n=3) | reproduced |" in text and "Every claim at scale `quick` on mnist5k. 1 claims" in text
    assert "no effect" not in text, "the short form leaves the rule to the book's full table"
    assert "Column `" not in text, "no second dataset: nothing to explain"
    assert not publish.update_readme(table, readme)
    publish.update_readme(table.assign(**{claims.SECOND_DATASET: "inconclusive (differs)"}), readme)
    assert f"Column `{claims.SECOND_DATASET}`: the verdict on that dataset's own seeds" in readme.read_text()
    assert "| reproduced | inconclusive (differs) |" in readme.read_text()
    table.loc[0, "scale"] = "paper"
    table = pd.concat([table, table.assign(scale="quick")])
    assert publish.update_readme(table, readme)
    assert "| verdict | scale |" in readme.read_text(), "mixed scales: the column comes back"


def test_the_full_table_keeps_the_rule_and_the_scale():
    table = claims.claim_table(claims.rows_frame(_rows({"": [6.0, 7.0, 8.0]}))).assign(scale="quick")
    assert "| > 4; no effect 1 | quick | reproduced |" in claims.markdown_table(table)


def test_readme_shows_the_published_claims():
    from helpers.core import paths

    text = (paths.ROOT / "README.md").read_text()
    assert publish.readme_block(publish.published_table()) in text, "run `make figures` (it rewrites the README table)"


def _write_variant(folder, seeds_values, claim_id="gpz.split_gain", number="04"):
    for seed, value in seeds_values:
        target = claims.seed_file(number, seed, folder, variant=claims.STRONG_VARIANT)
        target.parent.mkdir(parents=True, exist_ok=True)
        condition = {"condition_met": True} if claims.CLAIMS[claim_id].condition else {}
        claims.rows_frame([claims.record(claim_id, seed, value, **condition)]).to_csv(target, index=False)


def test_the_strong_attacker_column_waits_for_three_seeds(tmp_path):
    """gpz.split_gain (> 4x, no effect 1) is reproduced in the default run; gpz.ls_attack is not rerun.
    Against the strong attacker, two seeds give no column; three seeds of 2, 2.5 and 3 (geometric
    mean 2.47x, interval [1.50, 4.07]: above 1, not above 4) make the strong verdict "same direction"."""
    default = [claims.record("gpz.split_gain", s, 43.0) for s in range(3)] + \
              [claims.record("gpz.ls_attack", s, v) for s, v in enumerate([1.1, 1.2, 1.15])]
    claims.rows_frame(default).to_csv(tmp_path / "04_claims.csv", index=False)
    assert claims.complete_variant_rows(claims.STRONG_VARIANT, tmp_path) is None   # no folder yet
    _write_variant(tmp_path, [(0, 2.0), (1, 2.5)])
    assert claims.complete_variant_rows(claims.STRONG_VARIANT, tmp_path) is None   # two seeds
    assert claims.STRONG_COLUMN not in claims.published_table(tmp_path).columns
    _write_variant(tmp_path, [(2, 3.0)])
    assert claims.STRONG_COLUMN not in claims.published_table(tmp_path).columns   # 06 and 07 still missing
    for claim_id, number in [("patrol.depth", "06"), ("cross.siftfunnel_best", "07")]:
        _write_variant(tmp_path, [(0, 2.0), (1, 3.0), (2, 4.0)], claim_id=claim_id, number=number)
    table = claims.published_table(tmp_path).set_index("id")
    assert table.loc["gpz.split_gain", "verdict"] == "reproduced"
    assert table.loc["gpz.split_gain", claims.STRONG_COLUMN] == "same direction"
    assert table.loc["gpz.ls_attack", claims.STRONG_COLUMN] == "not rerun"
    assert "| reproduced | same direction |" in claims.markdown_table(table.reset_index())
    assert claims.STRONG_COLUMN in claims.markdown_table(table.reset_index()).splitlines()[0]


def test_a_partial_strong_run_adds_no_column(tmp_path):
    """A crashed or unfinished run must neither publish "inconclusive" for a claim on one seed nor
    call a notebook's claims "not rerun": the column waits for every notebook on three seeds."""
    claims.rows_frame([claims.record("gpz.split_gain", s, 43.0) for s in range(3)]).to_csv(tmp_path / "04_claims.csv", index=False)
    (tmp_path / "claims" / claims.STRONG_VARIANT).mkdir(parents=True)
    assert claims.complete_variant_rows(claims.STRONG_VARIANT, tmp_path) is None          # empty folder
    _write_variant(tmp_path, [(0, 40.0), (1, 41.0), (2, 42.0)])
    _write_variant(tmp_path, [(0, 2.0)], claim_id="patrol.depth", number="06")           # 06: seed 0 only
    assert claims.complete_variant_rows(claims.STRONG_VARIANT, tmp_path) is None
    _write_variant(tmp_path, [(1, 3.0), (2, 4.0)], claim_id="patrol.depth", number="06")
    assert claims.complete_variant_rows(claims.STRONG_VARIANT, tmp_path, ("04", "06")) is not None
    assert claims.complete_variant_rows(claims.STRONG_VARIANT, tmp_path, claims.STRONG_NOTEBOOKS) is None  # no 07
    assert claims.STRONG_COLUMN not in claims.published_table(tmp_path).columns
    with pytest.raises(ValueError, match="name the variant"):
        claims.complete_variant_rows("", tmp_path)


def test_make_claims_strong_reruns_the_notebooks_the_column_waits_for():
    from helpers.core import paths

    sweep = [line for line in (paths.ROOT / "Makefile").read_text().splitlines() if "--set attacker=strong" in line]
    assert len(sweep) == 1 and f"--notebooks {' '.join(claims.STRONG_NOTEBOOKS)} " in sweep[0]


def test_a_run_without_rows_gives_an_empty_table():
    table = claims.claim_table(claims.rows_frame([]))
    assert table.empty and "verdict" in table.columns


def test_other_datasets_are_collected_apart_from_the_default(tmp_path):
    claims.rows_frame([claims.record("gpz.ls_attack", 0, 43.0)]).to_csv(tmp_path / "04_claims.csv", index=False)
    for seed, value in [(0, 10.0), (1, 11.0), (2, 12.0)]:
        target = claims.seed_file("04", seed, tmp_path, dataset="cifar10")
        target.parent.mkdir(parents=True, exist_ok=True)
        claims.rows_frame([claims.record("gpz.ls_attack", seed, value)]).to_csv(target, index=False)
    assert claims.seed_file("04", 1, tmp_path, dataset="mnist5k") == claims.seed_file("04", 1, tmp_path)
    assert target == tmp_path / "claims" / "cifar10" / "04_claims_seed2.csv"
    assert claims.collect_rows(tmp_path).value.tolist() == [43.0]   # the default dataset only
    other = claims.collect_rows(tmp_path, dataset="cifar10")
    assert sorted(zip(other.seed, other.value)) == [(0, 10.0), (1, 11.0), (2, 12.0)]
    assert claims.collect(tmp_path, dataset="cifar10").set_index("id").loc["gpz.ls_attack", "n seeds"] == 3


def test_two_runs_compared_reading_by_reading():
    """gpz.split_gain (> 4×): vgg reproduced in both; resnet reproduced, then inconclusive (moved);
    constant reproduced, then not reproduced (reversed: the intervals cannot overlap)."""
    a = claims.rows_frame(_rows({"vgg": [30.0, 40.0, 35.0], "resnet": [20.0, 25.0, 30.0],
                                 "constant": [10.0, 11.0, 12.0], "only in a": [9.0, 9.0, 9.0]}))
    b = claims.rows_frame(_rows({"vgg": [33.0, 38.0, 35.0], "resnet": [1.0, 30.0, 8.0],
                                 "constant": [0.5, 0.6, 0.7]}))
    both = claims.compare_runs(a, b, names=("4 epochs", "6 epochs")).set_index("reading")
    assert list(both.index) == ["vgg", "resnet", "constant"]
    assert both.change.to_dict() == {"vgg": "same", "resnet": "moved", "constant": "reversed"}
    assert both.overlap.to_dict() == {"vgg": True, "resnet": True, "constant": False}
    assert both.loc["constant", "verdict 4 epochs"] == "reproduced"
    assert both.loc["constant", "verdict 6 epochs"] == "not reproduced"
    # geometric mean of 0.5, 0.6, 0.7 on the log scale
    assert both.loc["constant", "mean 6 epochs"] == pytest.approx((0.5 * 0.6 * 0.7) ** (1 / 3))
    shown = claims.comparison_table(both.reset_index(), ("4 epochs", "6 epochs")).set_index("reading")
    assert list(shown.columns) == ["claim", "4 epochs", "verdict 4 epochs", "6 epochs", "verdict 6 epochs",
                                   "change", "overlap"]
    vgg = [claims.report._fmt(both.loc["vgg", f"{part} 4 epochs"]) for part in ("mean", "low", "high")]
    assert shown.loc["vgg", "4 epochs"] == f"{vgg[0]} [{vgg[1]}, {vgg[2]}]"
    assert shown.loc["constant", "claim"] == claims.CLAIMS["gpz.split_gain"].statement


def test_a_ratio_against_an_mse_below_the_floor_is_a_bound():
    floor = claims.MSE_FLOOR
    assert claims.floored_ratio(0.02, 0.01) == (pytest.approx(2.0), "")
    assert claims.floored_ratio(0.0065, 4.3e-7) == (pytest.approx(65.0), "≥")       # at least 0.0065 / 1e-4
    assert claims.floored_ratio(3e-5, 0.0159) == (pytest.approx(floor / 0.0159), "≤")  # at most 1e-4 / 0.0159
    value, bound = claims.floored_ratio(3e-7, 5e-7)
    assert math.isnan(value) and bound == ""   # two exact inversions: no ratio is measured
    with pytest.raises(ValueError, match="positive"):
        claims.floored_ratio(0.0, 0.1)
    with pytest.raises(ValueError, match="bound"):
        claims.record("gpz.ls_attack", 0, 65.0, bound=">")


def _depth(values, bounds):
    return claims.rows_frame([claims.record("gpz.ls_attack", s, v, bound=b) for s, (v, b) in enumerate(zip(values, bounds))])


def test_bounds_keep_only_the_verdicts_the_true_values_could_not_undo():
    """gpz.ls_attack (> 1): lower bounds of 65, 190 and 160 (geometric mean 125) can only be larger: reproduced, shown as
    '≥'; upper bounds far below 1 keep 'not reproduced'; bounds against the verdict, or mixed ones,
    leave the claim inconclusive; a seed with nothing measured is left out of n."""
    lower = claims.claim_table(_depth([65.0, 190.0, 160.0], ["≥"] * 3)).iloc[0]
    assert lower.verdict == "reproduced" and lower["we measure"].startswith("≥ 125 × [")
    upper = claims.judge(_depth([0.006, 0.009, 0.008], ["≤"] * 3)).iloc[0]
    assert upper.verdict == "not reproduced" and upper.bound == "≤"
    against = claims.judge(_depth([0.006, 0.009, 0.008], ["≥", "", "≥"])).iloc[0]
    assert against.verdict == "inconclusive"   # at least 0.006: the true ratio may exceed 1
    mixed = claims.judge(_depth([65.0, 0.009, 160.0], ["≥", "≤", ""])).iloc[0]
    assert mixed.bound == "mixed" and mixed.verdict == "inconclusive"
    unresolved = claims.judge(_depth([65.0, math.nan, 160.0, 90.0], ["≥", "", "≥", "≥"])).iloc[0]
    assert unresolved["n seeds"] == 3 and unresolved.verdict == "reproduced"


def test_a_finished_run_gets_its_column_with_a_claim_it_could_not_measure_in_one_seed(tmp_path):
    """Completeness is a property of the runs: 05 ran on seeds 0-2 of Fashion-MNIST, but in seed 1
    CEM matched none of its bases, so cem.gain has rows of seeds 0 and 2 only. The column appears,
    and cem.gain is judged on its two seeds (n = 2: 20% and 30%, mean 25%, t-interval
    25 ± 12.706 · 5 = [-38.5, 88.5], which holds 12.9: inconclusive), never on a third made up."""
    default = [claims.record("cem.gain", s, v, reading="noise-aware decoder") for s, v in enumerate([20.0, 25.0, 30.0])]
    claims.rows_frame(default).to_csv(tmp_path / "05_claims.csv", index=False)
    for seed in range(3):
        target = claims.seed_file("05", seed, tmp_path, dataset=claims.SECOND_DATASET)
        target.parent.mkdir(parents=True, exist_ok=True)
        measured = [] if seed == 1 else [claims.record("cem.gain", seed, 20.0 + 5 * seed, reading="noise-aware decoder")]
        claims.rows_frame(measured + [claims.record("cem.utility", seed, 0.1)]).to_csv(target, index=False)
        complete = claims.complete_run_rows(tmp_path, ("05",), dataset=claims.SECOND_DATASET)
        assert (complete is None) == (seed < 2), f"complete after seed {seed}: {complete is not None}"
    judged = claims.judge(complete).set_index("id").loc["cem.gain"]
    assert judged["n seeds"] == 2 and judged["mean"] == pytest.approx(25.0)
    assert judged["low"] == pytest.approx(25 - 12.7062 * 5, abs=1e-3) and judged.verdict == "inconclusive"
    table = claims.published_table(tmp_path, notebooks=("05",)).set_index("id")
    assert table.loc["cem.gain", claims.SECOND_DATASET] == "inconclusive (differs)"
    assert claims.complete_run_rows(tmp_path, ("05", "06"), dataset=claims.SECOND_DATASET) is None   # 06 never ran


def test_the_second_dataset_gets_its_column_once_complete_and_differences_are_marked(tmp_path):
    """mnist5k reproduces gpz.ls_attack (1.1, 1.2, 1.15 > 1); on Fashion-MNIST two seeds add no
    column, three of 0.8, 0.85, 0.9 (below 1: not reproduced) add one, marked as differing."""
    default = [claims.record("gpz.ls_attack", s, v) for s, v in enumerate([1.1, 1.2, 1.15])]
    claims.rows_frame(default).to_csv(tmp_path / "02_claims.csv", index=False)
    for seed, value in [(0, 0.8), (1, 0.85)]:
        target = claims.seed_file("02", seed, tmp_path, dataset=claims.SECOND_DATASET)
        target.parent.mkdir(parents=True, exist_ok=True)
        claims.rows_frame([claims.record("gpz.ls_attack", seed, value)]).to_csv(target, index=False)
    assert claims.SECOND_DATASET not in claims.published_table(tmp_path, notebooks=("02",)).columns
    claims.rows_frame([claims.record("gpz.ls_attack", 2, 0.9)]).to_csv(
        claims.seed_file("02", 2, tmp_path, dataset=claims.SECOND_DATASET), index=False)
    assert claims.SECOND_DATASET not in claims.published_table(tmp_path, notebooks=("02", "04")).columns, \
        "04 not run on it yet"
    table = claims.published_table(tmp_path, notebooks=("02",)).set_index("id")
    assert table.loc["gpz.ls_attack", "verdict"] == "reproduced"
    assert table.loc["gpz.ls_attack", claims.SECOND_DATASET] == "not reproduced (differs)"
    assert claims.markdown_table(table.reset_index()).splitlines()[0].endswith(f"| {claims.SECOND_DATASET} |")
