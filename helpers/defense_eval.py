"""Evaluate defenses at one cut (notebook 04): train each defended classifier, attack it with the
whole suite, probe what it transmits and measure what its edge costs.

One row per (defense, strength): test accuracy, every attack's mean MSE and SSIM, the worst case
over attacks (lowest MSE, highest SSIM), the information probes of :mod:`helpers.probes` and the
edge's parameters, FLOPs and payload.
"""
from __future__ import annotations

import dataclasses
import inspect

import pandas as pd

from . import cache
from .defenses import Defense, ObservedEdge, from_config
from .models import cut_points, split
from .probes import probe
from .suite import ATTACKS, SuiteBudget, observe_all, run_suite
from .train import TrainConfig, TrainedClassifier, train_classifier

MINE_EPOCHS = {"smoke": 5, "quick": 100, "paper": 300}
MINE_DIMS = 8  # principal components of x and of z given to MINE (see helpers.probes.probe)


def defense_grid(spec: dict) -> list[Defense]:
    """``{"noise": [{"sigma": 0.5}, ...], "siftfunnel": [{}]}`` -> defenses, all validated up front."""
    return [from_config({"defense": name, **params}) for name, strengths in spec.items() for params in strengths]


def label(defense: Defense) -> str:
    """A legend label: the name and every parameter that differs from its default (so that two
    configurations never share a label)."""
    defaults = {name: p.default for name, p in inspect.signature(type(defense).__init__).parameters.items()}

    def text(value):
        if isinstance(value, dict):  # a nested defense (CEM's base)
            return f"[{label(from_config(value))}]"
        return f"{value:g}" if isinstance(value, (int, float)) else str(value)

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
    """:func:`helpers.probes.probe` on the auxiliary images and their observed features (cached)."""
    key = {"classifier": trained.weights_key, "cut": cut, "mine_epochs": mine_epochs, "mine_dims": MINE_DIMS,
           "seed": seed, "n": len(splits.aux)}

    def compute():
        z = observe_all(ObservedEdge(split(trained.model, cut)[0], trained.defense), splits.aux.x, seed + 3)
        return probe(splits.aux.x, z, mine_epochs, MINE_DIMS, seed)

    return cache.cached("probe", key, compute)


def evaluate_defense(trained: TrainedClassifier, splits, cut: str, budget: SuiteBudget, attacks=ATTACKS,
                     mine_epochs: int = 100, seed: int = 0, device: str = "auto"):
    """(summary row, per-image table, {attack: x̂}, evaluation split) for one trained classifier at ``cut``."""
    table, reconstructions, evaluation = run_suite(trained, splits, cut, budget=budget, attacks=list(attacks),
                                                   seed=seed, device=device)
    means = table.groupby("attack")[["mse", "ssim"]].mean()
    defense = trained.defense
    row = {"defense": defense.name, "label": label(defense) if trained.config.defense else f"none @ {cut}",
           "cut": cut, "accuracy": trained.test_accuracy,
           **{f"mse_{a}": means.loc[a, "mse"] for a in attacks}, **{f"ssim_{a}": means.loc[a, "ssim"] for a in attacks},
           "mse_best": means.mse.min(), "best_attack": means.mse.idxmin(), "ssim_best": means.ssim.max(),
           **probe_features(trained, splits, cut, mine_epochs, seed), **edge_cost(trained.model, cut)}
    return row, table, reconstructions, evaluation


def evaluate_all(base: TrainConfig, splits, defenses: list[Defense], cut: str, budget: SuiteBudget,
                 attacks=ATTACKS, mine_epochs: int = 100, seed: int = 0, device: str = "auto", progress=None):
    """Train and evaluate every defense at ``cut``: (summary DataFrame, {label: (reconstructions, evaluation)})."""
    rows, examples = [], {}
    for defense in (progress or (lambda items: items))(defenses):
        trained = train_defended(base, splits, defense, cut, device)
        row, _, reconstructions, evaluation = evaluate_defense(trained, splits, cut, budget, attacks, mine_epochs,
                                                               seed, device)
        if row["label"] in examples:
            raise ValueError(f"two defenses share the label {row['label']!r}: list each configuration once")
        rows.append(row)
        examples[row["label"]] = (reconstructions, evaluation)
    return pd.DataFrame(rows), examples
