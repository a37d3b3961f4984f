"""The attack harness: attacker knowledge, the attacker's data, and one call that runs every attack.

Attacker knowledge is an explicit :class:`AttackerKnowledge`, never hidden in a data loader:

* ``aux``: ``"disjoint_aux"`` (default; images disjoint from the target's), ``"train_set"`` (a
  subset of the target's training images: CEM's "training" setting) or ``"test_split"`` (the part of
  the target-test split that is not scored: CEM's "inference" setting);
* ``noise_aware``: the decoder is trained on what the cloud observes (defense applied) rather than
  on the clean edge output;
* the access each attack needs is fixed by the attack: black-box queries (inverse network), the
  edge's weights (white box, hybrid), the cloud's weights and the edge's architecture (query-free),
  or the edge's weights and an image prior trained on the auxiliary images alone (the opt-in
  :data:`PRIOR_ATTACKS`, :mod:`helpers.attacks.prior_attacks`).

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
from dataclasses import dataclass

import pandas as pd
import torch

from ..attacks import (DiffusionGuidedAttack, InverseNetworkAttack, LatentSearchAttack, QueryFreeShadowAttack,
                       WhiteBoxOptimizationAttack, class_mean_images)
from ..attacks.priors import PriorConfig
from ..core import cache
from ..core.config import Scale, check_choice, check_range
from ..core.inference import batched, edge_features, predict
from ..core.repro import module_device, resolve_device
from ..data import Split, Splits
from ..defenses import Defense, ObservedEdge
from ..models import split
from ..training import TrainedClassifier
from .metrics import lpips_available
from .scoring import evaluate, score_images

AUX_CHOICES = ("disjoint_aux", "train_set", "test_split")
ATTACKS = ("inverse_network", "white_box", "hybrid", "query_free")
# references that use no features: the mean auxiliary image, and the mean auxiliary image of the
# class the cloud predicts (what the label alone gives an attacker)
BASELINES = ("mean_image", "class_mean")
# opt-in (not in ATTACKS): each trains its own image prior on the auxiliary images first
PRIOR_ATTACKS = ("latent_search", "diffusion")
OPTIMISATION_ATTACKS = ("white_box", "hybrid", *PRIOR_ATTACKS)
# prior attacks that start from the inverse network's reconstruction (its decoder is trained once).
# Measured at quick on 64 target-train images of the VGG (neither aux nor scored): latent search from
# it reached MSE 0.013 at pool3 against 0.018 from w = 0 (equal at pool1, where the VAE's blur is the
# floor); the diffusion attack noised it to 3/4 of T: MSE 0.00073 at pool3 in 3/4 of the steps
# (from pure noise 0.00076, from 1/2 of T 0.00084)
PRIOR_HYBRID = ("latent_search", "diffusion")


@dataclass(frozen=True)
class AttackerKnowledge:
    aux: str = "disjoint_aux"
    noise_aware: bool = True

    def __post_init__(self):
        check_choice("aux", self.aux, AUX_CHOICES)


def attacker_data(splits: Splits, knowledge: AttackerKnowledge, n_eval: int) -> tuple[Split, Split]:
    """(auxiliary split, evaluation split). Evaluation: the first ``n_eval`` target-test images."""
    if not 0 < n_eval <= len(splits.test):
        raise ValueError(f"n_eval must lie in [1, {len(splits.test)}], got {n_eval}")
    take = lambda part, sl: Split(part.x[sl], part.y[sl], part.index[sl])  # noqa: E731
    evaluation = take(splits.test, slice(0, n_eval))
    if knowledge.aux == "disjoint_aux":
        aux = splits.aux
    elif knowledge.aux == "train_set":
        aux = take(splits.train, slice(0, len(splits.aux)))
    else:
        aux = take(splits.test, slice(n_eval, None))
        if len(aux) < 2:
            raise ValueError("aux='test_split' needs target-test images beyond the n_eval scored ones")
    return aux, evaluation


@dataclass(frozen=True)
class SuiteBudget:
    """Attack budgets; ``from_scale`` picks them from a :class:`Scale`.

    ``n_eval`` target-test images are scored. The optimisation attacks (white box, hybrid) cost a
    full edge forward+backward per image and step, so they may score only the first
    ``n_eval_optimisation`` of those images (``None``: all of them).
    """

    decoder_epochs: int = 10
    decoder_width: int = 64
    decoder_depth: int = 1
    decoder_lr: float = 1e-3
    decoder_batch_size: int = 128
    white_box_steps: int = 300
    white_box_lr: float = 0.1
    tv_weight: float = 0.01
    hybrid_steps: int = 100
    shadow_epochs: int = 5
    n_eval: int = 500
    n_eval_optimisation: int | None = None
    vae: PriorConfig = PriorConfig("vae")      # the latent-search attack's prior
    ddpm: PriorConfig = PriorConfig("ddpm")    # the diffusion attack's prior
    latent_steps: int = 200
    latent_lr: float = 0.05
    latent_prior_weight: float = 1e-3
    guidance: float = 1.0
    diffusion_start: float = 0.75              # fraction of T the inverse network's output is noised to

    def __post_init__(self):
        for name in ("decoder_epochs", "decoder_width", "decoder_batch_size", "white_box_steps", "hybrid_steps",
                     "shadow_epochs", "n_eval", "latent_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not (isinstance(self.vae, PriorConfig) and self.vae.kind == "vae"
                and isinstance(self.ddpm, PriorConfig) and self.ddpm.kind == "ddpm"):
            raise ValueError(f"vae and ddpm must be PriorConfigs of those kinds, got {self.vae!r}, {self.ddpm!r}")
        check_range("latent_lr", self.latent_lr, 0.0, low_inclusive=False)
        check_range("latent_prior_weight", self.latent_prior_weight, 0.0)
        check_range("guidance", self.guidance, 0.0, 2.0, high_inclusive=True)
        check_range("diffusion_start", self.diffusion_start, 0.0, 1.0, low_inclusive=False, high_inclusive=True)
        if self.decoder_depth < 0 or self.tv_weight < 0 or self.white_box_lr <= 0 or self.decoder_lr <= 0:
            raise ValueError("decoder_depth and tv_weight must be non-negative, white_box_lr and decoder_lr positive")
        if self.n_eval_optimisation is not None and not 1 <= self.n_eval_optimisation:
            raise ValueError(f"n_eval_optimisation must be positive or None, got {self.n_eval_optimisation}")

    def decoder_options(self) -> dict:
        """Keyword arguments of :class:`InverseNetworkAttack` for this budget's decoder."""
        return dict(width=self.decoder_width, depth=self.decoder_depth, epochs=self.decoder_epochs,
                    lr=self.decoder_lr, batch_size=self.decoder_batch_size)

    @property
    def n_optimisation(self) -> int:
        return min(self.n_eval, self.n_eval_optimisation or self.n_eval)

    @classmethod
    def from_scale(cls, scale: Scale, **overrides) -> "SuiteBudget":
        """smoke: token budgets; quick: a decoder of width 32 without the extra 28×28 conv, trained 6
        epochs in batches of 64 at lr 3e-3 (measured on the VGG at pool1/pool2/pool3/fc1: MSE within
        0-15% of width 64, in half the time; fewer epochs cost more: 5 epochs +10%, 4 epochs +25%),
        a shadow edge trained 3 epochs, 100 white-box and 66 hybrid steps on 64 images, 100 latent-search
        steps (200 gained under 1% MSE at pool3); paper: the full budget. The priors of the prior
        attacks: :meth:`PriorConfig.from_scale`."""
        per_scale = {"smoke": dict(white_box_steps=20, hybrid_steps=10, n_eval_optimisation=32, decoder_depth=0,
                                   decoder_lr=3e-3, decoder_batch_size=64, latent_steps=10),
                     "quick": dict(white_box_steps=100, hybrid_steps=66, n_eval_optimisation=64, decoder_depth=0,
                                   decoder_width=32, decoder_lr=3e-3, decoder_batch_size=64, shadow_epochs=3,
                                   latent_steps=100),
                     "paper": dict(white_box_steps=1000, hybrid_steps=333, n_eval_optimisation=500, decoder_depth=1,
                                   latent_steps=1000)}
        chosen = per_scale.get(scale.name, per_scale["quick"])
        base = {"decoder_epochs": scale.decoder_epochs, "shadow_epochs": max(1, scale.epochs // 2),
                "n_eval": scale.n_eval, "vae": PriorConfig.from_scale(scale, "vae"),
                "ddpm": PriorConfig.from_scale(scale, "ddpm"), **chosen}
        return cls(**{**base, **overrides})


def run_suite(trained: TrainedClassifier, splits: Splits, cut: str, defense: Defense | None = None,
              knowledge: AttackerKnowledge = AttackerKnowledge(), budget: SuiteBudget = SuiteBudget(),
              attacks=ATTACKS, seed: int = 0, device: str = "auto", overwrite: bool = False,
              score_labels: bool = True, selection: Split | None = None):
    """Fit and run ``attacks`` at ``cut``; returns (per-image DataFrame, {attack: x̂}, evaluation split).

    ``attacks`` may also name the :data:`BASELINES` and the opt-in :data:`PRIOR_ATTACKS`. Every
    image's features pass through :class:`ObservedEdge` (``observe(edge(x), defense)``), the same path
    the classifier's inference uses. The :data:`OPTIMISATION_ATTACKS`' reconstructions cover the
    first ``budget.n_optimisation`` evaluation images, the others all ``n_eval``. Reconstructions are
    cached by the full configuration.
    ``score_labels=False`` skips classifying the reconstructions (the ``recon_correct`` column).

    ``selection`` (images disjoint from the attacker's and the scored ones, e.g. the classifier's
    validation split): every fitted attack also reconstructs them (the optimisation attacks the first
    ``budget.n_optimisation``), and the table gains their rows, with a column ``images`` that is
    ``"test"`` for the scored rows and ``"selection"`` for these; choices are made on the latter.
    """
    defense = _deployed_defense(trained, cut, defense)
    for name in attacks:
        check_choice("attack", name, ATTACKS + PRIOR_ATTACKS + BASELINES)
    edge, cloud = split(trained.model, cut)
    observed = ObservedEdge(edge, defense)
    budget = dataclasses.replace(budget, n_eval=min(budget.n_eval, len(splits.test)))
    n_opt = budget.n_optimisation
    aux, evaluation = attacker_data(splits, knowledge, budget.n_eval)
    if selection is not None:
        _check_disjoint(selection, {"the attacker's auxiliary images": aux, "the scored images": evaluation})
    # one noise stream for the attacker's queries and one for the scored images; each is computed only
    # when an attack is fitted, a reconstruction made or a baseline drawn (a cached attack needs neither)
    @functools.cache
    def z_eval() -> torch.Tensor:
        return observe_all(observed, evaluation.x, seed + 1)

    @functools.cache
    def z_aux() -> torch.Tensor:  # the attacker's training features: computed only when an attack is fitted
        return observe_all(observed, aux.x, seed + 2) if knowledge.noise_aware else edge_features(edge, aux.x)

    @functools.cache
    def z_selection() -> torch.Tensor:
        return observe_all(observed, selection.x, seed + 4)

    def reconstruct_selection(attack, **init) -> dict:
        """The selection images' reconstructions by an attack already fitted (empty without them)."""
        if selection is None:
            return {}
        z = z_selection()[:n_opt] if attack_is_optimisation(attack) else z_selection()
        return {"x_hat_selection": attack.reconstruct(z, **init)}

    image_shape = tuple(evaluation.x.shape[1:])
    feature_shape = tuple(observe_all(observed, evaluation.x[:1], seed).shape[1:])

    def make_decoder():
        return InverseNetworkAttack(feature_shape, image_shape, **budget.decoder_options(), seed=seed, device=device)

    def make_white_box(steps):
        return WhiteBoxOptimizationAttack(edge, image_shape, steps=steps, lr=budget.white_box_lr,
                                          tv_weight=budget.tv_weight, device=device)

    def make_shadow_edge():
        # the attacker knows the deployed edge architecture (defended or not), not its weights
        shadow_model = trained.config.build_model(trained.model.input_shape, trained.model.num_classes)
        shadow_model = trained.defense.match_architecture(shadow_model, trained.model)  # e.g. pruned channels
        return split(shadow_model, cut)[0]

    def make_query_free():
        return QueryFreeShadowAttack(cloud, make_shadow_edge, image_shape, feature_shape,
                                     shadow_epochs=budget.shadow_epochs, decoder_epochs=budget.decoder_epochs,
                                     decoder_width=budget.decoder_width, decoder_depth=budget.decoder_depth,
                                     decoder_lr=budget.decoder_lr, decoder_batch_size=budget.decoder_batch_size,
                                     seed=seed, device=device)

    def make_prior_attack(name):  # the priors' seed follows the attack seed, as the decoder's does
        if name == "latent_search":
            return LatentSearchAttack(edge, image_shape, dataclasses.replace(budget.vae, seed=seed),
                                      steps=budget.latent_steps, lr=budget.latent_lr,
                                      prior_weight=budget.latent_prior_weight, device=device)
        return DiffusionGuidedAttack(edge, image_shape, dataclasses.replace(budget.ddpm, seed=seed),
                                     guidance=budget.guidance, start_fraction=budget.diffusion_start, seed=seed,
                                     device=device)

    builders = {"inverse_network": make_decoder, "white_box": lambda: make_white_box(budget.white_box_steps),
                "query_free": make_query_free}
    # the classifier's key is nested: its training seed must not be overwritten by the attack seed
    context = {"classifier": trained.weights_key, "cut": cut, "defense": defense.config(),
               "knowledge": dataclasses.asdict(knowledge), "n_eval": budget.n_eval, "seed": seed,
               "eval_index": cache.config_hash({"i": evaluation.index.tolist()}),
               **({"selection_index": cache.config_hash({"i": selection.index.tolist()})} if selection is not None else {})}
    results, keys = {}, {}

    def run(name: str) -> dict:
        if name in results:
            return results[name]
        if name in BASELINES:
            results[name] = {"x_hat": _baseline(name, aux, cloud, z_eval()), "seconds": {}}
            return results[name]
        if name == "hybrid":  # refine the inverse network's output: its decoder is trained once
            decoder = run("inverse_network")
            attack = make_white_box(budget.hybrid_steps)
            key = {**context, "attack": "hybrid", "n_optimisation": n_opt, "decoder": make_decoder().config(),
                   "white_box": attack.config()}

            def compute():
                start = time.perf_counter()
                x_hat = attack.reconstruct(z_eval()[:n_opt], init=decoder["x_hat"][:n_opt])
                per_image = decoder["seconds"]["reconstruct"] / budget.n_eval
                seconds = {"fit": decoder["seconds"]["fit"], "reconstruct": per_image * n_opt + time.perf_counter() - start}
                chosen = ({"init": decoder["x_hat_selection"][:n_opt]} if selection is not None else {})
                return {"x_hat": x_hat, "seconds": seconds, **reconstruct_selection(attack, **chosen)}
        elif name in PRIOR_ATTACKS:
            attack, decoder = make_prior_attack(name), (run("inverse_network") if name in PRIOR_HYBRID else None)
            key = {**context, **attack.config(), "n_optimisation": n_opt,
                   **({"init": make_decoder().config()} if decoder else {})}

            def compute():
                attack.fit(aux.x, index=aux.index)  # the prior sees the auxiliary images only
                start = time.perf_counter()
                init = {"init": decoder["x_hat"][:n_opt]} if decoder else {}
                x_hat = attack.reconstruct(z_eval()[:n_opt], **init)
                # costs: the prior's training (also when it was loaded from its cache) and the decoder's
                per_image = decoder["seconds"]["reconstruct"] / budget.n_eval if decoder else 0.0
                seconds = {"fit": attack.prior.seconds + (decoder["seconds"]["fit"] if decoder else 0.0),
                           "reconstruct": per_image * n_opt + time.perf_counter() - start}
                chosen = {"init": decoder["x_hat_selection"][:n_opt]} if decoder and selection is not None else {}
                return {"x_hat": x_hat, "seconds": seconds, **reconstruct_selection(attack, **chosen)}
        else:
            attack = builders[name]()
            key = {**context, **attack.config(), **({"n_optimisation": n_opt} if name in OPTIMISATION_ATTACKS else {})}

            def compute():
                start = time.perf_counter()
                attack.fit(aux.x, z_aux(), aux.y)
                fitted = time.perf_counter()
                x_hat = attack.reconstruct(z_eval()[:n_opt] if name in OPTIMISATION_ATTACKS else z_eval())
                seconds = {"fit": fitted - start, "reconstruct": time.perf_counter() - fitted}
                return {"x_hat": x_hat, "seconds": seconds, **reconstruct_selection(attack)}
        results[name] = cache.cached("reconstruction", key, compute, overwrite, resolve_device(device))
        keys[name] = key
        return results[name]

    for name in attacks:
        run(name)
    reconstructions = {name: results[name]["x_hat"] for name in attacks}

    def classify(images):
        with torch.no_grad():
            return predict(torch.nn.Sequential(observed, cloud), images)

    def scores(name: str, x_hat: torch.Tensor) -> dict:
        """Per-image scores of a cached reconstruction, cached beside it (a warm run skips the
        classifier passes); LPIPS availability is part of the key: adding the weights later rescores."""
        def compute():
            return score_images(x_hat, evaluation.x[:len(x_hat)], evaluation.y[:len(x_hat)],
                                classify if score_labels else None)
        if name not in keys:  # the feature-free baselines: cheap, not cached
            return compute()
        key = {"reconstruction": keys[name], "score_labels": score_labels, "lpips": lpips_available()}
        return cache.cached("scores", key, compute, overwrite, module_device(observed))

    labels = dict(cut=cut, defense=defense.name, dataset=trained.config.dataset, seed=seed, aux=knowledge.aux,
                  noise_aware=knowledge.noise_aware)
    table = pd.concat([evaluate({name: x_hat}, evaluation.x[:len(x_hat)], evaluation.y[:len(x_hat)],
                                seconds={name: results[name]["seconds"]}, scores={name: scores(name, x_hat)}, **labels)
                       for name, x_hat in reconstructions.items()], ignore_index=True)
    if selection is not None:  # MSE, PSNR, SSIM (LPIPS) of the selection images: cheap, not cached
        chosen = {name: results[name]["x_hat_selection"] if name in keys
                  else _baseline(name, aux, cloud, z_selection()) for name in attacks}
        table = pd.concat([table.assign(images="test"),
                           *[evaluate({name: x_hat}, selection.x[:len(x_hat)], **labels).assign(images="selection")
                             for name, x_hat in chosen.items()]], ignore_index=True)
    return table, reconstructions, evaluation


def attack_is_optimisation(attack) -> bool:
    return getattr(attack, "name", None) in OPTIMISATION_ATTACKS


def _check_disjoint(selection: Split, others: dict) -> None:
    """Selection images must be neither the attacker's nor the scored ones (indices into one dataset)."""
    chosen = set(selection.index.tolist())
    for what, part in others.items():
        if chosen & set(part.index.tolist()):
            raise ValueError(f"the selection images overlap {what}: choices would be made on them")


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


def _baseline(name: str, aux: Split, cloud: torch.nn.Module, z_eval: torch.Tensor) -> torch.Tensor:
    """A reconstruction that uses no feature value: the mean aux image, or that of the predicted class."""
    if name == "mean_image":
        return aux.x.mean(0, keepdim=True).expand(len(z_eval), *aux.x.shape[1:]).clone()
    with torch.no_grad():
        predicted = predict(cloud, z_eval)
    return class_mean_images(aux.x, aux.y, predicted)


def observe_all(observed: ObservedEdge, x: torch.Tensor, seed: int, batch_size: int = 512) -> torch.Tensor:
    """What the cloud receives for images ``x`` (batched, on the model's device; CPU result), with the
    defense's randomness drawn from a generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return batched(observed, x, batch_size, call=lambda batch: observed(batch, generator))
