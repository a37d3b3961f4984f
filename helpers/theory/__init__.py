"""Theory: the quantities the papers' claims are about, computed on tensors (no model, no attack).

:mod:`.bounds` (the entropy bound on MSE and the channels it is checked on), :mod:`.mixture` (CEM's
Gaussian-mixture bound), :mod:`.radius` (GPZ's R_c² and partition rule), :mod:`.mine` (MINE and a
learned regressor), :mod:`.mi` (KSG and the calibration of both MI estimators), :mod:`.probes` (the
information probes of transmitted features).
"""
from __future__ import annotations

from .bounds import (TWO_PI_E, GaussianChannel, MixtureChannel, gaussian_channel, gaussian_entropy_upper,
                     mixture_channel, mse_lower_bound)
from .mine import MineResult, learned_estimator_mse, mine_estimate
from .mixture import (COVARIANCES, MixtureBound, PluginBias, gmm_conditional_entropy_bound, kmeans,
                      ledoit_wolf_intensity, log_det_plus_noise, log_det_plus_noise_shrunk, plugin_redundancy_bias)
from .radius import DROP_READINGS, ClassRadius, PartitionZone, global_variance, golden_partition_zone, intra_class_radius

__all__ = ["COVARIANCES", "DROP_READINGS", "TWO_PI_E", "ClassRadius", "GaussianChannel", "MineResult", "MixtureBound",
           "MixtureChannel", "PartitionZone", "PluginBias", "gaussian_channel", "gaussian_entropy_upper",
           "global_variance", "gmm_conditional_entropy_bound", "golden_partition_zone", "intra_class_radius", "kmeans",
           "learned_estimator_mse", "ledoit_wolf_intensity", "log_det_plus_noise", "log_det_plus_noise_shrunk",
           "mine_estimate", "mixture_channel", "mse_lower_bound", "plugin_redundancy_bias"]
