"""GPZ experiments (notebook 02): R_c² profiles over cut points, attack profiles at the same cuts,
and the label-smoothing dynamics of R_c² during training.

R_c² uses the classifier's *predicted* labels, as GPZ's code does. Three normalisations are
reported: raw, per feature dimension (R_c²/d) and relative to the global variance (R_c²/σ²_total,
scale-free, in [0, 1]).
"""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import torch

from ..core import cache
from ..core.config import check_list, check_range, check_seed
from ..core.progress import progress
from ..core.repro import module_device
from ..core.stats import summarize
from ..data import Splits, split_dataset
from ..models import SplittableNet, check_cuts, cut_points
from ..theory.radius import global_variance, intra_class_radius, zone_cuts
from ..training import TrainConfig, TrainedClassifier, train_classifier
from .harness import AttackerKnowledge, SuiteBudget, run_suite


@torch.no_grad()
def features_at_cuts(model: SplittableNet, x: torch.Tensor, cuts=None, batch_size: int = 256
                     ) -> tuple[dict, torch.Tensor]:
    """({cut: features N × ...}, predicted labels), from one pass through the blocks."""
    cuts = (check_cuts(model, cuts) if cuts is not None else []) or list(model.cut_names)
    device = module_device(model)
    # a channels_last copy: convolutions about 1.7x faster on the CPU, the caller's model untouched
    model = copy.deepcopy(model).eval().to(memory_format=torch.channels_last)
    collected = {cut: [] for cut in cuts}
    predicted = []
    for start in range(0, len(x), batch_size):
        h = x[start:start + batch_size].to(device).contiguous(memory_format=torch.channels_last)
        for name, block in model.blocks.named_children():
            h = block(h)
            if name in collected:
                collected[name].append(h.cpu())
        predicted.append(h.argmax(1).cpu())
    return {cut: torch.cat(parts) for cut, parts in collected.items()}, torch.cat(predicted)


def radius_profile(model: SplittableNet, x: torch.Tensor, cuts=None) -> pd.DataFrame:
    """One row per cut: feature_dim, R_c² (raw, per dimension, relative to the global variance)
    and the relative drop of each from the previous cut."""
    features, predicted = features_at_cuts(model, x, cuts)
    rows = []
    for cut, z in features.items():
        radius, total = intra_class_radius(z, predicted).mean, global_variance(z)
        rows.append({"cut": cut, "feature_dim": z[0].numel(), "radius": radius,
                     "radius_per_dim": radius / z[0].numel(), "global_var": total,
                     "radius_ratio": radius / total if total > 0 else float("nan")})
    frame = pd.DataFrame(rows)
    for column in ("radius", "radius_per_dim", "radius_ratio"):
        previous = frame[column].shift(1)
        frame[f"drop_{column}"] = (previous - frame[column]) / previous
    return frame


def attack_profile(trained: TrainedClassifier, splits: Splits, budget: SuiteBudget, cuts, seed: int = 0,
                   device: str = "auto") -> pd.DataFrame:
    """Inverse-network attack at every cut, with the class-mean reference: mean and 95% interval of
    MSE and SSIM per cut, and the MSE relative to the class-mean reference."""
    cuts = check_cuts(trained.model, cuts)
    tables = [run_suite(trained, splits, cut, knowledge=AttackerKnowledge(), budget=budget,
                        attacks=["inverse_network", "class_mean"], seed=seed, device=device, score_labels=False)[0]
              for cut in progress(cuts, desc=f"attack {trained.config.arch}", leave=False)]
    per_image = pd.concat(tables, ignore_index=True)
    summary = summarize(per_image, ["cut", "attack"], ["mse", "ssim"])
    attack = summary[summary.attack == "inverse_network"].drop(columns="attack").reset_index(drop=True)
    reference = summary[summary.attack == "class_mean"].set_index("cut").mse
    attack["mse_vs_class_mean"] = attack.mse / attack.cut.map(reference)
    return attack


def seed_splits(config: TrainConfig, data, seeds) -> dict:
    """{seed: Splits}: the data split each seed draws (``split_seed`` = the seed, as every
    :meth:`TrainConfig.from_scale` run does), so an arm of seed s sees the images run s sees."""
    seeds = check_list("seeds", seeds, check_seed)
    return {int(seed): split_dataset(data, **dataclasses.replace(config, split_seed=int(seed)).split_kwargs())
            for seed in seeds}


def train_smoothing_arms(config: TrainConfig, splits_by_seed: dict, alphas, seeds, device: str = "auto") -> dict:
    """{(α, seed): TrainedClassifier} trained with label smoothing α, keeping every epoch's weights;
    the arm of seed s is initialised with s and trained on ``splits_by_seed[s]`` (:func:`seed_splits`)."""
    alphas = check_list("alphas", alphas, lambda alpha: check_range("label smoothing alpha", alpha, -0.5, 1.0))
    seeds = check_list("seeds", seeds, check_seed)
    missing = [seed for seed in seeds if seed not in splits_by_seed]
    if missing:
        raise ValueError(f"no split for seeds {missing}: build them with seed_splits(config, data, seeds)")
    arms = {}
    for alpha in alphas:
        for seed in seeds:
            run = dataclasses.replace(config, label_smoothing=float(alpha), seed=int(seed), split_seed=int(seed),
                                      keep_epoch_states=True)
            arms[(alpha, seed)] = train_classifier(run, splits_by_seed[seed], device=device)
    return arms


