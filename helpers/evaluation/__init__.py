"""Evaluation: attacks run against trained (defended) classifiers and scored.

:mod:`.metrics` (MSE, PSNR, SSIM, LPIPS), :mod:`.scoring` (per-image scores as a table),
:mod:`.harness` (the attacker's knowledge and data, every attack fitted and run at a cut),
:mod:`.adaptive` (attacks tuned to a defense; the strong attacker), :mod:`.defense_eval` (a defense
trained, attacked, probed), :mod:`.ranking` (worst cases, Pareto front, ranks), :mod:`.gpz` (R_c²
and attack profiles over cuts).
"""
