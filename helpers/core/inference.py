"""Batched forward passes without gradients: the one loop behind edge features, class predictions
and what the cloud observes (:func:`batched`)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .repro import module_device


@torch.no_grad()
def batched(module: nn.Module, x: torch.Tensor, batch_size: int = 512,
            call: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """``call(batch)`` (default ``module(batch)``) over ``x`` in batches, ``module`` in eval mode and
    each batch moved to its device; the results concatenated on the CPU."""
    module.eval()
    device = module_device(module)
    call = call or module
    return torch.cat([call(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])


def edge_features(edge: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """``edge(x)`` in eval mode, batch by batch, on the edge's device; returned on the CPU."""
    return batched(edge, x, batch_size)


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Class predictions of ``model`` (eval mode) for images ``x``."""
    return batched(model, x, batch_size, call=lambda batch: model(batch).argmax(1))
