"""The one rule: an interval over seeds (a t-interval of the mean, or an exact interval of a count) and the
verdict it gives (:func:`verdict`, :func:`judge`), and the comparison of two runs claim by claim
(:func:`compare_runs`)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .registry import CLAIMS, LEVEL, MAGNITUDE_FACTOR, MIN_SEEDS, Claim


def t_interval(values, level: float = LEVEL, log: bool = False) -> tuple[float, float, float, int]:
    """(mean, low, high, n): the mean of the finite values and its t-interval (geometric mean and
    the interval of the log values, mapped back, when ``log``). n < 2 gives a NaN interval."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if log:
        values = np.log(values)
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(values.mean())
    if n < 2:
        low = high = math.nan
    else:
        half = _t_quantile(0.5 + level / 2, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
        low, high = mean - half, mean + half
    back = math.exp if log else float   # exp(nan) is nan: a single value keeps its NaN interval
    return back(mean), back(low), back(high), n


def clopper_pearson(successes: int, trials: int, level: float = LEVEL) -> tuple[float, float, float]:
    """(share, low, high): the exact (Clopper-Pearson) interval of a binomial share; never of zero width
    (0 of 3: [0, 0.708])."""
    from scipy.stats import beta

    if not 0 <= successes <= trials or trials < 1:
        raise ValueError(f"a count needs 0 <= successes <= trials and trials >= 1, got {successes} of {trials}")
    tail = (1 - level) / 2
    low = 0.0 if successes == 0 else float(beta.ppf(tail, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(beta.ppf(1 - tail, successes + 1, trials - successes))
    return successes / trials, low, high


def _t_quantile(p: float, dof: int) -> float:
    """Quantile of Student's t."""
    from scipy.stats import t

    return float(t.ppf(p, dof))


def verdict(claim: Claim, low: float, high: float, n: int) -> str:
    """The verdict of one claim (or reading) from its interval [low, high] over n seeds (its
    condition is :func:`judge`'s)."""
    if claim.statistic == "constant":
        return "by construction"
    if n < MIN_SEEDS or not (math.isfinite(low) and math.isfinite(high)):
        return "inconclusive"
    if claim.magnitude is not None:
        return _magnitude_verdict(claim, low, high)
    if claim.direction == "within":
        lo_edge, hi_edge = claim.threshold - claim.margin, claim.threshold + claim.margin
        if lo_edge <= low and high <= hi_edge:
            return "reproduced"
        return "not reproduced" if high < lo_edge or low > hi_edge else "inconclusive"
    sign = 1.0 if claim.direction == "greater" else -1.0   # mirror "less" onto "greater"
    low, high = sorted((sign * low, sign * high))
    edge = sign * claim.threshold - claim.margin
    null = None if claim.null is None else sign * claim.null
    if low > edge:
        return "reproduced"
    if null is not None and low > null:
        return "same direction"
    if high <= edge:
        return "not reproduced"
    return "inconclusive"


def magnitude_band(claim: Claim) -> tuple[float, float]:
    """Where an "≈ X" claim's interval must lie: the paper's value (or range) widened by
    :data:`MAGNITUDE_FACTOR` on either side."""
    return claim.magnitude[0] / MAGNITUDE_FACTOR, claim.magnitude[1] * MAGNITUDE_FACTOR


def magnitude_factor(claim: Claim, mean: float) -> float:
    """How many times the paper's value (the nearer end of its range) our mean is; 1 inside the range."""
    if claim.magnitude is None or not math.isfinite(mean) or mean <= 0:
        return math.nan
    low, high = claim.magnitude
    return mean / high if mean > high else mean / low if mean < low else 1.0


def _magnitude_verdict(claim: Claim, low: float, high: float) -> str:
    """An "≈ X" claim: reproduced inside the band of :func:`magnitude_band`; ``magnitude differs`` when
    the interval lies wholly outside it with the effect in the paper's direction; ``not reproduced``
    when it excludes both the band and that direction's certainty; ``same direction`` when only the
    direction is certain."""
    lo_edge, hi_edge = magnitude_band(claim)
    effect = low > claim.null if claim.direction == "greater" else high < claim.null
    if lo_edge <= low and high <= hi_edge:
        return "reproduced"
    short = high < lo_edge if claim.direction == "greater" else low > hi_edge   # on no effect's side of the band
    beyond = low > hi_edge if claim.direction == "greater" else high < lo_edge
    if beyond or (short and effect):
        return "magnitude differs"
    if short:
        return "not reproduced"
    return "same direction" if effect else "inconclusive"


def interval(claim: Claim, part: pd.DataFrame) -> tuple[float, float, float, int]:
    """(mean, low, high, n seeds) of one reading's rows by the claim's statistic: a t-interval of the
    mean; a count's share of its pooled trials with its exact interval; a constant without interval
    (where a seed's design differs, e.g. SiftFunnel widened further to keep the accuracy budget, the
    range over seeds as low and high, and their mean, geometric for a log claim)."""
    n = int(np.isfinite(part.value.to_numpy(float)).sum())
    if claim.statistic == "count":
        if "trials" not in part or part.trials.isna().any():
            raise ValueError(f"claim {claim.id} is a count: its rows need the number of trials")
        share, low, high = clopper_pearson(int(part.value.sum()), int(part.trials.sum()))
        return share, low, high, n
    if claim.statistic == "constant":
        values = part.value.to_numpy(float)
        values = values[np.isfinite(values)]
        if np.ptp(values) <= 1e-9 * np.abs(values).max():
            return float(values[0]), math.nan, math.nan, n
        mean = float(np.exp(np.log(values).mean())) if claim.log else float(values.mean())
        return mean, float(values.min()), float(values.max()), n
    return t_interval(part.value, log=claim.log)


def condition_failures(claim: Claim, part: pd.DataFrame) -> list[int]:
    """The seeds in which the claim's stated condition failed (rows' ``condition met``)."""
    if not claim.condition:
        return []
    met = part["condition met"] if "condition met" in part else pd.Series(np.nan, index=part.index)
    unknown = part.seed[met.isna()]
    if len(unknown):
        raise ValueError(f"claim {claim.id} holds only if {claim.condition!r}; the rows of seeds "
                         f"{sorted(unknown)} do not record whether it did")
    return sorted(int(s) for s in part.seed[~met.astype(bool)])


def bounds_of(part: pd.DataFrame) -> str:
    """The one kind of bound among a reading's measured values ("" when all are exact, "mixed" when
    lower and upper bounds meet)."""
    if "bound" not in part:
        return ""
    found = set(part.bound[np.isfinite(part.value.to_numpy(float))].fillna("")) - {""}
    return "" if not found else found.pop() if len(found) == 1 else "mixed"


def bounded_verdict(claim: Claim, found: str, judged: str) -> str:
    """A verdict from values that are only bounds (an MSE below the attacks' floor) stands where the
    true values could only strengthen it: lower bounds on a "greater" claim (upper on a "less" one)
    keep "reproduced" and "same direction"; bounds the other way keep "not reproduced". Anything
    else, an "≈" claim's size, an equivalence or mixed bounds, is inconclusive."""
    if not found or judged in ("condition not met", "by construction"):
        return judged
    if found == "mixed" or claim.direction == "within":
        return "inconclusive"
    toward_paper = (found == "≥") == (claim.direction == "greater")
    kept = ({"same direction"} | ({"reproduced"} if claim.magnitude is None else set())) if toward_paper \
        else {"not reproduced"}
    return judged if judged in kept else "inconclusive"


def judge(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per claim and reading: seeds, mean, interval, verdict, the seeds whose condition failed
    (any blocks every other verdict) and, for an "≈ X" claim, how many times the paper's value the
    mean is (:func:`claim_table` then gives each claim the verdict of its primary reading)."""
    out = []
    for (claim_id, reading), part in rows.groupby(["id", "reading"], sort=False):
        claim = CLAIMS[claim_id]
        part = part.drop_duplicates("seed")
        mean, low, high, n = interval(claim, part)
        failed, bound = condition_failures(claim, part), bounds_of(part)
        successes, trials = ((int(part.value.sum()), int(part.trials.sum())) if claim.statistic == "count"
                             else (math.nan, math.nan))
        out.append({"id": claim_id, "reading": reading, "n seeds": n,
                    "seeds": ",".join(str(s) for s in sorted(part.seed)), "mean": mean, "low": low, "high": high,
                    "verdict": "condition not met" if failed else bounded_verdict(claim, bound,
                                                                                  verdict(claim, low, high, n)),
                    "bound": bound,
                    "condition failed": ",".join(map(str, failed)), "factor": magnitude_factor(claim, mean),
                    "successes": successes, "trials": trials})
    return pd.DataFrame(out)


REVERSAL = {"reproduced", "not reproduced"}


def compare_runs(rows_a: pd.DataFrame, rows_b: pd.DataFrame, names: tuple[str, str] = ("a", "b")) -> pd.DataFrame:
    """Each claim reading judged in two runs (e.g. two classifier budgets), side by side.

    ``change``: ``same``; ``reversed`` when one run reproduces what the other does not (the rule
    then needs the two intervals on opposite sides of the threshold: they cannot overlap, so a
    reversal is a measured dependence on what differs between the runs, never seed noise); ``moved``
    otherwise (e.g. reproduced in one, inconclusive in the other: the interval says the question is
    open). ``overlap``: whether the two intervals share a point. Readings measured in one run only
    are left out."""
    a, b = judge(rows_a), judge(rows_b)
    both = a.merge(b, on=["id", "reading"], suffixes=(f" {names[0]}", f" {names[1]}"))
    va, vb = both[f"verdict {names[0]}"], both[f"verdict {names[1]}"]
    both["change"] = ["same" if x == y else "reversed" if {x, y} == REVERSAL else "moved" for x, y in zip(va, vb)]
    low = {run: both[f"low {run}"].fillna(both[f"mean {run}"]) for run in names}   # a constant: its value
    high = {run: both[f"high {run}"].fillna(both[f"mean {run}"]) for run in names}
    both["overlap"] = (low[names[0]] <= high[names[1]]) & (low[names[1]] <= high[names[0]])
    order = {claim_id: i for i, claim_id in enumerate(CLAIMS)}
    return both.sort_values("id", key=lambda ids: ids.map(order), kind="stable").reset_index(drop=True)
