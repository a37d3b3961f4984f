"""Model-inversion attacks on what the cloud receives from the edge (notebooks 00 and 03).

Every attack has ``fit(x_aux, z_aux=None, y_aux=None)``, which learns what the attack learns from
the attacker's auxiliary images (``z_aux``: their observed features, obtained by black-box queries;
``y_aux``: their labels), ``reconstruct(z)``, which returns x̂ in [0, 1] with the input's shape, and
``config()``, its cache key.

* :mod:`.learned`: ``InverseNetworkAttack`` (He et al., ACSAC 2019; all four papers), a decoder g ≈ f_e⁻¹.
* :mod:`.whitebox`: ``WhiteBoxOptimizationAttack`` (rMLE, He et al. 2019),
  x̂ = argmin ||f_e(x̂) − z||² + λ_TV·TV(x̂), and ``HybridAttack``, the decoder's output refined by it.
* :mod:`.queryfree`: ``QueryFreeShadowAttack`` (He et al. 2019): no queries; a shadow edge trained so
  that the known cloud classifies the auxiliary data, then inverted.
* :mod:`.priors` and :mod:`.prior_attacks`: the attacker's image prior (a VAE, a DDPM) and the
  attacks that search among the images it finds plausible (latent search, guided diffusion).
* :mod:`.baselines`: references that use no feature value (the mean and class-mean images).
* :mod:`.budget`: what the attacker knows (its images, the defense's noise) and may spend.
* :mod:`.protocol`: the interface every attack implements and the registry of attacks by name;
  :mod:`.catalogue` registers the ones above.
"""
from __future__ import annotations

from ..core.inference import edge_features
from . import catalogue  # noqa: F401  (registers the built-in attacks)
from .baselines import class_mean_images
from .learned import Decoder, InverseNetworkAttack
from .protocol import AttackSpec, register_attack, registered_attacks
from .prior_attacks import DiffusionGuidedAttack, LatentSearchAttack
from .queryfree import QueryFreeShadowAttack
from .whitebox import HybridAttack, WhiteBoxOptimizationAttack, total_variation

__all__ = ["AttackSpec", "Decoder", "DiffusionGuidedAttack", "HybridAttack", "InverseNetworkAttack", "LatentSearchAttack",
           "QueryFreeShadowAttack", "WhiteBoxOptimizationAttack", "class_mean_images", "edge_features", "register_attack",
           "registered_attacks", "total_variation"]
