"""The one rule: a t-interval over seeds and the verdict it gives (:func:`verdict`, :func:`judge`), and the
comparison of two runs claim by claim (:func:`compare_runs`)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .registry import CLAIMS, LEVEL, MIN_SEEDS, Claim


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


def _t_quantile(p: float, dof: int) -> float:
    """Quantile of Student's t."""
    from scipy.stats import t

    return float(t.ppf(p, dof))


def verdict(claim: Claim, low: float, high: float, n: int) -> str:
    """The verdict of one claim (or reading) from its interval [low, high] over n seeds."""
    if n < MIN_SEEDS or not (math.isfinite(low) and math.isfinite(high)):
        return "inconclusive"
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


def judge(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per claim and reading: seeds, mean, interval and verdict (:func:`claim_table` then
    marks a claim whose readings disagree ``qualified``)."""
    out = []
    for (claim_id, reading), part in rows.groupby(["id", "reading"], sort=False):
        claim = CLAIMS[claim_id]
        part = part.drop_duplicates("seed")
        mean, low, high, n = t_interval(part.value, log=claim.log)
        out.append({"id": claim_id, "reading": reading, "n seeds": n,
                    "seeds": ",".join(str(s) for s in sorted(part.seed)), "mean": mean, "low": low, "high": high,
                    "verdict": verdict(claim, low, high, n)})
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
    both["overlap"] = ((both[f"low {names[0]}"] <= both[f"high {names[1]}"])
                       & (both[f"low {names[1]}"] <= both[f"high {names[0]}"]))
    order = {claim_id: i for i, claim_id in enumerate(CLAIMS)}
    return both.sort_values("id", key=lambda ids: ids.map(order), kind="stable").reset_index(drop=True)
