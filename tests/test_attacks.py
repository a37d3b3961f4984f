import pytest
import torch

from helpers.attacks import InverseNetworkAttack, fit_or_load
from helpers.data import load_dataset, split_dataset


@pytest.fixture(scope="module")
def digits():
    s = split_dataset(load_dataset("mnist5k"), 100, 200, 800, seed=0)
    return s.aux.x, s.test.x


def test_inverse_network_inverts_an_identity_edge(digits):
    x_aux, x_test = digits
    attack = InverseNetworkAttack((1, 28, 28), (1, 28, 28), width=16, epochs=5, batch_size=32, lr=1e-2,
                                  seed=0, device="cpu")
    attack.fit(x_aux, x_aux)
    x_hat = attack.reconstruct(x_test)
    blind = ((x_aux.mean(0, keepdim=True) - x_test) ** 2).mean().item()   # no-feature guess: about 0.07
    error = ((x_hat - x_test) ** 2).mean().item()
    print(f"identity edge: MSE {error:.5f} vs blind guess {blind:.4f}")
    assert error < 0.002 and error < blind / 30


def test_reconstructions_have_the_input_shape_range_and_are_seeded(digits):
    x_aux, x_test = digits
    z_aux, z_test = x_aux.flatten(1)[:, ::7], x_test.flatten(1)[:, ::7]  # a flat 112-value "edge"
    runs = [InverseNetworkAttack((112,), (1, 28, 28), width=8, epochs=1, seed=3, device="cpu").fit(x_aux, z_aux)
            for _ in range(2)]
    a, b = (run.reconstruct(z_test) for run in runs)
    assert a.shape == x_test.shape and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)


def test_wrong_feature_shape_is_refused(digits):
    x_aux, _ = digits
    attack = InverseNetworkAttack((4, 7, 7), (1, 28, 28), epochs=1, device="cpu")
    with pytest.raises(ValueError, match="features of shape"):
        attack.fit(x_aux, torch.zeros(len(x_aux), 4, 8, 8))
    with pytest.raises(ValueError, match="C×H×W or flat"):
        InverseNetworkAttack((2, 3), (1, 28, 28))


def test_fit_or_load_reuses_the_fitted_decoder(digits):
    x_aux, x_test = digits
    make = lambda: InverseNetworkAttack((1, 28, 28), (1, 28, 28), width=8, epochs=1, device="cpu")
    first = fit_or_load(make(), x_aux, x_aux, {"edge": "identity"})
    second = fit_or_load(make(), x_aux, x_aux, {"edge": "identity"})  # loaded, not refitted
    assert torch.equal(first.reconstruct(x_test), second.reconstruct(x_test))
    assert second.history == first.history
