"""The audit of a split model: at every cut, what the edge costs, how compact the features are, and
how well the project's attackers reconstruct the input, under the claims' protocol.

Per seed: the model is trained with the project's loop and cache (or loaded from the user's
checkpoint), then, at each cut, attacked with the standard attacker (the four attacks) and, when
asked, the strong one (plus the prior attacks and every attack tuned against it on the attacker's
own images: :mod:`helpers.evaluation.adaptive`), through :func:`helpers.evaluation.defense_eval.evaluate_defense`
like any defense of notebook 07. R_c² (GPZ) is measured on held-out validation images with the
model's predicted labels, never on the scored test images. The class-mean reference (the average
auxiliary image of each true class) is what an attacker who learns nothing from the features gets.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from ..claims.rule import t_interval
from ..core.config import SCALES
from ..data import load_dataset, split_dataset
from ..evaluation.defense_eval import edge_cost, evaluate_defense
from ..evaluation.gpz import radius_profile
from ..evaluation.harness import ATTACKS, SuiteBudget, run_suite
from ..theory.radius import golden_partition_zone
from ..training import TrainConfig, TrainedClassifier, held_out, train_classifier
from .checkpoint import load_checkpoint

METRICS = ("mse_standard", "mse_strong", "ssim_worst", "leakage", "class_mean_mse", "radius", "radius_ratio",
           "accuracy")


@dataclass(frozen=True)
class AuditPlan:
    """What to audit: a model spec, its cuts, the data, the scale, the seeds and the attackers."""

    model: str
    cuts: tuple
    dataset: str = "mnist5k"
    scale: str = "quick"
    seeds: tuple = (0,)
    attackers: tuple = ("standard", "strong")
    checkpoint: str | None = None
    max_edge_mflops: float | None = None
    device: str = "auto"

    def config(self, data, seed: int) -> TrainConfig:
        scale = SCALES[self.scale]
        return TrainConfig.from_scale(scale, data, arch=self.model, cuts=self.cuts, seed=seed, n_val=scale.n_val)


def trained_model(plan: AuditPlan, data, seed: int) -> tuple[TrainedClassifier, object]:
    """(the classifier, its splits): trained and cached, or the user's checkpoint scored on the test split."""
    config = plan.config(data, seed)
    splits = split_dataset(data, **config.split_kwargs())
    if plan.checkpoint:
        return load_checkpoint(plan.checkpoint, config, splits), splits
    return train_classifier(config, splits, device=plan.device), splits


def audit_seed(plan: AuditPlan, data, seed: int) -> tuple[pd.DataFrame, dict]:
    """One row per cut for one seed, and {cut: (reconstructions, evaluation split)} of the worst attack."""
    trained, splits = trained_model(plan, data, seed)
    budget = SuiteBudget.from_scale(SCALES[plan.scale])
    attacker = "strong" if "strong" in plan.attackers else "standard"
    validation = held_out(splits, trained.config.n_val)
    radii = radius_profile(trained.model, validation.x, list(plan.cuts)).set_index("cut")
    reference, _, _ = run_suite(trained, splits, plan.cuts[0], budget=budget, attacks=["class_mean"], seed=seed,
                                device=plan.device, score_labels=False)
    rows, examples = [], {}
    for cut in plan.cuts:
        row, table, reconstructions, evaluation = evaluate_defense(trained, splits, cut, budget, ATTACKS, seed=seed,
                                                                   device=plan.device, probes=False, attacker=attacker,
                                                                   on_validation="none")   # nothing is chosen on them
        worst = table[table.attack == row["best_attack"]]
        rows.append({"seed": seed, "cut": cut, **edge_cost(trained.model, cut), "accuracy": trained.test_accuracy,
                     "radius": radii.radius[cut], "radius_ratio": radii.radius_ratio[cut],
                     "mse_standard": row["mse_best_standard"],
                     "mse_strong": row["mse_best"] if attacker == "strong" else float("nan"),
                     "worst_attack": row["best_attack"], "ssim_worst": worst.ssim.mean(),
                     "leakage": worst.recon_correct.mean(), "class_mean_mse": reference.mse.mean(),
                     "tuning": row["tuning"]})
        examples[cut] = (reconstructions[row["best_attack"]], evaluation, row["best_attack"])
    return pd.DataFrame(rows), examples


def gpz_choice(per_seed: pd.DataFrame, cuts) -> str:
    """GPZ's rule on the seed-mean R_c² at the cuts (shallowest first); it needs three cuts."""
    if len(cuts) < 3:
        return "n/a (the rule needs 3 cuts or more)"
    radii = per_seed.groupby("cut").radius.mean()
    return golden_partition_zone(list(cuts), [radii[c] for c in cuts]).text


def summarise(per_seed: pd.DataFrame, cuts) -> pd.DataFrame:
    """One row per cut: the edge's cost, and the mean of each metric with its 95% t-interval over seeds
    (``_low``/``_high``; NaN with one seed); the worst case over the attackers evaluated, and each
    attacker's worst-case MSE relative to the class-mean reference (``privacy``, ``privacy_standard``,
    ``privacy_strong``) and the worst case relative to the shallowest cut's (``worst_vs_shallowest``)."""
    rows = []
    for cut in cuts:
        part = per_seed[per_seed.cut == cut]
        row = {"cut": cut, **part.iloc[0][["payload", "edge_params", "edge_MFLOPs"]].to_dict(), "seeds": len(part)}
        for metric in METRICS:
            values = part[metric].dropna()
            if values.empty:
                row.update({metric: float("nan"), f"{metric}_low": float("nan"), f"{metric}_high": float("nan")})
                continue
            mean, low, high = t_interval(values)[:3] if len(values) > 1 else (values.mean(), float("nan"), float("nan"))
            row.update({metric: mean, f"{metric}_low": low, f"{metric}_high": high})
        rows.append(row)
    table = pd.DataFrame(rows)
    worst = table[["mse_standard", "mse_strong"]].min(axis=1)   # the strongest attacker evaluated
    return table.assign(worst_mse=worst, privacy=worst / table.class_mean_mse,
                        privacy_standard=table.mse_standard / table.class_mean_mse,
                        privacy_strong=table.mse_strong / table.class_mean_mse,
                        worst_vs_shallowest=worst / worst.iloc[0])   # GPZ's measure of a cut


def order_cuts(plan: AuditPlan, data) -> AuditPlan:
    """``plan`` with its cuts in the model's forward order (shallowest first), as every table lists them."""
    model = plan.config(data, plan.seeds[0]).build_model(data.image_shape, data.num_classes)
    ordered = tuple(c for c in model.cut_names if c in plan.cuts)
    return dataclasses.replace(plan, cuts=ordered)


def run_audit(plan: AuditPlan, progress=None) -> dict:
    """Every seed of ``plan``: {"plan", "per_seed", "table", "gpz", "examples" (seed 0's)}."""
    data = load_dataset(plan.dataset)
    plan = order_cuts(plan, data)
    frames, examples = [], None
    for seed in (progress or (lambda items: items))(plan.seeds):
        frame, seen = audit_seed(plan, data, seed)
        frames.append(frame)
        examples = examples or seen
    per_seed = pd.concat(frames, ignore_index=True)
    return {"plan": plan, "per_seed": per_seed, "table": summarise(per_seed, plan.cuts),
            "gpz": gpz_choice(per_seed, plan.cuts), "examples": examples}
