"""The attack harness: one call that fits and runs registered attacks at a cut, and scores them.

Every attack is an :class:`~helpers.attacks.protocol.AttackSpec` in the registry
(:mod:`helpers.attacks.catalogue` holds the built-in ones); :func:`run_suite` loops over the names it
is given. What the attacker knows and may spend is :mod:`helpers.attacks.budget`
(:class:`AttackerKnowledge`, :func:`attacker_data`, :class:`SuiteBudget`; re-exported here).

Images the attacks are scored on (the first ``n_eval`` target-test images) are never used to fit,
select or stop anything. Choices between defenses are made on a *selection* split instead (the
classifier's held-out validation images, :func:`helpers.training.held_out`): ``run_suite(...,
selection=...)`` also reconstructs those with the same fitted attacks, in rows marked
``images="selection"``.
"""
from __future__ import annotations

import dataclasses
import functools
import time

import pandas as pd
import torch

from ..attacks.budget import AUX_CHOICES, AttackerKnowledge, SuiteBudget, attacker_data
from ..attacks.catalogue import ATTACKS, BASELINES, PRIOR_ATTACKS
from ..attacks.protocol import AttackContext, AttackerData, AttackSpec, attack_spec
from ..core import cache
from ..core.inference import batched, edge_features, predict
from ..core.repro import module_device, resolve_device
from ..data import Split, Splits
from ..defenses import Defense, ObservedEdge
from ..models import split
from ..training import TrainedClassifier
from .metrics import lpips_available
from .scoring import evaluate, score_images

__all__ = ["ATTACKS", "AUX_CHOICES", "BASELINES", "PRIOR_ATTACKS", "AttackerKnowledge", "SuiteBudget",
           "attacker_data", "observe_all", "run_suite"]


def run_suite(trained: TrainedClassifier, splits: Splits, cut: str, defense: Defense | None = None,
              knowledge: AttackerKnowledge = AttackerKnowledge(), budget: SuiteBudget = SuiteBudget(),
              attacks=ATTACKS, seed: int = 0, device: str = "auto", overwrite: bool = False,
              score_labels: bool = True, selection: Split | None = None, reuse: Split | None = None):
    """Fit and run ``attacks`` at ``cut``; returns (per-image DataFrame, {attack: x̂}, evaluation split).

    ``attacks``: names of registered attacks (:func:`~helpers.attacks.protocol.registered_attacks`:
    the default :data:`ATTACKS`, the opt-in :data:`PRIOR_ATTACKS`, the :data:`BASELINES`, and any
    registered since). Every image's features pass through :class:`ObservedEdge`
    (``observe(edge(x), defense)``), the same path the classifier's inference uses. Optimisation
    attacks reconstruct the first ``budget.n_optimisation`` evaluation images, the others all
    ``n_eval``. Reconstructions are cached by the full configuration.
    ``score_labels=False`` skips classifying the reconstructions (the ``recon_correct`` column).

    ``selection`` (images disjoint from the attacker's and the scored ones, e.g. the classifier's
    validation split): every fitted attack also reconstructs them, and the table gains their rows,
    with a column ``images`` that is ``"test"`` for the scored rows and ``"selection"`` for these;
    choices are made on the latter.

    ``reuse`` (a selection split, for a run without one): an attack already cached with that
    selection is read from its entry instead of being fitted again. That entry's scored
    reconstructions are the ones this run would compute: the same fit, the scored images
    reconstructed first, the selection's noise drawn from a generator of its own.
    """
    defense = _deployed_defense(trained, cut, defense)
    for name in attacks:
        attack_spec(name)
    edge, cloud = split(trained.model, cut)
    observed = ObservedEdge(edge, defense)
    budget = dataclasses.replace(budget, n_eval=min(budget.n_eval, len(splits.test)))
    aux, evaluation = attacker_data(splits, knowledge, budget.n_eval)
    if selection is not None:
        _check_disjoint(selection, {"the attacker's auxiliary images": aux, "the scored images": evaluation})
    views = _Observations(observed, edge, aux, evaluation, selection, seed, knowledge.noise_aware)
    context = AttackContext(edge, cloud, tuple(evaluation.x.shape[1:]),
                            tuple(observe_all(observed, evaluation.x[:1], seed).shape[1:]), budget, seed, device,
                            functools.partial(_shadow_edge, trained, cut))
    # the classifier's key is nested: its training seed must not be overwritten by the attack seed
    key = {"classifier": trained.weights_key, "cut": cut, "defense": defense.config(),
           "knowledge": dataclasses.asdict(_effective(knowledge, defense)), "n_eval": budget.n_eval, "seed": seed,
           "eval_index": cache.config_hash({"i": evaluation.index.tolist()}),
           **({"selection_index": cache.config_hash({"i": selection.index.tolist()})} if selection is not None else {})}
    reusable = ({"selection_index": cache.config_hash({"i": reuse.index.tolist()})}
                if reuse is not None and selection is None else {})
    runner = _Runner(context, views, key, overwrite, reusable)
    for name in attacks:
        runner.run(name)
    requested = {name: runner.results[name] for name in attacks}
    reconstructions = {name: result["x_hat"] for name, result in requested.items()}
    labels = dict(cut=cut, defense=defense.name, dataset=trained.config.dataset, seed=seed, aux=knowledge.aux,
                  noise_aware=knowledge.noise_aware)
    classify = _classifier(observed, cloud) if score_labels else None
    return _score_table(runner, requested, evaluation, selection, classify, labels), reconstructions, evaluation


