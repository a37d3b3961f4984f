"""Evaluate defenses at one cut (notebooks 04-06): train each defended classifier, attack it with the
whole suite (or only the decoder, with and without knowledge of the defense's noise), probe what it
transmits, evaluate CEM's bound and measure what its edge costs.

One row per (defense, strength): test accuracy, every attack's mean MSE and SSIM, the worst case
over attacks (lowest MSE, highest SSIM), the information probes of :mod:`helpers.theory.probes` and the
edge's parameters, FLOPs and payload. A classifier with a validation split is also attacked on its
validation images (``val_mse_best``: the worst case there): choices between defenses ("the best
baseline") are made on that column, never on the scored test images.

``attacker="strong"`` (:mod:`helpers.evaluation.adaptive`) adds the two prior attacks and every attack tuned
against the defense on the attacker's own images; the worst case is then over all of them, and
``mse_best_standard`` keeps the worst case over the listed ``attacks`` alone.
"""
from __future__ import annotations

import dataclasses
import inspect

import pandas as pd
import torch

from ..core import cache
from ..core.config import check_choice, check_list
from ..core.inference import edge_features
from ..core.repro import module_device
from ..defenses import Defense, ObservedEdge, from_config
from ..models import cut_points, split
from ..theory.mixture import gmm_conditional_entropy_bound
from ..theory.probes import probe
from ..training import TrainConfig, TrainedClassifier, held_out, observed_classifier, predict, train_classifier
from .adaptive import TUNED_ATTACKS, adaptive_suite, attacker_attacks, chosen_settings, tuned_name
from .harness import ATTACKS, AttackerKnowledge, SuiteBudget, observe_all, run_suite

MINE_EPOCHS = {"smoke": 5, "quick": 100, "paper": 300}
MINE_DIMS = 8  # principal components of x and of z given to MINE (see helpers.theory.probes.probe)
VALIDATION_CHOICES = ("all", "listed", "none")   # evaluate_defense's on_validation


def defense_grid(spec: dict) -> list[Defense]:
    """``{"noise": [{"sigma": 0.5}, ...], "siftfunnel": [{}]}`` -> defenses, all validated up front."""
    return [from_config({"defense": name, **params}) for name, strengths in spec.items()
            for params in check_list(f"the strengths of {name}", strengths)]


def label(defense: Defense) -> str:
    """A legend label: the name and every parameter that differs from its default (so that two
    configurations never share a label)."""
    if defense.name == "stack":
        return " + ".join(label(part) for part in defense.parts)
    defaults = {name: p.default for name, p in inspect.signature(type(defense).__init__).parameters.items()}

    def text(value):
        if isinstance(value, dict):  # a nested defense (CEM's base)
            return f"[{label(from_config(value))}]"
        return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)

    changed = [f"{k}={text(v)}" for k, v in defense.params().items() if defaults.get(k, inspect.Parameter.empty) != v]
    return " ".join([defense.name, *changed])


def train_defended(base: TrainConfig, splits, defense: Defense, cut: str, device: str = "auto") -> TrainedClassifier:
    """The classifier trained with ``defense`` at ``cut`` (the undefended one has the usual key)."""
    if type(defense) is Defense:
        return train_classifier(base, splits, device=device)
    return train_classifier(dataclasses.replace(base, defense=defense.config(), cut=cut), splits, device=device)


def edge_cost(model, cut: str) -> dict:
    """Values sent per image, edge parameters and edge MFLOPs (forward, per image) at ``cut``."""
    point = {p.name: p for p in cut_points(model)}[cut]
    return {"payload": point.feature_dim, "edge_params": point.edge_params, "edge_MFLOPs": point.edge_flops / 1e6}


def probe_features(trained: TrainedClassifier, splits, cut: str, mine_epochs: int, seed: int = 0) -> dict:
    """:func:`helpers.theory.probes.probe` on the auxiliary images and their observed features (cached)."""
    key = {"classifier": trained.weights_key, "cut": cut, "mine_epochs": mine_epochs, "mine_dims": MINE_DIMS,
           "seed": seed, "n": len(splits.aux), "mi_estimators": ["mine", "ksg"]}  # entries before KSG lack mi_knn

    def compute():
        z = observe_all(ObservedEdge(split(trained.model, cut)[0], trained.defense), splits.aux.x, seed + 3)
        return probe(splits.aux.x, z, mine_epochs, MINE_DIMS, seed)

    return cache.cached("probe", key, compute, device=module_device(trained.model))  # features on its device


