"""PATROL's pieces (notebook 06): the block-wise local Lipschitz estimate used as a loss term.

For blocks f_1, ..., f_L and a Gaussian perturbation δ of the input, block i's local constant is
estimated as the largest ratio over the batch of ‖f_i(h'_{i−1}) − f_i(h_{i−1})‖ / ‖h'_{i−1} − h_{i−1}‖,
where h and h' are the clean and perturbed activations entering block i (PATROL's README:
k_i = sup_x of that ratio). Penalising Σ_i α_i k_i makes the edge contract perturbations, so small
changes of z say less about x.
"""
from __future__ import annotations

import torch

from ..config import check_range


def local_lipschitz(blocks, x: torch.Tensor, delta_std: float, generator: torch.Generator | None = None,
                    eps: float = 1e-12) -> torch.Tensor:
    """One estimate per block (a differentiable tensor of length len(blocks)), max over the batch."""
    check_range("delta_std", delta_std, 0.0, low_inclusive=False)
    clean = x
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
    perturbed = x + delta_std * noise
    ratios = []
    for block in blocks:
        gap_in = (perturbed - clean).flatten(1).norm(dim=1)
        clean, perturbed = block(clean), block(perturbed)
        gap_out = (perturbed - clean).flatten(1).norm(dim=1)
        ratios.append((gap_out / gap_in.clamp_min(eps)).max())
    return torch.stack(ratios)