class _Observations:
    """What the cloud receives, computed once and only when needed: one noise stream for the
    attacker's queries, one for the scored images, one for the selection images (a cached attack
    needs none of them)."""

    def __init__(self, observed, edge, aux: Split, evaluation: Split, selection: Split | None, seed: int,
                 noise_aware: bool):
        self.observed, self.edge, self.aux, self.evaluation, self.selection = observed, edge, aux, evaluation, selection
        self.seed, self.noise_aware = seed, noise_aware

    @functools.cached_property
    def eval(self) -> torch.Tensor:
        return observe_all(self.observed, self.evaluation.x, self.seed + 1)

    @functools.cached_property
    def aux_features(self) -> torch.Tensor:  # the attacker's queries; noise-unaware: the clean edge output
        if self.noise_aware:
            return observe_all(self.observed, self.aux.x, self.seed + 2)
        return edge_features(self.edge, self.aux.x)

    @functools.cached_property
    def selected(self) -> torch.Tensor:
        return observe_all(self.observed, self.selection.x, self.seed + 4)

    def attacker_data(self) -> AttackerData:
        return AttackerData(self.aux.x, self.aux.y, self.aux.index, lambda: self.aux_features)


class _Runner:
    """Runs registered attacks once each (an attack's start first), through the reconstruction cache."""

    def __init__(self, context: AttackContext, views: _Observations, key: dict, overwrite: bool, reusable: dict | None = None):
        self.context, self.views, self.key, self.overwrite = context, views, key, overwrite
        self.reusable = reusable or {}   # the key fields of a run with a selection that may stand in (run_suite's reuse)
        self.results: dict[str, dict] = {}
        self.keys: dict[str, dict] = {}   # the cache keys of the cached attacks

    def n_images(self, spec: AttackSpec) -> int | None:
        return self.context.budget.n_optimisation if spec.optimisation else None

    def run(self, name: str) -> dict:
        if name in self.results:
            return self.results[name]
        spec = attack_spec(name)
        start = self.run(spec.start) if spec.start else None
        attack = spec.build(self.context)
        compute = functools.partial(self._compute, spec, attack, start)
        if not spec.cached:
            self.results[name] = {**compute(), "seconds": {}}
            return self.results[name]
        n_opt = self.context.budget.n_optimisation
        key = {**self.key, **spec.key(attack, self.context), **({"n_optimisation": n_opt} if spec.optimisation else {})}
        device = resolve_device(self.context.device)
        if self.reusable and not self.overwrite:
            wider = {**key, **self.reusable}
            found = cache.load_within("reconstruction", wider, ("x_hat_selection",), device)
            if found is not None:
                self.results[name] = found
                self.keys[name] = wider   # its scores, cached beside it, are those of the same x_hat
                return self.results[name]
        self.results[name] = cache.cached("reconstruction", key, compute, self.overwrite, device)
        self.keys[name] = key
        return self.results[name]

    def _compute(self, spec: AttackSpec, attack, start: dict | None) -> dict:
        """Fit, reconstruct the scored (and selection) images; costs include the start's share."""
        n = self.n_images(spec)
        began = time.perf_counter()
        own_fit = spec.fit(attack, self.views.attacker_data())
        fitted = time.perf_counter()
        x_hat = attack.reconstruct(self.views.eval[:n], **_start(start, "x_hat", n))
        per_image = start["seconds"]["reconstruct"] / self.context.budget.n_eval if start else 0.0
        seconds = {"fit": (fitted - began if own_fit is None else own_fit) + (start["seconds"]["fit"] if start else 0.0),
                   "reconstruct": per_image * len(x_hat) + time.perf_counter() - fitted}
        if self.views.selection is None:
            return {"x_hat": x_hat, "seconds": seconds}
        chosen = attack.reconstruct(self.views.selected[:n], **_start(start, "x_hat_selection", n))
        return {"x_hat": x_hat, "seconds": seconds, "x_hat_selection": chosen}


