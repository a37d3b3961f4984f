"""Seeding repeats every source of randomness; device names are validated."""
import random

import numpy as np
import pytest
import torch

from helpers.core.repro import module_device, resolve_device, seed_everything


def draws(generator: torch.Generator) -> tuple:
    return (random.random(), float(np.random.rand()), float(torch.rand(1)), float(torch.rand(1, generator=generator)))


def test_seed_everything_repeats_python_numpy_torch_and_its_generator():
    first = draws(seed_everything(7))
    assert draws(seed_everything(7)) == first
    assert draws(seed_everything(8)) != first
    # the returned generator is its own stream: drawing from it leaves the global one unchanged
    generator = seed_everything(7)
    torch.rand(5, generator=generator)
    assert float(torch.rand(1)) == first[2]
    assert torch.are_deterministic_algorithms_enabled()


def test_seeds_beyond_numpys_range_are_folded_not_rejected():
    seed_everything(2**32 + 3)
    a = np.random.rand()
    seed_everything(3)
    assert np.random.rand() == a


def test_resolve_device_validates():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'; valid: auto, cpu, cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")


def test_module_device_of_an_empty_module_is_the_cpu():
    assert module_device(torch.nn.Sequential()) == torch.device("cpu")
    assert module_device(torch.nn.BatchNorm1d(3)) == torch.device("cpu")  # buffers count too
