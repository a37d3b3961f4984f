"""What the grader asks of each exercise: the function the solution cell must define, the inputs it
is called with (drawn afresh for every grading run, so no hand-in can know them in advance), and
how close its values must come to the reference solution's (:data:`CASES`).

Inputs are plain data (numbers, lists, tensors, a linear map) that cross into the sandbox as JSON
(:mod:`.worker`). The reference values are computed in the grader's own process by the solution
notebook's cell, on the same inputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .worker import LinearMap


@dataclass(frozen=True)
class Cases:
    function: str                                   # the name the solution cell defines
    draw: Callable[[np.random.Generator], list]     # a list of argument tuples
    rtol: float = 1e-6                              # |got - expected| <= atol + rtol·|expected|
    atol: float = 1e-9


def _tensor(values, integer: bool = False):
    import torch

    return torch.tensor(np.asarray(values), dtype=torch.int64 if integer else torch.float64)


def _mse_floor(rng):
    return [(float(rng.uniform(-60, 20)), int(rng.integers(1, 800))) for _ in range(4)] + [(0.0, 1)]


def _posterior_entropy(rng):
    return [(float(rng.uniform(0.01, 5)), float(rng.uniform(0.01, 5)), int(rng.integers(1, 800))) for _ in range(4)]


def _class_radius(rng):
    out = []
    for classes in (2, 3, 5):
        labels = np.arange(6 * classes) % classes
        rng.shuffle(labels)
        out.append((_tensor(rng.normal(size=(6 * classes, 2, 3))), _tensor(labels, integer=True)))
    return out


def _gpz_zone(rng):
    names = list("abcdefg")
    out = [(names, sorted(rng.uniform(0.1, 10, size=7).tolist(), reverse=True), 0.2) for _ in range(4)]
    return out + [(names[:5], [10.0, 6.0, 4.0, 1.0, 0.9], float(rng.uniform(0.35, 0.7)))]


def _psnr(rng):
    x = rng.uniform(0, 1, size=(4, 1, 6, 6))
    noisy = np.clip(x + rng.normal(0, 0.1, size=x.shape), 0, 1)
    noisy[3] = x[3]                    # identical images: the cap
    return [(_tensor(x), _tensor(noisy), float(rng.uniform(60, 100)))]


def _tv(rng):
    sides = [(int(rng.integers(2, 5)), int(rng.integers(2, 5))), (int(rng.integers(5, 10)), int(rng.integers(5, 10))),
             (int(rng.integers(2, 10)), int(rng.integers(2, 10)))]   # small and large images, both
    return [(_tensor(rng.uniform(0, 1, size=(3, int(rng.integers(1, 4)), h, w))),) for h, w in sides]


def _dcor(rng):
    x = rng.normal(size=(20, 2, 3))
    return [(_tensor(x), _tensor(np.maximum(x[:, :1] + rng.normal(0, 0.5, size=(20, 1, 3)), 0))),
            (_tensor(rng.normal(size=(15, 4))), _tensor(rng.normal(size=(15, 3))))]


def _effective_information(rng):
    z = np.maximum(rng.normal(size=(10, 3, 2, 2)), 0)
    return [(_tensor(z), 0.0), (_tensor(z), float(rng.uniform(0.1, 1.0)))]


def _cem_hinge(rng):
    return [(_tensor(rng.uniform(0, 2, size=8)), float(rng.uniform(0.2, 2)), float(rng.uniform(0.05, 0.3)),
             float(rng.uniform(0.001, 0.05))) for _ in range(3)]


def _redundancy(rng):
    return [(_tensor(rng.normal(size=(30, 4)) * rng.uniform(0.5, 3, size=4)), float(rng.uniform(0.3, 2)))
            for _ in range(3)]


def _lipschitz(rng):
    x = rng.normal(size=(5, 4))
    weight = _tensor(rng.normal(size=(3, 4)))
    return [(LinearMap(weight, kind), _tensor(x), _tensor(x + rng.normal(0, 0.1, size=x.shape)))
            for kind in ("linear", "relu_linear")]


def _conv_flops(rng):
    return [tuple(int(v) for v in (rng.integers(1, 65), rng.integers(1, 65), rng.choice([1, 3, 5]),
                                   rng.integers(1, 29), rng.integers(1, 29))) for _ in range(4)]


CASES = {
    "exercise_1_1": Cases("mse_floor", _mse_floor),
    "exercise_1_2": Cases("gaussian_posterior_entropy", _posterior_entropy),
    "exercise_2_1": Cases("class_radius", _class_radius),
    "exercise_2_2": Cases("gpz_zone", _gpz_zone),
    "exercise_3_1": Cases("psnr_per_image", _psnr, rtol=1e-5, atol=1e-6),
    "exercise_3_2": Cases("tv_prior", _tv, rtol=1e-5, atol=1e-7),
    "exercise_4_1": Cases("distance_correlation_sq", _dcor, rtol=1e-5),
    "exercise_4_2": Cases("effective_information", _effective_information),
    "exercise_5_1": Cases("cem_hinge", _cem_hinge, rtol=1e-5, atol=1e-6),
    "exercise_5_2": Cases("gaussian_redundancy", _redundancy, rtol=1e-6, atol=1e-8),
    "exercise_6_1": Cases("lipschitz_ratio", _lipschitz, rtol=1e-5),
    "exercise_6_2": Cases("conv_flops", _conv_flops, rtol=0.0, atol=0.0),
}
