"""The papers' claims and the one rule that judges them (notebooks 02, 04-07 write, 08 reads).

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

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import manifest, paths
from .config import check_seed

VERDICTS = ("reproduced", "same direction", "qualified", "inconclusive", "not reproduced")
DIRECTIONS = ("greater", "less", "within")
MIN_SEEDS = 3
LEVEL = 0.95
ACCURACY_BUDGET_POINTS = 3.0   # SiftFunnel's "< 3%" accuracy loss, read as percentage points
SEED_FOLDER = "claims"        # figures/claims/NN_claims_seedS.csv: the rows of seeds >= 1
DEFAULT_DATASET = "mnist5k"   # the notebooks' default; other datasets: figures/claims/<dataset>/ (every seed)
README_START, README_END = "<!-- claims:start -->", "<!-- claims:end -->"
STRONG_VARIANT = "attackerstrong"   # the rows of `make claims-strong` (04, 06, 07 with attacker="strong")
STRONG_NOTEBOOKS = ("04", "06", "07")   # the notebooks it reruns: their claims rest on a worst case over attacks
STRONG_COLUMN = "strong attacker"   # the column of the published table that judges them


@dataclass(frozen=True)
class Claim:
    """One headline claim: what the paper says and how our number is judged against it."""

    id: str
    source: str          # the paper: GPZ, SiftFunnel, CEM, PATROL, or cross-paper (07)
    statement: str
    paper_value: str     # what the paper reports, in its words
    quantity: str        # what we measure, defined once
    unit: str
    direction: str       # "greater" | "less" | "within": which side of the threshold supports the paper
    threshold: float
    null: float | None = None   # the value of "no effect" (None: a bound, no "same direction")
    margin: float = 0.0         # how far short of the threshold still counts (within: the half-width)
    log: bool = False           # ratios: the interval is computed on log values

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"claim {self.id}: direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.margin < 0:
            raise ValueError(f"claim {self.id}: the margin must be non-negative")
        if self.null is not None and self.direction != "within":
            wrong_side = self.null > self.threshold if self.direction == "greater" else self.null < self.threshold
            if wrong_side:
                raise ValueError(f"claim {self.id}: no effect ({self.null}) lies on the paper's side of {self.threshold}")
        if self.log and (self.threshold <= 0 or (self.null is not None and self.null <= 0)):
            raise ValueError(f"claim {self.id}: a log-scale claim needs a positive threshold and null")


def _claims(*items: Claim) -> dict:
    return {c.id: c for c in items}


_MORE_PRIVATE = "more robust (no table published)"
CLAIMS = _claims(
    # GPZ (notebook 02)
    Claim("gpz.split_gain", "GPZ", "GPZ split: > 4× the MSE of shallow splits", "> 4× (IR-152)",
          "attack MSE at the GPZ cut (rule on R_c²/global variance) / at the shallowest cut", "×",
          "greater", 4.0, null=1.0, log=True),
    Claim("gpz.decision_gain", "GPZ", "decision-level more resistant than feature-level", "≈ 66% on average",
          "100·(MSE at the first flat cut / MSE at the last image-shaped cut − 1)", "%", "greater", 66.0, null=0.0),
    Claim("gpz.transition", "GPZ", "R_c² collapses at the feature→decision transition",
          "IR-152 block 49–50, VGG19 30→39",
          "share of architectures whose GPZ cut is the last image-shaped or the first flat cut", "share",
          "greater", 0.5, null=0.0),
    Claim("gpz.ls_shrinks", "GPZ", "LS+ shrinks R_c²", "yes (Neural Vortex)",
          "R_c² with label smoothing α = 0.3 / with one-hot targets, same seed", "×", "less", 1.0, null=1.0, log=True),
    Claim("gpz.ls_earlier", "GPZ", "LS+ moves the transition earlier", "yes",
          "cuts by which the GPZ cut (rule on R_c²/global variance) moves earlier with LS+, same seed", "cuts",
          "greater", 0.0, null=0.0),
    Claim("gpz.ls_attack", "GPZ", "LS+ makes inversion harder", "implied (earlier GPZ)",
          "attack MSE at the logits with LS+ / with one-hot targets, same seed", "×", "greater", 1.0, null=1.0,
          log=True),
    # SiftFunnel (notebook 04)
    Claim("sift.mse_gain", "SiftFunnel", "reconstruction error vs the best baseline", "≈ +30%",
          "100·(worst-case MSE of SiftFunnel / of the best baseline within the accuracy budget − 1)", "%",
          "greater", 30.0, null=0.0),
    Claim("sift.mi_cut", "SiftFunnel", "MI and effective information vs the best baseline", "≥ 50% lower",
          "100·(1 − probe of SiftFunnel / probe of the best baseline within the accuracy budget)", "%",
          "greater", 50.0, null=0.0),
    Claim("sift.edge", "SiftFunnel", "lighter edge", "≈ 20×",
          "edge FLOPs of the undefended model / of SiftFunnel at the same cut", "×", "greater", 20.0, null=1.0,
          log=True),
    Claim("sift.accuracy_loss", "SiftFunnel", "accuracy loss", "< 3%",
          "test accuracy of the undefended model − of SiftFunnel", "points", "less", ACCURACY_BUDGET_POINTS),
    Claim("sift.criterion", "SiftFunnel", "MI / entropy / effective information predict attack difficulty",
          "the criterion", "Spearman ρ between the probe and the worst-case attack MSE across defenses", "ρ",
          "less", 0.0, null=0.0),
    # CEM (notebook 05)
    Claim("cem.gain", "CEM", "CEM raises attack MSE on obfuscation defenses", "average gains 12.9% to 48.2%",
          "100·(decoder MSE with CEM / without − 1), averaged over the bases CEM matches in accuracy", "%",
          "greater", 12.9, null=0.0),
    # one-sided: a CEM model that gains accuracy does not compromise utility (first defined as an
    # equivalence within ±1 point, which would have counted a gain against the paper)
    Claim("cem.utility", "CEM", "without compromising utility", "same accuracy",
          "test accuracy without CEM − with CEM, averaged over the usable bases", "points", "less", 1.0),
    Claim("cem.redundancy", "CEM", "CEM lowers the mixture redundancy (raises the bound on H(x|z))",
          "the method's objective",
          "redundancy estimate R with CEM − without, averaged over the usable bases", "nats", "less", 0.0, null=0.0),
    # PATROL (notebook 06)
    Claim("patrol.depth", "PATROL", "a deeper edge pruned to the same budget is more private", _MORE_PRIVATE,
          "worst-case MSE of the pruned deeper edge / of the shallow edge", "×", "greater", 1.0, null=1.0, log=True),
    Claim("patrol.lipschitz", "PATROL", "Lipschitz regularisation raises reconstruction error", _MORE_PRIVATE,
          "worst-case MSE with the Lipschitz term / without", "×", "greater", 1.0, null=1.0, log=True),
    Claim("patrol.adversarial", "PATROL", "adversarial reconstruction training hardens the model", _MORE_PRIVATE,
          "worst-case MSE with adversarial training / without", "×", "greater", 1.0, null=1.0, log=True),
    # cross-paper (notebook 07)
    Claim("cross.siftfunnel_best", "cross-paper (07)", "SiftFunnel outperforms state-of-the-art defenses",
          "best privacy at < 3% accuracy loss",
          "worst-case MSE of SiftFunnel / of the best other defense within the accuracy budget", "×",
          "greater", 1.0, null=1.0, log=True),
    Claim("cross.cem_consistent", "cross-paper (07)", "CEM consistently raises the attack error of its base",
          "under every attack tested", "MSE with CEM / of its base, over (plug-in, attack) pairs", "×",
          "greater", 1.0, null=1.0, log=True),
    Claim("cross.patrol_vs_perturbation", "cross-paper (07)",
          "PATROL resists inversion better than perturbation defenses", "superior performance (no table)",
          "worst-case MSE of PATROL / of the perturbation baselines within the accuracy budget", "×",
          "greater", 1.0, null=1.0, log=True),
)


def record(claim_id: str, seed: int, value: float, reading: str = "", note: str = "") -> dict:
    """One measured value of a claim for one seed (and one reading of it), as a CSV row."""
    if claim_id not in CLAIMS:
        raise ValueError(f"unknown claim {claim_id!r}; defined: {', '.join(CLAIMS)}")
    seed = check_seed(seed)
    claim = CLAIMS[claim_id]
    value = float(value)
    if claim.log and value <= 0:
        raise ValueError(f"claim {claim_id} is a ratio: got the non-positive value {value}")
    return {"id": claim_id, "reading": reading, "seed": seed, "value": value, "note": note}


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    """A notebook's claim rows with each claim's definition beside them (the NN_claims.csv layout)."""
    frame = pd.DataFrame(rows, columns=["id", "reading", "seed", "value", "note"])
    if frame.duplicated(["id", "reading", "seed"]).any():
        raise ValueError("each (claim, reading, seed) may be recorded once")
    fields = [f for f in Claim.__dataclass_fields__ if f != "id"]
    definitions = pd.DataFrame([asdict(CLAIMS[i]) for i in frame.id], columns=["id", *fields]).drop(columns="id")
    return pd.concat([frame.reset_index(drop=True), definitions], axis=1)


# ---------------------------------------------------------------- the rule

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


def comparison_table(compared: pd.DataFrame, names: tuple[str, str]) -> pd.DataFrame:
    """:func:`compare_runs`' result as shown: the claim, the reading, each run's "mean [low, high]"
    and verdict, the change and whether the intervals overlap."""
    shown = compared.assign(claim=compared.id.map(lambda i: CLAIMS[i].statement))
    for run in names:
        shown[run] = [f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]" for m, lo, hi in
                      zip(compared[f"mean {run}"], compared[f"low {run}"], compared[f"high {run}"])]
    return shown[["claim", "reading", names[0], f"verdict {names[0]}", names[1], f"verdict {names[1]}",
                  "change", "overlap"]]


def claim_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per claim in definition order: the paper's side, ours (each reading's mean and
    interval) and the verdict; a claim whose readings disagree is ``qualified``."""
    judged = judge(rows)
    columns = ["id", "source", "claim", "paper says", "we measure", "rule", "n seeds", "verdict", "detail"]
    if judged.empty:   # e.g. a smoke run in which no base qualified
        return pd.DataFrame(columns=columns)
    table = []
    for claim_id in [c for c in CLAIMS if c in set(judged.id)]:
        claim, part = CLAIMS[claim_id], judged[judged.id == claim_id]
        verdicts = list(dict.fromkeys(part.verdict))
        overall = verdicts[0] if len(verdicts) == 1 else "qualified"
        table.append({"id": claim_id, "source": claim.source, "claim": claim.statement,
                      "paper says": claim.paper_value, "we measure": _describe(claim, part),
                      "rule": _rule_text(claim), "n seeds": int(part["n seeds"].min()), "verdict": overall,
                      "detail": "; ".join(f"{r.reading or 'value'}: {r.verdict}" for r in part.itertuples())})
    return pd.DataFrame(table, columns=columns)


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "nan"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _describe(claim: Claim, part: pd.DataFrame) -> str:
    unit = "" if claim.unit in ("share", "ρ") else f" {claim.unit}"
    texts = []
    for r in part.itertuples():
        shown = f"{_fmt(r.mean)}{unit} [{_fmt(r.low)}, {_fmt(r.high)}]"
        texts.append(f"{r.reading} {shown}" if r.reading else shown)
    return "; ".join(texts) + f" (n={int(part['n seeds'].min())})"


