"""Defense-adaptive attacks: the attacker tunes each attack against the deployed defense on its own
auxiliary images, never on the scored ones.

A fixed attack setting may be far from the best one against a given defense: a decoder trained on
clean features meets noise it never saw, a TV weight that suits a clear edge over-smooths behind a
bottleneck. So the attacker, who can query the deployed edge on its own images, splits its
auxiliary images into a part it fits on and a part it scores itself on (:func:`own_splits`), runs
every candidate setting of :data:`SEARCH_SPACE` with :func:`helpers.suite.run_suite` as if those
were the private images, and keeps the setting with the lowest mean MSE there. That setting is then
fitted on the whole auxiliary set and scored on the test images like any other attack.

The budget is the number of candidates per attack (the grid below: 4 or 6 per attack, each one a
full fit and reconstruction of the tuning images). The scored images are never used: the tuning
"test" images are the attacker's own.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pandas as pd

from .config import check_choice, check_range
from .data import Split, Splits
from .suite import ATTACKS, AttackerKnowledge, SuiteBudget, run_suite


@dataclass(frozen=True)
class Candidate:
    """One setting of an attack: what the attacker assumes (noise-awareness) and budget overrides."""

    noise_aware: bool = True
    overrides: dict = field(default_factory=dict)

    def __post_init__(self):
        unknown = set(self.overrides) - {f.name for f in dataclasses.fields(SuiteBudget)}
        if unknown:
            raise ValueError(f"unknown SuiteBudget fields {sorted(unknown)}")

    def describe(self) -> str:
        parts = [] if self.noise_aware else ["noise-unaware"]
        return ", ".join(parts + [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in sorted(self.overrides.items())]) or "default"


# Candidates per attack. The inverse network: noise-awareness × learning rate; the white box:
# TV weight × step size; the hybrid: its decoder's noise-awareness × TV weight; the query-free
# attack never queries, so only its shadow's training length is tuned.
SEARCH_SPACE = {
    "inverse_network": [Candidate(aware, {"decoder_lr": lr}) for aware in (True, False) for lr in (1e-3, 3e-3)],
    "white_box": [Candidate(True, {"tv_weight": tv, "white_box_lr": lr}) for tv in (0.0, 0.01, 0.05)
                  for lr in (0.03, 0.1)],
    "hybrid": [Candidate(aware, {"tv_weight": tv}) for aware in (True, False) for tv in (0.0, 0.01)],
    "query_free": [Candidate(True, {"shadow_epochs": e}) for e in (1, 3, 6)],
}


def own_splits(splits: Splits, tune_fraction: float = 0.2) -> Splits:
    """The attacker's tuning setting: its auxiliary images split into a fitting part (``aux``) and
    a scoring part (``test``, the last ``tune_fraction``; the auxiliary split is in seeded random
    order). The target's own images do not appear."""
    check_range("tune_fraction", tune_fraction, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    aux = splits.aux
    n_tune = max(2, int(len(aux) * tune_fraction))
    if len(aux) - n_tune < 2:
        raise ValueError(f"{len(aux)} auxiliary images are too few to tune on")
    part = lambda sl: Split(aux.x[sl], aux.y[sl], aux.index[sl])  # noqa: E731
    return Splits(train=splits.train, test=part(slice(-n_tune, None)), aux=part(slice(0, -n_tune)),
                  num_classes=splits.num_classes)


def tune(trained, splits: Splits, cut: str, attack: str, budget: SuiteBudget, candidates=None,
         tune_fraction: float = 0.2, seed: int = 0, device: str = "auto") -> pd.DataFrame:
    """Every candidate of ``attack`` scored on the attacker's own tuning images: one row each
    (candidate, mean MSE, chosen), the chosen one with the lowest MSE (the first on a tie)."""
    check_choice("attack", attack, ATTACKS)
    candidates = list(candidates or SEARCH_SPACE[attack])
    own = own_splits(splits, tune_fraction)
    rows = []
    for candidate in candidates:
        trial = dataclasses.replace(budget, **candidate.overrides, n_eval=len(own.test))
        table, _, _ = run_suite(trained, own, cut, knowledge=AttackerKnowledge(noise_aware=candidate.noise_aware),
                                budget=trial, attacks=[attack], seed=seed, device=device, score_labels=False)
        rows.append({"attack": attack, "candidate": candidate.describe(), "tuning_mse": table.mse.mean(),
                     "setting": candidate})
    result = pd.DataFrame(rows)
    result["chosen"] = result.index == result.tuning_mse.idxmin()
    return result


def adaptive_suite(trained, splits: Splits, cut: str, budget: SuiteBudget, attacks=ATTACKS,
                   tune_fraction: float = 0.2, seed: int = 0, device: str = "auto", selection: Split | None = None):
    """Each attack tuned against this classifier's defense (:func:`tune`), then run as chosen:
    (per-image table with attacks named ``"<attack> (tuned)"``, {name: x̂}, evaluation split,
    tuning table)."""
    tables, reconstructions, tunings, evaluation = [], {}, [], None
    for attack in attacks:
        tuning = tune(trained, splits, cut, attack, budget, tune_fraction=tune_fraction, seed=seed, device=device)
        chosen: Candidate = tuning.loc[tuning.chosen, "setting"].item()
        table, recon, evaluation = run_suite(trained, splits, cut, knowledge=AttackerKnowledge(noise_aware=chosen.noise_aware),
                                             budget=dataclasses.replace(budget, **chosen.overrides), attacks=[attack],
                                             seed=seed, device=device, selection=selection)
        name = f"{attack} (tuned)"
        tables.append(table.assign(attack=name))
        reconstructions[name] = recon[attack]
        tunings.append(tuning)
    return pd.concat(tables, ignore_index=True), reconstructions, evaluation, pd.concat(tunings, ignore_index=True)
