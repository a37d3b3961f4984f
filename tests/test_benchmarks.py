"""The benchmarks' own instruments, on hand-made cases whose answer is known."""
import copy
import time

import pytest
import torch

from benchmarks.bench_attacks import ModelClock, _watching, _watching_all, _watching_built, outside_share


class Sleeper(torch.nn.Module):
    """A model whose forward takes ``seconds`` (and computes y = 2x, so a backward exists)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return 2 * x


def test_the_clock_counts_the_model_and_the_backward_and_not_the_rest():
    model = Sleeper(0.04)

    def run():   # one forward in a copy made during the run (as the white box does), a backward, 0.04 s outside
        x = torch.ones(3, requires_grad=True)
        copy.deepcopy(model)(x).sum().backward()
        time.sleep(0.04)

    seconds, outside = outside_share(run, _watching(model), repeats=2)
    assert 0.08 <= seconds < 0.25   # a sleep never ends early; a loaded machine may end it late
    assert outside == pytest.approx(0.5, abs=0.15)
    assert not model._forward_hooks and not model._forward_pre_hooks, "the hooks must go with the run"
    assert torch.Tensor.backward.__name__ == "backward", "Tensor.backward must be restored"


def test_two_models_in_a_row_are_each_counted_and_grad_is_clocked():
    clock = ModelClock()
    outer, inner = Sleeper(0.02), Sleeper(0.02)
    clock.watch(outer)
    clock.watch(inner)
    with clock.backward_passes():
        x = torch.ones(2, requires_grad=True)
        y = inner(outer(x))
        torch.autograd.grad(y.sum(), x)
    clock.release()
    assert 0.04 <= clock.seconds < 0.12   # each forward once; the grad call adds little
    assert torch.autograd.grad.__name__ == "grad"
    before = clock.seconds
    outer(x)
    assert clock.seconds == before, "a released clock hears nothing"


def test_modules_built_during_the_run_are_clocked_and_the_factory_is_given_back():
    """The query-free attack builds its shadow edge inside fit, the inverse network its decoder."""
    class Attack:
        def __init__(self):
            self.make = lambda: Sleeper(0.03)

        def fit(self):
            self.make()(torch.ones(1))
            time.sleep(0.03)

    attack, other = Attack(), Sleeper(0.03)
    factory = attack.make
    seconds, outside = outside_share(lambda: (attack.fit(), other(torch.ones(1))),
                                     _watching_all(_watching_built(attack, "make"), _watching(other)), repeats=1)
    assert 0.09 <= seconds < 0.3
    assert outside == pytest.approx(1 / 3, abs=0.15)
    assert attack.make is factory and not other._forward_hooks
