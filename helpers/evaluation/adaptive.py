"""Defense-adaptive attacks: the attacker tunes each attack against the deployed defense on its own
auxiliary images, never on the scored ones.

A fixed attack setting may be far from the best one against a given defense: a decoder trained on
clean features meets noise it never saw, a TV weight that suits a clear edge over-smooths behind a
bottleneck, a diffusion guidance that matches clean features exactly also matches the noise. So the
attacker, who can query the deployed edge on its own images, splits its auxiliary images into a part
it fits on and a part it scores itself on (:func:`own_splits`), runs every candidate setting of
:data:`SEARCH_SPACE` with :func:`helpers.evaluation.harness.run_suite` as if those were the private images, and
keeps the setting with the lowest mean MSE there. That setting is then fitted on the whole auxiliary
set and scored on the test images like any other attack (a prior attack's prior is trained on the
fitting part for tuning, so its tuning score is not flattered by images it was trained on).

The budget is the grid below: 2 to 4 candidates per attack, 15 in all, each a full fit and
reconstruction of the tuning images (the optimisation attacks score :data:`TUNING_IMAGES` of them).
The query-free attack is not tuned: scoring a setting needs the deployed edge's features of the
attacker's own images, a query it by definition does not make. The scored images are never used.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pandas as pd

from ..core.config import check_choice, check_range
from ..data import Split, Splits
from .harness import ATTACKS, PRIOR_ATTACKS, AttackerKnowledge, SuiteBudget, run_suite


@dataclass(frozen=True)
class Candidate:
    """One setting of an attack: what the attacker assumes (noise-awareness) and budget overrides."""

    noise_aware: bool = True
    overrides: dict = field(default_factory=dict)

    def __post_init__(self):
        unknown = set(self.overrides) - {f.name for f in dataclasses.fields(SuiteBudget)}
        if unknown:
            raise ValueError(f"unknown SuiteBudget fields {sorted(unknown)}")

    def is_default(self, budget: "SuiteBudget") -> bool:
        """Is this the untuned setting of ``budget`` (noise-aware, every override already its value)?"""
        return self.noise_aware and all(getattr(budget, k) == v for k, v in self.overrides.items())

    def describe(self) -> str:
        parts = [] if self.noise_aware else ["noise-unaware"]
        return ", ".join(parts + [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in sorted(self.overrides.items())]) or "default"


# Candidates per attack, the default setting of the scale among them (a tuned attack that keeps it is
# the untuned one, read from the cache). The inverse network: noise-awareness × learning rate; the
# white box: TV weight; the hybrid: its decoder's noise-awareness × TV weight; latent search: the
# weight of the latent prior; diffusion: the guidance (below 1 a step matches the observed features,
# noise included, only in part).
SEARCH_SPACE = {
    "inverse_network": [Candidate(aware, {"decoder_lr": lr}) for aware in (True, False) for lr in (1e-3, 3e-3)],
    "white_box": [Candidate(True, {"tv_weight": tv}) for tv in (0.0, 0.01, 0.05)],
    "hybrid": [Candidate(aware, {"tv_weight": tv}) for aware in (True, False) for tv in (0.0, 0.01)],
    "latent_search": [Candidate(True, {"latent_prior_weight": w}) for w in (1e-3, 1e-2)],
    "diffusion": [Candidate(True, {"guidance": g}) for g in (0.5, 1.0)],
}
TUNED_ATTACKS = tuple(SEARCH_SPACE)
TUNING_IMAGES = 32  # the optimisation attacks' tuning score: this many of the attacker's own images


ATTACKERS = ("standard", "strong")


def tuned_name(attack: str) -> str:
    """``"hybrid"`` -> ``"hybrid_tuned"`` (a name that is also a valid column suffix)."""
    return f"{attack}_tuned"


def attacker_attacks(attacks, attacker: str) -> list[str]:
    """The attacks an ``attacker`` runs, as named in result tables. ``"standard"``: ``attacks``;
    ``"strong"``: those, the :data:`~helpers.evaluation.harness.PRIOR_ATTACKS`, and every one of them that
    :data:`SEARCH_SPACE` covers tuned against the defense (:func:`tuned_name`)."""
    check_choice("attacker", attacker, ATTACKERS)
    for name in attacks:
        check_choice("attack", name, ATTACKS + PRIOR_ATTACKS)
    if attacker == "standard":
        return list(attacks)
    run = list(attacks) + [a for a in PRIOR_ATTACKS if a not in attacks]
    return run + [tuned_name(a) for a in run if a in TUNED_ATTACKS]


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
         tune_fraction: float = 0.2, seed: int = 0, device: str = "auto",
         tuning_images: int = TUNING_IMAGES) -> pd.DataFrame:
    """Every candidate of ``attack`` scored on the attacker's own tuning images: one row each
    (candidate, mean MSE, chosen), the chosen one with the lowest MSE (the first on a tie)."""
    check_choice("attack", attack, TUNED_ATTACKS if candidates is None else ATTACKS + PRIOR_ATTACKS)
    candidates = list(candidates or SEARCH_SPACE[attack])
    own = own_splits(splits, tune_fraction)
    n_opt = min(budget.n_optimisation, tuning_images)
    rows = []
    for candidate in candidates:
        trial = dataclasses.replace(budget, **candidate.overrides, n_eval=len(own.test), n_eval_optimisation=n_opt)
        table, _, _ = run_suite(trained, own, cut, knowledge=AttackerKnowledge(noise_aware=candidate.noise_aware),
                                budget=trial, attacks=[attack], seed=seed, device=device, score_labels=False)
        rows.append({"attack": attack, "candidate": candidate.describe(), "tuning_mse": table.mse.mean(),
                     "setting": candidate})
    result = pd.DataFrame(rows)
    result["chosen"] = result.index == result.tuning_mse.idxmin()
    return result


def chosen_settings(tuning: pd.DataFrame, budget: SuiteBudget) -> str:
    """``"white_box: tv_weight=0.05; hybrid: default"``: what each tuned attack chose."""
    return "; ".join(f"{r.attack}: {'default' if r.setting.is_default(budget) else r.candidate}"
                     for r in tuning[tuning.chosen].itertuples())


def adaptive_suite(trained, splits: Splits, cut: str, budget: SuiteBudget, attacks=TUNED_ATTACKS,
                   tune_fraction: float = 0.2, seed: int = 0, device: str = "auto", selection: Split | None = None,
                   reuse: Split | None = None):
    """Each attack tuned against this classifier's defense (:func:`tune`), then run as chosen:
    (per-image table with attacks named ``"<attack>_tuned"``, {name: x̂}, evaluation split,
    tuning table). ``reuse``: :func:`~helpers.evaluation.harness.run_suite`'s (a chosen default
    setting is the untuned attack, often already run with the validation images)."""
    for attack in attacks:
        check_choice("tuned attack", attack, TUNED_ATTACKS)
    tables, reconstructions, tunings, evaluation = [], {}, [], None
    for attack in attacks:
        tuning = tune(trained, splits, cut, attack, budget, tune_fraction=tune_fraction, seed=seed, device=device)
        chosen: Candidate = tuning.loc[tuning.chosen, "setting"].item()
        table, recon, evaluation = run_suite(trained, splits, cut, knowledge=AttackerKnowledge(noise_aware=chosen.noise_aware),
                                             budget=dataclasses.replace(budget, **chosen.overrides), attacks=[attack],
                                             seed=seed, device=device, selection=selection, reuse=reuse)
        name = tuned_name(attack)
        tables.append(table.assign(attack=name))
        reconstructions[name] = recon[attack]
        tunings.append(tuning)
    return pd.concat(tables, ignore_index=True), reconstructions, evaluation, pd.concat(tunings, ignore_index=True)
