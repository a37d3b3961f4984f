"""Scoring reconstructions: per-image MSE, PSNR, SSIM, LPIPS and semantic leakage, as a tidy table."""
from __future__ import annotations

import pandas as pd
import torch

from . import metrics


def score_images(x_hat: torch.Tensor, x_eval: torch.Tensor, y_eval: torch.Tensor | None = None,
                 classify=None) -> dict[str, torch.Tensor]:
    """Per-image MSE, PSNR, SSIM, LPIPS of ``x_hat`` against ``x_eval`` and, with ``classify`` and
    ``y_eval``, ``recon_correct``: 1 where the target classifies the reconstruction as the true class."""
    if x_hat.shape != x_eval.shape:
        raise ValueError(f"reconstruction shape {tuple(x_hat.shape)} != {tuple(x_eval.shape)}")
    scores = dict(metrics.all_metrics(x_hat, x_eval))
    if classify is not None and y_eval is not None:
        scores["recon_correct"] = (classify(x_hat) == y_eval).float()
    return scores


def evaluate(reconstructions: dict, x_eval: torch.Tensor, y_eval: torch.Tensor | None = None,
             classify=None, seconds: dict | None = None, scores: dict | None = None, **labels) -> pd.DataFrame:
    """A tidy table: one row per (image, attack) with MSE, PSNR, SSIM, LPIPS.

    ``reconstructions`` maps an attack name to x̂ (same shape as ``x_eval``). With ``classify``
    (images -> predicted labels, the target classifier behind the defense) and ``y_eval``, the column
    ``recon_correct`` says whether the target classifies the reconstruction as the true class
    (semantic leakage). ``seconds`` (attack -> {"fit": s, "reconstruct": s}) adds timing columns;
    ``scores`` (attack -> :func:`score_images` output) skips scoring those attacks again (a cache);
    ``labels`` (cut, defense, dataset, seed, ...) are constant columns.
    """
    frames = []
    for attack, x_hat in reconstructions.items():
        if x_hat.shape != x_eval.shape:
            raise ValueError(f"{attack}: reconstruction shape {tuple(x_hat.shape)} != {tuple(x_eval.shape)}")
        given = (scores or {}).get(attack)
        values = given if given is not None else score_images(x_hat, x_eval, y_eval, classify)
        columns = {"image": range(len(x_eval)), "attack": attack, **labels}
        columns.update({name: value.numpy() for name, value in values.items()})
        for phase, value in (seconds or {}).get(attack, {}).items():
            columns[f"seconds_{phase}"] = value
        frames.append(pd.DataFrame(columns))
    return pd.concat(frames, ignore_index=True)
