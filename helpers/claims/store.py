"""Claim rows: one measured value per claim, reading and seed (:func:`record`), and the CSV files that
hold them (:func:`seed_file`, :func:`collect_rows`)."""
from __future__ import annotations

import re
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import paths
from ..core.config import check_seed
from .registry import BOUNDS, CLAIMS, DEFAULT_DATASET, MIN_SEEDS, MSE_FLOOR, SEED_FOLDER, Claim


ROW_COLUMNS = ["id", "reading", "seed", "value", "note", "trials", "condition met", "bound"]


def floored_ratio(numerator: float, denominator: float, floor: float = MSE_FLOOR) -> tuple[float, str]:
    """(value, bound) of the ratio of two MSEs with the attacks' resolution floor: exact when both
    are above it; "≥" numerator/floor when only the denominator is below it (the attack inverts that
    edge as well as it can: the true ratio is at least this); "≤" floor/denominator when only the
    numerator is; NaN (nothing measured) when both are."""
    numerator, denominator = float(numerator), float(denominator)
    if min(numerator, denominator) <= 0:
        raise ValueError(f"MSEs are positive, got {numerator} and {denominator}")
    if numerator >= floor and denominator >= floor:
        return numerator / denominator, ""
    if numerator >= floor:
        return numerator / floor, "≥"
    if denominator >= floor:
        return floor / denominator, "≤"
    return float("nan"), ""


def mse_text(mse: float, floor: float = MSE_FLOOR) -> str:
    """An MSE as a note prints it: two significant digits, or "≤ floor" below the attacks' floor."""
    return f"≤ {floor:g}" if mse < floor else f"{mse:.2g}"


def combined_bound(bounds) -> str | None:
    """The bound of a mean (or minimum) over values with these bounds: exact if all are, the one kind
    if they share it (with exact values beside it), None when lower and upper bounds meet."""
    kinds = set(bounds) - {""}
    return "" if not kinds else kinds.pop() if len(kinds) == 1 else None


def record(claim_id: str, seed: int, value: float, reading: str = "", note: str = "", trials: int | None = None,
           condition_met: bool | None = None, bound: str = "") -> dict:
    """One measured value of a claim for one seed (and one reading of it), as a CSV row. A count claim
    gives its successes as ``value`` out of ``trials``; a claim with a condition says whether it held
    in this seed (``condition_met``); a value that is only a bound says which (``bound``, e.g. from
    :func:`floored_ratio`; NaN where nothing could be measured)."""
    if claim_id not in CLAIMS:
        raise ValueError(f"unknown claim {claim_id!r}; defined: {', '.join(CLAIMS)}")
    seed = check_seed(seed)
    claim = CLAIMS[claim_id]
    value = float(value)
    if claim.log and value <= 0:   # NaN passes: a ratio of two MSEs under the floor measures nothing
        raise ValueError(f"claim {claim_id} is a ratio: got the non-positive value {value}")
    if (claim.statistic == "count") != (trials is not None):
        raise ValueError(f"claim {claim_id}: trials are given for a count claim, and only for one")
    if trials is not None and not (int(trials) == trials >= 1 and value == int(value) and 0 <= value <= trials):
        raise ValueError(f"claim {claim_id}: a count needs whole successes (value) in 0..trials, got {value} of {trials}")
    if bool(claim.condition) != (condition_met is not None):
        raise ValueError(f"claim {claim_id}: say whether the condition held (condition_met) for a claim that "
                         f"states one ({claim.condition or 'this claim states none'})")
    if bound not in BOUNDS:
        raise ValueError(f"claim {claim_id}: bound must be one of {BOUNDS}, got {bound!r}")
    return {"id": claim_id, "reading": reading, "seed": seed, "value": value, "note": note,
            "trials": None if trials is None else int(trials),
            "condition met": None if condition_met is None else bool(condition_met), "bound": bound}


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    """A notebook's claim rows with each claim's definition beside them (the NN_claims.csv layout)."""
    frame = pd.DataFrame(rows, columns=ROW_COLUMNS)
    if frame.duplicated(["id", "reading", "seed"]).any():
        raise ValueError("each (claim, reading, seed) may be recorded once")
    fields = [f for f in Claim.__dataclass_fields__ if f != "id"]
    definitions = pd.DataFrame([asdict(CLAIMS[i]) for i in frame.id], columns=["id", *fields]).drop(columns="id")
    return pd.concat([frame.reset_index(drop=True), definitions], axis=1)


def seed_file(notebook_number: str, seed: int, folder: Path | None = None, dataset: str | None = None,
              variant: str | None = None) -> Path:
    """Where ``make claims`` keeps the claim rows of seed >= 1 of one notebook. The rows of another
    ``dataset`` than :data:`DEFAULT_DATASET`, or of a ``variant`` run (other notebook parameters, e.g.
    ``classifier_epochs6``), every seed 0 included, go to ``claims/<dataset>-<variant>/``."""
    folder = Path(folder) if folder is not None else paths.FIGURES
    return _seed_folder(folder, dataset, variant) / f"{notebook_number}_claims_seed{seed}.csv"


def _seed_folder(folder: Path, dataset: str | None, variant: str | None = None) -> Path:
    parts = ([dataset] if dataset not in (None, DEFAULT_DATASET) else []) + ([variant] if variant else [])
    return paths.inside(folder / SEED_FOLDER, "-".join(parts), "the run") if parts else folder / SEED_FOLDER


