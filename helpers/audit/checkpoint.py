"""A user's trained weights as a :class:`~helpers.training.TrainedClassifier`, scored like a model the
project trained: its test accuracy (and validation accuracy) measured here, its cache key holding a
digest of the checkpoint file, so results derived from it are cached and never confused with
another checkpoint's."""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from ..models import load_network, split_at
from ..training import TrainConfig, TrainedClassifier
from ..training.classifier import accuracy, validation_split


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def read_state_dict(path: str | Path) -> dict:
    """The state dict in ``path`` (saved with ``torch.save(model.state_dict(), path)``, or a dict
    holding it under ``"state_dict"``); tensors only (``weights_only``: no code runs on load)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"checkpoint {str(path)!r} cannot be read as a torch state dict ({error})") from error
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"checkpoint {str(path)!r} holds no state dict of tensors")
    return state


def load_checkpoint(path: str | Path, config: TrainConfig, splits) -> TrainedClassifier:
    """The model of ``config`` (a user's model spec and cuts) with the weights of ``path``."""
    network = load_network(config.arch, splits.num_classes)
    try:
        network.load_state_dict(read_state_dict(path))
    except RuntimeError as error:
        raise ValueError(f"checkpoint {str(path)!r} does not fit {config.arch!r}: {error}") from error
    model = split_at(network, config.cuts, tuple(splits.train.x.shape[1:]), splits.num_classes, config.arch).eval()
    _, _, x_val, y_val = validation_split(splits, config.n_val)
    history = [{"epoch": 0, "test_acc": accuracy(model, splits.test.x, splits.test.y),
                **({"val_acc": accuracy(model, x_val, y_val)} if config.n_val else {})}]
    key = {**config.cache_fields(), "splits": splits.fingerprint(), "checkpoint": file_digest(Path(path))}
    return TrainedClassifier(model, config, history, None, key)
