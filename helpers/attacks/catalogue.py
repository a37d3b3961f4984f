"""The registered attacks: the four of the papers' threat models, the two prior attacks, the two
feature-free references. Each is one :class:`~helpers.attacks.protocol.AttackSpec`.

The cache keys these specs produce are those of the harness before the protocol existed, so earlier
caches stay valid (the hybrid and the prior attacks key their start by the budget's decoder).
"""
from __future__ import annotations

import dataclasses

from .baselines import ClassMeanBaseline, MeanImageBaseline
from .prior_attacks import DiffusionGuidedAttack, LatentSearchAttack
from .protocol import AttackContext, AttackerData, AttackSpec, register_attack
from .queryfree import QueryFreeShadowAttack
from .whitebox import WhiteBoxOptimizationAttack

# the default attacks of every table; the prior attacks are opt-in (each trains its own image prior first)
ATTACKS = ("inverse_network", "white_box", "hybrid", "query_free")
PRIOR_ATTACKS = ("latent_search", "diffusion")
# references that use no features: the mean auxiliary image, and the mean auxiliary image of the
# class the cloud predicts (what the label alone gives an attacker)
BASELINES = ("mean_image", "class_mean")


def _white_box(context: AttackContext, steps: int) -> WhiteBoxOptimizationAttack:
    budget = context.budget
    return WhiteBoxOptimizationAttack(context.edge, context.image_shape, steps=steps, lr=budget.white_box_lr,
                                      tv_weight=budget.tv_weight, device=context.device)


def _query_free(context: AttackContext) -> QueryFreeShadowAttack:
    budget = context.budget
    return QueryFreeShadowAttack(context.cloud, context.make_shadow_edge, context.image_shape, context.feature_shape,
                                 shadow_epochs=budget.shadow_epochs, decoder_epochs=budget.decoder_epochs,
                                 decoder_width=budget.decoder_width, decoder_depth=budget.decoder_depth,
                                 decoder_lr=budget.decoder_lr, decoder_batch_size=budget.decoder_batch_size,
                                 seed=context.seed, device=context.device)


def _latent_search(context: AttackContext) -> LatentSearchAttack:  # the prior's seed follows the attack seed
    budget = context.budget
    return LatentSearchAttack(context.edge, context.image_shape, dataclasses.replace(budget.vae, seed=context.seed),
                              steps=budget.latent_steps, lr=budget.latent_lr,
                              prior_weight=budget.latent_prior_weight, device=context.device)


def _diffusion(context: AttackContext) -> DiffusionGuidedAttack:
    budget = context.budget
    return DiffusionGuidedAttack(context.edge, context.image_shape, dataclasses.replace(budget.ddpm, seed=context.seed),
                                 guidance=budget.guidance, start_fraction=budget.diffusion_start, seed=context.seed,
                                 device=context.device, steps=budget.diffusion_steps)


@dataclasses.dataclass(frozen=True)
class HybridSpec(AttackSpec):
    """The white box refining the inverse network's output (its decoder is trained once): nothing of
    its own to fit; its key names both parts."""

    def key(self, attack, context):
        return {"attack": self.name, "decoder": context.decoder().config(), "white_box": attack.config()}

    def fit(self, attack, aux):
        return 0.0


@dataclasses.dataclass(frozen=True)
class PriorSpec(AttackSpec):
    """An attack that trains (or loads) an image prior on the auxiliary images alone first."""

    def key(self, attack, context):
        return {**attack.config(), **({"init": context.decoder().config()} if self.start else {})}

    def fit(self, attack, aux: AttackerData):
        attack.fit(aux.x, index=aux.index)
        return attack.prior.seconds  # the prior's training, also when it was loaded from its cache


# a decoder fitted on queried (x, z) pairs
register_attack(AttackSpec("inverse_network", lambda c: c.decoder()))
# rMLE from a grey start
register_attack(AttackSpec("white_box", lambda c: _white_box(c, c.budget.white_box_steps), needs=frozenset({"edge_weights"}),
                           optimisation=True))
# rMLE from the inverse network's reconstruction
register_attack(HybridSpec("hybrid", lambda c: _white_box(c, c.budget.hybrid_steps),
                           needs=frozenset({"queries", "edge_weights"}), optimisation=True, start="inverse_network"))
# a shadow edge trained through the known cloud, then inverted
register_attack(AttackSpec("query_free", _query_free, needs=frozenset({"labels", "cloud_weights", "edge_architecture"})))
# search in a VAE's latent space; DDPM sampling guided by the features. Both start from the inverse
# network's reconstruction. Measured at quick on 64 target-train images of the VGG (neither aux nor
# scored): latent search from it reached MSE 0.013 at pool3 against 0.018 from w = 0 (equal at
# pool1, where the VAE's blur is the floor); the diffusion attack noised it to 3/4 of T: MSE 0.00073
# at pool3 in 3/4 of the steps (from pure noise 0.00076, from 1/2 of T 0.00084)
register_attack(PriorSpec("latent_search", _latent_search, needs=frozenset({"queries", "edge_weights", "prior"}),
                          optimisation=True, start="inverse_network"))
register_attack(PriorSpec("diffusion", _diffusion, needs=frozenset({"queries", "edge_weights", "prior"}),
                          optimisation=True, start="inverse_network"))
# the mean auxiliary image; the mean auxiliary image of the predicted class
register_attack(AttackSpec("mean_image", lambda c: MeanImageBaseline(), needs=frozenset(), cached=False))
register_attack(AttackSpec("class_mean", lambda c: ClassMeanBaseline(c.cloud), needs=frozenset({"labels"}), cached=False))