def _rule_text(claim: Claim) -> str:
    if claim.direction == "within":
        return f"within {claim.threshold:g} ± {claim.margin:g}"
    sign = ">" if claim.direction == "greater" else "<"
    edge = claim.threshold - claim.margin if claim.direction == "greater" else claim.threshold + claim.margin
    return f"{sign} {edge:g}" + ("" if claim.null is None or claim.null == claim.threshold
                                 else f"; no effect {claim.null:g}")


# ---------------------------------------------------------------- files

def seed_file(notebook_number: str, seed: int, folder: Path | None = None, dataset: str | None = None,
              variant: str | None = None) -> Path:
    """Where ``make claims`` keeps the claim rows of seed >= 1 of one notebook. The rows of another
    ``dataset`` than :data:`DEFAULT_DATASET`, or of a ``variant`` run (other notebook parameters, e.g.
    ``classifier_epochs6``), every seed 0 included, go to ``claims/<dataset>-<variant>/``."""
    folder = Path(folder) if folder is not None else paths.FIGURES
    return _seed_folder(folder, dataset, variant) / f"{notebook_number}_claims_seed{seed}.csv"


def _seed_folder(folder: Path, dataset: str | None, variant: str | None = None) -> Path:
    parts = ([dataset] if dataset not in (None, DEFAULT_DATASET) else []) + ([variant] if variant else [])
    return folder / SEED_FOLDER / "-".join(parts) if parts else folder / SEED_FOLDER