def radius_dynamics(arms: dict, x_stats, cuts) -> pd.DataFrame:
    """One row per (α, seed, epoch, cut): R_c², R_c²/global variance and that epoch's test accuracy.
    ``x_stats``: the images (a tensor), or ``{seed: tensor}`` for arms that each saw their own split.

    Each arm's rows are cached under its classifier's key, the cuts and a digest of its images."""
    cuts = check_list("cuts", cuts) if cuts is not None else None  # names are checked per model
    frames = []
    for (alpha, seed), trained in progress(arms.items(), desc="R_c² per epoch", leave=False):
        images = x_stats[seed] if isinstance(x_stats, dict) else x_stats

        def compute():
            rows = []
            for epoch, record in enumerate(trained.history, start=1):
                for row in radius_profile(trained.model_at_epoch(epoch), images, cuts).itertuples():
                    rows.append({"epoch": epoch, "cut": row.cut, "radius": float(row.radius),
                                 "radius_ratio": float(row.radius_ratio), "test_acc": float(record["test_acc"])})
            return {"rows": {k: [r[k] for r in rows] for k in ("epoch", "cut", "radius", "radius_ratio", "test_acc")}}

        key = {"classifier": trained.cache_key, "cuts": cuts, "x_stats": cache.tensor_digest(images)}
        frame = pd.DataFrame(cache.cached("radius_dynamics", key, compute,
                                           device=module_device(trained.model))["rows"])
        frames.append(frame.assign(alpha=alpha, seed=seed)[["alpha", "seed", "epoch", "cut", "radius",
                                                              "radius_ratio", "test_acc"]])
    return pd.concat(frames, ignore_index=True)


def r_squared(frame: pd.DataFrame, target: str, predictors: list[str]) -> float:
    """R² of an ordinary least-squares fit of ``target`` on ``predictors`` (with an intercept)."""
    design = np.column_stack([np.ones(len(frame))] + [frame[p].to_numpy(float) for p in predictors])
    y = frame[target].to_numpy(float)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    return float(1 - residual @ residual / ((y - y.mean()) @ (y - y.mean())))


def level_cuts(model: SplittableNet, cuts) -> tuple[str, str]:
    """(feature-level cut, decision-level cut) among ``cuts``: the last whose output is image-shaped
    (C×H×W) and the first that is flat, the two sides of the feature→decision transition."""
    shapes = {p.name: len(p.feature_shape) for p in cut_points(model)}
    unknown = [c for c in cuts if c not in shapes]
    if unknown:
        raise ValueError(f"{unknown} are not cut points of this model; valid: {', '.join(shapes)}")
    image, flat = [c for c in cuts if shapes[c] == 3], [c for c in cuts if shapes[c] == 1]
    if not image or not flat:
        raise ValueError(f"the cuts {list(cuts)} do not span the transition: need an image-shaped and a flat one")
    return image[-1], flat[0]


def transition_levels(rows: pd.DataFrame, model: SplittableNet, zone: str) -> dict:
    """The attack at both sides of the transition and at the GPZ cut (the first of ``zone``, as
    :attr:`~helpers.theory.radius.PartitionZone.text` writes it), for one architecture's per-cut
    table ``rows`` (columns cut, mse, mse_vs_class_mean; shallowest cut first)."""
    feature, decision = level_cuts(model, list(rows.cut))
    gpz_cut = zone_cuts(zone)[0]
    by_cut = rows.set_index("cut")
    mse = by_cut.mse
    order = list(by_cut.index)
    at = order.index(gpz_cut)
    before, after = order[max(at - 1, 0)], order[min(at + 1, len(order) - 1)]   # its neighbours (itself at an end)
    return {"feature-level cut": feature, "decision-level cut": decision, "GPZ cut": gpz_cut,
            "MSE feature": mse[feature], "MSE decision": mse[decision],
            "decision vs feature (%)": 100 * (mse[decision] / mse[feature] - 1),
            "MSE GPZ / shallowest": mse[gpz_cut] / mse.iloc[0],
            "MSE GPZ / class-mean": by_cut.mse_vs_class_mean[gpz_cut],
            "cut before GPZ": before, "cut after GPZ": after,
            "MSE GPZ / before": mse[gpz_cut] / mse[before], "MSE after / GPZ": mse[after] / mse[gpz_cut]}


def at_boundary(zone: str, feature_cut: str, decision_cut: str) -> bool:
    """Does a GPZ (a cut or a zone) lie exactly on the transition: every cut of it one of its two sides?"""
    return all(cut in (feature_cut, decision_cut) for cut in zone_cuts(zone))