def _start(start: dict | None, field: str, n: int | None) -> dict:
    """The ``init`` keyword of an attack that starts from another's reconstruction (empty if none)."""
    return {"init": start[field][:n]} if start else {}


def _classifier(observed: ObservedEdge, cloud: torch.nn.Module):
    def classify(images):
        with torch.no_grad():
            return predict(torch.nn.Sequential(observed, cloud), images)
    return classify


def _score_table(runner: _Runner, requested: dict, evaluation: Split, selection: Split | None, classify, labels: dict) -> pd.DataFrame:
    """Per-image scores of every reconstruction; with ``selection``, its rows too (MSE, PSNR, SSIM,
    LPIPS: cheap, not cached). Scores of cached reconstructions are cached beside them (a warm run
    skips the classifier passes); LPIPS availability is part of the key: adding the weights later rescores."""
    def scores(name: str, x_hat: torch.Tensor) -> dict:
        def compute():
            return score_images(x_hat, evaluation.x[:len(x_hat)], evaluation.y[:len(x_hat)], classify)
        if name not in runner.keys:  # the feature-free references: cheap, not cached
            return compute()
        key = {"reconstruction": runner.keys[name], "score_labels": classify is not None, "lpips": lpips_available()}
        return cache.cached("scores", key, compute, runner.overwrite, module_device(runner.views.observed))

    table = pd.concat([evaluate({name: result["x_hat"]}, evaluation.x[:len(result["x_hat"])],
                                evaluation.y[:len(result["x_hat"])], seconds={name: result["seconds"]},
                                scores={name: scores(name, result["x_hat"])}, **labels)
                       for name, result in requested.items()], ignore_index=True)
    if selection is None:
        return table
    return pd.concat([table.assign(images="test"),
                      *[evaluate({name: result["x_hat_selection"]}, selection.x[:len(result["x_hat_selection"])],
                                 **labels).assign(images="selection")
                        for name, result in requested.items()]], ignore_index=True)


def _check_disjoint(selection: Split, others: dict) -> None:
    """Selection images must be neither the attacker's nor the scored ones (indices into one dataset)."""
    chosen = set(selection.index.tolist())
    for what, part in others.items():
        if chosen & set(part.index.tolist()):
            raise ValueError(f"the selection images overlap {what}: choices would be made on them")


def _effective(knowledge: AttackerKnowledge, defense: Defense) -> AttackerKnowledge:
    """What the attacker's knowledge changes: nothing about noise-awareness where the cloud receives
    the edge output itself (unaware and aware attackers see the same features: one cache entry)."""
    return dataclasses.replace(knowledge, noise_aware=True) if defense.observes_unchanged else knowledge


def _deployed_defense(trained: TrainedClassifier, cut: str, defense: Defense | None) -> Defense:
    """The defense the cloud observes through: the one trained in, unless one is given explicitly.

    A classifier trained with a defense can only be attacked at the defense's cut and through that
    defense; anything else would score a model other than the deployed one.
    """
    if trained.config.defense is None:
        return defense or Defense()
    if cut != trained.config.cut:
        raise ValueError(f"this classifier was trained with {trained.defense} at {trained.config.cut!r}; "
                         f"attack it there, not at {cut!r}")
    if defense is not None and defense.config() != trained.config.defense:
        raise ValueError(f"this classifier was trained with {trained.defense}, not {defense}")
    return trained.defense


def _shadow_edge(trained: TrainedClassifier, cut: str) -> torch.nn.Module:
    """A fresh edge of the deployed architecture (defended or not, e.g. pruned channels), untrained:
    the query-free attacker knows the architecture, not the weights."""
    shadow_model = trained.config.build_model(trained.model.input_shape, trained.model.num_classes)
    shadow_model = trained.defense.match_architecture(shadow_model, trained.model)
    return split(shadow_model, cut)[0]


def observe_all(observed: ObservedEdge, x: torch.Tensor, seed: int, batch_size: int = 512) -> torch.Tensor:
    """What the cloud receives for images ``x`` (batched, on the model's device; CPU result), with the
    defense's randomness drawn from a generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return batched(observed, x, batch_size, call=lambda batch: observed(batch, generator))