def evaluate_defense(trained: TrainedClassifier, splits, cut: str, budget: SuiteBudget, attacks=ATTACKS,
                     mine_epochs: int = 100, seed: int = 0, device: str = "auto", probes: bool = True,
                     attacker: str = "standard", on_validation: str = "all"):
    """(summary row, per-image table, {attack: x̂}, evaluation split) for one trained classifier at ``cut``.

    The edge cost is that of the edge as deployed (a pruned edge physically smaller); ``probes=False``
    leaves out the information probes (MINE is the slow one). ``attacker``: ``"standard"`` (the
    listed ``attacks``) or ``"strong"`` (:func:`helpers.evaluation.adaptive.attacker_attacks`); with
    ``"strong"`` the row's ``tuning`` names the settings the tuned attacks chose.

    ``on_validation`` (:data:`VALIDATION_CHOICES`): which attacks also reconstruct the validation
    images, whose worst case ``val_mse_best`` is what choices between defenses are made on.
    ``"all"``; ``"listed"``: only the listed ``attacks`` (the strong attacker's prior and tuned
    attacks then score the test images alone, and ``val_mse_best`` is NaN: it would not be the
    worst case of the attacks in ``mse_best``); ``"none"``: no attack, where nothing is chosen on
    them. The scored test rows are the same in all three (each attack is fitted, then reconstructs
    the test images before the validation ones), only the work on the validation images is saved."""
    check_choice("on_validation", on_validation, VALIDATION_CHOICES)
    names = attacker_attacks(attacks, attacker)
    selection = held_out(splits, trained.config.n_val) if trained.config.n_val and on_validation != "none" else None
    added_selection = selection if on_validation == "all" else None
    to_tune = [a for a in TUNED_ATTACKS if tuned_name(a) in names]
    untuned = [a for a in names if a not in {tuned_name(t) for t in to_tune}]
    parts, reconstructions, evaluation = [], {}, None
    for group, group_selection in (([a for a in untuned if a in attacks], selection),
                                   ([a for a in untuned if a not in attacks], added_selection)):
        if group:
            part, recon, evaluation = run_suite(trained, splits, cut, budget=budget, attacks=group, seed=seed,
                                                device=device, selection=group_selection, reuse=selection)
            parts.append(_images_marked(part, group_selection))
            reconstructions.update(recon)
    tuning = ""
    if to_tune:
        tuned, tuned_x, evaluation, chosen = adaptive_suite(trained, splits, cut, budget, to_tune, seed=seed,
                                                            device=device, selection=added_selection, reuse=selection)
        parts.append(_images_marked(tuned, added_selection))
        reconstructions.update(tuned_x)
        tuning = chosen_settings(chosen, budget)
    table = pd.concat(parts, ignore_index=True)
    validated = selection is not None and (added_selection is not None or attacker == "standard")
    chosen_on = table[table.images == "selection"]
    table = table[table.images == "test"]
    means = table.groupby("attack")[["mse", "ssim"]].mean()
    defense = trained.defense
    row = {"defense": defense.name, "label": label(defense) if trained.config.defense else f"none @ {cut}",
           "cut": cut, "accuracy": trained.test_accuracy,
           "val_accuracy": trained.val_accuracy if trained.config.n_val else float("nan"),
           **{f"mse_{a}": means.loc[a, "mse"] for a in names}, **{f"ssim_{a}": means.loc[a, "ssim"] for a in names},
           "mse_best": means.mse.min(), "best_attack": means.mse.idxmin(), "ssim_best": means.ssim.max(),
           "mse_best_standard": means.mse[list(attacks)].min(), "tuning": tuning,
           "val_mse_best": chosen_on.groupby("attack").mse.mean().min() if validated else float("nan"),
           **(probe_features(trained, splits, cut, mine_epochs, seed) if probes else {}),
           **edge_cost(defense.deploy(trained.model, cut), cut)}
    return row, table, reconstructions, evaluation