def collect_rows(folder: Path | None = None, dataset: str | None = None, variant: str | None = None) -> pd.DataFrame:
    """Every claim row of every seed present: ``NN_claims.csv`` (seed 0) and ``claims/*.csv``;
    for another ``dataset`` than the default or a ``variant``, only that run's folder of
    :func:`seed_file` (the sweep's runs).

    A (claim, reading, seed) found in two files must have the same value (notebook 02's label-
    smoothing arms are trained for seeds 0-2 by every run of it); otherwise it is an error."""
    folder = Path(folder) if folder is not None else paths.FIGURES
    published = sorted(folder.glob("[0-9][0-9]_claims.csv")) if dataset in (None, DEFAULT_DATASET) and not variant else []
    files = published + sorted(_seed_folder(folder, dataset, variant).glob("[0-9][0-9]_claims_seed*.csv"))
    frames = [pd.read_csv(f, dtype={"reading": str, "note": str}).assign(file=f.name) for f in files]
    frames = [f for f in frames if "value" in f.columns]
    if not frames:
        raise FileNotFoundError(f"no claim rows in {folder}: run `make figures` first")
    rows = pd.concat(frames, ignore_index=True)
    rows["reading"] = rows.reading.fillna("")
    unknown = sorted(set(rows.id) - set(CLAIMS))
    if unknown:
        raise ValueError(f"claim rows name unknown claims {unknown}")
    spread = rows.groupby(["id", "reading", "seed"]).value.agg(lambda v: np.ptp(v.to_numpy(float)))
    clash = spread[spread > 1e-9 * (1 + rows.value.abs().max())]
    if len(clash):
        raise ValueError(f"different values for the same claim, reading and seed: {list(clash.index)[:3]}")
    return rows.drop_duplicates(["id", "reading", "seed"]).reset_index(drop=True)


