"""He et al.'s query-free attack: a shadow edge trained so that the known cloud classifies the auxiliary images,
then inverted; the real edge is never queried."""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..core.inference import edge_features
from ..core.progress import progress
from ..core.repro import resolve_device, seed_everything
from .learned import InverseNetworkAttack, _channels_last


class QueryFreeShadowAttack:
    """He et al.'s query-free attack: the attacker knows the cloud and the edge's architecture.

    It trains a shadow edge (a fresh copy of the edge's architecture) so that the frozen cloud
    classifies the auxiliary images correctly, then fits an inverse network on the shadow's features
    and applies it to the real observed features. It never queries the real edge.
    """

    name = "query_free"

    def __init__(self, cloud: nn.Module, make_edge, image_shape, feature_shape, shadow_epochs: int = 5,
                 decoder_epochs: int = 10, decoder_width: int = 64, decoder_depth: int = 1, lr: float = 1e-3,
                 batch_size: int = 128, decoder_lr: float = 1e-3, decoder_batch_size: int = 128, seed: int = 0,
                 device: str = "auto"):
        self.cloud, self.make_edge = cloud, make_edge
        self.image_shape, self.feature_shape = tuple(image_shape), tuple(feature_shape)
        self.shadow_epochs, self.lr, self.batch_size, self.seed = shadow_epochs, lr, batch_size, seed
        self.device = resolve_device(device)
        self.decoder = InverseNetworkAttack(feature_shape, image_shape, width=decoder_width, depth=decoder_depth,
                                            epochs=decoder_epochs, lr=decoder_lr, batch_size=decoder_batch_size,
                                            seed=seed, device=device)
        self.shadow: nn.Module | None = None

    def config(self) -> dict:
        return {"attack": self.name, "shadow_epochs": self.shadow_epochs, "lr": self.lr,
                "batch_size": self.batch_size, "seed": self.seed, "decoder": self.decoder.config(),
                "layout": "channels_last"}

    def fit(self, x_aux, z_aux=None, y_aux=None) -> "QueryFreeShadowAttack":
        if y_aux is None:
            raise ValueError("the query-free attack needs the auxiliary labels y_aux")
        generator = seed_everything(self.seed)
        shadow = _channels_last(self.make_edge().to(self.device))
        # a frozen channels_last copy of the cloud: the deployed cloud is left as it is
        cloud = _channels_last(copy.deepcopy(self.cloud).eval().requires_grad_(False))
        optimizer = torch.optim.Adam(shadow.parameters(), lr=self.lr)
        for _ in progress(range(self.shadow_epochs), desc="train shadow edge", leave=False):
            shadow.train()
            order = torch.randperm(len(x_aux), generator=generator)
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                if len(batch) < 2:
                    continue
                logits = cloud(shadow(_channels_last(x_aux[batch].to(self.device))))
                loss = F.cross_entropy(logits, y_aux[batch].to(self.device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        self.shadow = shadow.eval()
        self.decoder.fit(x_aux, edge_features(self.shadow, x_aux))
        return self

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder.reconstruct(z)