def _images_marked(table: pd.DataFrame, selection) -> pd.DataFrame:
    """A suite's table with its ``images`` column (``"test"`` throughout when it had no selection split)."""
    return table if selection is not None else table.assign(images="test")


def evaluate_all(base: TrainConfig, splits, defenses: list[Defense], cut: str, budget: SuiteBudget,
                 attacks=ATTACKS, mine_epochs: int = 100, seed: int = 0, device: str = "auto", progress=None,
                 probes: bool = True, attacker: str = "standard", on_validation: str = "all",
                 own_cuts: dict[str, str] | None = None):
    """Train and evaluate every defense at ``cut``, or at ``own_cuts[label]`` (e.g. PATROL's deeper
    edge): (summary DataFrame, {label: (reconstructions, evaluation)}); ``on_validation``: as
    :func:`evaluate_defense`."""
    attacker_attacks(attacks, attacker)  # an unknown attacker or attack fails before any training
    own_cuts = dict(own_cuts or {})
    unknown = sorted(set(own_cuts) - {label(d) for d in defenses})
    if unknown:
        raise ValueError(f"own_cuts names defenses that are not in the list: {unknown}")
    rows, examples = [], {}
    for defense in (progress or (lambda items: items))(defenses):
        at = own_cuts.get(label(defense), cut)
        trained = train_defended(base, splits, defense, at, device)
        row, _, reconstructions, evaluation = evaluate_defense(trained, splits, at, budget, attacks, mine_epochs,
                                                               seed, device, probes, attacker, on_validation)
        if row["label"] in examples:
            raise ValueError(f"two defenses share the label {row['label']!r}: list each configuration once")
        rows.append(row)
        examples[row["label"]] = (reconstructions, evaluation)
    return pd.DataFrame(rows), examples


def decoder_attack(trained: TrainedClassifier, splits, cut: str, budget: SuiteBudget, noise_aware: bool,
                   seed: int = 0, device: str = "auto") -> dict:
    """Mean MSE and SSIM of the inverse-network attack at ``cut``, its decoder trained on what the
    cloud observes (``noise_aware``) or on the clean edge output (the decoder then meets the
    defense's randomness only when it attacks)."""
    knowledge = AttackerKnowledge(noise_aware=noise_aware)
    table, _, _ = run_suite(trained, splits, cut, knowledge=knowledge, budget=budget, attacks=["inverse_network"],
                            seed=seed, device=device, score_labels=False)
    return {"mse": table.mse.mean(), "ssim": table.ssim.mean()}


def mixture_bound(trained: TrainedClassifier, splits, cut: str, sigma: float, k: int, h_x: float, seed: int = 0,
                  covariance: str = "ml") -> dict:
    """CEM's Gaussian-mixture bound for the clean edge features of the auxiliary images under noise
    σ (:func:`helpers.theory.gmm_conditional_entropy_bound`), by plug-in: the redundancy estimate
    (the population redundancy bounds I(x; z̃) from above; its estimate from few samples per
    cluster is biased low, less so with ``covariance="shrinkage"``), the implied H(x|z̃) bound
    given ``h_x`` and the per-pixel MSE floor, both estimates as well."""
    z = edge_features(split(trained.model, cut)[0], splits.aux.x)
    bound = gmm_conditional_entropy_bound(z, splits.aux.y, sigma, k=k, h_x=h_x, seed=seed, covariance=covariance)
    d = splits.aux.x[0].numel()
    return {"redundancy_estimate": bound.redundancy_estimate, "log_det_term": bound.log_det_term,
            "h_x_given_z_bound": bound.bound, "mse_floor": bound.mse_lower_bound(d)}


def validation_correct(trained: TrainedClassifier, splits, seed: int = 0) -> torch.Tensor:
    """Per-image correctness (bool) of the classifier as deployed on the validation images held out
    of target-train; a random defense draws its noise from ``seed`` (the decision itself uses the
    accuracy recorded at training)."""
    images = held_out(splits, trained.config.n_val)
    model = observed_classifier(trained.model, trained.defense, trained.config.cut)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return predict(model, images.x) == images.y