def collect(folder: Path | None = None, dataset: str | None = None, variant: str | None = None) -> pd.DataFrame:
    """The claims table of every seed present (of ``dataset`` and ``variant``: see
    :func:`collect_rows`), with the scale each notebook ran at (registry)."""
    folder = Path(folder) if folder is not None else paths.FIGURES
    rows = collect_rows(folder, dataset, variant)
    table = claim_table(rows)
    entries = manifest.load(folder)
    numbers = {c: f[:2] for c, f in rows.groupby("id").file.first().items()}
    table["notebook"] = table.id.map(numbers)
    table["scale"] = [entries.get(f"{n}_claims", {}).get("parameters", {}).get("scale", "unregistered")
                      for n in table.notebook]
    return table


def complete_variant_rows(variant: str, folder: Path | None = None,
                          notebooks: tuple[str, ...] = ()) -> pd.DataFrame | None:
    """The claim rows of a variant run (:func:`collect_rows`), or None until it is complete: every
    claim it has measured on :data:`MIN_SEEDS` seeds or more, and rows from each of ``notebooks``
    (e.g. ``("04", "06", "07")``). A partial run (a crashed job, a seed still to run) would only add
    "inconclusive", or call a notebook's claims "not rerun"."""
    if not variant:
        raise ValueError("name the variant run (e.g. 'attackerstrong'); the default run is collect_rows()")
    folder = Path(folder) if folder is not None else paths.FIGURES
    if not any(_seed_folder(folder, None, variant).glob("[0-9][0-9]_claims_seed*.csv")):
        return None
    rows = collect_rows(folder, variant=variant)
    if set(notebooks) - {f[:2] for f in rows.file} or judge(rows)["n seeds"].min() < MIN_SEEDS:
        return None
    return rows


def with_variant(table: pd.DataFrame, variant_rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """``table`` (:func:`collect`) with a column ``column``: each claim's verdict in a variant run,
    judged by the same rule; ``not rerun`` for the claims the variant has no rows of."""
    verdicts = claim_table(variant_rows).set_index("id").verdict
    return table.assign(**{column: table.id.map(verdicts).fillna("not rerun")})


def published_table(folder: Path | None = None) -> pd.DataFrame:
    """The table of README.md and notebook 08: :func:`collect`, plus the verdict against the
    strong attacker (:data:`STRONG_COLUMN`) once ``make claims-strong`` has all its seeds."""
    table = collect(folder)
    strong = complete_variant_rows(STRONG_VARIANT, folder, STRONG_NOTEBOOKS)
    return table if strong is None else with_variant(table, strong, STRONG_COLUMN)


def markdown_table(table: pd.DataFrame) -> str:
    columns = ["source", "claim", "paper says", "we measure", "rule", "scale", "verdict"]
    columns += [STRONG_COLUMN] if STRONG_COLUMN in table.columns else []
    cell = lambda value: str(value).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for _, row in table.iterrows()]
    return "\n".join(lines)


def readme_block(table: pd.DataFrame) -> str:
    return f"{README_START}\n{markdown_table(table)}\n{README_END}"


def update_readme(table: pd.DataFrame, readme: Path | None = None) -> bool:
    """Replace the block between the claims markers of README.md; True when it changed."""
    readme = Path(readme) if readme is not None else paths.ROOT / "README.md"
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{readme.name} has no {README_START} ... {README_END} block")
    updated = text[:start] + readme_block(table) + text[end + len(README_END):]
    if updated != text:
        readme.write_text(updated)
    return updated != text
