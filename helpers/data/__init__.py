"""Data: real image datasets (:mod:`.datasets`), the target/attacker splits (:mod:`.splits`) and the one
explicitly synthetic source of the theory notebooks (:mod:`.synthetic`)."""
from __future__ import annotations

from .datasets import (CLASS_NAMES, DATASETS, DEBIAN_FASHION_MNIST, UPSAMPLED, DatasetUnavailable, ImageDataset,
                       dataset_available, load_dataset, upsampled)
from .splits import Split, Splits, fit_sizes, split_dataset
from .synthetic import GaussianMixtureSource, gaussian_mixture_source

__all__ = ["CLASS_NAMES", "DATASETS", "DEBIAN_FASHION_MNIST", "UPSAMPLED", "DatasetUnavailable", "GaussianMixtureSource",
           "ImageDataset", "Split", "Splits", "dataset_available", "fit_sizes", "gaussian_mixture_source",
           "load_dataset", "split_dataset", "upsampled"]
