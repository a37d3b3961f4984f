"""Claims: the papers' claims and the one rule that judges them (notebooks 02, 04-07 write, 08 reads).

:mod:`.registry` (the claims and the rule's constants), :mod:`.rule` (interval and verdict),
:mod:`.store` (claim rows and their files), :mod:`.report` (the published table).

A claim is defined once, here, in :data:`CLAIMS`: what the paper says, the quantity we measure for
it, which direction supports the paper, a threshold fixed before any run and, for equivalence
claims, a margin. A notebook only measures: :func:`record` turns one seed's value into a row, and
the rows of all seeds go to ``figures/NN_claims.csv`` (seed 0, published with the notebook's
figures) and ``figures/claims/NN_claims_seedS.csv`` (seeds >= 1, ``make claims``). No notebook
writes a verdict: :func:`judge` computes it from the rows of every seed present.

**The rule.** From the values of at least :data:`MIN_SEEDS` seeds, the 95% t-interval of their mean
[low, high] (on the log scale for ratios, then mapped back). For a claim "greater than the
threshold t" with no-effect value n (n <= t):

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
inconclusive otherwise. A claim measured in several readings (say raw R_c² and R_c²/global
variance) is **qualified** when its readings get different verdicts; each reading is shown.

Accuracy budgets are read one way everywhere: percentage points of test accuracy
(:data:`ACCURACY_BUDGET_POINTS`: "< 3%" is "loses less than 3 points"), no extra tolerance.
"""
from __future__ import annotations

from .registry import (ACCURACY_BUDGET_POINTS, CLAIMS, DEFAULT_DATASET, DIRECTIONS, LEVEL, MIN_SEEDS, SEED_FOLDER,
                       STRONG_COLUMN, STRONG_NOTEBOOKS, STRONG_VARIANT, VERDICTS, Claim)
from .report import claim_table, collect, comparison_table, markdown_table, published_table, with_variant
from .rule import REVERSAL, compare_runs, judge, t_interval, verdict
from .store import collect_rows, complete_variant_rows, record, rows_frame, seed_file

__all__ = ["ACCURACY_BUDGET_POINTS", "CLAIMS", "DEFAULT_DATASET", "DIRECTIONS", "LEVEL", "MIN_SEEDS", "REVERSAL",
           "SEED_FOLDER", "STRONG_COLUMN", "STRONG_NOTEBOOKS", "STRONG_VARIANT", "VERDICTS", "Claim", "claim_table",
           "collect", "collect_rows", "compare_runs", "comparison_table", "complete_variant_rows", "judge",
           "markdown_table", "published_table", "record", "rows_frame", "seed_file", "t_interval", "verdict",
           "with_variant"]
