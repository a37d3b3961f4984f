"""Claims: the papers' claims and the one rule that judges them (notebooks 02, 04-07 write, 08 reads).

:mod:`.registry` (the claims and the rule's constants), :mod:`.rule` (interval and verdict),
:mod:`.store` (claim rows and their files), :mod:`.report` (the published table).

A claim is defined once, here, in :data:`CLAIMS`: what the paper says, the quantity we measure for
it, which direction supports the paper, a threshold fixed before any run and, for equivalence
claims, a margin. A notebook only measures: :func:`record` turns one seed's value into a row, and
the rows of all seeds go to ``figures/NN_claims.csv`` (seed 0, published with the notebook's
figures) and ``figures/claims/NN_claims_seedS.csv`` (seeds >= 1, ``make claims``). No notebook
writes a verdict: :func:`judge` computes it from the rows of every seed present.

**The rule.** From the values of at least :data:`MIN_SEEDS` seeds, an interval at level :data:`LEVEL`:
the t-interval of their mean (on the log scale for ratios, then mapped back), or, for a count
(``statistic="count"``: successes out of trials in each seed), the exact Clopper-Pearson interval of
the share pooled over seeds. For a claim "greater than the threshold t" with no-effect value n (n <= t):

* **reproduced**: low > t - margin (the interval lies on the paper's side; larger than the
  paper counts the same as equal);
* **same direction**: low > n, but not reproduced (an effect in the paper's direction, not the
  paper's size);
* **not reproduced**: high <= t - margin and low <= n (the interval excludes the paper's side);
* **inconclusive**: anything else (the interval straddles the threshold and no effect), and every
  claim with fewer than three seeds.

"less than" claims are the mirror image; a claim without a no-effect value (a bound such as
"accuracy loss < 3 points") has no "same direction". An equivalence claim ("within ±m of t") is
reproduced when the interval lies inside [t - m, t + m], not reproduced when it lies outside it,
inconclusive otherwise. An "≈ X" claim (``magnitude``) is reproduced when the interval lies inside
[X / 2, 2 X] (:data:`MAGNITUDE_FACTOR`), **magnitude differs** when it lies wholly outside that band
with the effect's direction certain (the factor is shown), same direction when only the direction is
certain, not reproduced when it lies short of the band without a certain effect. Three more cases:

* a claim whose stated **condition** (e.g. "SiftFunnel within the accuracy budget") failed in any
  seed is **condition not met**, whatever its interval;
* a design constant (``statistic="constant"``, e.g. the funnel's FLOPs) is **by construction**:
  no interval, no verdict on the paper;
* a ratio against an MSE below :data:`MSE_FLOOR` (an attack that inverts as well as it can) is
  recorded as a bound (:func:`floored_ratio`); a verdict from bounds stands only where the true
  values could not undo it, otherwise it is inconclusive;
* a claim measured in several readings follows its **primary** reading, the paper-faithful one,
  named before the run (:data:`EVERY_READING`: all of them, the weakest verdict decides); the other
  readings are shown beside it.

Accuracy budgets are read one way everywhere: percentage points of test accuracy
(:data:`ACCURACY_BUDGET_POINTS`: "< 3%" is "loses less than 3 points"), no extra tolerance.
"""
from __future__ import annotations

from .registry import (ACCURACY_BUDGET_POINTS, CLAIM_NOTEBOOKS, CLAIMS, DEFAULT_DATASET, DIRECTIONS, EVERY_READING,
                       LEVEL, MAGNITUDE_FACTOR, MIN_SEEDS, MSE_FLOOR, SEED_FOLDER, SECOND_DATASET, STATISTICS,
                       STRONG_COLUMN, STRONG_NOTEBOOKS, STRONG_VARIANT, VERDICTS, Claim)
from .report import (claim_table, collect, comparison_table, markdown_table, published_table, with_dataset,
                     with_variant)
from .rule import REVERSAL, clopper_pearson, compare_runs, judge, t_interval, verdict
from .store import (collect_rows, combined_bound, complete_run_rows, complete_variant_rows, floored_ratio, mse_text,
                    record, rows_frame, seed_file)

__all__ = ["ACCURACY_BUDGET_POINTS", "CLAIM_NOTEBOOKS", "CLAIMS", "DEFAULT_DATASET", "DIRECTIONS",
           "EVERY_READING", "LEVEL", "MAGNITUDE_FACTOR", "MIN_SEEDS", "MSE_FLOOR", "REVERSAL", "SECOND_DATASET",
           "SEED_FOLDER", "STATISTICS", "STRONG_COLUMN", "STRONG_NOTEBOOKS", "STRONG_VARIANT", "VERDICTS",
           "Claim", "claim_table", "clopper_pearson", "collect", "collect_rows", "combined_bound",
           "compare_runs", "comparison_table", "complete_run_rows", "complete_variant_rows", "floored_ratio",
           "judge", "markdown_table", "mse_text", "published_table", "record", "rows_frame", "seed_file",
           "t_interval", "verdict", "with_dataset", "with_variant"]