def collect_rows(folder: Path | None = None, dataset: str | None = None, variant: str | None = None) -> pd.DataFrame:
    """Every claim row of every seed present: ``NN_claims.csv`` (seed 0) and ``claims/*.csv``;
    for another ``dataset`` than the default or a ``variant``, only that run's folder of
    :func:`seed_file` (the sweep's runs).

    A (claim, reading, seed) may be recorded by several runs (notebook 02 trains its label-smoothing
    arms for seeds 0-2 in every run of it). Where their values differ, the row of that seed's own
    run is kept, with a warning: runs on another CPU or another revision compute slightly different
    floats (a cold ``make figures`` on a new machine rewrites seed 0's file and leaves the committed
    seeds 1 and 2). Differing values where neither run is that seed's own are an error."""
    folder = Path(folder) if folder is not None else paths.FIGURES
    published = sorted(folder.glob("[0-9][0-9]_claims.csv")) if dataset in (None, DEFAULT_DATASET) and not variant else []
    files = published + sorted(_seed_folder(folder, dataset, variant).glob("[0-9][0-9]_claims_seed*.csv"))
    frames = [pd.read_csv(f, dtype={"reading": str, "note": str, "bound": str}).assign(file=f.name, run_seed=_run_seed(f))
              for f in files]
    frames = [f for f in frames if "value" in f.columns]
    if not frames:
        raise FileNotFoundError(f"no claim rows in {folder}: run `make figures` first")
    rows = pd.concat(frames, ignore_index=True)
    rows["reading"] = rows.reading.fillna("")
    rows["condition met"] = _booleans(rows["condition met"] if "condition met" in rows else pd.Series(index=rows.index))
    rows["bound"] = rows["bound"].fillna("") if "bound" in rows else ""
    unknown = sorted(set(rows.id) - set(CLAIMS))
    if unknown:
        raise ValueError(f"claim rows name unknown claims {unknown}")
    rows = _one_row_per_seed(rows)
    return rows.drop(columns="run_seed").reset_index(drop=True)


def _booleans(column: pd.Series) -> pd.Series:
    """A CSV column of True/False/empty as booleans with None for empty (read back as text or bool)."""
    known = {True: True, False: False, "True": True, "False": False}
    bad = column[column.notna() & ~column.isin(list(known))]
    if len(bad):
        raise ValueError(f"'condition met' must be True, False or empty, got {sorted(set(map(str, bad)))}")
    return column.map(known).astype(object).where(column.notna(), None)


def _run_seed(path: Path) -> int:
    """The seed of the run that wrote a claims file: ``NN_claims_seedS.csv`` -> S, ``NN_claims.csv`` -> 0."""
    found = re.search(r"_seed(\d+)\.csv$", path.name)
    return int(found.group(1)) if found else 0


def _one_row_per_seed(rows: pd.DataFrame) -> pd.DataFrame:
    """Each (claim, reading, seed) once: the seed's own run first, then the files in order (see
    :func:`collect_rows` for what differing values mean)."""
    rows = rows.assign(own=rows.seed == rows.run_seed).sort_values("own", ascending=False, kind="stable")
    spread = rows.groupby(["id", "reading", "seed"]).value.agg(lambda v: np.ptp(v.to_numpy(float)))
    clash = spread[spread > 1e-9 * (1 + rows.value.abs().max())]
    if len(clash):
        has_own = rows[rows.own].set_index(["id", "reading", "seed"]).index
        orphan = [key for key in clash.index if key not in has_own]
        if orphan:
            raise ValueError(f"different values for the same claim, reading and seed, none from that seed's own run: "
                             f"{orphan[:3]}")
        values = rows.set_index(["id", "reading", "seed"]).value
        relative = max(float(np.ptp(v) / max(np.abs(v).max(), 1e-300))
                       for v in (values.loc[[key]].to_numpy(float) for key in clash.index))
        warnings.warn(f"{len(clash)} claim rows differ between the runs that recorded them (e.g. "
                      f"{clash.index[0][0]} at seed {clash.index[0][2]}; at most {relative:.2%} apart: another CPU or "
                      f"revision); each seed's own run is used", stacklevel=3)
    return rows.drop_duplicates(["id", "reading", "seed"]).drop(columns="own").sort_index()


def complete_run_rows(folder: Path | None = None, notebooks: tuple[str, ...] = (), dataset: str | None = None,
                      variant: str | None = None) -> pd.DataFrame | None:
    """The claim rows of a run on another ``dataset`` or a ``variant`` run (:func:`collect_rows`), or
    None until it is complete: each of ``notebooks`` (default: those it has rows of) has run on
    :data:`MIN_SEEDS` seeds or more. A partial run (a crashed job, a seed still to run) would
    only add "inconclusive", or call a notebook's claims "not rerun". Completeness is a property of
    the runs, not of each claim: a claim a finished run could not measure in a seed (CEM matching
    none of its bases in accuracy) is judged on the seeds that measured it, its n shown."""
    folder = Path(folder) if folder is not None else paths.FIGURES
    files = sorted(_seed_folder(folder, dataset, variant).glob("[0-9][0-9]_claims_seed*.csv"))
    seeds = {number: {_run_seed(f) for f in files if f.name[:2] == number}
             for number in (notebooks or {f.name[:2] for f in files})}
    if not files or min(len(s) for s in seeds.values()) < MIN_SEEDS:
        return None
    return collect_rows(folder, dataset, variant)


def complete_variant_rows(variant: str, folder: Path | None = None,
                          notebooks: tuple[str, ...] = ()) -> pd.DataFrame | None:
    """:func:`complete_run_rows` of a variant run (e.g. ``"attackerstrong"``) of the default dataset."""
    if not variant:
        raise ValueError("name the variant run (e.g. 'attackerstrong'); the default run is collect_rows()")
    return complete_run_rows(folder, notebooks, variant=variant)
