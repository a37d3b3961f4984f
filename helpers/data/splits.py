"""Deterministic target/attacker splits of a dataset: train, test (scored) and the attacker's auxiliary images."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .datasets import ImageDataset


@dataclass
class Split:
    """One part of a dataset: images, labels and their indices into the full dataset."""

    x: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor   # positions in the full dataset, in random order

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Splits:
    train: Split   # trains the target classifier (edge + cloud)
    test: Split    # private inference inputs: accuracy and attack scores are measured here
    aux: Split     # the attacker's own auxiliary data (helpers.evaluation.harness.attacker_data picks other settings)
    num_classes: int

    def fingerprint(self) -> str:
        """A short hash of the three index lists (their order included), for cache keys."""
        import hashlib

        digest = hashlib.sha256()
        for part in (self.train, self.test, self.aux):  # indices and content: datasets of equal size differ
            digest.update(part.index.numpy().tobytes() + part.y.numpy().tobytes())
            digest.update(f"{part.x.double().sum().item():.6f}|".encode())
        return digest.hexdigest()[:16]


def fit_sizes(data: ImageDataset, n_train: int, n_test: int, n_aux: int) -> tuple[int, int, int]:
    """The requested split sizes, shrunk proportionally where ``data`` is too small for them.

    target-test is capped by the official test part (or the pool); target-train and auxiliary share
    what remains in their requested ratio. ``paper`` sizes on ``mnist5k`` thus become 3571/714/714.
    """
    if bool(data.is_test.any()):
        n_test = min(n_test, int(data.is_test.sum()))
        rest = len(data) - int(data.is_test.sum())
        factor = min(1.0, rest / (n_train + n_aux))
        return int(n_train * factor), n_test, int(n_aux * factor)
    factor = min(1.0, len(data) / (n_train + n_test + n_aux))
    return int(n_train * factor), int(n_test * factor), int(n_aux * factor)


def split_dataset(data: ImageDataset, n_train: int, n_test: int, n_aux: int, seed: int = 0) -> Splits:
    """Deterministic, disjoint target-train / target-test / attacker-auxiliary splits.

    target-test comes from the official test part when the dataset has one, otherwise from a random
    part of the pool; target-train and attacker-auxiliary from the rest. Each split keeps a seeded
    random order, so any prefix is a random sample. The same ``seed`` always yields the same indices.
    Settings where the attacker knows training or test images are chosen explicitly by
    ``helpers.evaluation.harness.AttackerKnowledge``, not here.
    """
    for label, n in (("n_train", n_train), ("n_test", n_test), ("n_aux", n_aux)):
        if int(n) <= 0:
            raise ValueError(f"{label} must be positive, got {n}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data), generator=generator)
    has_test_part = bool(data.is_test.any())
    test_pool = order[data.is_test[order]] if has_test_part else order
    test_idx = test_pool[:n_test]
    rest = order[~data.is_test[order]] if has_test_part else order[n_test:]
    if len(test_idx) < n_test or len(rest) < n_train + n_aux:
        raise ValueError(f"dataset {data.name!r} has {len(data)} images; cannot take n_train={n_train}, "
                         f"n_test={n_test}, n_aux={n_aux} disjointly")
    train_idx, aux_idx = rest[:n_train], rest[n_train:n_train + n_aux]

    def part(index):  # kept in the seeded random order, so any prefix is a random sample
        return Split(data.x[index], data.y[index], index)

    return Splits(part(train_idx), part(test_idx), part(aux_idx), data.num_classes)
